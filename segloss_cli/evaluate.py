"""Orchestration: load one pair, check it, compute what was asked, return a CaseResult.

Flow: io (GT first, then PRED against it) -> label validation, which for two integer label
maps is one pass that also counts overlap -> geometry check -> class set -> (a confusion
pass when validation could not count) -> overlap metrics (formulas over counts) -> surface metrics (only if selected) ->
losses (only if selected) -> empty-mask policy -> CaseResult. Nothing here formats output.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, NamedTuple, Optional

import numpy as np

from . import __version__
from .classes import ClassSet, resolve_classes
from .errors import InputError, UsageError
from .io.geometry import check_same_grid
from .io.prediction import (
    LoadOptions,
    integral_labels,
    label_prediction,
    load_scores,
    read_gt,
    read_prediction,
    validate_label_map,
)
from .io.readers import case_id
from .metrics.overlap import LabelHistograms, label_histograms
from .metrics.registry import all_metrics
from .model import CaseResult, ClassResult, Prediction, Volume


@dataclass(frozen=True)
class EvalOptions:
    metrics: tuple[str, ...]
    load: LoadOptions = field(default_factory=LoadOptions)
    labels: Optional[tuple[int, ...]] = None
    include_background: bool = False
    label_names: dict[int, str] = field(default_factory=dict)
    empty_policy: str = "worst"  # worst | nan
    worst_distance_mm: Optional[float] = None
    # Surface-distance options (used only when a surface metric is selected).
    hd_percentile: float = 95.0
    hd_mode: str = "max"  # max | pooled
    nsd_tolerance_mm: float = 1.0
    nsd_tolerance_per_label: dict[int, float] = field(default_factory=dict)
    # Losses: names and their parameters (used only when a loss is selected).
    losses: tuple[str, ...] = ()
    loss_params: dict[str, Any] = field(default_factory=dict)
    # True when --losses was not given: losses.default_losses(PRED kind) decides per case
    # (every non-Lovasz loss for probability/logit maps, none for label maps).
    losses_default: bool = False

    def settings(self) -> dict[str, Any]:
        """What the run used, recorded in JSON so a result file explains itself."""
        specs = all_metrics()
        out: dict[str, Any] = {
            "metrics": list(self.metrics),
            "losses": "default" if (self.losses_default and not self.losses) else list(self.losses),
            "pred_type": self.load.pred_type,
            "channel_axis": self.load.channel_axis,
            "threshold": self.load.threshold,
            "labels": None if self.labels is None else [str(v) for v in self.labels],
            "include_background": self.include_background,
            "ignore_label": self.load.ignore_label,
            "empty_policy": self.empty_policy,
            "spacing_option_mm": None if self.load.spacing_mm is None else list(self.load.spacing_mm),
        }
        if any(specs[m].family == "surface" for m in self.metrics if m in specs):
            out.update(
                # `--spacing 1` is how numpy inputs ask for voxel units (conventions.md): say so.
                distance_unit="voxel" if self.load.spacing_mm and all(v == 1 for v in self.load.spacing_mm) else "mm",
                hd_percentile=self.hd_percentile,
                hd_mode=self.hd_mode,
                nsd_tolerance_mm=self.nsd_tolerance_mm,
                nsd_tolerance_per_label_mm={str(k): v for k, v in sorted(self.nsd_tolerance_per_label.items())},
                worst_distance_mm=self.worst_distance_mm,
            )
        if self.losses or self.losses_default:
            from .losses.registry import param_values

            params = param_values(dict(self.loss_params))
            w = params["weights"]
            params["weights"] = None if w is None else ({str(k): v for k, v in w.items()} if isinstance(w, dict) else list(w))
            out["loss_params"] = params
            out["renormalize"] = self.load.renormalize
        return out


def class_status(n_pred: int, n_gt: int) -> str:
    if n_pred == 0 and n_gt == 0:
        return "both_empty"
    if n_gt == 0:
        return "gt_empty"
    if n_pred == 0:
        return "pred_empty"
    return "ok"


def worst_distance_mm(gt: Volume, spacing_mm, override: Optional[float]) -> float:
    """Diagonal of the GT field of view in mm: no two voxels of the image are further apart."""
    if override is not None:
        return float(override)
    return float(math.sqrt(sum((n * s) ** 2 for n, s in zip(gt.array.shape, spacing_mm))))


class LoadedPair(NamedTuple):
    pred: Prediction
    gt: Volume
    classes: ClassSet
    # Label histograms from the one pass that validated a label-map pair; they hold the
    # overlap counts, so evaluate_loaded needs no second pass. None on the general path.
    histograms: Optional[LabelHistograms] = None


def load_pair(pred_path: str, gt_path: str, opts: EvalOptions) -> LoadedPair:
    """Read and validate both files.

    Two integer label maps of one shape (the usual case) are validated by one pass over
    both that also counts every label (metrics.overlap.label_histograms). Anything else, or
    a value that pass cannot tabulate (negative, >= 65536), takes the general path: each
    map scanned on its own (which names the problem), overlap counted later.
    """
    gt = read_gt(gt_path, opts.load)
    pred_vol, kind = read_prediction(pred_path, gt, opts.load)
    histograms = None
    if kind == "labels":
        gt = gt.with_array(integral_labels(gt.array, gt.path, "GT"))
        pred_vol = pred_vol.with_array(integral_labels(pred_vol.array, pred_vol.path, "PRED"))
        histograms = label_histograms(pred_vol.array, gt.array, opts.load.ignore_label)
        if histograms is None:
            gt_arr, gt_present = validate_label_map(gt.array, gt.path, "GT", opts.load.ignore_label)
            p_arr, pred_present = validate_label_map(pred_vol.array, pred_vol.path, "PRED", None)
            gt, pred_vol = gt.with_array(gt_arr), pred_vol.with_array(p_arr)
        else:
            gt_present, pred_present = histograms.gt_present(), histograms.pred_present()
        pred = label_prediction(pred_vol)
    else:
        gt_arr, gt_present = validate_label_map(gt.array, gt.path, "GT", opts.load.ignore_label)
        gt = gt.with_array(gt_arr)
        pred = load_scores(pred_vol, gt, kind, opts.load)
    check_same_grid(pred.volume, pred.labels.shape, gt)
    _check_unused_spacing_option(pred, gt, opts)
    _require_spacing(pred, gt, opts)  # before any computation, not after the overlap pass
    if pred.scores is not None:
        k = max(pred.n_channels, 2)
        bad = [int(v) for v in gt_present if v >= k and v != opts.load.ignore_label]
        if bad:
            raise InputError(
                f"GT has label {bad[0]} but the prediction has {k} classes (0..{k - 1}); "
                "the class axis must have one channel per label",
                gt.path,
            )
        present = gt_present
    else:
        present = np.union1d(gt_present, pred_present)
    return LoadedPair(pred, gt, case_classes(pred.n_channels, present, opts), histograms)


def case_classes(n_channels, present: np.ndarray, opts: EvalOptions) -> ClassSet:
    """The class set of one case under the run's class options (--labels, background, ...)."""
    return resolve_classes(
        n_channels=n_channels,
        present=present,
        requested=opts.labels,
        include_background=opts.include_background,
        ignore_label=opts.load.ignore_label,
        names=opts.label_names,
    )


