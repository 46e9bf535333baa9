"""`segloss eval PRED GT`: score a prediction against its ground truth."""

from __future__ import annotations

import sys
from enum import Enum
from pathlib import Path
from typing import Optional

import typer
from typing import Annotated

from . import app
from ._common import handle_errors


class Format(str, Enum):
    table = "table"
    json = "json"
    csv = "csv"


class PredType(str, Enum):
    auto = "auto"
    labels = "labels"
    probs = "probs"
    logits = "logits"


class EmptyPolicy(str, Enum):
    worst = "worst"
    nan = "nan"


class HdMode(str, Enum):
    max = "max"
    pooled = "pooled"


INPUT = "Input"
CLASSES = "Classes"
METRICS = "Metrics"
OUTPUT = "Output"
FOLDERS = "Folders"
GATE = "CI gate"


class Missing(str, Enum):
    error = "error"
    worst = "worst"
    skip = "skip"
LOSSES = "Losses"


def _lp(name: str) -> str:
    """Help text of a loss parameter, with its default, from the loss registry."""
    from ..losses.registry import PARAMS

    spec = PARAMS[name]
    return f"{spec.help} Default: {spec.default}."


@app.command("eval", no_args_is_help=True)
@handle_errors
def eval_command(
    pred: Annotated[Path, typer.Argument(metavar="PRED", help="Prediction: label map (.nii/.nii.gz/.npy/.npz) or probability/logit map with a class axis.", show_default=False, readable=False)],
    gt: Annotated[Path, typer.Argument(metavar="GT", help="Ground-truth label map on the same grid.", show_default=False, readable=False)],
    metrics: Annotated[Optional[str], typer.Option("--metrics", "-m", help="Comma-separated metric names, aliases or groups (all, overlap, distance, none). Default: all. See `segloss metrics`.", rich_help_panel=METRICS)] = None,
    empty_policy: Annotated[EmptyPolicy, typer.Option("--empty-policy", help="Empty masks: worst (missed/hallucinated class scores worst: dice 0, distance = image diagonal) or nan (undefined, null).", rich_help_panel=METRICS)] = EmptyPolicy.worst,
    hd_percentile: Annotated[float, typer.Option("--hd-percentile", help="Percentile of the hd95 metric (key stays hd95; the value used is recorded in JSON settings).", rich_help_panel=METRICS)] = 95.0,
    hd_mode: Annotated[HdMode, typer.Option("--hd-mode", help="hd95 definition: max of the two directed percentiles (MONAI, MetricsReloaded) or pooled (percentile of both directions together, MedPy).", rich_help_panel=METRICS)] = HdMode.max,
    nsd_tolerance: Annotated[Optional[str], typer.Option("--nsd-tolerance", help="NSD tolerance in mm: one value (default 1) and/or label=mm pairs, e.g. 2 or 1=2,3=0.5 or 1.5,3=0.5.", rich_help_panel=METRICS)] = None,
    worst_distance: Annotated[Optional[float], typer.Option("--worst-distance", help="Distance (mm) reported for a missed or hallucinated class under --empty-policy worst. Default: diagonal of the GT field of view.", rich_help_panel=METRICS)] = None,
    labels: Annotated[Optional[str], typer.Option("--labels", "-l", help="Classes to report, e.g. 1,2,5 or 1-3. Default: every label in PRED or GT (0..K-1 for score maps).", rich_help_panel=CLASSES)] = None,
    include_background: Annotated[bool, typer.Option("--include-background", help="Also report label 0 (excluded by default).", rich_help_panel=CLASSES)] = False,
    ignore_label: Annotated[Optional[int], typer.Option("--ignore-label", help="GT label whose voxels are excluded from every count and loss (e.g. 255).", rich_help_panel=CLASSES)] = None,
    label_names: Annotated[Optional[Path], typer.Option("--label-names", help='JSON {"1": "liver"} or an nnU-Net/MSD dataset.json, to name classes.', rich_help_panel=CLASSES)] = None,
    pred_type: Annotated[PredType, typer.Option("--pred-type", help="What PRED holds. auto: integer -> labels; float with one extra axis -> probs; float without -> labels.", rich_help_panel=INPUT)] = PredType.auto,
    channel_axis: Annotated[Optional[int], typer.Option("--channel-axis", help="Class axis of a probs/logits PRED (default: whichever of first/last leaves the GT shape).", rich_help_panel=INPUT)] = None,
    threshold: Annotated[float, typer.Option("--threshold", help="Single-channel (sigmoid) PRED: foreground where p >= threshold.", rich_help_panel=INPUT)] = 0.5,
    spacing: Annotated[Optional[str], typer.Option("--spacing", help="Voxel spacing in mm for .npy/.npz inputs, e.g. 0.8,0.8,2.5 or 1 (NIfTI spacing comes from the header).", rich_help_panel=INPUT)] = None,
    npz_key: Annotated[Optional[str], typer.Option("--npz-key", help="Array name inside .npz files that hold several.", rich_help_panel=INPUT)] = None,
    output_format: Annotated[Format, typer.Option("--format", "-f", help="What to print on stdout.", rich_help_panel=OUTPUT)] = Format.table,
    json_path: Annotated[Optional[Path], typer.Option("--json", help="Also write the JSON result here (atomically).", rich_help_panel=OUTPUT)] = None,
    csv_path: Annotated[Optional[Path], typer.Option("--csv", help="Also write per-case, per-class rows as CSV here (atomically).", rich_help_panel=OUTPUT)] = None,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress or notes on stderr.", rich_help_panel=OUTPUT)] = False,
    summary_csv: Annotated[Optional[Path], typer.Option("--summary-csv", help="Also write the summary statistics (per class and metric: mean, std, median, q1, q3, min, max, n, n_null) as CSV here.", rich_help_panel=OUTPUT)] = None,
    pattern: Annotated[Optional[str], typer.Option("--pattern", help="Folders: only files whose name matches this glob, e.g. 'case_*.nii.gz'.", rich_help_panel=FOLDERS)] = None,
    pred_suffix: Annotated[Optional[str], typer.Option("--pred-suffix", help="Folders: strip this from prediction case ids (case1_seg.nii.gz -> case1), e.g. _seg.", rich_help_panel=FOLDERS)] = None,
    gt_suffix: Annotated[Optional[str], typer.Option("--gt-suffix", help="Folders: strip this from ground-truth case ids, e.g. _gt.", rich_help_panel=FOLDERS)] = None,
    missing: Annotated[Missing, typer.Option("--missing", help="Folders: a GT without prediction (or a prediction without GT) is an error; worst: score the missing prediction as empty; skip: leave it out. Both are counted in the summary.", rich_help_panel=FOLDERS)] = Missing.error,
    jobs: Annotated[Optional[int], typer.Option("--jobs", "-j", help="Folders: cases scored in parallel (worker threads, one case each; memory holds about N cases). Default: the number of cores.", rich_help_panel=FOLDERS, show_default=False)] = None,
    require: Annotated[Optional[list[str]], typer.Option("--require", "-r", help="Fail (exit 1) unless this holds, e.g. 'dice>=0.85', 'hd95[liver]<=5', 'loss.dice<=0.2'. Repeatable. Checked on the case value for a pair and the summary mean for folders.", rich_help_panel=GATE, show_default=False)] = None,
    require_file: Annotated[Optional[Path], typer.Option("--require-file", help='TOML file with require = ["dice>=0.85", ...] (top level or under [tool.segloss]).', rich_help_panel=GATE)] = None,
    allow_undefined: Annotated[bool, typer.Option("--allow-undefined", help="An undefined (null) value passes a requirement instead of failing it.", rich_help_panel=GATE)] = False,
    losses: Annotated[Optional[str], typer.Option("--losses", help="Comma-separated loss names or groups (all, sum, lovasz, default, none). Default: every loss except lovasz_* for a probability/logit PRED, none for a label map. Lovasz losses sort once per class and need 9 bytes per voxel of extra memory (one class at a time). See `segloss losses`.", rich_help_panel=LOSSES)] = None,
    renormalize: Annotated[bool, typer.Option("--renormalize", help="Divide probabilities by their channel sum (instead of rejecting sums off 1 by more than 1e-3).", rich_help_panel=INPUT)] = False,
    smooth: Annotated[Optional[float], typer.Option("--smooth", help="Set both --smooth-nr and --smooth-dr.", rich_help_panel=LOSSES, show_default=False)] = None,
    smooth_nr: Annotated[Optional[float], typer.Option("--smooth-nr", help=_lp("smooth_nr"), rich_help_panel=LOSSES, show_default=False)] = None,
    smooth_dr: Annotated[Optional[float], typer.Option("--smooth-dr", help=_lp("smooth_dr"), rich_help_panel=LOSSES, show_default=False)] = None,
    squared: Annotated[bool, typer.Option("--squared", help=_lp("squared"), rich_help_panel=LOSSES)] = False,
    weights: Annotated[Optional[str], typer.Option("--weights", help="Class weights for the losses: one per class (e.g. 0.1,1,2 for classes 0..2) or label=weight pairs (e.g. 2=5); others 1. Default: 1.", rich_help_panel=LOSSES, show_default=False)] = None,
    tversky_alpha: Annotated[Optional[float], typer.Option("--tversky-alpha", help=_lp("tversky_alpha"), rich_help_panel=LOSSES, show_default=False)] = None,
    tversky_beta: Annotated[Optional[float], typer.Option("--tversky-beta", help=_lp("tversky_beta"), rich_help_panel=LOSSES, show_default=False)] = None,
    focal_tversky_gamma: Annotated[Optional[float], typer.Option("--focal-tversky-gamma", help=_lp("focal_tversky_gamma"), rich_help_panel=LOSSES, show_default=False)] = None,
    focal_gamma: Annotated[Optional[float], typer.Option("--focal-gamma", help=_lp("focal_gamma"), rich_help_panel=LOSSES, show_default=False)] = None,
    focal_alpha: Annotated[Optional[float], typer.Option("--focal-alpha", help=_lp("focal_alpha"), rich_help_panel=LOSSES, show_default=False)] = None,
    combo_alpha: Annotated[Optional[float], typer.Option("--combo-alpha", help=_lp("combo_alpha"), rich_help_panel=LOSSES, show_default=False)] = None,
    combo_beta: Annotated[Optional[float], typer.Option("--combo-beta", help=_lp("combo_beta"), rich_help_panel=LOSSES, show_default=False)] = None,
    lambda_dice: Annotated[Optional[float], typer.Option("--lambda-dice", help=_lp("lambda_dice"), rich_help_panel=LOSSES, show_default=False)] = None,
    lambda_ce: Annotated[Optional[float], typer.Option("--lambda-ce", help=_lp("lambda_ce"), rich_help_panel=LOSSES, show_default=False)] = None,
    lambda_focal: Annotated[Optional[float], typer.Option("--lambda-focal", help=_lp("lambda_focal"), rich_help_panel=LOSSES, show_default=False)] = None,
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
    from ..classes import load_label_names, parse_labels
    from ..evaluate import EvalOptions, evaluate_pair, run_settings
    from ..io.atomic import check_writable
    from ..io.prediction import LoadOptions, parse_spacing
    from ..metrics.registry import all_metrics, select
    from ..model import RunResult
    from ..aggregate import summarize

    from ..errors import UsageError

    inputs = tuple(str(p) for p in (pred, gt, label_names) if p is not None)
    folders = pred.is_dir() or gt.is_dir()
    if folders and not (pred.is_dir() and gt.is_dir()):
        folder, other = (pred, gt) if pred.is_dir() else (gt, pred)
        raise UsageError(f"{folder}: is a folder but {other} is not; give two files or two folders (PRED and GT), not one of each")
    if not folders:
        used = [o for o, v in (("--pattern", pattern), ("--pred-suffix", pred_suffix), ("--gt-suffix", gt_suffix)) if v is not None]
        used += ["--missing"] if missing != Missing.error else []
        if used:
            raise UsageError(f"{used[0]} applies to folders; PRED and GT are files")
    if jobs is not None and jobs < 1:
        raise UsageError(f"--jobs must be >= 1, not {jobs}")
    outputs = [check_writable(p, inputs) for p in (json_path, csv_path, summary_csv) if p is not None]
    if len({o.resolve() for o in outputs}) < len(outputs):
        raise UsageError("--json, --csv and --summary-csv must be different files; give separate paths")

    metric_names = select(metrics)
    specs = all_metrics()
    load = LoadOptions(
        pred_type=pred_type.value,
        channel_axis=channel_axis,
        threshold=threshold,
        npz_key=npz_key,
        spacing_mm=parse_spacing(_floats(spacing, "--spacing")),
        ignore_label=ignore_label,
        renormalize=renormalize,
    )
    loss_names, loss_params = _loss_options(
        losses, smooth=smooth, smooth_nr=smooth_nr, smooth_dr=smooth_dr, squared=squared, weights=weights,
        tversky_alpha=tversky_alpha, tversky_beta=tversky_beta, focal_tversky_gamma=focal_tversky_gamma,
        focal_gamma=focal_gamma, focal_alpha=focal_alpha, combo_alpha=combo_alpha, combo_beta=combo_beta,
        lambda_dice=lambda_dice, lambda_ce=lambda_ce, lambda_focal=lambda_focal,
    )
    opts = EvalOptions(
        metrics=metric_names,
        load=load,
        labels=parse_labels(labels),
        include_background=include_background,
        label_names=load_label_names(str(label_names) if label_names else None),
        empty_policy=empty_policy.value,
        worst_distance_mm=_positive(worst_distance, "--worst-distance"),
        hd_percentile=_percentile(hd_percentile),
        hd_mode=hd_mode.value,
        **_nsd_tolerance(nsd_tolerance),
        losses=loss_names or (),
        loss_params=loss_params,
        losses_default=loss_names is None,
    )
    from .. import gate

    texts = list(require or [])
    if require_file is not None:
        texts += gate.load_requirement_file(require_file)
    requirements = [gate.parse_requirement(t) for t in texts]
    gate.validate_requirements(requirements, metric_names, opts.losses or _possible_losses(opts))

    pairing = None
    if folders:
        from ._batch import score_folders

        pairing, cases = score_folders(
            pred, gt, opts, pattern=pattern, pred_suffix=pred_suffix, gt_suffix=gt_suffix,
            missing=missing.value, jobs=jobs, quiet=quiet,
        )
    else:
        cases = (evaluate_pair(str(pred), str(gt), opts),)
        if not cases[0].classes and not quiet:
            from ._common import err

            err("segloss: note: no class to report: PRED and GT hold only background; "
                "name labels with --labels to report them (as both_empty) or add --include-background")
    computed = _computed_losses(cases)
    settings = run_settings(opts)
    settings["losses"] = list(computed)
    summary = summarize(cases, metric_names, computed)
    if pairing is not None:
        from ..aggregate import worst_cases

        summary["pairing"] = pairing.summary()
        headline = _headline(metric_names, specs)
        if headline is not None:
            summary["worst_cases"] = {
                "metric": headline,
                "cases": worst_cases(cases, headline, higher_is_better=specs[headline].higher_is_better),
            }
    run = RunResult(
        settings=settings,
        cases=cases,
        summary=summary,
        metric_names=metric_names,
        loss_names=computed,
        metric_units={m: specs[m].unit for m in metric_names},
        table_metrics=_table_metrics(metrics, metric_names, specs),
    )
    checks = gate.check_requirements(requirements, run, allow_undefined=allow_undefined)
    _emit(run, output_format, json_path, csv_path, summary_csv, folder=folders)
    if checks:
        from ._batch import report_gate

        report_gate(checks, len(requirements), quiet=quiet)


def _headline(metric_names, specs) -> Optional[str]:
    """The metric of the worst-cases list: dice, else the first metric with a direction."""
    if "dice" in metric_names:
        return "dice"
    return next((m for m in metric_names if specs[m].higher_is_better is not None), None)


def _loss_options(losses: Optional[str], *, smooth: Optional[float], weights: Optional[str], **given):
    """(--losses selection or None for the default, parameter overrides) from the options."""
    from ..errors import UsageError
    from ..losses.registry import parse_weights, select

    names = select(losses)
    if smooth is not None:
        given["smooth_nr"] = smooth if given["smooth_nr"] is None else given["smooth_nr"]
        given["smooth_dr"] = smooth if given["smooth_dr"] is None else given["smooth_dr"]
    for key in ("smooth_nr", "smooth_dr"):
        if given[key] is not None and not given[key] >= 0:
            raise UsageError(f"--{key.replace('_', '-')} must be >= 0")
    for key in ("tversky_alpha", "tversky_beta", "focal_alpha", "combo_alpha", "combo_beta"):
        if given[key] is not None and not 0.0 <= given[key] <= 1.0:
            raise UsageError(f"--{key.replace('_', '-')} must be between 0 and 1")
    for key in ("focal_gamma", "focal_tversky_gamma", "lambda_dice", "lambda_ce", "lambda_focal"):
        if given[key] is not None and not given[key] >= 0:
            raise UsageError(f"--{key.replace('_', '-')} must be >= 0")
    if not given["squared"]:
        given["squared"] = None
    given["weights"] = parse_weights(weights)
    return names, {k: v for k, v in given.items() if v is not None}


def _possible_losses(opts) -> tuple[str, ...]:
    """Losses a run may compute before any file is read (the default depends on PRED)."""
    from ..losses.registry import default_losses

    return default_losses("probs") if opts.losses_default else ()


def _computed_losses(cases) -> tuple[str, ...]:
    """Losses present in any case, in registry order (the report's loss columns)."""
    from ..losses.registry import LOSSES

    present = {name for case in cases for name in case.losses}
    return tuple(n for n in LOSSES if n in present)


def _table_metrics(requested: Optional[str], chosen, specs) -> tuple[str, ...]:
    """All chosen metrics when the user picked them; else the headline subset."""
    if requested is not None:
        return tuple(chosen)
    return tuple(m for m in chosen if specs[m].in_table)


def _floats(text: Optional[str], option: str):
    if text is None:
        return None
    from ..errors import UsageError

    try:
        return [float(v) for v in text.replace(",", " ").split()]
    except ValueError:
        raise UsageError(f"{option}: '{text}' is not a list of numbers (example: {option} 0.8,0.8,2.5)") from None


def _positive(value: Optional[float], option: str) -> Optional[float]:
    import math

    from ..errors import UsageError

    if value is not None and not (math.isfinite(value) and value > 0):
        raise UsageError(f"{option} must be a positive number of mm, not {value}")
    return value


def _percentile(value: float) -> float:
    import math

    from ..errors import UsageError

    if not (math.isfinite(value) and 0 <= value <= 100):
        raise UsageError(f"--hd-percentile must be between 0 and 100, not {value}")
    return float(value)


def _nsd_tolerance(text: Optional[str]) -> dict:
    """``--nsd-tolerance``: '2', '1=2,3=0.5' or '1.5,3=0.5' (a bare value is the default)."""
    import math

    from ..errors import UsageError

    if text is None:
        return {}
    default: Optional[float] = None
    per_label: dict[int, float] = {}
    for item in text.replace(" ", "").split(","):
        if not item:
            continue
        key, sep, val = item.rpartition("=")
        try:
            mm = float(val)
            label = int(key) if sep else None
        except ValueError:
            raise UsageError(
                f"--nsd-tolerance: '{item}' is neither a number of mm nor label=mm (example: --nsd-tolerance 1.5,3=0.5)"
            ) from None
        if not (math.isfinite(mm) and mm >= 0):
            raise UsageError(f"--nsd-tolerance: tolerance must be a non-negative number of mm, not '{val}'")
        if label is None:
            if default is not None:
                raise UsageError("--nsd-tolerance: give one default tolerance, then label=mm pairs")
            default = mm
        elif label in per_label:
            raise UsageError(f"--nsd-tolerance: label {label} given twice")
        else:
            per_label[label] = mm
    out: dict = {"nsd_tolerance_per_label": per_label}
    if default is not None:
        out["nsd_tolerance_mm"] = default
    return out


def _emit(run, output_format: Format, json_path: Optional[Path], csv_path: Optional[Path],
          summary_csv: Optional[Path] = None, *, folder: bool = False) -> None:
    """Serialise everything in memory first, then write files atomically, then print."""
    from ..io.atomic import write_all_atomic
    from ..report.csv_ import render_csv, render_summary_csv
    from ..report.json_ import render_json

    json_text = render_json(run) if (json_path or output_format == Format.json) else None
    csv_text = render_csv(run) if (csv_path or output_format == Format.csv) else None
    summary_text = render_summary_csv(run) if summary_csv else None
    files = {}
    if json_path:
        files[json_path] = json_text
    if csv_path:
        files[csv_path] = csv_text
    if summary_csv:
        files[summary_csv] = summary_text
    if files:
        write_all_atomic(files)
    if output_format == Format.json:
        sys.stdout.write(json_text)
    elif output_format == Format.csv:
        sys.stdout.write(csv_text)
    else:
        from rich.console import Console

        console = Console(highlight=False, soft_wrap=False, width=None if sys.stdout.isatty() else 250)
        if folder:
            from ..report.summary import print_summary

            print_summary(run, console)
        else:
            from ..report.table import print_table

            print_table(run, console)
