"""Surface elements on the voxel-corner grid (the surfel model of DeepMind surface-distance).

Corner (a, b, c) of the image's corner grid sits between voxels a-1..a, b-1..b, c-1..c of the
3-D kernel view (kernels/layout.py); corners run 0..n per axis for n voxels. Its neighbour code
has one bit per voxel of the mask among those eight: voxel (a-1+d0, b-1+d1, c-1+d2) sets bit
``7 - (4 d0 + 2 d1 + d2)``, offsets along the kernel's axes (the caller re-indexes the area
table for the array's own axis order: metrics/surfel_areas.py). Voxels outside the image are
outside the mask. A corner is a surface corner when its code is neither 0 nor ``full``.

A 2-D image (kernel view (1, n1, n2)) uses corner row a = 0 only: its d0 = 0 voxels lie
outside the image, so codes have the 4 bits of DeepMind's 2-D kernel and ``full`` is 15.

Membership as kernels/surface.py: GT ``gt == label``; PRED ``pred == label`` where GT is not
the ignore label.
"""

import numpy as np
from numba import prange

from ._jit import jit
from .surface import GT_BIT, PRED_BIT


@jit(inline="always")
def _column(pred, gt, i, j, t, label, ign, has_ignore):
    """Bits ``6 - 4 d0 - 2 d1`` of voxels (i-1+d0, j-1+d1, t) in PRED and in GT."""
    n0, n1, n2 = gt.shape
    cp = 0
    cg = 0
    if t < 0 or t >= n2:
        return cp, cg
    for d0 in range(2):
        a = i - 1 + d0
        if a < 0 or a >= n0:
            continue
        for d1 in range(2):
            b = j - 1 + d1
            if b < 0 or b >= n1:
                continue
            g = np.int64(gt[a, b, t])
            bit = 6 - 4 * d0 - 2 * d1
            if g == label:
                cg |= 1 << bit
            if np.int64(pred[a, b, t]) == label and not (has_ignore and g == ign):
                cp |= 1 << bit
    return cp, cg


@jit(parallel=True)
def surfel_corners(pred, gt, label, ign, has_ignore, lo0, lo1, lo2, c0, c1, c2, full, area):
    """Surface corners of one class in the corner box ``[lo, lo + c)``.

    Returns ``(bits, p_flat, p_area, g_flat, g_area)``: ``bits`` (uint8, (c0, c1, c2)) has
    PRED_BIT at PRED surface corners and GT_BIT at GT ones; ``p_flat`` are the PRED surface
    corners as flat indices ``(a * c1 + b) * c2 + c`` of the box in raster order, ``p_area``
    their areas ``area[code]``; likewise GT. The box must hold every surface corner of both
    masks (the class's voxel box, one more corner per axis); voxels are read from the full maps.
    """
    bits = np.zeros((c0, c1, c2), np.uint8)
    pcode = np.zeros((c0, c1, c2), np.uint8)
    gcode = np.zeros((c0, c1, c2), np.uint8)
    nrows = c0 * c1
    cnt_p = np.zeros(nrows, np.int64)
    cnt_g = np.zeros(nrows, np.int64)
    for r in prange(nrows):
        a = r // c1
        b = r - a * c1
        i = lo0 + a
        j = lo1 + b
        prev_p, prev_g = _column(pred, gt, i, j, lo2 - 1, label, ign, has_ignore)
        n_p = 0
        n_g = 0
        for c in range(c2):
            cur_p, cur_g = _column(pred, gt, i, j, lo2 + c, label, ign, has_ignore)
            kp = (prev_p << 1) | cur_p
            kg = (prev_g << 1) | cur_g
            v = 0
            if kp != 0 and kp != full:
                v |= PRED_BIT
                n_p += 1
            if kg != 0 and kg != full:
                v |= GT_BIT
                n_g += 1
            bits[a, b, c] = v
            pcode[a, b, c] = kp
            gcode[a, b, c] = kg
            prev_p = cur_p
            prev_g = cur_g
        cnt_p[r] = n_p
        cnt_g[r] = n_g
    sp = np.zeros(nrows + 1, np.int64)
    sg = np.zeros(nrows + 1, np.int64)
    for r in range(nrows):
        sp[r + 1] = sp[r] + cnt_p[r]
        sg[r + 1] = sg[r] + cnt_g[r]
    p_flat = np.empty(sp[nrows], np.int64)
    p_area = np.empty(sp[nrows], np.float64)
    g_flat = np.empty(sg[nrows], np.int64)
    g_area = np.empty(sg[nrows], np.float64)
    for r in prange(nrows):
        if cnt_p[r] == 0 and cnt_g[r] == 0:
            continue
        a = r // c1
        b = r - a * c1
        x_p = sp[r]
        x_g = sg[r]
        base = r * c2
        for c in range(c2):
            v = bits[a, b, c]
            if v & PRED_BIT:
                p_flat[x_p] = base + c
                p_area[x_p] = area[pcode[a, b, c]]
                x_p += 1
            if v & GT_BIT:
                g_flat[x_g] = base + c
                g_area[x_g] = area[gcode[a, b, c]]
                x_g += 1
    return bits, p_flat, p_area, g_flat, g_area
