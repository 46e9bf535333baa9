"""Renderers for `segloss compare`: a rich table, Markdown for a pull request, JSON."""

from __future__ import annotations

import json
from typing import Optional

from rich.markup import escape
from rich.table import Table

from .table import fmt

_STATUS_TEXT = {
    "ok": "ok",
    "regression": "REGRESSION",
    "undefined": "REGRESSION (undefined in NEW)",
    "missing": "REGRESSION (class missing in NEW)",
    "new_class": "new class",
    "info": "",
}
_STATUS_MD = {
    "ok": "✅ ok",
    "regression": "❌ regression",
    "undefined": "❌ undefined in NEW",
    "missing": "❌ class missing in NEW",
    "new_class": "new class",
    "info": "",
}


def _class(row) -> str:
    if row.label == "mean":
        return "mean over classes"
    if row.label == "reduced":
        return "all (reduced)"
    return f"{row.label} ({row.name})" if row.name else row.label


def _delta(value: Optional[float]) -> str:
    if value is None:
        return "-"
    return f"{value:+.4f}" if abs(value) < 1000 else f"{value:+,.1f}"


def headline(comparison) -> str:
    n = len(comparison.failures)
    if not comparison.allowances:
        return "no allowances given (--max-drop / --max-rise): differences only"
    return "no regression beyond the allowances" if n == 0 else f"{n} regression(s) beyond the allowances"


def compare_table(comparison) -> Table:
    table = Table(
        title=escape(f"{comparison.new} vs {comparison.base}: {headline(comparison)}"),
        title_justify="left",
        header_style="bold",
    )
    for col, justify in (
        ("class", "left"),
        ("metric", "left"),
        ("base", "right"),
        ("new", "right"),
        ("change", "right"),
        ("allowed", "left"),
        ("result", "left"),
    ):
        table.add_column(col, justify=justify, no_wrap=True)  # type: ignore[arg-type]
    for row in comparison.rows:
        status = _STATUS_TEXT[row.status]
        if row.failed:
            status = f"[bold red]{status}[/]"
        table.add_row(
            escape(_class(row)),
            row.key,
            fmt(row.base),
            fmt(row.new),
            _delta(row.delta),
            "" if row.allowance is None else row.allowance.describe(),
            status,
        )
    return table


def _md_escape(text: str) -> str:
    return text.replace("|", "\\|")


def render_markdown(comparison) -> str:
    n = len(comparison.failures)
    mark = "❌" if n else "✅"
    lines = [
        f"### {mark} segloss compare: {headline(comparison)}",
        "",
        f"BASE `{_md_escape(comparison.base)}`, NEW `{_md_escape(comparison.new)}`",
        "",
        "| class | metric | base | new | change | allowed | result |",
        "|---|---|---:|---:|---:|---|---|",
    ]
    for row in comparison.rows:
        cells = [
            _class(row),
            row.key,
            fmt(row.base),
            fmt(row.new),
            _delta(row.delta),
            "" if row.allowance is None else row.allowance.describe(),
            _STATUS_MD[row.status],
        ]
        lines.append("| " + " | ".join(_md_escape(c) for c in cells) + " |")
    if comparison.notes:
        lines.append("")
        lines += [f"- note: {_md_escape(note)}" for note in comparison.notes]
    return "\n".join(lines) + "\n"


def render_json(comparison) -> str:
    return json.dumps(comparison.to_dict(), indent=2, allow_nan=False) + "\n"
