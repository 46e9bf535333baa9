"""Views that let kernels walk any array in memory order without copying.

Kernels take 3-D arrays (2-D images get a leading axis of length 1) and loop with the last
axis innermost. ``spatial_order`` picks an axis permutation that puts the smallest stride
last, so a Fortran-ordered NIfTI array is walked as fast as a C-ordered one; the same
permutation is applied to every array of a case so voxels stay paired.

Every input view is also put in one canonical form before a kernel sees it (``frozen``): a
plain ndarray (not a memmap), read-only, C-contiguous wherever the data allow it without a
copy. numba compiles one specialisation per argument type, and the type includes the layout
and the writeable flag: a .nii.gz (read-only), a .nii (a writable memory map) and a .npy
would otherwise each compile every kernel again (issue 13). Signed label maps of a width
whose values are all >= 0 are read through their unsigned view (``as_unsigned``), so int16
reuses uint16's code, and maps whose labels are all below 256 are copied to uint8 after the
label scan (``narrowed``).
"""

from __future__ import annotations

import numpy as np


def spatial_order(ref: np.ndarray) -> tuple[int, ...]:
    """Axis permutation of ``ref`` with strides decreasing (ties keep axis order)."""
    strides = [abs(s) if n > 1 else 0 for s, n in zip(ref.strides, ref.shape)]
    return tuple(sorted(range(ref.ndim), key=lambda a: -strides[a]))


def frozen(arr: np.ndarray) -> np.ndarray:
    """A read-only plain-ndarray view of ``arr`` (no copy): the one writeability state of kernel inputs."""
    view = np.asarray(arr).view()  # asarray: a memmap becomes an ndarray view of its buffer
    view.flags.writeable = False
    return view


def as_unsigned(arr: np.ndarray) -> np.ndarray:
    """The unsigned view of a signed integer array of the same width (no copy); other arrays as
    they are. Only for arrays known to hold no negative value (a validated label map)."""
    if arr.dtype.kind != "i":
        return arr
    return arr.view(arr.dtype.str.replace("i", "u"))  # the byte order kept


def narrowed(arr: np.ndarray, top: int) -> np.ndarray:
    """``arr`` as uint8 (a copy in the same memory order) when it is a wider integer map whose
    labels are all in [0, ``top``] with ``top`` < 256; else ``arr`` itself.

    Most label maps stored as int16/int32/uint16 (nnU-Net, TotalSegmentator, ITK writers) hold
    fewer than 256 labels. After the scan (compiled for the stored width) every later kernel
    then runs the uint8 code: one compilation serves every width (issue 13: int16 after uint8
    cost +14.7 s CPU), and the kernels read 2-8x fewer bytes. The copy costs one byte per voxel.
    """
    if arr.dtype.kind not in "iu" or arr.dtype.itemsize == 1 or top >= 256:
        return arr
    return frozen(arr.astype(np.uint8, order="K"))


def as_kernel_3d(arr: np.ndarray, order: tuple[int, ...]) -> np.ndarray:
    """Read-only view of a 2-D or 3-D array, axes permuted by ``order``, as 3-D (no copy)."""
    view = np.asarray(arr).transpose(order)
    if view.dtype == np.bool_:
        view = view.view(np.uint8)
    while view.ndim < 3:
        view = view[np.newaxis]
    return frozen(view)


def kernel_box_slices(lo, hi, order: tuple[int, ...], shape: tuple[int, ...], margin: int = 1) -> tuple[slice, ...]:
    """Slices of the original axes of an array of ``shape`` for an inclusive box ``lo..hi`` of its
    kernel view (``as_kernel_3d`` with ``order``), grown by ``margin`` voxels within the image
    (one: the surfaces of what the box holds are those of the whole image)."""
    skip = 3 - len(shape)  # kernel axes before this are the dummy axes of a 2-D image
    box = [slice(0, n) for n in shape]
    for a in range(skip, 3):
        axis = order[a - skip]  # kernel axis a walks original axis order[a - skip]
        box[axis] = slice(max(int(lo[a]) - margin, 0), min(int(hi[a]) + margin + 1, shape[axis]))
    return tuple(box)


def from_kernel_3d(view: np.ndarray, order: tuple[int, ...], ndim: int) -> np.ndarray:
    """Undo ``as_kernel_3d`` for an array the kernel produced."""
    out = view.reshape(view.shape[3 - ndim :])
    return out.transpose(np.argsort(order))


def scores_kernel_4d(scores: np.ndarray, order: tuple[int, ...]) -> np.ndarray:
    """View of a ``(K,) + spatial`` score array as ``(K, a, b, c)`` with spatial ``order``."""
    view = np.asarray(scores).transpose((0,) + tuple(a + 1 for a in order))
    while view.ndim < 4:
        view = view[:, np.newaxis]
    return frozen(view)
