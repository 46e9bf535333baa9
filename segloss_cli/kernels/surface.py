"""Per-class bounding boxes and surface voxels of PRED and GT, straight from the label maps.

Arrays are 3-D kernel views (kernels/layout.py). Membership of a voxel in class ``c``:
GT: ``gt == c``; PRED: ``pred == c`` and GT is not the ignore label (ignored voxels are
outside both masks). A surface voxel is a member with a face neighbour that is not a member;
neighbours outside the image are not members. ``check0`` is False for 2-D images, whose
kernel view has a dummy leading axis of length 1 that must not create surfaces.
"""

import numpy as np
from numba import prange

from ._jit import borrowed, jit
from .confusion import _class_index

PRED_BIT = np.uint8(1)
GT_BIT = np.uint8(2)


@jit(parallel=True)
def class_boxes(pred, gt, lut, sorted_labels, use_lut, ignore_label, has_ignore, nchunks):
    """Bounding boxes of every class in PRED and in GT in one pass.

    Returns ``(lo, hi)``, int64 arrays of shape (2, K, 3): index 0 is PRED, 1 is GT; a class
    absent from a mask has ``lo > hi`` on every axis. Rows are walked as runs of equal
    (PRED, GT) pairs: the class lookup and box update happen once per run, not per voxel.
    """
    pred, gt, lut, sorted_labels = borrowed(pred), borrowed(gt), borrowed(lut), borrowed(sorted_labels)
    n0, n1, n2 = gt.shape
    nrows = n0 * n1
    k = sorted_labels.size
    big = np.iinfo(np.int64).max
    lo = np.full((nchunks, 2, k + 1, 3), big, np.int64)
    hi = np.full((nchunks, 2, k + 1, 3), -1, np.int64)
    for ch in prange(nchunks):
        r0 = ch * nrows // nchunks
        r1 = (ch + 1) * nrows // nchunks
        for r in range(r0, r1):
            i = r // n1
            j = r - i * n1
            lg = gt[i, j, 0]
            lp = pred[i, j, 0]
            start = 0
            for t in range(1, n2):
                g = gt[i, j, t]
                p = pred[i, j, t]
                if g == lg and p == lp:
                    continue
                _run_boxes(
                    lo, hi, ch, lg, lp, i, j, start, t - 1, lut, sorted_labels, use_lut, ignore_label, has_ignore
                )
                lg = g
                lp = p
                start = t
            _run_boxes(lo, hi, ch, lg, lp, i, j, start, n2 - 1, lut, sorted_labels, use_lut, ignore_label, has_ignore)
    out_lo = np.full((2, k, 3), big, np.int64)
    out_hi = np.full((2, k, 3), -1, np.int64)
    for ch in range(nchunks):
        for m in range(2):
            for c in range(k):
                for a in range(3):
                    out_lo[m, c, a] = min(out_lo[m, c, a], lo[ch, m, c, a])
                    out_hi[m, c, a] = max(out_hi[m, c, a], hi[ch, m, c, a])
    return out_lo, out_hi


@jit(inline="always")
def _run_boxes(lo, hi, ch, g, p, i, j, t0, t1, lut, sorted_labels, use_lut, ignore_label, has_ignore):
    k = sorted_labels.size
    gi = _class_index(g, lut, sorted_labels, use_lut)
    if gi < k:
        _grow(lo, hi, ch, 1, gi, i, j, t0, t1)
    if has_ignore and np.int64(g) == ignore_label:
        return
    pi = _class_index(p, lut, sorted_labels, use_lut)
    if pi < k:
        _grow(lo, hi, ch, 0, pi, i, j, t0, t1)


