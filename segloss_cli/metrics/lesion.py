"""Lesion-wise (BraTS 2023), detection (autoPET) and instance (panoptic) metrics.

Definitions (conventions.md, "Lesion-wise and instance metrics"). Per class or region, on its
binary masks P and G (ignored voxels outside both):

- Components: connected components of a mask at ``connectivity`` (6/18/26 in 3-D, 4/8 in
  2-D; default the full neighbourhood, 26 or 8, as BraTS).
- BraTS lesions: G dilated ``dilation`` times by the 18-neighbourhood (8 in 2-D;
  scipy's ``generate_binary_structure(3, 2)``, as the BraTS-2023-Metrics code), then split
  into components; GT lesion k is G inside dilated component k (GT components whose dilations
  touch are one lesion). The predicted components matched to lesion k are those meeting
  dilated component k (= lesion k dilated). Per lesion: Dice of lesion k against the union of
  its matched components; HD95 between the same two masks (segloss's hd95 with its
  percentile and mode), ``worst_hd95_mm`` (374) when nothing matched. Lesions of volume
  <= ``volume_threshold_mm3`` are left out; predicted components matched to no lesion (of
  any volume) are false positives. lesion_dice = sum of kept lesions' Dice / (kept + FP);
  lesion_hd95 = (sum of kept lesions' HD95 + FP x worst) / (kept + FP); 0/0 gives 1 and 0
  (the reference's NaN rule).
- Detection: GT and PRED components matched one-to-one where IoU > ``iou_threshold``
  (unique when the threshold is >= 0.5; below, greedily by decreasing IoU, ties by GT then
  PRED component in raster order). det_f1 = 2TP / (2TP + FP + FN).
- autoPET: fp_vol_ml = volume of PRED components not meeting G; fn_vol_ml = volume of GT
  components not meeting P.
- Panoptic quality (panoptica, Kirillov et al. 2019): instances matched at IoU > threshold;
  SQ = mean IoU of the matched pairs (0 without one), RQ = TP / (TP + FP/2 + FN/2),
  PQ = SQ x RQ. For a class, its components are the instances; :func:`panoptic_quality`
  takes instance label maps.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Optional, Union

import numpy as np

from ..errors import UsageError
from .params import SurfaceParams
from .registry import MetricSpec, _load_all, register

# Dilation factor and lesion volume threshold (mm^3) of each BraTS 2023 sub-challenge, from
# get_LesionWiseResults in github.com/rachitsaluja/BraTS-2023-Metrics (metrics.py).
PRESETS: dict[str, tuple[int, float]] = {
    "brats-gli": (3, 50.0),
    "brats-ssa": (3, 50.0),
    "brats-men": (1, 50.0),
    "brats-ped": (3, 50.0),
    "brats-met": (1, 2.0),
}
BRATS_WORST_HD95_MM = 374.0
# Metrics measured in mm or mm^3 (the volume threshold): they need a voxel spacing (volumes
# in mL are null without one, as vol_gt_ml).
MM_METRICS = frozenset({"lesion_dice", "lesion_hd95", "lesion_tp", "lesion_fn"})


@dataclass(frozen=True)
class LesionParams:
    """How lesions are found and matched; the defaults are BraTS-GLI's (``brats-gli``).

    ``dilation``: dilations of G that merge nearby GT components and reach the predicted
    components of a lesion (0: none). ``connectivity``: None for the full neighbourhood (26 in
    3-D, 8 in 2-D). ``volume_threshold_mm3``: GT lesions of at most this volume are left out of
    lesion_dice and lesion_hd95. ``worst_hd95_mm``: a missed lesion's or a false positive's
    HD95. ``iou_threshold``: the detection and panoptic match (IoU strictly above it).
    """

    dilation: int = 3
    connectivity: Optional[int] = None
    volume_threshold_mm3: float = 50.0
    worst_hd95_mm: float = BRATS_WORST_HD95_MM
    iou_threshold: float = 0.5

    def __post_init__(self) -> None:
        d = self.dilation
        if isinstance(d, bool) or not isinstance(d, (int, np.integer)) or d < 0:
            raise UsageError(f"@lesion_dilation must be a non-negative integer, not {d!r}")
        object.__setattr__(self, "dilation", int(d))
        c = self.connectivity
        if c is not None and int(c) not in (4, 6, 8, 18, 26):
            raise UsageError(f"@lesion_connectivity must be 6, 18 or 26 (3-D) or 4 or 8 (2-D), not {c!r}")
        v = float(self.volume_threshold_mm3)
        if not (math.isfinite(v) and v >= 0):
            raise UsageError(f"@lesion_volume_threshold_mm3 must be a non-negative number, not {v}")
        object.__setattr__(self, "volume_threshold_mm3", v)
        w = float(self.worst_hd95_mm)
        if not (math.isfinite(w) and w >= 0):
            raise UsageError(f"@lesion_worst_hd95_mm must be a non-negative number of mm, not {w}")
        object.__setattr__(self, "worst_hd95_mm", w)
        t = float(self.iou_threshold)
        if not (math.isfinite(t) and 0 <= t < 1):
            raise UsageError(f"@lesion_iou_threshold must be in [0, 1), not {t}")
        object.__setattr__(self, "iou_threshold", t)

    @classmethod
    def preset(cls, name: str, **overrides) -> LesionParams:
        """The parameters of a BraTS sub-challenge (``brats-gli``, ...), with ``overrides``."""
        key = str(name).strip().lower()
        if key not in PRESETS:
            raise UsageError(f"unknown @lesion_preset '{name}'; choose from {', '.join(PRESETS)}")
        dilation, threshold = PRESETS[key]
        base: dict[str, Any] = {"dilation": dilation, "volume_threshold_mm3": threshold}
        base.update({k: v for k, v in overrides.items() if v is not None})
        return cls(**base)

    def recorded(self) -> dict:
        return {
            "dilation": self.dilation,
            "connectivity": self.connectivity,
            "volume_threshold_mm3": self.volume_threshold_mm3,
            "worst_hd95_mm": self.worst_hd95_mm,
            "iou_threshold": self.iou_threshold,
        }


def _connectivity(connectivity: Optional[int], ndim: int) -> int:
    """The kernel's 3-D connectivity for a 2-D or 3-D mask (checks that it fits ``ndim``)."""
    if connectivity is None:
        return 26
    c = int(connectivity)
    if ndim == 2:
        if c not in (4, 8):
            raise UsageError(f"@lesion_connectivity {c} is for 3-D images; a 2-D image takes 4 or 8")
        return 6 if c == 4 else 26
    if c not in (6, 18, 26):
        raise UsageError(f"@lesion_connectivity {c} is for 2-D images; a 3-D image takes 6, 18 or 26")
    return c


