"""Surface distances whose cost follows the surfaces, not the bounding box.

Three kernels, used per class by metrics/distance.py (which picks between them and the dense
EDT of kernels/edt.py with a cost estimate):

``surface_points``
    Surface voxels of PRED and GT of many classes in one pass over a region of the label maps,
    as flat indices of the 3-D kernel view (raster order) grouped by class. Same definition as
    kernels/surface.py (``_pred_surface`` / ``_gt_surface``).
``near_search``
    For each query voxel, the nearest site among the voxels within a small ball (offsets
    sorted by their distance), read from a uint8 code box: the first hit is the exact nearest
    site. Queries with no site in the ball are left for an exact global method.
``sparse_edt``
    Exact squared distances from a list of query voxels to a list of site voxels with the
    separable lower-envelope scheme of kernels/edt.py, evaluated only where it is needed.
    Axes are permuted to (a, b, c). Rows (a, b) of sites are kept as sorted lists along c, so
    the first pass is a pointer walk; for each c holding a query, the second pass builds, in
    every site plane a, the lower envelope of the rows' parabolas along b and reads it only at
    the query columns (b, c); the third pass takes the minimum along a over the site planes
    (or their lower envelope when a column holds many queries). Work is
    ``|c with queries| * |site rows| + |site planes| * |query columns|``; no array of the box.

Distances are ``(da*sa)**2 + ((db*sb)**2 + (dc*sc)**2)`` with the index differences taken
before scaling, as in kernels/edt.py, so the paths agree to rounding of the last bit.
"""

import numpy as np
from numba import prange

from . import edt as E
from ._jit import borrowed, jit
from .confusion import lower_bound

INF = np.inf


# --- surfaces of many classes in one pass ------------------------------------------------------


@jit(inline="always")
def _cls(value, lut, sorted_labels, use_lut, active):
    """Class index of a label value when that class is active, else -1."""
    v = np.int64(value)
    k = sorted_labels.size
    if use_lut:
        if v < 0 or v >= lut.size:
            return -1
        c = lut[v]
    else:
        c = lower_bound(sorted_labels, 0, k, v)
        if c >= k or sorted_labels[c] != v:
            return -1
    if c >= k or not active[c]:
        return -1
    return c


@jit(inline="always")
def _voxel(pred, gt, i, j, t, lut, sorted_labels, use_lut, active, ign, has_ignore, check0):
    """(PRED class, GT class) of which voxel (i, j, t) is a surface voxel; -1 for none."""
    n0, n1, n2 = gt.shape
    g = gt[i, j, t]
    border = (j == 0 or j == n1 - 1 or t == 0 or t == n2 - 1) or (check0 and (i == 0 or i == n0 - 1))
    gs = -1
    gc = _cls(g, lut, sorted_labels, use_lut, active)
    if gc >= 0:
        if border or gt[i, j - 1, t] != g or gt[i, j + 1, t] != g or gt[i, j, t - 1] != g or gt[i, j, t + 1] != g:
            gs = gc
        elif check0 and (gt[i - 1, j, t] != g or gt[i + 1, j, t] != g):
            gs = gc
    ps = -1
    if has_ignore and np.int64(g) == ign:
        return ps, gs
    p = pred[i, j, t]
    pc = _cls(p, lut, sorted_labels, use_lut, active)
    if pc < 0:
        return ps, gs
    if border:
        return pc, gs
    if pred[i, j - 1, t] != p or pred[i, j + 1, t] != p or pred[i, j, t - 1] != p or pred[i, j, t + 1] != p:
        return pc, gs
    if check0 and (pred[i - 1, j, t] != p or pred[i + 1, j, t] != p):
        return pc, gs
    if has_ignore:
        if (
            np.int64(gt[i, j - 1, t]) == ign
            or np.int64(gt[i, j + 1, t]) == ign
            or np.int64(gt[i, j, t - 1]) == ign
            or np.int64(gt[i, j, t + 1]) == ign
        ):
            return pc, gs
        if check0 and (np.int64(gt[i - 1, j, t]) == ign or np.int64(gt[i + 1, j, t]) == ign):
            return pc, gs
    return ps, gs


