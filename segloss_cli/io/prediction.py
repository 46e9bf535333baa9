"""GT and PRED as the rest of segloss needs them: validated label maps and score views.

The ground truth is loaded first; its shape decides where a prediction's class axis is.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional, Sequence

import numpy as np

from ..errors import InputError, UsageError
from ..model import Prediction, Volume
from .readers import read_volume


@dataclass(frozen=True)
class LoadOptions:
    pred_type: str = "auto"  # auto | labels | probs | logits
    channel_axis: Optional[int] = None
    threshold: float = 0.5
    npz_key: Optional[str] = None
    spacing_mm: Optional[tuple[float, ...]] = None
    ignore_label: Optional[int] = None
    renormalize: bool = False


def _drop_trailing_singletons(vol: Volume) -> Volume:
    arr = vol.array
    if arr.ndim <= 2 or arr.shape[-1] != 1:
        return vol
    while arr.ndim > 2 and arr.shape[-1] == 1:
        arr = arr[..., 0]
    spacing = vol.spacing_mm[: arr.ndim] if vol.spacing_mm is not None else None
    return Volume(arr, spacing, vol.affine, vol.path, vol.spacing_source)


def _fit_spacing(vol: Volume, ndim: int) -> Volume:
    """Spacing given on the command line as one value applies to every axis."""
    if vol.spacing_mm is None or vol.spacing_source != "option":
        return vol
    sp = vol.spacing_mm
    if len(sp) == 1:
        sp = sp * ndim
    if len(sp) != ndim:
        raise UsageError(f"--spacing has {len(vol.spacing_mm)} values but the images are {ndim}-D; give {ndim} values or one")
    return Volume(vol.array, tuple(sp), vol.affine, vol.path, vol.spacing_source)


def _check_spatial(arr: np.ndarray, path: str, role: str) -> None:
    if arr.ndim not in (2, 3):
        raise InputError(
            f"{role} has {arr.ndim} dimensions {tuple(arr.shape)}; expected a 2-D or 3-D label map"
            + (" (a score map with a class axis goes first, as PRED)" if role == "GT" and arr.ndim == 4 else ""),
            path,
        )
    if 0 in arr.shape:
        raise InputError(f"{role} has a zero-size dimension {tuple(arr.shape)}; the image is empty, re-export it", path)


def _check_header_spacing(vol: Volume, role: str) -> None:
    """Header voxel sizes must be positive and finite: volumes and distances depend on them."""
    if vol.spacing_source != "header" or vol.spacing_mm is None:
        return
    if not all(np.isfinite(s) and s > 0 for s in vol.spacing_mm):
        raise InputError(
            f"{role} header has invalid voxel spacing {tuple(vol.spacing_mm)} (pixdim must be positive); fix the header",
            vol.path,
        )


def integral_labels(arr: np.ndarray, path: str, role: str) -> np.ndarray:
    """An integer label map: integer arrays as they are, floats with integral values cast to
    the smallest integer type that holds them; NaN, Inf and fractional values are errors."""
    from ..kernels import labels as K
    from ..kernels._jit import n_chunks
    from ..kernels.layout import as_kernel_3d, spatial_order

    if arr.dtype.kind == "f":
        order = spatial_order(arr)
        if arr.dtype == np.float16:
            arr = arr.astype(np.float32)
        view = as_kernel_3d(arr, order)
        nonfinite, nonintegral, bad, lo, hi = K.scan_float_labels(view, n_chunks(view.shape[0] * view.shape[1]))
        if nonfinite:
            raise InputError(f"{role} label map has {nonfinite} NaN/Inf voxels; fix the file", path)
        if nonintegral:
            hint = (
                "a ground truth must be a label map (PRED comes first, GT second)"
                if role == "GT"
                else "or pass --pred-type probs/logits if it is a score map"
            )
            raise InputError(
                f"{role} label map has {nonintegral} non-integer values (e.g. {bad:g}); resample label maps "
                f"with nearest-neighbour interpolation; {hint}",
                path,
            )
        if max(abs(lo), abs(hi)) > 2.0**53:
            raise InputError(
                f"{role} label map holds {hi if abs(hi) >= abs(lo) else lo:g}, beyond the integers a float stores "
                "exactly (2**53); save label maps as integers",
                path,
            )
        lo_i, hi_i = int(lo), int(hi)
        dtype = np.result_type(np.min_scalar_type(lo_i), np.min_scalar_type(hi_i))
        return arr.astype(dtype, order="K")
    if arr.dtype.kind not in "biu":
        raise InputError(f"{role} has dtype {arr.dtype}; expected an integer label map", path)
    return arr


def validate_label_map(arr: np.ndarray, path: str, role: str, ignore_label: Optional[int]):
    """Check a label map and return (integer array, sorted labels present as int64).

    Floats with integral values are accepted and cast to the smallest integer type; NaN,
    Inf, fractional and negative labels are errors.
    """
    from ..kernels import labels as K
    from ..kernels._jit import n_chunks
    from ..kernels.layout import as_kernel_3d, spatial_order

    arr = integral_labels(arr, path, role)
    order = spatial_order(arr)
    view = as_kernel_3d(arr, order)
    present, lo, hi, outside = K.scan_int_labels(view, n_chunks(view.shape[0] * view.shape[1]))
    if lo < 0 and arr.dtype == np.uint64:
        raise InputError(f"{role} has labels >= 2**63; labels must fit a signed 64-bit integer", path)
    if lo < 0 and not (ignore_label is not None and ignore_label < 0 and _only_negative_is(view, ignore_label)):
        raise InputError(f"{role} has negative labels (min {lo}); labels must be >= 0 (use --ignore-label for a void label)", path)
    labels = np.flatnonzero(present).astype(np.int64)
    if outside:
        big = K.collect_large_labels(view)
        labels = np.union1d(labels, big[big >= 0])
    return arr, labels


def _only_negative_is(view, value: int) -> bool:
    from ..kernels import labels as K

    values = K.collect_large_labels(view)
    return bool(np.all(values[values < 0] == value))


def read_gt(path: str, opts: LoadOptions) -> Volume:
    """Ground truth read and its geometry checked; its labels are not scanned yet."""
    vol = read_volume(path, npz_key=opts.npz_key, spacing_mm=opts.spacing_mm)
    vol = _drop_trailing_singletons(vol)
    _check_spatial(vol.array, vol.path, "GT")
    vol = _fit_spacing(vol, vol.array.ndim)
    _check_header_spacing(vol, "GT")
    return vol


def load_gt(path: str, opts: LoadOptions) -> tuple[Volume, np.ndarray]:
    """Ground truth: (Volume with a validated integer label map, labels present)."""
    vol = read_gt(path, opts)
    arr, present = validate_label_map(vol.array, vol.path, "GT", opts.ignore_label)
    return vol.with_array(arr), present


def read_prediction(path: str, gt: Volume, opts: LoadOptions) -> tuple[Volume, str]:
    """(PRED read, its kind: labels | probs | logits); a label map's labels are not scanned yet.

    ``gt`` may be unvalidated: only its number of dimensions is used (a float PRED with one
    more axis than GT is a probability map under ``--pred-type auto``).
    """
    vol = read_volume(path, npz_key=opts.npz_key, spacing_mm=opts.spacing_mm)
    kind = opts.pred_type
    if kind == "auto":
        kind = "probs" if vol.array.dtype.kind == "f" and vol.array.ndim == gt.array.ndim + 1 else "labels"
    if kind == "labels":
        vol = _drop_trailing_singletons(vol)
        _check_spatial(vol.array, vol.path, "PRED")
        vol = _fit_spacing(vol, vol.array.ndim)
        _check_header_spacing(vol, "PRED")
    return vol, kind


def load_prediction(path: str, gt: Volume, opts: LoadOptions) -> tuple[Prediction, Optional[np.ndarray]]:
    """Prediction of any kind: (Prediction, labels present or None for score maps)."""
    vol, kind = read_prediction(path, gt, opts)
    if kind == "labels":
        labels, present = validate_label_map(vol.array, vol.path, "PRED", None)
        return label_prediction(vol.with_array(labels)), present
    return load_scores(vol, gt, kind, opts), None


def label_prediction(vol: Volume) -> Prediction:
    """A validated integer label map as a Prediction."""
    return Prediction("labels", vol.array, None, vol)


def _channel_axis(arr: np.ndarray, gt_shape: tuple[int, ...], requested: Optional[int], path: str) -> int:
    if requested is not None:
        ax = requested + arr.ndim if requested < 0 else requested
        if not 0 <= ax < arr.ndim:
            raise UsageError(f"--channel-axis {requested} is out of range for PRED of shape {arr.shape}")
        rest = arr.shape[:ax] + arr.shape[ax + 1:]
        if rest != gt_shape:
            raise InputError(f"PRED shape {arr.shape} without axis {ax} is {rest}, GT is {gt_shape}; check --channel-axis", path)
        return ax
    candidates = [ax for ax in sorted({0, arr.ndim - 1}) if arr.shape[:ax] + arr.shape[ax + 1:] == gt_shape]
    if not candidates:
        raise InputError(
            f"shape mismatch: PRED {arr.shape} has no class axis that leaves the GT shape {gt_shape}; "
            "the class axis must be first or last",
            path,
        )
    if len(candidates) > 1:
        raise InputError(
            f"ambiguous class axis: PRED {arr.shape} matches GT {gt_shape} with the class axis first or last; "
            "pass --channel-axis 0 or --channel-axis -1",
            path,
        )
    return candidates[0]


def load_scores(vol: Volume, gt: Volume, kind: str, opts: LoadOptions) -> Prediction:
    from ..kernels import labels as K
    from ..kernels._jit import n_chunks
    from ..kernels.layout import from_kernel_3d, scores_kernel_4d, spatial_order

    arr = vol.array
    if arr.dtype.kind != "f":
        raise InputError(f"--pred-type {kind} needs a float array, got {arr.dtype}; for a label map use --pred-type labels", vol.path)
    if arr.dtype == np.float16:
        arr = arr.astype(np.float32)
    gt_shape = tuple(gt.array.shape)
    if arr.ndim == len(gt_shape) and opts.channel_axis is None:
        ax = None  # one sigmoid channel without a class axis
        scores = arr[np.newaxis]
    elif arr.ndim == len(gt_shape) + 1:
        ax = _channel_axis(arr, gt_shape, opts.channel_axis, vol.path)
        scores = np.moveaxis(arr, ax, 0)
    else:
        raise InputError(
            f"shape mismatch: PRED {arr.shape} vs GT {gt_shape}; a {kind} map has the GT shape plus one class axis", vol.path
        )
    spacing = vol.spacing_mm
    if spacing is not None and vol.spacing_source == "header":
        spatial_axes = [a for a in range(arr.ndim) if a != ax][: len(gt_shape)]
        zooms = vol.spacing_mm
        spacing = tuple(zooms[a] for a in spatial_axes if a < len(zooms))
        if len(spacing) != len(gt_shape):
            spacing = None
    vol = Volume(arr, spacing, vol.affine, vol.path, vol.spacing_source)
    vol = _fit_spacing(vol, len(gt_shape))
    _check_header_spacing(vol, "PRED")
    if 0 in arr.shape:
        raise InputError(f"PRED has a zero-size dimension {tuple(arr.shape)}; the image is empty, re-export it", vol.path)

    n_classes = scores.shape[0]
    order = spatial_order(scores[0])
    view = scores_kernel_4d(scores, order)
    spatial3 = view.shape[1:]
    out = np.empty(spatial3, dtype=np.uint8 if n_classes <= 256 else np.int32)
    threshold = opts.threshold
    if n_classes == 1 and not 0.0 < threshold < 1.0:  # also rejects NaN, which no score reaches
        raise UsageError(f"--threshold {threshold:g} must be a probability strictly between 0 and 1 (default 0.5)")
    if n_classes == 1 and kind == "logits":
        threshold = float(np.log(threshold) - np.log1p(-threshold))
    nonfinite, lo, hi, sumdev = K.scores_to_labels(view, out, threshold, n_chunks(spatial3[0] * spatial3[1]))
    if nonfinite:
        raise InputError(f"PRED has {nonfinite} voxels with NaN/Inf scores; fix the model output", vol.path)
    if kind == "probs":
        if lo < 0.0 or hi > 1.0:
            raise InputError(
                f"probabilities outside [0, 1] (min {lo:.4g}, max {hi:.4g}); if these are logits pass --pred-type logits",
                vol.path,
            )
        if n_classes > 1 and sumdev > 1e-3 and not opts.renormalize:
            raise InputError(
                f"class probabilities do not sum to 1 (off by up to {sumdev:.3g}); pass --renormalize to divide by the sum, "
                "or --pred-type logits if these are logits",
                vol.path,
            )
    labels = from_kernel_3d(out, order, len(gt_shape))
    return Prediction(kind, labels, scores, vol, channel_axis=ax)


def parse_spacing(values: Optional[Sequence[float]]) -> Optional[tuple[float, ...]]:
    if not values:
        return None
    if any(not np.isfinite(v) or v <= 0 for v in values):
        raise UsageError("--spacing values must be positive numbers (mm)")
    return tuple(float(v) for v in values)
