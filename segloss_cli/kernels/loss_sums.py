"""One pass over a score volume: every per-class sum the sum-based losses need, in float64.

Layout: ``scores`` is a ``(K, a, b, c)`` view (class axis first, spatial axes in memory
order, see layout.scores_kernel_4d) and ``gt`` the matching ``(a, b, c)`` label map whose
values are class indices 0..K-1 (K = 2 for a single sigmoid channel). The kernel walks
one row ``(i, j, :)`` at a time: the per-voxel normaliser (log-sum-exp for logits, the
channel sum for ``renorm``) is built in a row buffer, then each class's row is read
contiguously and folded into a handful of scalar accumulators. Nothing volume-sized is
allocated; each chunk of rows has its own accumulator row, merged serially at the end.

Sums (rows of the result, columns are classes):
  SPG sum p g         SP sum p          SG sum g (voxel count of the class)
  SP2 sum p^2         L1 sum_{g=1} log p            L0 sum_{g=0} log(1 - p)
  F1 sum_{g=1} (1-p)^gamma log p        F0 sum_{g=0} p^gamma log(1 - p)
Log terms: exact log-softmax / log-sigmoid for logits; log(max(p, eps)) for probabilities.
For probabilities each class row gets one log per voxel, of max(p, eps) where the voxel is
of that class and of max(1 - p, eps) elsewhere, computed by vmath.log_row (a branch-free
fdlibm log that LLVM vectorises; np.log would be a scalar libm call per voxel).
"""

import numpy as np
from numba import prange

from ._jit import jit
from .vmath import log_row

SPG, SP, SG, SP2, L1, L0, F1, F0 = range(8)
N_SUMS = 8

# Bits of ``need``: only the terms asked for are evaluated (logs dominate the cost).
NEED_SQ = 1
NEED_LOG = 2
NEED_LOG1M = 4
NEED_F1 = 8
NEED_F0 = 16


@jit(inline="always")
def _powg(x, gamma):
    if gamma == 2.0:
        return x * x
    if gamma == 1.0:
        return x
    if gamma == 0.0:
        return 1.0
    return x ** gamma


@jit(inline="always")
def _softplus(x):
    # log(1 + exp(x)) without overflow
    return max(x, 0.0) + np.log1p(np.exp(-abs(x)))


@jit(inline="always")
def _lse_others(scores, c, i, j, t):
    """log sum_{k != c} exp(x_k) at one voxel, shifted by its own max (finite for +-1e4)."""
    m = -np.inf
    for k2 in range(scores.shape[0]):
        if k2 != c:
            v = np.float64(scores[k2, i, j, t])
            if v > m:
                m = v
    s = 0.0
    for k2 in range(scores.shape[0]):
        if k2 != c:
            s += np.exp(np.float64(scores[k2, i, j, t]) - m)
    return m + np.log(s)


