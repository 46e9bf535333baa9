"""Convention presets (issue 17): one switch that sets every definition a peer tool's defaults
imply, so segloss gives that tool's numbers.

A preset is data: the keywords of :func:`segloss_cli.api.make_params` it sets (surface model,
hd mode and percentile, assd form, per-metric empty-case values, loss variants and the loss
reduction). The command line (``--convention``), the API (``convention=``), the docs table
(README, "Conventions of other tools") and tests/test_conventions.py read :data:`CONVENTIONS`.
Options given explicitly override the preset's value (an explicit ``--empty-value`` overrides
the preset's cells one by one). The JSON settings record the preset as a provenance block
(:func:`provenance`): the tool, the version the preset was checked against
(benchmarks/convention_reference.py), every setting, and which ones the user overrode.

Empty-case values are ``METRIC: "both=..,gt=..,pred=.."`` (metrics.registry.parse_empty_values):
``both`` = PRED and GT empty, ``gt`` = GT empty (PRED not), ``pred`` = PRED empty (GT not);
``nan`` is undefined (JSON null, left out of means, as the tools' NaN and nanmean). A metric
the tool does not compute keeps segloss's rule (``--empty-policy``). A status not listed keeps
the value of the formula / policy, which for that tool is the same number.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Optional

from .errors import UsageError
from .selection import did_you_mean


@dataclass(frozen=True)
class Convention:
    """One peer tool's definitions as make_params keywords.

    ``tool``/``version``: what the preset reproduces (the version it was checked against);
    ``reproduces``: the calls whose defaults it is; ``settings``: make_params keywords;
    ``notes``: what it does not reproduce (shown in the docs and the provenance block).
    """

    name: str
    tool: str
    version: str
    reproduces: str
    settings: Mapping[str, Any] = field(default_factory=dict)
    notes: tuple[str, ...] = ()


_MONAI_EMPTY = {
    # DiceMetric / MeanIoU(ignore_empty=True): NaN wherever GT is empty
    "dice": "both=nan,gt=nan,pred=0",
    "iou": "both=nan,gt=nan,pred=0",
    # HausdorffDistanceMetric(percentile=None): inf distances to an empty surface, NaN with none
    "hd": "both=nan,gt=inf,pred=inf",
    # percentile=95: torch.quantile of infinite distances is NaN
    "hd95": "both=nan,gt=nan,pred=nan",
    # SurfaceDistanceMetric(symmetric=True) = assd; symmetric=False (MONAI's default) = asd_pg
    "assd": "both=nan,gt=inf,pred=inf",
    "hd_pg": "both=nan,gt=inf,pred=inf",
    "hd_gp": "both=nan,gt=inf,pred=inf",
    "hd95_pg": "both=nan,gt=nan,pred=nan",
    "hd95_gp": "both=nan,gt=nan,pred=nan",
    "asd_pg": "both=nan,gt=inf,pred=inf",
    "asd_gp": "both=nan,gt=inf,pred=inf",
    # SurfaceDiceMetric: NaN when both surfaces are empty, 0 when one is
    "nsd": "both=nan,gt=0,pred=0",
}

CONVENTIONS: dict[str, Convention] = {
    c.name: c
    for c in (
        Convention(
            "segloss",
            "segloss",
            "",  # this version (provenance fills it in)
            "conventions.md (the default)",
            {},
            ("every definition as conventions.md states it; the same as giving no --convention",),
        ),
        Convention(
            "monai",
            "MONAI",
            "1.6.1",
            "DiceMetric, MeanIoU, HausdorffDistanceMetric(percentile=95 for hd95, directed=True for hd_pg), "
            "SurfaceDistanceMetric(symmetric=True for assd, False for asd_pg), SurfaceDiceMetric, "
            "DiceCELoss, DiceFocalLoss, FocalLoss, DiceLoss(weight=...)",
            {
                "hd_mode": "max",
                "hd_percentile": 95.0,
                "assd_mode": "pooled",
                "empty_values": _MONAI_EMPTY,
                "ce_raw": True,
                "focal_sigmoid": True,
                "weights_scale": True,
                "reduction": "case",
            },
            (
                "MONAI's default average surface distance (symmetric=False) is asd_pg; assd is symmetric=True",
                "losses: as MONAI with softmax=False on probabilities (the Dice term of logits is softmaxed, "
                "as MONAI softmax=True); focal is FocalLoss's default (use_softmax=False, sigmoid per channel)",
                "background: MONAI includes channel 0 by default; add --include-background",
            ),
        ),
        Convention(
            "nnunet",
            "nnU-Net v2",
            "2.8.1",
            "nnunetv2.evaluation.evaluate_predictions.compute_metrics (Dice, IoU, counts)",
            {
                "hd_mode": "max",
                "hd_percentile": 95.0,
                "assd_mode": "pooled",
                "empty_values": {"dice": "both=nan", "iou": "both=nan"},
            },
            ("nnU-Net computes no distance: the distance metrics keep segloss's definitions",),
        ),
        Convention(
            "medpy",
            "MedPy",
            "0.5.2",
            "medpy.metric.binary dc, jc, precision, recall, specificity, hd, hd95, asd, assd",
            {
                "hd_mode": "pooled",
                "hd_percentile": 95.0,
                "assd_mode": "pooled",
                # dc's 0/0 is NaN (numpy division), jc's is 1; every distance raises RuntimeError
                # when a mask is empty: undefined here
                "empty_values": {
                    "dice": "both=nan",
                    "iou": "both=1",
                    "hd": "both=nan,gt=nan,pred=nan",
                    "hd95": "both=nan,gt=nan,pred=nan",
                    "assd": "both=nan,gt=nan,pred=nan",
                    "asd_pg": "both=nan,gt=nan,pred=nan",
                    "asd_gp": "both=nan,gt=nan,pred=nan",
                },
            },
            (
                "assd is MedPy 0.5's assd (both directions' distances pooled); asd(pred, gt) is asd_pg, "
                "asd(gt, pred) asd_gp",
                "MedPy raises RuntimeError on an empty mask for every distance; segloss gives null",
            ),
        ),
        Convention(
            "deepmind",
            "DeepMind surface-distance",
            "0.1 (1f805ce)",
            "surface_distance.compute_dice_coefficient, compute_robust_hausdorff(100 and 95), "
            "compute_average_surface_distance, compute_surface_dice_at_tolerance",
            {
                "surface": "surfel",
                "hd_mode": "max",
                "hd_percentile": 95.0,
                "assd_mode": "pooled",
                "empty_values": {
                    "dice": "both=nan,gt=0,pred=0",
                    "hd": "both=inf,gt=inf,pred=inf",
                    "hd95": "both=inf,gt=inf,pred=inf",
                    # compute_average_surface_distance: (gt -> pred, pred -> gt)
                    "asd_gp": "both=nan,gt=nan,pred=inf",
                    "asd_pg": "both=nan,gt=inf,pred=nan",
                    "nsd": "both=nan,gt=0,pred=0",
                },
            },
            (
                "DeepMind's average surface distance is the pair (asd_gp, asd_pg); it has no assd",
                "hd95 is DeepMind's area-weighted percentile of surfel distances (--surface surfel)",
            ),
        ),
        Convention(
            "metricsreloaded",
            "MetricsReloaded",
            "0.1.0 (cb38dfc)",
            "MetricsReloaded.metrics.pairwise_measures.BinaryPairwiseMeasures (dsc, iou, ppv, sensitivity, "
            "specificity, hd, hd_perc, assd, masd, nsd)",
            {
                "hd_mode": "max",
                "hd_percentile": 95.0,
                "assd_mode": "pooled",
                "empty_values": {
                    "dice": "both=1",
                    "iou": "both=nan",
                    "precision": "pred=0",
                    "hd": "both=0,gt=nan,pred=nan",
                    "hd95": "both=0,gt=nan,pred=nan",
                    "assd": "both=0,gt=nan,pred=nan",
                    "masd": "both=0,gt=nan,pred=nan",
                    "nsd": "both=1,gt=0,pred=0",
                    # centreline_dsc compares the method n_pos_pred, not its value, with 0 (cb38dfc)
                    "cldice": "both=nan",
                },
            },
            (
                "the pairwise values: MetricsReloaded leaves a one-empty distance NaN for its aggregation to "
                "set to the worst case (segloss's --empty-policy worst does that per case)",
                "nsd compares distances with the tolerance in float64 (segloss in float32, as MONAI)",
            ),
        ),
        Convention(
            "seg-metrics",
            "seg-metrics",
            "1.2.8",
            "seg_metrics.seg_metrics.computeQualityMeasures (dice, jaccard, precision, recall, fpr, fnr, "
            "hd, hd95, msd)",
            {
                "surface": "contour26",
                "hd_mode": "pooled",
                "hd_percentile": 95.0,
                "assd_mode": "pooled",
                # every 0/0 is set: 1 for both empty; a distance of an empty mask's map is 0
                "empty_values": {
                    "dice": "both=1,gt=0,pred=0",
                    "iou": "both=1,gt=0,pred=0",
                    "precision": "both=1,gt=0,pred=0",
                    "recall": "both=1,gt=0,pred=0",
                    "fpr": "both=0,gt=0",
                    "fnr": "both=0,gt=0",
                    "hd": "both=0,gt=0,pred=0",
                    "hd95": "both=0,gt=0,pred=0",
                    "assd": "both=0,gt=0,pred=0",
                },
            },
            (
                "assd is seg-metrics' msd (the mean of both directions pooled); its vs, mdsd and stdsd "
                "have no segloss metric",
                "surfaces are SimpleITK's LabelContour(fullyConnected=True), as seg-metrics takes them "
                "(--surface contour26: the voxels with a background voxel among their 26 neighbours, the "
                "image border not background); its distances are SignedMaurerDistanceMap's in float32",
            ),
        ),
        Convention(
            "torchmetrics",
            "torchmetrics",
            "1.9.0",
            "MulticlassJaccardIndex, MulticlassAccuracy, MulticlassF1Score (average='macro'; aAcc: "
            "MulticlassAccuracy(average='micro')), ignore_index, updated case by case over a folder",
            {"pooled_means": "torchmetrics"},
            (
                "only the dataset-level means (summary.pooled mIoU, mAcc, mDice, mFscore) follow torchmetrics: a "
                "class counts when it is in some PRED or GT and a 0/0 counts as 0; per-case metrics keep segloss's "
                "definitions",
                "torchmetrics scores class 0 too: add --include-background",
            ),
        ),
    )
}

# Keywords a preset may set: each is a make_params keyword with its own option.
SETTINGS = (
    "surface",
    "hd_mode",
    "hd_percentile",
    "assd_mode",
    "empty_values",
    "ce_raw",
    "focal_sigmoid",
    "weights_scale",
    "reduction",
    "pooled_means",
)


def get(name: str) -> Convention:
    """The preset called ``name`` (any case); UsageError naming the presets otherwise."""
    key = str(name).strip().lower()
    if key not in CONVENTIONS:
        raise UsageError(
            f"@convention: unknown convention {name!r}{did_you_mean(key, CONVENTIONS)}; one of {', '.join(CONVENTIONS)}"
        )
    return CONVENTIONS[key]


def _recorded(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {str(k): _recorded(v) for k, v in value.items()}
    return str(value) if hasattr(value, "value") else value


def apply(name: str, given: Mapping[str, Any], explicit: Optional[Iterable[str]] = None) -> dict[str, Any]:
    """The keywords of a run under preset ``name``: ``given`` with the preset's settings for every
    keyword not in ``explicit`` (None: the keys of ``given``), its empty-case values under the
    given ones cell by cell; ``convention`` becomes the provenance block (EvalParams.convention).
    """
    from .metrics.registry import merge_empty_values, parse_empty_values, recorded_empty_values

    conv = get(name)
    explicit = set(given) if explicit is None else set(explicit)
    out = dict(given)
    overridden: dict[str, Any] = {}
    available = _available()
    for key, value in conv.settings.items():
        if key not in available:
            continue  # an option this build lacks (documented as pending in notes)
        if key == "empty_values":
            mine = parse_empty_values(value)
            theirs = parse_empty_values(given.get("empty_values")) if "empty_values" in explicit else {}
            changed: dict[str, dict[str, Any]] = {}
            for m, row in theirs.items():
                for status, cell in row.items():
                    if status not in mine.get(m, {}) or mine[m][status] != cell:
                        changed.setdefault(m, {})[status] = cell
            if changed:
                overridden["empty_values"] = recorded_empty_values(changed)
            out["empty_values"] = merge_empty_values(mine, theirs)
        elif key in explicit:
            if given.get(key) is not None and _recorded(given[key]) != value:
                overridden[key] = _recorded(given[key])
        else:
            out[key] = value
    out["convention"] = provenance(conv, overridden)
    return out


def _available() -> set[str]:
    """The preset keywords that make_params of this build takes."""
    import inspect

    from .api import make_params
    from .losses.registry import PARAMS

    names = set(inspect.signature(make_params).parameters) | set(PARAMS)
    return {k for k in SETTINGS if k in names}


def provenance(conv: Convention, overridden: Optional[Mapping[str, Any]] = None) -> dict[str, Any]:
    """The JSON settings' ``convention`` block: which tool and version the preset reproduces,
    every setting it implies, and the ones explicit options overrode."""
    from .metrics.registry import parse_empty_values, recorded_empty_values

    available = _available()
    settings: dict[str, Any] = {}
    pending = []
    for key, value in conv.settings.items():
        if key not in available:
            pending.append(key)
            continue
        settings[key] = recorded_empty_values(parse_empty_values(value)) if key == "empty_values" else value
    from . import __version__

    block: dict[str, Any] = {
        "name": conv.name,
        "tool": conv.tool,
        "tool_version": conv.version or __version__,
        "reproduces": conv.reproduces,
        "settings": settings,
        "overridden": dict(overridden or {}),
    }
    if pending:
        block["pending"] = pending  # settings of the preset this build cannot apply yet
    if conv.notes:
        block["notes"] = list(conv.notes)
    return block


def _cells_text(text: str) -> str:
    return text.replace(",", ", ")


def markdown_table() -> str:
    """The README's table of the presets ("Conventions of other tools"), from :data:`CONVENTIONS`
    (tests/test_conventions.py checks that the README holds it)."""
    lines = [
        "| `--convention` | reproduces (version checked) | surface, hd95, assd | empty-case values | losses | notes |",
        "|---|---|---|---|---|---|",
    ]
    for c in CONVENTIONS.values():
        s = c.settings
        geometry = (
            f"{s.get('surface', 'voxel')}, {s.get('hd_mode', 'max')} "
            f"(q{s.get('hd_percentile', 95.0):g}), {s.get('assd_mode', 'pooled')}"
        )
        empty = "; ".join(f"{m}: {_cells_text(v)}" for m, v in s.get("empty_values", {}).items()) or "the policy's"
        losses = ", ".join(
            f"`--{k.replace('_', '-')}`" for k in ("ce_raw", "focal_sigmoid", "weights_scale") if s.get(k)
        )
        if "reduction" in s:
            losses += f"{', ' if losses else ''}reduction {s['reduction']}"
        version = c.version or "(this version)"
        lines.append(
            f"| {c.name} | {c.tool} {version}: {c.reproduces} | {geometry} | {empty} | {losses or '-'} | "
            + "; ".join(c.notes)
            + " |"
        )
    return "\n".join(lines)