def connected_components(mask: np.ndarray, *, connectivity: Optional[int] = None) -> tuple[np.ndarray, int]:
    """Labels (int32, 1..n; 0 outside the mask) of the connected components of ``mask``, and n.

    ``mask``: 2-D or 3-D, nonzero = inside; ``connectivity`` 6/18/26 (3-D) or 4/8 (2-D),
    default the full neighbourhood. The partition equals ``scipy.ndimage.label`` with the
    matching structure; numbering follows the raster order of the array's memory layout.

    Examples
    --------
    >>> import numpy as np
    >>> labels, n = connected_components(np.array([[1, 0, 1], [0, 1, 0]]), connectivity=4)
    >>> n, labels.tolist()
    (3, [[1, 0, 2], [0, 3, 0]])
    >>> connected_components(np.array([[1, 0, 1], [0, 1, 0]]), connectivity=8)[1]
    1
    """
    labels, n, _ = _components(mask, connectivity)
    return labels, n


def _components(mask: np.ndarray, connectivity: Optional[int]) -> tuple[np.ndarray, int, np.ndarray]:
    """:func:`connected_components` and the voxels of each component (int64, n + 1)."""
    from ..kernels import components as KC
    from ..kernels.layout import as_kernel_3d, from_kernel_3d, spatial_order

    m = np.asarray(mask)
    if m.ndim not in (2, 3):
        raise ValueError(f"expected a 2-D or 3-D mask, got shape {m.shape}")
    conn = _connectivity(connectivity, m.ndim)
    if m.dtype != np.bool_ and m.dtype != np.uint8:
        m = m != 0
    order = spatial_order(m)
    lab, n, size = KC.label(as_kernel_3d(m, order), conn)
    return from_kernel_3d(lab, order, m.ndim), int(n), size