@jit(parallel=True)
def surface_points(pred, gt, lut, sorted_labels, use_lut, active, ign, has_ignore, check0, lo0, lo1, lo2, b0, b1, b2):
    """Surface voxels of the active classes inside the region ``[lo, lo + b)``.

    Returns ``(p_start, p_flat, g_start, g_flat)``: the PRED surface voxels of class index
    ``c`` are ``p_flat[p_start[c]:p_start[c + 1]]``, flat indices ``(i * n1 + j) * n2 + t``
    of the full kernel view in raster order; likewise GT. The region must hold every voxel
    of the active classes' masks; neighbours are read from the full maps. Rows are counted,
    then filled (each row's slice known from the counts), then grouped by class (stable).
    """
    pred, gt, lut, sorted_labels, active = (
        borrowed(pred),
        borrowed(gt),
        borrowed(lut),
        borrowed(sorted_labels),
        borrowed(active),
    )
    n0, n1, n2 = gt.shape
    k = sorted_labels.size
    nrows = b0 * b1
    cnt_p = np.zeros(nrows, np.int64)
    cnt_g = np.zeros(nrows, np.int64)
    sp = np.zeros(nrows + 1, np.int64)
    sg = np.zeros(nrows + 1, np.int64)
    tmp_pf = np.empty(0, np.int64)
    tmp_pc = np.empty(0, np.int32)
    tmp_gf = np.empty(0, np.int64)
    tmp_gc = np.empty(0, np.int32)
    # Phase 0 counts each row's surface voxels, phase 1 writes them at the row's offset. One
    # loop body for both: _voxel is inlined once (each inlined copy costs compile time).
    for phase in range(2):
        fill = phase == 1
        for r in prange(nrows):
            if fill and cnt_p[r] == 0 and cnt_g[r] == 0:
                continue
            i = lo0 + r // b1
            j = lo1 + r % b1
            base = (i * n1 + j) * n2
            cp = sp[r]
            cg = sg[r]
            for t in range(lo2, lo2 + b2):
                ps, gs = _voxel(pred, gt, i, j, t, lut, sorted_labels, use_lut, active, ign, has_ignore, check0)
                if ps >= 0:
                    if fill:
                        tmp_pf[cp] = base + t
                        tmp_pc[cp] = ps
                    cp += 1
                if gs >= 0:
                    if fill:
                        tmp_gf[cg] = base + t
                        tmp_gc[cg] = gs
                    cg += 1
            if not fill:
                cnt_p[r] = cp
                cnt_g[r] = cg
        if not fill:
            for r in range(nrows):
                sp[r + 1] = sp[r] + cnt_p[r]
                sg[r + 1] = sg[r] + cnt_g[r]
            tmp_pf = np.empty(sp[nrows], np.int64)
            tmp_pc = np.empty(sp[nrows], np.int32)
            tmp_gf = np.empty(sg[nrows], np.int64)
            tmp_gc = np.empty(sg[nrows], np.int32)
    p_start, p_flat = _group(tmp_pf, tmp_pc, k)
    g_start, g_flat = _group(tmp_gf, tmp_gc, k)
    return p_start, p_flat, g_start, g_flat


@jit()
def _group(flat, cls, k):
    """Stable counting sort of ``flat`` by ``cls``: (start offsets of k + 1, sorted values)."""
    start = np.zeros(k + 1, np.int64)
    for x in range(cls.size):
        start[cls[x] + 1] += 1
    for c in range(k):
        start[c + 1] += start[c]
    pos = start[:k].copy()
    out = np.empty(flat.size, np.int64)
    for x in range(flat.size):
        c = cls[x]
        out[pos[c]] = flat[x]
        pos[c] += 1
    return start, out


@jit(inline="always")
def _ijt(f, n1, n2):
    """(i, j, t) of the flat kernel index (i * n1 + j) * n2 + t, with two divisions."""
    q = f // n2
    i = q // n1
    return i, q - i * n1, f - q * n2


# --- code box, nearby search ---------------------------------------------------------------------


