"""The terminal view of a folder run: the summary per class, then the worst cases."""

from __future__ import annotations

from typing import Optional

from rich.console import Console
from rich.table import Table

from ..model import DATASET_KEYS, RunResult, Stats
from .table import NULL, _header, fmt, left_out_note, print_fitted, shown
from .text import escape


def mean_std(stats: Optional[Stats], unit: Optional[str] = None) -> str:
    """``mean +- std``, with ``(n=k)`` when some values were undefined and left out."""
    if stats is None:
        return NULL
    if stats.mean is None or stats.std is None:
        return f"{NULL} (n=0)"
    text = f"{fmt(float(stats.mean), unit)} ± {fmt(float(stats.std), unit)}"
    if stats.n_null:
        text += f" (n={stats.n})"
    return text


def summary_table(run: RunResult) -> Table:
    summary = run.summary
    metrics = run.table_metrics or run.metric_names
    n_cases = summary.n_cases if summary is not None else len(run.cases)
    table = Table(title=f"summary of {n_cases} cases: mean ± std over cases", title_justify="left", header_style="bold")
    table.add_column("label", justify="right", no_wrap=True)
    table.add_column("name", no_wrap=True)
    table.add_column("cases", justify="right", no_wrap=True)
    for m in metrics:
        table.add_column(_header(m, run.metric_units.get(m), run.settings), justify="right", no_wrap=True)
    for name in run.loss_names:
        table.add_column(f"loss.{name}", justify="right", no_wrap=True)
    if summary is None:
        return table
    losses = summary.losses or {}
    for entry in shown(summary.classes):
        first = next(iter(entry.metrics.values()), None)
        count = "" if first is None else str(first.n + first.n_null)
        cells = [escape(str(entry.label)), escape(entry.name or ""), count]
        cells += [mean_std(entry.metrics.get(m), run.metric_units.get(m)) for m in metrics]
        cells += [mean_std((entry.losses or {}).get(name)) for name in run.loss_names]
        table.add_row(*cells)
    over = summary.mean_over_classes
    if over:
        cells = ["", "[bold]mean over classes[/]", ""]
        cells += [mean_std(over.get(m), run.metric_units.get(m)) for m in metrics]
        cells += [mean_std(losses.get(name)) for name in run.loss_names]
        table.add_row(*cells, end_section=False)
    return table


def worst_table(run: RunResult) -> Optional[Table]:
    worst = run.summary.worst_cases if run.summary is not None else None
    if worst is None or not worst.cases:
        return None
    metric = worst.metric
    unit = run.metric_units.get(metric)
    table = Table(title=f"worst cases by {metric} (the worst class first)", title_justify="left", header_style="bold")
    table.add_column("case", no_wrap=True)
    table.add_column(f"mean {metric}", justify="right", no_wrap=True)
    table.add_column("worst class", no_wrap=True)
    table.add_column(metric, justify="right", no_wrap=True)
    for row in worst.cases:
        if row.worst_label is None:
            cls = ""
        else:
            cls = f"{row.worst_label} ({row.worst_name})" if row.worst_name else str(row.worst_label)
        table.add_row(escape(row.case), fmt(row.mean, unit), escape(cls), fmt(row.worst_value, unit))
    return table


def pooled_table(run: RunResult) -> Optional[Table]:
    """Dataset-level values: per class from the counts summed over cases, then the means."""
    pooled = run.summary.pooled if run.summary is not None else None
    if pooled is None:
        return None
    metrics = [m for m in (run.table_metrics or run.metric_names) if m in pooled.mean_over_classes]
    title = f"pooled over {pooled.n_cases} cases: counts summed, then the metrics"
    table = Table(title=title, title_justify="left", header_style="bold")
    table.add_column("label", justify="right", no_wrap=True)
    table.add_column("name", no_wrap=True)
    for m in metrics:
        table.add_column(_header(m, run.metric_units.get(m), run.settings), justify="right", no_wrap=True)
    for row in shown(pooled.classes):
        table.add_row(
            escape(str(row.label)),
            escape(row.name or ""),
            *(fmt(row.metrics.get(m), run.metric_units.get(m)) for m in metrics),
        )
    if metrics:
        table.add_row(
            "",
            "[bold]mean over classes[/]",
            *(fmt(pooled.mean_over_classes.get(m), run.metric_units.get(m)) for m in metrics),
        )
    return table


def dataset_line(run: RunResult) -> Optional[str]:
    """mmsegmentation's dataset-level scores in one line: aAcc, mIoU, mAcc, mDice, mFscore (and
    which classes the means average over when it is not mmsegmentation's rule)."""
    pooled = run.summary.pooled if run.summary is not None else None
    if pooled is None:
        return None
    rule = (run.settings or {}).get("pooled_means")
    head = "dataset (pooled)" if rule is None else f"dataset (pooled, {rule} means)"
    return f"{head}: " + "  ".join(f"{key} {fmt(pooled.dataset.get(key))}" for key in DATASET_KEYS)


def print_summary(run: RunResult, console: Console, *, aggregate: str = "cases") -> None:
    if aggregate in ("cases", "both"):
        print_fitted(console, summary_table(run), 3)
    if aggregate in ("pooled", "both"):
        table, line = pooled_table(run), dataset_line(run)
        if table is not None and line is not None:
            print_fitted(console, table, 2)
            console.print(line)
    note = None if run.summary is None else left_out_note(len(run.summary.classes), "--summary-csv and --format json")
    if note is not None:
        console.print(note)
    worst = worst_table(run)
    if worst is not None:
        console.print(worst)
    hidden = [m for m in run.metric_names if m not in (run.table_metrics or run.metric_names)]
    if hidden:
        console.print(
            f"[dim]{len(hidden)} more metrics ({', '.join(hidden[:6])}{', ...' if len(hidden) > 6 else ''}) "
            "and per-case rows in --format json/csv (--summary-csv for these statistics)[/]"
        )