def _dilate(mask: np.ndarray, iterations: int) -> np.ndarray:
    """uint8 dilation by the 18-neighbourhood (8 in 2-D), ``iterations`` times (BraTS's)."""
    from ..kernels import components as KC
    from ..kernels.layout import as_kernel_3d, from_kernel_3d, spatial_order

    order = spatial_order(mask)
    out = KC.dilate(as_kernel_3d(mask, order), 18, iterations, mask.ndim == 3)
    return from_kernel_3d(out, order, mask.ndim)


def _k3(arr: np.ndarray) -> np.ndarray:
    """The 3-D kernel view of a 2-D or 3-D array (kernels/layout.py)."""
    from ..kernels.layout import as_kernel_3d, spatial_order

    return as_kernel_3d(arr, spatial_order(arr))


def _sizes(labels: np.ndarray, n: int, mask: Optional[np.ndarray] = None) -> np.ndarray:
    """Voxels of each label 0..n (inside ``mask`` if given), without an int64 copy of the labels."""
    from ..kernels import components as KC

    if mask is None:
        return KC.sizes(_k3(labels), n, np.zeros((1, 1, 1), np.uint8), False)
    # one layout for both: the mask may have been made in another memory order
    order = _order(labels)
    return KC.sizes(_view(labels, order), n, _view(mask, order), True)


def _order(arr):
    from ..kernels.layout import spatial_order

    return spatial_order(arr)


def _view(arr, order):
    from ..kernels.layout import as_kernel_3d

    return as_kernel_3d(arr, order)


