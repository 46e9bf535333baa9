"""`segloss rank GT PRED_A PRED_B ...` (or `segloss rank A.json B.json ...`): rank runs scored
on the same cases, and the `--html` / `--plots` outputs that `eval` and `compare` share."""

from __future__ import annotations

import functools
import os
import sys
import tempfile
from collections.abc import Mapping, Sequence
from enum import Enum
from pathlib import Path
from typing import Annotated, Any, Optional, Union, cast

import typer

from ..choices import EmptyPolicy, MissingPolicy, PredType
from . import app
from ._common import err, handle_errors

RANKING = "Ranking"
SCORING = "Scoring (GT and PRED folders)"
OUTPUT = "Output"

REPORT_EXTRA = "pip install 'segloss[report]'"
WORST_N = 5  # worst cases drawn as slices


class RankFormat(str, Enum):
    table = "table"
    json = "json"
    csv = "csv"
    markdown = "markdown"


class RankMethod(str, Enum):
    aggregate_then_rank = "aggregate-then-rank"
    rank_then_aggregate = "rank-then-aggregate"


# --- the --html / --plots outputs (eval, compare, rank) -----------------------------------------


def check_report_outputs(
    html: Optional[Path], plots: Optional[Path], inputs: tuple[str, ...] = (), others: Sequence[Path] = ()
) -> None:
    """Before any work: matplotlib is there, the HTML file and the plot folder can be written."""
    from ..errors import UsageError
    from ..io.atomic import check_writable

    if html is None and plots is None:
        return
    import importlib.util

    if importlib.util.find_spec("matplotlib") is None:
        option = "--html" if html is not None else "--plots"
        raise UsageError(f"{option} needs matplotlib, which is not installed; {REPORT_EXTRA}")
    if html is not None:
        out = check_writable(html, inputs)
        if any(out.resolve() == o.resolve() for o in others):
            raise UsageError(f"--html {html}: is also another output; give separate paths")
    if plots is not None:
        if plots.exists() and not plots.is_dir():
            raise UsageError(f"--plots {plots}: is a file; give a folder (created if missing)")
        parent = plots if plots.exists() else (plots.parent if str(plots.parent) else Path("."))
        if not parent.is_dir():
            raise UsageError(f"--plots {plots}: folder {parent} does not exist; create it first")
        if not os.access(parent, os.W_OK | os.X_OK):
            raise UsageError(f"--plots {plots}: folder {parent} is not writable; choose another folder")
        for inp in inputs:  # PNG plots in an input folder would be read as cases by the next run
            if plots.is_dir() and Path(inp).is_dir() and os.path.samefile(plots, inp):
                raise UsageError(f"--plots {plots}: is the input folder {inp}; its PNGs would be read as cases, "
                                 "write the plots elsewhere")  # fmt: skip


def write_report(report: Any, html: Optional[Path], plots: Optional[Path]) -> None:
    """The page atomically (io/atomic.py), then each plot as PNG in the folder, also atomically;
    nothing without a report."""
    from ..io.atomic import write_all_atomic

    if report is None:
        return
    if plots is not None:
        plots.mkdir(exist_ok=True)
        _write_bytes_atomic({plots / name: data for name, data in report.images.items()})
    if html is not None:
        write_all_atomic({html: report.html})


def _write_bytes_atomic(files: Mapping[Path, bytes]) -> None:
    """write_all_atomic for binary files: temporary files fsync'ed, then renamed together."""
    from ..io import atomic

    temps: list[tuple[str, Path]] = []
    try:
        for out, data in files.items():
            fd, tmp = tempfile.mkstemp(prefix=f".{out.name}.", suffix=".tmp", dir=str(out.parent))
            temps.append((tmp, out))
            atomic._set_mode(fd, out)
            with os.fdopen(fd, "wb") as fh:
                fh.write(data)
                fh.flush()
                os.fsync(fh.fileno())
        atomic._commit(temps)
    except BaseException:
        for tmp, _ in temps:
            try:
                os.unlink(tmp)
            except FileNotFoundError:
                pass
        raise


