"""Connected components of a binary mask, dilation and per-component tables.

Arrays are 3-D kernel views (kernels/layout.py; a 2-D image has a leading axis of length 1).
Connectivity is 6, 18 or 26 (a 2-D image: 4 is 6, 8 is 26, the leading axis being 1 long).
All three neighbourhoods are symmetric under axis permutations, so labelling the permuted
kernel view gives the same partition as labelling the array as stored.

Labelling works on runs (maximal stretches of mask voxels along the last axis), not voxels:
every run gets a provisional label, runs in already-visited neighbouring rows that touch it
are merged with union-find, and a second sweep numbers the roots 1..n in raster order of
each component's first run. Work is linear in voxels read plus runs, with no per-voxel
union-find; a compact lesion is a few runs per row.
"""

import numpy as np

from ._jit import jit


@jit()
def _find(parent, x):
    root = x
    while parent[root] != root:
        root = parent[root]
    while parent[x] != root:  # path compression
        nxt = parent[x]
        parent[x] = root
        x = nxt
    return root


@jit()
def _union(parent, a, b):
    ra = _find(parent, a)
    rb = _find(parent, b)
    if ra < rb:  # the smaller index stays the root: roots are each component's first run
        parent[rb] = ra
    elif rb < ra:
        parent[ra] = rb


@jit()
def _row_runs(mask, i, j, b2):
    """Number of runs in row (i, j)."""
    n = 0
    prev = 0
    for k in range(b2):
        v = 1 if mask[i, j, k] != 0 else 0
        n += v & (1 - prev)  # a run starts where a voxel follows a gap
        prev = v
    return n


@jit()
def _runs(mask):
    """Runs of nonzero voxels: (row_ptr, start, end), end exclusive, rows in raster order.

    Two sweeps (count, then fill) keep the arrays fixed in the loops: growing them in place
    made the loop several times slower.
    """
    b0, b1, b2 = mask.shape
    row_ptr = np.zeros(b0 * b1 + 1, np.int64)
    for i in range(b0):
        for j in range(b1):
            row_ptr[i * b1 + j + 1] = row_ptr[i * b1 + j] + _row_runs(mask, i, j, b2)
    n = row_ptr[b0 * b1]
    rs = np.empty(n, np.int32)
    re = np.empty(n, np.int32)
    for i in range(b0):
        for j in range(b1):
            r = i * b1 + j
            x = row_ptr[r]
            if x == row_ptr[r + 1]:
                continue
            prev = 0
            for k in range(b2):
                v = 1 if mask[i, j, k] != 0 else 0
                if v == 1 and prev == 0:
                    rs[x] = k
                elif v == 0 and prev == 1:
                    re[x] = k
                    x += 1
                prev = v
            if prev == 1:
                re[x] = b2
    return row_ptr, rs, re


@jit()
def _merge_rows(parent, rs, re, a0, a1, q0, q1, touch):
    """Union the runs a0..a1 of one row with the runs q0..q1 of a neighbouring row.

    ``touch`` 1: runs one voxel apart along the row are neighbours too (a diagonal step).
    """
    a = a0
    b = q0
    while a < a1 and b < q1:
        if rs[a] < re[b] + touch and rs[b] < re[a] + touch:
            _union(parent, a, b)
        if re[a] < re[b]:
            a += 1
        else:
            b += 1


@jit()
def label(mask, connectivity):
    """Component labels (int32, 1..n, 0 outside the mask) of a 3-D view, n, and the voxels of
    each component (int64, n + 1; entry 0 unused).

    Components are numbered in raster order of their first voxel in this view.
    """
    b0, b1, b2 = mask.shape
    row_ptr, rs, re = _runs(mask)
    nr = rs.size
    parent = np.arange(nr)
    # Previously visited neighbour rows (di, dj) and whether a diagonal step along the row
    # counts: 6 = faces; 18 = faces and edges; 26 = every voxel of the 3x3x3 cube.
    if connectivity == 6:
        dis = np.array([-1, 0], np.int64)
        djs = np.array([0, -1], np.int64)
        tch = np.array([0, 0], np.int64)
    elif connectivity == 18:
        dis = np.array([-1, 0, -1, -1], np.int64)
        djs = np.array([0, -1, -1, 1], np.int64)
        tch = np.array([1, 1, 0, 0], np.int64)
    else:
        dis = np.array([-1, 0, -1, -1], np.int64)
        djs = np.array([0, -1, -1, 1], np.int64)
        tch = np.array([1, 1, 1, 1], np.int64)
    for i in range(b0):
        for j in range(b1):
            r = i * b1 + j
            a0 = row_ptr[r]
            a1 = row_ptr[r + 1]
            if a0 == a1:
                continue
            for t in range(dis.size):
                ii = i + dis[t]
                jj = j + djs[t]
                if ii < 0 or jj < 0 or jj >= b1:
                    continue
                q = ii * b1 + jj
                if row_ptr[q] < row_ptr[q + 1]:
                    _merge_rows(parent, rs, re, a0, a1, row_ptr[q], row_ptr[q + 1], tch[t])
    lab = np.zeros(nr, np.int32)
    n = 0
    for x in range(nr):
        root = _find(parent, x)
        if root == x:
            n += 1
            lab[x] = n
        else:
            lab[x] = lab[root]
    out = np.zeros((b0, b1, b2), np.int32)
    size = np.zeros(n + 1, np.int64)
    for i in range(b0):
        for j in range(b1):
            r = i * b1 + j
            for x in range(row_ptr[r], row_ptr[r + 1]):
                v = lab[x]
                size[v] += re[x] - rs[x]
                for k in range(rs[x], re[x]):
                    out[i, j, k] = v
    return out, n, size


