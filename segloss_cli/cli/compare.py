"""`segloss compare BASE.json NEW.json`: flag regressions between two results."""

from __future__ import annotations

import sys
from enum import Enum
from pathlib import Path
from typing import Annotated, Optional

import typer

from . import app
from ._common import err, handle_errors


class CompareFormat(str, Enum):
    table = "table"
    json = "json"
    markdown = "markdown"


@app.command("compare", no_args_is_help=True)
@handle_errors
def compare_command(
    base: Annotated[
        Path, typer.Argument(help="Baseline result (JSON from `segloss eval --json`).", show_default=False)
    ],
    new: Annotated[Path, typer.Argument(help="New result to check against the baseline.", show_default=False)],
    max_drop: Annotated[
        Optional[list[str]],
        typer.Option(
            "--max-drop",
            help="Largest allowed fall of a metric per class, e.g. dice=0.01 (repeatable, or comma-separated). loss.NAME for losses.",
            show_default=False,
        ),
    ] = None,
    max_rise: Annotated[
        Optional[list[str]],
        typer.Option(
            "--max-rise",
            help="Largest allowed rise, e.g. hd95=1.0 (repeatable, or comma-separated).",
            show_default=False,
        ),
    ] = None,
    metrics: Annotated[
        Optional[str],
        typer.Option(
            "--metrics",
            "-m",
            help="Metrics (and loss.NAME) to show, comma-separated. Default: the gated ones, else the table's headline metrics and every loss.",
        ),
    ] = None,
    allow_undefined: Annotated[
        bool,
        typer.Option("--allow-undefined", help="A gated value that is undefined (null) in NEW is not a regression."),
    ] = False,
    output_format: Annotated[
        CompareFormat,
        typer.Option(
            "--format", "-f", help="table (terminal), json, or markdown (a pull-request comment or CI job summary)."
        ),
    ] = CompareFormat.table,
    only_regressions: Annotated[
        bool, typer.Option("--only-regressions", help="Show only the rows that regressed (the exit code is the same).")
    ] = False,
    top: Annotated[
        int,
        typer.Option(
            "--top",
            min=0,
            help="Markdown: how many rows besides the regressions to show (those that got the most worse); the rest go into a collapsed details block.",
        ),
    ] = 10,
    force: Annotated[
        bool,
        typer.Option(
            "--force",
            help="Compare results that share no case or were computed with settings that change the numbers (empty policy, classes, hd95/NSD definitions, distance unit, loss parameters); refused otherwise (exit 2).",
        ),
    ] = False,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No notes on stderr.")] = False,
    html: Annotated[
        Optional[Path],
        typer.Option(
            "--html",
            help="Also write a self-contained HTML report here (needs pip install 'segloss[report]'); slices need the image files.",
        ),
    ] = None,
    plots: Annotated[
        Optional[Path], typer.Option("--plots", help="Also write the report's plots as PNG files into this folder.")
    ] = None,
) -> None:
    """Compare two results per class and metric; exit 1 on a regression beyond the allowances.

    Values are summary means (for a single pair, the case value). Cases are matched by case
    id, and each row names the cases that moved the most for the worse. Results of different
    cases, or computed with settings that change the numbers, are refused (exit 2) unless
    --force.

    \b
    Examples:
      segloss compare base.json new.json --max-drop dice=0.01 --max-rise hd95=1.0
      segloss compare base.json new.json --max-drop dice=0.01 --format markdown >> "$GITHUB_STEP_SUMMARY"
      segloss compare base.json new.json --max-drop dice=0.01 --only-regressions
    """
    from ..compare import compare_results, load_result, parse_allowances
    from ..errors import EXIT_REQUIREMENT_FAILED
    from ..report.compare import cases_line, compare_table, render_json, render_markdown
    from .rank import check_report_outputs, write_compare_report

    check_report_outputs(html, plots, (str(base), str(new)))
    allowances = parse_allowances(max_drop or [], "drop") + parse_allowances(max_rise or [], "rise")
    keys = None if metrics is None else [k for k in metrics.split(",") if k.strip()]
    comparison = compare_results(
        load_result(base),
        load_result(new),
        allowances,
        keys=keys,
        allow_undefined=allow_undefined,
        force=force,
        base_name=str(base),
        new_name=str(new),
    )
    shown = comparison.regressions_only() if only_regressions else comparison
    if output_format == CompareFormat.json:
        sys.stdout.write(render_json(shown))
    elif output_format == CompareFormat.markdown:
        sys.stdout.write(render_markdown(shown, top=top))
    else:
        from rich.console import Console

        from ..report.table import print_fitted

        console = Console(highlight=False, emoji=False, soft_wrap=False, width=None if sys.stdout.isatty() else 200)
        print_fitted(console, compare_table(shown), 2)  # split into blocks, never a truncated number
        line = cases_line(comparison)
        if line is not None:
            console.print(line, markup=False)
    if output_format != CompareFormat.markdown and not quiet:
        for forced in comparison.forced:
            err(f"segloss: warning: compared under --force: {forced}")
        for note in comparison.notes:
            err(f"segloss: note: {note}")
    write_compare_report(comparison, base, new, html, plots)
    if comparison.failures:
        if output_format != CompareFormat.table:
            err(f"segloss: {len(comparison.failures)} regression(s) beyond the allowances")
        raise typer.Exit(EXIT_REQUIREMENT_FAILED)