def _reported_labels(runs: Sequence[Any]) -> list[Any]:
    from ..rank import label_key

    return sorted({row.label for run in runs for case in run.cases for row in case.classes}, key=label_key)


def run_report(run: Any, *, load: Any = None, title: str = "segloss eval") -> Any:
    """The report of an eval run, with slices of its worst cases (of the case of a pair)."""
    from ..rank import slice_overlays
    from ..report.html import render_run

    if len(run.cases) == 1:
        picked = [run.cases[0]]
    else:
        by_id = {c.case: c for c in run.cases}
        worst = run.summary.worst_cases if run.summary is not None else None
        picked = [by_id[w.case] for w in (worst.cases if worst else ())[:WORST_N]]
    overlays = slice_overlays(
        [(c.case, c.gt, {"run": c.pred}) for c in picked],
        _reported_labels([run]),
        load=load,
        ignore_label=run.settings.get("ignore_label"),
    )
    return render_run(run, overlays=overlays, title=title)


def write_compare_report(comparison: Any, base: Path, new: Path, html: Optional[Path], plots: Optional[Path]) -> None:
    """`segloss compare --html/--plots`: both results' cases side by side, slices of NEW's worst
    cases with both predictions."""
    if html is None and plots is None:
        return
    from ..rank import load_params_of, load_run, slice_overlays
    from ..report.html import render_comparison

    base_run, new_run = load_run(base), load_run(new)
    base_cases = {c.case: c for c in base_run.cases}
    worst = new_run.summary.worst_cases if new_run.summary is not None else None
    picked = [c for c in new_run.cases if worst and c.case in {w.case for w in worst.cases}]
    order = {w.case: i for i, w in enumerate(worst.cases)} if worst else {}
    picked.sort(key=lambda c: order[c.case])
    overlays = slice_overlays(
        [
            (c.case, c.gt, {"BASE": base_cases[c.case].pred if c.case in base_cases else None, "NEW": c.pred})
            for c in picked
        ],
        _reported_labels([base_run, new_run]),
        load=load_params_of(new_run.settings),
        ignore_label=new_run.settings.get("ignore_label"),
    )
    write_report(render_comparison(comparison, base_run, new_run, overlays=overlays), html, plots)


# --- segloss rank -------------------------------------------------------------------------------


def _run_name(path: Path) -> str:
    name = path.name
    for suffix in (".nii.gz", ".nii", ".npy", ".npz", ".json", ".png", ".tif", ".tiff"):
        if name.lower().endswith(suffix) and len(name) > len(suffix):
            return name[: -len(suffix)]
    return name or str(path)


def _names(paths: Sequence[Path], given: Optional[list[str]]) -> list[str]:
    from ..errors import UsageError

    if given:
        if len(given) != len(paths):
            raise UsageError(f"--name given {len(given)} times for {len(paths)} runs; name every run or none")
        names = list(given)
    else:
        names = [_run_name(p) for p in paths]
    seen: set[str] = set()
    for name, path in zip(names, paths):
        if name in seen:
            raise UsageError(f"two runs are named {name!r} ({path}); name them with --name A --name B ...")
        seen.add(name)
    return names


