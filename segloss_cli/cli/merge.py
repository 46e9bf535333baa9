"""`segloss merge part-*.json`: the run that shards of `segloss eval --shard K/N` are parts of."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from ..choices import Aggregate
from . import app
from ._common import handle_errors
from .eval import Format


@app.command("merge", no_args_is_help=True)
@handle_errors
def merge_command(
    shards: Annotated[
        list[Path],
        typer.Argument(
            metavar="SHARD.json...",
            help="The JSON of every shard, from `segloss eval PRED GT --shard K/N --json part-K.json` (any order).",
            show_default=False,
        ),
    ],
    output_format: Annotated[Format, typer.Option("--format", "-f", help="What to print on stdout.")] = Format.table,
    json_path: Annotated[
        Optional[Path], typer.Option("--json", help="Write the merged JSON result here (atomically).")
    ] = None,
    csv_path: Annotated[
        Optional[Path], typer.Option("--csv", help="Write per-case, per-class rows as CSV here (atomically).")
    ] = None,
    summary_csv: Annotated[
        Optional[Path], typer.Option("--summary-csv", help="Write the summary statistics as CSV here.")
    ] = None,
    aggregate: Annotated[
        Aggregate,
        typer.Option("--aggregate", help="Table: cases (mean ± std over cases), pooled (dataset-level), or both."),
    ] = Aggregate.CASES,
    require: Annotated[
        Optional[list[str]],
        typer.Option(
            "--require",
            "-r",
            help="Fail (exit 1) unless this holds, as in `segloss eval --require` (checked on the merged summary).",
            show_default=False,
        ),
    ] = None,
    require_file: Annotated[
        Optional[Path], typer.Option("--require-file", help='TOML file with require = ["dice>=0.85", ...].')
    ] = None,
    allow_undefined: Annotated[
        bool, typer.Option("--allow-undefined", help="An undefined (null) value passes a requirement.")
    ] = False,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No notes on stderr.")] = False,
) -> None:
    """Merge the shards of one folder run: the summary, gate and outputs of the whole run.

    The merged JSON is byte-identical to the unsharded run's. A shard missing or given
    twice, shards of other settings or folders, or a case in two shards: exit 2.

    \b
    Examples:
      segloss eval preds/ labels/ --shard 3/64 --json part-03.json     # one task of 64
      segloss merge part-*.json --json all.json --require 'dice>=0.85'
    """
    from .. import gate
    from ..errors import UsageError
    from ..io.atomic import check_writable
    from ..shards import merge_runs
    from ._batch import report_gate
    from .eval import _emit, _print_notes

    inputs = tuple(str(p) for p in (*shards, require_file) if p is not None)
    outputs = [check_writable(p, inputs) for p in (json_path, csv_path, summary_csv) if p is not None]
    if len({o.resolve() for o in outputs}) < len(outputs):
        raise UsageError("--json, --csv and --summary-csv must be different files; give separate paths")
    texts = list(require or [])
    if require_file is not None:
        texts += gate.load_requirement_file(require_file)
    requirements = [gate.parse_requirement(t) for t in texts]
    run = merge_runs(shards)
    gate.validate_requirements(requirements, run.metric_names, run.loss_names)
    if not quiet:
        _print_notes(run)
    checks = gate.check(run, requirements, allow_undefined=allow_undefined)
    _emit(run, output_format, json_path, csv_path, summary_csv, folder=True, aggregate=aggregate)
    if checks:
        report_gate(checks, len(requirements), quiet=quiet)
