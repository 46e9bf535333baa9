"""Soft labels: a ground truth given as class probabilities (``gt_type="soft"``, ``--gt-type soft``).

The GT is a float array with one class axis (channel-first for numpy inputs, channel-last for
NIfTI, or ``--channel-axis`` as for PRED), values in [0, 1] summing to 1 over the classes.
The losses read it as soft targets g_ic (MONAI DiceLoss / DiceCELoss and SMP with float
targets; conventions.md, "Soft labels"); the metrics, which need hard labels, read its argmax
(ties to the lowest class), said in a note. Anything else is refused: a GT that is not float,
values outside [0, 1] or sums off 1, one channel, a PRED that is not a score map of as many
channels, an ignore label (a soft GT has no label values to ignore).
"""

from __future__ import annotations

from typing import Optional

import numpy as np

from ..errors import InputError, UsageError
from ..model import Volume

RANGE_TOL = 1e-6  # values may stray this far outside [0, 1] (float rounding)
SUM_TOL = 1e-3  # |sum_c g_c - 1| allowed (float16/float32 exports)
NOTE = "GT holds soft labels: the losses use them as targets; the metrics use their argmax (ties to the lowest class)"


def split_soft(vol: Volume, channel_axis: Optional[int]) -> tuple[Volume, np.ndarray]:
    """(the soft GT ``vol`` as a Volume of its argmax labels, the (C, *spatial) view of the
    stored probabilities: class axis moved first, no copy)."""
    arr = vol.array
    if arr.dtype.kind != "f":
        raise InputError(
            f"@gt_type soft: GT has data type {arr.dtype}; soft labels are a float array of class probabilities",
            vol.path,
        )
    if arr.ndim not in (3, 4):
        raise InputError(
            f"@gt_type soft: GT has shape {tuple(arr.shape)}; soft labels are a 2-D or 3-D image with one class axis",
            vol.path,
        )
    if channel_axis is None:
        axis = arr.ndim - 1 if vol.path.endswith((".nii", ".nii.gz")) else 0
    elif -arr.ndim <= channel_axis < arr.ndim:
        axis = channel_axis % arr.ndim
    else:
        raise UsageError(f"@channel_axis {channel_axis} is not an axis of the soft GT {tuple(arr.shape)}")
    soft = np.moveaxis(arr, axis, 0)
    if soft.shape[0] < 2:
        raise InputError(
            f"@gt_type soft: GT has {soft.shape[0]} class channel on axis {axis}; soft labels need one channel per "
            "class (at least 2)",
            vol.path,
        )
    _check_values(soft, vol.path, axis)
    labels = np.argmax(soft, axis=0).astype(np.uint8 if soft.shape[0] <= 256 else np.uint16)
    spacing = vol.spacing_mm
    if spacing is not None and vol.spacing_source == "header" and len(spacing) == arr.ndim:
        spacing = tuple(s for a, s in enumerate(spacing) if a != axis)
    return Volume(labels, spacing, vol.affine, vol.path, vol.spacing_source), soft


def _check_values(soft: np.ndarray, path: str, axis: int) -> None:
    flat = soft.reshape(soft.shape[0], -1)
    lo, hi = float(np.min(flat)), float(np.max(flat))
    if not (np.isfinite(lo) and np.isfinite(hi)):
        raise InputError("@gt_type soft: GT has NaN or infinite values; soft labels are probabilities", path)
    if lo < -RANGE_TOL or hi > 1 + RANGE_TOL:
        raise InputError(
            f"@gt_type soft: GT values span {lo:g} .. {hi:g}; soft labels are probabilities in [0, 1]", path
        )
    sums = np.asarray(np.sum(flat, axis=0, dtype=np.float64))
    worst = int(np.argmax(np.abs(sums - 1.0)))
    if abs(sums[worst] - 1.0) > SUM_TOL:
        raise InputError(
            f"@gt_type soft: GT probabilities sum to {sums[worst]:.6g} over the classes (axis {axis}) at voxel "
            f"{np.unravel_index(worst, soft.shape[1:])}; soft labels sum to 1 (within {SUM_TOL:g})",
            path,
        )


def check_pair(kind: str, n_channels: Optional[int], gt: Volume, ignore_label: Optional[int]) -> list[str]:
    """Refuse a soft GT with a PRED or option it cannot go with; the note to show otherwise."""
    soft = gt.soft
    if soft is None:
        return []
    if kind not in ("probs", "logits"):
        raise UsageError(
            f"@gt_type soft needs PRED as class probabilities or logits (@pred_type probs or logits), not {kind}"
        )
    if ignore_label is not None:
        raise UsageError("@gt_type soft has no label values to ignore; drop @ignore_label")
    if n_channels != soft.shape[0]:
        raise InputError(
            f"@gt_type soft: GT has {soft.shape[0]} class channels but PRED has {n_channels}; give one per class on both",
            gt.path,
        )
    if tuple(soft.shape[1:]) != tuple(gt.array.shape):
        raise AssertionError("soft GT and its argmax differ in shape")
    return [NOTE]
