"""One pass over a score volume: every per-class sum the sum-based losses need, in float64.

Layout: ``scores`` is a ``(K, a, b, c)`` view (class axis first, spatial axes in memory
order, see layout.scores_kernel_4d) and ``gt`` the matching ``(a, b, c)`` label map whose
values are class indices 0..K-1 (K = 2 for a single sigmoid channel). Kernels walk one row
``(i, j, :)`` at a time and read each class's row contiguously. Nothing volume-sized is
allocated; each of a fixed number of chunks of rows has its own accumulators, merged in
chunk order at the end (the same bits whatever the thread count).

Sums (rows of the result, columns are classes):
  SPG sum p g         SP sum p          SG sum g (voxel count of the class)
  SP2 sum p^2         L1 sum_{g=1} log p            L0 sum_{g=0} log(1 - p)
  F1 sum_{g=1} (1-p)^gamma log p        F0 sum_{g=0} p^gamma log(1 - p)
Log terms: exact log-softmax / log-sigmoid for logits; log(max(p, eps)) for probabilities.

Two kernels (``loss_sums`` picks one):
  _sums_probs    probabilities with K >= 2 channels (the common case, see the section
                 below): per class row one loop that reads each p once and updates every
                 sum from registers; only the log terms ``need`` asks for are evaluated.
  _sums_general  logits (log-softmax / log-sigmoid) and a single sigmoid channel.
"""

import numpy as np
from numba import prange, types
from numba.extending import overload

from ._jit import jit
from .vmath import log_row, logf_own_other, vlog, vlogf

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
    return x**gamma


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
def _sums_general(scores, gt, logits, sigmoid, renorm, need, gamma, eps, ignore_label, has_ignore, nchunks):
    """Logits and single sigmoid channels; arguments and result as for :func:`loss_sums`."""
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


# --- probabilities (K >= 2 channels) --------------------------------------------------------
#
# Per row (i, j, :): the label row (and for --renormalize the channel sums), then one loop per
# class over its contiguous row that reads each p once and folds it into every sum from
# registers. Which loop depends on the log terms asked for:
#   PLAIN     sum p, sum p^2, sum p g, sum g                      (region losses)
#   OWN_LOGS  PLAIN, plus log p of each voxel's own class: one log per voxel, not per class,
#             gathered before the class loops and scattered to its class (ce, focal)
#   ALL_LOGS  every class row takes one log per voxel: of p on the class's own voxels, of
#             1 - p elsewhere (bce, binary_focal, combo need log(1 - p) for every class)
# Voxels that do not count (ignore label) are given p = 0 in a row copy and are nobody's own
# voxel: p = 0 adds 0 to every sum, log(1 - 0) = 0 included, so the hot loops need no
# validity test.
#
# float32 input uses the float32 logs of vmath.py (< 1 ulp: within 8.1e-8 relative, measured
# by tests/test_vmath.py; ~3x the throughput of the float64 log). Every log sum adds terms of
# one sign (all <= 0), so its relative error is at most the largest per-term relative error:
# < 2^-23 = 1.2e-7 with float64 weights and float64 accumulation, inside the 1e-6 agreement
# the project promises (MONAI and torch compute these in float32). The clamp value log(eps)
# is the float64 one. float64 input (and --renormalize, whose p is a float64 quotient) keeps
# the float64 log.


def log_clamped(p, eps, eps_lo, log_eps):
    """log(max(p, eps)) as float64 (NaN gives log eps); float32 p uses the float32 log.
    ``eps_lo`` is the largest float32 <= eps: for a float32 x, x > eps_lo is x > eps.
    Jitted code uses the overload below; this body runs under NUMBA_DISABLE_JIT."""
    if isinstance(p, np.float32):
        return np.float64(vlogf(p)) if p > eps_lo else log_eps
    return vlog(p if p > eps else eps)


def log_own_other(p, own, eps, eps_lo, log_eps):
    """log(max(p, eps)) if ``own`` else log(max(1 - p, eps)), as float64 (NaN: log eps).
    Jitted code uses the overload below; this body runs under NUMBA_DISABLE_JIT."""
    if isinstance(p, np.float32):
        arg = p if own else np.float32(1.0) - p
        return np.float64(logf_own_other(p, own)) if arg > eps_lo else log_eps
    arg = p if own else 1.0 - p
    return vlog(arg if arg > eps else eps)


@overload(log_clamped)
def _log_clamped(p, eps, eps_lo, log_eps):
    if p == types.float32:

        def impl(p, eps, eps_lo, log_eps):
            return np.float64(vlogf(p)) if p > eps_lo else log_eps
    else:

        def impl(p, eps, eps_lo, log_eps):
            return vlog(p if p > eps else eps)

    return impl


