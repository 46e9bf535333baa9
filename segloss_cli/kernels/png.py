"""PNG scanline unfiltering (io/png.py): inflated IDAT bytes -> pixel bytes, row by row.

Each scanline is one filter-type byte then ``stride`` bytes; the five filters (PNG spec,
section 9.2) predict a byte from its left neighbour ``a``, the byte above ``b`` and the one
above-left ``c`` (one byte per pixel here: 8-bit greyscale or palette), and the stored byte
is the difference mod 256.
Label masks are long runs, so in Paeth rows ``b == c`` almost everywhere, where the
predictor is ``a`` whatever ``a`` is (|b - c| = 0 is the smallest distance): that case skips
the three distances.
"""

import numpy as np

from ._jit import jit


@jit(boundscheck=False)
def unfilter(raw, out):
    """Undo the filters of ``raw`` (uint8, rows x (1 + stride)) into ``out`` (uint8, rows x
    stride), one byte per pixel (``a`` is the byte just written, kept in a register rather
    than read back: the serial filters run at about a cycle a byte). Returns False at an
    unknown filter type (the caller then lets Pillow say why)."""
    rows, stride = out.shape
    zero = np.zeros(stride, np.uint8)
    for r in range(rows):
        base = r * (stride + 1)
        kind = raw[base]
        src = raw[base + 1 : base + 1 + stride]
        row = out[r]
        up = out[r - 1] if r > 0 else zero
        if kind == 0:
            for i in range(stride):
                row[i] = src[i]
        elif kind == 1:  # Sub
            a = np.uint8(0)
            for i in range(stride):
                a = np.uint8(src[i] + a)
                row[i] = a
        elif kind == 2:  # Up
            for i in range(stride):
                row[i] = src[i] + up[i]
        elif kind == 3:  # Average
            a = np.int64(0)
            for i in range(stride):
                a = (np.int64(src[i]) + ((a + np.int64(up[i])) >> 1)) & 255
                row[i] = a
        elif kind == 4:  # Paeth: the predictor of a, b, c, left in a
            a = np.int64(0)
            c = np.int64(0)
            for i in range(stride):
                b = np.int64(up[i])
                if b != c:
                    pa = abs(b - c)
                    pb = abs(a - c)
                    pc = abs(a + b - 2 * c)
                    if not (pa <= pb and pa <= pc):
                        a = b if pb <= pc else c
                a = (np.int64(src[i]) + a) & 255
                row[i] = a
                c = b
        else:
            return False
    return True
