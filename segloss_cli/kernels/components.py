"""Connected components of a binary mask as runs, their dilation and overlap tables.

Arrays are 3-D kernel views (kernels/layout.py; a 2-D image has a leading axis of length 1).
Connectivity is 6, 18 or 26 (a 2-D image: 4 is 6, 8 is 26, the leading axis being 1 long).
All three neighbourhoods are symmetric under axis permutations, so labelling the permuted
kernel view gives the same partition as labelling the array as stored.

A mask is read once into runs (maximal stretches of mask voxels along the last axis; row
pointers, starts, ends) and the rest works on runs, not voxels: labelling (every run gets a
provisional label, runs in already-visited neighbouring rows that touch it are merged with
union-find, a second sweep numbers the roots 1..n in raster order of each component's first
run), dilation, component sizes and boxes, and the overlaps of two run sets of one view.
Work is linear in runs plus rows; a compact lesion is a few runs per row."""

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
def runs(mask):
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
def label_runs(row_ptr, rs, re, b0, b1, connectivity):
    """Component label (int32, 1..n) of every run of ``runs``, n, and the voxels of each
    component (int64, n + 1; entry 0 unused), for a view of b0 x b1 rows.

    Components are numbered in raster order of their first run.
    """
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
    size = np.zeros(n + 1, np.int64)
    for x in range(nr):
        size[lab[x]] += re[x] - rs[x]
    return lab, n, size


@jit()
def label(mask, connectivity):
    """Component labels (int32, 1..n, 0 outside the mask) of a 3-D view, n, and the voxels of
    each component (int64, n + 1; entry 0 unused).

    Components are numbered in raster order of their first voxel in this view.
    """
    b0, b1, b2 = mask.shape
    row_ptr, rs, re = runs(mask)
    lab, n, size = label_runs(row_ptr, rs, re, b0, b1, connectivity)
    out = np.zeros((b0, b1, b2), np.int32)
    for i in range(b0):
        for j in range(b1):
            r = i * b1 + j
            for x in range(row_ptr[r], row_ptr[r + 1]):
                for k in range(rs[x], re[x]):
                    out[i, j, k] = lab[x]
    return out, n, size


@jit()
def _step_row(row_ptr, rs, re, b0, b1, b2, i, j, cs, ce):
    """Runs of row (i, j) after one dilation step by the 18-neighbourhood, merged, into
    ``cs``/``ce``; returns how many. Source rows one step away along a face get their runs
    widened by one voxel along the row (the face and edge steps), diagonal rows are copied
    as they are (an edge step; a corner step is not in the neighbourhood)."""
    m = 0
    for di in range(-1, 2):
        ii = i + di
        if ii < 0 or ii >= b0:
            continue
        for dj in range(-1, 2):
            jj = j + dj
            if jj < 0 or jj >= b1:
                continue
            w = 1 if di == 0 or dj == 0 else 0
            q = ii * b1 + jj
            for x in range(row_ptr[q], row_ptr[q + 1]):
                s = max(rs[x] - w, 0)
                e = min(re[x] + w, b2)
                t = m  # insertion by start: each source row is sorted, few rows meet here
                while t > 0 and cs[t - 1] > s:
                    cs[t] = cs[t - 1]
                    ce[t] = ce[t - 1]
                    t -= 1
                cs[t] = s
                ce[t] = e
                m += 1
    if m == 0:
        return 0
    k = 0
    for t in range(1, m):
        if cs[t] <= ce[k]:  # overlapping or adjacent: one run
            if ce[t] > ce[k]:
                ce[k] = ce[t]
        else:
            k += 1
            cs[k] = cs[t]
            ce[k] = ce[t]
    return k + 1


@jit()
def dilate_runs(row_ptr, rs, re, b0, b1, b2, iterations):
    """The runs of a b0 x b1 x b2 view dilated ``iterations`` times by the 18-neighbourhood
    (scipy's generate_binary_structure(3, 2), border_value=0; a 2-D image, b0 = 1, by the
    8-neighbourhood): (row_ptr, start, end) as :func:`runs`. Work is proportional to rows and
    runs, not voxels."""
    for _ in range(iterations):
        widest = 0
        for r in range(b0 * b1):
            widest = max(widest, row_ptr[r + 1] - row_ptr[r])
        cs = np.empty(9 * widest + 1, np.int32)
        ce = np.empty(9 * widest + 1, np.int32)
        ptr = np.zeros(b0 * b1 + 1, np.int64)
        for i in range(b0):
            for j in range(b1):
                r = i * b1 + j
                ptr[r + 1] = ptr[r] + _step_row(row_ptr, rs, re, b0, b1, b2, i, j, cs, ce)
        ns = np.empty(ptr[b0 * b1], np.int32)
        ne = np.empty(ptr[b0 * b1], np.int32)
        for i in range(b0):
            for j in range(b1):
                r = i * b1 + j
                if ptr[r] == ptr[r + 1]:
                    continue
                m = _step_row(row_ptr, rs, re, b0, b1, b2, i, j, cs, ce)
                for t in range(m):
                    ns[ptr[r] + t] = cs[t]
                    ne[ptr[r] + t] = ce[t]
        row_ptr, rs, re = ptr, ns, ne
    return row_ptr, rs, re


