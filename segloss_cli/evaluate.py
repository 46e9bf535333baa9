"""Orchestration of one case, and of a run's result from its cases.

One case: io (GT first, then PRED against it) -> label scan, which for two integer label maps
is one pass that also counts overlap -> geometry check -> class set -> (a confusion pass when
the scan could not count) -> overlap metrics (formulas over counts) -> surface metrics (only
if selected) -> losses (only if selected) -> empty-mask policy -> CaseResult.

A run: cases -> summary, worst cases (folders), settings -> RunResult. Nothing here formats
output or picks an exit code.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, NamedTuple, Optional

import numpy as np

from . import __version__
from .choices import PooledMeans
from .classes import ClassSelection, ClassSet, resolve_classes
from .errors import InputError, UsageError
from .io.geometry import check_same_grid
from .io.prediction import LoadParams, orient_prediction, read_gt, read_prediction, score_view
from .io.readers import case_id
from .io.soft_labels import check_pair as check_soft_pair
from .losses.registry import LossParams
from .metrics.params import SurfaceParams
from .metrics.registry import (
    all_metrics,
    apply_empty_rule,
    apply_empty_values,
    class_status,
    empty_values_by_status,
    parse_empty_values,
    recorded_empty_values,
)
from .model import (
    CaseResult,
    ClassResult,
    ConfusionCounts,
    EmptyPolicy,
    PairingSummary,
    Prediction,
    PredType,
    RunResult,
    Volume,
)
from .scan import (
    LabelHistograms,
    check_ignore_label,
    integral_labels,
    joint_label_table,
    label_histograms,
    label_prediction,
    scan_scores,
    validate_label_map,
)

if TYPE_CHECKING:  # pragma: no cover
    from .aggregate import RunningSummary


@dataclass(frozen=True)
class EvalParams:
    """Everything that decides a case's numbers, one record per domain.

    ``metrics``: registry names, in registry order (``metrics.registry.select``).
    """

    metrics: tuple[str, ...]
    load: LoadParams = field(default_factory=LoadParams)
    classes: ClassSelection = field(default_factory=ClassSelection)
    empty_policy: EmptyPolicy = EmptyPolicy.WORST
    surface: SurfaceParams = field(default_factory=SurfaceParams)
    losses: LossParams = field(default_factory=lambda: LossParams(names=()))
    # metrics.lesion.LesionParams, made lazily: importing metrics.lesion registers its metrics,
    # which must come after the overlap and surface ones in the registry's order.
    lesion: Any = field(default_factory=lambda: _default_lesion())
    # Per-metric empty-case values over the policy's rule (metrics.registry.parse_empty_values):
    # metric -> status -> value; empty: the policy alone (the default).
    empty_values: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    # The --convention's provenance block (conventions.provenance), None without one.
    convention: Optional[Mapping[str, Any]] = None
    # Losses of a run: "case" (each case's, summarised over cases) or "batch" (also the losses
    # of every case's sums added, in the summary's pooled block: MONAI batch=True).
    loss_reduction: str = "case"
    # The classes the pooled means average over (choices.PooledMeans): mmsegmentation's or torchmetrics'.
    pooled_means: PooledMeans = PooledMeans.MMSEG

    def __post_init__(self) -> None:
        try:
            object.__setattr__(self, "empty_policy", EmptyPolicy.parse(self.empty_policy, "@empty_policy"))
            object.__setattr__(self, "pooled_means", PooledMeans.parse(self.pooled_means, "@pooled_means"))
        except ValueError as exc:
            raise UsageError(str(exc)) from None
        object.__setattr__(self, "metrics", tuple(self.metrics))
        object.__setattr__(self, "empty_values", parse_empty_values(self.empty_values or None))
        if self.loss_reduction not in ("case", "batch"):
            raise UsageError(f"@reduction must be case or batch, not {self.loss_reduction!r}")
        if self.loss_reduction == "batch":
            from .losses.registry import LOSSES

            lovasz = [n for n in self.losses.names or () if LOSSES[n].family != "sum"]
            if lovasz:
                raise UsageError(
                    f"@reduction batch: {lovasz[0]} sorts the errors of every voxel and cannot be pooled from "
                    "sums over a folder; use segloss_cli.score_batch for arrays, or drop it"
                )

    @property
    def empty_by_status(self) -> dict[str, dict[str, Any]]:
        """status -> metric -> value of :attr:`empty_values` ({} without any)."""
        return empty_values_by_status(self.empty_values) if self.empty_values else {}

    @property
    def ignore_label(self) -> Optional[int]:
        return self.classes.ignore_label

    def wants_surface(self) -> bool:
        specs = all_metrics()
        return any(specs[m].family == "surface" for m in self.metrics if m in specs)

    def settings(self) -> dict[str, Any]:
        """What the run used, recorded in JSON so a result file explains itself."""
        load, cls, surf = self.load, self.classes, self.surface
        out: dict[str, Any] = {
            "metrics": list(self.metrics),
            "losses": "default" if self.losses.names is None else list(self.losses.names),
            "pred_type": str(load.pred_type),
            "channel_axis": load.channel_axis,
            "threshold": load.threshold,
            **({"axes": load.axes} if load.axes != "auto" else {}),
            **({"gt_type": str(load.gt_type)} if str(load.gt_type) != "labels" else {}),  # soft labels
            "labels": None if cls.labels is None else [str(v) for v in cls.labels],
            **({"regions": {r.name: list(r.labels) for r in cls.regions}} if cls.regions else {}),
            **({"label_names_from": cls.names_from} if cls.names_from else {}),
            "include_background": cls.include_background,
            "ignore_label": cls.ignore_label,
            "empty_policy": str(self.empty_policy),
            **({"empty_values": recorded_empty_values(self.empty_values)} if self.empty_values else {}),
            "spacing_option_mm": None if load.spacing_mm is None else list(load.spacing_mm),
        }
        if self.wants_surface():
            out.update(
                # `--spacing 1` is how numpy inputs ask for voxel units (conventions.md): say so.
                # (Images without a spacing measure in pixels: assemble_run says so from the cases.)
                distance_unit=load.spacing_unit,
                hd_percentile=surf.hd_percentile,
                hd_mode=str(surf.hd_mode),
                nsd_tolerance_mm=surf.nsd_tolerance_mm,
                nsd_tolerance_per_label_mm={str(k): v for k, v in sorted(surf.nsd_tolerance_per_label.items())},
                worst_distance_mm=surf.worst_distance_mm,
            )
            if str(surf.surface) != "voxel":  # recorded when not the default: default outputs unchanged
                out["surface"] = str(surf.surface)
            if str(surf.assd_mode) != "pooled":  # recorded only when set: no default output changes
                out["assd_mode"] = str(surf.assd_mode)
            if str(surf.distance_metric) != "euclidean":  # recorded only when set
                out["distance_metric"] = str(surf.distance_metric)
        if self.pooled_means != PooledMeans.MMSEG:  # recorded only when set: no default output changes
            out["pooled_means"] = str(self.pooled_means)
        if self.convention is not None:
            out["convention"] = dict(self.convention)
        if "boundary_iou" in self.metrics:
            out["boundary_iou_ratio"] = surf.boundary_iou_ratio
        if "com_distance" in self.metrics and not self.wants_surface():
            out["distance_unit"] = load.spacing_unit
        specs = all_metrics()
        if any(specs[m].family == "lesion" for m in self.metrics if m in specs):
            out["lesion_params"] = self.lesion.recorded()
        if self.losses.names != ():
            params = self.losses.recorded()
            w = params["weights"]
            params["weights"] = (
                None if w is None else ({str(k): v for k, v in w.items()} if isinstance(w, dict) else list(w))
            )
            out["loss_params"] = params
            if self.loss_reduction != "case":  # recorded only when set: no default output changes
                out["loss_reduction"] = self.loss_reduction
            out["renormalize"] = load.renormalize
        return out


def _default_lesion():
    from .metrics.lesion import LesionParams

    return LesionParams()


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
    notes: tuple[str, ...] = ()
    # With regions, the (PRED, GT) label-pair table of that pass: every region's counts.
    pair_table: Optional[np.ndarray] = None


def load_pair(pred_path: str, gt_path: str, params: EvalParams) -> LoadedPair:
    """Read both files (io), then scan and check them (:func:`scan_pair`)."""
    gt = read_gt(gt_path, params.load)
    pred_vol, kind = read_prediction(pred_path, gt, params.load)
    return scan_pair(pred_vol, kind, gt, params)


def scan_pair(pred_vol: Volume, kind: str, gt: Volume, params: EvalParams) -> LoadedPair:
    """Validate a read pair and find its class set.

    Two integer label maps of one shape (the usual case) are validated by one pass over
    both that also counts every label (scan.label_histograms). Anything else, or a value
    that pass cannot tabulate (negative, >= 65536), takes the general path: each map scanned
    on its own (which names the problem), overlap counted later.
    """
    ignore = params.ignore_label
    histograms = None
    pair_table = None
    read_notes = tuple(dict.fromkeys((*pred_vol.notes, *gt.notes)))  # what the readers noticed, once each
    pred_vol, axis_notes = orient_prediction(pred_vol, kind, gt, params.load)
    gt_dtype = gt.array.dtype
    check_ignore_label(gt_dtype, ignore, gt.path)
    if kind == "labels":
        gt = gt.with_array(integral_labels(gt.array, gt.path, "GT"))
        pred_vol = pred_vol.with_array(integral_labels(pred_vol.array, pred_vol.path, "PRED"))
        joint = joint_label_table(pred_vol.array, gt.array, ignore) if params.classes.regions else None
        if joint is not None:  # one pass gives the labels present and every region's counts
            histograms, pair_table = joint
        else:
            histograms = label_histograms(pred_vol.array, gt.array, ignore)
        if histograms is None:
            gt_arr, gt_present = validate_label_map(gt.array, gt.path, "GT", ignore)
            p_arr, pred_present = validate_label_map(pred_vol.array, pred_vol.path, "PRED", None)
            gt, pred_vol = gt.with_array(gt_arr), pred_vol.with_array(p_arr)
        else:
            gt_present, pred_present = histograms.gt_present(), histograms.pred_present()
            # Every value is in [0, table size): unsigned views hold the same labels, and the
            # kernels after the scan then compile once per width (kernels.layout.as_unsigned);
            # labels below 256 in a wider map are copied to uint8 (kernels.layout.narrowed).
            from .kernels.layout import as_unsigned, narrowed

            top = max(int(gt_present.max(initial=0)), int(pred_present.max(initial=0)))
            gt = gt.with_array(narrowed(as_unsigned(gt.array), top))
            pred_vol = pred_vol.with_array(narrowed(as_unsigned(pred_vol.array), top))
        pred = label_prediction(pred_vol)
    else:
        gt_arr, gt_present = validate_label_map(gt.array, gt.path, "GT", ignore)
        gt = gt.with_array(gt_arr)
        vol, scores, ax = score_view(pred_vol, gt, kind, params.load)
        pred = scan_scores(vol, scores, ax, kind, params.load, gt.array.ndim)
    check_same_grid(pred.volume, pred.labels.shape, gt)
    soft_notes = check_soft_pair(str(pred.kind), pred.n_channels, gt, ignore)  # [] for a label-map GT
    _check_unused_spacing_option(pred, gt, params.load)
    _require_spacing(pred, gt, params)  # before any computation, not after the overlap pass
    if pred.scores is not None:
        k = max(pred.scores.shape[0], 2)
        bad = [int(v) for v in gt_present if v >= k and v != ignore]
        if bad:
            hint = "; if 255 marks void pixels, pass @ignore_label=255" if bad[0] == 255 and ignore is None else ""
            raise InputError(
                f"GT has label {bad[0]} but the prediction has {k} classes (0..{k - 1}); "
                f"the class axis must have one channel per label{hint}",
                gt.path,
            )
        present = gt_present
        notes = axis_notes + _label_notes(gt_present, None, params.classes, gt_dtype=gt_dtype)
    else:
        present = np.union1d(gt_present, _counted_pred_labels(pred_present, histograms, pred.labels, gt.array, ignore))
        notes = axis_notes + _label_notes(
            gt_present, pred_present, params.classes, histograms=histograms, gt_dtype=gt_dtype
        )
    classes = resolve_classes(pred.n_channels, present, params.classes)
    _check_tolerance_labels(classes, params.surface)
    return LoadedPair(pred, gt, classes, histograms, (*soft_notes, *read_notes, *notes), pair_table)


def _counted_pred_labels(
    pred_present: np.ndarray, histograms: Optional[LabelHistograms], pred: np.ndarray, gt: np.ndarray, ignore
) -> np.ndarray:
    """PRED's labels at counted voxels: a label that PRED has only where GT is the ignore label
    is no class of the case (conventions.md, Classes); it would be a both_empty row (dice 1)."""
    if ignore is None:
        return pred_present
    if histograms is not None:
        return np.flatnonzero(histograms.pred).astype(np.int64)
    return np.unique(pred[gt != ignore]).astype(np.int64)


def _check_tolerance_labels(classes: ClassSet, surface: SurfaceParams) -> None:
    """A per-label NSD tolerance for a label that is no class of the case is a usage error, as
    for @weights (a typo, 7=2 for 17=2, would leave 17 at the default silently)."""
    unknown = sorted(set(surface.nsd_tolerance_per_label) - set(classes.all_labels))
    if unknown:
        shown = ", ".join(map(str, classes.all_labels[:12])) + (", ..." if len(classes.all_labels) > 12 else "")
        raise UsageError(
            f"@nsd_tolerance_mm names label {unknown[0]}, which is not a class of this case ({shown}); "
            "give tolerances for its classes, or list the label with @labels"
        )


# More distinct GT values than this look like an intensity image (CT/MR) passed as labels.
MANY_GT_LABELS = 256


def _label_notes(
    gt_present: np.ndarray,
    pred_present: Optional[np.ndarray],
    classes: ClassSelection,
    *,
    histograms: Optional[LabelHistograms] = None,
    gt_dtype: Optional[np.dtype] = None,
) -> tuple[str, ...]:
    """Words on labels that look like a convention segloss was not told about (no number changes).

    ``pred_present`` is None for a score map; ``histograms`` (the label-map pair's one-pass
    counts) tell whether PRED's labels overlap GT's; ``gt_dtype`` is GT's stored dtype."""
    notes = []
    many = len(gt_present) > MANY_GT_LABELS  # then 255 is one intensity among many, not a void label
    void = pred_present is not None and 255 in gt_present and 255 not in pred_present
    if void and classes.ignore_label is None and not many:
        notes.append(
            "GT has label 255, which PRED never predicts; if 255 marks void or boundary pixels "
            "(VOC, Cityscapes), pass @ignore_label=255, else it is scored as a class"
        )
    if many:
        stored = f", stored as {gt_dtype}" if gt_dtype is not None and gt_dtype.kind == "f" else ""
        notes.append(
            f"GT has {len(gt_present)} distinct values{stored}: it looks like an intensity image (CT/MR), not a "
            "label map; check the order (PRED first, GT second) and that GT is the segmentation"
        )
    if pred_present is not None and histograms is not None:
        shift = _label_shift(gt_present, pred_present, histograms)
        if shift is not None:
            k, moved = shift
            notes.append(
                f"every PRED label is a GT label {k:+d} (e.g. PRED {moved[0]} vs GT {moved[0] - k}) and PRED overlaps "
                "GT poorly: PRED may number its classes differently (0- vs 1-based, 0/255 masks, another label "
                "table); remap it if so"
            )
    if classes.labels is not None and 0 in classes.labels and not classes.include_background:
        notes.append(
            "@labels lists 0, the background, which is reported only with @include_background; add "
            "@include_background to report it"
        )
    return tuple(notes)


