"""Shared CLI plumbing: error handling, exit codes, stderr console."""

from __future__ import annotations

import functools
import os
import signal
import sys
from dataclasses import dataclass

import typer

from ..errors import EXIT_INTERNAL, EXIT_INTERRUPTED, EXIT_TERMINATED, EXIT_USAGE, SeglossError

EXIT_BROKEN_PIPE = 141  # 128 + SIGPIPE: the reader of stdout went away (e.g. `| head`)


@dataclass
class _State:
    debug: bool = bool(os.environ.get("SEGLOSS_DEBUG"))


STATE = _State()


class Terminated(BaseException):
    """Raised from the SIGTERM handler so cleanup (temporary files) runs like on Ctrl-C."""


def install_sigterm() -> None:
    def _handler(signum, frame):
        raise Terminated()

    try:
        signal.signal(signal.SIGTERM, _handler)
    except ValueError:  # not the main thread (e.g. inside a test runner thread)
        pass


# Library parameter -> the option that sets it: library errors name parameters (errors.py), and
# the command line shows them as its options. Loss parameters come from the loss registry.
OPTIONS = {
    "spacing_mm": "--spacing",
    "labels": "--labels",
    "regions": "--region",
    "storage_options": "--storage-option",
    "include_background": "--include-background",
    "ignore_label": "--ignore-label",
    "label_names": "--label-names",
    "pred_type": "--pred-type",
    "channel_axis": "--channel-axis",
    "threshold": "--threshold",
    "npz_key": "--npz-key",
    "axes": "--axes",
    "pred_ext": "--pred-ext",
    "recursive": "--recursive",
    "renormalize": "--renormalize",
    "metrics": "--metrics",
    "losses": "--losses",
    "empty_policy": "--empty-policy",
    "empty_values": "--empty-value",
    "convention": "--convention",
    "assd_mode": "--assd-mode",
    "reduction": "--reduction",
    "pooled_means": "--pooled-means",
    "hd_mode": "--hd-mode",
    "surface": "--surface",
    "distance_metric": "--distance-metric",
    "gt_type": "--gt-type",
    "hd_percentile": "--hd-percentile",
    "nsd_tolerance_mm": "--nsd-tolerance",
    "worst_distance_mm": "--worst-distance",
    "boundary_iou_ratio": "--boundary-iou-ratio",
    "lesion_preset": "--lesion-preset",
    "lesion_dilation": "--lesion-dilation",
    "lesion_connectivity": "--lesion-connectivity",
    "lesion_volume_threshold_mm3": "--lesion-volume-threshold",
    "lesion_worst_hd95_mm": "--lesion-worst-hd95",
    "lesion_iou_threshold": "--lesion-iou",
    "require": "--require",
    "require_file": "--require-file",
    "missing": "--missing",
    "jobs": "--jobs",
    "pred_suffix": "--pred-suffix",
    "gt_suffix": "--gt-suffix",
    "pattern": "--pattern",
    "palette": "--palette",
    "masks": "--masks",
    "aggregate": "--aggregate",
    "shard": "--shard",
    "scheduler": "--scheduler",
    "batch_size": "--batch-size",
    "connect_timeout_s": "--connect-timeout",
}


def cli_options() -> dict[str, str]:
    from ..losses.registry import PARAMS

    return {**OPTIONS, **{name: spec.option for name, spec in PARAMS.items()}}


def err(message: str) -> None:
    """One line on stderr: a control character in user text (a newline in a --require, an
    escape sequence in a file name) is shown escaped, a very long echoed value cut with an
    ellipsis (report.text.one_line)."""
    from ..report.text import one_line

    typer.echo(one_line(message), err=True)


def stderr_console():
    from rich.console import Console

    return Console(stderr=True, highlight=False, emoji=False)