@jit()
def dilate(mask, connectivity, iterations, check0):
    """Binary dilation (uint8 0/1) by the 6/18/26-neighbourhood, ``iterations`` times.

    Voxels outside the array are outside the mask (scipy's border_value=0); ``check0`` False
    keeps a 2-D image's dummy leading axis from growing.
    """
    b0, b1, b2 = mask.shape
    cur = np.zeros((b0, b1, b2), np.uint8)
    for i in range(b0):
        for j in range(b1):
            for k in range(b2):
                if mask[i, j, k] != 0:
                    cur[i, j, k] = 1
    r0 = 1 if check0 else 0
    for _ in range(iterations):
        nxt = cur.copy()
        for i in range(b0):
            for j in range(b1):
                for k in range(b2):
                    if cur[i, j, k] == 0:
                        continue
                    for di in range(-r0, r0 + 1):
                        ii = i + di
                        if ii < 0 or ii >= b0:
                            continue
                        for dj in range(-1, 2):
                            jj = j + dj
                            if jj < 0 or jj >= b1:
                                continue
                            for dk in range(-1, 2):
                                kk = k + dk
                                if kk < 0 or kk >= b2:
                                    continue
                                steps = abs(di) + abs(dj) + abs(dk)
                                if steps == 0 or steps > 1 and connectivity == 6 or steps > 2 and connectivity == 18:
                                    continue
                                nxt[ii, jj, kk] = 1
        cur = nxt
    return cur


@jit()
def boxes(labels, n):
    """Bounding boxes of components 1..n: (lo, hi) int64 (n + 1, 3), inclusive; row 0 unused."""
    b0, b1, b2 = labels.shape
    lo = np.full((n + 1, 3), np.iinfo(np.int64).max, np.int64)
    hi = np.full((n + 1, 3), -1, np.int64)
    for i in range(b0):
        for j in range(b1):
            for k in range(b2):
                v = labels[i, j, k]
                if v == 0:
                    continue
                if i < lo[v, 0]:
                    lo[v, 0] = i
                if i > hi[v, 0]:
                    hi[v, 0] = i
                if j < lo[v, 1]:
                    lo[v, 1] = j
                if j > hi[v, 1]:
                    hi[v, 1] = j
                if k < lo[v, 2]:
                    lo[v, 2] = k
                if k > hi[v, 2]:
                    hi[v, 2] = k
    return lo, hi


@jit()
def sizes(labels, n, mask, use_mask):
    """Voxels of each label 0..n (where ``mask`` is nonzero when ``use_mask``): int64 (n + 1)."""
    b0, b1, b2 = labels.shape
    out = np.zeros(n + 1, np.int64)
    for i in range(b0):
        for j in range(b1):
            for k in range(b2):
                if use_mask and mask[i, j, k] == 0:
                    continue
                out[labels[i, j, k]] += 1
    return out


@jit()
def pair_keys(a, b, nb):
    """a * (nb + 1) + b at every voxel where both labels are nonzero (int64, raster order)."""
    b0, b1, b2 = a.shape
    m = 0
    for i in range(b0):
        for j in range(b1):
            for k in range(b2):
                if a[i, j, k] != 0 and b[i, j, k] != 0:
                    m += 1
    out = np.empty(m, np.int64)
    m = 0
    for i in range(b0):
        for j in range(b1):
            for k in range(b2):
                u = a[i, j, k]
                v = b[i, j, k]
                if u != 0 and v != 0:
                    out[m] = np.int64(u) * (nb + 1) + v
                    m += 1
    return out