@overload(log_own_other)
def _log_own_other(p, own, eps, eps_lo, log_eps):
    if p == types.float32:

        def impl(p, own, eps, eps_lo, log_eps):
            # 1 - p is exact in float32 for p >= 1/2, so the clamp test is exact where it
            # matters; below the clamp the argument is a normal float32
            arg = p if own else np.float32(1.0) - p
            return np.float64(logf_own_other(p, own)) if arg > eps_lo else log_eps
    else:

        def impl(p, own, eps, eps_lo, log_eps):
            arg = p if own else 1.0 - p
            return vlog(arg if arg > eps else eps)

    return impl


@jit()
def _label_row(gt, i, j, lab, kk, ignore_label, has_ignore):
    """lab[t] = class index of GT voxel (i, j, t), -1 if ignored or outside 0..kk-1.
    Returns (voxels outside: neither a class nor the ignore label, voxels with lab -1)."""
    outside = 0
    skipped = 0
    for t in range(lab.size):
        g = np.int64(gt[i, j, t])
        ign = has_ignore and g == ignore_label
        bad = (g < 0 or g >= kk) and not ign
        outside += 1 if bad else 0
        skipped += 1 if (ign or bad) else 0
        lab[t] = -1 if (ign or bad) else g
    return outside, skipped


@jit()
def _renorm_row(flat, base, s0, s3, k, lab, norm):
    """norm[t] = 1 / channel sum for counted voxels (0 for ignored ones and zero sums).
    Returns how many counted voxels have a zero sum."""
    n2 = lab.size
    for t in range(n2):
        norm[t] = 0.0
    for c in range(k):
        for t in range(n2):
            norm[t] += np.float64(flat[base + c * s0 + t * s3])
    zero = 0
    for t in range(n2):
        s = norm[t]
        ok = lab[t] >= 0
        zero += 1 if (ok and not s > 0.0) else 0
        norm[t] = 1.0 / s if (ok and s > 0.0) else 0.0
    return zero


@jit()
def _gather_own(flat, base, s0, s3, lab, renorm, norm, prow, xrow):
    """Each voxel's own-class p into xrow (float input) or prow (renormalised, float64);
    1 where lab < 0 (a neutral value: those voxels are skipped)."""
    if renorm:
        for t in range(lab.size):
            prow[t] = np.float64(flat[base + max(lab[t], 0) * s0 + t * s3]) * norm[t] if lab[t] >= 0 else 1.0
    else:
        for t in range(lab.size):
            xrow[t] = flat[base + max(lab[t], 0) * s0 + t * s3] if lab[t] >= 0 else 1


@jit(fastmath={"contract"})
def _own_log_terms(x, gamma, eps, eps_lo, log_eps, lown, fown):
    """lown[t] = log p, fown[t] = (1 - p)^gamma log p for p = x[t], the own-class p.
    gamma = 2 (the default) has its own loop: a pow call would keep the loop scalar."""
    if gamma == 2.0:
        for t in range(lown.size):
            lp = log_clamped(x[t], eps, eps_lo, log_eps)
            q = 1.0 - np.float64(x[t])
            lown[t] = lp
            fown[t] = q * q * lp
    else:
        for t in range(lown.size):
            lp = log_clamped(x[t], eps, eps_lo, log_eps)
            lown[t] = lp
            fown[t] = _powg(1.0 - np.float64(x[t]), gamma) * lp


@jit()
def _scatter_own(lab, lown, fown, oacc):
    """oacc[bank, 0/1, class] += the voxel's own-class log terms. Banks cycle with t so a run
    of one class (GT is piecewise constant) is not one serial chain of dependent additions."""
    for t in range(lab.size):
        y = lab[t]
        if y >= 0:
            b = t & 3
            oacc[b, 0, y] += lown[t]
            oacc[b, 1, y] += fown[t]


# Modes (picked once from `need`): which log terms are evaluated.
PLAIN, OWN_LOGS, ALL_LOGS = 0, 1, 2


