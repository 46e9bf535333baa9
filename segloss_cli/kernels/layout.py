"""Views that let kernels walk any array in memory order without copying.

Kernels take 3-D arrays (2-D images get a leading axis of length 1) and loop with the last
axis innermost. ``spatial_order`` picks an axis permutation that puts the smallest stride
last, so a Fortran-ordered NIfTI array is walked as fast as a C-ordered one; the same
permutation is applied to every array of a case so voxels stay paired.
"""

from __future__ import annotations

import numpy as np


def spatial_order(ref: np.ndarray) -> tuple[int, ...]:
    """Axis permutation of ``ref`` with strides decreasing (ties keep axis order)."""
    strides = [abs(s) if n > 1 else 0 for s, n in zip(ref.strides, ref.shape)]
    return tuple(sorted(range(ref.ndim), key=lambda a: -strides[a]))


def as_kernel_3d(arr: np.ndarray, order: tuple[int, ...]) -> np.ndarray:
    """View of a 2-D or 3-D array, axes permuted by ``order``, as 3-D (no copy)."""
    view = arr.transpose(order)
    if view.dtype == np.bool_:
        view = view.view(np.uint8)
    while view.ndim < 3:
        view = view[np.newaxis]
    return view


def from_kernel_3d(view: np.ndarray, order: tuple[int, ...], ndim: int) -> np.ndarray:
    """Undo ``as_kernel_3d`` for an array the kernel produced."""
    out = view.reshape(view.shape[3 - ndim :])
    return out.transpose(np.argsort(order))


def scores_kernel_4d(scores: np.ndarray, order: tuple[int, ...]) -> np.ndarray:
    """View of a ``(K,) + spatial`` score array as ``(K, a, b, c)`` with spatial ``order``."""
    view = scores.transpose((0,) + tuple(a + 1 for a in order))
    while view.ndim < 4:
        view = view[:, np.newaxis]
    return view