def _pairs(a: np.ndarray, b: np.ndarray, nb: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(u, v, count) for every label pair u > 0, v > 0 that shares voxels."""
    from ..kernels import components as KC

    order = _order(a)
    keys, counts = np.unique(KC.pair_keys(_view(a, order), _view(b, order), nb), return_counts=True)
    return keys // (nb + 1), keys % (nb + 1), counts.astype(np.int64)


def _match(gi, pi, inter, gt_sizes, pred_sizes, threshold: float):
    """One-to-one matches of pairs with IoU > threshold: (number matched, sum of their IoU)."""
    iou = inter / (gt_sizes[gi] + pred_sizes[pi] - inter)
    keep = iou > threshold
    gi, pi, iou = gi[keep], pi[keep], iou[keep]
    if threshold >= 0.5:  # a component has at most one partner above 1/2 (they are disjoint)
        return int(iou.size), float(iou.sum())
    used_g: set[int] = set()
    used_p: set[int] = set()
    tp, total = 0, 0.0
    for t in np.lexsort((pi, gi, -iou)):
        g, p = int(gi[t]), int(pi[t])
        if g in used_g or p in used_p:
            continue
        used_g.add(g)
        used_p.add(p)
        tp += 1
        total += float(iou[t])
    return tp, total


def _instance_scores(gt_lab, n_gt, pred_lab, n_pred, threshold, gt_sizes=None, pred_sizes=None):
    gt_sizes = (_sizes(gt_lab, n_gt) if gt_sizes is None else gt_sizes).astype(np.float64)
    pred_sizes = (_sizes(pred_lab, n_pred) if pred_sizes is None else pred_sizes).astype(np.float64)
    gi, pi, inter = _pairs(gt_lab, pred_lab, n_pred)
    tp, iou_sum = _match(gi, pi, inter.astype(np.float64), gt_sizes, pred_sizes, threshold)
    fp, fn = n_pred - tp, n_gt - tp
    sq = iou_sum / tp if tp else 0.0
    denom = tp + 0.5 * fp + 0.5 * fn
    rq = tp / denom if denom else math.nan
    f1 = 2 * tp / (2 * tp + fp + fn) if (tp + fp + fn) else math.nan
    return {"tp": tp, "fp": fp, "fn": fn, "sq": sq, "rq": rq, "pq": sq * rq, "f1": f1}


def panoptic_quality(pred_instances: np.ndarray, gt_instances: np.ndarray, *, iou_threshold: float = 0.5) -> dict:
    """PQ, SQ, RQ and the match counts of two instance label maps (each nonzero value one instance).

    Instances match where IoU > ``iou_threshold`` (one-to-one; 0.5 gives panoptica's and
    Kirillov et al.'s unique matching). Returns ``{"pq", "sq", "rq", "tp", "fp", "fn"}``;
    pq, sq, rq are NaN when neither map has an instance.

    Examples
    --------
    >>> import numpy as np
    >>> gt = np.array([[1, 1, 0, 2, 2]]); pred = np.array([[5, 5, 5, 0, 0]])
    >>> r = panoptic_quality(pred, gt)
    >>> r["tp"], r["fp"], r["fn"], round(r["sq"], 4), round(r["rq"], 4)
    (1, 0, 1, 0.6667, 0.6667)
    """
    p, g = np.asarray(pred_instances), np.asarray(gt_instances)
    if p.shape != g.shape:
        raise ValueError(f"shape mismatch {p.shape} vs {g.shape}")
    if not 0 <= iou_threshold < 1:
        raise ValueError(f"iou_threshold must be in [0, 1), not {iou_threshold}")
    dense = []
    for arr in (g, p):
        values, inverse = np.unique(arr.reshape(-1), return_inverse=True)
        shift = 0 if values[0] == 0 else 1  # 0 is background; the other values become 1..n
        dense.append(((inverse + shift).reshape(arr.shape).astype(np.int64), int(values.size - (1 - shift))))
    (gl, ng), (pl, npred) = dense
    r = _instance_scores(gl, ng, pl, npred, float(iou_threshold))
    if ng == 0 and npred == 0:
        r.update(pq=math.nan, sq=math.nan, rq=math.nan)
    return {k: r[k] for k in ("pq", "sq", "rq", "tp", "fp", "fn")}


def _box(mask: np.ndarray, margin: int) -> Optional[tuple[slice, ...]]:
    """Bounding box of ``mask`` grown by ``margin`` voxels within the image; None if empty."""
    box = []
    for axis in range(mask.ndim):
        others = tuple(a for a in range(mask.ndim) if a != axis)
        idx = np.flatnonzero(mask.any(axis=others))
        if idx.size == 0:
            return None
        box.append(slice(max(int(idx[0]) - margin, 0), min(int(idx[-1]) + margin + 1, mask.shape[axis])))
    return tuple(box)


def _label_box(lo, hi, members) -> tuple[np.ndarray, np.ndarray]:
    return lo[members].min(axis=0), hi[members].max(axis=0)


def class_lesion_values(
    pred_mask: np.ndarray,
    gt_mask: np.ndarray,
    *,
    names: Sequence[str],
    spacing_mm,
    params: Optional[LesionParams] = None,
    surface: Optional[SurfaceParams] = None,
) -> dict[str, float]:
    """The selected lesion metrics of one pair of binary masks (2-D or 3-D).

    ``spacing_mm``: voxel spacing (distances and volumes; a 2-D image without one passes 1s).
    Values follow the module docstring; the empty-mask policy is applied by the caller.
    """
    from ..kernels import components as KC
    from ..kernels.layout import as_kernel_3d, kernel_box_slices, spatial_order

    params = params if params is not None else LesionParams()
    surface = surface if surface is not None else SurfaceParams()
    p0 = np.asarray(pred_mask).astype(bool, copy=False)
    g0 = np.asarray(gt_mask).astype(bool, copy=False)
    spacing = tuple(float(s) for s in spacing_mm)
    voxel_mm3 = float(np.prod(spacing))
    conn = params.connectivity
    wanted = set(names)
    out: dict[str, float] = {}
    box = _box(p0 | g0, params.dilation + 1)
    if box is None:  # both empty: no lesion, no component
        zero = {"n_gt_lesions", "n_pred_lesions", "lesion_tp", "lesion_fp", "lesion_fn", "det_tp", "det_fp",
                "det_fn", "fp_vol_ml", "fn_vol_ml"}  # fmt: skip
        return {n: (0.0 if n in zero else (0.0 if n == "lesion_hd95" else 1.0)) for n in names}
    p = p0[box].view(np.uint8)  # a view: the kernels walk any layout
    g = g0[box].view(np.uint8)
    pred_lab, n_pred, pred_sizes = _components(p, conn)

    if wanted & {"n_gt_lesions", "det_tp", "det_fp", "det_fn", "det_f1", "pq", "sq", "rq", "fn_vol_ml"}:
        gt_lab, n_gt, gt_sizes = _components(g, conn)
        inst = _instance_scores(gt_lab, n_gt, pred_lab, n_pred, params.iou_threshold, gt_sizes, pred_sizes)
        out.update(n_gt_lesions=n_gt, det_tp=inst["tp"], det_fp=inst["fp"], det_fn=inst["fn"], det_f1=inst["f1"])
        out.update(pq=inst["pq"], sq=inst["sq"], rq=inst["rq"])
        if n_gt == 0 and n_pred == 0:
            out.update(det_f1=1.0, pq=1.0, sq=1.0, rq=1.0)
        if "fn_vol_ml" in wanted:
            hit = _sizes(gt_lab, n_gt, p) > 0
            out["fn_vol_ml"] = float(gt_sizes[1:][~hit[1:]].sum()) * voxel_mm3 / 1000.0
    out["n_pred_lesions"] = n_pred
    if "fp_vol_ml" in wanted:
        hit = _sizes(pred_lab, n_pred, g) > 0
        out["fp_vol_ml"] = float(pred_sizes[1:][~hit[1:]].sum()) * voxel_mm3 / 1000.0

    if wanted & {"lesion_dice", "lesion_hd95", "lesion_tp", "lesion_fp", "lesion_fn"}:
        gd = _dilate(g, params.dilation) if params.dilation else g
        gd_lab, n_les = connected_components(gd, connectivity=conn)
        les_vol = _sizes(gd_lab, n_les, g)  # lesion k = G in dilated comp k
        inter = _sizes(gd_lab, n_les, g & p)
        li, ci, _ = _pairs(gd_lab, pred_lab, n_pred)  # lesion k meets component c (through its dilation)
        matched = np.zeros(n_pred + 1, bool)
        matched[ci] = True
        n_fp = int(n_pred - matched[1:].sum())
        keep = les_vol[1:] * voxel_mm3 > params.volume_threshold_mm3
        starts = np.searchsorted(li, np.arange(1, n_les + 2))
        dices, hds = [], []
        n_tp = n_fn = 0
        want_hd = "lesion_hd95" in wanted
        if want_hd:
            from .distance import surface_metrics

            order = spatial_order(gd_lab)
            glo, ghi = KC.boxes(as_kernel_3d(gd_lab, order), n_les)
            plo, phi = KC.boxes(as_kernel_3d(pred_lab, order), n_pred)
        for k in range(1, n_les + 1):
            if not keep[k - 1]:
                continue
            comps = ci[starts[k - 1] : starts[k]]
            if comps.size == 0:
                n_fn += 1
                dices.append(0.0)
                hds.append(params.worst_hd95_mm)
                continue
            n_tp += 1
            dices.append(2.0 * inter[k] / (les_vol[k] + pred_sizes[comps].sum()))
            if want_hd:
                lo = np.minimum(glo[k], plo[comps].min(axis=0))
                hi = np.maximum(ghi[k], phi[comps].max(axis=0))
                sub = kernel_box_slices(lo, hi, order, gd_lab.shape)
                # Both masks C-ordered (np.isin gives C, the compare keeps the crop's order):
                # one layout for PRED and GT, so the surface kernels compile once.
                les = np.ascontiguousarray(((gd_lab[sub] == k) & (g[sub] != 0)).view(np.uint8))
                pm = np.ascontiguousarray(np.isin(pred_lab[sub], comps).view(np.uint8))
                hd = surface_metrics(pm, les, [1], spacing_mm=spacing, names=["hd95"], params=surface)["hd95"][0]
                hds.append(float(hd))
        n_kept = len(dices)
        denom = n_kept + n_fp
        out.update(lesion_tp=n_tp, lesion_fn=n_fn, lesion_fp=n_fp)
        out["lesion_dice"] = sum(dices) / denom if denom else 1.0
        if want_hd:
            out["lesion_hd95"] = (sum(hds) + n_fp * params.worst_hd95_mm) / denom if denom else 0.0
    return {n: float(out[n]) for n in names}


def _member_mask(arr: np.ndarray, members: Sequence[int]) -> np.ndarray:
    mask = arr == members[0]
    for v in members[1:]:
        mask |= arr == v
    return mask


def lesion_metrics(
    pred: np.ndarray,
    gt: np.ndarray,
    classes: Sequence[Union[int, Sequence[int]]],
    *,
    names: Sequence[str],
    spacing_mm,
    params: Optional[LesionParams] = None,
    surface: Optional[SurfaceParams] = None,
    ignore_label: Optional[int] = None,
) -> dict[str, np.ndarray]:
    """Selected lesion metrics per class: name -> float64 array in the order of ``classes``.

    ``classes``: a label, or a region's labels (a sequence), each scored on its masks; voxels
    whose GT is ``ignore_label`` are outside both masks.
    """
    if pred.shape != gt.shape:
        raise ValueError(f"shape mismatch {pred.shape} vs {gt.shape}")
    params = params if params is not None else LesionParams()
    _connectivity(params.connectivity, gt.ndim)  # a 2-D connectivity asked of a 3-D image
    out = {n: np.full(len(classes), np.nan) for n in names}
    if not names:
        return out
    keep = None if ignore_label is None else gt != ignore_label
    for i, c in enumerate(classes):
        members = [int(c)] if np.isscalar(c) else sorted({int(v) for v in c})  # type: ignore[arg-type, union-attr]
        g = _member_mask(gt, members)
        p = _member_mask(pred, members)
        if keep is not None:
            p &= keep
        got = class_lesion_values(p, g, names=names, spacing_mm=spacing_mm, params=params, surface=surface)
        for n in names:
            out[n][i] = got[n]
    return out


# The registry's order puts these after every earlier family whichever module is imported
# first (api imports this one for LesionParams): load the others now, then register.
_load_all()


def _l(name, formula, empty_rule, lo, hi, better, description, *, unit=None, integer=False, aliases=()):
    register(
        MetricSpec(
            name=name,
            formula=formula,
            family="lesion",
            empty_rule=empty_rule,
            lo=lo,
            hi=hi,
            higher_is_better=better,
            description=description,
            aliases=aliases,
            unit=unit,
            integer=integer,
            default=False,
        )
    )


_inf = float("inf")
_l(
    "lesion_dice",
    "sum_k dice(lesion k, its matched components) / (kept lesions + FP components)",
    "lesion",
    0,
    1,
    True,
    "BraTS 2023 lesion-wise Dice (--lesion-preset, --lesion-dilation, --lesion-volume-threshold)",
    aliases=("lesionwise_dice",),
)
_l(
    "lesion_hd95",
    "(sum_k hd95(lesion k, its matched components) + FP x worst) / (kept lesions + FP components)",
    "lesion",
    0,
    _inf,
    False,
    "BraTS 2023 lesion-wise HD95; a missed lesion or FP component counts --lesion-worst-hd95 (374)",
    unit="mm",
    aliases=("lesionwise_hd95",),
)
_l("lesion_tp", "GT lesions (kept) meeting a PRED component", "always", 0, _inf, None,
   "BraTS lesion-wise true positives (Num_TP)", integer=True)  # fmt: skip
_l("lesion_fn", "GT lesions (kept) meeting no PRED component", "always", 0, _inf, None,
   "BraTS lesion-wise false negatives (Num_FN)", integer=True)  # fmt: skip
_l("lesion_fp", "PRED components meeting no GT lesion", "always", 0, _inf, None,
   "BraTS lesion-wise false positives (Num_FP)", integer=True)  # fmt: skip
_l("n_gt_lesions", "connected components of GT", "always", 0, _inf, None, "GT lesion count", integer=True)
_l("n_pred_lesions", "connected components of PRED", "always", 0, _inf, None, "PRED lesion count", integer=True)
_l("det_tp", "component pairs matched at IoU > t", "always", 0, _inf, None,
   "Detection true positives (--lesion-iou, 0.5)", integer=True)  # fmt: skip
_l("det_fp", "PRED components - det_tp", "always", 0, _inf, None, "Detection false positives", integer=True)
_l("det_fn", "GT components - det_tp", "always", 0, _inf, None, "Detection false negatives", integer=True)
_l("det_f1", "2 det_tp / (2 det_tp + det_fp + det_fn)", "similarity", 0, 1, True,
   "Detection F1 of components matched at IoU > t", aliases=("detection_f1",))  # fmt: skip
_l("fp_vol_ml", "volume of PRED components not meeting GT", "always", 0, _inf, False,
   "autoPET false-positive volume", unit="mL")  # fmt: skip
_l("fn_vol_ml", "volume of GT components not meeting PRED", "always", 0, _inf, False,
   "autoPET false-negative volume", unit="mL")  # fmt: skip
_l("pq", "SQ x RQ", "similarity", 0, 1, True, "Panoptic quality of components (panoptica)",
   aliases=("panoptic_quality",))  # fmt: skip
_l("sq", "mean IoU of matched pairs", "similarity", 0, 1, True, "Segmentation quality (panoptic)")
_l("rq", "TP / (TP + FP/2 + FN/2)", "similarity", 0, 1, True, "Recognition quality (panoptic)")