@jit()
def run_pairs(pa, sa, ea, pb, sb, eb):
    """Every pair of overlapping runs of two run sets of one view: (run of A, run of B,
    voxels in common), int64 arrays in raster order. One sweep per row, no voxel read."""
    nrows = pa.size - 1
    m = 0
    for fill in range(2):
        if fill == 0:
            ia = np.empty(0, np.int64)
            ib = np.empty(0, np.int64)
            ov = np.empty(0, np.int64)
        else:
            ia = np.empty(m, np.int64)
            ib = np.empty(m, np.int64)
            ov = np.empty(m, np.int64)
        m = 0
        for r in range(nrows):
            a, a1 = pa[r], pa[r + 1]
            b, b1 = pb[r], pb[r + 1]
            while a < a1 and b < b1:
                lo = max(sa[a], sb[b])
                hi = min(ea[a], eb[b])
                if hi > lo:
                    if fill == 1:
                        ia[m] = a
                        ib[m] = b
                        ov[m] = hi - lo
                    m += 1
                if ea[a] < eb[b]:
                    a += 1
                else:
                    b += 1
    return ia, ib, ov


@jit()
def run_boxes(row_ptr, rs, re, lab, n, b1):
    """Bounding boxes of labels 1..n of labelled runs: (lo, hi) int64 (n + 1, 3), inclusive;
    a label without a run has lo > hi."""
    lo = np.full((n + 1, 3), np.iinfo(np.int64).max, np.int64)
    hi = np.full((n + 1, 3), -1, np.int64)
    for r in range(row_ptr.size - 1):
        i = r // b1
        j = r - i * b1
        for x in range(row_ptr[r], row_ptr[r + 1]):
            v = lab[x]
            lo[v, 0] = min(lo[v, 0], i)
            hi[v, 0] = max(hi[v, 0], i)
            lo[v, 1] = min(lo[v, 1], j)
            hi[v, 1] = max(hi[v, 1], j)
            lo[v, 2] = min(lo[v, 2], rs[x])
            hi[v, 2] = max(hi[v, 2], re[x] - 1)
    return lo, hi


@jit()
def paint(out, row_ptr, rs, re, lab, chosen, b1, lo):
    """Set ``out`` to 1 on the runs whose label is chosen (``chosen[lab] != 0``), for ``out`` a
    writable view of the box of the run view starting at ``lo`` (3 ints). Reads only the rows
    of the box."""
    o0, o1, _ = out.shape
    for i in range(lo[0], lo[0] + o0):
        for j in range(lo[1], lo[1] + o1):
            r = i * b1 + j
            for x in range(row_ptr[r], row_ptr[r + 1]):
                if chosen[lab[x]] == 0:
                    continue
                for k in range(rs[x], re[x]):
                    out[i - lo[0], j - lo[1], k - lo[2]] = 1


@jit()
def overlap_table(a, b, na, nb):
    """One read of two label maps (values 0..na and 0..nb, 0 = background): the voxels of
    every value of each (int64, na + 1 and nb + 1) and the overlaps of value pairs u, v > 0 as
    (key u * (nb + 1) + v, voxels) per stretch of one pair along a row (int64; a key recurs
    across rows, summing them is the caller's)."""
    b0, b1, b2 = a.shape
    size_a = np.zeros(na + 1, np.int64)
    size_b = np.zeros(nb + 1, np.int64)
    m = 0
    for fill in range(2):
        if fill == 0:
            keys = np.empty(0, np.int64)
            cnt = np.empty(0, np.int64)
        else:
            keys = np.empty(m, np.int64)
            cnt = np.empty(m, np.int64)
        m = 0
        for i in range(b0):
            for j in range(b1):
                last = np.int64(-1)
                for k in range(b2):
                    u = np.int64(a[i, j, k])
                    v = np.int64(b[i, j, k])
                    if fill == 0:
                        size_a[u] += 1
                        size_b[v] += 1
                    if u == 0 or v == 0:
                        last = -1
                        continue
                    key = u * (nb + 1) + v
                    if key == last:
                        if fill == 1:
                            cnt[m - 1] += 1
                        continue
                    if fill == 1:
                        keys[m] = key
                        cnt[m] = 1
                    m += 1
                    last = key
    return size_a, size_b, keys, cnt
