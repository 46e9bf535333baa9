"""The Python API: arrays or files in, typed results out, the same numbers as ``segloss eval``.

- :func:`score`: one PRED/GT pair of arrays (numpy, torch, anything with ``__array__`` or
  ``__dlpack__``) -> :class:`~segloss_cli.model.CaseResult`.
- :func:`score_files`: one pair of files -> CaseResult.
- :func:`evaluate_folder`: two folders -> :class:`~segloss_cli.model.RunResult`.
- :func:`run`: any of those -> RunResult (summary included), for :func:`segloss_cli.gate.check`.

Every keyword is a parameter of the contract (conventions.md); the command line's options map
onto them one to one (``--spacing`` is ``spacing_mm``, ``--nsd-tolerance`` is
``nsd_tolerance_mm``, ...). Loss parameters (``tversky_alpha=0.4``, ``weights=[...]``) are
keywords too. Errors are :class:`~segloss_cli.errors.SeglossError` (a ValueError) worded with
these parameter names.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Optional, TypeVar, Union, cast

from .classes import ClassSelection, LabelTable, Region, header_label_table, label_table_from, load_label_table
from .errors import UsageError
from .evaluate import EvalParams, assemble_run, evaluate_read
from .io.palette import load_palette
from .io.prediction import LoadParams, prepare_gt, prepare_prediction
from .losses.registry import PARAMS as LOSS_PARAMS
from .losses.registry import LossParams
from .losses.registry import select as select_losses
from .metrics.params import SurfaceParams
from .metrics.registry import parse_empty_values
from .metrics.registry import select as select_metrics
from .model import CaseResult, MissingPolicy, PairingSummary, RunResult

PathLike = Union[str, os.PathLike]
Names = Union[None, str, Sequence[str]]

__all__ = ["score", "score_files", "evaluate_folder", "run", "make_params", "FolderParams"]


@dataclass(frozen=True)
class FolderParams:
    """How two folders pair into cases and how many cases run at once.

    ``pattern``: only file names matching this glob; ``pred_suffix``/``gt_suffix``: stripped
    from case ids (``case1_seg.nii.gz`` -> ``case1``); ``missing``: a GT without prediction is
    an ``error``, scored as an empty prediction (``worst``) or left out (``skip``); ``jobs``:
    cases scored in parallel (None: the number of cores); ``pred_ext``: the extension of the
    prediction file to use when a case has several (nnU-Net writes ``case.nii.gz`` and
    ``case.npz``: ``.npz`` scores the probabilities). ``shard``: score only shard ``K/N`` of
    the case ids (``"3/64"``, segloss_cli.shards: a stable hash of the id) for ``segloss
    merge``. ``scheduler``: run the cases on a Dask cluster (``"local"``, ``"local:N"`` or
    ``"tcp://HOST:PORT"``; segloss_cli.backends.dask) in batches of ``batch_size`` cases
    (None: automatic), waiting at most ``connect_timeout_s`` for the scheduler. ``recursive``:
    the files in sub-folders are cases too, paired by file name (Cityscapes' city folders;
    folder.pair_folders); no sub-folder is then a case of per-structure masks.
    """

    pattern: Optional[str] = None
    pred_suffix: Optional[str] = None
    gt_suffix: Optional[str] = None
    missing: MissingPolicy = MissingPolicy.ERROR
    jobs: Optional[int] = None
    pred_ext: Optional[str] = None
    shard: Any = None  # Optional[shards.ShardSpec]; "K/N" text is parsed
    scheduler: Optional[str] = None
    batch_size: Optional[int] = None
    connect_timeout_s: float = 10.0
    recursive: bool = False

    def __post_init__(self) -> None:
        try:
            object.__setattr__(self, "missing", MissingPolicy.parse(self.missing, "@missing"))
        except ValueError as exc:
            raise UsageError(str(exc)) from None
        if self.jobs is not None and self.jobs < 1:
            raise UsageError(f"@jobs must be >= 1, not {self.jobs}")
        if self.pred_ext is not None:
            from .folder import normalize_ext

            object.__setattr__(self, "pred_ext", normalize_ext(self.pred_ext))
        if self.shard is not None:
            from .shards import ShardSpec

            object.__setattr__(self, "shard", ShardSpec.parse(self.shard))
        if self.scheduler is not None:
            from .backends import check_scheduler

            object.__setattr__(self, "scheduler", check_scheduler(self.scheduler))
        if self.batch_size is not None and self.batch_size < 1:
            raise UsageError(f"@batch_size must be >= 1, not {self.batch_size}")
        if not self.connect_timeout_s > 0:
            raise UsageError(f"@connect_timeout_s must be > 0, not {self.connect_timeout_s}")


def _names(value: Names, select: Callable[[Optional[str]], Any]):
    if value is None or isinstance(value, str):
        return select(value)
    return select(",".join(value)) if value else select("none")


_F = TypeVar("_F", bound=Callable[..., Any])


def _presets(func: _F) -> _F:
    """``convention="monai"``: the preset's settings for every keyword the caller did not give
    (conventions.apply); a mapping is a preset already applied (the command line's)."""

    @functools.wraps(func)
    def make(**kw: Any) -> Any:
        if isinstance(kw.get("convention"), str):
            from .conventions import apply

            kw = apply(kw["convention"], kw)
        return func(**kw)

    return cast(_F, make)


@_presets
def make_params(
    *,
    metrics: Names = None,
    losses: Names = None,
    spacing_mm: Optional[Union[float, Sequence[float]]] = None,
    labels: Optional[Sequence[int | str]] = None,
    include_background: bool = False,
    ignore_label: Optional[int] = None,
    label_names: Union[None, PathLike, Mapping[Any, Any], LabelTable] = None,
    regions: Optional[Mapping[str, Sequence[int]]] = None,
    empty_policy: str = "worst",
    empty_values: Any = None,
    convention: Union[None, str, Mapping[str, Any]] = None,
    pred_type: str = "auto",
    gt_type: str = "labels",
    channel_axis: Optional[int] = None,
    threshold: float = 0.5,
    npz_key: Optional[str] = None,
    axes: str = "auto",
    renormalize: bool = False,
    palette: Any = None,
    hd_percentile: float = 95.0,
    hd_mode: str = "max",
    assd_mode: str = "pooled",
    reduction: str = "case",
    pooled_means: str = "mmseg",
    surface: Optional[str] = None,
    distance_metric: str = "euclidean",
    nsd_tolerance_mm: Union[float, Mapping[Optional[int], float]] = 1.0,
    worst_distance_mm: Optional[float] = None,
    boundary_iou_ratio: float = 0.02,
    storage_options: Optional[Mapping[str, Any]] = None,
    lesion_preset: Optional[str] = None,
    lesion_dilation: Optional[int] = None,
    lesion_connectivity: Optional[int] = None,
    lesion_volume_threshold_mm3: Optional[float] = None,
    lesion_worst_hd95_mm: Optional[float] = None,
    lesion_iou_threshold: Optional[float] = None,
    **loss_params: Any,
) -> EvalParams:
    """The parameter records of a run from keywords (every keyword of :func:`score`).

    ``metrics``: names, aliases or groups (``"all"``, ``"overlap"``, ``"distance"``), as a
    list or one comma-separated string; None: all. ``losses``: the same, None for the
    default (every non-Lovasz loss for a probability/logit PRED, none for a label map).
    ``nsd_tolerance_mm``: one tolerance, or ``{label: mm}`` with an optional ``None`` key for
    the default. ``palette``: the label colours of RGB masks, a preset (``"voc"``,
    ``"cityscapes"``), a JSON/CSV file or ``{label: (r, g, b)}``; its names name the classes
    unless ``label_names`` does. ``label_names``: ``{label: name}`` or a file (JSON, an nnU-Net
    dataset.json, a CSV label table, a NIfTI file with a label table in its header extension);
    a dataset.json's list-valued labels are regions and its ``ignore`` label is the ignore
    label unless ``ignore_label`` is given. ``axes``: the order of PRED's spatial axes,
    ``"xyz"`` (as stored, nibabel's order), ``"zyx"`` (reversed: nnU-Net's ``.npz``, SimpleITK
    arrays) or ``"auto"`` (as stored, or reversed where only that fits GT's shape). ``regions``:
    ``{name: [labels]}``, classes scored on the union of their labels (when regions are given,
    only they are reported unless ``labels`` names labels too). ``labels`` may name classes.
    ``storage_options``: for inputs given as URLs (``s3://``, ``gs://``, any fsspec protocol),
    the file system's keywords (``{"endpoint_url": ..., "anon": True}``); never recorded.
    ``lesion_*``: the lesion metrics' parameters (metrics.lesion.LesionParams): a BraTS preset
    (``"brats-gli"``, the default, ``"brats-men"``, ...), then each keyword given overrides it.
    ``empty_values``: per-metric values of the empty cases, over ``empty_policy``'s rule:
    ``{"dice": {"both": 1, "gt": 0}, "hd": {"one": "inf"}}`` or ``"dice:both=1,gt=0;hd:one=inf"``
    (statuses both, gt, pred, one, any; values a number, ``inf``, ``nan``/``skip``: undefined,
    left out of means, or ``worst``: the worst distance). ``convention``: a peer tool's
    definitions (segloss_cli.conventions: ``"monai"``, ``"nnunet"``, ``"medpy"``,
    ``"deepmind"``, ``"metricsreloaded"``, ``"seg-metrics"``; ``"segloss"`` is the default's):
    every keyword the preset sets and the call does not give takes the preset's value, and
    the result's settings record it (``settings["convention"]``). ``assd_mode``: ``"pooled"``
    (sum of both directions over n_P + n_G) or ``"mean"`` (the mean of the two directed means,
    MedPy's assd). ``reduction``: the losses of a folder, ``"case"`` (each case's, summarised over
    cases) or ``"batch"`` (also each loss of the sums of all cases, as if they were one volume:
    ``summary.pooled.losses``; MONAI batch=True, SMP's default). ``pooled_means``: the
    classes the dataset-level means (``summary.pooled`` mIoU, mAcc, mDice, mFscore) average
    over, ``"mmseg"`` (each class whose value is defined: mmsegmentation's IoUMetric) or
    ``"torchmetrics"`` (each class in some PRED or GT, a 0/0 counted as 0: torchmetrics'
    ``average="macro"``); they differ for a class predicted but in no GT (mAcc) and for a
    class only in PRED or only in GT (mFscore).
    ``surface``: the surface model of the distance metrics, ``"voxel"`` (None: the default),
    ``"surfel"`` (DeepMind surface-distance's area-weighted voxel-corner surfels) or
    ``"contour26"`` (seg-metrics' SimpleITK LabelContour voxels); given, it also sets
    lesion_hd95's, which is otherwise the lesion preset's (surfel for BraTS).
    ``gt_type``: ``"labels"`` (default) or ``"soft"``: GT is class probabilities with a class
    axis (first for arrays and numpy files, last for NIfTI, or ``channel_axis``), the losses'
    soft targets; the metrics use its argmax (io/soft_labels.py).
    ``distance_metric``: ``"euclidean"`` (default), ``"taxicab"`` or ``"chessboard"``
    distances between surface elements, in mm (a step along an axis costs its spacing).

    Examples
    --------
    >>> p = make_params(metrics="dice,hd95", labels=[1, 2], tversky_alpha=0.4)
    >>> p.metrics, p.classes.labels, p.losses.values["tversky_alpha"]
    (('dice', 'hd95'), (1, 2), 0.4)
    """
    from .metrics.lesion import LesionParams  # here: importing it registers the lesion metrics

    unknown = [k for k in loss_params if k not in LOSS_PARAMS]
    if unknown:
        raise TypeError(f"unexpected keyword argument {unknown[0]!r} (loss parameters: {', '.join(LOSS_PARAMS)})")
    if isinstance(nsd_tolerance_mm, Mapping):
        per_label = {int(k): float(v) for k, v in nsd_tolerance_mm.items() if k is not None}
        default_tau = float(nsd_tolerance_mm.get(None, 1.0))
    else:
        per_label, default_tau = {}, float(nsd_tolerance_mm)
    if isinstance(spacing_mm, (int, float)):
        spacing_mm = (float(spacing_mm),)
    colours = load_palette(palette)
    if label_names is None:
        table = LabelTable(dict(colours.names) if colours is not None else {})
    elif isinstance(label_names, LabelTable):
        table = label_names
    elif isinstance(label_names, Mapping):
        table = label_table_from({str(k): v for k, v in label_names.items()})
    else:
        table = load_label_table(label_names)
    names = table.names
    all_regions = [
        *table.regions,
        *(Region(str(k), tuple(sorted({int(v) for v in vs}))) for k, vs in (regions or {}).items()),
    ]
    if ignore_label is None and table.ignore_label is not None:
        ignore_label = table.ignore_label  # nnU-Net's "ignore" entry; an explicit ignore_label wins
    return EvalParams(
        metrics=_names(metrics, select_metrics),
        load=LoadParams(
            pred_type=pred_type,  # type: ignore[arg-type]
            gt_type=gt_type,  # type: ignore[arg-type]
            channel_axis=channel_axis,
            threshold=threshold,
            npz_key=npz_key,
            axes=axes,
            spacing_mm=None if spacing_mm is None else tuple(spacing_mm),
            renormalize=renormalize,
            palette=colours,
            storage_options=storage_options,
        ),
        classes=ClassSelection(
            labels=None if labels is None else _labels(labels, names),
            include_background=include_background,
            ignore_label=ignore_label,
            names=names,
            regions=tuple(all_regions),
            names_from=table.source,
        ),
        empty_policy=empty_policy,  # type: ignore[arg-type]
        empty_values=parse_empty_values(empty_values),
        convention=None if convention is None else dict(convention),  # type: ignore[arg-type]
        loss_reduction=reduction,
        pooled_means=pooled_means,  # type: ignore[arg-type]
        surface=SurfaceParams(
            hd_percentile=hd_percentile,
            hd_mode=hd_mode,  # type: ignore[arg-type]
            assd_mode=assd_mode,  # type: ignore[arg-type]
            nsd_tolerance_mm=default_tau,
            nsd_tolerance_per_label=per_label,
            worst_distance_mm=worst_distance_mm,
            boundary_iou_ratio=boundary_iou_ratio,
            surface=surface if surface is not None else "voxel",  # type: ignore[arg-type]
            distance_metric=distance_metric,  # type: ignore[arg-type]
        ),
        losses=LossParams(names=_names(losses, select_losses), values=loss_params),
        lesion=LesionParams.preset(
            lesion_preset or "brats-gli",
            dilation=lesion_dilation,
            connectivity=lesion_connectivity,
            volume_threshold_mm3=lesion_volume_threshold_mm3,
            worst_hd95_mm=lesion_worst_hd95_mm,
            iou_threshold=lesion_iou_threshold,
            surface=surface,
        ),
    )


def _labels(labels: Sequence[int | str], names: Mapping[int, str]) -> tuple[int, ...]:
    """Labels by number or by name (any case: ``"liver"``)."""
    by_name = {n.lower(): lab for lab, n in names.items()}
    out_set = set()
    for v in labels:
        if isinstance(v, str) and not v.strip().lstrip("-").isdigit():
            if v.strip().lower() not in by_name:
                known = ", ".join(sorted(names.values())[:8]) or "none (give @label_names)"
                raise UsageError(
                    f"@labels: no class is named {v!r} (names: {known}{', ...' if len(names) > 8 else ''})"
                )
            out_set.add(by_name[v.strip().lower()])
        else:
            out_set.add(int(v))
    out = sorted(out_set)
    if any(v < 0 for v in out):
        raise UsageError("@labels: labels must be >= 0")
    if any(v >= 2**63 for v in out):
        raise UsageError("@labels: labels must be below 2**63")
    return tuple(out)


def score(pred: Any, gt: Any, *, case: str = "case", **params: Any) -> CaseResult:
    """Score one prediction against its ground truth, both arrays in memory.

    Parameters
    ----------
    pred : array-like
        A label map of GT's shape, or a probability/logit map with one extra class axis
        (first, as PyTorch writes it, or last). numpy arrays, torch tensors (detached and
        copied to the host), and anything with ``__array__`` or ``__dlpack__``.
    gt : array-like
        The ground-truth integer label map (2-D or 3-D).
    case : str
        The case id of the result.
    **params
        Any keyword of :func:`make_params`: ``spacing_mm``, ``metrics``, ``losses``,
        ``labels``, ``ignore_label``, ``empty_policy``, loss parameters, ... Without
        ``spacing_mm`` (arrays carry none) the default metrics are the overlap metrics; asking
        for a distance metric then is an error.

    Returns
    -------
    CaseResult
        One row per reported class (``.classes``, each with ``.metrics`` and its confusion
        ``.counts``) and the losses (``.losses``); ``.to_dict()`` is the JSON case.

    Examples
    --------
    >>> import numpy as np
    >>> gt = np.array([[0, 1, 1], [0, 2, 2]])
    >>> pred = np.array([[0, 1, 2], [0, 2, 2]])
    >>> res = score(pred, gt, metrics=["dice", "iou"])
    >>> [(r.label, r.status, round(r.metrics["dice"], 4)) for r in res.classes]
    [(1, 'ok', 0.6667), (2, 'ok', 0.8)]
    >>> res.row(2).counts
    ConfusionCounts(tp=2, fp=1, fn=0, tn=3)
    """
    return _score_arrays(pred, gt, _array_params(params), case)


def _array_params(params: dict[str, Any]) -> EvalParams:
    if params.get("metrics") is None and params.get("spacing_mm") is None:
        params = {**params, "metrics": "overlap"}  # arrays carry no spacing: distances would need one
    return make_params(**params)


def _score_arrays(pred: Any, gt: Any, params: EvalParams, case: str) -> CaseResult:
    from .io.readers import array_volume

    spacing = params.load.spacing_mm
    colours = params.load.palette
    multilabel = str(params.load.pred_type) in ("sigmoid", "sigmoid_logits")
    gt_vol = prepare_gt(array_volume(gt, "gt", spacing, colours), channels=multilabel, soft=params.load.soft_gt_axis)
    pred_vol, kind = prepare_prediction(array_volume(pred, "pred", spacing, colours), gt_vol, params.load)
    return evaluate_read(pred_vol, kind, gt_vol, params, case=case)


def score_files(pred_path: PathLike, gt_path: PathLike, *, case: Optional[str] = None, **params: Any) -> CaseResult:
    """Score one pair of files (.nii, .nii.gz, .npy, .npz); the keywords of :func:`score`.

    Spacing comes from the NIfTI header (``spacing_mm`` is for numpy files). The case id is
    the GT file name without its extension unless ``case`` is given.

    Examples
    --------
    >>> res = score_files("sample_data/dk_pred.nii.gz", "sample_data/dk_gt.nii.gz",
    ...                   metrics="dice,hd95", labels=[17], label_names="sample_data/dk_labels.json")
    >>> row = res.classes[0]
    >>> row.name, round(row.metrics["dice"], 4), round(row.metrics["hd95"], 2)
    ('L parsopercularis', 0.64, 1.41)
    """
    from .evaluate import evaluate_pair

    params = _with_header_names(params, (gt_path, pred_path))
    return evaluate_pair(str(pred_path), str(gt_path), make_params(**params), case=case)


def _with_header_names(params: dict[str, Any], paths, pattern: Optional[str] = None) -> dict[str, Any]:
    """Without ``label_names``, the label table in a NIfTI header extension of the inputs (GT
    first; TotalSegmentator writes one) names the classes."""
    if params.get("label_names") is not None:
        return params
    table = header_label_table(paths, pattern=pattern, storage_options=params.get("storage_options"))
    return params if table is None else {**params, "label_names": table}


def evaluate_folder(
    pred_dir: PathLike,
    gt_dir: PathLike,
    *,
    pattern: Optional[str] = None,
    pred_suffix: Optional[str] = None,
    gt_suffix: Optional[str] = None,
    missing: str = "error",
    jobs: Optional[int] = None,
    pred_ext: Optional[str] = None,
    shard: Any = None,
    scheduler: Optional[str] = None,
    batch_size: Optional[int] = None,
    recursive: bool = False,
    on_case: Optional[Callable[[CaseResult], None]] = None,
    **params: Any,
) -> RunResult:
    """Score every case of two folders (paired by file name) and summarise them.

    The keywords of :class:`FolderParams` choose the pairing, ``on_case`` is called after each
    case (progress), and the rest are those of :func:`score`.

    Examples
    --------
    >>> import shutil, tempfile, pathlib
    >>> top = pathlib.Path(tempfile.mkdtemp())
    >>> for sub in ("pred", "gt"):
    ...     (top / sub).mkdir()
    ...     _ = shutil.copy(f"sample_data/dk_{sub}.nii.gz", top / sub / "brain.nii.gz")
    >>> result = evaluate_folder(top / "pred", top / "gt", metrics="dice", labels=[17, 35], jobs=1)
    >>> result.summary.n_cases, [round(c.metrics["dice"].mean, 4) for c in result.summary.classes]
    (1, [0.64, 0.8381])
    """
    folder = FolderParams(
        pattern=pattern,
        pred_suffix=pred_suffix,
        gt_suffix=gt_suffix,
        missing=missing,  # type: ignore[arg-type]
        jobs=jobs,
        pred_ext=pred_ext,
        shard=shard,
        scheduler=scheduler,
        batch_size=batch_size,
        recursive=recursive,
    )
    return run_params(
        pred_dir,
        gt_dir,
        make_params(**_with_header_names(params, (gt_dir, pred_dir), pattern)),
        folder=folder,
        on_case=on_case,
        metrics_chosen=params.get("metrics") is not None,
    )


def run(pred: Any, gt: Any, *, folder: Optional[FolderParams] = None, **params: Any) -> RunResult:
    """A whole run: two arrays, two files or two folders -> RunResult with its summary.

    The result is what ``segloss eval`` renders and what :func:`segloss_cli.gate.check`
    gates. ``folder`` sets the pairing of folders; the other keywords are those of
    :func:`score`.

    Examples
    --------
    >>> import numpy as np
    >>> result = run(np.array([[0, 1], [1, 1]]), np.array([[0, 1], [0, 1]]), metrics="dice,precision")
    >>> result.summary.classes[0].metrics["precision"].mean
    0.6666666666666666
    """
    chosen = params.get("metrics") is not None
    if not isinstance(pred, (str, os.PathLike)):
        p = _array_params(params)
        return assemble_run((_score_arrays(pred, gt, p, "case"),), p, metrics_chosen=chosen)
    names_params = _with_header_names(params, (gt, pred), None if folder is None else folder.pattern)
    return run_params(pred, gt, make_params(**names_params), folder=folder, metrics_chosen=chosen)


# --- every loss and metric as a function (segloss_cli.losses.<name>, segloss_cli.metrics.<name>) ----


def loss_function(name: str) -> Callable[..., float]:
    """The function computing loss ``name`` (a registry name) on one pair of arrays."""
    from .losses.registry import LOSSES

    spec = LOSSES[name]

    def loss(pred: Any, gt: Any, **params: Any) -> float:
        res = score(pred, gt, metrics=(), losses=[spec.name], **params).losses[spec.name]
        return float("nan") if res.value is None else res.value

    loss.__name__ = loss.__qualname__ = spec.name
    loss.__doc__ = f"""{spec.description}.

    Per class: ``{spec.formula}``; reduced over classes: {spec.reduction}.

    Parameters
    ----------
    pred : array-like
        Probabilities or logits with a class axis (first or last), or a label map (one-hot).
    gt : array-like
        The ground-truth label map.
    **params
        Keywords of :func:`segloss_cli.score`: ``labels``, ``include_background``,
        ``ignore_label``, ``pred_type``, ``channel_axis``, ``renormalize``, and this loss's
        parameters: {", ".join(spec.params) or "none"}.

    Returns
    -------
    float
        The loss value of the case (``LossResult.value``; NaN where undefined). Per-class
        values: ``score(pred, gt, losses=["{spec.name}"]).losses["{spec.name}"].per_class``.
    """
    return loss


def metric_function(name: str) -> Callable[..., dict[int | str, Optional[float]]]:
    """The function computing metric ``name`` (a registry name) on one pair of arrays."""
    from .metrics.registry import all_metrics

    spec = all_metrics()[name]

    def metric(pred: Any, gt: Any, **params: Any) -> dict[int | str, Optional[float]]:
        res = score(pred, gt, metrics=[spec.name], losses=(), **params)
        return {row.label: row.metrics[spec.name] for row in res.classes}

    unit = f" ({spec.unit})" if spec.unit else ""
    metric.__name__ = metric.__qualname__ = spec.name
    metric.__doc__ = f"""{spec.description}{unit}: ``{spec.formula}``.

    Range [{spec.lo:g}, {spec.hi:g}], {"higher" if spec.higher_is_better else "lower" if spec.higher_is_better is False else "neither higher nor lower"} is better; empty-mask rule: {spec.empty_rule}
    (docs/conventions.md, "Empty masks").

    Parameters
    ----------
    pred, gt : array-like
        Label maps of one shape (or PRED as probabilities/logits with a class axis).
    **params
        Keywords of :func:`segloss_cli.score`: ``labels``, ``include_background``,
        ``ignore_label``, ``empty_policy``, ``spacing_mm`` (distance metrics need it), ...

    Returns
    -------
    dict
        ``{{label: value}}`` for each reported class; None where undefined.
    """
    return metric


def is_folder_pair(
    pred: PathLike, gt: PathLike, *, masks: bool = False, storage_options: Optional[Mapping[str, Any]] = None
) -> bool:
    """True for two folders of cases, False for one case: two files, a file and a folder of
    per-structure masks (TotalSegmentator's segmentations/), or two mask folders with ``masks``.
    A URL (io/remote.py) is a folder when objects lie under it."""
    from .io.masks import is_mask_folder
    from .io.remote import is_dir, is_url

    if is_url(pred) or is_url(gt):
        from .io.remote import MASKS_LOCAL_ONLY

        if masks:
            raise UsageError(f"@masks: {MASKS_LOCAL_ONLY}")
        dirs = [is_dir(str(p), storage_options) if is_url(p) else Path(p).is_dir() for p in (pred, gt)]
        if dirs[0] != dirs[1]:
            one, other = (pred, gt) if dirs[0] else (gt, pred)
            raise UsageError(
                f"{one}: is a folder but {other} is not; give two files or two folders (PRED and GT), not one of each "
                f"({MASKS_LOCAL_ONLY})"
            )
        return dirs[0]
    pred_p, gt_p = Path(pred), Path(gt)
    if pred_p.is_dir() != gt_p.is_dir():
        one, other = (pred_p, gt_p) if pred_p.is_dir() else (gt_p, pred_p)
        if is_mask_folder(one):
            return False  # one case: a multi-label file against a folder of its structures' masks
        raise UsageError(
            f"{one}: is a folder but {other} is not; give two files or two folders (PRED and GT), not one of each"
        )
    return pred_p.is_dir() and not masks


def run_params(
    pred: PathLike,
    gt: PathLike,
    params: EvalParams,
    *,
    folder: Optional[FolderParams] = None,
    metrics_chosen: bool = True,
    on_pairing: Optional[Callable[[Any], None]] = None,
    on_case: Optional[Callable[[CaseResult], None]] = None,
    masks: bool = False,
    on_result: Optional[Callable[[CaseResult], None]] = None,
    keep_cases: bool = True,
) -> RunResult:
    """The run of two files or two folders under ready-made parameter records (the CLI's entry).

    ``masks``: two folders are one case, each a folder of per-structure binary masks.

    ``on_pairing(pairing)`` is called once two folders are paired, before any case is scored;
    ``on_case(result)`` after each case of a folder as it finishes; ``on_result(result)`` with
    every case (a pair's one too) in case-id order, the order of the result's cases.
    ``keep_cases=False``: a folder run keeps no case (``RunResult.cases`` is empty; the
    summary is taken case by case, evaluate.case_accumulator), so its memory does not grow
    with the number of cases; ``on_result`` is then the only way to see them.
    """
    from .evaluate import case_accumulator
    from .folder import default_jobs, pair_folders, score_pairs
    from .io.remote import as_local_or_url

    pred_p, gt_p = as_local_or_url(pred), as_local_or_url(gt)  # a URL stays a string
    storage = params.load.storage_options
    if is_folder_pair(pred_p, gt_p, masks=masks, storage_options=storage):
        folder = folder or FolderParams()
        pairing = pair_folders(
            pred_p,
            gt_p,
            pattern=folder.pattern,
            pred_suffix=folder.pred_suffix,
            gt_suffix=folder.gt_suffix,
            missing=folder.missing,
            pred_ext=folder.pred_ext,
            storage_options=storage,
            recursive=folder.recursive,
        )
        if folder.shard is not None:
            from .shards import select_shard

            pairing = select_shard(pairing, folder.shard)
        if on_pairing is not None:
            on_pairing(pairing)
        jobs = default_jobs() if folder.jobs is None else folder.jobs
        running = case_accumulator(params, folder=True)

        def taken(case: CaseResult) -> None:
            running.add(case)
            if on_result is not None:
                on_result(case)

        if not pairing.pairs:  # a shard may hold no case: an empty part of the run
            cases: tuple[CaseResult, ...] = ()
        elif folder.scheduler is not None:
            from .backends import score_pairs_on

            cases = score_pairs_on(folder, pairing.pairs, params, on_case=on_case, on_result=taken, keep=keep_cases)
        else:
            cases = score_pairs(pairing.pairs, params, jobs=jobs, on_case=on_case, on_result=taken, keep=keep_cases)
        summary: Optional[PairingSummary] = pairing.summary()
        return assemble_run(cases, params, pairing=summary, metrics_chosen=metrics_chosen, running=running)
    from .evaluate import evaluate_pair

    one = evaluate_pair(str(pred_p), str(gt_p), params)
    if on_result is not None:
        on_result(one)
    return assemble_run((one,), params, metrics_chosen=metrics_chosen)