# reassoc: the float64 sums become vector partial sums (fixed order for a given build, so the
# result does not depend on the thread count). The own/other split multiplies by h = 0 or 1
# (one fused multiply-add per sum) rather than selecting (a masked move and an add).
@jit(fastmath={"reassoc", "contract"})
def _class_row(x, lab, c, all_logs, squared, gamma, eps, eps_lo, log_eps):
    """Sums of one class's row ``x`` (lab[t] == c: the class's own voxels), in the order
    SPG, SP, SG, SP2, L1, L0, F1, F0. One branch-free loop per case so each vectorises."""
    spg = 0.0
    sp = 0.0
    sg = 0.0
    sp2 = 0.0
    l1 = 0.0
    l0 = 0.0
    f1 = 0.0
    f0 = 0.0
    n = x.size
    if not all_logs:
        if squared:
            for t in range(n):
                p = np.float64(x[t])
                h = 1.0 if lab[t] == c else 0.0
                sp += p
                sp2 += p * p
                spg += p * h
                sg += h
        else:
            for t in range(n):
                p = np.float64(x[t])
                h = 1.0 if lab[t] == c else 0.0
                sp += p
                spg += p * h
                sg += h
    elif gamma == 2.0:
        for t in range(n):
            p = np.float64(x[t])
            own = lab[t] == c
            h = 1.0 if own else 0.0
            hn = 0.0 if own else 1.0
            lg = log_own_other(x[t], own, eps, eps_lo, log_eps)
            u = 1.0 - p if own else p  # focal weight u^gamma: (1 - p) on own voxels, else p
            wl = u * u * lg
            sp += p
            spg += p * h
            sg += h
            l1 += lg * h
            l0 += lg * hn
            f1 += wl * h
            f0 += wl * hn
        if squared:
            for t in range(n):
                p = np.float64(x[t])
                sp2 += p * p
    else:
        for t in range(n):
            p = np.float64(x[t])
            own = lab[t] == c
            h = 1.0 if own else 0.0
            hn = 0.0 if own else 1.0
            lg = log_own_other(x[t], own, eps, eps_lo, log_eps)
            wl = _powg(1.0 - p if own else p, gamma) * lg
            sp += p
            sp2 += p * p
            spg += p * h
            sg += h
            l1 += lg * h
            l0 += lg * hn
            f1 += wl * h
            f0 += wl * hn
    return spg, sp, sg, sp2, l1, l0, f1, f0


