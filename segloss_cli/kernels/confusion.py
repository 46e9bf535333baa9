"""One pass over PRED and GT: per-class TP, |PRED|, |GT| for every class at once.

Class lookup: a table indexed by label value when the largest class label is small (the
usual case), else a binary search over the sorted class labels, so a label like 2**31-1
never allocates a table sized by its value. Each chunk of rows counts into its own buffer;
buffers are merged serially at the end (no atomics, deterministic).
"""

import numpy as np
from numba import prange

from ._jit import jit

LUT_MAX = 1 << 16  # largest class label served by a lookup table


@jit(inline="always")
def _class_index(value, lut, sorted_labels, use_lut):
    v = np.int64(value)
    k = sorted_labels.size
    if use_lut:
        if v >= 0 and v < lut.size:
            return lut[v]
        return k
    i = np.searchsorted(sorted_labels, v)
    if i < k and sorted_labels[i] == v:
        return i
    return k


@jit(parallel=True)
def confusion_counts(pred, gt, lut, sorted_labels, use_lut, ignore_label, has_ignore, nchunks):
    """Return (counts[3, K+1], n_ignored).

    counts[0, c] = TP, counts[1, c] = |PRED == c|, counts[2, c] = |GT == c| over voxels whose
    GT is not ``ignore_label``; slot K gathers labels outside the class set.
    """
    n0, n1, n2 = gt.shape
    nrows = n0 * n1
    k = sorted_labels.size
    width = k + 8  # padding keeps chunk buffers off each other's cache lines
    buf = np.zeros((nchunks, 3, width), np.int64)
    ignored = np.zeros(nchunks, np.int64)
    for ch in prange(nchunks):
        r0 = ch * nrows // nchunks
        r1 = (ch + 1) * nrows // nchunks
        for r in range(r0, r1):
            i = r // n1
            j = r - i * n1
            for t in range(n2):
                g = gt[i, j, t]
                if has_ignore and np.int64(g) == ignore_label:
                    ignored[ch] += 1
                    continue
                gi = _class_index(g, lut, sorted_labels, use_lut)
                pi = _class_index(pred[i, j, t], lut, sorted_labels, use_lut)
                buf[ch, 1, pi] += 1
                buf[ch, 2, gi] += 1
                if gi == pi:
                    buf[ch, 0, gi] += 1
    out = np.zeros((3, k + 1), np.int64)
    for ch in range(nchunks):
        for q in range(3):
            for c in range(k + 1):
                out[q, c] += buf[ch, q, c]
    return out, ignored.sum()
