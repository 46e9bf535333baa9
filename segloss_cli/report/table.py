"""The terminal table: one row per class for a pair; readable numbers, names shown."""

from __future__ import annotations

from typing import Any, Optional

from rich.console import Console
from rich.table import Table

from ..model import RunResult

NULL = "-"


def fmt(value: Any, unit: Optional[str] = None) -> str:
    if value is None:
        return NULL
    if isinstance(value, int):
        return f"{value:,}"
    if unit in ("mm", "ml"):
        return f"{value:.2f}"
    if abs(value) >= 1000:
        return f"{value:,.1f}"
    return f"{value:.4f}"


def _header(name: str, unit: Optional[str]) -> str:
    return f"{name} ({unit})" if unit and not name.endswith(f"_{unit}") else name


def case_table(run: RunResult, index: int = 0) -> Table:
    case = run.cases[index]
    metrics = run.table_metrics or run.metric_names
    table = Table(title=f"{case.case}", title_justify="left", header_style="bold")
    table.add_column("label", justify="right", no_wrap=True)
    table.add_column("name", no_wrap=True)
    table.add_column("status", no_wrap=True)
    for m in metrics:
        table.add_column(_header(m, run.metric_units.get(m)), justify="right", no_wrap=True)
    for name in run.loss_names:
        table.add_column(f"loss.{name}", justify="right", no_wrap=True)
    for row in case.classes:
        cells = [str(row.label), row.name or "", row.status if row.status == "ok" else f"[yellow]{row.status}[/]"]
        cells += [fmt(row.metrics.get(m), run.metric_units.get(m)) for m in metrics]
        for name in run.loss_names:
            res = case.losses.get(name)
            cells.append(fmt(None if res is None else res.per_class.get(row.label)))
        table.add_row(*cells)
    if run.loss_names:
        cells = ["", "[bold]reduced[/]", ""] + [""] * len(metrics)
        cells += [fmt(case.losses[n].value if n in case.losses else None) for n in run.loss_names]
        table.add_row(*cells, end_section=False)
    return table


def print_table(run: RunResult, console: Console) -> None:
    for i in range(len(run.cases)):
        console.print(case_table(run, i))
    hidden = [m for m in run.metric_names if m not in (run.table_metrics or run.metric_names)]
    if hidden:
        console.print(
            f"[dim]{len(hidden)} more metrics ({', '.join(hidden[:6])}{', ...' if len(hidden) > 6 else ''}) "
            "in --format json/csv; pick table columns with --metrics[/]"
        )