def _check_unused_spacing_option(pred: Prediction, gt: Volume, opts: EvalOptions) -> None:
    """``--spacing`` on two NIfTI files is used by neither: it must agree with their header.

    (With one numpy input the option is that file's spacing and the grid check compares it.)
    """
    option = opts.load.spacing_mm
    if not option or "option" in (pred.volume.spacing_source, gt.spacing_source) or gt.spacing_mm is None:
        return
    want = tuple(option) * len(gt.spacing_mm) if len(option) == 1 else tuple(option)
    if len(want) != len(gt.spacing_mm) or not np.allclose(want, gt.spacing_mm, rtol=0, atol=1e-4):
        raise UsageError(
            f"--spacing {','.join(f'{v:g}' for v in option)} disagrees with the header spacing "
            f"{tuple(round(float(v), 6) for v in gt.spacing_mm)} mm of {gt.path}; --spacing is for .npy/.npz "
            "inputs: drop it for NIfTI files (or fix their headers)"
        )


def _require_spacing(pred: Prediction, gt: Volume, opts: EvalOptions) -> None:
    """Distance metrics on numpy inputs without --spacing: an error naming the file, never 1 mm guessed."""
    specs = all_metrics()
    if _spacing(pred, gt) is None and any(specs[m].family == "surface" for m in opts.metrics if m in specs):
        raise InputError(
            "distance metrics need voxel spacing and numpy inputs carry none; pass --spacing "
            "(e.g. --spacing 1 for voxel units) or skip them with --metrics overlap",
            gt.path,
        )