def _label_shift(
    gt_present: np.ndarray, pred_present: np.ndarray, histograms: LabelHistograms
) -> Optional[tuple[int, list[int]]]:
    """(k, PRED labels not in GT) when every PRED foreground label is a GT label + k (k != 0),
    some PRED label is no GT label, and less than half of PRED's foreground voxels carry
    their GT label; else None."""
    gt_set = {int(v) for v in gt_present}
    fg = [int(v) for v in pred_present if v != 0]
    outside = [v for v in fg if v not in gt_set]
    if not fg or not outside or len(gt_set) > 512 or len(fg) > 512:
        return None
    n_pred = sum(int(histograms.pred[v]) for v in fg)
    n_tp = sum(int(histograms.tp[v]) for v in fg)
    if n_pred == 0 or n_tp >= 0.5 * n_pred:
        return None
    fg_gt = gt_set - {0}
    best = None
    for k in sorted({fg[0] - g for g in gt_set} - {0}, key=lambda k: (abs(k), k)):
        if all(v - k in gt_set for v in fg):
            hits = len({v - k for v in fg} & fg_gt)
            if best is None or hits > best[1]:
                best = (k, hits)
    return None if best is None else (best[0], outside)


def _check_unused_spacing_option(pred: Prediction, gt: Volume, load: LoadParams) -> None:
    """A spacing given for two NIfTI files is used by neither: it must agree with their header.

    (With one numpy input the option is that file's spacing and the grid check compares it.)
    """
    option = load.spacing_mm
    if not option or "option" in (pred.volume.spacing_source, gt.spacing_source) or gt.spacing_mm is None:
        return
    want = tuple(option) * len(gt.spacing_mm) if len(option) == 1 else tuple(option)
    if len(want) != len(gt.spacing_mm) or not np.allclose(want, gt.spacing_mm, rtol=0, atol=1e-4):
        raise UsageError(
            f"@spacing_mm {','.join(f'{v:g}' for v in option)} disagrees with the header spacing "
            f"{tuple(round(float(v), 6) for v in gt.spacing_mm)} mm of {gt.path}; @spacing_mm is for .npy/.npz "
            "inputs: drop it for NIfTI files (or fix their headers)"
        )


