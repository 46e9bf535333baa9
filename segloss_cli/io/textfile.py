"""Small text inputs (requirement, label, palette and result files), read with bounds.

``Path.read_text`` reads until the end, and some paths never end: ``--require-file /dev/zero``
or a named pipe fed by ``yes`` grew memory until the process was killed. Here the text is read
in chunks, a NUL byte (no text file holds one) is an error at the first chunk, and more than
``limit`` bytes is an error after ``limit + 1`` have been read.
"""

from __future__ import annotations

from pathlib import Path

from ..errors import InputError

CHUNK = 1 << 20


def _size(n: int) -> str:
    return f"{n / (1 << 30):g} GB" if n >= 1 << 30 else f"{n / (1 << 20):g} MB"


def read_text(path: str | Path, limit: int, what: str) -> str:
    """The UTF-8 text of ``path`` (a byte-order mark dropped), at most ``limit`` bytes.

    FileNotFoundError, OSError and UnicodeDecodeError reach the caller (which names the file
    kind); a NUL byte or more than ``limit`` bytes is an InputError naming ``what``."""
    parts: list[bytes] = []
    size = 0
    with open(path, "rb") as fh:
        while True:
            chunk = fh.read(min(CHUNK, limit + 1 - size))
            if not chunk:
                break
            if b"\x00" in chunk:
                raise InputError(f"holds NUL bytes: it is not a text file (give the {what} itself)", path)
            parts.append(chunk)
            size += len(chunk)
            if size > limit:
                raise InputError(
                    f"is larger than {_size(limit)} (or a stream that does not end); a {what} may hold at most "
                    f"{_size(limit)}",
                    path,
                )
    return b"".join(parts).decode("utf-8-sig")