@app.command("rank", no_args_is_help=True)
@handle_errors
def rank_command(
    inputs: Annotated[
        list[Path],
        typer.Argument(
            metavar="GT PRED_A PRED_B ... | A.json B.json ...",
            help="A ground truth and two or more predictions of it (folders, or files), or two or more results of `segloss eval --json`.",
            show_default=False,
            readable=False,
        ),
    ],
    name: Annotated[
        Optional[list[str]],
        typer.Option(
            "--name",
            "-n",
            help="Run names, one per run in order (default: the folder or file names).",
            show_default=False,
        ),
    ] = None,
    metrics: Annotated[
        Optional[str],
        typer.Option(
            "--metrics",
            "-m",
            help="Metrics to rank on (each with a better direction), comma-separated. Default: dice, iou, precision, recall, volume_similarity, hd95, assd, nsd (those computed).",
            rich_help_panel=RANKING,
        ),
    ] = None,
    labels: Annotated[
        Optional[str],
        typer.Option(
            "--labels",
            "-l",
            help="Classes to rank on, e.g. 1,2,5 or 1-3. Default: every class reported.",
            rich_help_panel=RANKING,
        ),
    ] = None,
    method: Annotated[
        RankMethod,
        typer.Option(
            "--method",
            help="Per class and metric: rank the runs' means (aggregate-then-rank) or the mean of their per-case ranks (rank-then-aggregate).",
            rich_help_panel=RANKING,
        ),
    ] = RankMethod.aggregate_then_rank,
    bootstrap: Annotated[
        int, typer.Option("--bootstrap", min=1, help="Bootstrap resamples of the cases.", rich_help_panel=RANKING)
    ] = 1000,
    seed: Annotated[int, typer.Option("--seed", help="Seed of the bootstrap resampling.", rich_help_panel=RANKING)] = 0,
    confidence: Annotated[
        float,
        typer.Option(
            "--confidence", min=0.5, max=0.999, help="Level of the bootstrap intervals.", rich_help_panel=RANKING
        ),
    ] = 0.95,
    alpha: Annotated[
        float,
        typer.Option(
            "--alpha",
            min=1e-6,
            max=0.5,
            help="Level of the Holm-adjusted Wilcoxon tests (marked *).",
            rich_help_panel=RANKING,
        ),
    ] = 0.05,
    include_background: Annotated[
        bool, typer.Option("--include-background", help="Also score label 0.", rich_help_panel=SCORING)
    ] = False,
    ignore_label: Annotated[
        Optional[int],
        typer.Option("--ignore-label", help="GT label excluded from every count.", rich_help_panel=SCORING),
    ] = None,
    label_names: Annotated[
        Optional[Path],
        typer.Option(
            "--label-names", help='JSON {"1": "liver"} or a dataset.json, to name classes.', rich_help_panel=SCORING
        ),
    ] = None,
    empty_policy: Annotated[
        EmptyPolicy,
        typer.Option("--empty-policy", help="Empty masks: worst or nan (as segloss eval).", rich_help_panel=SCORING),
    ] = EmptyPolicy.WORST,
    spacing: Annotated[
        Optional[str],
        typer.Option("--spacing", help="Voxel spacing in mm for .npy/.npz inputs.", rich_help_panel=SCORING),
    ] = None,
    pred_type: Annotated[
        PredType, typer.Option("--pred-type", help="What the PREDs hold (as segloss eval).", rich_help_panel=SCORING)
    ] = PredType.AUTO,
    pattern: Annotated[
        Optional[str],
        typer.Option("--pattern", help="Folders: only files matching this glob.", rich_help_panel=SCORING),
    ] = None,
    pred_suffix: Annotated[
        Optional[str],
        typer.Option("--pred-suffix", help="Folders: strip from prediction ids.", rich_help_panel=SCORING),
    ] = None,
    gt_suffix: Annotated[
        Optional[str],
        typer.Option("--gt-suffix", help="Folders: strip from ground-truth ids.", rich_help_panel=SCORING),
    ] = None,
    recursive: Annotated[
        bool,
        typer.Option(
            "--recursive",
            help="Folders: files in sub-folders are cases too (as segloss eval).",
            rich_help_panel=SCORING,
        ),
    ] = False,
    missing: Annotated[
        MissingPolicy,
        typer.Option(
            "--missing",
            help="Folders: a GT without prediction in some run is an error, or (worst) scored as an empty prediction. skip is refused: every run needs the same cases.",
            rich_help_panel=SCORING,
        ),
    ] = MissingPolicy.ERROR,
    jobs: Annotated[
        Optional[int],
        typer.Option(
            "--jobs",
            "-j",
            min=1,
            help="Folders: cases scored in parallel.",
            rich_help_panel=SCORING,
            show_default=False,
        ),
    ] = None,
    output_format: Annotated[
        RankFormat, typer.Option("--format", "-f", help="What to print on stdout.", rich_help_panel=OUTPUT)
    ] = RankFormat.table,
    json_path: Annotated[
        Optional[Path], typer.Option("--json", help="Also write the ranking as JSON here.", rich_help_panel=OUTPUT)
    ] = None,
    csv_path: Annotated[
        Optional[Path],
        typer.Option("--csv", help="Also write one row per class, metric and run as CSV here.", rich_help_panel=OUTPUT),
    ] = None,
    html: Annotated[
        Optional[Path],
        typer.Option(
            "--html",
            help=f"Also write a self-contained HTML report here (plots inline; needs {REPORT_EXTRA}).",
            rich_help_panel=OUTPUT,
        ),
    ] = None,
    plots: Annotated[
        Optional[Path],
        typer.Option(
            "--plots", help="Also write the report's plots as PNG files into this folder.", rich_help_panel=OUTPUT
        ),
    ] = None,
    quiet: Annotated[
        bool, typer.Option("--quiet", "-q", help="No progress or notes on stderr.", rich_help_panel=OUTPUT)
    ] = False,
) -> None:
    """Rank two or more runs (models, losses) scored on the same cases.

    Per class and metric: each run's mean with a bootstrap confidence interval, its rank,
    a paired Wilcoxon signed-rank test against the best run (Holm-adjusted), and how often
    it ranks first over bootstrap resamples of the cases; then a final ranking by the mean
    rank over classes and metrics. Definitions: docs/conventions.md, "Ranking".

    \b
    Examples:
      segloss rank labels/ preds_dice/ preds_focal/ preds_tversky/ --metrics dice,hd95
      segloss rank dice.json focal.json tversky.json --format markdown
      segloss rank labels/ a/ b/ --name baseline --name new --html ranking.html
    """
    _rank(**locals())  # only the parsed options are local here