def evaluate_pair(pred_path: str, gt_path: str, opts: EvalOptions, *, case: Optional[str] = None) -> CaseResult:
    pair = load_pair(pred_path, gt_path, opts)
    return evaluate_loaded(pair.pred, pair.gt, pair.classes, opts, case=case or case_id(gt_path),
                           histograms=pair.histograms)


def _spacing(pred: Prediction, gt: Volume):
    return gt.spacing_mm if gt.spacing_mm is not None else pred.volume.spacing_mm


def evaluate_loaded(
    pred: Prediction,
    gt: Volume,
    classes: ClassSet,
    opts: EvalOptions,
    *,
    case: str,
    histograms: Optional[LabelHistograms] = None,
) -> CaseResult:
    from .metrics.overlap import confusion

    specs = all_metrics()
    spacing = _spacing(pred, gt)
    labels = np.asarray(classes.reported, dtype=np.int64)
    if histograms is not None:
        counts = histograms.counts(labels, ignore_label=opts.load.ignore_label, spacing_mm=spacing)
    else:
        counts = confusion(pred.labels, gt.array, labels, ignore_label=opts.load.ignore_label, spacing_mm=spacing)
    statuses = [class_status(int(p), int(g)) for p, g in zip(counts.n_pred, counts.n_gt)]

    values: dict[str, np.ndarray] = {}
    surface = [m for m in opts.metrics if specs[m].family == "surface"]
    for name in opts.metrics:
        spec = specs[name]
        if spec.family == "confusion":
            values[name] = np.asarray(spec.compute(counts))
    worst = None
    if surface:
        _require_spacing(pred, gt, opts)
        from .metrics.distance import surface_metrics

        values.update(surface_metrics(pred.labels, gt.array, labels, spacing_mm=spacing, names=surface, opts=opts,
                                      ignore_label=opts.load.ignore_label))
        worst = worst_distance_mm(gt, spacing, opts.worst_distance_mm)

    rows = []
    for i, label in enumerate(classes.reported):
        status = statuses[i]
        metrics: dict[str, Any] = {}
        for name in opts.metrics:
            spec = specs[name]
            metrics[name] = _apply_empty_rule(spec, values[name][i], status, opts.empty_policy, worst)
        rows.append(ClassResult(int(label), classes.name(int(label)), status, metrics))

    losses = {}
    if opts.losses or opts.losses_default:
        from .losses import compute_losses

        losses = compute_losses(pred, gt, classes, opts)
    return CaseResult(
        case=case,
        pred=pred.volume.path,
        gt=gt.path,
        spacing_mm=None if spacing is None else tuple(float(s) for s in spacing),
        classes=tuple(rows),
        losses=losses,
    )


def _apply_empty_rule(spec, value, status: str, policy: str, worst: Optional[float]):
    """The value conventions.md reports for this status; None means undefined (JSON null)."""
    if spec.empty_rule in ("similarity", "distance") and status != "ok":
        if policy == "nan":
            return None
        if spec.empty_rule == "similarity":
            return 1.0 if status == "both_empty" else 0.0
        return 0.0 if status == "both_empty" else worst
    if spec.integer:
        return int(value)
    v = float(value)
    return None if not math.isfinite(v) else v


def run_settings(opts: EvalOptions) -> dict[str, Any]:
    return {"segloss_version": __version__, **opts.settings()}