def _require_spacing(pred: Prediction, gt: Volume, params: EvalParams) -> None:
    """Distance metrics on numpy inputs without a spacing: an error naming the file, never 1 mm guessed."""
    if _spacing(pred, gt) is None and not _in_pixels(pred, gt) and params.wants_surface():
        raise missing_spacing(gt.path)


def missing_spacing(path: str) -> InputError:
    """The error for distance metrics asked of inputs without a voxel spacing."""
    return InputError(
        "distance metrics need voxel spacing and numpy inputs carry none; pass @spacing_mm "
        "(e.g. @spacing_mm=1 for voxel units) or skip them with @metrics=overlap",
        path,
    )


def evaluate_pair(pred_path: str, gt_path: str, params: EvalParams, *, case: Optional[str] = None) -> CaseResult:
    from pathlib import Path

    if Path(pred_path).is_dir() or Path(gt_path).is_dir():  # per-structure mask folders (io/masks.py)
        pred_vol, kind, gt, params = _read_mask_pair(pred_path, gt_path, params)
        return evaluate_read(pred_vol, kind, gt, params, case=case or Path(gt_path).name)
    gt = read_gt(gt_path, params.load)
    pred_vol, kind = read_prediction(pred_path, gt, params.load)
    return evaluate_read(pred_vol, kind, gt, params, case=case or case_id(gt_path))


