"""Write output files so a reader sees the old file or the complete new one, never half.

``check_writable`` runs before any work; ``write_atomic`` / ``write_all_atomic`` run after
everything is computed and serialised in memory: each text goes to a temporary file in the
target folder, is flushed and fsync'ed, and only then renamed over the target. On any error,
Ctrl-C or SIGTERM the temporary files are removed and existing outputs are left untouched.
"""

from __future__ import annotations

import errno
import os
import re
import signal
import stat
import tempfile
from pathlib import Path
from typing import Any

from ..errors import SeglossError, UsageError


class OutputError(SeglossError):
    """An output could not be written (disk full, read-only file system, ...): exit 2, one line."""


_WRITE_ERRORS = {
    errno.ENOSPC: "no space left on the device; free some space or write elsewhere",
    errno.EROFS: "the file system is read-only; write elsewhere",
    errno.EDQUOT: "the disk quota is exceeded; free some space or write elsewhere",
    errno.EACCES: "permission denied; choose a writable path",
    errno.EPERM: "permission denied; choose a writable path",
    errno.EFBIG: "the file is too large for the file system; write elsewhere",
    errno.EIO: "an I/O error occurred; check the disk",
}


# An output path naming one of this process's open descriptors: /dev/stdout (-> /proc/self/fd/1),
# /dev/stderr, /dev/fd/N, /proc/self/fd/N.
_FD_LINK = re.compile(r"/(?:proc/(self|thread-self|\d+)/fd|dev/fd)/(\d+)")
_STD_LINK = {"/dev/stdin": 0, "/dev/stdout": 1, "/dev/stderr": 2}


def _descriptor(path: str | os.PathLike) -> int | None:
    """The open descriptor an output path names, or None. ``--json /dev/stdout`` with stdout
    redirected to a file (``> out.json``) must write into that descriptor, at its offset, as a
    shell redirection does: replacing the file it resolves to would leave the shell's descriptor
    on a deleted file (what the table prints afterwards is lost) and ignore ``>>``."""
    p = os.path.abspath(os.fspath(path))
    for _ in range(40):  # a chain of links, bounded (a loop is ELOOP for the open that follows)
        m = _FD_LINK.fullmatch(p)
        if m and m.group(1) in (None, "self", "thread-self", str(os.getpid())):
            return int(m.group(2))
        if p in _STD_LINK and not os.path.islink(p):  # a device node of its own (macOS, BSD)
            return None
        if not os.path.islink(p):
            return None
        try:
            p = os.path.normpath(os.path.join(os.path.dirname(p), os.readlink(p)))
        except OSError:
            return None
    return None


def _open_output(out: Path, mode: tuple):
    """An output that is written into, not replaced (a pipe, a device, an open descriptor)."""
    fd = _descriptor(out)
    if fd is None:
        return open(out, *mode)
    import sys

    for stream in (sys.stdout, sys.stderr):  # what the process printed so far comes first
        try:
            if stream is not None and stream.fileno() == fd:
                stream.flush()
        except (OSError, ValueError, AttributeError):
            pass
    return os.fdopen(os.dup(fd), *mode)


def _target(path: str | os.PathLike) -> Path:
    """Where an output really goes: a symbolic link is followed (the link stays a link and its
    target gets the new content), dangling or not; a link to an open descriptor (/dev/stdout)
    is kept, written into."""
    p = Path(path)
    if not p.is_symlink():
        return p
    if _descriptor(p) is not None:
        return p
    real = Path(os.path.realpath(p))
    if not real.exists() and p.exists():
        # A magic link: /dev/stdout -> /proc/self/fd/1 -> "pipe:[1234]" names nothing, but the
        # link itself opens the pipe (or terminal) it points at.
        return p
    return real


def _special(path: Path) -> bool:
    """A FIFO, device or socket (/dev/null, a named pipe), or an open descriptor (/dev/stdout
    on a regular file): written into, never replaced."""
    if _descriptor(path) is not None:
        return True
    try:
        mode = os.stat(path).st_mode
    except OSError:
        return False
    return not stat.S_ISREG(mode) and not stat.S_ISDIR(mode)


# Outputs renamed into place by this process (so an interrupt message can say what exists).
COMMITTED: list[str] = []