@jit()
def scatter_codes(codes, p_flat, g_flat, n1, n2, lo0, lo1, lo2, pbit, gbit):
    """Set ``pbit`` at PRED and ``gbit`` at GT surface voxels of a zeroed uint8 code box."""
    for x in range(p_flat.size):
        i, j, t = _ijt(p_flat[x], n1, n2)
        codes[i - lo0, j - lo1, t - lo2] |= pbit
    for x in range(g_flat.size):
        i, j, t = _ijt(g_flat[x], n1, n2)
        codes[i - lo0, j - lo1, t - lo2] |= gbit
    return codes


@jit(parallel=True)
def codes_to_flat(codes, bit, row_counts, n1, n2, lo0, lo1, lo2):
    """Flat kernel indices of the voxels with ``codes & bit``, raster order (rows in parallel)."""
    b0, b1, b2 = codes.shape
    nrows = b0 * b1
    start = np.empty(nrows + 1, np.int64)
    start[0] = 0
    for r in range(nrows):
        start[r + 1] = start[r] + row_counts[r]
    out = np.empty(start[nrows], np.int64)
    for r in prange(nrows):
        if row_counts[r] == 0:
            continue
        i = r // b1
        j = r - i * b1
        n = start[r]
        base = ((lo0 + i) * n1 + lo1 + j) * n2 + lo2
        for t in range(b2):
            if codes[i, j, t] & bit:
                out[n] = base + t
                n += 1
    return out


@jit()
def clear_codes(codes, flat, n1, n2, lo0, lo1, lo2):
    """Zero the code box at the given voxels (to reuse it for the next class)."""
    for x in range(flat.size):
        i, j, t = _ijt(flat[x], n1, n2)
        codes[i - lo0, j - lo1, t - lo2] = 0


@jit(parallel=True)
def near_search(codes, bit, q_flat, n1, n2, lo0, lo1, lo2, o0, o1, o2, od2, nchunks):
    """Squared distance from each query to the nearest site within the offset ball, or -1.

    ``o0, o1, o2`` are voxel offsets sorted by their squared distance ``od2`` (mm^2): the
    first offset that lands on a voxel with ``codes & bit`` is the nearest site (an equal
    distance elsewhere gives the same value).
    """
    b0, b1, b2 = codes.shape
    nq = q_flat.size
    out = np.empty(nq, np.float64)
    no = od2.size
    for ch in prange(nchunks):
        x0 = ch * nq // nchunks
        x1 = (ch + 1) * nq // nchunks
        for x in range(x0, x1):
            i, j, t = _ijt(q_flat[x], n1, n2)
            i -= lo0
            j -= lo1
            t -= lo2
            res = -1.0
            for m in range(no):
                a = i + o0[m]
                b = j + o1[m]
                c = t + o2[m]
                if a < 0 or a >= b0 or b < 0 or b >= b1 or c < 0 or c >= b2:
                    continue
                if codes[a, b, c] & bit:
                    res = od2[m]
                    break
            out[x] = res
    return out


@jit()
def gather_dense(f, q_flat, n1, n2, lo0, lo1, lo2):
    """f (a squared-distance box) at the query voxels."""
    out = np.empty(q_flat.size, np.float64)
    for x in range(q_flat.size):
        i, j, t = _ijt(q_flat[x], n1, n2)
        out[x] = f[i - lo0, j - lo1, t - lo2]
    return out


# --- projections for the cost estimate -----------------------------------------------------------


@jit()
def projection_counts(flat, n1, n2, lo0, lo1, lo2, b0, b1, b2):
    """Distinct values of each axis and of each pair of axes among the voxels (int64[6]).

    Order: axis 0, 1, 2, pairs (0, 1), (0, 2), (1, 2). Box-sized per pair, not per volume.
    """
    m0 = np.zeros(b0, np.bool_)
    m1 = np.zeros(b1, np.bool_)
    m2 = np.zeros(b2, np.bool_)
    m01 = np.zeros(b0 * b1, np.bool_)
    m02 = np.zeros(b0 * b2, np.bool_)
    m12 = np.zeros(b1 * b2, np.bool_)
    out = np.zeros(6, np.int64)
    for x in range(flat.size):
        i, j, t = _ijt(flat[x], n1, n2)
        i -= lo0
        j -= lo1
        t -= lo2
        if not m0[i]:
            m0[i] = True
            out[0] += 1
        if not m1[j]:
            m1[j] = True
            out[1] += 1
        if not m2[t]:
            m2[t] = True
            out[2] += 1
        if not m01[i * b1 + j]:
            m01[i * b1 + j] = True
            out[3] += 1
        if not m02[i * b2 + t]:
            m02[i * b2 + t] = True
            out[4] += 1
        if not m12[j * b2 + t]:
            m12[j * b2 + t] = True
            out[5] += 1
    return out


