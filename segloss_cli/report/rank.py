"""Renderers for `segloss rank`: a rich table, Markdown, CSV and JSON of a ranking.

A ranking is a :class:`segloss_cli.rank.Ranking`; nothing here computes, and dicts appear
only through its ``to_dict``.
"""

from __future__ import annotations

import csv
import io
import json
from typing import TYPE_CHECKING, Any, Optional

from rich.table import Table

from .csv_ import text_cell
from .table import NULL, fmt
from .text import escape

if TYPE_CHECKING:  # pragma: no cover
    from ..rank import Ranking, RunTaskStats, TaskRanking

CSV_COLUMNS = (
    "kind",
    "label",
    "name",
    "metric",
    "run",
    "rank",
    "mean",
    "ci_low",
    "ci_high",
    "score",
    "p_value",
    "p_holm",
    "significant",
    "test",
    "first_frequency",
    "mean_bootstrap_rank",
    "n_cases",
)


def fmt_p(value: Optional[float]) -> str:
    if value is None:
        return NULL
    return f"{value:.4f}" if value >= 1e-3 else f"{value:.1e}"


def _share(value: float) -> str:
    return f"{100 * value:.0f}%"


def _ci(row: RunTaskStats, unit: Optional[str]) -> str:
    if row.ci_low is None or row.ci_high is None:
        return f"{fmt(row.mean, unit)}"
    return f"{fmt(row.mean, unit)} [{fmt(row.ci_low, unit)}, {fmt(row.ci_high, unit)}]"


def class_title(task: TaskRanking) -> str:
    return f"{task.label} ({task.class_name})" if task.class_name else str(task.label)


def headline(ranking: Ranking) -> str:
    top = ranking.final[0]
    return (
        f"{len(ranking.names)} runs on {len(ranking.cases)} cases, {len(ranking.tasks)} tasks "
        f"(class x metric), {ranking.method}; best: {top.name} "
        f"(first in {_share(top.first_frequency)} of {ranking.n_bootstrap} bootstrap resamples)"
    )


def _versus(row: RunTaskStats, alpha: float) -> str:
    if row.p_holm is None:
        return "best"
    mark = " *" if row.significant else ""
    return f"p={fmt_p(row.p_value)}, Holm {fmt_p(row.p_holm)}{mark}"


def final_table(ranking: Ranking) -> Table:
    table = Table(title="ranking", title_justify="left", header_style="bold")
    for col, justify in (("rank", "right"), ("run", "left"), ("mean task rank", "right"), ("first", "right")):
        table.add_column(col, justify=justify, no_wrap=True)  # type: ignore[arg-type]
    for k in range(len(ranking.names)):
        table.add_column(f"rank {k + 1}", justify="right", no_wrap=True)
    for f in ranking.final:
        table.add_row(
            str(f.rank),
            escape(f.name),
            f"{f.mean_rank:.2f}",
            _share(f.first_frequency),
            *(_share(v) for v in f.rank_frequencies),
        )
    return table


def tasks_table(ranking: Ranking) -> Table:
    level = f"{100 * ranking.confidence:g}%"
    table = Table(
        title=f"per class and metric: mean [{level} bootstrap CI], rank, Wilcoxon vs the best (* Holm p < {ranking.alpha:g})",
        title_justify="left",
        header_style="bold",
    )
    table.add_column("class", no_wrap=True)
    table.add_column("metric", no_wrap=True)
    table.add_column("cases", justify="right", no_wrap=True)
    for name in ranking.names:
        table.add_column(escape(name), no_wrap=True)
    for task in ranking.tasks:
        cells = []
        for row in task.runs:
            cells.append(
                f"#{row.rank} {_ci(row, task.unit)}\n{_versus(row, ranking.alpha)}, first {_share(row.first_frequency)}"
            )
        cases = str(task.n_cases) + (f" ({task.n_dropped} dropped)" if task.n_dropped else "")
        table.add_row(escape(class_title(task)), task.metric, cases, *cells, end_section=True)
    return table


def print_ranking(ranking: Ranking, console: Any) -> None:
    console.print(escape(headline(ranking)))
    console.print(final_table(ranking))
    console.print(tasks_table(ranking))
    for note in ranking.notes:
        console.print(f"[dim]note: {escape(note)}[/]")


def _md(text: str) -> str:
    return text.replace("|", "\\|")


def render_markdown(ranking: Ranking) -> str:
    level = f"{100 * ranking.confidence:g}%"
    lines = [
        f"### segloss rank: {_md(headline(ranking))}",
        "",
        "| rank | run | mean task rank | first | "
        + " | ".join(f"rank {k + 1}" for k in range(len(ranking.names)))
        + " |",
        "|---:|---|---:|---:|" + "---:|" * len(ranking.names),
    ]
    for f in ranking.final:
        shares = " | ".join(_share(v) for v in f.rank_frequencies)
        lines.append(f"| {f.rank} | {_md(f.name)} | {f.mean_rank:.2f} | {_share(f.first_frequency)} | {shares} |")
    lines += [
        "",
        f"Per class and metric: mean [{level} bootstrap CI], rank, paired Wilcoxon vs the best run "
        f"(p, Holm-adjusted; * below {ranking.alpha:g}), share of resamples ranked first.",
        "",
        "| class | metric | run | rank | mean [CI] | p | p (Holm) | first |",
        "|---|---|---|---:|---:|---:|---:|---:|",
    ]
    for task in ranking.tasks:
        for row in task.runs:
            mark = " *" if row.significant else ""
            lines.append(
                f"| {_md(class_title(task))} | {task.metric} | {_md(row.name)} | {row.rank} | {_ci(row, task.unit)} "
                f"| {fmt_p(row.p_value)} | {fmt_p(row.p_holm)}{mark} | {_share(row.first_frequency)} |"
            )
    if ranking.notes:
        lines.append("")
        lines += [f"- note: {_md(n)}" for n in ranking.notes]
    return "\n".join(lines) + "\n"


def render_csv(ranking: Ranking) -> str:
    """The final ranking (kind ``final``, label ``all``) then one row per class, metric and run."""
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)

    def cell(v: Any) -> Any:
        if v is None:
            return ""
        if isinstance(v, str):
            return text_cell(v)  # a run name or class name that would start a spreadsheet formula
        return repr(v) if isinstance(v, float) else v

    n = len(ranking.cases)
    for f in ranking.final:
        writer.writerow(
            [
                cell(v)
                for v in ("final", "all", None, "final", f.name, f.rank, None, None, None, f.mean_rank)
                + (None, None, None, None, f.first_frequency, None, n)
            ]
        )
    for task in ranking.tasks:
        for r in task.runs:
            row = (
                "task",
                task.label,
                task.class_name,
                task.metric,
                r.name,
                r.rank,
                r.mean,
                r.ci_low,
                r.ci_high,
                r.score,
                r.p_value,
                r.p_holm,
                None if r.significant is None else str(r.significant).lower(),
                r.test,
                r.first_frequency,
                r.mean_bootstrap_rank,
                task.n_cases,
            )
            writer.writerow([cell(v) for v in row])
    return buf.getvalue()


def render_json(ranking: Ranking) -> str:
    return json.dumps(ranking.to_dict(), indent=2, allow_nan=False) + "\n"