def _read_mask_pair(pred_path: str, gt_path: str, params: EvalParams):
    """A pair where one side or both are folders of per-structure binary masks: each folder
    becomes a label map, labelled through the run's label table when it has one (a
    multi-label file's header names, --label-names), else by the sorted structure names."""
    from dataclasses import replace
    from pathlib import Path

    from .io.masks import label_table, mask_files, read_mask_folder
    from .io.prediction import prepare_gt, prepare_prediction

    sides = [Path(p) for p in (pred_path, gt_path)]
    names = sorted({n for p in sides if p.is_dir() for n in mask_files(p)})
    table = label_table(names, params.classes.names or None)
    load = params.load
    vols = [
        read_mask_folder(p, table, npz_key=load.npz_key, spacing_mm=load.spacing_mm) if p.is_dir() else None
        for p in sides
    ]
    gt = prepare_gt(vols[1]) if vols[1] is not None else read_gt(gt_path, load)
    if vols[0] is not None:
        pred_vol, kind = prepare_prediction(vols[0], gt, replace(load, pred_type=PredType.LABELS))
    else:
        pred_vol, kind = read_prediction(pred_path, gt, load)
    if not params.classes.names:
        params = replace(params, classes=replace(params.classes, names={lab: n for n, lab in table.items()}))
    return pred_vol, kind, gt, params