@jit(inline="always")
def _grow(lo, hi, ch, m, c, i, j, t0, t1):
    if i < lo[ch, m, c, 0]:
        lo[ch, m, c, 0] = i
    if i > hi[ch, m, c, 0]:
        hi[ch, m, c, 0] = i
    if j < lo[ch, m, c, 1]:
        lo[ch, m, c, 1] = j
    if j > hi[ch, m, c, 1]:
        hi[ch, m, c, 1] = j
    if t0 < lo[ch, m, c, 2]:
        lo[ch, m, c, 2] = t0
    if t1 > hi[ch, m, c, 2]:
        hi[ch, m, c, 2] = t1


@jit(inline="always")
def _in_pred(pred, gt, i, j, t, label, ignore_label, has_ignore):
    if np.int64(pred[i, j, t]) != label:
        return False
    return not (has_ignore and np.int64(gt[i, j, t]) == ignore_label)


@jit(inline="always")
def _in_gt(gt, i, j, t, label):
    return np.int64(gt[i, j, t]) == label


@jit(inline="always")
def _pred_surface(pred, gt, i, j, t, label, ignore_label, has_ignore, check0):
    n0, n1, n2 = gt.shape
    if check0:
        if i == 0 or i == n0 - 1:
            return True
        if not _in_pred(pred, gt, i - 1, j, t, label, ignore_label, has_ignore):
            return True
        if not _in_pred(pred, gt, i + 1, j, t, label, ignore_label, has_ignore):
            return True
    if j == 0 or j == n1 - 1 or t == 0 or t == n2 - 1:
        return True
    if not _in_pred(pred, gt, i, j - 1, t, label, ignore_label, has_ignore):
        return True
    if not _in_pred(pred, gt, i, j + 1, t, label, ignore_label, has_ignore):
        return True
    if not _in_pred(pred, gt, i, j, t - 1, label, ignore_label, has_ignore):
        return True
    return not _in_pred(pred, gt, i, j, t + 1, label, ignore_label, has_ignore)


@jit(inline="always")
def _gt_surface(gt, i, j, t, label, check0):
    n0, n1, n2 = gt.shape
    if check0:
        if i == 0 or i == n0 - 1:
            return True
        if not _in_gt(gt, i - 1, j, t, label) or not _in_gt(gt, i + 1, j, t, label):
            return True
    if j == 0 or j == n1 - 1 or t == 0 or t == n2 - 1:
        return True
    if not _in_gt(gt, i, j - 1, t, label) or not _in_gt(gt, i, j + 1, t, label):
        return True
    return not _in_gt(gt, i, j, t - 1, label) or not _in_gt(gt, i, j, t + 1, label)


@jit(parallel=True)
def surface_codes(pred, gt, label, ignore_label, has_ignore, lo0, lo1, lo2, b0, b1, b2, check0):
    """Surface codes of one class over the box ``[lo, lo + b)``: uint8 (b0, b1, b2).

    Bit ``PRED_BIT`` marks a PRED surface voxel, ``GT_BIT`` a GT surface voxel. Neighbours
    are read from the full label maps, so the box needs no margin: it must only contain every
    voxel of both masks. Also returns per-row counts of PRED and GT surface voxels
    (row = i * b1 + j) for gathering in parallel.
    """
    codes = np.zeros((b0, b1, b2), np.uint8)
    nrows = b0 * b1
    npred = np.zeros(nrows, np.int64)
    ngt = np.zeros(nrows, np.int64)
    for r in prange(nrows):
        i = r // b1
        j = r - i * b1
        gi = lo0 + i
        gj = lo1 + j
        cp = 0
        cg = 0
        for t in range(b2):
            gt_ = lo2 + t
            code = 0
            if _in_pred(pred, gt, gi, gj, gt_, label, ignore_label, has_ignore):
                if _pred_surface(pred, gt, gi, gj, gt_, label, ignore_label, has_ignore, check0):
                    code |= 1
                    cp += 1
            if _in_gt(gt, gi, gj, gt_, label):
                if _gt_surface(gt, gi, gj, gt_, label, check0):
                    code |= 2
                    cg += 1
            codes[i, j, t] = code
        npred[r] = cp
        ngt[r] = cg
    return codes, npred, ngt