def check_writable(path: str | os.PathLike, inputs: tuple[str, ...] = ()) -> Path:
    """Fail before any work if ``path`` cannot be written or would overwrite an input.

    ``inputs`` are the run's files and folders: an output may not be one of them, nor an
    image file inside an input folder (it would replace a case, or be read as one next time).
    """
    from .readers import file_kind

    out = _target(path)
    parent = out.parent if str(out.parent) else Path(".")
    for inp in inputs:
        try:
            same = out.exists() and os.path.samefile(out, inp)
            inside = Path(inp).is_dir() and parent.is_dir() and os.path.samefile(parent, inp)
        except OSError:
            same = inside = False
        if same:
            raise UsageError(f"{path}: output path is one of the inputs ({inp}); choose another file name")
        if inside and file_kind(out.name) is not None:
            raise UsageError(f"{path}: output path is an image file inside the input folder {inp}; write it elsewhere")
    fd = _descriptor(out)
    if fd is not None:
        import fcntl

        try:
            writable = fcntl.fcntl(fd, fcntl.F_GETFL) & os.O_ACCMODE in (os.O_WRONLY, os.O_RDWR)
        except OSError:
            raise UsageError(f"{path}: names descriptor {fd}, which is not open; choose another output path") from None
        if not writable:
            raise UsageError(f"{path}: names descriptor {fd}, which is open for reading only; choose another output")
        return out
    if _special(out):
        if not os.access(out, os.W_OK):
            raise UsageError(f"{path}: is not writable; choose another output path")
        return out
    if out.is_dir():
        raise UsageError(f"{out}: is a directory; give a file path for the output")
    if not parent.is_dir():
        if parent.exists():  # "g.npy/x.json": the parent is a file
            raise UsageError(f"{out}: {parent} is a file, not a folder; choose another output path")
        raise UsageError(f"{out}: folder {parent} does not exist; create it first or choose another output path")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise UsageError(f"{out}: folder {parent} is not writable; choose another output path")
    if out.exists() and not os.access(out, os.W_OK):
        raise UsageError(f"{out}: exists and is read-only; remove it or choose another output path")
    return out


def write_atomic(path: str | os.PathLike, text: str) -> None:
    """Write ``text`` to a temporary file beside ``path``, fsync, then rename over it."""
    write_all_atomic({path: text})


class StreamedOutput:
    """An output written while the run goes (``--cases-jsonl``, a streamed ``--csv``): into a
    temporary file beside the target, put in place by :func:`write_all_atomic` together with
    the other outputs (all or nothing, as theirs); :meth:`discard` removes it (an error, an
    interrupt: nothing written). ``path=None`` (stdout) and a pipe or device are spooled to
    the system's temporary folder and copied out at the end, so memory never holds them.
    """

    def __init__(self, path: str | os.PathLike | None):
        self.out = None if path is None else _target(path)
        self.copy = self.out is None or _special(self.out)
        self.done = False
        folder = tempfile.gettempdir() if self.copy or self.out is None else (str(self.out.parent) or ".")
        name = "stdout" if self.out is None else self.out.name
        try:
            fd, self.tmp = tempfile.mkstemp(prefix=f".{name}.", suffix=".tmp", dir=folder)
        except OSError as exc:
            raise _output_error(exc, self.out or Path(folder)) from None
        if not self.copy and self.out is not None:
            _set_mode(fd, self.out)
        self.file = os.fdopen(fd, "w", encoding="utf-8", newline="")

    def write(self, text: str) -> None:
        try:
            self.file.write(text)
        except OSError as exc:
            raise _output_error(exc, self.out or Path(self.tmp)) from None

    def rewrite(self, transform) -> None:
        """Replace what is written so far by ``transform(old, new)`` (two text files: read
        the old, write the new) and go on writing after it."""
        self.file.close()
        folder = os.path.dirname(self.tmp)
        fd, tmp = tempfile.mkstemp(prefix=os.path.basename(self.tmp).split(".tmp")[0] + ".", suffix=".tmp", dir=folder)
        if not self.copy and self.out is not None:
            _set_mode(fd, self.out)
        try:
            with (
                open(self.tmp, encoding="utf-8", newline="") as old,
                os.fdopen(fd, "w", encoding="utf-8", newline="") as new,
            ):
                transform(old, new)
        except OSError as exc:
            _unlink(tmp)
            raise _output_error(exc, self.out or Path(tmp)) from None
        _unlink(self.tmp)
        self.tmp = tmp
        self.file = open(tmp, "a", encoding="utf-8", newline="")

    def finish(self) -> None:
        """Flush and fsync the temporary file (write_all_atomic, before the renames)."""
        if self.file.closed:
            return
        self.file.flush()
        os.fsync(self.file.fileno())
        self.file.close()

    def copy_to(self, fh) -> None:
        """The content, into an open text file (stdout) in pieces."""
        import shutil

        self.finish()
        with open(self.tmp, encoding="utf-8", newline="") as src:
            shutil.copyfileobj(src, fh, 1 << 20)

    def discard(self) -> None:
        """Remove the temporary file (if it was not put in place)."""
        if not self.file.closed:
            try:
                self.file.close()
            except OSError:  # its buffer could not be flushed (a full disk): it goes anyway
                pass
        if not self.done:
            _unlink(self.tmp)
            self.done = True


