"""A fast path for the PNGs label masks are: 8-bit greyscale or palette, not interlaced.

Pillow decodes such a file in about twice the time of inflating it (its scanline filters
run byte by byte through generic code); a folder of Cityscapes-size masks spent most of a
run there. Here the IDAT stream is inflated with ISA-L (io/readers._inflater) and the
filters undone by one numba kernel (kernels/png.py), about 2x faster than Pillow per file.

The fast path only takes a file it can prove well formed: the PNG signature, every chunk
complete with a correct CRC-32, IHDR first, consecutive IDATs, IEND, a zlib stream that
inflates (Adler-32 checked) to exactly the bytes the header implies, known filter types,
and no animation. Anything else (other colour types and bit depths, interlacing, a damaged
file, an image over Pillow's decompression-bomb limit) returns None and Pillow reads the
file as before, with its own checks and messages. So for every file the array is the one
Pillow gives: its values, uint8, C order, read-only.
"""

from __future__ import annotations

import struct
import zlib
from typing import Optional

import numpy as np

from .readers import _inflater

_SIGNATURE = b"\x89PNG\r\n\x1a\n"
_CHUNK = struct.Struct(">I4s")
_IHDR = struct.Struct(">IIBBBBB")
# colour type -> Pillow mode for bit depth 8: greyscale "L", palette "P" (indices).
_FAST_MODES = {0: "L", 3: "P"}


def png_mode(data: bytes) -> Optional[str]:
    """The Pillow mode of a PNG the fast path decodes ("L" or "P"), from its header; else None."""
    if len(data) < 33 or data[:8] != _SIGNATURE or data[12:16] != b"IHDR":
        return None
    _, _, depth, colour, _, _, interlace = _IHDR.unpack_from(data, 16)
    if depth != 8 or interlace != 0:
        return None
    return _FAST_MODES.get(colour)


def decode_png(data: bytes, max_pixels: Optional[int]) -> Optional[np.ndarray]:
    """The pixel array of a well-formed 8-bit greyscale or palette PNG, or None (see module).

    ``max_pixels``: Pillow's ``Image.MAX_IMAGE_PIXELS`` (larger images go to Pillow, which
    warns or refuses)."""
    if png_mode(data) is None:
        return None
    width, height, _, _, compression, filtering, _ = _IHDR.unpack_from(data, 16)
    if compression != 0 or filtering != 0 or width == 0 or height == 0:
        return None
    if max_pixels is not None and width * height > max_pixels:
        return None
    idat = _idat(data)
    if idat is None:
        return None
    inflate = _inflater()
    need = height * (width + 1)
    try:
        raw = inflate.decompress(idat, 15, need)  # the output size is known: no buffer regrown
    except inflate.error:
        return None
    if len(raw) != need:
        return None
    from ..kernels.png import unfilter

    out = np.empty((height, width), dtype=np.uint8)
    if not unfilter(np.frombuffer(raw, dtype=np.uint8), out):
        return None
    out.flags.writeable = False
    return out


def _idat(data: bytes) -> Optional[bytes]:
    """The IDAT payload of a file whose chunks are all sound (see module), else None."""
    pos, end = 8, len(data)
    parts: list[bytes] = []
    first = True
    idat_done = False
    view = memoryview(data)
    while True:
        if pos + 12 > end:
            return None
        length, kind = _CHUNK.unpack_from(data, pos)
        body_end = pos + 8 + length
        if body_end + 4 > end:
            return None
        (crc,) = struct.unpack_from(">I", data, body_end)
        if zlib.crc32(view[pos + 4 : body_end]) != crc:
            return None
        if first != (kind == b"IHDR") or kind in (b"acTL", b"fcTL", b"fdAT"):
            return None  # IHDR exactly first; an animation's frames are Pillow's to show
        first = False
        if kind == b"IDAT":
            if idat_done:
                return None  # IDATs must be consecutive
            parts.append(data[pos + 8 : body_end])
        elif parts:
            idat_done = True
        if kind == b"IEND":
            return b"".join(parts) if parts else None
        pos = body_end + 4
