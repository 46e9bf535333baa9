"""Label-map scans and the probability -> hard label reduction, one pass each."""

import numpy as np
from numba import prange

from ._jit import jit

PRESENCE_SIZE = 1 << 16  # label values below this are recorded in a presence table


@jit(parallel=True)
def scan_int_labels(arr, nchunks):
    """Return (present[PRESENCE_SIZE] as uint8, min, max, n_outside_table)."""
    n0, n1, n2 = arr.shape
    nrows = n0 * n1
    present = np.zeros((nchunks, PRESENCE_SIZE), np.uint8)
    mins = np.full(nchunks, np.iinfo(np.int64).max, np.int64)
    maxs = np.full(nchunks, np.iinfo(np.int64).min, np.int64)
    outside = np.zeros(nchunks, np.int64)
    for ch in prange(nchunks):
        r0 = ch * nrows // nchunks
        r1 = (ch + 1) * nrows // nchunks
        lo = mins[ch]
        hi = maxs[ch]
        for r in range(r0, r1):
            i = r // n1
            j = r - i * n1
            for t in range(n2):
                v = np.int64(arr[i, j, t])
                if v < lo:
                    lo = v
                if v > hi:
                    hi = v
                if v >= 0 and v < PRESENCE_SIZE:
                    present[ch, v] = 1
                else:
                    outside[ch] += 1
        mins[ch] = lo
        maxs[ch] = hi
    merged = np.zeros(PRESENCE_SIZE, np.uint8)
    for ch in range(nchunks):
        for v in range(PRESENCE_SIZE):
            merged[v] |= present[ch, v]
    return merged, mins.min(), maxs.max(), outside.sum()


@jit()
def collect_large_labels(arr):
    """Sorted distinct values of an integer array whose labels do not fit a table.

    Serial with a last-value shortcut: label maps are runs of equal values, so the set is
    touched only where the label changes.
    """
    seen = set()
    n0, n1, n2 = arr.shape
    last = np.int64(arr[0, 0, 0])
    seen.add(last)
    for i in range(n0):
        for j in range(n1):
            for t in range(n2):
                v = np.int64(arr[i, j, t])
                if v != last:
                    seen.add(v)
                    last = v
    out = np.empty(len(seen), np.int64)
    n = 0
    for v in seen:
        out[n] = v
        n += 1
    out.sort()
    return out


@jit(parallel=True)
def scan_float_labels(arr, nchunks):
    """Return (n_nonfinite, n_nonintegral, first_bad_value, min, max) of a float label map."""
    n0, n1, n2 = arr.shape
    nrows = n0 * n1
    nonfinite = np.zeros(nchunks, np.int64)
    nonintegral = np.zeros(nchunks, np.int64)
    bad = np.zeros(nchunks, np.float64)
    mins = np.full(nchunks, np.inf)
    maxs = np.full(nchunks, -np.inf)
    for ch in prange(nchunks):
        r0 = ch * nrows // nchunks
        r1 = (ch + 1) * nrows // nchunks
        lo = mins[ch]
        hi = maxs[ch]
        for r in range(r0, r1):
            i = r // n1
            j = r - i * n1
            for t in range(n2):
                v = np.float64(arr[i, j, t])
                if not np.isfinite(v):
                    nonfinite[ch] += 1
                    continue
                if v != np.floor(v):
                    if nonintegral[ch] == 0:
                        bad[ch] = v
                    nonintegral[ch] += 1
                if v < lo:
                    lo = v
                if v > hi:
                    hi = v
        mins[ch] = lo
        maxs[ch] = hi
    first_bad = 0.0
    for ch in range(nchunks):
        if nonintegral[ch] > 0:
            first_bad = bad[ch]
            break
    return nonfinite.sum(), nonintegral.sum(), first_bad, mins.min(), maxs.max()


@jit(parallel=True)
def scores_to_labels(scores, out, threshold, nchunks):
    """Hard labels from a (K, a, b, c) score array into ``out`` (a, b, c); one read.

    K > 1: argmax over K, ties to the lowest class (strict >). K == 1: 1 where the score is
    >= ``threshold`` (the caller passes logit(threshold) for logits). Also returns
    (n_nonfinite, min, max, max |sum_k p - 1|) so probabilities are validated in the same pass.
    """
    k, n0, n1, n2 = scores.shape
    nrows = n0 * n1
    nonfinite = np.zeros(nchunks, np.int64)
    mins = np.full(nchunks, np.inf)
    maxs = np.full(nchunks, -np.inf)
    sumdev = np.zeros(nchunks, np.float64)
    for ch in prange(nchunks):
        r0 = ch * nrows // nchunks
        r1 = (ch + 1) * nrows // nchunks
        lo = mins[ch]
        hi = maxs[ch]
        dev = 0.0
        for r in range(r0, r1):
            i = r // n1
            j = r - i * n1
            for t in range(n2):
                best = 0
                bestv = -np.inf
                total = 0.0
                finite = True
                for c in range(k):
                    v = np.float64(scores[c, i, j, t])
                    if not np.isfinite(v):
                        finite = False
                    total += v
                    if v < lo:
                        lo = v
                    if v > hi:
                        hi = v
                    if v > bestv:
                        bestv = v
                        best = c
                if not finite:
                    nonfinite[ch] += 1
                if k == 1:
                    out[i, j, t] = 1 if bestv >= threshold else 0
                else:
                    out[i, j, t] = best
                d = abs(total - 1.0)
                if d > dev:
                    dev = d
        mins[ch] = lo
        maxs[ch] = hi
        sumdev[ch] = dev
    return nonfinite.sum(), mins.min(), maxs.max(), sumdev.max()
