"""Exact Euclidean distance transform with anisotropic spacing (float64), one axis at a time.

Felzenszwalb & Huttenlocher (2012), "Distance transforms of sampled functions": the squared
EDT is separable; after the first axis (a two-sweep 1-D distance to the nearest site), each
further axis replaces every line by the lower envelope of parabolas
``f[q] + (x - q*s)**2``. Lines are independent, so each pass runs in parallel over lines;
every worker owns its line buffers. Positions are in mm (index * spacing), so the envelope
is exact for any spacing. Arrays are 3-D (b0, b1, b2), C-ordered; a 2-D image has b0 == 1.
"""

import numpy as np
from numba import prange, types

from ._jit import jit, one_specialisation

INF = np.inf


@jit(parallel=True)
def _first_pass(sites, bit, f, s2, nchunks):
    """f[i, j, t] = (s2 * distance along axis 2 to the nearest site)**2, inf if none."""
    b0, b1, b2 = sites.shape
    nrows = b0 * b1
    for ch in prange(nchunks):
        r0 = ch * nrows // nchunks
        r1 = (ch + 1) * nrows // nchunks
        for r in range(r0, r1):
            i = r // b1
            j = r - i * b1
            last = -1
            for t in range(b2):
                if sites[i, j, t] & bit:
                    last = t
                if last >= 0:
                    d = (t - last) * s2
                    f[i, j, t] = d * d
                else:
                    f[i, j, t] = INF
            if last < 0:
                continue
            nxt = -1
            for t in range(b2 - 1, -1, -1):
                if sites[i, j, t] & bit:
                    nxt = t
                if nxt >= 0:
                    d = (nxt - t) * s2
                    if d * d < f[i, j, t]:
                        f[i, j, t] = d * d


@jit(inline="always")
def _envelope(line, n, s, v, z, out, want):
    """Lower envelope of f[q] + (x - q s)^2 over finite f[q], sampled at x = p s into out
    for the positions p where ``want[p]`` is true."""
    k = -1
    for q in range(n):
        fq = line[q]
        if fq == INF:
            continue
        if k < 0:
            k = 0
            v[0] = q
            z[0] = -INF
            z[1] = INF
            continue
        while True:
            vk = v[k]
            # Intersection of parabolas q and v[k], written to avoid cancellation of squares;
            # index differences are taken before scaling so they stay exact.
            x = 0.5 * ((fq - line[vk]) / ((q - vk) * s) + (q + vk) * s)
            if x <= z[k]:
                k -= 1
            else:
                break
        k += 1
        v[k] = q
        z[k] = x
        z[k + 1] = INF
    if k < 0:
        for p in range(n):
            out[p] = INF
        return
    k = 0
    for p in range(n):
        if not want[p]:
            continue
        x = p * s
        while z[k + 1] < x:
            k += 1
        d = (p - v[k]) * s
        out[p] = d * d + line[v[k]]


@jit(parallel=True)
def _pass_axis0(f, s0, queries, qbit, nchunks):
    """Replace every line f[:, j, t] by its lower envelope (one FH pass along axis 0).

    Other axes are passed as transposed views. With ``qbit`` != 0 (the last pass), only
    lines holding a voxel with ``queries & qbit`` are computed, and only at those voxels:
    the caller reads nothing else.
    """
    b0, b1, b2 = f.shape
    nlines = b1 * b2
    for ch in prange(nchunks):
        l0 = ch * nlines // nchunks
        l1 = (ch + 1) * nlines // nchunks
        line = np.empty(b0, np.float64)
        out = np.empty(b0, np.float64)
        v = np.empty(b0, np.int64)
        z = np.empty(b0 + 1, np.float64)
        want = np.ones(b0, np.bool_)
        for ln in range(l0, l1):
            j = ln // b2
            t = ln - j * b2
            if qbit:
                nq = 0
                for i in range(b0):
                    w = (queries[i, j, t] & qbit) != 0
                    want[i] = w
                    nq += w
                if nq == 0:
                    continue
            for i in range(b0):
                line[i] = f[i, j, t]
            _envelope(line, b0, s0, v, z, out, want)
            for i in range(b0):
                if want[i]:
                    f[i, j, t] = out[i]


def edt_squared(sites, bit, f, s0, s1, s2, nchunks, qbit=0):
    """Squared distance (mm^2) from every voxel to the nearest voxel with ``sites & bit``.

    ``f`` (float64, the shape of ``sites``) receives the result; inf where there is no site.
    With ``qbit`` != 0 the result is exact only at the voxels with ``sites & qbit`` (the
    queries): the last pass skips everything else.
    """
    b0, b1, b2 = sites.shape
    _first_pass(sites, bit, f, s2, nchunks)
    if b1 > 1:
        # Axis 1 as axis 0 of a transposed view (no copy); lines stay in the same order.
        ft = f.transpose(1, 0, 2)
        _pass_axis0_any(ft, np.float64(s1), sites.transpose(1, 0, 2), np.uint8(0), np.int64(nchunks))
    if b0 > 1:
        _pass_axis0_any(f, np.float64(s0), sites, np.uint8(qbit), np.int64(nchunks))


# The transposed view (axis 1) and the array itself (axis 0) share one strided specialisation.
_pass_axis0_any = one_specialisation(
    _pass_axis0,
    types.Array(types.float64, 3, "A"),
    types.float64,
    types.Array(types.uint8, 3, "A", readonly=True),
    types.uint8,
    types.int64,
)


@jit(parallel=True)
def gather_sqrt(codes, bit, f, row_counts):
    """sqrt(f) at the voxels with ``codes & bit``, in raster order.

    ``row_counts[r]`` is the number of such voxels in row r = i * b1 + j (from the surface
    kernel); its prefix sums give each row's slice of the output, so rows fill in parallel.
    """
    b0, b1, b2 = codes.shape
    nrows = b0 * b1
    start = np.empty(nrows + 1, np.int64)
    start[0] = 0
    for r in range(nrows):
        start[r + 1] = start[r] + row_counts[r]
    out = np.empty(start[nrows], np.float64)
    for r in prange(nrows):
        if row_counts[r] == 0:
            continue
        i = r // b1
        j = r - i * b1
        n = start[r]
        for t in range(b2):
            if codes[i, j, t] & bit:
                out[n] = np.sqrt(f[i, j, t])
                n += 1
    return out
