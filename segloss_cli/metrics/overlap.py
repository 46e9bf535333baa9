"""Overlap metrics: formulas over per-class confusion counts from one pass over the data.

Every formula works on int64 count arrays (one entry per class) and returns float64 with
NaN where the formula is 0/0; ``empty_rule`` in the registry turns those into the values
conventions.md asks for.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Optional

import numpy as np

from .registry import declarer


@dataclass(frozen=True)
class Counts:
    """Per-class one-vs-rest confusion counts (int64), TP + FP + FN + TN = n for each class."""

    labels: np.ndarray  # int64 class labels, one per entry below
    tp: np.ndarray
    fp: np.ndarray
    fn: np.ndarray
    tn: np.ndarray
    n: int  # voxels counted (ignored voxels excluded)
    voxel_ml: Optional[float]  # one voxel's volume in ml, None when spacing is unknown

    @property
    def n_pred(self) -> np.ndarray:
        return self.tp + self.fp

    @property
    def n_gt(self) -> np.ndarray:
        return self.tp + self.fn


def confusion(
    pred: np.ndarray,
    gt: np.ndarray,
    labels,
    *,
    ignore_label: Optional[int] = None,
    spacing_mm=None,
) -> Counts:
    """Per-class TP/FP/FN/TN of two label maps of one shape, in one pass.

    Examples
    --------
    >>> import numpy as np
    >>> c = confusion(np.array([[0, 1], [1, 1]]), np.array([[0, 1], [0, 1]]), [1])
    >>> int(c.tp[0]), int(c.fp[0]), int(c.fn[0]), int(c.tn[0])
    (2, 1, 0, 1)
    """
    from ..kernels import confusion as K
    from ..kernels._jit import n_chunks
    from ..kernels.layout import as_kernel_3d, spatial_order

    if pred.shape != gt.shape:
        raise ValueError(f"shape mismatch {pred.shape} vs {gt.shape}")
    sorted_labels, lut, use_lut = K.class_lookup(labels)
    order = spatial_order(gt)
    g3 = as_kernel_3d(gt, order)
    p3 = as_kernel_3d(pred, order)
    counts, ignored = K.confusion_counts(
        p3,
        g3,
        lut,
        sorted_labels,
        use_lut,
        np.int64(ignore_label if ignore_label is not None else 0),
        ignore_label is not None,
        n_chunks(g3.shape[0] * g3.shape[1]),
    )
    n = int(np.prod(np.asarray(gt.shape, dtype=np.int64))) - int(ignored)
    k = sorted_labels.size
    tp = counts[0, :k]
    fp = counts[1, :k] - tp
    fn = counts[2, :k] - tp
    tn = n - tp - fp - fn
    voxel_ml = float(np.prod(spacing_mm)) / 1000.0 if spacing_mm is not None else None
    # Report in the caller's order of labels.
    want = np.asarray(labels, dtype=np.int64)
    idx = np.searchsorted(sorted_labels, want)
    return Counts(want, tp[idx], fp[idx], fn[idx], tn[idx], n, voxel_ml)


JOINT_SIZE = 256  # regions of labels below this are counted from one (PRED, GT) pair table


def region_confusion(
    pred: np.ndarray,
    gt: np.ndarray,
    regions,
    *,
    ignore_label: Optional[int] = None,
    spacing_mm=None,
) -> Counts:
    """Confusion counts of regions (unions of labels): a voxel is in region R when its label is
    in R, in PRED and in GT alike. Labels below 256: one pass for all regions, a table of
    (PRED, GT) label pairs summed per region; otherwise one pass per region, through the
    confusion kernel with a table sending R's labels to one class.

    Examples
    --------
    >>> c = region_confusion(np.array([[1, 2, 3, 0]]), np.array([[2, 2, 0, 3]]), [(1, 2, 3), (3,)])
    >>> c.tp.tolist(), c.fp.tolist(), c.fn.tolist()
    ([2, 0], [1, 1], [1, 1])
    """
    from ..kernels import confusion as K
    from ..kernels._jit import n_chunks
    from ..kernels.layout import as_kernel_3d, spatial_order

    if pred.shape != gt.shape:
        raise ValueError(f"shape mismatch {pred.shape} vs {gt.shape}")
    order = spatial_order(gt)
    g3, p3 = as_kernel_3d(gt, order), as_kernel_3d(pred, order)
    total = int(np.prod(np.asarray(gt.shape, dtype=np.int64)))
    voxel_ml = float(np.prod(spacing_mm)) / 1000.0 if spacing_mm is not None else None
    has_ignore = ignore_label is not None
    ign = np.int64(ignore_label if ignore_label is not None else 0)
    sets = [np.asarray(sorted({int(v) for v in region}), dtype=np.int64) for region in regions]
    if all(s.max() < JOINT_SIZE for s in sets):
        # One pass for every region: the (PRED, GT) label-pair table, then sums over it.
        table, outside = K.joint_histogram(p3, g3, JOINT_SIZE, ign, has_ignore, n_chunks(g3.shape[0] * g3.shape[1]))
        if not outside:
            return region_counts(table, regions, spacing_mm=spacing_mm)
    rows = []
    n = total
    for region in regions:
        members = np.asarray(sorted({int(v) for v in region}), dtype=np.int64)
        lut = np.ones(int(members.max()) + 1, np.int64)  # 1 = "not the class"
        lut[members] = 0
        counts, ignored = K.confusion_counts(
            p3, g3, lut, members[:1], True, ign, has_ignore, n_chunks(g3.shape[0] * g3.shape[1])
        )
        n = total - int(ignored)
        rows.append((counts[0, 0], counts[1, 0] - counts[0, 0], counts[2, 0] - counts[0, 0]))
    tp, fp, fn = (np.array([r[i] for r in rows], dtype=np.int64) for i in range(3))
    return Counts(np.full(len(rows), -1, np.int64), tp, fp, fn, n - tp - fp - fn, n, voxel_ml)


def region_counts(table: np.ndarray, regions, *, spacing_mm=None) -> Counts:
    """Region counts from a (PRED label, GT label) table (kernels.confusion.joint_histogram;
    its last column, PRED at ignored voxels, is left out)."""
    pairs = table[:, : table.shape[0]]
    size = pairs.shape[0]
    tp, fp, fn = (np.zeros(len(regions), np.int64) for _ in range(3))
    for i, region in enumerate(regions):
        inside = np.zeros(size, bool)
        inside[np.asarray(sorted({int(v) for v in region}), dtype=np.int64)] = True
        tp[i] = pairs[np.ix_(inside, inside)].sum()
        fp[i] = pairs[inside, :].sum() - tp[i]
        fn[i] = pairs[:, inside].sum() - tp[i]
    n = int(pairs.sum())
    voxel_ml = float(np.prod(spacing_mm)) / 1000.0 if spacing_mm is not None else None
    return Counts(np.full(len(regions), -1, np.int64), tp, fp, fn, n - tp - fp - fn, n, voxel_ml)


def concat_counts(first: Counts, second: Counts) -> Counts:
    """The entries of two Counts of one case, in order."""
    tp, fp, fn, tn = (np.concatenate([getattr(first, k), getattr(second, k)]) for k in ("tp", "fp", "fn", "tn"))
    return Counts(np.concatenate([first.labels, second.labels]), tp, fp, fn, tn, first.n, first.voxel_ml)


def _div(num, den) -> np.ndarray:
    num = np.asarray(num, dtype=np.float64)
    den = np.asarray(den, dtype=np.float64)
    out = np.full(np.broadcast(num, den).shape, np.nan)
    np.divide(num, den, out=out, where=den != 0)
    return out


def _f(x) -> np.ndarray:
    return np.asarray(x, dtype=np.float64)


def _mcc(c: Counts) -> np.ndarray:
    tp, fp, fn, tn = _f(c.tp), _f(c.fp), _f(c.fn), _f(c.tn)
    # Product of square roots: the four factors multiplied first can exceed 2**63 as ints.
    den = np.sqrt(tp + fp) * np.sqrt(tp + fn) * np.sqrt(tn + fp) * np.sqrt(tn + fn)
    return _div(tp * tn - fp * fn, den)


def _kappa(c: Counts) -> np.ndarray:
    tp, fp, fn, tn = _f(c.tp), _f(c.fp), _f(c.fn), _f(c.tn)
    n = tp + fp + fn + tn
    po = _div(tp + tn, n)
    pe = _div((tp + fp) * (tp + fn) + (fn + tn) * (fp + tn), n * n)
    return _div(po - pe, 1.0 - pe)


def _volume(counts, voxel_ml) -> np.ndarray:
    if voxel_ml is None:
        return np.full(np.shape(counts), np.nan)
    return _f(counts) * voxel_ml


_m = declarer("confusion")


inf = float("inf")
_m(
    "dice",
    "2TP/(2TP+FP+FN)",
    "similarity",
    0,
    1,
    True,
    "Dice similarity coefficient (F1)",
    lambda c: _div(2 * _f(c.tp), 2 * _f(c.tp) + c.fp + c.fn),
    aliases=("f1", "dsc"),
    in_table=True,
)
_m(
    "iou",
    "TP/(TP+FP+FN)",
    "similarity",
    0,
    1,
    True,
    "Intersection over union (Jaccard index)",
    lambda c: _div(c.tp, _f(c.tp) + c.fp + c.fn),
    aliases=("jaccard",),
    in_table=True,
)
_m(
    "precision",
    "TP/(TP+FP)",
    "ratio",
    0,
    1,
    True,
    "Positive predictive value",
    lambda c: _div(c.tp, _f(c.tp) + c.fp),
    aliases=("ppv",),
    in_table=True,
)
_m(
    "recall",
    "TP/(TP+FN)",
    "ratio",
    0,
    1,
    True,
    "Sensitivity, true positive rate",
    lambda c: _div(c.tp, _f(c.tp) + c.fn),
    aliases=("sensitivity", "tpr"),
    in_table=True,
)
_m(
    "specificity",
    "TN/(TN+FP)",
    "ratio",
    0,
    1,
    True,
    "True negative rate",
    lambda c: _div(c.tn, _f(c.tn) + c.fp),
    aliases=("tnr",),
)
_m("fpr", "FP/(FP+TN)", "ratio", 0, 1, False, "False positive rate", lambda c: _div(c.fp, _f(c.fp) + c.tn))
_m("fnr", "FN/(FN+TP)", "ratio", 0, 1, False, "False negative rate (miss rate)", lambda c: _div(c.fn, _f(c.fn) + c.tp))
_m("npv", "TN/(TN+FN)", "ratio", 0, 1, True, "Negative predictive value", lambda c: _div(c.tn, _f(c.tn) + c.fn))
_m("fdr", "FP/(FP+TP)", "ratio", 0, 1, False, "False discovery rate", lambda c: _div(c.fp, _f(c.fp) + c.tp))
_m(
    "accuracy",
    "(TP+TN)/N",
    "ratio",
    0,
    1,
    True,
    "Voxel accuracy (one-vs-rest)",
    lambda c: _div(_f(c.tp) + c.tn, _f(c.tp) + c.fp + c.fn + c.tn),
)
_m(
    "balanced_accuracy",
    "(TPR+TNR)/2",
    "ratio",
    0,
    1,
    True,
    "Mean of sensitivity and specificity",
    lambda c: (_div(c.tp, _f(c.tp) + c.fn) + _div(c.tn, _f(c.tn) + c.fp)) / 2,
)
_m(
    "mcc",
    "(TP*TN-FP*FN)/sqrt((TP+FP)(TP+FN)(TN+FP)(TN+FN))",
    "ratio",
    -1,
    1,
    True,
    "Matthews correlation coefficient (float64, no integer overflow)",
    _mcc,
)
_m("kappa", "(po-pe)/(1-pe) of the 2x2 table", "ratio", -1, 1, True, "Cohen's kappa", _kappa)
_m(
    "volume_similarity",
    "1-|FP-FN|/(2TP+FP+FN)",
    "similarity",
    0,
    1,
    True,
    "Volume similarity",
    lambda c: 1.0 - _div(np.abs(_f(c.fp) - c.fn), 2 * _f(c.tp) + c.fp + c.fn),
    aliases=("vs",),
    in_table=True,
)
_m(
    "rvd",
    "(|P|-|G|)/|G|",
    "ratio",
    -1,
    inf,
    None,
    "Signed relative volume difference",
    lambda c: _div(_f(c.n_pred) - c.n_gt, c.n_gt),
)
_m(
    "vol_pred_ml",
    "|P| x voxel volume / 1000",
    "always",
    0,
    inf,
    None,
    "Predicted volume (ml; null without spacing)",
    lambda c: _volume(c.n_pred, c.voxel_ml),
    unit="ml",
    in_table=True,
)
_m(
    "vol_gt_ml",
    "|G| x voxel volume / 1000",
    "always",
    0,
    inf,
    None,
    "Ground-truth volume (ml; null without spacing)",
    lambda c: _volume(c.n_gt, c.voxel_ml),
    unit="ml",
    in_table=True,
)
_m("tp", "TP", "always", 0, inf, None, "True positive voxels", lambda c: c.tp, integer=True)
_m("fp", "FP", "always", 0, inf, None, "False positive voxels", lambda c: c.fp, integer=True)
_m("fn", "FN", "always", 0, inf, None, "False negative voxels", lambda c: c.fn, integer=True)
_m("tn", "TN", "always", 0, inf, None, "True negative voxels", lambda c: c.tn, integer=True)


# --- opt-in metrics (issue 17): registered after the wave-1 ones, so the default columns and
# their order stay as they were; computed when named, by `all` or by the group `extra`.


def _rates(c: Counts) -> tuple[np.ndarray, np.ndarray]:
    """(TPR, FPR), NaN where a denominator is 0."""
    return _div(c.tp, _f(c.tp) + c.fn), _div(c.fp, _f(c.fp) + c.tn)


def _prevalence_threshold(c: Counts) -> np.ndarray:
    # (sqrt(TPR*FPR) - FPR)/(TPR - FPR) = sqrt(FPR)/(sqrt(TPR) + sqrt(FPR)): the second form is
    # the same number where the first is defined and continues it across TPR = FPR (0.5; the
    # first form is 0/0 there). Undefined when TPR = FPR = 0 or a rate is undefined.
    tpr, fpr = _rates(c)
    with np.errstate(invalid="ignore"):
        return _div(np.sqrt(fpr), np.sqrt(tpr) + np.sqrt(fpr))


def mcc_multiclass(c: Counts) -> float:
    """Gorodkin's R_K of the K x K confusion matrix, from one-vs-rest counts of *every* label.

    R_K = (s*t - sum_k p_k g_k) / sqrt((s^2 - sum_k p_k^2)(s^2 - sum_k g_k^2)) with s the voxels
    counted, t the correctly labelled ones (sum_k TP_k), p_k, g_k the voxels PRED and GT give
    label k (sklearn.metrics.matthews_corrcoef for K classes). ``c`` must hold every label
    present (then sum_k p_k = sum_k g_k = s); NaN when a factor of the denominator is 0 (PRED or
    GT a single label everywhere; sklearn returns 0.0 there).

    Examples
    --------
    >>> import numpy as np
    >>> c = confusion(np.array([0, 1, 2, 2]), np.array([0, 1, 1, 2]), [0, 1, 2])
    >>> round(mcc_multiclass(c), 6)
    0.7
    """
    s = float(c.n)
    t = float(np.sum(_f(c.tp)))
    p, g = _f(c.n_pred), _f(c.n_gt)
    den = math.sqrt(s * s - float(np.sum(p * p))) * math.sqrt(s * s - float(np.sum(g * g)))
    return float("nan") if den == 0 else (s * t - float(np.sum(p * g))) / den


_m(
    "false_omission_rate",
    "FN/(FN+TN)",
    "ratio",
    0,
    1,
    False,
    "False omission rate (1 - NPV)",
    lambda c: _div(c.fn, _f(c.fn) + c.tn),
    aliases=("for",),
    default=False,
)
_m(
    "informedness",
    "TPR+TNR-1",
    "ratio",
    -1,
    1,
    True,
    "Bookmaker informedness (Youden's J)",
    lambda c: _div(c.tp, _f(c.tp) + c.fn) + _div(c.tn, _f(c.tn) + c.fp) - 1.0,
    aliases=("youden", "youden_j", "bm"),
    default=False,
)
_m(
    "markedness",
    "PPV+NPV-1",
    "ratio",
    -1,
    1,
    True,
    "Markedness (deltaP)",
    lambda c: _div(c.tp, _f(c.tp) + c.fp) + _div(c.tn, _f(c.tn) + c.fn) - 1.0,
    aliases=("mk", "deltap"),
    default=False,
)
_m(
    "fowlkes_mallows",
    "TP/sqrt((TP+FP)(TP+FN)) = sqrt(PPV*TPR)",
    "ratio",
    0,
    1,
    True,
    "Fowlkes-Mallows index of the 2x2 table (not sklearn's pair-counting clustering score)",
    lambda c: _div(c.tp, np.sqrt(_f(c.tp) + c.fp) * np.sqrt(_f(c.tp) + c.fn)),
    aliases=("fmi", "fm"),
    default=False,
)
_m(
    "lr_plus",
    "TPR/FPR",
    "ratio",
    0,
    inf,
    True,
    "Positive likelihood ratio (null when FPR = 0: infinite or 0/0)",
    lambda c: _div(*_rates(c)),
    aliases=("lr+", "plr"),
    default=False,
)
_m(
    "lr_minus",
    "FNR/TNR",
    "ratio",
    0,
    inf,
    False,
    "Negative likelihood ratio (null when TNR = 0)",
    lambda c: _div(_div(c.fn, _f(c.fn) + c.tp), _div(c.tn, _f(c.tn) + c.fp)),
    aliases=("lr-", "nlr"),
    default=False,
)
_m(
    "prevalence_threshold",
    "(sqrt(TPR*FPR)-FPR)/(TPR-FPR) = sqrt(FPR)/(sqrt(TPR)+sqrt(FPR))",
    "ratio",
    0,
    1,
    False,
    "Prevalence threshold (Balayla 2020); 0.5 at TPR = FPR > 0",
    _prevalence_threshold,
    aliases=("pt",),
    default=False,
)
_m(
    "mcc_multiclass",
    "Gorodkin R_K of the K x K confusion matrix (all labels, background included)",
    "ratio",
    -1,
    1,
    True,
    "Multi-class MCC of the case (sklearn matthews_corrcoef); the same value in every class row",
    mcc_multiclass,
    aliases=("rk", "mcc_k"),
    default=False,
    family="case",
)