def evaluate_read(pred_vol: Volume, kind: str, gt: Volume, params: EvalParams, *, case: str) -> CaseResult:
    """Score a read pair: a multi-label (sigmoid) one channel by channel, else scan then score."""
    from .io.prediction import MULTILABEL

    if kind in MULTILABEL:
        from .multilabel import evaluate_multilabel, scan_multilabel

        check_soft_pair(kind, None, gt, params.ignore_label)

        return evaluate_multilabel(scan_multilabel(pred_vol, kind, gt, params), params, case=case)
    return evaluate_loaded(scan_pair(pred_vol, kind, gt, params), params, case=case)


def _spacing(pred: Prediction, gt: Volume):
    return gt.spacing_mm if gt.spacing_mm is not None else pred.volume.spacing_mm


def _in_pixels(pred: Prediction, gt: Volume) -> bool:
    """2-D images without a spacing: distances in pixels, volumes undefined."""
    return _spacing(pred, gt) is None and "pixel" in (gt.spacing_source, pred.volume.spacing_source)


def distance_unit(pred: Prediction, gt: Volume, load: LoadParams) -> str:
    """What a distance of this case is measured in: mm, voxel (a spacing of 1 given for numpy
    inputs, conventions.md) or pixel (an image without spacing)."""
    if _in_pixels(pred, gt):
        return "pixel"
    return load.spacing_unit


