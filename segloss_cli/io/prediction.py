"""GT and PRED as read: arrays as stored, their geometry checked, a score map's class axis found.

The ground truth is read first; its shape decides where a prediction's class axis is. Nothing
here reads voxel values (that is the label scan, scan.py): io returns raw volumes only.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any, Optional, Union

import numpy as np

from ..choices import GtType
from ..errors import InputError, UsageError
from ..model import PredType, Volume
from .palette import Palette
from .readers import npz_member_used, read_volume

AXES = ("auto", "xyz", "zyx")

# Voxel sizes segloss accepts (mm): 1 pm to 1,000 km. Beyond them a voxel volume or a squared
# distance overflows float64 or rounds to 0 (a --spacing 1e300 ended in NaN offsets, exit 3).
SPACING_RANGE_MM = (1e-9, 1e9)


@dataclass(frozen=True)
class LoadParams:
    """How to read PRED and GT (conventions.md, "Inputs").

    ``pred_type``: what PRED holds (auto decides only where unambiguous); ``channel_axis``:
    the class axis of a score map (default: whichever of first/last leaves the GT shape);
    ``threshold``: the foreground cut of a single sigmoid channel; ``npz_key``: the array of a
    .npz holding several; ``spacing_mm``: spacing for inputs without a header (one value for
    every axis, or one per axis); ``renormalize``: divide probabilities by their channel sum
    instead of rejecting sums off 1; ``palette``: label colours of RGB masks (io/palette.py);
    ``axes``: PRED's spatial axes as stored (``xyz``, nibabel's order), reversed (``zyx``: the
    order of SimpleITK arrays and nnU-Net's ``.npz``), or ``auto``: as stored, else reversed
    when only that fits the GT shape (see :func:`orient_prediction`).
    """

    pred_type: PredType = PredType.AUTO
    channel_axis: Optional[int] = None
    threshold: float = 0.5
    npz_key: Optional[str] = None
    spacing_mm: Optional[tuple[float, ...]] = None
    renormalize: bool = False
    palette: Optional[Palette] = None
    axes: str = "auto"
    storage_options: Optional[Mapping[str, Any]] = None  # inputs given as URLs (io/remote.py)
    gt_type: GtType = GtType.LABELS  # labels, or soft labels (io/soft_labels.py)

    @property
    def soft_gt_axis(self) -> Union[bool, int]:
        """prepare_gt's ``soft``: False for a label-map GT, else the class axis (``channel_axis``,
        as PRED's) or True for the default one (io/soft_labels.py)."""
        if self.gt_type != GtType.SOFT:
            return False
        return True if self.channel_axis is None else self.channel_axis

    @property
    def spacing_unit(self) -> str:
        """The unit of distances measured with the given spacing: ``voxel`` for a spacing of 1,
        how numpy inputs ask for voxel units (conventions.md), else ``mm``."""
        return "voxel" if self.spacing_mm and all(v == 1 for v in self.spacing_mm) else "mm"

    def __post_init__(self) -> None:
        try:
            object.__setattr__(self, "pred_type", PredType.parse(self.pred_type, "@pred_type"))
            object.__setattr__(self, "gt_type", GtType.parse(self.gt_type, "@gt_type"))
        except ValueError as exc:
            raise UsageError(str(exc)) from None
        axes = str(getattr(self.axes, "value", self.axes)).strip().lower()
        if axes not in AXES:
            raise UsageError(f"@axes must be one of {', '.join(AXES)}, not {self.axes!r}")
        object.__setattr__(self, "axes", axes)
        if not 0.0 < float(self.threshold) < 1.0:  # NaN fails too: p >= nan would be background everywhere
            raise UsageError(f"@threshold {float(self.threshold):g} must be a probability strictly between 0 and 1")
        if self.spacing_mm is not None:
            values = tuple(float(v) for v in np.asarray(self.spacing_mm, dtype=np.float64).reshape(-1))
            if not values:
                values = None  # type: ignore[assignment]
            elif any(not math.isfinite(v) or v <= 0 for v in values):
                raise UsageError("@spacing_mm values must be positive numbers (mm)")
            elif any(not SPACING_RANGE_MM[0] <= v <= SPACING_RANGE_MM[1] for v in values):
                raise UsageError(
                    f"@spacing_mm values must lie in {SPACING_RANGE_MM[0]:g} .. {SPACING_RANGE_MM[1]:g} mm (1 pm to "
                    f"1,000 km), not {next(v for v in values if not SPACING_RANGE_MM[0] <= v <= SPACING_RANGE_MM[1]):g}"
                )
            object.__setattr__(self, "spacing_mm", values)


def _drop_trailing_singletons(vol: Volume) -> Volume:
    arr = vol.array
    if arr.ndim <= 2 or arr.shape[-1] != 1:
        return vol
    while arr.ndim > 2 and arr.shape[-1] == 1:
        arr = arr[..., 0]
    spacing = vol.spacing_mm[: arr.ndim] if vol.spacing_mm is not None else None
    dropped = tuple(vol.spacing_mm[arr.ndim :]) if vol.spacing_mm is not None and vol.spacing_source == "header" else ()
    return Volume(arr, spacing, vol.affine, vol.path, vol.spacing_source, dropped)


def _fit_spacing(vol: Volume, ndim: int) -> Volume:
    """Spacing given on the command line as one value applies to every axis."""
    if vol.spacing_mm is None or vol.spacing_source != "option":
        return vol
    sp = vol.spacing_mm
    if len(sp) == 1:
        sp = sp * ndim
    if len(sp) != ndim:
        raise UsageError(
            f"@spacing_mm has {len(vol.spacing_mm)} values but the images are {ndim}-D; give {ndim} values or one"
        )
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
    if not all(SPACING_RANGE_MM[0] <= s <= SPACING_RANGE_MM[1] for s in vol.spacing_mm):
        raise InputError(
            f"{role} header has voxel spacing {tuple(float(s) for s in vol.spacing_mm)} mm, outside "
            f"{SPACING_RANGE_MM[0]:g} .. {SPACING_RANGE_MM[1]:g} mm (1 pm to 1,000 km; volumes and distances would "
            "overflow or vanish); fix the header (its units: xyzt_units)",
            vol.path,
        )


def read_gt(path: str, params: LoadParams) -> Volume:
    """Ground truth read and its geometry checked; its labels are not scanned yet."""
    vol = read_volume(
        path,
        npz_key=params.npz_key,
        spacing_mm=params.spacing_mm,
        palette=params.palette,
        storage_options=params.storage_options,
    )
    return prepare_gt(vol, channels=str(params.pred_type) in MULTILABEL, soft=params.soft_gt_axis)


MULTILABEL = ("sigmoid", "sigmoid_logits")


def prepare_gt(vol: Volume, *, channels: bool = False, soft: Union[bool, int, None] = False) -> Volume:
    """A ground truth's shape and spacing checked (a file's or an array's). With ``channels``
    (a multi-label PRED) a 4-D GT is one binary mask per channel, checked later against PRED.
    ``soft`` (not False): soft labels, the class axis ``soft`` or, for True, the default one
    (io/soft_labels.py); the Volume holds their argmax and carries them as ``soft``."""
    if soft is not False:
        from .soft_labels import split_soft

        hard, probs = split_soft(vol, None if soft is True else soft)
        return replace(prepare_gt(hard), soft=probs)
    vol = _drop_trailing_singletons(vol)
    if channels and vol.array.ndim == 4:
        return vol
    _check_spatial(vol.array, vol.path, "GT")
    vol = _fit_spacing(vol, vol.array.ndim)
    _check_header_spacing(vol, "GT")
    return vol


def read_prediction(path: str, gt: Volume, params: LoadParams) -> tuple[Volume, str]:
    """(PRED read, its kind: labels | probs | logits); a label map's labels are not scanned yet."""
    vol = read_volume(
        path,
        npz_key=params.npz_key,
        spacing_mm=params.spacing_mm,
        palette=params.palette,
        storage_options=params.storage_options,
    )
    return prepare_prediction(vol, gt, params)


def prepare_prediction(vol: Volume, gt: Volume, params: LoadParams) -> tuple[Volume, str]:
    """(PRED with its geometry checked, its kind); a file's or an array's.

    ``gt`` may be unvalidated: only its number of dimensions is used (a float PRED with one
    more axis than GT is a probability map under ``pred_type`` auto).
    """
    kind = str(params.pred_type)
    if kind in ("auto", "probs", "logits"):
        vol = _drop_spatial_singletons(vol, gt.array.ndim, params.channel_axis)
    if kind == "auto":
        arr = vol.array
        trailing_one = arr.shape[-1] == 1 and arr.ndim == gt.array.ndim + 1 and params.channel_axis is None
        # A trailing axis of length 1 is never a class axis under auto (conventions.md, Inputs):
        # a float label map stored as (x, y, 1) or (x, y, z, 1) stays a label map; a
        # one-channel score map is said with @pred_type (or stored channel-first, (1, x, y, z)).
        kind = "probs" if arr.dtype.kind == "f" and arr.ndim == gt.array.ndim + 1 and not trailing_one else "labels"
    if kind == "labels":
        vol = _drop_trailing_singletons(vol)
        _check_spatial(vol.array, vol.path, "PRED")
        vol = _fit_spacing(vol, vol.array.ndim)
        _check_header_spacing(vol, "PRED")
    return vol, kind


def _drop_spatial_singletons(vol: Volume, gt_ndim: int, channel_axis: Optional[int]) -> Volume:
    """A score map whose spatial part carries trailing singleton axes that the GT dropped
    (2-D data stored as (x, y, 1, K) or (K, x, y, 1)) without them (a view).

    The class axis is resolved against the GT's shape without its trailing singletons: the
    spatial axes are those left of a last class axis, or right of a first one; only axes of
    length 1 at the end of them go, and only when one layout alone (or @channel_axis) fits.
    The header spacing stays as read: the spatial axes kept are the first ones, which
    score_view picks.
    """
    arr = vol.array
    if arr.ndim <= gt_ndim + 1 or arr.dtype.kind != "f":
        return vol
    fits = []
    for first in (False, True):
        if channel_axis is not None and (channel_axis in (0, -arr.ndim)) != first:
            continue
        spatial = arr.shape[1:] if first else arr.shape[:-1]
        n = len(spatial)
        while n > gt_ndim and spatial[n - 1] == 1:
            n -= 1
        if n == gt_ndim:
            fits.append((first, len(spatial) - n))
    if len(fits) != 1:
        return vol  # nothing to drop, or ambiguous: the shape checks that follow say what is wrong
    first, extra = fits[0]
    keep = (slice(None),) * (arr.ndim - extra - (0 if first else 1))
    index = keep + (0,) * extra if first else keep + (0,) * extra + (slice(None),)
    sp = vol.spacing_mm
    if sp is not None and vol.spacing_source == "option" and len(sp) == arr.ndim - 1:
        sp = sp[:gt_ndim]  # --spacing given for the stored axes, as for the GT's dropped singletons
    return Volume(arr[index], sp, vol.affine, vol.path, vol.spacing_source, vol.dropped_spacing_mm)


def _channel_axis(arr: np.ndarray, gt_shape: tuple[int, ...], requested: Optional[int], path: str) -> int:
    if requested is not None:
        ax = requested + arr.ndim if requested < 0 else requested
        if not 0 <= ax < arr.ndim:
            raise UsageError(f"@channel_axis {requested} is out of range for PRED of shape {arr.shape}")
        rest = arr.shape[:ax] + arr.shape[ax + 1 :]
        if rest != gt_shape:
            raise InputError(
                f"PRED shape {arr.shape} without axis {ax} is {rest}, GT is {gt_shape}; check @channel_axis", path
            )
        return ax
    candidates = [ax for ax in sorted({0, arr.ndim - 1}) if arr.shape[:ax] + arr.shape[ax + 1 :] == gt_shape]
    if not candidates:
        raise InputError(
            f"shape mismatch: PRED {arr.shape} has no class axis that leaves the GT shape {gt_shape}; "
            "the class axis must be first or last",
            path,
        )
    if len(candidates) > 1:
        raise InputError(
            f"ambiguous class axis: PRED {arr.shape} matches GT {gt_shape} with the class axis first or last; "
            "pass @channel_axis=0 or @channel_axis=-1",
            path,
        )
    return candidates[0]


def score_view(vol: Volume, gt: Volume, kind: str, params: LoadParams) -> tuple[Volume, np.ndarray, Optional[int]]:
    """(PRED volume with spatial spacing, class-first scores view, stored class axis or None).

    The view moves the class axis first without copying (float16 is widened to float32,
    the one copy); a single channel without a class axis is a sigmoid foreground.
    """
    arr = vol.array
    if arr.dtype.kind != "f":
        raise InputError(
            f"@pred_type={kind} needs a float array, got {arr.dtype}; for a label map use @pred_type=labels", vol.path
        )
    if arr.dtype == np.float16:
        arr = arr.astype(np.float32)
    gt_shape = tuple(gt.array.shape)
    ax: Optional[int]
    if arr.ndim == len(gt_shape) and params.channel_axis is None:
        ax = None  # one sigmoid channel without a class axis
        scores = arr[np.newaxis]
    elif arr.ndim == len(gt_shape) + 1:
        ax = _channel_axis(arr, gt_shape, params.channel_axis, vol.path)
        scores = np.moveaxis(arr, ax, 0)
    else:
        raise InputError(
            f"shape mismatch: PRED {arr.shape} vs GT {gt_shape}; a {kind} map has the GT shape plus one class axis",
            vol.path,
        )
    spacing = vol.spacing_mm
    if spacing is not None and vol.spacing_source == "header":
        spatial_axes = [a for a in range(arr.ndim) if a != ax][: len(gt_shape)]
        spacing = tuple(spacing[a] for a in spatial_axes if a < len(spacing))
        if len(spacing) != len(gt_shape):
            spacing = None
    vol = Volume(arr, spacing, vol.affine, vol.path, vol.spacing_source)
    vol = _fit_spacing(vol, len(gt_shape))
    _check_header_spacing(vol, "PRED")
    if 0 in arr.shape:
        raise InputError(
            f"PRED has a zero-size dimension {tuple(arr.shape)}; the image is empty, re-export it", vol.path
        )
    return vol, scores, ax


def orient_prediction(vol: Volume, kind: str, gt: Volume, params: LoadParams) -> tuple[Volume, tuple[str, ...]]:
    """(PRED with its spatial axes in GT's order, notes), from ``params.axes``.

    ``xyz`` keeps the array as stored; ``zyx`` reverses its spatial axes (a class axis stays
    where it is; the header spacing and the affine's columns follow); ``auto`` keeps it as
    stored when that fits the GT shape, else reverses it when only that fits (a note says
    so), else leaves the mismatch to the shape checks. A reversal is a view, never a copy.
    An nnU-Net ``.npz`` (key ``probabilities``, stored (C, z, y, x)) against a GT whose
    shape reads the same reversed (a cube, 96x128x96) cannot be told apart by shape: that is
    an error naming ``@axes``.
    """
    arr = vol.array
    gt_shape = tuple(gt.array.shape)
    nd = len(gt_shape)
    if arr.ndim == nd and (kind == "labels" or params.channel_axis is None):
        candidates: list[Optional[int]] = [None]
    elif arr.ndim == nd + 1 and kind != "labels":
        if params.channel_axis is not None:
            ax = params.channel_axis + arr.ndim if params.channel_axis < 0 else params.channel_axis
            if not 0 <= ax < arr.ndim:
                return vol, ()  # score_view names the bad @channel_axis
            candidates = [ax]
        else:
            candidates = [0, arr.ndim - 1]
    else:
        return vol, ()

    def rest(ax: Optional[int]) -> tuple[int, ...]:
        shape = tuple(arr.shape)
        return shape if ax is None else shape[:ax] + shape[ax + 1 :]

    stored = [ax for ax in candidates if rest(ax) == gt_shape]
    flipped = [ax for ax in candidates if rest(ax)[::-1] == gt_shape]
    shown = f"PRED {tuple(arr.shape)}"
    if params.axes == "xyz":
        if not stored and flipped:
            raise InputError(
                f"{shown} holds the GT shape {gt_shape} with its spatial axes reversed (z, y, x, as nnU-Net and "
                "SimpleITK store arrays); pass @axes=zyx to read it so",
                vol.path,
            )
        return vol, ()
    if params.axes == "zyx":
        if not flipped:
            hint = "; it fits as stored: drop @axes=zyx" if stored else ""
            raise InputError(
                f"@axes=zyx: {shown} with its spatial axes reversed does not fit the GT shape {gt_shape}{hint}",
                vol.path,
            )
        if len(flipped) > 1:
            raise InputError(_ambiguous(shown, gt_shape, "reversed "), vol.path)
        return _reversed(vol, flipped[0]), ()
    nnunet = vol.path.lower().endswith(".npz") and npz_member_used(vol.path, params.npz_key) == "probabilities"
    if stored:
        if nnunet and flipped:
            raise InputError(
                f"{shown} is an nnU-Net probability array (key 'probabilities', stored (C, z, y, x)) and the GT "
                f"shape {gt_shape} reads the same reversed, so its axis order cannot be told from the shapes; "
                "pass @axes=zyx (nnU-Net's order) or @axes=xyz (as stored)",
                vol.path,
            )
        return vol, ()
    if not flipped:
        return vol, ()
    if len(flipped) > 1:
        raise InputError(_ambiguous(shown, gt_shape, "reversed "), vol.path)
    source = "nnU-Net's (C, z, y, x)" if nnunet else "z, y, x, as SimpleITK and nnU-Net store arrays"
    note = (
        f"PRED {tuple(arr.shape)} fits the GT shape {gt_shape} only with its spatial axes reversed ({source}); "
        "it is read reversed: pass @axes=zyx to say so"
    )
    return _reversed(vol, flipped[0]), (note,)


def _ambiguous(shown: str, gt_shape: tuple[int, ...], how: str) -> str:
    return (
        f"ambiguous class axis: {shown} fits the GT shape {gt_shape} {how}with the class axis first or last; "
        "pass @channel_axis=0 or @channel_axis=-1"
    )


def _reversed(vol: Volume, class_axis: Optional[int]) -> Volume:
    """``vol`` with its spatial axes in reverse order (a transposed view); header spacing and
    the affine's voxel axes follow, so the grid check compares like with like."""
    arr = vol.array
    spatial = [a for a in range(arr.ndim) if a != class_axis]
    order = list(range(arr.ndim))
    for a, b in zip(spatial, reversed(spatial)):
        order[a] = b
    spacing = vol.spacing_mm
    if spacing is not None and vol.spacing_source == "header":
        if all(order[a] < len(spacing) for a in range(len(spacing))):
            spacing = tuple(spacing[order[a]] for a in range(len(spacing)))
        else:
            spacing = None
    affine = vol.affine
    n_grid = min(3, arr.ndim)
    if affine is not None and all(order[a] < n_grid for a in range(n_grid)):
        affine = affine.copy()
        affine[:, :n_grid] = vol.affine[:, [order[a] for a in range(n_grid)]]  # type: ignore[index]
    return replace(vol, array=arr.transpose(order), spacing_mm=spacing, affine=affine)
