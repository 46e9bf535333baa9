"""Lee et al. (1994) 3-D thinning, as skimage.morphology.skeletonize thins 3-D images.

T.-C. Lee, R.L. Kashyap, C.-N. Chu, "Building skeleton models via 3-D medial surface/axis
thinning algorithms", CVGIP 56(6), 1994; the order of operations follows the ImageJ
Skeletonize3D plugin that skimage's _skeletonize_lee_cy follows, so the skeletons agree voxel
for voxel. Repeated over the six border directions (W, E, S, N, U, B) until none removes a
voxel: (1) collect, in raster order, the foreground voxels on that border that are not
endpoints (one 26-neighbour), keep the Euler characteristic (Lee's table delta G_26 over the
eight octants) and are simple (their 26-neighbours form one component); (2) recheck them in
that order, deleting each one still simple. Simplicity is the octree labelling of Lee's Figs. 6
and 7, done here with an explicit stack of octants instead of recursion (the labelled set is
the same fixed point).

The image is uint8 0/1 of shape (b0, b1, b2) with a zero border of one voxel on every side; a
2-D image is (3, b1, b2) (one plane between two zero planes), where the U and B directions have
nothing to remove and are skipped, as skimage does.
"""

import numpy as np

from ._jit import jit

# Euler characteristic change per octant configuration (Lee's Table 2, delta G_26), odd codes.
# fmt: off
_EULER_ODD = [
    1, -1, -1, 1, -3, -1, -1, 1, -1, 1, 1, -1, 3, 1, 1, -1, -3, -1, 3, 1, 1, -1, 3, 1, -1, 1, 1,
    -1, 3, 1, 1, -1, -3, 3, -1, 1, 1, 3, -1, 1, -1, 1, 1, -1, 3, 1, 1, -1, 1, 3, 3, 1, 5, 3, 3,
    1, -1, 1, 1, -1, 3, 1, 1, -1, -7, -1, -1, 1, -3, -1, -1, 1, -1, 1, 1, -1, 3, 1, 1, -1, -3,
    -1, 3, 1, 1, -1, 3, 1, -1, 1, 1, -1, 3, 1, 1, -1, -3, 3, -1, 1, 1, 3, -1, 1, -1, 1, 1, -1,
    3, 1, 1, -1, 1, 3, 3, 1, 5, 3, 3, 1, -1, 1, 1, -1, 3, 1, 1, -1,
]
EULER_LUT = np.zeros(256, np.int64)
EULER_LUT[1::2] = _EULER_ODD
# Neighbourhood indices (27, centre 13; index 9 dp + 3 dr + dc of offsets in {0, 1, 2}) of
# each octant's seven other voxels, in the bit order of the Euler code.
EULER_OCTANTS = np.array([
    [2, 1, 11, 10, 5, 4, 14], [0, 9, 3, 12, 1, 10, 4], [8, 7, 17, 16, 5, 4, 14],
    [6, 15, 7, 16, 3, 12, 4], [20, 23, 19, 22, 11, 14, 10], [18, 21, 9, 12, 19, 22, 10],
    [26, 23, 17, 14, 25, 22, 16], [24, 25, 15, 16, 21, 22, 12],
], np.int64)
# Octree labelling: per octant (0-based) its seven cube cells (26 cells: the neighbourhood
# without its centre) and, per cell, the octants (0-based, -1 padding) that share it.
_OCTREE = [
    ([0, 1, 3, 4, 9, 10, 12], [[], [2], [3], [2, 3, 4], [5], [2, 5, 6], [3, 5, 7]]),
    ([1, 4, 10, 2, 5, 11, 13], [[1], [1, 3, 4], [1, 5, 6], [], [4], [6], [4, 6, 8]]),
    ([3, 4, 12, 6, 7, 14, 15], [[1], [1, 2, 4], [1, 5, 7], [], [4], [7], [4, 7, 8]]),
    ([4, 5, 13, 7, 15, 8, 16], [[1, 2, 3], [2], [2, 6, 8], [3], [3, 7, 8], [], [8]]),
    ([9, 10, 12, 17, 18, 20, 21], [[1], [1, 2, 6], [1, 3, 7], [], [6], [7], [6, 7, 8]]),
    ([10, 11, 13, 18, 21, 19, 22], [[1, 2, 5], [2], [2, 4, 8], [5], [5, 7, 8], [], [8]]),
    ([12, 14, 15, 20, 21, 23, 24], [[1, 3, 5], [3], [3, 4, 8], [5], [5, 6, 8], [], [8]]),
    ([13, 15, 16, 21, 22, 24, 25], [[2, 4, 6], [3, 4, 7], [4], [5, 6, 7], [6], [7], []]),
]
# fmt: on
OCTREE_CELLS = np.array([cells for cells, _ in _OCTREE], np.int64)
OCTREE_NEXT = np.full((8, 7, 3), -1, np.int64)
for _o, (_, _nexts) in enumerate(_OCTREE):
    for _k, _nx in enumerate(_nexts):
        OCTREE_NEXT[_o, _k, : len(_nx)] = [v - 1 for v in _nx]