def evaluate_loaded(pair: LoadedPair, params: EvalParams, *, case: str) -> CaseResult:
    from .metrics.overlap import concat_counts, confusion, region_confusion, region_counts

    pred, gt, classes = pair.pred, pair.gt, pair.classes
    specs = all_metrics()
    spacing = _spacing(pred, gt)
    voxel = gt.voxel_spacing_mm if gt.spacing_mm is not None else pred.volume.voxel_spacing_mm  # volumes
    ignore = params.ignore_label
    labels = np.asarray(classes.reported, dtype=np.int64)
    if pair.histograms is not None:
        counts = pair.histograms.counts(labels, ignore_label=ignore, spacing_mm=voxel)
    else:
        counts = confusion(pred.labels, gt.array, labels, ignore_label=ignore, spacing_mm=voxel)
    region_sets = [r.labels for r in classes.regions]
    if region_sets:  # from the pair table of the scan, else one pass for all regions (labels < 256)
        if pair.pair_table is not None:
            regional = region_counts(pair.pair_table, region_sets, spacing_mm=voxel)
        else:
            regional = region_confusion(pred.labels, gt.array, region_sets, ignore_label=ignore, spacing_mm=voxel)
        counts = concat_counts(counts, regional)
    statuses = [class_status(int(p), int(g)) for p, g in zip(counts.n_pred, counts.n_gt)]

    values: dict[str, np.ndarray] = {}
    surface = [m for m in params.metrics if specs[m].family == "surface"]
    unit = distance_unit(pred, gt, params.load)
    grid = (1.0,) * gt.array.ndim if unit == "pixel" else spacing  # distances in pixels
    for name in params.metrics:
        spec = specs[name]
        if spec.family == "confusion":
            values[name] = np.asarray(spec.compute(counts))  # type: ignore[misc]
    shape = [m for m in params.metrics if specs[m].family == "shape"]
    if shape:
        from .metrics.shape import shape_metrics

        if "com_distance" in shape and spacing is None and unit != "pixel":
            raise missing_spacing(gt.path)
        values.update(
            shape_metrics(
                pred.labels,
                gt.array,
                [int(v) for v in classes.reported] + [r.labels for r in classes.regions],
                names=shape,
                spacing_mm=grid,
                boundary_iou_ratio=params.surface.boundary_iou_ratio,
                ignore_label=ignore,
            )
        )
    if any(specs[m].family == "case" for m in params.metrics):  # one value of the case, in every row
        every = _every_label_counts(pair, ignore)
        for name in params.metrics:
            if specs[name].family == "case":
                values[name] = np.full(counts.tp.size, specs[name].compute(every))  # type: ignore[misc]
    worst = None
    if shape and "com_distance" in shape:
        worst = worst_distance_mm(gt, grid, params.surface.worst_distance_mm)
    if surface:
        _require_spacing(pred, gt, params)
        from .metrics.distance import region_surface_metrics, surface_metrics

        common: dict[str, Any] = {
            "spacing_mm": grid,
            "names": surface,
            "params": params.surface,
            "ignore_label": ignore,
        }
        per_label = surface_metrics(pred.labels, gt.array, labels, **common)
        if region_sets:
            per_region = region_surface_metrics(pred.labels, gt.array, region_sets, **common)
            per_label = {n: np.concatenate([per_label[n], per_region[n]]) for n in surface}
        values.update(per_label)
        worst = worst_distance_mm(gt, grid, params.surface.worst_distance_mm)

    lesion = [m for m in params.metrics if specs[m].family == "lesion"]
    if lesion:  # connected components per class and region (metrics/lesion.py)
        from .metrics.lesion import MM_METRICS, lesion_metrics

        if spacing is None and unit != "pixel" and set(lesion) & MM_METRICS:
            raise missing_spacing(gt.path)
        got = lesion_metrics(
            pred.labels,
            gt.array,
            [int(v) for v in classes.reported] + [r.labels for r in classes.regions],
            names=lesion,
            spacing_mm=grid if grid is not None else (1.0,) * gt.array.ndim,  # counts only: no unit
            params=params.lesion,
            surface=params.surface,
            ignore_label=ignore,
        )
        for m in ("fp_vol_ml", "fn_vol_ml"):
            if m in got and voxel is None:
                got[m][:] = np.nan  # volumes of images without a spacing are undefined
        values.update(got)

    ok = np.array([s == "ok" for s in statuses], dtype=bool)
    policy = params.empty_policy
    columns = [metric_column(specs[m], values[m], statuses, policy, worst, ok=ok) for m in params.metrics]
    cells = list(zip(*columns)) if columns else [()] * len(statuses)  # row i: its metrics' values
    tps, fps, fns, tns = (np.asarray(c, dtype=np.int64).tolist() for c in (counts.tp, counts.fp, counts.fn, counts.tn))
    rows = []
    keys: list[tuple[int | str, Optional[str]]] = [(int(v), classes.name(int(v))) for v in classes.reported]
    keys += [(r.name, None) for r in classes.regions]  # a region's name is its key
    by_status = params.empty_by_status if params.empty_values else None
    for i, (key, class_name) in enumerate(keys):
        status = statuses[i]
        metrics: dict[str, Any] = dict(zip(params.metrics, cells[i]))
        if by_status and status != "ok":
            apply_empty_values(metrics, status, by_status, worst)
        tally = ConfusionCounts(tps[i], fps[i], fns[i], tns[i])
        rows.append(ClassResult(key, class_name, status, metrics, tally))

    losses = {}
    names = params.losses.for_kind(pred.kind)
    loss_sums = None
    if names:
        from .losses import compute_losses

        losses = compute_losses(
            pred,
            gt,
            classes,
            params.losses,
            names=names,
            ignore_label=ignore,
            renormalize=params.load.renormalize,
            keep_sums=params.loss_reduction == "batch",
        )
        if params.loss_reduction == "batch":
            losses, loss_sums = losses
    return CaseResult(
        case=case,
        pred=pred.volume.path,
        gt=gt.path,
        spacing_mm=None if spacing is None else tuple(float(s) for s in spacing),
        classes=tuple(rows),
        losses=losses,
        distance_unit=unit,
        n_voxels=int(counts.n),
        notes=pair.notes,
        loss_sums=loss_sums,
    )


