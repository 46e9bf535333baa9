"""The terminal table: one row per class for a pair; readable numbers, names shown."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Optional

from rich.console import Console
from rich.table import Table

from ..model import RunResult
from .text import escape

NULL = "-"

# Class rows a terminal table shows: TotalSegmentator (117), ADE20K (150) and COCO-stuff (171)
# fit; a table of thousands of rows (an instance map, 65,535 labels) is no reading and took
# minutes to lay out. The rest is in --format json/csv, and the mean row covers every class.
MAX_TABLE_CLASSES = 200


def shown(rows: Sequence[Any]) -> Sequence[Any]:
    """The class rows a table shows: the first :data:`MAX_TABLE_CLASSES` in class order."""
    return rows[:MAX_TABLE_CLASSES]


def left_out_note(n_classes: int, where: str = "--format json/csv (or --json/--csv FILE)") -> Optional[str]:
    """The line under a table that shows only the first classes (None when it shows all)."""
    if n_classes <= MAX_TABLE_CLASSES:
        return None
    return (
        f"[dim]table: the first {MAX_TABLE_CLASSES:,} of {n_classes:,} classes ({n_classes - MAX_TABLE_CLASSES:,} "
        f"left out; the mean row is over all of them); every class is in {where}[/]"
    )


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


def _header(name: str, unit: Optional[str], settings: Optional[dict] = None) -> str:
    """Column title: the metric name with its unit; hd95 names the percentile actually used."""
    if unit == "mm" and settings and settings.get("distance_unit") in ("voxel", "pixel"):
        unit = settings["distance_unit"]
    if name == "hd95" and settings and settings.get("hd_percentile") not in (None, 95, 95.0):
        q = settings["hd_percentile"]
        mode = "" if settings.get("hd_mode", "max") == "max" else f" {settings['hd_mode']}"
        return f"hd95 = p{q:g}{mode} ({unit})"
    return f"{name} ({unit})" if unit and not name.endswith(f"_{unit}") else name


def case_table(run: RunResult, index: int = 0) -> Table:
    case = run.cases[index]
    metrics = run.table_metrics or run.metric_names
    table = Table(title=escape(case.case), title_justify="left", header_style="bold")
    table.add_column("label", justify="right", no_wrap=True)
    table.add_column("name", no_wrap=True)
    table.add_column("status", no_wrap=True)
    for m in metrics:
        table.add_column(_header(m, run.metric_units.get(m), run.settings), justify="right", no_wrap=True)
    rows = shown(case.classes)
    for row in rows:
        cells = [
            escape(str(row.label)),
            escape(row.name or ""),
            row.status if row.status == "ok" else f"[yellow]{row.status}[/]",
        ]
        cells += [fmt(row.metrics.get(m), run.metric_units.get(m)) for m in metrics]
        table.add_row(*cells, end_section=len(case.classes) > 1 and row is rows[-1])
    if len(case.classes) > 1:  # as the folder summary has: the mean of the defined class values
        means = []
        for m in metrics:
            defined = [float(r.metrics[m]) for r in case.classes if r.metrics.get(m) is not None]
            means.append(fmt(sum(defined) / len(defined) if defined else None, run.metric_units.get(m)))
        table.add_row("", "[bold]mean over classes[/]", "", *means)
    return table


def fit(table: Table, width: int, keys: int) -> list[Table]:
    """``table`` as tables that fit ``width`` columns: the first ``keys`` columns (label, name,
    ...) repeated in each, the others split between them; never a truncated number. A name
    column longer than a third of the width is shortened with an ellipsis first."""
    from rich.text import Text

    cols = table.columns
    cells = [[str(c) for c in col._cells] for col in cols]

    def need(i: int) -> int:
        texts = [str(cols[i].header), *cells[i]]
        return max(Text.from_markup(t).cell_len for t in texts) + 3  # padding and border

    widths = [need(i) for i in range(len(cols))]
    if sum(widths) + 1 <= width or len(cols) <= keys:
        return [table]
    if keys >= 2 and widths[1] > width // 3:
        widths[1] = max(width // 3, 8)
    key_width = sum(widths[:keys]) + 1
    groups: list[list[int]] = [[]]
    used = key_width
    for i in range(keys, len(cols)):
        if groups[-1] and used + widths[i] > width:
            groups.append([])
            used = key_width
        groups[-1].append(i)
        used += widths[i]
    out = []
    for g, group in enumerate(groups):
        title = None if table.title is None else f"{table.title} ({g + 1}/{len(groups)})"
        part = Table(title=title, title_justify=table.title_justify, header_style=table.header_style)
        for i in [*range(keys), *group]:
            col = cols[i]
            shrink = i == 1 and keys >= 2
            part.add_column(
                col.header, justify=col.justify, no_wrap=True,
                max_width=widths[1] - 3 if shrink else None, overflow="ellipsis" if shrink else "fold",
            )  # fmt: skip
        for r, row in enumerate(table.rows):
            part.add_row(*(cells[i][r] for i in [*range(keys), *group]), end_section=row.end_section)
        out.append(part)
    return out


def loss_table(run: RunResult, index: int = 0) -> Table:
    """Losses of one case: a row per class (per-class values) and a `reduced` row (`value`).

    A separate table so a case with every metric and every loss stays readable; a loss that
    does not decompose per class (generalized_dice) shows only its reduced value.
    """
    case = run.cases[index]
    table = Table(title=f"{escape(case.case)}: losses", title_justify="left", header_style="bold")
    table.add_column("label", justify="right", no_wrap=True)
    table.add_column("name", no_wrap=True)
    names = [n for n in run.loss_names if n in case.losses]
    for name in names:
        table.add_column(name, justify="right", no_wrap=True)
    rows = shown(case.classes)
    for row in rows:
        cells = [escape(str(row.label)), escape(row.name or "")]
        cells += [fmt(case.losses[n].per_class.get(row.label)) for n in names]
        table.add_row(*cells, end_section=row is rows[-1])
    table.add_row("", "[bold]reduced[/]", *(fmt(case.losses[n].value) for n in names))
    return table


def print_fitted(console: Console, table: Table, keys: int) -> None:
    for part in fit(table, console.width, keys):
        console.print(part)


def print_table(run: RunResult, console: Console) -> None:
    for i in range(len(run.cases)):
        if run.metric_names or not run.cases[i].losses:
            print_fitted(console, case_table(run, i), 3)
        if run.cases[i].losses:
            print_fitted(console, loss_table(run, i), 2)
        note = left_out_note(len(run.cases[i].classes))
        if note is not None:
            console.print(note)
    hidden = [m for m in run.metric_names if m not in (run.table_metrics or run.metric_names)]
    if hidden:
        console.print(
            f"[dim]{len(hidden)} more metrics ({', '.join(hidden[:6])}{', ...' if len(hidden) > 6 else ''}) "
            "in --format json/csv; pick table columns with --metrics[/]"
        )
