"""compute_losses: every requested loss of one case (evaluate.py calls this)."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Optional

import numpy as np

from .registry import LOG_EPS, LOSSES, PARAMS, VARIANTS_OF, LossParams, resolve_weights


def _formulas():
    from . import compound, region
    from . import cross_entropy as ce

    return {
        "dice": region.dice,
        "iou": region.iou,
        "generalized_dice": region.generalized_dice,
        "tversky": region.tversky,
        "focal_tversky": region.focal_tversky,
        "log_cosh_dice": region.log_cosh_dice,
        "ce": ce.ce,
        "bce": ce.bce,
        "focal": ce.focal,
        "binary_focal": ce.binary_focal,
        "combo": compound.combo,
        "dice_ce": compound.dice_ce,
        "dice_focal": compound.dice_focal,
    }


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


def _variant_sums(pred, gt, all_labels, names, values, ignore_label, renormalize):
    """The extra sums of the variant options (losses/variants.py); (None, None) by default."""
    from .variants import log_sums

    smooth = values["label_smoothing"] > 0 and ("ce" in names or ("dice_ce" in names and not values["ce_raw"]))
    raw_ce = "dice_ce" in names and values["ce_raw"]
    raw_focal = ("dice_focal" in names or "focal" in names) and values["focal_sigmoid"]
    common = dict(gamma=values["focal_gamma"], ignore_label=ignore_label, renormalize=renormalize)
    log = log_sums(pred, gt, all_labels, raw=False, focal=False, **common) if smooth else None
    log_raw = log_sums(pred, gt, all_labels, raw=True, focal=raw_focal, **common) if raw_ce or raw_focal else None
    return log, log_raw


def _params_out(
    name: str, params: dict[str, Any], weights: dict[int, float], pred_kind: str, sigmoid: bool
) -> dict[str, Any]:
    spec = LOSSES[name]
    out: dict[str, Any] = {}
    for key in spec.params:
        out[key] = {str(k): v for k, v in weights.items()} if key == "weights" else params[key]
    for key in VARIANTS_OF.get(name, ()):  # a variant switch only when set (default outputs unchanged)
        if params[key] != PARAMS[key].default:
            out[key] = params[key]
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


@dataclass(frozen=True)
class CaseSums:
    """What the sum-based losses of a case are formulas of, kept for ``--reduction batch``
    (sums added over cases, then the formulas once: MONAI batch=True, SMP's default dims).

    ``sums``/``log``/``log_raw``: per column of ``all_labels``; ``reported``: the per-class rows.
    """

    all_labels: tuple[int, ...]
    reported: tuple[int, ...]
    sums: Any  # sums.Sums
    log: Any  # variants.LogSums or None
    log_raw: Any
    sigmoid: bool
    kind: str


def _pool_fields(records, attr: str, labels: tuple[int, ...]):
    """One sums record (Sums or LogSums) over ``labels``: each case's columns added in."""
    first = getattr(records[0], attr)
    if first is None:
        return None
    col = {lab: i for i, lab in enumerate(labels)}
    fields: dict[str, Any] = {}
    for name in first.__dataclass_fields__:
        if name == "labels":
            continue
        if getattr(first, name) is None:
            fields[name] = None
            continue
        total = np.zeros(len(labels))
        for r in records:
            idx = np.array([col[lab] for lab in r.all_labels], dtype=np.int64)
            np.add.at(total, idx, np.asarray(getattr(getattr(r, attr), name), dtype=np.float64))
        fields[name] = total
    return type(first)(labels, **fields)


def pool_case_sums(records) -> CaseSums:
    """The batch's sums: every case's per-class sums added, by label (a label a case lacks adds 0)."""
    from ..classes import class_order
    from ..errors import UsageError

    if len({r.sigmoid for r in records}) > 1:
        raise UsageError("@reduction batch: some cases have one sigmoid channel and others several; score them apart")
    labels = tuple(sorted({lab for r in records for lab in r.all_labels}))
    reported = tuple(sorted({lab for r in records for lab in r.reported}, key=class_order))
    return CaseSums(
        labels,
        reported,
        _pool_fields(records, "sums", labels),
        _pool_fields(records, "log", labels),
        _pool_fields(records, "log_raw", labels),
        records[0].sigmoid,
        records[0].kind,
    )


def losses_from_sums(record: CaseSums, params: LossParams, names: tuple[str, ...]) -> dict:
    """The sum-based losses of ``record`` (one case's sums, or a batch's pooled ones)."""
    from ..model import LossResult
    from .context import Ctx

    values = params.resolved()
    weights = resolve_weights(values["weights"], record.all_labels)
    col = {lab: n for n, lab in enumerate(record.all_labels)}
    idx = np.array([col[lab] for lab in record.reported], dtype=np.int64)
    w_all = np.array([weights[lab] for lab in record.all_labels], dtype=np.float64)
    ctx = Ctx(record.sums, idx, w_all, values, record.sigmoid, record.log, record.log_raw)
    formulas = _formulas()
    out = {}
    for name in names:
        per, value = formulas[name](ctx)
        per_class = {} if per is None else {lab: _num(v) for lab, v in zip(record.reported, per)}
        out[name] = LossResult(
            name, _num(value), per_class, _params_out(name, values, weights, record.kind, record.sigmoid)
        )
    return out


def compute_losses(
    pred,
    gt,
    classes,
    params: LossParams,
    *,
    names: tuple[str, ...],
    ignore_label: Optional[int] = None,
    renormalize: bool = False,
    keep_sums: bool = False,
):
    """Every loss in ``names`` of one case as ``{name: LossResult}``.

    Sum-based losses share one pass over the data; Lovasz losses sort once per class.
    ``classes.all_labels`` are the channels (every class, for CE-type losses);
    ``classes.reported`` are the per-class rows and the classes region losses average over.
    ``keep_sums``: return ``(losses, CaseSums)``, the sums for a batch reduction.
    """
    from ..model import LossResult
    from .context import Ctx
    from .lovasz import HINGE, SOFTMAX, lovasz_per_class
    from .sums import compute_sums

    if not names:
        return ({}, None) if keep_sums else {}
    values = params.resolved()
    all_labels = tuple(int(v) for v in classes.all_labels)
    reported = tuple(int(v) for v in classes.reported)
    weights = resolve_weights(values["weights"], all_labels)
    sigmoid = pred.scores is not None and pred.scores.shape[0] == 1
    col = {lab: n for n, lab in enumerate(all_labels)}
    idx = np.array([col[lab] for lab in reported], dtype=np.int64)
    w_all = np.array([weights[lab] for lab in all_labels], dtype=np.float64)

    if gt.soft is not None:  # soft labels (losses/soft.py): what has no soft-target definition
        from ..errors import UsageError

        hard = [n for n in names if LOSSES[n].family == "lovasz"]
        if hard:
            raise UsageError(f"@gt_type soft: {hard[0]} sorts hard label errors; it has no soft-label form")
        if values["squared"]:
            raise UsageError("@gt_type soft: @squared needs sum g^2, which soft labels do not give; drop it")
    needs = _needs(names, values, sigmoid)
    sums = compute_sums(
        pred,
        gt,
        all_labels,
        needs=needs,
        gamma=values["focal_gamma"],
        ignore_label=ignore_label,
        renormalize=renormalize,
    )
    log, log_raw = _variant_sums(pred, gt, all_labels, names, values, ignore_label, renormalize)
    ctx = Ctx(sums, idx, w_all, values, sigmoid, log, log_raw)
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
            vals = lovasz_per_class(
                pred,
                gt,
                labs,
                mode=SOFTMAX if name == "lovasz_softmax" else HINGE,
                ignore_label=ignore_label,
                renormalize=renormalize,
            )
            got = dict(zip(labs, vals))
            per = np.array([got.get(lab, np.nan) for lab in reported], dtype=np.float64)
            value = ctx.mean(per)
        per_class = {} if per is None else {lab: _num(v) for lab, v in zip(reported, per)}
        out[name] = LossResult(name, _num(value), per_class, _params_out(name, values, weights, pred.kind, sigmoid))
    if keep_sums:
        return out, CaseSums(all_labels, reported, sums, log, log_raw, sigmoid, str(pred.kind))
    return out
