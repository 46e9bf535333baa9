"""Every loss and every loss parameter declared once.

The CLI options of `segloss eval`, the `--losses` choices, `segloss losses`, the report
columns and the parametrised tests all read these two tables. A loss is a formula over the
per-class sums of one fused pass (``family='sum'``) or needs a sort per class
(``family='lovasz'``, opt-in). ``needs`` names the sums a loss reads, so only those are
computed (see kernels/loss_sums.py).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Optional, Union

from ..errors import UsageError, declare_parameters
from ..selection import did_you_mean, register_name, select_names

LOG_EPS = 1e-7  # log(max(p, eps)) for probabilities (conventions.md, "Losses")


@dataclass(frozen=True)
class ParamSpec:
    """One loss parameter: its key (the output's ``params`` and the Python keyword), the
    `segloss eval` option generated from it, its default, its allowed range and help text."""

    name: str
    option: str
    default: Any
    help: str
    kind: str = "float"  # float | bool | weights
    lo: float = 0.0  # floats: allowed range, both ends included
    hi: float = math.inf
    # A variant switch (issue 17): recorded in the output only when set to another value than
    # its default, so that adding one changes no default output.
    variant: bool = False

    def check(self, value: Any) -> Any:
        """``value`` as this parameter holds it; UsageError when outside the range."""
        if self.kind == "bool":
            if type(value).__name__ not in ("bool", "bool_"):  # Python or numpy bool, never 0/1
                raise UsageError(f"@{self.name} must be True or False, not {value!r}")
            return bool(value)
        if self.kind == "weights":
            return check_weights(value)
        try:
            v = float(value)
        except (TypeError, ValueError):
            raise UsageError(f"@{self.name} must be a number, not {value!r}") from None
        if not (self.lo <= v <= self.hi and math.isfinite(v)):  # also rejects NaN and inf
            raise UsageError(
                f"@{self.name} must be {self.range_text()}" + (" and finite" if self.hi == math.inf else "")
            )
        return v

    def range_text(self) -> str:
        if self.hi == math.inf:
            return f">= {self.lo:g}"
        return f"between {self.lo:g} and {self.hi:g}"


_UNIT: dict[str, Any] = {"lo": 0.0, "hi": 1.0}
PARAMS: dict[str, ParamSpec] = {
    p.name: p
    for p in (
        ParamSpec(
            "smooth_nr", "--smooth-nr", 1e-5, "Smoothing added to the numerator of dice/iou/tversky/generalized_dice."
        ),
        ParamSpec(
            "smooth_dr", "--smooth-dr", 1e-5, "Smoothing added to the denominator of dice/iou/tversky/generalized_dice."
        ),
        ParamSpec(
            "squared",
            "--squared",
            False,
            "Dice/IoU denominators use sum p^2 + sum g^2 (V-Net) instead of sum p + sum g.",
            kind="bool",
        ),
        ParamSpec(
            "weights",
            "--weights",
            None,
            "Class weights for the losses: one per class (e.g. 0.1,1,2 for classes 0..2) or label=weight pairs (e.g. 2=5); others 1. Default: 1.",
            kind="weights",
        ),
        ParamSpec("tversky_alpha", "--tversky-alpha", 0.3, "Tversky weight of false positives.", **_UNIT),
        ParamSpec("tversky_beta", "--tversky-beta", 0.7, "Tversky weight of false negatives.", **_UNIT),
        ParamSpec("focal_tversky_gamma", "--focal-tversky-gamma", 0.75, "Exponent of the focal Tversky loss."),
        ParamSpec("focal_gamma", "--focal-gamma", 2.0, "Focusing exponent of focal and binary_focal."),
        ParamSpec("focal_alpha", "--focal-alpha", 0.25, "binary_focal weight of the foreground term.", **_UNIT),
        ParamSpec(
            "combo_alpha", "--combo-alpha", 0.5, "combo: weight of the foreground term in its modified CE.", **_UNIT
        ),
        ParamSpec(
            "combo_beta",
            "--combo-beta",
            0.5,
            "combo: weight of the CE term (1 - beta weighs the Dice coefficient).",
            **_UNIT,
        ),
        ParamSpec("lambda_dice", "--lambda-dice", 1.0, "Weight of the Dice term in dice_ce and dice_focal."),
        ParamSpec("lambda_ce", "--lambda-ce", 1.0, "Weight of the CE term in dice_ce."),
        ParamSpec("lambda_focal", "--lambda-focal", 1.0, "Weight of the focal term in dice_focal."),
        # --- variants that reproduce other tools' definitions (issue 17); off by default
        ParamSpec(
            "absent_zero",
            "--absent-zero",
            False,
            "dice, iou, tversky, focal_tversky, log_cosh_dice and the Dice term of dice_ce/dice_focal: a class absent from GT has loss 0 and still counts in the mean (SMP DiceLoss/JaccardLoss/TverskyLoss).",
            kind="bool",
            variant=True,
        ),
        ParamSpec(
            "weights_scale",
            "--weights-scale",
            False,
            "Class weights scale each class's loss: value = mean over the reported classes of w_c L_c (MONAI's weight) instead of sum w L / sum w; focal: sum_i w_yi (.) / N. ce keeps PyTorch's weighted mean.",
            kind="bool",
            variant=True,
        ),
        ParamSpec(
            "label_smoothing",
            "--label-smoothing",
            0.0,
            "ce and the CE term of dice_ce: targets (1 - e) one-hot + e/K, as PyTorch CrossEntropyLoss(label_smoothing=e).",
            **_UNIT,
            variant=True,
        ),
        ParamSpec(
            "ce_raw",
            "--ce-raw",
            False,
            "dice_ce: the CE term log-softmaxes the values as stored (probabilities taken as logits; one sigmoid channel: BCE with logits), as MONAI DiceCELoss(softmax=False) does.",
            kind="bool",
            variant=True,
        ),
        ParamSpec(
            "focal_sigmoid",
            "--focal-sigmoid",
            False,
            "focal and the focal term of dice_focal: a sigmoid focal loss of each stored channel taken as a logit (whatever the Dice term's softmax), mean over the reported channels and voxels: MONAI FocalLoss's default (use_softmax=False) and DiceFocalLoss's focal term.",
            kind="bool",
            variant=True,
        ),
        ParamSpec(
            "sigmoid_focal_alpha",
            "--sigmoid-focal-alpha",
            None,
            "Alpha of the --focal-sigmoid term: a on the channel's GT voxels, 1 - a on the others (MONAI alpha); not given: no balance.",
            **_UNIT,
            variant=True,
        ),
        ParamSpec(
            "softmax_focal_alpha",
            "--softmax-focal-alpha",
            None,
            "focal: voxels of class 0 weighted 1 - a, the others a, as MONAI FocalLoss(use_softmax=True, alpha=a); not given: no alpha.",
            **_UNIT,
            variant=True,
        ),
    )
}
declare_parameters(*PARAMS)

DICE_PARAMS = ("smooth_nr", "smooth_dr", "squared", "weights")

_REGION = ("absent_zero", "weights_scale")
# The variant switches each loss reads (recorded in its ``params`` only when set).
VARIANTS_OF: dict[str, tuple[str, ...]] = {
    "dice": _REGION,
    "iou": _REGION,
    "tversky": _REGION,
    "focal_tversky": _REGION,
    "log_cosh_dice": _REGION,
    "ce": ("label_smoothing",),
    "bce": ("weights_scale",),
    "focal": ("weights_scale", "softmax_focal_alpha", "focal_sigmoid", "sigmoid_focal_alpha"),
    "binary_focal": ("weights_scale",),
    "lovasz_softmax": ("weights_scale",),
    "lovasz_hinge": ("weights_scale",),
    "combo": ("weights_scale",),
    "dice_ce": (*_REGION, "label_smoothing", "ce_raw"),
    "dice_focal": (*_REGION, "softmax_focal_alpha", "focal_sigmoid", "sigmoid_focal_alpha"),
}


@dataclass(frozen=True)
class LossSpec:
    name: str
    formula: str
    family: str  # sum | lovasz
    decomposes: bool  # per-class values exist (else only the reduced value)
    lo: float
    hi: float
    params: tuple[str, ...]
    needs: frozenset  # sums read: spg sp sg sp2 log log1m f1 f0
    description: str
    reduction: str  # how per-class values become `value`
    aliases: tuple[str, ...] = ()
    default: bool = True  # computed when --losses is not given (probs/logits PRED)
    uses_log: bool = False


W_MEAN = "sum_c w_c L_c / sum_c w_c over the reported classes"

LOSSES: dict[str, LossSpec] = {}
_ALIASES: dict[str, str] = {}
GROUPS = {
    "all": lambda s: True,
    "sum": lambda s: s.family == "sum",
    "lovasz": lambda s: s.family == "lovasz",
    "default": lambda s: s.default,
}


def register(spec: LossSpec) -> LossSpec:
    return register_name(spec, LOSSES, _ALIASES, GROUPS, "loss")


def resolve(name: str) -> LossSpec:
    key = name.strip().lower().replace("-", "_")
    if key not in _ALIASES:
        raise UsageError(f"unknown loss '{name}'{did_you_mean(key, _ALIASES)}; run `segloss losses` for the list")
    return LOSSES[_ALIASES[key]]


def select(names: Optional[str]) -> Optional[tuple[str, ...]]:
    """Loss names from ``--losses`` (names, aliases, groups all/sum/lovasz/default, none).

    ``None`` (option not given) returns None: the default depends on the prediction
    (``default_losses``). Order follows the registry; duplicates drop.
    """
    if names is None:
        return None
    return select_names(names, LOSSES, GROUPS, resolve)


def default_losses(pred_kind: str) -> tuple[str, ...]:
    """Probability/logit PRED: every loss except the (costly) Lovasz ones; label map: none."""
    if pred_kind == "labels":
        return ()
    return tuple(n for n, s in LOSSES.items() if s.default)


Weights = Union[None, tuple[float, ...], dict[int, float]]


@dataclass(frozen=True)
class LossParams:
    """Which losses a run computes and with what parameters (checked on construction).

    ``names``: loss names (aliases accepted) or None for the default of the PRED kind
    (``default_losses``); ``values``: parameter overrides by key (others take the default).
    """

    names: Optional[tuple[str, ...]] = None
    values: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.names is not None:
            object.__setattr__(self, "names", tuple(dict.fromkeys(resolve(n).name for n in self.names)))
        checked = {}
        for key, value in self.values.items():
            if key not in PARAMS:
                raise UsageError(f"unknown loss parameter {key!r}; the parameters are {', '.join(PARAMS)}")
            if value is not None:
                checked[key] = PARAMS[key].check(value)
        object.__setattr__(self, "values", checked)

    def for_kind(self, pred_kind: str) -> tuple[str, ...]:
        """The losses of a case whose PRED is of ``pred_kind``."""
        return default_losses(pred_kind) if self.names is None else self.names

    def resolved(self) -> dict[str, Any]:
        """Every parameter with its default, overridden by ``values``."""
        return {name: self.values.get(name, spec.default) for name, spec in PARAMS.items()}

    def recorded(self) -> dict[str, Any]:
        """:meth:`resolved` less the variant switches left at their default (the output's record)."""
        return {k: v for k, v in self.resolved().items() if not (PARAMS[k].variant and v == PARAMS[k].default)}


def check_weights(weights: Any) -> Weights:
    """Class weights as a loss reads them: None, one per class (a sequence) or ``{label: w}``."""
    if weights is None:
        return None
    if isinstance(weights, Mapping):
        out = {int(k): float(v) for k, v in weights.items()}
        values = list(out.values())
    else:
        import numpy as np

        out_seq = tuple(float(v) for v in np.asarray(weights, dtype=np.float64).reshape(-1))
        values = list(out_seq)
    if any(not math.isfinite(v) or v < 0 for v in values):
        raise UsageError("@weights: weights must be finite and >= 0")
    return out if isinstance(weights, Mapping) else out_seq


def resolve_weights(weights, all_labels: tuple[int, ...]) -> dict[int, float]:
    if weights is None:
        return {lab: 1.0 for lab in all_labels}
    if isinstance(weights, dict):
        unknown = [k for k in weights if k not in all_labels]
        if unknown:
            raise UsageError(
                f"@weights names label {unknown[0]}, which is not a class of this case ({_show(all_labels)})"
            )
        return {lab: float(weights.get(lab, 1.0)) for lab in all_labels}
    if len(weights) != len(all_labels):
        raise UsageError(
            f"@weights has {len(weights)} values but the case has {len(all_labels)} classes ({_show(all_labels)}); "
            "give one weight per class or label=weight pairs"
        )
    return {lab: float(w) for lab, w in zip(all_labels, weights)}


def _show(labels) -> str:
    labels = list(labels)
    return ",".join(map(str, labels[:12])) + (",..." if len(labels) > 12 else "")


_D = DICE_PARAMS
_W = ("weights",)
for _spec in (
    LossSpec(
        "dice",
        "1 - (2 sum p g + s_nr) / (sum p + sum g + s_dr)   [--squared: sum p^2 + sum g^2]",
        "sum",
        True,
        0,
        1,
        _D,
        frozenset({"spg", "sp", "sg", "sp2?"}),
        "Soft Dice loss; = MONAI DiceLoss",
        W_MEAN,
    ),
    LossSpec(
        "iou",
        "1 - (2I + s_nr) / (2 (sum p + sum g - I) + s_dr),  I = sum p g",
        "sum",
        True,
        0,
        1,
        _D,
        frozenset({"spg", "sp", "sg", "sp2?"}),
        "Soft Jaccard loss; = MONAI DiceLoss(jaccard=True)",
        W_MEAN,
        aliases=("jaccard",),
    ),
    LossSpec(
        "generalized_dice",
        "1 - (2 sum_c w_c I_c + s_nr) / (sum_c w_c (sum p + sum g) + s_dr),  w_c = 1/(sum g)^2",
        "sum",
        False,
        0,
        1,
        ("smooth_nr", "smooth_dr"),
        frozenset({"spg", "sp", "sg"}),
        "One value over the reported classes; an infinite w_c takes the largest finite one; = MONAI GeneralizedDiceLoss",
        "none (one value)",
        aliases=("gdl",),
    ),
    LossSpec(
        "tversky",
        "1 - (TP~ + s_nr) / (TP~ + a FP~ + b FN~ + s_dr),  TP~ = sum p g, FP~ = sum p(1-g), FN~ = sum (1-p) g",
        "sum",
        True,
        0,
        1,
        ("smooth_nr", "smooth_dr", "tversky_alpha", "tversky_beta", "weights"),
        frozenset({"spg", "sp", "sg"}),
        "= MONAI TverskyLoss(alpha=a, beta=b)",
        W_MEAN,
    ),
    LossSpec(
        "focal_tversky",
        "tversky_c ^ gamma_t",
        "sum",
        True,
        0,
        1,
        ("smooth_nr", "smooth_dr", "tversky_alpha", "tversky_beta", "focal_tversky_gamma", "weights"),
        frozenset({"spg", "sp", "sg"}),
        "Abraham & Khan 2019",
        W_MEAN,
    ),
    LossSpec(
        "ce",
        "mean over voxels of class c of -log p_ic",
        "sum",
        True,
        0,
        float("inf"),
        _W,
        frozenset({"sg", "log"}),
        "Cross-entropy over all K channels; weighted = PyTorch CrossEntropyLoss(weight)",
        "-sum_i w_yi log p_i,yi / sum_i w_yi over all voxels",
        aliases=("cross_entropy",),
        uses_log=True,
    ),
    LossSpec(
        "bce",
        "-mean_i [g log p + (1-g) log(1-p)], one-vs-rest over all voxels",
        "sum",
        True,
        0,
        float("inf"),
        _W,
        frozenset({"sg", "log", "log1m"}),
        "Binary cross-entropy per class",
        W_MEAN,
        uses_log=True,
    ),
    LossSpec(
        "focal",
        "mean over voxels of class c of -(1-p_ic)^gamma log p_ic",
        "sum",
        True,
        0,
        float("inf"),
        ("focal_gamma", "weights"),
        frozenset({"sg", "f1"}),
        "Softmax focal loss (Lin et al.); MONAI FocalLoss(use_softmax=True) gives this / K",
        "sum_i w_yi (.) / sum_i w_yi over all voxels",
        uses_log=True,
    ),
    LossSpec(
        "binary_focal",
        "-mean_i [a g (1-p)^gamma log p + (1-a)(1-g) p^gamma log(1-p)], one-vs-rest",
        "sum",
        True,
        0,
        float("inf"),
        ("focal_alpha", "focal_gamma", "weights"),
        frozenset({"sg", "f1", "f0"}),
        "Sigmoid focal loss per class (RetinaNet)",
        W_MEAN,
        uses_log=True,
    ),
    LossSpec(
        "lovasz_softmax",
        "Lovasz extension of the Jaccard loss on errors |g_ic - p_ic| sorted descending",
        "lovasz",
        True,
        0,
        1,
        _W,
        frozenset({"sg"}),
        "Berman et al. 2018; classes absent from GT are null and left out (classes='present'). One sort per class",
        W_MEAN + " present in GT",
        default=False,
    ),
    LossSpec(
        "lovasz_hinge",
        "Lovasz extension of the Jaccard loss on hinge errors max(0, 1 - (2g-1) z), z = logit(p_ic)",
        "lovasz",
        True,
        0,
        float("inf"),
        _W,
        frozenset({"sg"}),
        "Berman et al. 2018, one-vs-rest per class (= SMP LovaszLoss binary on logits). One sort per class",
        W_MEAN,
        default=False,
        uses_log=True,
    ),
    LossSpec(
        "combo",
        "b * mCE - (1 - b) * dice_coefficient,  mCE = -mean_i [a g log p + (1-a)(1-g) log(1-p)]",
        "sum",
        True,
        -1,
        float("inf"),
        ("combo_alpha", "combo_beta") + _D,
        frozenset({"spg", "sp", "sg", "sp2?", "log", "log1m"}),
        "Taghanaki et al. 2019; may be negative",
        W_MEAN,
        uses_log=True,
    ),
    LossSpec(
        "dice_ce",
        "lambda_dice * dice + lambda_ce * ce   (single sigmoid channel: ce is bce)",
        "sum",
        True,
        0,
        float("inf"),
        ("lambda_dice", "lambda_ce") + _D,
        frozenset({"spg", "sp", "sg", "sp2?", "log", "log1m?"}),
        "= MONAI DiceCELoss(softmax=True)",
        "lambda_dice * dice.value + lambda_ce * ce.value",
        uses_log=True,
    ),
    LossSpec(
        "dice_focal",
        "lambda_dice * dice + lambda_focal * focal",
        "sum",
        True,
        0,
        float("inf"),
        ("lambda_dice", "lambda_focal", "focal_gamma") + _D,
        frozenset({"spg", "sp", "sg", "sp2?", "f1"}),
        "AnatomyNet (softmax focal; not MONAI DiceFocalLoss)",
        "lambda_dice * dice.value + lambda_focal * focal.value",
        uses_log=True,
    ),
    LossSpec(
        "log_cosh_dice",
        "log(cosh(dice_c))",
        "sum",
        True,
        0,
        0.4338,
        _D,
        frozenset({"spg", "sp", "sg", "sp2?"}),
        "Jadon 2020",
        W_MEAN,
    ),
):
    register(_spec)