def metric_column(spec, values, statuses, policy: str, worst: Optional[float], *, ok=None) -> list:
    """``apply_empty_rule`` over one metric's values of every class row: the same values, with
    the usual cell (status ``ok``, a finite number) converted for all rows in one numpy call
    (a case of 19 classes and 20 metrics made 380 calls); every other cell goes through the
    rule itself. ``ok``: the rows whose status is ``ok`` (bool array), if already known."""
    n = len(statuses)
    arr = np.asarray(values)
    if arr.ndim != 1 or arr.shape[0] < n or arr.dtype.kind not in "biuf":
        return [apply_empty_rule(spec, values[i], statuses[i], policy, worst) for i in range(n)]
    arr = arr[:n]
    out = (arr.astype(np.int64) if spec.integer else arr.astype(np.float64)).tolist()
    usual = np.array([s == "ok" for s in statuses], dtype=bool) if ok is None else ok
    if arr.dtype.kind == "f":
        usual = usual & np.isfinite(arr)
    for i in np.flatnonzero(~usual).tolist():
        out[i] = apply_empty_rule(spec, arr[i], statuses[i], policy, worst)
    return out


def _every_label_counts(pair: LoadedPair, ignore: Optional[int]):
    """One-vs-rest counts of every label of the case (the ignore label too, which PRED may
    give outside the ignored voxels): what the whole-matrix ("case") metrics need."""
    from .metrics.overlap import confusion

    labels = sorted(set(pair.classes.all_labels) | ({ignore} if ignore is not None else set()))
    if pair.histograms is not None:
        labels = sorted(set(labels) | {int(v) for v in pair.histograms.pred_present()})
        return pair.histograms.counts(labels, ignore_label=ignore)
    return confusion(pair.pred.labels, pair.gt.array, labels, ignore_label=ignore)


