"""Folder mode and gate output for `segloss eval`: progress on stderr, notes, exit code 1."""

from __future__ import annotations

import sys
from typing import Any

import typer

from ._common import err, stderr_console


def _progress(total: int):
    """A rich progress bar on stderr (cases done, rate, ETA)."""
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        ProgressColumn,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )
    from rich.text import Text

    class Rate(ProgressColumn):
        def render(self, task):
            speed = task.finished_speed or task.speed
            return Text("? cases/s" if not speed else f"{speed:.2f} cases/s", style="progress.data.speed")

    return Progress(
        TextColumn("scoring"),
        BarColumn(),
        MofNCompleteColumn(),
        Rate(),
        TimeElapsedColumn(),
        TextColumn("eta"),
        TimeRemainingColumn(),
        console=stderr_console(),
        transient=False,
    )


def _keep_case_buffers_in_the_heap() -> None:
    """Let glibc keep case-sized buffers in its heap instead of returning them to the kernel.

    Each case allocates a few MB (the decompressed files) and frees them a moment later.
    By default glibc maps blocks above its mmap threshold afresh and unmaps them on free,
    and gives freed heap tops back (trim), so every case pays page faults and zeroing for
    memory it just released, and worker threads queue on the kernel's per-process memory-map
    lock. On the folder benchmark that was a third of a case's time and kept two workers
    from running faster than one. A fixed 32 MiB mmap threshold and a 256 MiB trim threshold
    keep such blocks for reuse; larger volumes are mapped as before. Only the CLI process is
    tuned; a C library without mallopt is left alone.
    """
    import ctypes
    import ctypes.util

    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        mallopt = libc.mallopt
    except (OSError, AttributeError):
        return
    M_TRIM_THRESHOLD, M_MMAP_THRESHOLD = -1, -3
    mallopt(M_MMAP_THRESHOLD, 32 << 20)
    mallopt(M_TRIM_THRESHOLD, 256 << 20)


class CaseProgress:
    """What a folder run shows on stderr while it runs: pairing notes, then a progress bar.

    Given to the library's run as its ``on_pairing`` / ``on_case`` callbacks; silent under
    ``--quiet``, and the bar only on a terminal. A pair of files shows nothing.
    """

    def __init__(self, quiet: bool):
        self.quiet = quiet
        self.bar: Any = None
        self.task: Any = None

    def __enter__(self) -> CaseProgress:
        return self

    def __exit__(self, *exc) -> None:
        if self.bar is not None:
            self.bar.stop()

    def start(self, pairing, missing) -> None:
        _keep_case_buffers_in_the_heap()
        if self.quiet:
            return
        if pairing.missing:
            what = "scored as empty predictions (worst values)" if missing == "worst" else "skipped"
            err(
                f"segloss: note: {len(pairing.missing)} ground truth(s) without a prediction {what}: {_names(pairing.missing)}"
            )
        if pairing.extra:
            err(
                f"segloss: note: {len(pairing.extra)} prediction(s) without a ground truth left out: {_names(pairing.extra)}"
            )
        if sys.stderr.isatty():
            bar = _progress(len(pairing.pairs))
            bar.start()
            self.task = bar.add_task("cases", total=len(pairing.pairs))
            self.bar = bar

    def advance(self, _case) -> None:
        if self.bar is not None:
            self.bar.advance(self.task)


def _names(ids, limit: int = 10) -> str:
    ids = list(ids)
    return ", ".join(ids[:limit]) + (f", ... ({len(ids)} in all)" if len(ids) > limit else "")


def report_gate(checks, n_requirements: int, *, quiet: bool) -> None:
    """Failed checks as a table on stderr and exit 1; a one-line note when all pass."""
    from ..errors import EXIT_REQUIREMENT_FAILED

    failed = [c for c in checks if not c.passed]
    if not failed:
        if not quiet:
            err(f"segloss: all {len(checks)} requirement checks passed ({n_requirements} requirements)")
        return
    from ..report.gate import failed_table, left_out_line

    console = stderr_console()
    if not sys.stderr.isatty():
        console.width = 200
    console.print(failed_table(checks, total=len(checks)))
    line = left_out_line(checks)
    if line is not None:
        err(line)
    raise typer.Exit(EXIT_REQUIREMENT_FAILED)
