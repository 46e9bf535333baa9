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
