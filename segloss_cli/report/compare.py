"""Renderers for `segloss compare`: a rich table, Markdown for a pull request, JSON."""

from __future__ import annotations

import json
from typing import Optional

from rich.table import Table

from .markdown import details, md_escape, md_table
from .table import fmt
from .text import escape

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
MOVERS_SHOWN = 3  # cases named per failed row (one per other row)
TOP_DEFAULT = 10
_HEADER = ["class", "metric", "base", "new", "change", "allowed", "result", "cases that moved most"]


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


def movers_text(row, limit: Optional[int] = None) -> str:
    """The cases that moved the most in the row's bad direction: ``case7 -0.4120, case2 -0.0100``."""
    limit = (MOVERS_SHOWN if row.failed else 1) if limit is None else limit
    parts = []
    for m in row.movers[:limit]:
        parts.append(f"{m.case} {'undefined in NEW' if m.new is None else _delta(m.delta)}")
    return ", ".join(parts)


def headline(comparison) -> str:
    n = len(comparison.failures)
    if not comparison.allowances:
        return "no allowances given (--max-drop / --max-rise): differences only"
    return "no regression beyond the allowances" if n == 0 else f"{n} regression(s) beyond the allowances"


def cases_line(comparison) -> Optional[str]:
    """Which cases the regressions come from: ``regressions come from case_017 (82 of 82)``."""
    culprits = comparison.regressed_cases
    if not culprits:
        return None
    n = len(comparison.failures)
    shown = ", ".join(f"{case} ({k} of {n})" for case, k in culprits[:5])
    more = f", and {len(culprits) - 5} more cases" if len(culprits) > 5 else ""
    return f"regressions come from (the case that moved most): {shown}{more}"


def cases_summary(comparison) -> str:
    """``20 shared cases`` (with those only in one result), or the pair's case."""
    text = f"{comparison.n_shared_cases} shared case{'s' if comparison.n_shared_cases != 1 else ''}"
    extra = []
    if comparison.only_base:
        extra.append(f"{len(comparison.only_base)} only in BASE")
    if comparison.only_new:
        extra.append(f"{len(comparison.only_new)} only in NEW")
    return text + (f" ({', '.join(extra)})" if extra else "")


def _cells(row) -> list[str]:
    return [
        _class(row),
        row.key,
        fmt(row.base),
        fmt(row.new),
        _delta(row.delta),
        "" if row.allowance is None else row.allowance.describe(),
        _STATUS_MD[row.status],
        movers_text(row),
    ]


def compare_table(comparison) -> Table:
    table = Table(
        title=escape(f"{comparison.new} vs {comparison.base}: {headline(comparison)}"),
        title_justify="left",
        header_style="bold",
    )
    for col, justify in zip(_HEADER, ("left", "left", "right", "right", "right", "left", "left", "left")):
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
            escape(movers_text(row)),
        )
    return table


def top_rows(rows, n: int) -> list:
    """The ``n`` rows that got the most worse, taken in turn from each key (a dice drop and an
    hd95 rise in mm do not compare), then shown by key, the most worse first."""
    groups: dict[str, list] = {}
    for r in rows:
        groups.setdefault(r.key, []).append(r)
    ranked = [sorted(g, key=lambda r: -r.worsening) for g in groups.values()]
    picked: list = []
    depth = 0
    while len(picked) < n and any(depth < len(g) for g in ranked):
        picked += [g[depth] for g in ranked if depth < len(g)][: n - len(picked)]
        depth += 1
    order = {key: i for i, key in enumerate(groups)}
    return sorted(picked, key=lambda r: (order[r.key], -r.worsening))


def render_markdown(comparison, *, top: int = TOP_DEFAULT) -> str:
    """Short for many classes: the headline, every regression, the ``top`` other rows that got
    the most worse, and the rest collapsed in a <details> block."""
    failures = comparison.failures
    mark = "❌" if failures else "✅"
    right = (2, 3, 4)
    lines = [
        f"### {mark} segloss compare: {md_escape(headline(comparison))}",
        "",
        f"BASE {md_escape(comparison.base)}, NEW {md_escape(comparison.new)}: {md_escape(cases_summary(comparison))}",
        "",
    ]
    line = cases_line(comparison)
    if line is not None:
        lines += [md_escape(line[0].upper() + line[1:]) + ".", ""]
    if failures:
        lines += [f"#### Regressions ({len(failures)})", ""]
        lines += md_table(_HEADER, [_cells(r) for r in failures], right=right)
        lines.append("")
    others = [r for r in comparison.rows if not r.failed]
    if others:
        shown = top_rows(others, max(top, 0))
        picked = {id(r) for r in shown}
        rest = [r for r in others if id(r) not in picked]
        if shown:
            title = "Other rows" if not rest else f"Other rows: the {len(shown)} that got the most worse"
            lines += [f"#### {title}", ""]
            lines += md_table(_HEADER, [_cells(r) for r in shown], right=right)
            lines.append("")
        if rest:
            lines += details(f"{len(rest)} more rows", md_table(_HEADER, [_cells(r) for r in rest], right=right))
            lines.append("")
    notes = [*(f"forced (--force): {f}" for f in comparison.forced), *comparison.notes]
    lines += [f"- note: {md_escape(note)}" for note in notes]
    return "\n".join(lines).rstrip("\n") + "\n"


def render_json(comparison) -> str:
    return json.dumps(comparison.to_dict(), indent=2, allow_nan=False) + "\n"
