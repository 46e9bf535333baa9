"""Lovasz losses, one class at a time, with one float64 key per voxel as the only extra memory.

The key of voxel i for class c is its error e_i (>= 0) with the lowest mantissa bit replaced
by g_ic (plus one uint8 per voxel while the keys are built), so a single in-place ``ndarray.sort`` orders the errors and carries the ground
truth along (the error moves by at most one ulp, 2e-16 relative). Ignored voxels get key -1
and sort first; the walk runs from the largest key down and stops there. Ties between
errors need no tie-break: the Lovasz sum over a run of equal errors telescopes to the same
value in any order.

Modes: 0 = Lovasz-Softmax error |g - p|; 1 = Lovasz hinge error max(0, 1 - s z) with
s = 2g - 1 and z the class's one-vs-rest logit.
"""

import numpy as np
from numba import prange

from ._jit import jit
from .loss_sums import _lse_others


@jit(inline="always")
def _softplus(x):
    return max(x, 0.0) + np.log1p(np.exp(-abs(x)))


@jit(parallel=True)
def lovasz_keys_scores(
    scores, gt, c, mode, logits, sigmoid, renorm, eps, ignore_label, has_ignore, keys, gbuf, nchunks
):
    """Fill ``keys`` (flat, a*b*c) with the errors and ``gbuf`` with g for class index ``c``
    of a score volume; return the number of voxels with g = 1. ``pack_keys`` then moves g
    into the keys (a separate step: writing a float and its integer view in one kernel is
    aliasing the compiler may reorder)."""
    k = scores.shape[0]
    n0, n1, n2 = gt.shape
    nrows = n0 * n1
    nfg = np.zeros(nchunks, np.int64)
    for ch in prange(nchunks):
        r0 = ch * nrows // nchunks
        r1 = (ch + 1) * nrows // nchunks
        for r in range(r0, r1):
            i = r // n1
            j = r - i * n1
            base = r * n2
            for t in range(n2):
                g = np.int64(gt[i, j, t])
                if has_ignore and g == ignore_label:
                    keys[base + t] = -1.0
                    gbuf[base + t] = 0
                    continue
                hit = 1 if g == c else 0
                nfg[ch] += hit
                # p (probability of class c), and for the hinge z = log p - log(1 - p)
                if sigmoid:
                    x = np.float64(scores[0, i, j, t])
                    if logits:
                        z = x if c == 1 else -x
                        p = np.exp(-_softplus(-z))
                    else:
                        p = x if c == 1 else 1.0 - x
                        q = 1.0 - p
                        z = np.log(max(p, eps)) - np.log(max(q, eps))
                elif logits:
                    m = -np.inf
                    for k2 in range(k):
                        v = np.float64(scores[k2, i, j, t])
                        if v > m:
                            m = v
                    s_all = 0.0
                    for k2 in range(k):
                        s_all += np.exp(np.float64(scores[k2, i, j, t]) - m)
                    xc = np.float64(scores[c, i, j, t])
                    p = np.exp(xc - m - np.log(s_all))
                    z = xc - _lse_others(scores, c, i, j, t)
                else:
                    p = np.float64(scores[c, i, j, t])
                    if renorm:
                        s = 0.0
                        for k2 in range(k):
                            s += np.float64(scores[k2, i, j, t])
                        if s > 0.0:
                            p = p / s
                    z = np.log(max(p, eps)) - np.log(max(1.0 - p, eps))
                if mode == 0:
                    err = 1.0 - p if hit else p
                    if err < 0.0:
                        err = 0.0
                else:
                    err = 1.0 - z if hit else 1.0 + z
                    if err < 0.0:
                        err = 0.0
                keys[base + t] = err
                gbuf[base + t] = hit
    return nfg.sum()


@jit(parallel=True)
def lovasz_keys_labels(pred, gt, label, mode, eps, ignore_label, has_ignore, keys, gbuf, nchunks):
    """Same as ``lovasz_keys_scores`` for a label-map PRED read as one-hot probabilities."""
    n0, n1, n2 = gt.shape
    nrows = n0 * n1
    nfg = np.zeros(nchunks, np.int64)
    zmax = np.log(1.0) - np.log(eps)  # logit of a one-hot 1 with the eps clamp
    for ch in prange(nchunks):
        r0 = ch * nrows // nchunks
        r1 = (ch + 1) * nrows // nchunks
        for r in range(r0, r1):
            i = r // n1
            j = r - i * n1
            base = r * n2
            for t in range(n2):
                g = np.int64(gt[i, j, t])
                if has_ignore and g == ignore_label:
                    keys[base + t] = -1.0
                    gbuf[base + t] = 0
                    continue
                hit = 1 if g == label else 0
                nfg[ch] += hit
                on = np.int64(pred[i, j, t]) == label
                if mode == 0:
                    err = 0.0 if (hit == 1) == on else 1.0
                else:
                    z = zmax if on else -zmax
                    err = 1.0 - z if hit else 1.0 + z
                    if err < 0.0:
                        err = 0.0
                keys[base + t] = err
                gbuf[base + t] = hit
    return nfg.sum()


def pack_keys(keys, gbuf):
    """Replace the lowest mantissa bit of each key by g, in place (numpy, no temporaries
    beyond the uint8 ``gbuf``)."""
    bits = keys.view(np.int64)
    np.bitwise_and(bits, ~np.int64(1), out=bits)
    np.bitwise_or(bits, gbuf, out=bits, casting="unsafe")


@jit()
def lovasz_walk(keys, nfg):
    """Lovasz extension of the Jaccard loss over ascending-sorted ``keys`` (Berman et al.):
    sum_i e_(i) (J_i - J_{i-1}), e_(i) descending, J_i = 1 - |G \\ top_i| / |G u top_i|."""
    bits = keys.view(np.int64)
    gts = np.float64(nfg)
    cf = 0.0
    cb = 0.0
    prev = 0.0
    loss = 0.0
    for idx in range(keys.size - 1, -1, -1):
        key = keys[idx]
        if key < 0.0:
            break
        if bits[idx] & np.int64(1):
            # the error with its low bit cleared (never above the true error, so a
            # Lovasz-Softmax of errors <= 1 stays <= 1)
            e = np.nextafter(key, 0.0)
            cf += 1.0
        else:
            e = key
            cb += 1.0
        jac = 1.0 - (gts - cf) / (gts + cb)
        loss += e * (jac - prev)
        prev = jac
    return loss
