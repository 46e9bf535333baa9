"""Markdown for `segloss eval --format markdown` / `--markdown PATH`: a CI job summary.

GitHub renders ``$GITHUB_STEP_SUMMARY`` (and pull-request comments) as GitHub-flavoured
Markdown: a headline (cases, classes, the gate's verdict), the failed checks, the summary
table (mean ± std per class for folders, the values for a pair) and the worst cases. A table
of many classes is collapsed into a ``<details>`` block under its mean row, so the summary
stays short. Nothing is computed here: every number comes from the RunResult and the checks.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Optional

from ..model import RunResult
from .summary import mean_std
from .table import MAX_TABLE_CLASSES, _header, fmt
from .text import printable

if TYPE_CHECKING:  # pragma: no cover
    from ..gate import Check

MAX_CLASSES_SHOWN = 20  # more classes than this: the class table is collapsed
_SPECIAL = "\\`*[]|~"
_HTML = {"&": "&amp;", "<": "&lt;"}


def md_escape(text: str) -> str:
    """``text`` as literal Markdown inline text (a table cell): Markdown punctuation
    backslash-escaped, ``<`` and ``&`` as entities (no HTML tag can start), line breaks as
    spaces. An underscore inside a word stays as it is (GFM never reads it as emphasis), so
    ``volume_similarity`` reads well in the raw text too."""
    chars = printable(str(text).replace("\r", " ").replace("\n", " "))
    out = []
    for i, ch in enumerate(chars):
        if ch in _HTML:
            out.append(_HTML[ch])
        elif ch in _SPECIAL:
            out.append("\\" + ch)
        elif ch == "_" and not (0 < i < len(chars) - 1 and chars[i - 1].isalnum() and chars[i + 1].isalnum()):
            out.append("\\_")
        else:
            out.append(ch)
    return "".join(out)


def md_table(header: Sequence[str], rows: Sequence[Sequence[str]], *, right: Sequence[int] = ()) -> list[str]:
    """A GFM table (cells escaped here); ``right``: indices of right-aligned columns."""
    lines = ["| " + " | ".join(md_escape(h) for h in header) + " |"]
    lines.append("|" + "|".join("---:" if i in right else "---" for i in range(len(header))) + "|")
    lines += ["| " + " | ".join(md_escape(c) for c in row) + " |" for row in rows]
    return lines


def details(summary: str, body: Sequence[str]) -> list[str]:
    """A collapsed block; the blank line after <summary> lets GitHub render Markdown inside."""
    return ["<details><summary>" + md_escape(summary) + "</summary>", "", *body, "", "</details>"]


def _class_cell(label, name: Optional[str]) -> str:
    return f"{label} ({name})" if name else str(label)


def _check_cells(c: Check) -> list[str]:
    req = c.requirement
    if c.label is None:
        cls = "(dataset)" if c.key.startswith("pooled.") else "(over classes)" if "(" in c.key else "(reduced)"
    else:
        cls = _class_cell(c.label, c.class_name)
    actual = "undefined (null)" if c.actual is None else fmt(float(c.actual))
    if c.n_undefined and c.actual is not None:
        actual += f" (undefined in {c.n_undefined} case{'s' if c.n_undefined > 1 else ''})"
    if c.failing_cases:
        shown = ", ".join(c.failing_cases[:5])
        more = f", ... ({len(c.failing_cases)} in all)" if len(c.failing_cases) > 5 else ""
        actual += f"; cases missing it: {shown}{more}"
    return [req.text, c.key, cls, f"{req.op} {req.threshold:g}", actual]


def _verdict(checks: Sequence[Check]) -> tuple[str, str]:
    """(mark, words) of the gate."""
    if not checks:
        return "", "no requirements checked"
    failed = sum(1 for c in checks if not c.passed)
    if failed:
        return "❌ ", f"{failed} of {len(checks)} requirement checks failed"
    return "✅ ", f"all {len(checks)} requirement checks passed"


def _n_classes(run: RunResult, folder: bool) -> int:
    if folder and run.summary is not None:
        return len(run.summary.classes)
    return len(run.cases[0].classes) if run.cases else 0


def _summary_rows(run: RunResult, metrics: Sequence[str]) -> tuple[list[str], list[list[str]], Optional[list[str]]]:
    """Folder: header, one row per class (mean ± std over cases), the mean-over-classes row."""
    summary = run.summary
    header = ["label", "name", "cases", *(_header(m, run.metric_units.get(m), run.settings) for m in metrics)]
    header += [f"loss.{n}" for n in run.loss_names]
    rows: list[list[str]] = []
    if summary is None:
        return header, rows, None
    for entry in summary.classes:
        first = next(iter(entry.metrics.values()), None)
        count = "" if first is None else str(first.n + first.n_null)
        cells = [str(entry.label), entry.name or "", count]
        cells += [mean_std(entry.metrics.get(m), run.metric_units.get(m)) for m in metrics]
        cells += [mean_std((entry.losses or {}).get(n)) for n in run.loss_names]
        rows.append(cells)
    mean = None
    if summary.mean_over_classes:
        mean = ["", "mean over classes", ""]
        mean += [mean_std(summary.mean_over_classes.get(m), run.metric_units.get(m)) for m in metrics]
        mean += [mean_std((summary.losses or {}).get(n)) for n in run.loss_names]
    return header, rows, mean


def _case_rows(run: RunResult, metrics: Sequence[str]) -> tuple[list[str], list[list[str]], Optional[list[str]]]:
    """A pair: header, one row per class (its values), the mean over classes of the defined values."""
    case = run.cases[0]
    losses = [n for n in run.loss_names if n in case.losses]
    header = ["label", "name", "status", *(_header(m, run.metric_units.get(m), run.settings) for m in metrics)]
    header += [f"loss.{n}" for n in losses]
    rows = []
    for row in case.classes:
        cells = [str(row.label), row.name or "", row.status]
        cells += [fmt(row.metrics.get(m), run.metric_units.get(m)) for m in metrics]
        cells += [fmt(case.losses[n].per_class.get(row.label)) for n in losses]
        rows.append(cells)
    mean = None
    if len(case.classes) > 1:
        mean = ["", "mean over classes", ""]
        for m in metrics:
            defined = [float(r.metrics[m]) for r in case.classes if r.metrics.get(m) is not None]
            mean.append(fmt(sum(defined) / len(defined) if defined else None, run.metric_units.get(m)))
        mean += [fmt(case.losses[n].value) for n in losses]  # the reduced loss
    return header, rows, mean


def render_markdown(run: RunResult, checks: Sequence[Check] = (), *, folder: Optional[bool] = None) -> str:
    """The run as a GitHub job summary: headline, failed checks, summary table, worst cases.

    ``folder``: a folder run (mean ± std over cases); default: when the run holds several
    cases or records a folder pairing.
    """
    if folder is None:
        folder = len(run.cases) > 1 or (run.summary is not None and run.summary.pairing is not None)
    metrics = list(run.table_metrics or run.metric_names)
    n_classes = _n_classes(run, folder)
    mark, verdict = _verdict(checks)
    if folder:
        n_cases = run.summary.n_cases if run.summary is not None else len(run.cases)
        what = f"{n_cases} case{'s' if n_cases != 1 else ''}"
    else:
        what = f"1 pair ({run.cases[0].case})" if run.cases else "no case"
    lines = [
        f"### {mark}segloss eval: {md_escape(what)}, {n_classes} class{'es' if n_classes != 1 else ''}, {verdict}",
        "",
    ]

    failed = [c for c in checks if not c.passed]
    if failed:
        lines += [f"#### Failed checks ({len(failed)} of {len(checks)})", ""]
        lines += md_table(
            ["requirement", "metric", "class", "required", "actual"], [_check_cells(c) for c in failed], right=(3, 4)
        )
        lines.append("")

    header, rows, mean = _summary_rows(run, metrics) if folder else _case_rows(run, metrics)
    title = "Summary: mean ± std over cases" if folder else "Values per class"
    right = (0, *range(3, len(header)))
    if rows or mean:
        lines += [f"#### {title}", ""]
        if len(rows) > MAX_CLASSES_SHOWN and mean is not None:
            lines += md_table(header, [mean], right=right)
            lines.append("")
            if len(rows) > MAX_TABLE_CLASSES:  # a job summary holds at most 1 MiB (GitHub)
                shown = f"the first {MAX_TABLE_CLASSES:,} of {len(rows):,} classes"
                lines += details(shown, md_table(header, [*rows[:MAX_TABLE_CLASSES], mean], right=right))
                lines += ["", f"{len(rows) - MAX_TABLE_CLASSES:,} more classes in the JSON and CSV outputs."]
            else:
                lines += details(f"all {len(rows)} classes", md_table(header, [*rows, mean], right=right))
        else:
            lines += md_table(header, [*rows, *([mean] if mean is not None else [])], right=right)
        lines.append("")
    hidden = [m for m in run.metric_names if m not in metrics]
    if hidden:
        lines += [f"{len(hidden)} more metrics in the JSON and CSV outputs.", ""]

    worst = run.summary.worst_cases if (folder and run.summary is not None) else None
    if worst is not None and worst.cases:
        unit = run.metric_units.get(worst.metric)
        lines += [f"#### Worst cases by {md_escape(worst.metric)} (the worst class first)", ""]
        lines += md_table(
            ["case", f"mean {worst.metric}", "worst class", worst.metric],
            [
                [
                    w.case,
                    fmt(w.mean, unit),
                    "" if w.worst_label is None else _class_cell(w.worst_label, w.worst_name),
                    fmt(w.worst_value, unit),
                ]
                for w in worst.cases
            ],
            right=(1, 3),
        )
        lines.append("")
    return "\n".join(lines).rstrip("\n") + "\n"
