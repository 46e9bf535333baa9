"""Shape metrics (issue 17), per class on the binary masks of PRED and GT: boundary IoU
(Cheng et al. 2021), clDice (Shit et al. 2021, 2-D) and the distance between the centres of
mass. Opt-in (group ``shape``).

Masks: a voxel is in class c when its label is c (a region: one of its labels); voxels whose
GT is the ignore label are in neither mask.
"""

from __future__ import annotations

import math
from typing import Optional

import numpy as np

from .registry import declarer

BOUNDARY_IOU_RATIO = 0.02  # the reference's dilation_ratio


def boundary_width(shape, ratio: float) -> int:
    """The band width d in voxels: round(ratio x image diagonal in voxels), at least 1 (the
    reference ``mask_to_boundary``: ``int(round(dilation_ratio * img_diag))``, Python rounding)."""
    diag = math.sqrt(sum(int(n) ** 2 for n in shape))
    return max(1, int(round(ratio * diag)))


def _crop(a: np.ndarray, b: np.ndarray):
    """The bounding box of a | b (None when both are empty)."""
    any_ = a | b
    if not any_.any():
        return None
    box = []
    for axis in range(any_.ndim):
        other = tuple(k for k in range(any_.ndim) if k != axis)
        hit = np.flatnonzero(any_.any(axis=other))
        box.append(slice(int(hit[0]), int(hit[-1]) + 1))
    return tuple(box)


def mask_boundary(mask: np.ndarray, d: int) -> np.ndarray:
    """The voxels of ``mask`` within chessboard distance d of a voxel outside it, outside the
    image included: ``mask - erode(mask, 3x3(x3) ones, iterations=d)`` of the reference."""
    from ..kernels.shape import erode_cube

    m3 = mask.reshape((1,) * (3 - mask.ndim) + mask.shape).astype(np.uint8)
    return ((m3 > 0) & ~(erode_cube(m3, d, mask.ndim) > 0)).reshape(mask.shape)


def boundary_iou(pred: np.ndarray, gt: np.ndarray, *, ratio: float = BOUNDARY_IOU_RATIO) -> float:
    """Boundary IoU of two binary masks: |B(P) & B(G)| / |B(P) | B(G)|, B(M) = mask_boundary(M, d),
    d = boundary_width(shape, ratio) (bowenc0221/boundary-iou-api ``boundary_iou``). NaN when
    both masks are empty.

    Examples
    --------
    >>> import numpy as np
    >>> g = np.zeros((10, 10), bool); g[2:8, 2:8] = True
    >>> p = np.zeros((10, 10), bool); p[3:8, 2:8] = True
    >>> round(boundary_iou(p, g, ratio=0.05), 4)  # d = 1: rings of 20 and 18 voxels, 14 shared
    0.5833
    """
    d = boundary_width(pred.shape, ratio)
    # The erosion of a mask only reads its own voxels (outside is 0 either way), so a crop to
    # the bounding box of both masks gives the same bands.
    box = _crop(pred, gt)
    if box is None:
        return float("nan")
    bp, bg = mask_boundary(pred[box], d), mask_boundary(gt[box], d)
    union = int(np.count_nonzero(bp | bg))
    return float(np.count_nonzero(bp & bg)) / union if union else float("nan")


def com_distance(pred: np.ndarray, gt: np.ndarray, *, spacing_mm) -> float:
    """Euclidean distance (mm) between the centroids of two binary masks, a voxel at index i
    sitting at i x spacing; NaN when either is empty.

    Examples
    --------
    >>> import numpy as np
    >>> g = np.zeros((4, 6), bool); g[0, 0] = True
    >>> p = np.zeros((4, 6), bool); p[0, 4:6] = True
    >>> com_distance(p, g, spacing_mm=(1.0, 2.0))
    9.0
    """
    if not pred.any() or not gt.any():
        return float("nan")
    s = np.asarray(spacing_mm, dtype=np.float64)
    cp = np.array([np.mean(ix) for ix in np.nonzero(pred)]) * s
    cg = np.array([np.mean(ix) for ix in np.nonzero(gt)]) * s
    return float(np.sqrt(np.sum((cp - cg) ** 2)))


