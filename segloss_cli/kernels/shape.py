"""Binary morphology for the shape metrics (metrics/shape.py): erosion by a cube.

Erosion by the (2d+1)^3 cube is three 1-D erosions of radius d, one per axis; a 1-D erosion
keeps a voxel when the run of ones around it reaches d voxels on both sides. Outside the array
counts as 0 (the boundary-IoU reference pads the mask with zeros). Input: a C-contiguous uint8
(a, b, c) array; 2-D masks come as (1, b, c).
"""

import numpy as np

from ._jit import jit


@jit()
def _erode_last(src, d):
    """1-D erosion of radius d along the last axis."""
    n0, n1, n2 = src.shape
    out = np.zeros_like(src)
    left = np.empty(n2, np.int64)
    for i in range(n0):
        for j in range(n1):
            run = 0
            for t in range(n2):  # ones ending at t (t included)
                run = run + 1 if src[i, j, t] else 0
                left[t] = run
            run = 0
            for t in range(n2 - 1, -1, -1):  # ones starting at t
                run = run + 1 if src[i, j, t] else 0
                if left[t] > d and run > d:
                    out[i, j, t] = 1
    return out


def erode_cube(mask: np.ndarray, d: int, ndim: int = 3) -> np.ndarray:
    """``mask`` (uint8, 3-D) eroded by the cube of radius ``d`` over its last ``ndim`` axes (a
    2-D mask as (1, b, c): its padded axis is not eroded); outside the array is 0."""
    out = np.ascontiguousarray(mask, dtype=np.uint8)
    for axis in range(3 - ndim, 3):
        moved = np.ascontiguousarray(np.moveaxis(out, axis, 2))
        out = np.ascontiguousarray(np.moveaxis(_erode_last(moved, np.int64(d)), 2, axis))
    return out


# Zhang-Suen's lookup table as scikit-image's _fast_skeletonize has it: the class (0-3) of each
# of the 256 8-neighbourhoods; 1 and 3 are removed in the first sub-pass, 2 and 3 in the second.
# fmt: off
ZHANG_LUT = np.array([
    0, 0, 0, 1, 0, 0, 1, 3, 0, 0, 3, 1, 1, 0, 1, 3, 0, 0, 0, 0, 0, 0, 0, 0, 2, 0, 2, 0,
    3, 0, 3, 3, 0, 0, 0, 0, 0, 0, 0, 0, 3, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    2, 0, 0, 0, 3, 0, 2, 2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2, 0, 0, 0, 0, 0, 0, 0, 2, 0, 0, 0, 2, 0, 0, 0,
    3, 0, 0, 0, 0, 0, 0, 0, 3, 0, 0, 0, 3, 0, 2, 0, 0, 0, 3, 1, 0, 0, 1, 3, 0, 0, 0, 0,
    0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 3, 1, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2, 3, 1, 3,
    0, 0, 1, 3, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    2, 3, 0, 1, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 3, 3, 0, 1, 0, 0, 0, 0, 2, 2, 0, 0,
    2, 0, 0, 0,
], dtype=np.uint8)
# fmt: on


@jit()
def _zhang(skel, lut):
    """Thin ``skel`` (uint8, zero border of one pixel) in place until nothing is removed."""
    nrows, ncols = skel.shape
    cleaned = skel.copy()
    removed = True
    while removed:
        removed = False
        for pass_num in range(2):
            first = pass_num == 0
            for r in range(1, nrows - 1):
                for c in range(1, ncols - 1):
                    if skel[r, c]:
                        code = (
                            skel[r - 1, c - 1]
                            + 2 * skel[r - 1, c]
                            + 4 * skel[r - 1, c + 1]
                            + 8 * skel[r, c + 1]
                            + 16 * skel[r + 1, c + 1]
                            + 32 * skel[r + 1, c]
                            + 64 * skel[r + 1, c - 1]
                            + 128 * skel[r, c - 1]
                        )
                        n = lut[code]
                        if n == 0:
                            continue
                        if n == 3 or (n == 1 and first) or (n == 2 and not first):
                            cleaned[r, c] = 0
                            removed = True
            skel[:, :] = cleaned[:, :]
    return skel


def skeletonize_2d(mask: np.ndarray) -> np.ndarray:
    """Zhang-Suen thinning of a 2-D mask, as skimage.morphology.skeletonize (method 'zhang')."""
    padded = np.zeros((mask.shape[0] + 2, mask.shape[1] + 2), np.uint8)
    padded[1:-1, 1:-1] = mask != 0
    return _zhang(padded, ZHANG_LUT)[1:-1, 1:-1].astype(bool)