def handle_errors(func):
    """Turn every failure into one stderr line and a documented exit code."""

    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        from ..io.atomic import COMMITTED

        COMMITTED.clear()  # one command per process, but tests run many in one
        _rich_broken_pipe_raises()
        try:
            result = func(*args, **kwargs)
            sys.stdout.flush()  # a closed pipe surfaces here, not in click (which would exit 1)
            return result
        except typer.Exit:
            raise
        except SeglossError as exc:
            if STATE.debug:
                import traceback

                traceback.print_exc(file=sys.stderr)
            err(f"segloss: error: {exc.render(cli_options())}")
            raise typer.Exit(exc.exit_code) from None
        except KeyboardInterrupt:
            err(f"segloss: interrupted; {_written()}")
            raise typer.Exit(EXIT_INTERRUPTED) from None
        except Terminated:
            err(f"segloss: terminated; {_written()}")
            raise typer.Exit(EXIT_TERMINATED) from None
        except BrokenPipeError:
            _silence_stdout()
            raise typer.Exit(EXIT_BROKEN_PIPE) from None
        except MemoryError:
            err("segloss: error: out of memory; score fewer cases at once (--jobs 1) or crop the volumes")
            raise typer.Exit(EXIT_INTERNAL) from None
        except Exception as exc:  # a bug in segloss: short message, non-zero exit
            if STATE.debug:
                import traceback

                traceback.print_exc(file=sys.stderr)
            path_error = _path_error(exc)
            if path_error is not None:  # a path the system cannot take (pathlib raises it from is_dir)
                err(f"segloss: error: {path_error}")
                raise typer.Exit(EXIT_USAGE) from None
            first = (str(exc).splitlines() or [""])[0][:300]
            err(f"segloss: internal error: {type(exc).__name__}: {first} (rerun with --debug and report it)")
            raise typer.Exit(EXIT_INTERNAL) from None

    return wrapper


def _path_error(exc: BaseException) -> str | None:
    """An OSError about a path as such (a name too long, a loop of links) that reached the top:
    bad input, one line, not an internal error."""
    import errno

    loop = "Symlink loop from "  # pathlib's resolve() (Python < 3.13) raises RuntimeError for ELOOP
    if isinstance(exc, RuntimeError) and str(exc).startswith(loop):
        exc = OSError(errno.ELOOP, "loop", str(exc)[len(loop) :].strip("'\""))
    if not isinstance(exc, OSError) or exc.errno not in (errno.ENAMETOOLONG, errno.ELOOP):
        return None
    name = os.fsdecode(exc.filename) if exc.filename is not None else "a path"
    if exc.errno == errno.ELOOP:
        return f"{name}: too many levels of symbolic links (a loop); fix the link"
    longest = max((len(os.fsencode(part)) for part in name.split(os.sep)), default=0)
    return (
        f"{name}: the file name is too long ({len(os.fsencode(name)):,} bytes, the longest part {longest:,}); "
        "the system allows 255 bytes per name: shorten it"
    )


def _written() -> str:
    """What an interrupted run left behind: outputs are renamed into place only at the end."""
    from ..io.atomic import COMMITTED

    if not COMMITTED:
        return "nothing written"
    return "output already complete: " + ", ".join(COMMITTED)


def _silence_stdout() -> None:
    """After a broken pipe, point stdout at /dev/null so the interpreter's final flush is quiet."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError, AttributeError):
        pass


def run_app(app) -> None:
    """Entry point: also covers Ctrl-C / SIGTERM / broken pipes outside a command body."""
    from . import _stdio

    _stdio.guard()  # closed or full standard streams (>&-, 2>&-, > /dev/full)
    install_sigterm()
    try:
        app()
    except KeyboardInterrupt:
        err(f"segloss: interrupted; {_written()}")
        sys.exit(EXIT_INTERRUPTED)
    except Terminated:
        err(f"segloss: terminated; {_written()}")
        sys.exit(EXIT_TERMINATED)
    except BrokenPipeError:
        _silence_stdout()
        sys.exit(EXIT_BROKEN_PIPE)


def _short_click_messages() -> None:
    """click's own usage errors (``Invalid value for '--empty-policy': '9999...'``) echo the
    value whole: a 100,000-character value is cut as segloss's own errors are."""
    try:  # typer >= 0.16 carries its own copy of click
        from typer._click import exceptions as ce  # type: ignore[attr-defined,unused-ignore]
    except ImportError:  # pragma: no cover - an older typer on click
        import click.exceptions as ce  # type: ignore[no-redef,unused-ignore]

    def shortened(original):
        def format_message(self) -> str:
            from ..report.text import one_line

            return one_line(original(self))

        format_message._segloss = True  # type: ignore[attr-defined,unused-ignore]
        return format_message

    for klass in vars(ce).values():  # each class with its own format_message (BadParameter, NoSuchOption, ...)
        own = isinstance(klass, type) and issubclass(klass, ce.ClickException) and klass.__dict__.get("format_message")
        if own and not getattr(own, "_segloss", False):
            klass.format_message = shortened(own)


_short_click_messages()


def _raise_broken_pipe(self) -> None:
    raise BrokenPipeError()


def _rich_broken_pipe_raises() -> None:
    """rich answers a closed stdout with SystemExit(1), which reads as "a requirement failed";
    make it raise BrokenPipeError so every command exits 141 on `| head`, table or not."""
    try:
        from rich.console import Console
    except ImportError:  # pragma: no cover
        return
    Console.on_broken_pipe = _raise_broken_pipe  # type: ignore[method-assign]
