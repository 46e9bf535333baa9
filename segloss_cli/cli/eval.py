"""`segloss eval PRED GT`: score a prediction against its ground truth."""

from __future__ import annotations

import sys
from enum import Enum
from pathlib import Path
from typing import Annotated, Optional

import typer

from ..choices import (
    Aggregate,
    AssdMode,
    DistanceMetric,
    EmptyPolicy,
    GtType,
    HdMode,
    MissingPolicy,
    PooledMeans,
    PredType,
    SurfaceModel,
)
from . import app
from ._batch import CaseProgress as _CaseProgress
from ._batch import report_gate
from ._common import err, handle_errors


class Format(str, Enum):
    table = "table"
    json = "json"
    csv = "csv"
    markdown = "markdown"


class Axes(str, Enum):
    auto = "auto"
    xyz = "xyz"
    zyx = "zyx"


INPUT = "Input"
CLASSES = "Classes"
METRICS = "Metrics"
OUTPUT = "Output"
FOLDERS = "Folders"
GATE = "CI gate"
LOSSES = "Losses"
LESIONS = "Lesions"


def _loss_parameter_options(func):
    """Add one option per loss parameter of the registry (losses.registry.PARAMS) to ``func``.

    A new loss parameter is declared in the registry only: its option, type, help and
    default reach `segloss eval` from there, and the value reaches the loss untouched.
    """
    import inspect

    from ..losses.registry import PARAMS

    sig = inspect.signature(func, eval_str=True)
    extra = []
    for spec in PARAMS.values():
        if spec.kind == "bool":
            hint: object = Annotated[
                bool, typer.Option(spec.option, help=f"{spec.help} Default: {spec.default}.", rich_help_panel=LOSSES)
            ]
            default: object = False
        elif spec.kind == "weights":
            hint = Annotated[
                Optional[str], typer.Option(spec.option, help=spec.help, rich_help_panel=LOSSES, show_default=False)
            ]
            default = None
        else:
            hint = Annotated[
                Optional[float],
                typer.Option(
                    spec.option,
                    help=f"{spec.help} Default: {spec.default}.",
                    rich_help_panel=LOSSES,
                    show_default=False,
                ),
            ]
            default = None
        extra.append(inspect.Parameter(spec.name, inspect.Parameter.KEYWORD_ONLY, default=default, annotation=hint))
    params = [p for p in sig.parameters.values() if p.kind != inspect.Parameter.VAR_KEYWORD]
    func.__signature__ = sig.replace(parameters=params + extra)
    func.__annotations__ = {**{p.name: p.annotation for p in params}, **{p.name: p.annotation for p in extra}}
    return func


