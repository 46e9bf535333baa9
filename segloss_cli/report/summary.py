"""The terminal view of a folder run: the summary per class, then the worst cases."""

from __future__ import annotations

from typing import Any, Optional

from rich.console import Console
from rich.table import Table

from ..model import RunResult
from .table import NULL, _header, fmt


def mean_std(stats: Optional[dict[str, Any]], unit: Optional[str] = None) -> str:
    """``mean +- std``, with ``(n=k)`` when some values were undefined and left out."""
    if not stats or stats.get("mean") is None:
        return NULL if not stats else f"{NULL} (n=0)"
    text = f"{fmt(float(stats['mean']), unit)} ± {fmt(float(stats['std']), unit)}"
    if stats.get("n_null"):
        text += f" (n={stats['n']})"
    return text


def summary_table(run: RunResult) -> Table:
    summary = run.summary or {}
    metrics = run.table_metrics or run.metric_names
    n_cases = summary.get("n_cases", len(run.cases))
    table = Table(title=f"summary of {n_cases} cases: mean ± std over cases", title_justify="left", header_style="bold")
    table.add_column("label", justify="right", no_wrap=True)
    table.add_column("name", no_wrap=True)
    table.add_column("cases", justify="right", no_wrap=True)
    for m in metrics:
        table.add_column(_header(m, run.metric_units.get(m), run.settings), justify="right", no_wrap=True)
    for name in run.loss_names:
        table.add_column(f"loss.{name}", justify="right", no_wrap=True)
    for label, entry in summary.get("classes", {}).items():
        stats = entry.get("metrics", {})
        first = next(iter(stats.values()), None)
        count = "" if first is None else str(first["n"] + first["n_null"])
        cells = [label, entry.get("name") or "", count]
        cells += [mean_std(stats.get(m), run.metric_units.get(m)) for m in metrics]
        cells += [mean_std(entry.get("losses", {}).get(name)) for name in run.loss_names]
        table.add_row(*cells)
    over = summary.get("mean_over_classes", {})
    if over:
        cells = ["", "[bold]mean over classes[/]", ""]
        cells += [mean_std(over.get(m), run.metric_units.get(m)) for m in metrics]
        cells += [mean_std(summary.get("losses", {}).get(name)) for name in run.loss_names]
        table.add_row(*cells, end_section=False)
    return table


def worst_table(run: RunResult) -> Optional[Table]:
    worst = (run.summary or {}).get("worst_cases")
    if not worst or not worst.get("cases"):
        return None
    metric = worst["metric"]
    unit = run.metric_units.get(metric)
    table = Table(title=f"worst cases by {metric} (mean over classes)", title_justify="left", header_style="bold")
    table.add_column("case", no_wrap=True)
    table.add_column(f"mean {metric}", justify="right", no_wrap=True)
    table.add_column("worst class", no_wrap=True)
    table.add_column(metric, justify="right", no_wrap=True)
    for row in worst["cases"]:
        wc = row.get("worst_class")
        cls = "" if not wc else (f"{wc['label']} ({wc['name']})" if wc.get("name") else wc["label"])
        table.add_row(row["case"], fmt(row["mean"], unit), cls, fmt(None if not wc else wc["value"], unit))
    return table


def print_summary(run: RunResult, console: Console) -> None:
    console.print(summary_table(run))
    worst = worst_table(run)
    if worst is not None:
        console.print(worst)
    hidden = [m for m in run.metric_names if m not in (run.table_metrics or run.metric_names)]
    if hidden:
        console.print(
            f"[dim]{len(hidden)} more metrics ({', '.join(hidden[:6])}{', ...' if len(hidden) > 6 else ''}) "
            "and per-case rows in --format json/csv (--summary-csv for these statistics)[/]"
        )
