"""Multi-label (sigmoid) predictions: one independent probability per channel.

``--pred-type sigmoid`` (probabilities) or ``sigmoid_logits``: PRED has C channels, each its own
binary problem, channels may overlap (MONAI ``sigmoid=True``, SMP ``multilabel`` mode, nnU-Net's
region-based training). Channel c's GT mask is one of:

- a multi-channel binary GT of PRED's shape (0/1 per channel, the class axis where PRED's is);
- a label map with regions (``--region`` / a dataset.json): channel c is the c-th region, its
  mask the label being in the region;
- a label map without regions: channel c is label c (one-vs-rest).

Channel c's prediction mask is ``p_c >= threshold`` (for logits, the logit of the threshold).
Every metric is that of the binary pair of its channel; every loss is the loss of the single
sigmoid channel (so dice is MONAI's DiceLoss(sigmoid=True) per channel, bce and binary_focal
their sigmoid forms), and a loss's value is the mean over the reported channels (MONAI's mean
reduction). Channel 0 is reported only with include_background (as MONAI), unless the channels
are regions. Per-class loss weights do not apply (each channel is its own two-class problem).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Optional

import numpy as np

from .errors import InputError, UsageError
from .model import CaseResult, ClassResult, ConfusionCounts, LossResult, Prediction, Volume

if TYPE_CHECKING:  # pragma: no cover
    from .evaluate import EvalParams

IGNORED = np.uint8(2)  # the ignore value of a channel's binary GT


@dataclass(frozen=True)
class MultiLabelPair:
    """A read multi-label pair: scores (C, *S) as stored (a view), per-channel masks on demand."""

    scores: np.ndarray
    logits: bool
    gt: np.ndarray  # (C, *S) binary, or a label map of shape S
    gt_channels: bool
    pred_volume: Volume
    gt_volume: Volume
    keys: tuple[int | str, ...]  # per channel: its index, or its region's name
    regions: tuple[tuple[int, ...], ...]  # per channel: region labels (label-map GT with regions)
    reported: tuple[int, ...]  # channel indices with a row
    spacing_mm: Optional[tuple[float, ...]]

    def pred_mask(self, c: int, threshold: float) -> np.ndarray:
        cut = float(np.log(threshold) - np.log1p(-threshold)) if self.logits else threshold
        return (self.scores[c] >= cut).view(np.uint8)

    def gt_mask(self, c: int, ignore_label: Optional[int]) -> np.ndarray:
        if self.gt_channels:
            return np.ascontiguousarray(self.gt[c], dtype=np.uint8)
        members = self.regions[c] if self.regions else (int(self.keys[c]),)
        mask = np.isin(self.gt, np.asarray(members, dtype=np.int64)).astype(np.uint8)
        if ignore_label is not None:
            mask[self.gt == ignore_label] = IGNORED
        return mask


def scan_multilabel(pred_vol: Volume, kind: str, gt: Volume, params: EvalParams) -> MultiLabelPair:
    """Check a multi-label pair: the class axis, finite scores (probabilities in [0, 1]), a
    binary multi-channel GT or a label map, and which channel is which class."""
    from .io.geometry import check_same_grid
    from .io.prediction import score_view
    from .scan import check_ignore_label, validate_label_map

    arr = pred_vol.array
    if arr.dtype.kind != "f":
        raise InputError(f"@pred_type={kind} needs a float array of scores, got {arr.dtype}", pred_vol.path)
    gt_channels = gt.array.ndim == arr.ndim
    spatial_gt = gt
    if gt_channels:  # a binary mask per channel: its class axis where PRED's is
        ax = _class_axis(arr.shape, gt.array.shape, params.load.channel_axis, pred_vol.path)
        gt_arr = np.moveaxis(gt.array, ax, 0)
        if gt_arr.dtype.kind not in "biuf" or not np.isin(np.unique(gt_arr), (0, 1)).all():
            raise InputError(
                "a multi-channel GT holds one binary mask per channel (0/1); give a label map instead, or fix the file",
                gt.path,
            )
        spacing = None if gt.spacing_mm is None else tuple(s for i, s in enumerate(gt.spacing_mm) if i != ax)
        spatial_gt = Volume(gt_arr[0], spacing[: gt_arr.ndim - 1] if spacing else None, gt.affine, gt.path,
                            gt.spacing_source)  # fmt: skip
        gt_data = gt_arr
    else:
        check_ignore_label(gt.array.dtype, params.ignore_label, gt.path)
        gt_data, _ = validate_label_map(gt.array, gt.path, "GT", params.ignore_label)
        spatial_gt = gt.with_array(gt_data)
    vol, scores, _ = score_view(pred_vol, spatial_gt, "probs" if kind == "sigmoid" else "logits", params.load)
    check_same_grid(vol, scores.shape[1:], spatial_gt)
    lo, hi = float(np.min(scores)), float(np.max(scores))
    if not (np.isfinite(lo) and np.isfinite(hi)):
        raise InputError("PRED has NaN/Inf scores; fix the model output", vol.path)
    if kind == "sigmoid" and (lo < 0.0 or hi > 1.0):
        raise InputError(
            f"sigmoid probabilities outside [0, 1] (min {lo:.4g}, max {hi:.4g}); if these are logits pass "
            "@pred_type=sigmoid_logits",
            vol.path,
        )
    if not 0.0 < params.load.threshold < 1.0:
        raise UsageError(f"@threshold {params.load.threshold:g} must be a probability strictly between 0 and 1")
    n = scores.shape[0]
    if gt_channels and gt_data.shape[0] != n:
        raise InputError(f"GT has {gt_data.shape[0]} channels but PRED {n}; give one mask per channel", gt.path)
    selection = params.classes
    regions = tuple(r.labels for r in selection.regions)
    if regions:
        if len(regions) != n:
            raise InputError(
                f"{len(regions)} regions for {n} sigmoid channels; give one region per channel, in channel order",
                vol.path,
            )
        keys: tuple[int | str, ...] = tuple(r.name for r in selection.regions)
        reported = tuple(range(n))
    else:
        keys = tuple(range(n))
        wanted = set(range(n)) if selection.labels is None else {int(v) for v in selection.labels}
        bad = sorted(v for v in wanted if v >= n)
        if bad:
            raise UsageError(f"@labels {bad[0]} is outside the prediction's {n} channels (0..{n - 1})")
        reported = tuple(
            c for c in range(n) if c in wanted and c != selection.ignore_label and (selection.include_background or c)
        )
    if params.losses.values.get("weights") is not None:
        raise UsageError("@weights do not apply to a sigmoid (multi-label) prediction: each channel is its own problem")
    spacing_mm = spatial_gt.spacing_mm if spatial_gt.spacing_mm is not None else vol.spacing_mm
    return MultiLabelPair(scores, kind == "sigmoid_logits", gt_data, gt_channels, vol, spatial_gt, keys, regions,
                          reported, spacing_mm)  # fmt: skip


def _class_axis(pred_shape, gt_shape, requested: Optional[int], path: str) -> int:
    if pred_shape != gt_shape:
        raise InputError(
            f"shape mismatch: PRED {tuple(pred_shape)} vs multi-channel GT {tuple(gt_shape)}; they must match", path
        )
    if requested is not None:
        return requested % len(pred_shape)
    return 0 if len(pred_shape) >= 3 else len(pred_shape) - 1


def evaluate_multilabel(pair: MultiLabelPair, params: EvalParams, *, case: str) -> CaseResult:
    """Every metric and loss of every reported channel, each channel a binary pair."""
    from .classes import ClassSet
    from .evaluate import missing_spacing, worst_distance_mm
    from .metrics.distance import surface_metrics
    from .metrics.overlap import confusion
    from .metrics.registry import all_metrics, apply_empty_rule, apply_empty_values, class_status

    specs = all_metrics()
    ignore = params.ignore_label if not pair.gt_channels else None
    ignored = int(IGNORED) if ignore is not None else None
    spacing = pair.spacing_mm
    surface = [m for m in params.metrics if specs[m].family == "surface"]
    if surface and spacing is None:
        raise missing_spacing(pair.gt_volume.path)
    lesion = [m for m in params.metrics if specs[m].family == "lesion"]
    if lesion:  # per channel, on its binary pair (p_c >= threshold and its GT mask)
        from .metrics.lesion import MM_METRICS, lesion_metrics

        if spacing is None and set(lesion) & MM_METRICS:
            raise missing_spacing(pair.gt_volume.path)
    names = params.losses.for_kind("probs")
    if names and params.loss_reduction == "batch":
        raise UsageError("@reduction batch is not implemented for sigmoid (multi-label) predictions")
    rows: list[ClassResult] = []
    per_loss: dict[str, list[tuple[int | str, Optional[float]]]] = {n: [] for n in names}
    n_counted = int(np.prod(pair.gt_volume.array.shape))
    loss_params: dict[str, Any] = {}
    worst = worst_distance_mm(pair.gt_volume, spacing, params.surface.worst_distance_mm) if surface else None
    for c in pair.reported:
        pm, gm = pair.pred_mask(c, params.load.threshold), pair.gt_mask(c, ignore)
        counts = confusion(pm, gm, [1], ignore_label=ignored, spacing_mm=spacing)
        n_counted = counts.n
        status = class_status(int(counts.n_pred[0]), int(counts.n_gt[0]))
        values = {m: np.asarray(specs[m].compute(counts))[0] for m in params.metrics if specs[m].family == "confusion"}  # type: ignore[misc]
        shape = [m for m in params.metrics if specs[m].family == "shape"]
        if shape:
            from .metrics.shape import shape_metrics

            if "com_distance" in shape and spacing is None:
                raise missing_spacing(pair.gt_volume.path)
            got_shape = shape_metrics(pm, gm, [1], names=shape, spacing_mm=spacing, ignore_label=ignored,
                                      boundary_iou_ratio=params.surface.boundary_iou_ratio)  # fmt: skip
            values.update({m: got_shape[m][0] for m in shape})
            if "com_distance" in shape and worst is None:
                worst = worst_distance_mm(pair.gt_volume, spacing, params.surface.worst_distance_mm)
        if any(specs[m].family == "case" for m in params.metrics):  # a channel is a 2-class case
            both = confusion(pm, gm, [0, 1], ignore_label=ignored)
            values.update({m: specs[m].compute(both) for m in params.metrics if specs[m].family == "case"})  # type: ignore[misc]
        if surface:
            got = surface_metrics(pm, gm, [1], spacing_mm=spacing, names=surface, params=params.surface,
                                  ignore_label=ignored)  # fmt: skip
            values.update({m: got[m][0] for m in surface})
        if lesion:
            got_lesion = lesion_metrics(pm, gm, [1], names=lesion, spacing_mm=spacing or (1.0,) * pm.ndim,
                                        params=params.lesion, surface=params.surface, ignore_label=ignored)  # fmt: skip
            for m in lesion:  # volumes without a spacing are undefined (counts need none)
                values[m] = np.nan if spacing is None and m in ("fp_vol_ml", "fn_vol_ml") else got_lesion[m][0]
        metrics = {m: apply_empty_rule(specs[m], values[m], status, params.empty_policy, worst) for m in params.metrics}
        if params.empty_values and status != "ok":
            apply_empty_values(metrics, status, params.empty_by_status, worst)
        tally = ConfusionCounts(int(counts.tp[0]), int(counts.fp[0]), int(counts.fn[0]), int(counts.tn[0]))
        key = pair.keys[c]
        name = params.classes.names.get(key) if isinstance(key, int) else None
        rows.append(ClassResult(key, name, status, metrics, tally))
        if names:
            from .losses import compute_losses

            channel = Prediction("logits" if pair.logits else "probs", pm, pair.scores[c : c + 1], pair.pred_volume)
            got_losses = compute_losses(channel, pair.gt_volume.with_array(gm), ClassSet((0, 1), (1,), {}),
                                        params.losses, names=names, ignore_label=ignored)  # fmt: skip
            for n, res in got_losses.items():
                per_loss[n].append((key, res.per_class.get(1, res.value)))
                loss_params[n] = res.params
    losses = {}
    for n, items in per_loss.items():
        defined = [v for _, v in items if v is not None]
        value = float(np.mean(defined)) if defined else None
        losses[n] = LossResult(n, value, dict(items), {**loss_params.get(n, {}), "reduction": "mean over channels"})
    return CaseResult(
        case=case,
        pred=pair.pred_volume.path,
        gt=pair.gt_volume.path,
        spacing_mm=None if spacing is None else tuple(float(s) for s in spacing),
        classes=tuple(rows),
        losses=losses,
        distance_unit=params.load.spacing_unit,
        n_voxels=n_counted,
    )