@app.command("eval", no_args_is_help=True)
@_loss_parameter_options
@handle_errors
def eval_command(
    ctx: typer.Context,
    pred: Annotated[
        Path,
        typer.Argument(
            metavar="PRED",
            help="Prediction: label map (.nii/.nii.gz/.npy/.npz) or probability/logit map with a class axis.",
            show_default=False,
            readable=False,
            path_type=str,  # the text as given: a URL's // survives (a Path would fold it)
        ),
    ],
    gt: Annotated[
        Path,
        typer.Argument(
            metavar="GT",
            help="Ground-truth label map on the same grid.",
            show_default=False,
            readable=False,
            path_type=str,
        ),
    ],
    metrics: Annotated[
        Optional[str],
        typer.Option(
            "--metrics",
            "-m",
            help="Comma-separated metric names, aliases or groups (all, overlap, distance, none). Default: every metric but the opt-in ones `segloss metrics` marks; `all` adds those.",
            rich_help_panel=METRICS,
        ),
    ] = None,
    empty_policy: Annotated[
        EmptyPolicy,
        typer.Option(
            "--empty-policy",
            help="Empty masks: worst (missed/hallucinated class scores worst: dice 0, distance = image diagonal) or nan (undefined, null).",
            rich_help_panel=METRICS,
        ),
    ] = EmptyPolicy.WORST,
    convention: Annotated[
        Optional[str],
        typer.Option(
            "--convention",
            help="Reproduce a tool's definitions: segloss (default), monai, nnunet, medpy, deepmind, metricsreloaded, "
            "seg-metrics. Sets surface, hd mode and percentile, assd form, per-metric empty-case values and MONAI's "
            "loss variants (README 'Conventions of other tools'); options given explicitly override the preset; "
            "the JSON settings record it.",
            rich_help_panel=METRICS,
            show_default=False,
        ),
    ] = None,
    empty_value: Annotated[
        Optional[list[str]],
        typer.Option(
            "--empty-value",
            help="Per-metric empty-case values over --empty-policy: METRIC:STATUS=VALUE,... (repeatable, or ';'-"
            "separated), STATUS both, gt (GT empty), pred (PRED empty), one (gt and pred), any; VALUE a number, inf, "
            "nan or skip (null, left out of means) or worst (the worst distance), e.g. 'dice:both=nan,gt=nan;hd:one=inf'.",
            rich_help_panel=METRICS,
            show_default=False,
        ),
    ] = None,
    assd_mode: Annotated[
        AssdMode,
        typer.Option(
            "--assd-mode",
            help="assd: pooled (sum of both directions over n_P + n_G: MONAI symmetric=True, MetricsReloaded) or mean "
            "(the mean of the two directed means: MedPy's assd, = masd).",
            rich_help_panel=METRICS,
        ),
    ] = AssdMode.POOLED,
    pooled_means: Annotated[
        PooledMeans,
        typer.Option(
            "--pooled-means",
            help="Classes the dataset-level mIoU/mAcc/mDice/mFscore average over: mmseg (each class whose value is "
            "defined: mmsegmentation's IoUMetric) or torchmetrics (each class in some PRED or GT, 0/0 counted as 0: "
            "average='macro'; a class predicted but in no GT then adds a 0 to mAcc).",
            rich_help_panel=METRICS,
        ),
    ] = PooledMeans.MMSEG,
    hd_percentile: Annotated[
        float,
        typer.Option(
            "--hd-percentile",
            help="Percentile of the hd95 metric (key stays hd95; the value used is recorded in JSON settings).",
            rich_help_panel=METRICS,
        ),
    ] = 95.0,
    hd_mode: Annotated[
        HdMode,
        typer.Option(
            "--hd-mode",
            help="hd95 definition: max of the two directed percentiles (MONAI, MetricsReloaded) or pooled (percentile of both directions together, MedPy).",
            rich_help_panel=METRICS,
        ),
    ] = HdMode.MAX,
    surface: Annotated[
        Optional[SurfaceModel],
        typer.Option(
            "--surface",
            help="Surface model of the distance metrics: voxel (boundary voxels, default), surfel "
            "(DeepMind surface-distance: voxel-corner surface elements weighted by their area, for hd, hd95, "
            "assd, masd, nsd and the directed distances) or contour26 (seg-metrics: SimpleITK LabelContour, "
            "a background voxel among the 26 neighbours, the image border not background). lesion_hd95 takes the --lesion-preset's (surfel "
            "for BraTS) unless this is given.",
            rich_help_panel=METRICS,
            show_default=False,
        ),
    ] = None,
    distance_metric: Annotated[
        DistanceMetric,
        typer.Option(
            "--distance-metric",
            help="Distance between surface elements for hd, hd95, assd, masd, nsd and the directed distances: "
            "euclidean (default), taxicab (sum of the per-axis mm) or chessboard (largest per-axis mm), MONAI's "
            "distance_metric (which counts voxel steps for the last two: equal at 1 mm spacing).",
            rich_help_panel=METRICS,
        ),
    ] = DistanceMetric.EUCLIDEAN,
    nsd_tolerance: Annotated[
        Optional[str],
        typer.Option(
            "--nsd-tolerance",
            help="NSD tolerance in mm: one value (default 1) and/or label=mm pairs, e.g. 2 or 1=2,3=0.5 or 1.5,3=0.5.",
            rich_help_panel=METRICS,
        ),
    ] = None,
    worst_distance: Annotated[
        Optional[float],
        typer.Option(
            "--worst-distance",
            help="Distance (mm) reported for a missed or hallucinated class under --empty-policy worst. Default: diagonal of the GT field of view.",
            rich_help_panel=METRICS,
        ),
    ] = None,
    boundary_iou_ratio: Annotated[
        float,
        typer.Option(
            "--boundary-iou-ratio",
            help="boundary_iou's band width as a fraction of the image diagonal (in voxels, rounded, at least 1), as the reference's dilation_ratio.",
            rich_help_panel=METRICS,
        ),
    ] = 0.02,
    lesion_preset: Annotated[
        Optional[str],
        typer.Option(
            "--lesion-preset",
            help="Lesion metrics (--metrics lesion): a BraTS 2023 sub-challenge's dilation and volume threshold: "
            "brats-gli (default: 3, 50 mm^3), brats-ssa, brats-ped (3, 50), brats-men (1, 50), brats-met (1, 2).",
            rich_help_panel=LESIONS,
        ),
    ] = None,
    lesion_dilation: Annotated[
        Optional[int],
        typer.Option(
            "--lesion-dilation",
            help="Dilations of GT (18-neighbourhood) that merge nearby GT components and match PRED components "
            "to a lesion; overrides the preset.",
            rich_help_panel=LESIONS,
        ),
    ] = None,
    lesion_connectivity: Annotated[
        Optional[int],
        typer.Option(
            "--lesion-connectivity",
            help="Connected components: 6, 18, 26 (3-D) or 4, 8 (2-D). Default: 26 / 8 (BraTS); autoPET uses 18.",
            rich_help_panel=LESIONS,
        ),
    ] = None,
    lesion_volume_threshold: Annotated[
        Optional[float],
        typer.Option(
            "--lesion-volume-threshold",
            help="GT lesions of at most this volume (mm^3) are left out of lesion_dice/lesion_hd95; overrides the preset.",
            rich_help_panel=LESIONS,
        ),
    ] = None,
    lesion_worst_hd95: Annotated[
        Optional[float],
        typer.Option(
            "--lesion-worst-hd95",
            help="lesion_hd95 of a missed lesion or a false-positive component (mm). Default: 374 (BraTS).",
            rich_help_panel=LESIONS,
        ),
    ] = None,
    lesion_iou: Annotated[
        Optional[float],
        typer.Option(
            "--lesion-iou",
            help="det_* and pq/sq/rq: components match where IoU is above this. Default: 0.5 (panoptica).",
            rich_help_panel=LESIONS,
        ),
    ] = None,
    labels: Annotated[
        Optional[str],
        typer.Option(
            "--labels",
            "-l",
            help="Classes to report, e.g. 1,2,5 or 1-3. Default: every label in PRED or GT (0..K-1 for score maps).",
            rich_help_panel=CLASSES,
        ),
    ] = None,
    include_background: Annotated[
        bool,
        typer.Option(
            "--include-background", help="Also report label 0 (excluded by default).", rich_help_panel=CLASSES
        ),
    ] = False,
    region: Annotated[
        Optional[list[str]],
        typer.Option(
            "--region",
            help="A class that is a union of labels, scored on the union masks, e.g. --region WT=1,2,3 --region TC=2,3 (repeatable). With regions, only they are reported unless --labels adds labels. A dataset.json's list-valued labels are regions too.",
            rich_help_panel=CLASSES,
            show_default=False,
        ),
    ] = None,
    ignore_label: Annotated[
        Optional[int],
        typer.Option(
            "--ignore-label",
            help="GT label whose voxels are excluded from every count and loss (e.g. 255).",
            rich_help_panel=CLASSES,
        ),
    ] = None,
    label_names: Annotated[
        Optional[Path],
        typer.Option(
            "--label-names",
            help='JSON {"1": "liver"}, an nnU-Net/MSD dataset.json, a CSV label table (id,label,...) or a NIfTI file with a label table in its header. Default: the label table in GT\'s (else PRED\'s) NIfTI header extension, as TotalSegmentator writes it.',
            rich_help_panel=CLASSES,
        ),
    ] = None,
    pred_type: Annotated[
        PredType,
        typer.Option(
            "--pred-type",
            help="What PRED holds. auto: integer -> labels; float with one extra axis (not a trailing length-1 one) -> probs; float without -> labels.",
            rich_help_panel=INPUT,
        ),
    ] = PredType.AUTO,
    gt_type: Annotated[
        GtType,
        typer.Option(
            "--gt-type",
            help="What GT holds: labels (a label map) or soft (class probabilities with a class axis, channel-first "
            "numpy / channel-last NIfTI or --channel-axis, summing to 1): soft targets for the losses, the argmax for "
            "the metrics.",
            rich_help_panel=INPUT,
        ),
    ] = GtType.LABELS,
    channel_axis: Annotated[
        Optional[int],
        typer.Option(
            "--channel-axis",
            help="Class axis of a probs/logits PRED (default: whichever of first/last leaves the GT shape).",
            rich_help_panel=INPUT,
        ),
    ] = None,
    threshold: Annotated[
        float,
        typer.Option(
            "--threshold", help="Single-channel (sigmoid) PRED: foreground where p >= threshold.", rich_help_panel=INPUT
        ),
    ] = 0.5,
    spacing: Annotated[
        Optional[str],
        typer.Option(
            "--spacing",
            help="Voxel spacing in mm for .npy/.npz inputs, e.g. 0.8,0.8,2.5 or 1 (NIfTI spacing comes from the header).",
            rich_help_panel=INPUT,
        ),
    ] = None,
    npz_key: Annotated[
        Optional[str],
        typer.Option(
            "--npz-key",
            help="Array name inside .npz files that hold several. Default: the only array, else 'probabilities' (nnU-Net's --save_probabilities).",
            rich_help_panel=INPUT,
        ),
    ] = None,
    axes: Annotated[
        Axes,
        typer.Option(
            "--axes",
            help="Order of PRED's spatial axes: xyz (as stored, nibabel's order), zyx (reversed: nnU-Net's .npz, SimpleITK arrays), or auto (as stored, else reversed where only that fits GT, with a note).",
            rich_help_panel=INPUT,
        ),
    ] = Axes.auto,
    storage_option: Annotated[
        Optional[list[str]],
        typer.Option(
            "--storage-option",
            help="PRED/GT given as URLs (s3://, gs://, file://, any fsspec protocol; needs pip install 'segloss[cloud]'): a key=value for the file system, repeatable, e.g. --storage-option endpoint_url=http://127.0.0.1:9000 --storage-option anon=true. Never written to the output.",
            rich_help_panel=INPUT,
            show_default=False,
        ),
    ] = None,
    palette: Annotated[
        Optional[str],
        typer.Option(
            "--palette",
            help='Colours of RGB/RGBA masks -> labels: a JSON ({"1": [128, 0, 0]}) or CSV (label,r,g,b[,name]) file, or a preset: voc, cityscapes (its names name the classes). Palette and greyscale PNGs need none.',
            rich_help_panel=INPUT,
            show_default=False,
        ),
    ] = None,
    output_format: Annotated[
        Format, typer.Option("--format", "-f", help="What to print on stdout.", rich_help_panel=OUTPUT)
    ] = Format.table,
    json_path: Annotated[
        Optional[Path],
        typer.Option("--json", help="Also write the JSON result here (atomically).", rich_help_panel=OUTPUT),
    ] = None,
    csv_path: Annotated[
        Optional[Path],
        typer.Option(
            "--csv", help="Also write per-case, per-class rows as CSV here (atomically).", rich_help_panel=OUTPUT
        ),
    ] = None,
    cases_jsonl: Annotated[
        Optional[Path],
        typer.Option(
            "--cases-jsonl",
            help="Also write one JSON line per case (the JSON report's case object) here, as the cases are scored (in case order; put in place at the end, atomically). Without --json, --format json, --html or a .STAT requirement a folder run keeps no case in memory.",
            rich_help_panel=OUTPUT,
            show_default=False,
        ),
    ] = None,
    quiet: Annotated[
        bool, typer.Option("--quiet", "-q", help="No progress or notes on stderr.", rich_help_panel=OUTPUT)
    ] = False,
    aggregate: Annotated[
        Aggregate,
        typer.Option(
            "--aggregate",
            help="Folder table: cases (mean ± std over cases), pooled (dataset-level: counts summed over cases, then the metrics, with aAcc/mIoU/mAcc/mDice/mFscore), or both. JSON always has both.",
            rich_help_panel=OUTPUT,
        ),
    ] = Aggregate.CASES,
    summary_csv: Annotated[
        Optional[Path],
        typer.Option(
            "--summary-csv",
            help="Also write the summary statistics (per class and metric: mean, std, median, q1, q3, min, max, n, n_null) as CSV here.",
            rich_help_panel=OUTPUT,
        ),
    ] = None,
    markdown_path: Annotated[
        Optional[Path],
        typer.Option(
            "--markdown",
            help='Also write a Markdown summary here (headline, failed checks, summary table, worst cases), e.g. "$GITHUB_STEP_SUMMARY" (replaced, not appended: use --format markdown >> to append).',
            rich_help_panel=OUTPUT,
            show_default=False,
        ),
    ] = None,
    html_path: Annotated[
        Optional[Path],
        typer.Option(
            "--html",
            help="Also write a self-contained HTML report here: summary, distributions over cases, worst cases and their slices (needs pip install 'segloss[report]').",
            rich_help_panel=OUTPUT,
        ),
    ] = None,
    plots_dir: Annotated[
        Optional[Path],
        typer.Option(
            "--plots", help="Also write the report's plots as PNG files into this folder.", rich_help_panel=OUTPUT
        ),
    ] = None,
    masks: Annotated[
        bool,
        typer.Option(
            "--masks",
            help="PRED and GT folders are one case each: a folder of per-structure binary masks (TotalSegmentator's segmentations/, liver.nii.gz, ...), classes named by the file names. A folder against a file is read so without it.",
            rich_help_panel=INPUT,
        ),
    ] = False,
    pattern: Annotated[
        Optional[str],
        typer.Option(
            "--pattern",
            help="Folders: only files whose name matches this glob, e.g. 'case_*.nii.gz'.",
            rich_help_panel=FOLDERS,
        ),
    ] = None,
    pred_suffix: Annotated[
        Optional[str],
        typer.Option(
            "--pred-suffix",
            help="Folders: strip this from prediction case ids (case1_seg.nii.gz -> case1), e.g. _seg.",
            rich_help_panel=FOLDERS,
        ),
    ] = None,
    gt_suffix: Annotated[
        Optional[str],
        typer.Option(
            "--gt-suffix", help="Folders: strip this from ground-truth case ids, e.g. _gt.", rich_help_panel=FOLDERS
        ),
    ] = None,
    recursive: Annotated[
        bool,
        typer.Option(
            "--recursive",
            help="Folders: the files in sub-folders are cases too, paired by file name (Cityscapes' gtFine/val/<city>/ "
            "against a flat or nested prediction folder); no sub-folder is then a case of per-structure masks.",
            rich_help_panel=FOLDERS,
        ),
    ] = False,
    pred_ext: Annotated[
        Optional[str],
        typer.Option(
            "--pred-ext",
            help="Folders: the prediction file to use when a case has several, by extension, e.g. .npz for nnU-Net's probabilities (case.nii.gz, case.npz and case.pkl; .pkl is never read).",
            rich_help_panel=FOLDERS,
            show_default=False,
        ),
    ] = None,
    missing: Annotated[
        MissingPolicy,
        typer.Option(
            "--missing",
            help="Folders: a GT without prediction (or a prediction without GT) is an error; worst: score the missing prediction as empty; skip: leave it out. Both are counted in the summary.",
            rich_help_panel=FOLDERS,
        ),
    ] = MissingPolicy.ERROR,
    jobs: Annotated[
        Optional[int],
        typer.Option(
            "--jobs",
            "-j",
            help="Folders: cases scored in parallel (worker threads, one case each; memory holds about N cases). Default: the number of cores.",
            rich_help_panel=FOLDERS,
            show_default=False,
        ),
    ] = None,
    shard: Annotated[
        Optional[str],
        typer.Option(
            "--shard",
            help="Folders: score only shard K of N (e.g. 3/64; a stable hash of the case id picks the cases) and add what `segloss merge` needs to the JSON. Run shards 1/N..N/N anywhere (a SLURM array, a Kubernetes indexed Job), then `segloss merge part-*.json`.",
            rich_help_panel=FOLDERS,
            show_default=False,
        ),
    ] = None,
    scheduler: Annotated[
        Optional[str],
        typer.Option(
            "--scheduler",
            help="Folders: score the cases on a Dask cluster: local (one worker process per core), local:N, or tcp://HOST:PORT (needs pip install 'segloss[dask]').",
            rich_help_panel=FOLDERS,
            show_default=False,
        ),
    ] = None,
    batch_size: Annotated[
        str,
        typer.Option(
            "--batch-size",
            help="With --scheduler: cases per Dask task, auto (enough tasks to keep every worker busy, at most 16 cases each) or a number.",
            rich_help_panel=FOLDERS,
        ),
    ] = "auto",
    connect_timeout: Annotated[
        float,
        typer.Option(
            "--connect-timeout",
            help="With --scheduler tcp://...: seconds to wait for the scheduler before giving up.",
            rich_help_panel=FOLDERS,
        ),
    ] = 10.0,
    require: Annotated[
        Optional[list[str]],
        typer.Option(
            "--require",
            "-r",
            help="Fail (exit 1) unless this holds, e.g. 'dice>=0.85' (every class), 'hd95[liver]<=5', 'mean(dice)>=0.8' (over classes; also min, max, median), 'dice.min>=0.5' (no case below; also .median .q1 .q3 .max .p05), 'loss.dice<=0.2', 'pooled.mIoU>=0.7'. Repeatable. Checked on the case value for a pair and the summary mean for folders; an undefined value fails.",
            rich_help_panel=GATE,
            show_default=False,
        ),
    ] = None,
    require_file: Annotated[
        Optional[Path],
        typer.Option(
            "--require-file",
            help='TOML file with require = ["dice>=0.85", ...] (top level or under [tool.segloss]).',
            rich_help_panel=GATE,
        ),
    ] = None,
    allow_undefined: Annotated[
        bool,
        typer.Option(
            "--allow-undefined",
            help="An undefined (null) value passes a requirement instead of failing it.",
            rich_help_panel=GATE,
        ),
    ] = False,
    losses: Annotated[
        Optional[str],
        typer.Option(
            "--losses",
            help="Comma-separated loss names or groups (all, sum, lovasz, default, none). Default: every loss except lovasz_* for a probability/logit PRED, none for a label map. Lovasz losses sort once per class and need 9 bytes per voxel of extra memory (one class at a time). See `segloss losses`.",
            rich_help_panel=LOSSES,
        ),
    ] = None,
    renormalize: Annotated[
        bool,
        typer.Option(
            "--renormalize",
            help="Divide probabilities by their channel sum (instead of rejecting sums off 1 by more than 1e-3).",
            rich_help_panel=INPUT,
        ),
    ] = False,
    reduction: Annotated[
        str,
        typer.Option(
            "--reduction",
            help="Losses of a folder: case (each case's losses, summarised over cases) or batch (also each loss of "
            "the sums over all cases, as one volume: summary.pooled.losses in JSON, what loss.NAME requirements "
            "check; MONAI batch=True, SMP's default). Lovasz losses cannot be pooled from sums.",
            rich_help_panel=LOSSES,
        ),
    ] = "case",
    smooth: Annotated[
        Optional[float],
        typer.Option(
            "--smooth", help="Set both --smooth-nr and --smooth-dr.", rich_help_panel=LOSSES, show_default=False
        ),
    ] = None,
    **loss_options,
) -> None:
    """Score PRED against GT: per-class metrics as a table, JSON or CSV.

    \b
    Examples:
      segloss eval pred.nii.gz gt.nii.gz
      segloss eval pred.nii.gz gt.nii.gz --metrics dice,hd95 --labels 1,2
      segloss eval probs.npy gt.npy --spacing 0.8,0.8,2.5 --format json
      segloss eval pred.nii.gz gt.nii.gz --json scores.json --csv scores.csv
      segloss eval preds/ labels/ --jobs 4 --summary-csv summary.csv
      segloss eval preds/ labels/ --require 'dice>=0.85' --require 'hd95[liver]<=5'
    """
    from .. import gate
    from ..api import FolderParams, is_folder_pair, make_params, run_params
    from ..backends import parse_batch_size
    from ..classes import header_label_table
    from ..errors import UsageError
    from ..io.atomic import check_writable
    from ..io.remote import as_local_or_url
    from .parse import (
        parse_floats,
        parse_labels,
        parse_nsd_tolerance,
        parse_regions,
        parse_storage_options,
        parse_weights,
    )

    pred, gt = as_local_or_url(pred), as_local_or_url(gt)  # a URL (s3://...) stays text
    storage_options = parse_storage_options(storage_option)
    # Every file the run reads: no output may replace one (config files included).
    inputs = tuple(str(p) for p in (pred, gt, label_names, require_file, palette) if p is not None)
    folders = is_folder_pair(pred, gt, masks=masks, storage_options=storage_options)
    if not folders:
        used = [
            o
            for o, v in (
                ("--pattern", pattern),
                ("--pred-suffix", pred_suffix),
                ("--gt-suffix", gt_suffix),
                ("--pred-ext", pred_ext),
                ("--shard", shard),
                ("--scheduler", scheduler),
            )
            if v is not None
        ]
        used += ["--missing"] if missing != MissingPolicy.ERROR else []
        used += ["--recursive"] if recursive else []
        if used:
            raise UsageError(f"{used[0]} applies to folders; PRED and GT are files")
    if reduction == "batch" and shard is not None:
        raise UsageError("--reduction batch needs every case's loss sums, which shards do not carry; run unsharded")
    if batch_size != "auto" and scheduler is None:
        raise UsageError("--batch-size applies to --scheduler; threads take one case at a time")
    folder = FolderParams(
        pattern,
        pred_suffix,
        gt_suffix,
        missing,
        jobs,
        pred_ext,
        shard,
        scheduler,
        parse_batch_size(batch_size),
        connect_timeout,
        recursive,
    )
    outputs = [
        check_writable(p, inputs)
        for p in (json_path, csv_path, summary_csv, markdown_path, cases_jsonl)
        if p is not None
    ]
    if len({o.resolve() for o in outputs}) < len(outputs):
        raise UsageError(
            "--json, --csv, --summary-csv, --markdown and --cases-jsonl must be different files; give separate paths"
        )
    from .rank import check_report_outputs, run_report, write_report

    check_report_outputs(html_path, plots_dir, inputs, outputs)

    if smooth is not None:
        for key in ("smooth_nr", "smooth_dr"):
            loss_options[key] = smooth if loss_options[key] is None else loss_options[key]
    loss_options["weights"] = parse_weights(loss_options["weights"])
    loss_options["squared"] = loss_options["squared"] or None
    keywords = dict(
        metrics=metrics,
        losses=losses,
        spacing_mm=parse_floats(spacing, "--spacing"),
        labels=parse_labels(labels),
        regions=parse_regions(region),
        include_background=include_background,
        ignore_label=ignore_label,
        label_names=label_names
        if label_names is not None
        else header_label_table((gt, pred), pattern=pattern, storage_options=storage_options),
        empty_policy=empty_policy,
        pred_type=pred_type,
        gt_type=gt_type.value,
        channel_axis=channel_axis,
        threshold=threshold,
        npz_key=npz_key,
        axes=axes.value,
        renormalize=renormalize,
        palette=palette,
        hd_percentile=hd_percentile,
        hd_mode=hd_mode,
        assd_mode=assd_mode,
        pooled_means=pooled_means.value,
        reduction=reduction,
        empty_values=empty_value or None,
        surface=None if surface is None else surface.value,
        distance_metric=distance_metric.value,
        nsd_tolerance_mm=parse_nsd_tolerance(nsd_tolerance) or 1.0,
        worst_distance_mm=worst_distance,
        boundary_iou_ratio=boundary_iou_ratio,
        storage_options=storage_options,
        lesion_preset=lesion_preset,
        lesion_dilation=lesion_dilation,
        lesion_connectivity=lesion_connectivity,
        lesion_volume_threshold_mm3=lesion_volume_threshold,
        lesion_worst_hd95_mm=lesion_worst_hd95,
        lesion_iou_threshold=lesion_iou,
        **{k: v for k, v in loss_options.items() if v is not None},
    )
    if convention is not None:  # the preset's settings where no option was given explicitly
        from ..conventions import SETTINGS, apply

        given = {"empty_values"} if empty_value else set()
        given |= {
            k for k in SETTINGS if k in ctx.params and getattr(ctx.get_parameter_source(k), "name", "") != "DEFAULT"
        }
        keywords = apply(convention, keywords, explicit=given)
    params = make_params(**keywords)

    texts = list(require or [])
    if require_file is not None:
        texts += gate.load_requirement_file(require_file)
    requirements = [gate.parse_requirement(t) for t in texts]
    # Before any file is read: the losses a run may compute (the default is that of a score map).
    gate.validate_requirements(requirements, params.metrics, params.losses.for_kind("probs"))

    progress = _CaseProgress(quiet)
    paired = []

    def on_pairing(pairing) -> None:
        paired.append(pairing)
        progress.start(pairing, missing)

    from ..losses.registry import LOSSES
    from ._stream import CaseStreams

    # Outputs that need every case at once; any other output is streamed or a summary, so a
    # folder run then keeps no case (its memory does not grow with the number of cases).
    keep_cases = bool(
        json_path
        or output_format == Format.json
        or html_path
        or plots_dir
        or shard
        or any(r.stat is not None for r in requirements)
    )
    streams = CaseStreams(
        csv_path=csv_path,
        jsonl_path=cases_jsonl,
        stdout_csv=output_format == Format.csv,
        metric_names=params.metrics,
        loss_order=tuple(LOSSES),
    )
    with streams:  # an error or an interrupt removes the streamed files: nothing is written
        with progress:
            run = run_params(
                pred,
                gt,
                params,
                masks=masks,
                folder=folder,
                metrics_chosen=metrics is not None,
                on_pairing=on_pairing,
                on_case=progress.advance,
                on_result=streams.add,
                keep_cases=keep_cases,
            )
        block = None
        if folder.shard is not None:
            from ..shards import shard_block

            block = shard_block(run, paired[0].shard, params, metrics_chosen=metrics is not None)
        if not quiet:
            _print_notes(run, streams)
            if ignore_label is None and params.ignore_label is not None:
                err(
                    f'segloss: note: ignore label {params.ignore_label} from {label_names} (its "ignore" entry); --ignore-label overrides it'
                )
        if not folders and not run.cases[0].classes and not quiet:
            err(
                "segloss: note: no class to report: PRED and GT hold only background; "
                "name labels with --labels to report them (as both_empty) or add --include-background"
            )
        checks = gate.check(run, requirements, allow_undefined=allow_undefined)
        report = run_report(run, load=params.load) if (html_path or plots_dir) else None
        _emit(
            run,
            output_format,
            json_path,
            csv_path,
            summary_csv,
            folder=folders,
            aggregate=aggregate,
            shard=block,
            markdown_path=markdown_path,
            checks=checks,
            streams=streams,
        )
        write_report(report, html_path, plots_dir)
        if checks:
            report_gate(checks, len(requirements), quiet=quiet)


