"""The CI gate's verdict on stderr: one row per failed requirement (and class)."""

from __future__ import annotations

from collections.abc import Sequence

from rich.table import Table

from .table import MAX_TABLE_CLASSES, fmt
from .text import escape


def failed_table(checks: Sequence, *, total: int) -> Table:
    """Table of the failed checks: requirement, metric, class, required, actual."""
    failed = [c for c in checks if not c.passed]
    table = Table(
        title=f"{len(failed)} of {total} requirement checks failed",
        title_justify="left",
        header_style="bold",
    )
    for col, justify in (
        ("requirement", "left"),
        ("metric", "left"),
        ("class", "left"),
        ("required", "right"),
        ("actual", "right"),
    ):
        table.add_column(col, justify=justify, no_wrap=True)  # type: ignore[arg-type]
    for c in failed[:MAX_TABLE_CLASSES]:  # a bar over 65,535 classes: a row per failed class
        req = c.requirement
        if c.label is None:
            cls = "(dataset)" if c.key.startswith("pooled.") else "(over classes)" if "(" in c.key else "(reduced)"
        else:
            cls = f"{c.label} ({c.class_name})" if c.class_name else c.label
        actual = "undefined (null)" if c.actual is None else fmt(float(c.actual))
        if c.n_undefined and c.actual is not None:
            actual += f" (undefined in {c.n_undefined} case{'s' if c.n_undefined > 1 else ''})"
        if c.failing_cases:
            shown = ", ".join(c.failing_cases[:5]) + (
                f", ... ({len(c.failing_cases)} in all)" if len(c.failing_cases) > 5 else ""
            )
            actual += f"; cases missing it: {shown}"
        table.add_row(escape(req.text), c.key, escape(cls), f"{req.op} {req.threshold:g}", actual)
    return table


def left_out_line(checks: Sequence) -> str | None:
    """The line under a failed-check table that shows only the first rows (None: it shows all)."""
    n = sum(1 for c in checks if not c.passed)
    if n <= MAX_TABLE_CLASSES:
        return None
    return f"segloss: the table shows the first {MAX_TABLE_CLASSES:,} of {n:,} failed checks; --markdown FILE lists every one"