def _rank(
    inputs: list[Path],
    name: Optional[list[str]],
    metrics: Optional[str],
    labels: Optional[str],
    method: RankMethod,
    bootstrap: int,
    seed: int,
    confidence: float,
    alpha: float,
    include_background: bool,
    ignore_label: Optional[int],
    label_names: Optional[Path],
    empty_policy: EmptyPolicy,
    spacing: Optional[str],
    pred_type: PredType,
    pattern: Optional[str],
    pred_suffix: Optional[str],
    gt_suffix: Optional[str],
    recursive: bool,
    missing: MissingPolicy,
    jobs: Optional[int],
    output_format: RankFormat,
    json_path: Optional[Path],
    csv_path: Optional[Path],
    html: Optional[Path],
    plots: Optional[Path],
    quiet: bool,
) -> None:
    from ..errors import UsageError
    from ..io.atomic import check_writable, write_all_atomic
    from ..rank import load_params_of, load_run, rank_runs, slice_overlays
    from ..report.rank import render_csv, render_json, render_markdown
    from .parse import parse_floats, parse_labels

    results = all(p.suffix.lower() == ".json" and not p.is_dir() for p in inputs)
    gt: Optional[Path] = None
    preds = list(inputs)
    if not results:
        gt, preds = inputs[0], inputs[1:]
    if len(preds) < 2:
        what = "results (A.json B.json)" if results else "predictions after GT"
        raise UsageError(f"rank needs at least two runs: give two or more {what}")
    names = _names(preds, name)
    if missing == MissingPolicy.SKIP:
        raise UsageError("--missing skip leaves cases out of some runs; rank needs the same cases: use error or worst")
    if results:
        scoring = [
            o
            for o, v in (
                ("--pattern", pattern),
                ("--pred-suffix", pred_suffix),
                ("--gt-suffix", gt_suffix),
                ("--recursive", recursive or None),
                ("--spacing", spacing),
                ("--label-names", label_names),
                ("--ignore-label", ignore_label),
            )
            if v is not None
        ]
        scoring += ["--include-background"] if include_background else []
        if scoring:
            raise UsageError(f"{scoring[0]} applies to scoring; JSON results are already scored (rerun segloss eval)")
    inputs_text = tuple(str(p) for p in inputs)
    outputs = [check_writable(p, inputs_text) for p in (json_path, csv_path) if p is not None]
    if len({o.resolve() for o in outputs}) < len(outputs):
        raise UsageError("--json and --csv must be different files; give separate paths")
    check_report_outputs(html, plots, inputs_text, outputs)

    label_list = parse_labels(labels)
    runs: dict[str, Any] = {}
    load = None
    if results:
        for run_name, path in zip(names, preds):
            runs[run_name] = load_run(path)
    else:
        assert gt is not None
        from ..api import FolderParams, make_params, run_params
        from ._batch import CaseProgress

        params = make_params(
            metrics=metrics,
            losses="none",
            spacing_mm=parse_floats(spacing, "--spacing"),
            labels=cast(Any, label_list),  # label numbers, or region names where parse_labels takes them
            include_background=include_background,
            ignore_label=ignore_label,
            label_names=label_names,
            empty_policy=empty_policy,
            pred_type=pred_type,
        )
        load = params.load
        folder = FolderParams(pattern, pred_suffix, gt_suffix, missing, jobs, recursive=recursive)
        for run_name, pred in zip(names, preds):
            if not quiet:
                err(f"segloss: scoring {run_name} ({pred})")
            progress = CaseProgress(quiet)
            with progress:
                runs[run_name] = run_params(
                    pred,
                    gt,
                    params,
                    folder=folder,
                    on_pairing=functools.partial(progress.start, missing=missing),
                    on_case=progress.advance,
                )
    rank_labels = list(label_list) if results and label_list is not None else None
    ranking = rank_runs(
        runs,
        metrics=metrics,
        labels=rank_labels,  # scored runs report only the classes asked for
        method=str(method.value),
        n_bootstrap=bootstrap,
        seed=seed,
        confidence=confidence,
        alpha=alpha,
        sources={n: str(p) for n, p in zip(names, preds)},
    )
    report = None
    if html is not None or plots is not None:
        from ..report.html import render_ranking

        first = next(iter(runs.values()))
        cases = {n: {c.case: c for c in r.cases} for n, r in runs.items()}
        overlays = slice_overlays(
            [
                (w.case, cases[names[0]][w.case].gt, {n: cases[n][w.case].pred for n in names})
                for w in ranking.worst_cases
            ],
            list(ranking.labels),
            load=load or load_params_of(first.settings),
            ignore_label=first.settings.get("ignore_label"),
        )
        report = render_ranking(ranking, runs, overlays=overlays)
    texts: dict[Union[str, Path], str] = {}
    json_text = render_json(ranking) if (json_path or output_format == RankFormat.json) else ""
    csv_text = render_csv(ranking) if (csv_path or output_format == RankFormat.csv) else ""
    if json_path:
        texts[json_path] = json_text
    if csv_path:
        texts[csv_path] = csv_text
    if texts:
        write_all_atomic(texts)
    if report is not None:
        write_report(report, html, plots)
    if output_format == RankFormat.json:
        sys.stdout.write(json_text)
    elif output_format == RankFormat.csv:
        sys.stdout.write(csv_text)
    elif output_format == RankFormat.markdown:
        sys.stdout.write(render_markdown(ranking))
    else:
        from rich.console import Console

        from ..report.rank import print_ranking

        console = Console(highlight=False, emoji=False, soft_wrap=False, width=None if sys.stdout.isatty() else 250)
        print_ranking(ranking, console)
    if not quiet and output_format != RankFormat.table:
        for note in ranking.notes:
            err(f"segloss: note: {note}")