def _unlink(path: str) -> None:
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass


def _output_error(exc: OSError, out: Path) -> Exception:
    why = _WRITE_ERRORS.get(exc.errno or 0)
    return exc if why is None else OutputError(f"cannot write the output: {why}", out)


def write_all_atomic(outputs: dict, streamed: tuple[StreamedOutput, ...] = ()) -> None:
    """Write several outputs (text or bytes) all-or-nothing as far as the OS allows.

    A symbolic link is written through (its target is replaced, the link stays); a FIFO or
    device is written into after the files are in place; a full disk or read-only file system
    is an OutputError naming the file.

    Every temporary file is written and fsync'ed first; the renames, which are quick and
    cannot fail halfway through a file, run last with SIGINT/SIGTERM held back, so an
    interrupt leaves either no new output or all of them. ``streamed``: outputs already in
    their temporary files (:class:`StreamedOutput`), put in place with the others (one for
    stdout is left to its caller's :meth:`StreamedOutput.copy_to`).
    """
    temps: list[tuple[str, Path]] = []
    special: list[tuple[Path, str | bytes]] = []
    out = Path(".")
    try:
        for stream in streamed:
            if stream.out is None:
                continue
            out = stream.out
            stream.finish()
            if stream.copy:
                special.append((stream.out, stream))  # type: ignore[arg-type]
            else:
                temps.append((stream.tmp, stream.out))
        for path, text in outputs.items():
            out = _target(path)
            if _special(out):  # a pipe or device: written last, in place
                special.append((out, text))
                continue
            fd, tmp = tempfile.mkstemp(prefix=f".{out.name}.", suffix=".tmp", dir=str(out.parent) or ".")
            temps.append((tmp, out))
            _set_mode(fd, out)
            with os.fdopen(fd, *_mode(text)) as fh:
                fh.write(text)
                fh.flush()
                os.fsync(fh.fileno())
        _commit(temps)
        for stream in streamed:
            stream.done = stream.done or (stream.out is not None and not stream.copy)
        for out, text in special:
            if isinstance(text, StreamedOutput):
                with _open_output(out, ("w", -1, "utf-8", None, "")) as fh:
                    text.copy_to(fh)
                text.discard()
            else:
                with _open_output(out, _mode(text)) as fh:
                    fh.write(text)
            COMMITTED.append(str(out))
    except OSError as exc:
        _remove(temps)
        why = _WRITE_ERRORS.get(exc.errno or 0)
        if why is None:
            raise
        raise OutputError(f"cannot write the output: {why}", out) from None
    except BaseException:
        _remove(temps)
        raise


def _mode(text: str | bytes) -> tuple:
    """open() arguments for text (UTF-8, newlines as written) or bytes."""
    return ("wb",) if isinstance(text, (bytes, bytearray)) else ("w", -1, "utf-8", None, "")


def _remove(temps: list[tuple[str, Path]]) -> None:
    for tmp, _ in temps:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass


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
    """The renames, with SIGINT/SIGTERM held until all are done. A signal mask holds them in
    this thread only: a signal sent to the process reaches another thread (a worker pool's)
    and Python runs its handler here at once, halfway through the renames. So the handlers
    are swapped for ones that only note the signal, which is raised again after the last."""
    held = (signal.SIGINT, signal.SIGTERM)
    pending: list[int] = []
    saved: dict[signal.Signals, Any] = {}
    try:
        for sig in held:
            saved[sig] = signal.signal(sig, lambda signum, frame: pending.append(signum))
    except ValueError:  # not the main thread: Python runs no handler here anyway
        pass
    try:
        old = signal.pthread_sigmask(signal.SIG_BLOCK, set(held))
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
        for sig, handler in saved.items():
            signal.signal(sig, handler)
        if pending:
            signal.raise_signal(pending[0])  # the run's own handler: "terminated; output already complete"


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
