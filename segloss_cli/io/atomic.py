"""Write output files so a reader sees the old file or the complete new one, never half."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from ..errors import UsageError


def check_writable(path: str | os.PathLike, inputs: tuple[str, ...] = ()) -> Path:
    """Fail before any work if ``path`` cannot be written or would overwrite an input."""
    out = Path(path)
    parent = out.parent if str(out.parent) else Path(".")
    for inp in inputs:
        if Path(inp).exists() and out.exists() and out.resolve() == Path(inp).resolve():
            raise UsageError(f"{out}: output path is one of the inputs; choose another file name")
    if out.is_dir():
        raise UsageError(f"{out}: is a directory; give a file path for the output")
    if not parent.is_dir():
        raise UsageError(f"{out}: folder {parent} does not exist; create it first")
    if not os.access(parent, os.W_OK):
        raise UsageError(f"{out}: folder {parent} is not writable; choose another output path")
    return out


def write_atomic(path: str | os.PathLike, text: str) -> None:
    """Write ``text`` to a temporary file beside ``path``, fsync, then rename over it."""
    out = Path(path)
    fd, tmp = tempfile.mkstemp(prefix=f".{out.name}.", suffix=".tmp", dir=out.parent or ".")
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, out)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise
