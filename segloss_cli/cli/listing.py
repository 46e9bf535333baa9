"""`segloss metrics`: the registry as a table, so users see what each name means."""

from __future__ import annotations

import typer

from . import app
from ._common import handle_errors


@app.command("metrics")
@handle_errors
def metrics_command(
    as_json: bool = typer.Option(False, "--json", help="Print the list as JSON (for scripts)."),
) -> None:
    """List every metric: name, aliases, formula, range, direction and empty-mask rule."""
    import json
    import sys

    from ..metrics.registry import all_metrics

    specs = all_metrics()
    if as_json:
        rows = [
            {
                "name": s.name, "aliases": list(s.aliases), "formula": s.formula, "family": s.family,
                "range": [s.lo, s.hi if s.hi != float("inf") else None], "higher_is_better": s.higher_is_better,
                "empty_rule": s.empty_rule, "unit": s.unit, "description": s.description,
            }
            for s in specs.values()
        ]
        sys.stdout.write(json.dumps(rows, indent=2) + "\n")
        return
    from rich.console import Console
    from rich.table import Table

    table = Table(title="segloss metrics", header_style="bold", title_justify="left")
    for col in ("name", "aliases", "formula", "range", "better", "if empty", "description"):
        table.add_column(col)
    rules = {
        "similarity": "both 1, one 0 (nan: null)",
        "distance": "both 0, one worst (nan: null)",
        "ratio": "null if 0/0",
        "always": "defined",
    }
    for s in specs.values():
        hi = "inf" if s.hi == float("inf") else f"{s.hi:g}"
        better = {True: "higher", False: "lower", None: ""}[s.higher_is_better]
        table.add_row(s.name, ", ".join(s.aliases), s.formula, f"[{s.lo:g}, {hi}]", better, rules[s.empty_rule], s.description)
    Console(width=200 if not sys.stdout.isatty() else None).print(table)
