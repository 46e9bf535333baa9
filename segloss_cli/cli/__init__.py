"""The `segloss` command line. Nothing imports cli/; it imports everything else lazily.

Only typer is imported at start-up so `segloss --help` stays fast and never loads numba.
"""

from __future__ import annotations

import os
from typing import Any, Optional

import typer
from typer.core import TyperCommand

from .. import __version__
from ._common import STATE


class PanelledCommand(TyperCommand):
    """Help with the options grouped under their ``rich_help_panel`` headings, as plain text.

    Typer draws panels only through rich, and only when ``rich_markup_mode`` is set; with
    markup off (``None``, below) it falls back to click's formatter, which lists every option
    under one "Options" heading. Markup stays off: rich markup would read the brackets of
    help texts such as ``dice[liver]>=0.9`` or ``[tool.segloss]`` as style tags, and rich's
    help writes colour codes wherever it detects a CI log (GITHUB_ACTIONS). So the panels
    are click sections instead: the same groups, plain text on a terminal and in a pipe, and
    `segloss --help` imports nothing beyond typer. Sections follow the order in which
    their first option is declared; options without a panel go under "Options".
    """

    def format_options(self, ctx: Any, formatter: Any) -> None:
        arguments: list[tuple[str, str]] = []
        panels: dict[str, list[tuple[str, str]]] = {}
        for param in self.get_params(ctx):
            record = param.get_help_record(ctx)
            if record is None:
                continue
            if param.param_type_name == "argument":
                arguments.append(record)
            elif param.param_type_name == "option":
                panels.setdefault(getattr(param, "rich_help_panel", None) or "Options", []).append(record)
        if arguments:
            with formatter.section("Arguments"):
                formatter.write_dl(arguments)
        for title, records in panels.items():
            with formatter.section(title):
                formatter.write_dl(records)


class _Typer(typer.Typer):
    """Every command's help in panels (PanelledCommand) unless a command asks for another class."""

    def command(self, *args: Any, cls: Optional[type[TyperCommand]] = None, **kwargs: Any) -> Any:
        return super().command(*args, cls=cls or PanelledCommand, **kwargs)


app = _Typer(
    name="segloss",
    help=(
        "Evaluate image segmentations: every overlap metric, surface distance and loss, per class.\n\n"
        "Examples:\n\n"
        "  segloss eval pred.nii.gz gt.nii.gz              one case: a table per class\n\n"
        "  segloss eval pred.nii.gz gt.nii.gz --format json > scores.json\n\n"
        "  segloss eval preds/ labels/ --require 'dice>=0.85'   a folder, gated for CI\n\n"
        "  segloss compare base.json new.json --max-drop dice=0.01\n\n"
        "  segloss merge part-*.json --json all.json       shards of `eval --shard K/N` as one run\n\n"
        "  segloss rank labels/ preds_a/ preds_b/ --html rank.html   rank models or losses\n\n"
        "  segloss metrics                                 what each metric means\n\n"
        "Exit codes: 0 ok, 1 a --require failed, 2 usage or input error, 3 internal error, "
        "130 interrupted, 143 terminated."
    ),
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
    context_settings={"help_option_names": ["-h", "--help"]},
)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"segloss {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: Optional[bool] = typer.Option(
        None, "--version", callback=_version, is_eager=True, help="Print the version and exit."
    ),
    debug: bool = typer.Option(False, "--debug", help="Show full tracebacks for errors (for bug reports)."),
) -> None:
    STATE.debug = debug


from . import compare as _compare  # noqa: E402,F401
from . import eval as _eval  # noqa: E402,F401  (registers the command)
from . import listing as _listing  # noqa: E402,F401
from . import merge as _merge  # noqa: E402,F401
from . import rank as _rank  # noqa: E402,F401
from . import warmup as _warmup  # noqa: E402,F401


def main() -> None:
    import segloss_cli

    from ._common import run_app

    segloss_cli.CLI_PROCESS = True
    # numpy's OpenBLAS starts a worker thread at import, and a SIGTERM or SIGINT sent to the
    # process may be delivered to it: Python then notes the signal there, but the main thread
    # stays blocked in its system call (reading a FIFO or a slow file) and the run never stops.
    # segloss calls no BLAS routine, so the CLI process keeps OpenBLAS to the calling thread
    # (before numpy is first imported; a user's own setting wins).
    os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
    run_app(app)