def cldice(pred: np.ndarray, gt: np.ndarray) -> float:
    """clDice (Shit et al. 2021; MetricsReloaded centreline_dsc): 2 Tprec Tsens / (Tprec + Tsens),
    Tprec = |S(P) & G| / |S(P)|, Tsens = |S(G) & P| / |S(G)|, S the skeleton of
    skimage.morphology.skeletonize: Zhang-Suen for 2-D masks, Lee et al. (1994) thinning for
    3-D (kernels/skeleton3d.py). Empty cases as MetricsReloaded: 1 when both masks are empty,
    NaN when one is (its skeleton is empty); 0 when both ratios are 0 (MetricsReloaded: NaN).

    Examples
    --------
    >>> import numpy as np
    >>> g = np.zeros((7, 9), bool); g[2:5, 1:8] = True  # a bar 3 pixels thick
    >>> p = np.zeros((7, 9), bool); p[3, 1:5] = True  # half its centre line
    >>> round(cldice(p, g), 4)  # Tprec 1; the bar's skeleton has 6 pixels, 4 in P
    0.8
    """
    from ..kernels.shape import skeletonize_2d
    from ..kernels.skeleton3d import skeletonize_3d

    if pred.ndim not in (2, 3):
        return float("nan")
    if not pred.any() and not gt.any():
        return 1.0  # MetricsReloaded: both empty, the best value
    skeleton = skeletonize_2d if pred.ndim == 2 else skeletonize_3d
    sp, sg = skeleton(pred), skeleton(gt)
    n_sp, n_sg = int(np.count_nonzero(sp)), int(np.count_nonzero(sg))
    if n_sp == 0 or n_sg == 0:
        return float("nan")
    tprec = np.count_nonzero(sp & gt) / n_sp
    tsens = np.count_nonzero(sg & pred) / n_sg
    return 0.0 if tprec + tsens == 0 else float(2 * tprec * tsens / (tprec + tsens))


def shape_metrics(
    pred: np.ndarray,
    gt: np.ndarray,
    classes,
    *,
    names,
    spacing_mm,
    boundary_iou_ratio: float = BOUNDARY_IOU_RATIO,
    ignore_label: Optional[int] = None,
) -> dict[str, np.ndarray]:
    """``{metric: values}`` for each class of ``classes`` (a label, or a collection of labels
    for a region), NaN where a metric is undefined (the empty rule then applies)."""
    valid = None if ignore_label is None else gt != ignore_label
    out = {n: np.full(len(classes), np.nan) for n in names}
    for i, c in enumerate(classes):
        members = np.asarray(sorted({int(v) for v in c}) if not isinstance(c, (int, np.integer)) else [int(c)])
        pm, gm = np.isin(pred, members), np.isin(gt, members)
        if valid is not None:
            pm &= valid
            gm &= valid
        if "boundary_iou" in out:
            out["boundary_iou"][i] = boundary_iou(pm, gm, ratio=boundary_iou_ratio)
        if "cldice" in out:
            out["cldice"][i] = cldice(pm, gm)
        if "com_distance" in out:
            out["com_distance"][i] = com_distance(pm, gm, spacing_mm=spacing_mm)
    return out


_sh = declarer("shape", default=False)


_sh(
    "boundary_iou",
    "|B(P) & B(G)| / |B(P) | B(G)|, B(M) = voxels of M within chessboard distance d of its outside",
    "similarity",
    0,
    1,
    True,
    "Boundary IoU (Cheng et al. 2021); d = round(--boundary-iou-ratio x image diagonal) voxels, >= 1",
)
_sh(
    "cldice",
    "2 Tprec Tsens / (Tprec + Tsens), Tprec = |S(P) & G|/|S(P)|, Tsens = |S(G) & P|/|S(G)|",
    "ratio",
    0,
    1,
    True,
    "Centreline Dice (Shit et al. 2021), S the skeleton of skimage's skeletonize (Zhang-Suen in 2-D, "
    "Lee 1994 in 3-D); both empty 1, one empty null",
    aliases=("cl_dice", "centreline_dice"),
)
_sh(
    "com_distance",
    "|centroid(P) - centroid(G)| in mm",
    "distance",
    0,
    float("inf"),
    False,
    "Distance between the centres of mass of PRED and GT",
    unit="mm",
)