# --- a run's result from its cases -------------------------------------------------------------


def computed_losses(cases) -> tuple[str, ...]:
    """Losses present in any case, in registry order (the report's loss columns)."""
    from .losses.registry import LOSSES

    present = {name for case in cases for name in case.losses}
    return tuple(n for n in LOSSES if n in present)


def headline_metric(metric_names) -> Optional[str]:
    """The metric of the worst-cases list: dice, else the first metric with a direction."""
    specs = all_metrics()
    if "dice" in metric_names:
        return "dice"
    return next((m for m in metric_names if specs[m].higher_is_better is not None), None)


def case_accumulator(params: EvalParams, *, folder: bool) -> RunningSummary:
    """The running summary of a run's cases: what :func:`assemble_run` reads of them (a folder
    run also keeps its worst cases by the headline metric)."""
    from .aggregate import RunningSummary

    headline = headline_metric(params.metrics) if folder else None
    better = bool(all_metrics()[headline].higher_is_better) if headline is not None else True
    return RunningSummary(params.metrics, worst_metric=headline, higher_is_better=better)


def assemble_run(
    cases: tuple[CaseResult, ...],
    params: EvalParams,
    *,
    pairing: Optional[PairingSummary] = None,
    metrics_chosen: bool = True,
    running: Optional[RunningSummary] = None,
) -> RunResult:
    """The RunResult of scored cases: settings, summary (with pairing and worst cases for a
    folder run), and the terminal table's columns (every metric when they were chosen, else
    the headline subset).

    ``running``: the cases already taken one by one (:func:`case_accumulator`, in case-id
    order); then ``cases`` are the ones the result keeps, none for a run that streamed them.
    """
    from dataclasses import replace

    from .losses.registry import LOSSES

    specs = all_metrics()
    metric_names = params.metrics
    if running is None:
        running = case_accumulator(params, folder=pairing is not None)
        for case in cases:
            running.add(case)
    computed = tuple(n for n in LOSSES if n in running.loss_names)  # registry order, as computed_losses
    settings = {"segloss_version": __version__, **params.settings()}
    settings["losses"] = list(computed)
    if "distance_unit" in settings and "pixel" in running.distance_units:
        units = running.distance_units
        if len(units) > 1:
            raise InputError(
                f"some cases measure distances in pixels (images without a spacing) and others in "
                f"{', '.join(sorted(units - {'pixel'}))}; give @spacing_mm for the images or score them apart"
            )
        settings["distance_unit"] = "pixel"
    summary = replace(
        running.summary(computed),
        pooled=running.pooled(
            empty_policy=str(params.empty_policy),
            empty_values=params.empty_by_status,
            pooled_means=str(params.pooled_means),
        ),
    )
    if params.loss_reduction == "batch" and summary.pooled is not None:
        summary = replace(summary, pooled=replace(summary.pooled, losses=running.batch_losses(params.losses, computed)))
    if pairing is not None:
        summary = replace(summary, pairing=pairing)
        worst = running.worst()
        if worst is not None:
            summary = replace(summary, worst_cases=worst)
    table = tuple(metric_names) if metrics_chosen else tuple(m for m in metric_names if specs[m].in_table)
    return RunResult(
        settings=settings,
        cases=tuple(cases),
        summary=summary,
        metric_names=metric_names,
        loss_names=computed,
        metric_units={m: specs[m].unit for m in metric_names},
        table_metrics=table,
    )