@jit(parallel=True)
def _sums_probs(flat, strides, k, gt, renorm, mode, squared, gamma, eps, eps_lo, ignore_label, has_ignore, nchunks):
    """Probabilities with K >= 2 channels: return (sums[N_SUMS, K], n_zero_sum, n_outside).

    ``flat`` holds the (K, a, b, c) score array as a 1-D C array with element ``strides``
    (row (c, i, j) starts at c s0 + i s1 + j s2): a 'C' row slice is what lets LLVM load a
    row with contiguous vector loads (a strided 'A' view compiles to gathers).
    """
    s0, s1, s2, s3 = strides[0], strides[1], strides[2], strides[3]
    n0, n1, n2 = gt.shape
    nrows = n0 * n1
    log_eps = np.log(eps)
    all_logs = mode == ALL_LOGS
    buf = np.zeros((nchunks, N_SUMS, k), np.float64)
    zero_sum = np.zeros(nchunks, np.int64)
    outside = np.zeros(nchunks, np.int64)
    for ch in prange(nchunks):
        lab = np.empty(n2, np.int32)
        norm = np.zeros(n2, np.float64)
        prow = np.empty(n2, np.float64)
        xrow = np.empty(n2, flat.dtype)
        lown = np.empty(n2, np.float64)
        fown = np.empty(n2, np.float64)
        oacc = np.zeros((4, 2, k), np.float64)
        acc = buf[ch]
        for r in range(ch * nrows // nchunks, (ch + 1) * nrows // nchunks):
            i = r // n1
            j = r - i * n1
            base = i * s1 + j * s2
            n_out, n_skip = _label_row(gt, i, j, lab, k, ignore_label, has_ignore)
            outside[ch] += n_out
            if renorm:
                zero_sum[ch] += _renorm_row(flat, base, s0, s3, k, lab, norm)
            if mode == OWN_LOGS:
                _gather_own(flat, base, s0, s3, lab, renorm, norm, prow, xrow)
                if renorm:
                    _own_log_terms(prow, gamma, eps, eps_lo, log_eps, lown, fown)
                else:
                    _own_log_terms(xrow, gamma, eps, eps_lo, log_eps, lown, fown)
                _scatter_own(lab, lown, fown, oacc)
            for c in range(k):
                b = base + c * s0
                if renorm:
                    # normalised p in float64 (norm is 0 on skipped voxels): the float64 log
                    # keeps log p exact near p = 1
                    for t in range(n2):
                        prow[t] = np.float64(flat[b + t * s3]) * norm[t]
                    sums = _class_row(prow, lab, c, all_logs, squared, gamma, eps, eps_lo, log_eps)
                elif s3 == 1 and n_skip == 0:
                    sums = _class_row(flat[b : b + n2], lab, c, all_logs, squared, gamma, eps, eps_lo, log_eps)
                else:
                    for t in range(n2):
                        xrow[t] = flat[b + t * s3] if lab[t] >= 0 else 0
                    sums = _class_row(xrow, lab, c, all_logs, squared, gamma, eps, eps_lo, log_eps)
                for q in range(N_SUMS):
                    acc[q, c] += sums[q]
        for b in range(4):
            for c in range(k):
                acc[L1, c] += oacc[b, 0, c]
                acc[F1, c] += oacc[b, 1, c]
    out = np.zeros((N_SUMS, k), np.float64)
    for ch in range(nchunks):
        out += buf[ch]
    return out, zero_sum.sum(), outside.sum()


def _flat_view(scores):
    """(flat, element strides) over the memory of ``scores`` without copying when its strides
    are non-negative multiples of the item size (any layout numpy or nibabel produces);
    otherwise a C-ordered copy."""
    item = scores.itemsize
    if all(s >= 0 and s % item == 0 for s in scores.strides) and scores.size:
        span = 1 + sum((n - 1) * s // item for n, s in zip(scores.shape, scores.strides))
        flat = np.lib.stride_tricks.as_strided(scores, shape=(span,), strides=(item,), writeable=False)
        return flat, np.array([s // item for s in scores.strides], np.int64)
    dense = np.ascontiguousarray(scores)
    return dense.reshape(-1), np.array([s // item for s in dense.strides], np.int64)


def loss_sums(scores, gt, logits, sigmoid, renorm, need, gamma, eps, ignore_label, has_ignore, nchunks):
    """Return (sums[N_SUMS, K'], n_zero_sum, n_outside); see the module docstring.

    ``logits``: scores are logits (softmax over K, or sigmoid when ``sigmoid``).
    ``sigmoid``: one channel holds class 1; class 0 is its complement (K' = 2).
    ``renorm``: probabilities are divided by their channel sum (``n_zero_sum`` counts voxels
    whose sum is 0, left as they are). ``n_outside`` counts GT values that are neither a
    class index nor ``ignore_label`` (the caller rejects those before calling).
    """
    if logits or sigmoid:
        return _sums_general(scores, gt, logits, sigmoid, renorm, need, gamma, eps, ignore_label, has_ignore, nchunks)
    if need & (NEED_LOG1M | NEED_F0):
        mode = ALL_LOGS
    elif need & (NEED_LOG | NEED_F1):
        mode = OWN_LOGS
    else:
        mode = PLAIN
    eps_lo = np.float32(eps)
    if eps_lo > eps:
        eps_lo = np.nextafter(eps_lo, np.float32(0))
    if mode != OWN_LOGS:
        scores, gt = _long_rows(scores, gt)
    flat, strides = _flat_view(scores)
    nchunks = max(1, min(nchunks, gt.shape[0] * gt.shape[1]))
    return _sums_probs(
        flat,
        strides,
        scores.shape[0],
        gt,
        renorm,
        mode,
        bool(need & NEED_SQ),
        float(gamma),
        float(eps),
        eps_lo,
        ignore_label,
        has_ignore,
        nchunks,
    )


# Voxels per kernel row that _long_rows aims for (32 KiB of float32 per class row).
ROW_TARGET = 8192


def _long_rows(scores, gt):
    """Views of (K, a, b, c) scores and (a, b, c) GT with m consecutive rows merged into one
    (b rows of c voxels -> b/m rows of m c) where both are contiguous across rows, m c <=
    ROW_TARGET. Sums do not depend on where rows end, and each class row costs a call, a
    slice and a reduction of its vector accumulators: 512-voxel rows spent ~5% of the time
    there. (OWN_LOGS keeps short rows: its per-voxel gather across the K class rows wants
    them in L1.)
    """
    k, a, b, c = scores.shape
    item, gitem = scores.itemsize, gt.itemsize
    if c >= ROW_TARGET or not (
        scores.strides[3] == item
        and scores.strides[2] == c * item
        and gt.strides[2] == gitem
        and gt.strides[1] == c * gitem
    ):
        return scores, gt
    m = max(d for d in range(1, b + 1) if b % d == 0 and d * c <= ROW_TARGET)
    if m == 1:
        return scores, gt
    s0, s1, s2, _ = scores.strides
    scores = np.lib.stride_tricks.as_strided(scores, (k, a, b // m, m * c), (s0, s1, s2 * m, item), writeable=False)
    if gt.flags.c_contiguous:
        gt = gt.reshape(a, b // m, m * c)
    else:
        g0, g1, _ = gt.strides
        gt = np.lib.stride_tricks.as_strided(gt, (a, b // m, m * c), (g0, g1 * m, gitem), writeable=False)
    return scores, gt
