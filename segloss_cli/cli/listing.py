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
                "name": s.name,
                "aliases": list(s.aliases),
                "formula": s.formula,
                "family": s.family,
                "range": [s.lo, s.hi if s.hi != float("inf") else None],
                "higher_is_better": s.higher_is_better,
                "empty_rule": s.empty_rule,
                "unit": s.unit,
                "description": s.description,
                "default": s.default,
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
        "lesion": "BraTS: both 1 / 0 (nan: null)",
    }
    for s in specs.values():
        hi = "inf" if s.hi == float("inf") else f"{s.hi:g}"
        better = {True: "higher", False: "lower", None: ""}[s.higher_is_better]
        table.add_row(
            s.name,
            ", ".join(s.aliases),
            s.formula,
            f"[{s.lo:g}, {hi}]",
            better,
            rules[s.empty_rule],
            s.description if s.default else f"{s.description} (opt-in: name it, or `all`)",
        )
    Console(width=200 if not sys.stdout.isatty() else None).print(table)


@app.command("losses")
@handle_errors
def losses_command(
    as_json: bool = typer.Option(False, "--json", help="Print the list as JSON (for scripts)."),
) -> None:
    """List every loss: formula, parameters (option and default), range, per-class or not.

    Lovasz losses sort once per class and keep one float64 key and one uint8 per voxel (9 bytes x N) of
    extra memory, one class at a time; the others share one pass over the data.
    """
    import json
    import sys

    from ..losses.registry import LOSSES, PARAMS

    def rng(s):
        return [s.lo, None if s.hi == float("inf") else s.hi]

    if as_json:
        rows = [
            {
                "name": s.name,
                "aliases": list(s.aliases),
                "formula": s.formula,
                "family": s.family,
                "per_class": s.decomposes,
                "range": rng(s),
                "reduction": s.reduction,
                "default": s.default,
                "params": {p: {"option": PARAMS[p].option, "default": PARAMS[p].default} for p in s.params},
                "description": s.description,
            }
            for s in LOSSES.values()
        ]
        sys.stdout.write(json.dumps(rows, indent=2) + "\n")
        return
    from rich.console import Console
    from rich.table import Table

    from ..report.text import escape

    def dflt(p):
        v = PARAMS[p].default
        return {None: "1 each", False: "off"}.get(v, v) if not isinstance(v, float) else f"{v:g}"

    table = Table(
        title="segloss losses (p: predicted probability, g: one-hot ground truth, sums over voxels)",
        header_style="bold",
        title_justify="left",
    )
    for col in (
        "name",
        "formula (per class)",
        "value",
        "parameters (default)",
        "range",
        "per class",
        "default",
        "notes",
    ):
        table.add_column(col)
    for s in LOSSES.values():
        hi = "inf" if s.hi == float("inf") else f"{s.hi:g}"
        params = ", ".join(f"{PARAMS[p].option} {dflt(p)}" for p in s.params)
        name = s.name + (f" ({', '.join(s.aliases)})" if s.aliases else "")
        cells = (
            name,
            s.formula,
            s.reduction,
            params,
            f"[{s.lo:g}, {hi}]",
            "yes" if s.decomposes else "no",
            "yes" if s.default else "opt-in",
            s.description,
        )
        table.add_row(*(escape(c) for c in cells))
    Console(width=220 if not sys.stdout.isatty() else None).print(table)
