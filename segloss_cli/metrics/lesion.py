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
  percentile and mode, on the ``surface`` model: surfel, as the reference's DeepMind
  surface-distance, unless asked otherwise), ``worst_hd95_mm`` (374) when nothing matched.
  Lesions of volume <= ``volume_threshold_mm3`` are left out; predicted components matched to
  no lesion (of any volume) are false positives. lesion_dice = sum of kept lesions' Dice /
  (kept + FP); lesion_hd95 = (sum of kept lesions' HD95 + FP x worst) / (kept + FP); 0/0
  gives 1 and 0 (the reference's NaN rule).
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
from dataclasses import dataclass, replace
from typing import Any, Optional, Union

import numpy as np

from ..choices import SurfaceModel
from ..errors import UsageError
from .params import SurfaceParams
from .registry import _load_all, declarer

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

MAX_DILATION = 10_000  # dilations of GT: more than any image needs to become one blob


@dataclass(frozen=True)
class LesionParams:
    """How lesions are found and matched; the defaults are BraTS-GLI's (``brats-gli``).

    ``dilation``: dilations of G that merge nearby GT components and reach the predicted
    components of a lesion (0: none). ``connectivity``: None for the full neighbourhood (26 in
    3-D, 8 in 2-D). ``volume_threshold_mm3``: GT lesions of at most this volume are left out of
    lesion_dice and lesion_hd95. ``worst_hd95_mm``: a missed lesion's or a false positive's
    HD95. ``iou_threshold``: the detection and panoptic match (IoU strictly above it).
    ``surface``: the surface model of the per-lesion HD95, ``surfel`` (DeepMind's, which the
    BraTS reference uses) or ``voxel``.
    """

    dilation: int = 3
    connectivity: Optional[int] = None
    volume_threshold_mm3: float = 50.0
    worst_hd95_mm: float = BRATS_WORST_HD95_MM
    iou_threshold: float = 0.5
    surface: SurfaceModel = SurfaceModel.SURFEL

    def __post_init__(self) -> None:
        try:
            object.__setattr__(self, "surface", SurfaceModel.parse(self.surface, "@surface"))
        except ValueError as exc:
            raise UsageError(str(exc)) from None
        d = self.dilation
        if isinstance(d, bool) or not isinstance(d, (int, np.integer)) or d < 0:
            raise UsageError(f"@lesion_dilation must be a non-negative integer, not {d!r}")
        if d > MAX_DILATION:  # beyond int64 it reached numba as an object (exit 3); beyond an image, the same mask
            raise UsageError(f"@lesion_dilation must be at most {MAX_DILATION:,} (dilations of GT), not {d}")
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
            "surface": str(self.surface),
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
    from ..kernels import components as KC
    from ..kernels.layout import as_kernel_3d, from_kernel_3d, spatial_order

    m = np.asarray(mask)
    if m.ndim not in (2, 3):
        raise ValueError(f"expected a 2-D or 3-D mask, got shape {m.shape}")
    conn = _connectivity(connectivity, m.ndim)
    if m.dtype != np.bool_ and m.dtype != np.uint8:
        m = m != 0
    order = spatial_order(m)
    lab, n, _ = KC.label(as_kernel_3d(m, order), conn)
    return from_kernel_3d(lab, order, m.ndim), int(n)


@dataclass(frozen=True)
class _Runs:
    """A mask as runs along the last axis of its kernel view (kernels/components.py): row
    pointers (b0 * b1 + 1), starts and ends, and the view's shape."""

    ptr: np.ndarray
    start: np.ndarray
    end: np.ndarray
    shape: tuple[int, int, int]

    @classmethod
    def of(cls, mask: np.ndarray, order: tuple[int, ...]) -> _Runs:
        from ..kernels import components as KC
        from ..kernels.layout import as_kernel_3d, frozen

        view = frozen(np.ascontiguousarray(as_kernel_3d(mask, order)))  # one layout: one specialisation
        ptr, start, end = KC.runs(view)
        return cls(ptr, start, end, view.shape)

    def arrays(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        return self.ptr, self.start, self.end

    def label(self, conn: int) -> tuple[np.ndarray, int, np.ndarray]:
        """Component of each run (int32), n, voxels of each component (int64, n + 1)."""
        from ..kernels import components as KC

        lab, n, size = KC.label_runs(*self.arrays(), self.shape[0], self.shape[1], conn)
        return lab, int(n), size

    def dilate(self, iterations: int) -> _Runs:
        from ..kernels import components as KC

        b0, b1, b2 = self.shape
        ptr, start, end = KC.dilate_runs(*self.arrays(), b0, b1, b2, iterations)
        return _Runs(ptr, start, end, self.shape)

    def pairs(self, other: _Runs) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(run here, run of ``other``, voxels in common) of every overlapping pair."""
        from ..kernels import components as KC

        return KC.run_pairs(*self.arrays(), *other.arrays())

    def boxes(self, lab: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray]:
        from ..kernels import components as KC

        return KC.run_boxes(*self.arrays(), lab, n, self.shape[1])

    def mask(self, lab: np.ndarray, chosen: np.ndarray, lo, hi, order, ndim) -> np.ndarray:
        """uint8 mask of the runs with ``chosen[lab]`` in the kernel box lo..hi (inclusive),
        C-ordered in the original axes."""
        from ..kernels import components as KC
        from ..kernels.layout import from_kernel_3d

        lo = np.asarray(lo, np.int64)
        buf = np.zeros(tuple(int(b - a + 1) for a, b in zip(lo, hi)), np.uint8)
        KC.paint(buf, *self.arrays(), lab, chosen, self.shape[1], lo)
        return np.ascontiguousarray(from_kernel_3d(buf, order, ndim))


def _dilate(mask: np.ndarray, iterations: int) -> np.ndarray:
    """uint8 dilation by the 18-neighbourhood (8 in 2-D), ``iterations`` times (BraTS's)."""
    from ..kernels.layout import spatial_order

    order = spatial_order(mask)
    runs = _Runs.of(np.asarray(mask), order).dilate(iterations)
    every = np.zeros(runs.start.size, np.int32)
    return runs.mask(every, np.ones(1, np.uint8), (0, 0, 0), np.array(runs.shape) - 1, order, mask.ndim)


def _pair_table(keys: np.ndarray, counts: np.ndarray, nb: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(u, v, voxels) of every label pair u > 0, v > 0 sharing voxels, from partial counts of
    keys u * (nb + 1) + v; sorted by u, then v."""
    uniq, inverse = np.unique(keys, return_inverse=True)
    total = np.bincount(inverse.reshape(-1), weights=counts, minlength=uniq.size)
    return uniq // (nb + 1), uniq % (nb + 1), total.astype(np.int64)


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


def _instance_scores(table, n_gt, n_pred, gt_sizes, pred_sizes, threshold):
    """Detection and panoptic scores from the overlap table (u, v, voxels) of two instance sets."""
    gi, pi, inter = table
    tp, iou_sum = _match(gi, pi, inter.astype(np.float64), gt_sizes.astype(np.float64),
                         pred_sizes.astype(np.float64), threshold)  # fmt: skip
    fp, fn = n_pred - tp, n_gt - tp
    sq = iou_sum / tp if tp else 0.0
    denom = tp + 0.5 * fp + 0.5 * fn
    rq = tp / denom if denom else math.nan
    f1 = 2 * tp / (2 * tp + fp + fn) if (tp + fp + fn) else math.nan
    return {"tp": tp, "fp": fp, "fn": fn, "sq": sq, "rq": rq, "pq": sq * rq, "f1": f1}


# Instance values up to this are used as they are (tables of max + 1 entries); larger or
# negative ones are renumbered 1..n first (a sort of the map).
_DIRECT_MAX = 1 << 20


def _instances(arr: np.ndarray) -> tuple[np.ndarray, int]:
    """An instance map as values 0..m (0 = background), and m: as stored when its values are
    integers in 0.._DIRECT_MAX, else renumbered 1..n in the order of the values."""
    if arr.dtype == np.bool_:
        return arr.view(np.uint8), int(arr.any())
    if arr.dtype.kind in "iu" and arr.size:
        lo, hi = int(arr.min()), int(arr.max())
        if lo >= 0 and hi <= _DIRECT_MAX:
            return arr, hi
    values, inverse = np.unique(arr.reshape(-1), return_inverse=True)
    ids = np.arange(1, values.size + 1)  # 0 is background; the other values become 1..n
    zero = np.flatnonzero(values == 0)
    if zero.size:
        ids[zero[0]] = 0
        ids[zero[0] + 1 :] -= 1
    return ids[inverse.reshape(arr.shape)], int(values.size - zero.size)


def _instance_views(g: np.ndarray, p: np.ndarray) -> tuple[np.ndarray, int, np.ndarray, int]:
    """Kernel views of two instance maps in one unsigned dtype (the narrowest that holds both:
    at most three specialisations of the kernel), and their largest values."""
    from ..kernels.layout import as_kernel_3d, spatial_order

    (ga, mg), (pa, mp) = _instances(g), _instances(p)
    top = max(mg, mp)
    dtype = np.uint8 if top < 1 << 8 else np.uint16 if top < 1 << 16 else np.uint32
    ga, pa = ga.astype(dtype, copy=False), pa.astype(dtype, copy=False)
    order = spatial_order(ga)
    return as_kernel_3d(ga, order), mg, as_kernel_3d(pa, order), mp


def panoptic_quality(pred_instances: np.ndarray, gt_instances: np.ndarray, *, iou_threshold: float = 0.5) -> dict:
    """PQ, SQ, RQ and the match counts of two instance label maps (each nonzero value one instance).

    Instances match where IoU > ``iou_threshold`` (one-to-one; 0.5 gives panoptica's and
    Kirillov et al.'s unique matching). Returns ``{"pq", "sq", "rq", "tp", "fp", "fn"}``;
    pq, sq, rq are NaN when neither map has an instance. Sizes and the overlap table come
    from one read of both maps (kernels/components.py ``overlap_table``).

    Examples
    --------
    >>> import numpy as np
    >>> gt = np.array([[1, 1, 0, 2, 2]]); pred = np.array([[5, 5, 5, 0, 0]])
    >>> r = panoptic_quality(pred, gt)
    >>> r["tp"], r["fp"], r["fn"], round(r["sq"], 4), round(r["rq"], 4)
    (1, 0, 1, 0.6667, 0.6667)
    """
    from ..kernels import components as KC

    p, g = np.asarray(pred_instances), np.asarray(gt_instances)
    if p.shape != g.shape:
        raise ValueError(f"shape mismatch {p.shape} vs {g.shape}")
    if not 0 <= iou_threshold < 1:
        raise ValueError(f"iou_threshold must be in [0, 1), not {iou_threshold}")
    if g.ndim == 0 or g.ndim > 3:
        g, p = g.reshape(1, -1), p.reshape(1, -1)
    gv, mg, pv, mp = _instance_views(g, p)
    gt_sizes, pred_sizes, keys, counts = KC.overlap_table(gv, pv, mg, mp)
    ng, npred = int(np.count_nonzero(gt_sizes[1:])), int(np.count_nonzero(pred_sizes[1:]))
    r = _instance_scores(_pair_table(keys, counts, mp), ng, npred, gt_sizes, pred_sizes, float(iou_threshold))
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


_ZERO_WHEN_EMPTY = frozenset(
    (
        "n_gt_lesions n_pred_lesions lesion_tp lesion_fp lesion_fn det_tp det_fp det_fn fp_vol_ml fn_vol_ml lesion_hd95"
    ).split()
)


def _both_empty(names: Sequence[str]) -> dict[str, float]:
    """Values of a class in neither mask: no lesion, no component."""
    return {n: (0.0 if n in _ZERO_WHEN_EMPTY else 1.0) for n in names}


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
    params = params if params is not None else LesionParams()
    p0 = np.asarray(pred_mask).astype(bool, copy=False)
    g0 = np.asarray(gt_mask).astype(bool, copy=False)
    box = _box(p0 | g0, params.dilation + 1)
    if box is None:
        return _both_empty(names)
    return _boxed_values(p0[box].view(np.uint8), g0[box].view(np.uint8), names, spacing_mm, params, surface)


def _boxed_values(p, g, names, spacing_mm, params: LesionParams, surface) -> dict[str, float]:
    """:func:`class_lesion_values` of masks cropped to their box grown by ``dilation + 1``
    (within the image: the crop's edge is the image's where the box reaches it).

    Both masks become runs once (two reads each); labelling, the BraTS dilation, component
    sizes, boxes and every overlap table (GT x PRED components, dilated lesions x PRED
    components, G in each lesion) work on runs, and each lesion's HD95 on its own box.
    """
    from ..kernels.layout import spatial_order

    # The per-lesion HD95's surface model is the lesion parameters' (surfel for BraTS).
    surface = replace(surface if surface is not None else SurfaceParams(), surface=params.surface)
    spacing = tuple(float(s) for s in spacing_mm)
    voxel_mm3 = float(np.prod(spacing))
    conn = _connectivity(params.connectivity, g.ndim)
    wanted = set(names)
    out: dict[str, float] = {}
    order = spatial_order(g)
    pr, gr = _Runs.of(p, order), _Runs.of(g, order)
    pred_lab, n_pred, pred_sizes = pr.label(conn)
    lesion_names = {"lesion_dice", "lesion_hd95", "lesion_tp", "lesion_fp", "lesion_fn"}
    gp = gr.pairs(pr)  # (G run, PRED run, voxels in common)
    out["n_pred_lesions"] = n_pred
    if "fp_vol_ml" in wanted:
        hit = np.zeros(n_pred + 1, bool)
        hit[pred_lab[gp[1]]] = True
        out["fp_vol_ml"] = float(pred_sizes[1:][~hit[1:]].sum()) * voxel_mm3 / 1000.0

    if wanted & {"n_gt_lesions", "det_tp", "det_fp", "det_fn", "det_f1", "pq", "sq", "rq", "fn_vol_ml"}:
        gt_lab, n_gt, gt_sizes = gr.label(conn)
        keys = gt_lab[gp[0]].astype(np.int64) * (n_pred + 1) + pred_lab[gp[1]]
        inst = _instance_scores(_pair_table(keys, gp[2], n_pred), n_gt, n_pred, gt_sizes, pred_sizes,
                                params.iou_threshold)  # fmt: skip
        out.update(n_gt_lesions=n_gt, det_tp=inst["tp"], det_fp=inst["fp"], det_fn=inst["fn"], det_f1=inst["f1"])
        out.update(pq=inst["pq"], sq=inst["sq"], rq=inst["rq"])
        if n_gt == 0 and n_pred == 0:
            out.update(det_f1=1.0, pq=1.0, sq=1.0, rq=1.0)
        if "fn_vol_ml" in wanted:
            hit = np.zeros(n_gt + 1, bool)
            hit[gt_lab[gp[0]]] = True
            out["fn_vol_ml"] = float(gt_sizes[1:][~hit[1:]].sum()) * voxel_mm3 / 1000.0

    if wanted & lesion_names:
        dr = gr.dilate(params.dilation) if params.dilation else gr
        dil_lab, n_les, _ = dr.label(conn)
        if params.dilation:  # each run of G lies in one run of its dilation: its lesion
            gi, di, _ = gr.pairs(dr)
            owner = np.zeros(gr.start.size, np.int32)
            owner[gi] = dil_lab[di]
        else:
            owner = dil_lab
        g_len = (gr.end - gr.start).astype(np.int64)
        les_vol = np.bincount(owner, weights=g_len, minlength=n_les + 1).astype(np.int64)  # lesion k = G in D_k
        inter = np.bincount(owner[gp[0]], weights=gp[2], minlength=n_les + 1).astype(np.int64)
        di, pi, _ = dr.pairs(pr)  # lesion k meets component c (through its dilation)
        li, ci, _ = _pair_table(dil_lab[di].astype(np.int64) * (n_pred + 1) + pred_lab[pi], np.ones(di.size), n_pred)
        matched = np.zeros(n_pred + 1, bool)
        matched[ci] = True
        n_fp = int(n_pred - matched[1:].sum())
        keep = les_vol[1:] * voxel_mm3 > params.volume_threshold_mm3
        starts = np.searchsorted(li, np.arange(1, n_les + 2))
        dices, hds = [], []
        n_tp = n_fn = 0
        want_hd = "lesion_hd95" in wanted
        if want_hd:
            glo, ghi = gr.boxes(owner, n_les)
            plo, phi = pr.boxes(pred_lab, n_pred)
            last = np.array(gr.shape) - 1
            chosen_les = np.zeros(n_les + 1, np.uint8)
            chosen_comp = np.zeros(n_pred + 1, np.uint8)
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
                # The box of lesion k and its components, grown by one voxel (within the
                # image) so that surfaces are those of the whole image.
                lo = np.maximum(np.minimum(glo[k], plo[comps].min(axis=0)) - 1, 0)
                hi = np.minimum(np.maximum(ghi[k], phi[comps].max(axis=0)) + 1, last)
                chosen_les[k] = 1
                chosen_comp[comps] = 1
                les = gr.mask(owner, chosen_les, lo, hi, order, g.ndim)
                pm = pr.mask(pred_lab, chosen_comp, lo, hi, order, g.ndim)
                chosen_les[k] = 0
                chosen_comp[comps] = 0
                hds.append(_lesion_hd95(pm, les, spacing, surface))
        n_kept = len(dices)
        denom = n_kept + n_fp
        out.update(lesion_tp=n_tp, lesion_fn=n_fn, lesion_fp=n_fp)
        out["lesion_dice"] = sum(dices) / denom if denom else 1.0
        if want_hd:
            out["lesion_hd95"] = (sum(hds) + n_fp * params.worst_hd95_mm) / denom if denom else 0.0
    return {n: float(out[n]) for n in names}


def _lesion_hd95(pm: np.ndarray, les: np.ndarray, spacing, surface: SurfaceParams) -> float:
    """HD95 between a lesion's matched components and the lesion (C-ordered uint8 crops)."""
    from .distance import surface_metrics

    return float(surface_metrics(pm, les, [1], spacing_mm=spacing, names=["hd95"], params=surface)["hd95"][0])


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
    whose GT is ``ignore_label`` are outside both masks. One pass over both label maps finds
    every class's box; each class's masks are made in its box only.
    """
    from .distance import _member_mask, _region_crops

    if pred.shape != gt.shape:
        raise ValueError(f"shape mismatch {pred.shape} vs {gt.shape}")
    params = params if params is not None else LesionParams()
    _connectivity(params.connectivity, gt.ndim)  # a 2-D connectivity asked of a 3-D image
    out = {n: np.full(len(classes), np.nan) for n in names}
    if not names or not len(classes):
        return out
    sets = [np.asarray([int(c)] if np.isscalar(c) else sorted({int(v) for v in c}), np.int64) for c in classes]  # type: ignore[arg-type, union-attr]
    crops = _region_crops(pred, gt, sets, ignore_label, margin=params.dilation + 1)
    for i, (members, crop) in enumerate(zip(sets, crops)):
        if crop is None:
            got = _both_empty(names)
        else:
            gc = gt[crop]
            g, p = _member_mask(gc, members), _member_mask(pred[crop], members)
            if ignore_label is not None:
                p = p & (gc != ignore_label)
            got = _boxed_values(p, g, names, spacing_mm, params, surface)
        for n in names:
            out[n][i] = got[n]
    return out


# The registry's order puts these after every earlier family whichever module is imported
# first (api imports this one for LesionParams): load the others now, then register.
_load_all()


_l = declarer("lesion", default=False)


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