# reassoc/contract only: lets the plain sums vectorise; no NaN/Inf assumptions
@jit(parallel=True, fastmath={"reassoc", "contract"})
def loss_sums(scores, gt, logits, sigmoid, renorm, need, gamma, eps, ignore_label, has_ignore, nchunks):
    """Return (sums[N_SUMS, K'], n_zero_sum, n_outside).

    ``logits``: scores are logits (softmax over K, or sigmoid when ``sigmoid``).
    ``sigmoid``: one channel holds class 1; class 0 is its complement (K' = 2).
    ``renorm``: probabilities are divided by their channel sum (``n_zero_sum`` counts voxels
    whose sum is 0, left as they are). ``n_outside`` counts GT values that are neither a
    class index nor ``ignore_label`` (the caller rejects those before calling).
    """
    k = scores.shape[0]
    kk = 2 if sigmoid else k
    n0, n1, n2 = gt.shape
    nrows = n0 * n1
    width = kk + 8
    buf = np.zeros((nchunks, N_SUMS, width), np.float64)
    zero_sum = np.zeros(nchunks, np.int64)
    outside = np.zeros(nchunks, np.int64)
    need_sq = (need & NEED_SQ) != 0
    need_log = (need & NEED_LOG) != 0
    need_l1m = (need & NEED_LOG1M) != 0
    need_f1 = (need & NEED_F1) != 0
    need_f0 = (need & NEED_F0) != 0
    need_any_log = need_log or need_l1m or need_f1 or need_f0
    for ch in prange(nchunks):
        r0 = ch * nrows // nchunks
        r1 = (ch + 1) * nrows // nchunks
        lab = np.empty(n2, np.int64)
        norm = np.empty(n2, np.float64)  # lse (logits) or 1/sum (renorm)
        mx = np.empty(n2, np.float64)
        prow = np.empty(n2, np.float64)
        l1c = np.zeros(kk, np.float64)
        f1c = np.zeros(kk, np.float64)
        qrow = np.empty(n2, np.float64)
        xrow = np.empty(n2, np.float64)
        lrow = np.empty(n2, np.float64)
        valid = np.empty(n2, np.float64)
        for r in range(r0, r1):
            i = r // n1
            j = r - i * n1
            for t in range(n2):
                g = np.int64(gt[i, j, t])
                valid[t] = 0.0
                if has_ignore and g == ignore_label:
                    lab[t] = -1
                elif g < 0 or g >= kk:
                    lab[t] = -1
                    outside[ch] += 1
                else:
                    lab[t] = g
                    valid[t] = 1.0
            if logits and not sigmoid:
                for t in range(n2):
                    mx[t] = -np.inf
                for c in range(k):
                    for t in range(n2):
                        x = np.float64(scores[c, i, j, t])
                        if x > mx[t]:
                            mx[t] = x
                for t in range(n2):
                    norm[t] = 0.0
                for c in range(k):
                    for t in range(n2):
                        norm[t] += np.exp(np.float64(scores[c, i, j, t]) - mx[t])
                for t in range(n2):
                    norm[t] = mx[t] + np.log(norm[t])
            elif renorm and not sigmoid:
                for t in range(n2):
                    norm[t] = 0.0
                for c in range(k):
                    for t in range(n2):
                        norm[t] += np.float64(scores[c, i, j, t])
                for t in range(n2):
                    s = norm[t]
                    if s > 0.0:
                        norm[t] = valid[t] / s
                    else:
                        norm[t] = 0.0
                        if lab[t] >= 0:
                            zero_sum[ch] += 1
            for c in range(kk):
                # 1) p of this class along the row (0 for ignored voxels)
                if sigmoid:
                    for t in range(n2):
                        x = np.float64(scores[0, i, j, t])
                        if logits:
                            z = x if c == 1 else -x
                            prow[t] = np.exp(-_softplus(-z))
                        else:
                            prow[t] = x if c == 1 else 1.0 - x
                        if lab[t] < 0:
                            prow[t] = 0.0
                elif logits:
                    for t in range(n2):
                        prow[t] = np.exp(np.float64(scores[c, i, j, t]) - norm[t]) * valid[t]
                elif renorm:
                    for t in range(n2):
                        prow[t] = np.float64(scores[c, i, j, t]) * norm[t]
                else:
                    for t in range(n2):
                        prow[t] = np.float64(scores[c, i, j, t]) * valid[t]
                # 2) the plain sums, branch-free so the loop vectorises
                spg = 0.0
                sp = 0.0
                sg = 0.0
                sp2 = 0.0
                if need_sq:
                    for t in range(n2):
                        p = prow[t]
                        h = 1.0 if lab[t] == c else 0.0
                        sp += p
                        spg += p * h
                        sg += h
                        sp2 += p * p
                else:
                    for t in range(n2):
                        p = prow[t]
                        h = 1.0 if lab[t] == c else 0.0
                        sp += p
                        spg += p * h
                        sg += h
                buf[ch, SPG, c] += spg
                buf[ch, SP, c] += sp
                buf[ch, SG, c] += sg
                buf[ch, SP2, c] += sp2
                if not logits:
                    # probabilities: one vectorised log per voxel and class covers both
                    # log p (voxels of class c) and log(1 - p) (the others)
                    if not need_any_log:
                        continue
                    # qrow = 1 - p; for a sigmoid's class 0 the stored score, exactly
                    if sigmoid and c == 0:
                        for t in range(n2):
                            qrow[t] = np.float64(scores[0, i, j, t])
                    else:
                        for t in range(n2):
                            qrow[t] = 1.0 - prow[t]
                    for t in range(n2):
                        p = prow[t]
                        q = qrow[t]
                        a = p if p > eps else eps
                        b = q if q > eps else eps
                        xrow[t] = a if lab[t] == c else b
                    log_row(xrow, lrow, n2)
                    l1 = 0.0
                    l0 = 0.0
                    f1 = 0.0
                    f0 = 0.0
                    for t in range(n2):
                        h = 1.0 if lab[t] == c else 0.0
                        w = valid[t] - h
                        lx = lrow[t]
                        l1 += h * lx
                        l0 += w * lx
                    if need_f1 or need_f0:
                        # focal weights (1 - p)^gamma (own class) and p^gamma (others)
                        if gamma == 2.0:
                            for t in range(n2):
                                q = qrow[t]
                                p = prow[t]
                                xrow[t] = q * q if lab[t] == c else p * p
                        else:
                            for t in range(n2):
                                xrow[t] = _powg(qrow[t] if lab[t] == c else prow[t], gamma)
                        for t in range(n2):
                            h = 1.0 if lab[t] == c else 0.0
                            wl = xrow[t] * lrow[t]
                            f1 += h * wl
                            f0 += (valid[t] - h) * wl
                    buf[ch, L1, c] += l1
                    buf[ch, L0, c] += l0
                    buf[ch, F1, c] += f1
                    buf[ch, F0, c] += f0
                    continue
                if not (need_l1m or need_f0):
                    continue
                # 3) logits: log(1 - p) terms on the voxels that are not of class c (the
                # log p terms of the voxels of class c are gathered once per voxel below)
                l0 = 0.0
                f0 = 0.0
                for t in range(n2):
                    y = lab[t]
                    if y < 0:
                        continue
                    p = prow[t]
                    if y == c:
                        continue
                    else:
                        if sigmoid:
                            x = np.float64(scores[0, i, j, t])
                            lq = -_softplus(x if c == 1 else -x)
                        elif p < 0.5:
                            lq = np.log1p(-p)
                        else:
                            # 1 - p is the mass of the other classes: sum it directly
                            # instead of cancelling against p
                            lq = _lse_others(scores, c, i, j, t) - norm[t]
                        l0 += lq
                        if need_f0:
                            f0 += _powg(p, gamma) * lq
                buf[ch, L0, c] += l0
                buf[ch, F0, c] += f0
            # 4) logits: log p of each voxel's own class, one gather per voxel instead of
            # a pass per class
            if logits and (need_log or need_f1):
                for t in range(n2):
                    y = lab[t]
                    if y < 0:
                        continue
                    if sigmoid:
                        x = np.float64(scores[0, i, j, t])
                        z = x if y == 1 else -x
                        lp = -_softplus(-z)
                        q = np.exp(-_softplus(z))
                    else:
                        lp = np.float64(scores[y, i, j, t]) - norm[t]
                        q = -np.expm1(lp)
                    l1c[y] += lp
                    if need_f1:
                        f1c[y] += _powg(q, gamma) * lp
        for c in range(kk):
            buf[ch, L1, c] += l1c[c]
            buf[ch, F1, c] += f1c[c]
    out = np.zeros((N_SUMS, kk), np.float64)
    for ch in range(nchunks):
        for q_ in range(N_SUMS):
            for c in range(kk):
                out[q_, c] += buf[ch, q_, c]
    return out, zero_sum.sum(), outside.sum()