def _print_notes(run, streams=None) -> None:
    """Each distinct note of the cases once on stderr, with how many cases it concerns
    (``streams``: the notes taken as the cases came, _stream.CaseStreams)."""
    from ..errors import render_params
    from ._common import cli_options, err

    if streams is None:
        seen: dict[str, list] = {}
        for case in run.cases:
            for note in case.notes:
                seen.setdefault(note, [0, case.case])[0] += 1
        n_cases = len(run.cases)
    else:
        seen, n_cases = streams.notes, streams.n_cases
    for note, (count, first) in seen.items():
        where = f" ({count} cases, e.g. {first})" if n_cases > 1 else ""
        err(f"segloss: warning: {render_params(note, cli_options())}{where}")


def _piped_width() -> int:
    """Width of a table written to a pipe or file: COLUMNS when set (a CI log's width), else 250."""
    import os

    try:
        return max(40, int(os.environ.get("COLUMNS", "")))
    except ValueError:
        return 250


def _emit(
    run,
    output_format: Format,
    json_path: Optional[Path],
    csv_path: Optional[Path],
    summary_csv: Optional[Path] = None,
    *,
    folder: bool = False,
    aggregate: str = "cases",
    shard: Optional[dict] = None,
    markdown_path: Optional[Path] = None,
    checks: Optional[list] = None,
    streams=None,
) -> None:
    """Serialise everything first (the JSON straight into its temporary file, one class at a
    time), then put the files in place atomically, then print.

    ``streams`` (_stream.CaseStreams): the CSV outputs were written as the cases came; they
    are put in place with the others, and stdout's is copied out of its spool."""
    from ..io.atomic import StreamedOutput
    from ..report.csv_ import render_csv
    from ..report.json_ import write_json

    json_file = None if json_path is None else StreamedOutput(json_path)
    try:
        if json_file is not None:
            write_json(run, json_file.write, shard=shard)
        _emit_files(run, csv_path, summary_csv, folder, markdown_path, checks, streams, json_file)
    finally:
        if json_file is not None:
            json_file.discard()  # a no-op once it is in place
    if output_format == Format.json:
        write_json(run, sys.stdout.write, shard=shard)
    elif output_format == Format.csv:
        if streams is not None:
            streams.copy_stdout(sys.stdout)
        else:
            sys.stdout.write(render_csv(run))
    elif output_format == Format.markdown:
        from ..report.markdown import render_markdown

        sys.stdout.write(render_markdown(run, checks or [], folder=folder))
    else:
        from rich.console import Console

        console = Console(
            highlight=False, emoji=False, soft_wrap=False, width=None if sys.stdout.isatty() else _piped_width()
        )  # emoji=False: a class name ":skull:" is text, not an emoji
        if folder:
            from ..report.summary import print_summary

            print_summary(run, console, aggregate=str(aggregate))
        else:
            from ..report.table import print_table

            print_table(run, console)


def _emit_files(run, csv_path, summary_csv, folder, markdown_path, checks, streams, json_file) -> None:
    """The files of :func:`_emit`, put in place together (all or nothing)."""
    from ..io.atomic import StreamedOutput, write_all_atomic
    from ..report.csv_ import render_csv, write_summary_csv

    files = {}
    if csv_path and streams is None:
        files[csv_path] = render_csv(run)
    summary_file = None if not summary_csv else StreamedOutput(summary_csv)  # streamed, as the JSON
    try:
        if summary_file is not None:
            write_summary_csv(run, summary_file.write)
        if markdown_path:
            from ..report.markdown import render_markdown

            files[markdown_path] = render_markdown(run, checks or [], folder=folder)
        streamed = (streams.outputs() if streams is not None else ()) + tuple(
            f for f in (json_file, summary_file) if f is not None
        )
        if files or streamed:
            write_all_atomic(files, streamed)
    finally:
        if summary_file is not None:
            summary_file.discard()  # a no-op once it is in place
