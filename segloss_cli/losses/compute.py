"""compute_losses: every requested loss of one case (evaluate.py calls this)."""

from __future__ import annotations

import math
from typing import Any, Optional

import numpy as np

from .registry import LOSSES, LOG_EPS, default_losses, param_values, resolve_weights


def _formulas():
    from . import ce, compound, region

    return {
        "dice": region.dice, "iou": region.iou, "generalized_dice": region.generalized_dice,
        "tversky": region.tversky, "focal_tversky": region.focal_tversky, "log_cosh_dice": region.log_cosh_dice,
        "ce": ce.ce, "bce": ce.bce, "focal": ce.focal, "binary_focal": ce.binary_focal,
        "combo": compound.combo, "dice_ce": compound.dice_ce, "dice_focal": compound.dice_focal,
    }


def losses_for(pred, opts) -> tuple[str, ...]:
    """The losses of this case: ``--losses`` if given, else the default for the PRED kind."""
    chosen = getattr(opts, "losses", ())
    if chosen:
        return tuple(chosen)
    if getattr(opts, "losses_default", False):
        return default_losses(pred.kind)
    return ()


def _needs(names, params, sigmoid: bool) -> set[str]:
    needs: set[str] = set()
    for name in names:
        for key in LOSSES[name].needs:
            if key.endswith("?"):
                key = key[:-1]
                if key == "sp2" and not params["squared"]:
                    continue
                if key == "log1m" and not sigmoid:
                    continue
            needs.add(key)
    return needs


def _params_out(name: str, params: dict[str, Any], weights: dict[int, float], pred_kind: str, sigmoid: bool) -> dict[str, Any]:
    spec = LOSSES[name]
    out: dict[str, Any] = {}
    for key in spec.params:
        out[key] = {str(k): v for k, v in weights.items()} if key == "weights" else params[key]
    if spec.uses_log and pred_kind != "logits":
        out["log_eps"] = LOG_EPS
    if name == "dice_ce":
        out["ce_term"] = "bce" if sigmoid else "ce"
    return out


def _num(v) -> Optional[float]:
    if v is None:
        return None
    v = float(v)
    return v if math.isfinite(v) else None


def compute_losses(pred, gt, classes, opts, names: Optional[tuple[str, ...]] = None) -> dict:
    """Every requested loss of one case as ``{name: LossResult}``.

    Sum-based losses share one pass over the data; Lovasz losses sort once per class.
    ``classes.all_labels`` are the channels (every class, for CE-type losses);
    ``classes.reported`` are the per-class rows and the classes region losses average over.
    """
    from ..model import LossResult
    from .context import Ctx
    from .lovasz import HINGE, SOFTMAX, lovasz_per_class
    from .sums import compute_sums

    names = tuple(names) if names is not None else losses_for(pred, opts)
    if not names:
        return {}
    params = param_values(dict(getattr(opts, "loss_params", {}) or {}))
    all_labels = tuple(int(v) for v in classes.all_labels)
    reported = tuple(int(v) for v in classes.reported)
    weights = resolve_weights(params["weights"], all_labels)
    sigmoid = pred.scores is not None and pred.scores.shape[0] == 1
    ignore = opts.load.ignore_label
    renorm = bool(getattr(opts.load, "renormalize", False))
    col = {lab: n for n, lab in enumerate(all_labels)}
    idx = np.array([col[lab] for lab in reported], dtype=np.int64)
    w_all = np.array([weights[lab] for lab in all_labels], dtype=np.float64)

    needs = _needs(names, params, sigmoid)
    sums = compute_sums(pred, gt, all_labels, needs=needs, gamma=params["focal_gamma"], ignore_label=ignore, renormalize=renorm)
    ctx = Ctx(sums, idx, w_all, params, sigmoid)
    formulas = _formulas()
    out = {}
    for name in names:
        spec = LOSSES[name]
        if spec.family == "sum":
            per, value = formulas[name](ctx)
        else:
            present = sums.sg[idx] > 0
            if name == "lovasz_softmax":
                labs = [lab for lab, ok in zip(reported, present) if ok]
            else:
                labs = list(reported)
            vals = lovasz_per_class(pred, gt, labs, mode=SOFTMAX if name == "lovasz_softmax" else HINGE,
                                    ignore_label=ignore, renormalize=renorm)
            got = dict(zip(labs, vals))
            per = np.array([got.get(lab, np.nan) for lab in reported], dtype=np.float64)
            from .context import weighted_mean

            value = weighted_mean(per, ctx.w_rep)
        per_class = {} if per is None else {lab: _num(v) for lab, v in zip(reported, per)}
        out[name] = LossResult(name, _num(value), per_class, _params_out(name, params, weights, pred.kind, sigmoid))
    return out