# --- exact distances at sparse queries -----------------------------------------------------------


@jit()
def _axes(flat, n1, n2, perm):
    """Coordinates of flat kernel indices along the permuted axes (3, n) int64."""
    out = np.empty((3, flat.size), np.int64)
    for x in range(flat.size):
        c0, c1, c2 = _ijt(flat[x], n1, n2)
        for m in range(3):
            out[m, x] = c0 if perm[m] == 0 else (c1 if perm[m] == 1 else c2)
    return out


@jit()
def _lex_order(k0, k1, k2, lo, size):
    """Permutation sorting by (k0, k1, k2): three stable counting sorts, least significant first."""
    n = k0.size
    order = np.arange(n)
    tmp = np.empty(n, np.int64)
    for key_i in range(3):
        key = k2 if key_i == 0 else (k1 if key_i == 1 else k0)
        a = 2 - key_i
        cnt = np.zeros(size[a] + 1, np.int64)
        for x in range(n):
            cnt[key[order[x]] - lo[a] + 1] += 1
        for v in range(size[a]):
            cnt[v + 1] += cnt[v]
        for x in range(n):
            o = order[x]
            v = key[o] - lo[a]
            tmp[cnt[v]] = o
            cnt[v] += 1
        order, tmp = tmp, order
    return order


@jit(inline="always")
def _build(pos, h, n, s, v, z):
    """Lower envelope of h[m] + (x - pos[m] s)^2 over m < n (pos increasing, h finite).

    As kernels/edt.py ``_envelope``: parabola indices in ``v``, boundaries in ``z``; returns
    the number of parabolas on the envelope.
    """
    k = 0
    v[0] = 0
    z[0] = -INF
    z[1] = INF
    for q in range(1, n):
        while True:
            vk = v[k]
            x = 0.5 * ((h[q] - h[vk]) / ((pos[q] - pos[vk]) * s) + (pos[q] + pos[vk]) * s)
            if x <= z[k]:
                k -= 1
            else:
                break
        k += 1
        v[k] = q
        z[k] = x
        z[k + 1] = INF
    return k + 1


