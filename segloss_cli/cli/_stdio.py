"""Standard streams that the caller closed or pointed at a full device.

``segloss eval ... >&-`` starts Python with ``sys.stdout`` None and file descriptor 1 free;
``2>&-`` does the same to stderr. Two things go wrong then: every print is an AttributeError
(exit 3), and the first file segloss opens gets descriptor 1 or 2, so anything written to
"stdout" at the C level would land in an output file. :func:`guard` runs before any command:

- a closed descriptor 0, 1 or 2 is reopened on ``os.devnull``, so no file takes its number;
- a closed stdout becomes :class:`ClosedStdout`: its first write is a broken pipe, so the run
  exits 141 exactly as when the reader of a pipe has gone (conventions.md, exit codes); a run
  that prints nothing to stdout (``--quiet``, outputs in files) is unaffected;
- a closed stderr becomes a sink on ``os.devnull``: messages are lost (there is nowhere to
  put them), the exit code still says what happened (1 for a failed requirement);
- an open stdout is wrapped by :class:`GuardedStdout`: a write that fails with a disk error
  (``> /dev/full``: ENOSPC) raises an OutputError naming stdout, one line, exit 2, like a
  ``--json`` file on a full disk.
"""

from __future__ import annotations

import io
import os
import sys
from typing import Any


def _reopen_closed_fds() -> None:
    for fd in (0, 1, 2):
        try:
            os.fstat(fd)
        except OSError:
            try:
                null = os.open(os.devnull, os.O_RDWR)
            except OSError:  # pragma: no cover - no /dev/null: nothing better to do
                return
            if null != fd:
                os.dup2(null, fd)
                os.close(null)


class ClosedStdout(io.TextIOBase):
    """Stands for a stdout closed before start: writing to it is a broken pipe."""

    encoding = "utf-8"

    def writable(self) -> bool:
        return True

    def isatty(self) -> bool:
        return False

    def write(self, text: str) -> int:
        raise BrokenPipeError("stdout is closed")


def stdout_error(exc: OSError) -> Exception:
    """A failed write to stdout as one line naming stdout (an OutputError), or ``exc`` itself."""
    from ..io.atomic import _WRITE_ERRORS, OutputError

    why = _WRITE_ERRORS.get(exc.errno or 0)
    if why is None:
        return exc
    _to_devnull(1)  # the interpreter's last flush of what is buffered must not fail again
    return OutputError(
        f"stdout: cannot write the output: {why.replace('write elsewhere', 'redirect stdout elsewhere')}"
    )


def _to_devnull(fd: int) -> None:
    try:
        null = os.open(os.devnull, os.O_WRONLY)
        os.dup2(null, fd)
        os.close(null)
    except OSError:  # pragma: no cover
        pass


class GuardedStdout:
    """sys.stdout whose disk errors (ENOSPC, EIO, ...) are OutputErrors naming stdout."""

    def __init__(self, stream: Any):
        self._stream = stream

    def write(self, text: str) -> int:
        try:
            return self._stream.write(text)
        except BrokenPipeError:
            raise
        except OSError as exc:
            raise stdout_error(exc) from None

    def writelines(self, lines: Any) -> None:
        for line in lines:
            self.write(line)

    def flush(self) -> None:
        try:
            self._stream.flush()
        except BrokenPipeError:
            raise
        except OSError as exc:
            raise stdout_error(exc) from None

    def __getattr__(self, name: str) -> Any:
        return getattr(self._stream, name)


def guard() -> None:
    """Make the standard streams safe to use (module docstring); call once, before any command."""
    closed_out, closed_err = sys.stdout is None, sys.stderr is None
    _reopen_closed_fds()
    if closed_err:
        sys.stderr = open(os.devnull, "w", encoding="utf-8")  # noqa: SIM115 - lives as long as the process
    if closed_out:
        sys.stdout = ClosedStdout()
    elif not isinstance(sys.stdout, GuardedStdout):
        sys.stdout = GuardedStdout(sys.stdout)