# The octant whose labelling starts at each cube cell (the first octant holding it).
OCTREE_START = np.array([min(o for o in range(8) if i in _OCTREE[o][0]) for i in range(26)], np.int64)
BORDERS = np.array([4, 3, 2, 1, 5, 6], np.int64)  # W, E, S, N, U, B (skimage's order)


@jit(inline="always")
def _neighbourhood(img, p, r, c, nb):
    n = 0
    for dp in range(-1, 2):
        for dr in range(-1, 2):
            for dc in range(-1, 2):
                nb[n] = img[p + dp, r + dr, c + dc]
                n += 1


@jit(inline="always")
def _euler_invariant(nb, lut, octants):
    total = 0
    for o in range(8):
        code = 1
        for j in range(7):
            if nb[octants[o, j]] == 1:
                code |= 1 << (7 - j)
        total += lut[code]
    return total == 0


@jit(inline="always")
def _simple(nb, cube, stack, cells, nxt, start):
    """One 26-connected component among the neighbours (the centre removed)."""
    for i in range(13):
        cube[i] = nb[i]
    for i in range(13, 26):
        cube[i] = nb[i + 1]
    label = 2
    for i in range(26):
        if cube[i] != 1:
            continue
        top = 0
        stack[0] = start[i]
        top = 1
        while top > 0:
            top -= 1
            o = stack[top]
            for k in range(7):
                cell = cells[o, k]
                if cube[cell] == 1:
                    cube[cell] = label
                    for m in range(3):
                        q = nxt[o, k, m]
                        if q >= 0:
                            stack[top] = q
                            top += 1
        label += 1
        if label - 2 >= 2:
            return False
    return True


@jit()
def thin_lee(img, lut, octants, cells, nxt, start, borders):
    """Thin ``img`` (uint8 0/1, zero border) in place; returns it."""
    b0, b1, b2 = img.shape
    nb = np.empty(27, np.uint8)
    cube = np.empty(26, np.uint8)
    stack = np.empty(26 * 3 * 8 + 8, np.int64)  # every cell pushes at most 3 octants, once
    n_borders = 4 if b0 == 3 else 6
    cand = np.empty((max(1, int(np.count_nonzero(img))), 3), np.int64)
    unchanged = 0
    while unchanged < n_borders:
        unchanged = 0
        for j in range(n_borders):
            border = borders[j]
            n = 0
            for p in range(1, b0 - 1):
                for r in range(1, b1 - 1):
                    for c in range(1, b2 - 1):
                        if img[p, r, c] != 1:
                            continue
                        if border == 1:
                            edge = img[p, r, c - 1] == 0
                        elif border == 2:
                            edge = img[p, r, c + 1] == 0
                        elif border == 3:
                            edge = img[p, r + 1, c] == 0
                        elif border == 4:
                            edge = img[p, r - 1, c] == 0
                        elif border == 5:
                            edge = img[p + 1, r, c] == 0
                        else:
                            edge = img[p - 1, r, c] == 0
                        if not edge:
                            continue
                        _neighbourhood(img, p, r, c, nb)
                        s = 0
                        for q in range(27):
                            s += nb[q]
                        if s == 2:  # an endpoint
                            continue
                        if not _euler_invariant(nb, lut, octants):
                            continue
                        if not _simple(nb, cube, stack, cells, nxt, start):
                            continue
                        cand[n, 0] = p
                        cand[n, 1] = r
                        cand[n, 2] = c
                        n += 1
            changed = False
            for x in range(n):
                p, r, c = cand[x, 0], cand[x, 1], cand[x, 2]
                _neighbourhood(img, p, r, c, nb)
                if _simple(nb, cube, stack, cells, nxt, start):
                    img[p, r, c] = 0
                    changed = True
            if not changed:
                unchanged += 1
    return img


def skeletonize_3d(mask: np.ndarray) -> np.ndarray:
    """Lee's thinning of a 3-D mask, as skimage.morphology.skeletonize (3-D, method 'lee')."""
    padded = np.zeros(tuple(s + 2 for s in mask.shape), np.uint8)
    padded[1:-1, 1:-1, 1:-1] = mask != 0
    out = thin_lee(padded, EULER_LUT, EULER_OCTANTS, OCTREE_CELLS, OCTREE_NEXT, OCTREE_START, BORDERS)
    return out[1:-1, 1:-1, 1:-1].astype(bool)