@jit(parallel=True)
def sparse_edt(s_flat, q_flat, n1, n2, perm, lo, size, spacing, nchunks):
    """Squared distance (mm^2) from each query voxel to the nearest site voxel, exactly.

    ``s_flat`` and ``q_flat`` are flat kernel indices; ``perm`` names the kernel axes taken as
    (a, b, c); ``lo``/``size`` give a box (kernel axes) holding every site and query;
    ``spacing`` is per kernel axis. The result is in the order of ``q_flat``.
    """
    sa = spacing[perm[0]]
    sb = spacing[perm[1]]
    sc = spacing[perm[2]]
    plo = np.array([lo[perm[0]], lo[perm[1]], lo[perm[2]]])
    psz = np.array([size[perm[0]], size[perm[1]], size[perm[2]]])
    S = _axes(s_flat, n1, n2, perm)
    so = _lex_order(S[0], S[1], S[2], plo, psz)
    s_a = S[0][so]
    s_b = S[1][so]
    s_c = S[2][so]
    Q = _axes(q_flat, n1, n2, perm)
    qo = _lex_order(Q[2], Q[1], Q[0], plo[::-1].copy(), psz[::-1].copy())
    q_a = Q[0][qo]
    q_b = Q[1][qo]
    q_c = Q[2][qo]
    ns = s_a.size
    nq = q_a.size

    # Site rows (a, b) with their sorted c; planes a with their rows.
    nrows = 0
    nplanes = 0
    for x in range(ns):
        if x == 0 or s_a[x] != s_a[x - 1] or s_b[x] != s_b[x - 1]:
            nrows += 1
            if x == 0 or s_a[x] != s_a[x - 1]:
                nplanes += 1
    row_start = np.empty(nrows + 1, np.int64)
    row_b = np.empty(nrows, np.int64)
    plane_start = np.empty(nplanes + 1, np.int64)
    plane_a = np.empty(nplanes, np.int64)
    r = -1
    p = -1
    for x in range(ns):
        if x == 0 or s_a[x] != s_a[x - 1] or s_b[x] != s_b[x - 1]:
            r += 1
            row_start[r] = x
            row_b[r] = s_b[x]
            if x == 0 or s_a[x] != s_a[x - 1]:
                p += 1
                plane_start[p] = r
                plane_a[p] = s_a[x]
    row_start[nrows] = ns
    plane_start[nplanes] = nrows
    max_rows = 1
    for p in range(nplanes):
        max_rows = max(max_rows, plane_start[p + 1] - plane_start[p])

    # Query columns (b, c), grouped by c.
    ncols = 0
    ngroups = 0
    for x in range(nq):
        if x == 0 or q_c[x] != q_c[x - 1] or q_b[x] != q_b[x - 1]:
            ncols += 1
            if x == 0 or q_c[x] != q_c[x - 1]:
                ngroups += 1
    col_start = np.empty(ncols + 1, np.int64)
    group_start = np.empty(ngroups + 1, np.int64)
    c_ = -1
    g_ = -1
    for x in range(nq):
        if x == 0 or q_c[x] != q_c[x - 1] or q_b[x] != q_b[x - 1]:
            c_ += 1
            col_start[c_] = x
            if x == 0 or q_c[x] != q_c[x - 1]:
                g_ += 1
                group_start[g_] = c_
    col_start[ncols] = nq
    group_start[ngroups] = ncols
    max_cols = 1
    for g in range(ngroups):
        max_cols = max(max_cols, group_start[g + 1] - group_start[g])

    out_sorted = np.empty(nq, np.float64)
    # Chunks own disjoint queries (no reduction), so their number does not change the result;
    # each pays a pointer set-up per site row, so keep a few groups of c per chunk.
    nch = min(nchunks, max(ngroups // 8, 1))
    for ch in prange(nch):
        g0 = ch * ngroups // nch
        g1 = (ch + 1) * ngroups // nch
        if g0 >= g1:
            continue
        ptr = np.empty(nrows, np.int64)
        c0 = q_c[col_start[group_start[g0]]]
        for rw in range(nrows):
            ptr[rw] = lower_bound(s_c, row_start[rw], row_start[rw + 1], c0)
        h = np.empty(max_rows, np.float64)
        pos = np.empty(max_rows, np.int64)
        v = np.empty(max_rows, np.int64)
        z = np.empty(max_rows + 1, np.float64)
        f2 = np.empty((nplanes, max_cols), np.float64)
        v3 = np.empty(nplanes, np.int64)
        z3 = np.empty(nplanes + 1, np.float64)
        h3 = np.empty(nplanes, np.float64)
        for g in range(g0, g1):
            cb0 = group_start[g]
            ncol = group_start[g + 1] - cb0
            tc = q_c[col_start[cb0]]
            for pl in range(nplanes):
                rs0 = plane_start[pl]
                nrw = plane_start[pl + 1] - rs0
                for mm in range(nrw):
                    rw = rs0 + mm
                    en = row_start[rw + 1]
                    iq = ptr[rw]
                    while iq < en and s_c[iq] < tc:
                        iq += 1
                    ptr[rw] = iq
                    bst = INF
                    if iq < en:
                        dd = (s_c[iq] - tc) * sc
                        bst = dd * dd
                    if iq > row_start[rw]:
                        dd = (tc - s_c[iq - 1]) * sc
                        if dd * dd < bst:
                            bst = dd * dd
                    h[mm] = bst
                    pos[mm] = row_b[rw]
                ne = _build(pos, h, nrw, sb, v, z)
                ke = 0
                for kc in range(ncol):
                    bq = q_b[col_start[cb0 + kc]]
                    xb = bq * sb
                    while ke + 1 < ne and z[ke + 1] < xb:
                        ke += 1
                    dd = (bq - pos[v[ke]]) * sb
                    f2[pl, kc] = dd * dd + h[v[ke]]
            for kc in range(ncol):
                xs0 = col_start[cb0 + kc]
                xs1 = col_start[cb0 + kc + 1]
                if (xs1 - xs0) <= 4:
                    for xq in range(xs0, xs1):
                        aq = q_a[xq]
                        bst = INF
                        for pl in range(nplanes):
                            dd = (aq - plane_a[pl]) * sa
                            vl = dd * dd + f2[pl, kc]
                            if vl < bst:
                                bst = vl
                        out_sorted[xq] = bst
                else:
                    for pl in range(nplanes):
                        h3[pl] = f2[pl, kc]
                    ne = _build(plane_a, h3, nplanes, sa, v3, z3)
                    ke = 0
                    for xq in range(xs0, xs1):
                        aq = q_a[xq]
                        xa = aq * sa
                        while ke + 1 < ne and z3[ke + 1] < xa:
                            ke += 1
                        dd = (aq - plane_a[v3[ke]]) * sa
                        out_sorted[xq] = dd * dd + h3[v3[ke]]
    out = np.empty(nq, np.float64)
    for x in range(nq):
        out[qo[x]] = out_sorted[x]
    return out


# --- per-class driver (plain Python over the kernels above) --------------------------------------

# Cost model, in ns on the development machine (benchmarks/bench_surface_real.py): the dense
# EDT (kernels/edt.py, both passes over the box and the last one at the query lines) per box
# voxel; the sparse scheme per (query c, site row) envelope entry and per (site plane, query
# column) evaluation.
NS_DENSE_VOXEL = 17.0
NS_SPARSE_ROW = 18.0
NS_SPARSE_COLUMN = 2.5
# About this many voxels in the nearby-search ball: a query near the other surface (the usual
# case for a surface that follows the other) is resolved after a few probes, a far one costs
# this many probes before it goes to an exact global method.
NEAR_OFFSETS = 48
NEAR_SHELLS = 4
NS_PROBE = 5.0
# Peak memory of surface_distances stays within about twice the two label maps: the dense
# path's float64 box (8 bytes a voxel) is taken only where it fits in that.
DENSE_MEMORY_FACTOR = 2.0
# (a, b, c) axis orders of the sparse scheme: the pair index (projection_counts) of the site
# rows (a, b) and of the query columns (b, c).
_PERMS = ((0, 1, 2), (0, 2, 1), (1, 0, 2), (1, 2, 0), (2, 0, 1), (2, 1, 0))
_PAIR = {(0, 1): 3, (1, 0): 3, (0, 2): 4, (2, 0): 4, (1, 2): 5, (2, 1): 5}


def near_offsets(spacing, dims, shells=NEAR_SHELLS):
    """Voxel offsets of a ball, sorted by squared distance (mm^2), and where its shells end.

    The first shell holds about NEAR_OFFSETS voxels; each further one doubles the radius.
    Squared distances are formed as in the EDT, ``(d0*s0)**2 + ((d1*s1)**2 + (d2*s2)**2)``.
    Axes of length 1 (the dummy axis of a 2-D image) get no offsets. Returns
    ``(o0, o1, o2, d2, ends)``.
    """
    s = np.asarray(spacing, np.float64)
    live = [a for a in range(3) if dims[a] > 1]
    if not live:
        z = np.zeros(1, np.int64)
        return z, z.copy(), z.copy(), np.zeros(1), [1]
    n = len(live)
    unit = {1: 2.0, 2: np.pi, 3: 4.0 / 3.0 * np.pi}[n]
    rho0 = max(max(s[a] for a in live), (NEAR_OFFSETS * np.prod([s[a] for a in live]) / unit) ** (1.0 / n))
    rho = rho0 * 2 ** (shells - 1)
    reach = [min(int(rho // s[a]), dims[a] - 1) if a in live else 0 for a in range(3)]
    g = np.meshgrid(*[np.arange(-r, r + 1) for r in reach], indexing="ij")
    o = [x.reshape(-1).astype(np.int64) for x in g]
    sq = []
    for a in range(3):
        d = o[a] * s[a]
        sq.append(d * d)
    d2 = sq[0] + (sq[1] + sq[2])
    keep = d2 <= rho * rho
    order = np.argsort(d2[keep], kind="stable")
    d2 = d2[keep][order]
    ends = [int(np.searchsorted(d2, (rho0 * 2**m) ** 2, side="right")) for m in range(shells)]
    return o[0][keep][order], o[1][keep][order], o[2][keep][order], d2, ends


def sparse_plan(site_counts, query_counts):
    """(estimated ns, axis order) of the cheapest sparse_edt axis order."""
    best = None
    for a, b, c in _PERMS:
        ns = (
            NS_SPARSE_ROW * query_counts[c] * site_counts[_PAIR[a, b]]
            + NS_SPARSE_COLUMN * site_counts[a] * query_counts[_PAIR[b, c]]
        )
        if best is None or ns < best[0]:
            best = (ns, (a, b, c))
    return best


def directed_squared(codes, site_bit, query_bit, s_flat, q_flat, shape, lo, spacing, offsets, nchunks, label_bytes):
    """Squared distance (mm^2) from each query voxel to the nearest site voxel, raster order of q_flat.

    Nearby search first; the queries it leaves are done by the dense EDT over the code box
    (kernels/edt.py) or by sparse_edt, whichever the cost model says is cheaper. The dense
    path's float64 box must fit in DENSE_MEMORY_FACTOR times ``label_bytes`` (the two label
    maps). Also returns the path taken ("near", "dense" or "sparse"), for tests and benchmarks.
    """
    dense_ok = 8 * codes.size <= DENSE_MEMORY_FACTOR * label_bytes
    _, n1, n2 = shape
    b0, b1, b2 = codes.shape
    o0, o1, o2, od2 = offsets[:4]
    sc = None
    d2 = np.full(q_flat.size, -1.0)
    far = np.arange(q_flat.size)
    m0 = 0
    for m1 in offsets[4]:
        # Probe the next shell of the ball for the queries still without a site, while that
        # costs less than the exact global methods for them.
        if m0 > 0:
            if sc is None:
                sc = projection_counts(s_flat, n1, n2, lo[0], lo[1], lo[2], b0, b1, b2)
            qc = projection_counts(q_flat[far], n1, n2, lo[0], lo[1], lo[2], b0, b1, b2)
            exact_ns = sparse_plan(sc, qc)[0]
            if dense_ok:
                exact_ns = min(exact_ns, NS_DENSE_VOXEL * b0 * b1 * b2)
            if NS_PROBE * far.size * (m1 - m0) >= exact_ns:
                break
        d2[far] = near_search(
            codes,
            site_bit,
            q_flat[far],
            n1,
            n2,
            lo[0],
            lo[1],
            lo[2],
            o0[m0:m1],
            o1[m0:m1],
            o2[m0:m1],
            od2[m0:m1],
            nchunks,
        )
        far = far[d2[far] < 0]
        m0 = m1
        if far.size == 0:
            return d2, "near"
    qf = q_flat[far]
    if sc is None:
        sc = projection_counts(s_flat, n1, n2, lo[0], lo[1], lo[2], b0, b1, b2)
    qc = projection_counts(qf, n1, n2, lo[0], lo[1], lo[2], b0, b1, b2)
    sparse_ns, perm = sparse_plan(sc, qc)
    if dense_ok and NS_DENSE_VOXEL * b0 * b1 * b2 < sparse_ns:
        f = np.empty(codes.shape, np.float64)
        chunks = max(1, min(max(b0 * b1, b0 * b2, b1 * b2), nchunks))
        E.edt_squared(codes, site_bit, f, spacing[0], spacing[1], spacing[2], chunks, qbit=query_bit)
        d2[far] = gather_dense(f, qf, n1, n2, lo[0], lo[1], lo[2])
        return d2, "dense"
    d2[far] = sparse_edt(
        s_flat,
        qf,
        n1,
        n2,
        np.asarray(perm, np.int64),
        np.asarray(lo, np.int64),
        np.asarray(codes.shape, np.int64),
        np.asarray(spacing, np.float64),
        nchunks,
    )
    return d2, "sparse"
