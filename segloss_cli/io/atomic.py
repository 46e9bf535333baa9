"""Write output files so a reader sees the old file or the complete new one, never half.

``check_writable`` runs before any work; ``write_atomic`` / ``write_all_atomic`` run after
everything is computed and serialised in memory: each text goes to a temporary file in the
target folder, is flushed and fsync'ed, and only then renamed over the target. On any error,
Ctrl-C or SIGTERM the temporary files are removed and existing outputs are left untouched.
"""

from __future__ import annotations

import os
import signal
import tempfile
from pathlib import Path

from ..errors import UsageError

# Outputs renamed into place by this process (so an interrupt message can say what exists).
COMMITTED: list[str] = []


def check_writable(path: str | os.PathLike, inputs: tuple[str, ...] = ()) -> Path:
    """Fail before any work if ``path`` cannot be written or would overwrite an input."""
    out = Path(path)
    parent = out.parent if str(out.parent) else Path(".")
    if out.exists():
        for inp in inputs:
            try:
                same = os.path.samefile(out, inp)
            except OSError:
                same = False
            if same:
                raise UsageError(f"{out}: output path is one of the inputs ({inp}); choose another file name")
    if out.is_dir():
        raise UsageError(f"{out}: is a directory; give a file path for the output")
    if not parent.is_dir():
        raise UsageError(f"{out}: folder {parent} does not exist; create it first or choose another output path")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise UsageError(f"{out}: folder {parent} is not writable; choose another output path")
    if out.exists() and not os.access(out, os.W_OK):
        raise UsageError(f"{out}: exists and is read-only; remove it or choose another output path")
    return out


def write_atomic(path: str | os.PathLike, text: str) -> None:
    """Write ``text`` to a temporary file beside ``path``, fsync, then rename over it."""
    write_all_atomic({path: text})


def write_all_atomic(outputs: dict) -> None:
    """Write several outputs all-or-nothing as far as the OS allows.

    Every temporary file is written and fsync'ed first; the renames, which are quick and
    cannot fail halfway through a file, run last with SIGINT/SIGTERM held back, so an
    interrupt leaves either no new output or all of them.
    """
    temps: list[tuple[str, Path]] = []
    try:
        for path, text in outputs.items():
            out = Path(path)
            fd, tmp = tempfile.mkstemp(prefix=f".{out.name}.", suffix=".tmp", dir=str(out.parent) or ".")
            temps.append((tmp, out))
            _set_mode(fd, out)
            with os.fdopen(fd, "w", encoding="utf-8", newline="") as fh:
                fh.write(text)
                fh.flush()
                os.fsync(fh.fileno())
        _commit(temps)
    except BaseException:
        for tmp, _ in temps:
            try:
                os.unlink(tmp)
            except FileNotFoundError:
                pass
        raise


def _set_mode(fd: int, out: Path) -> None:
    """mkstemp creates 0600; give the file the mode a plain open() would (or the old file's)."""
    try:
        mode = os.stat(out).st_mode & 0o7777
    except OSError:
        umask = os.umask(0)
        os.umask(umask)
        mode = 0o666 & ~umask
    try:
        os.fchmod(fd, mode)
    except (AttributeError, OSError):
        pass


def _commit(temps: list[tuple[str, Path]]) -> None:
    held = {signal.SIGINT, signal.SIGTERM}
    try:
        old = signal.pthread_sigmask(signal.SIG_BLOCK, held)
    except (AttributeError, ValueError, OSError):  # no pthread_sigmask (Windows)
        old = None
    try:
        for tmp, out in temps:
            os.replace(tmp, out)
            COMMITTED.append(str(out))
        _fsync_dirs({out.parent for _, out in temps})
    finally:
        if old is not None:
            signal.pthread_sigmask(signal.SIG_SETMASK, old)


def _fsync_dirs(dirs) -> None:
    """Make the renames durable (POSIX); best effort elsewhere."""
    for d in dirs:
        try:
            fd = os.open(str(d) or ".", os.O_RDONLY)
        except OSError:
            continue
        try:
            os.fsync(fd)
        except OSError:
            pass
        finally:
            os.close(fd)
