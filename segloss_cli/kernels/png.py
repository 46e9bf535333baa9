"""PNG scanline unfiltering (io/png.py): inflated IDAT bytes -> pixel bytes, row by row.

Each scanline is one filter-type byte then ``stride`` bytes; the five filters (PNG spec,
section 9.2) predict a byte from its left neighbour ``a`` (``bpp`` bytes back), the byte
above ``b`` and the one above-left ``c``, and the stored byte is the difference mod 256.
Label masks are long runs, so in Paeth rows ``b == c`` almost everywhere, where the
predictor is ``a`` whatever ``a`` is (|b - c| = 0 is the smallest distance): that case skips
the three distances.
"""

import numpy as np

from ._jit import jit


@jit(boundscheck=False)
def unfilter(raw, out, bpp):
    """Undo the filters of ``raw`` (uint8, rows x (1 + stride)) into ``out`` (uint8, rows x
    stride). Returns False at an unknown filter type (the caller then lets Pillow say why)."""
    rows, stride = out.shape
    zero = np.zeros(stride, np.uint8)
    for r in range(rows):
        base = r * (stride + 1)
        kind = raw[base]
        src = raw[base + 1 : base + 1 + stride]
        row = out[r]
        up = out[r - 1] if r > 0 else zero
        if kind == 0:
            row[:] = src
        elif kind == 1:  # Sub
            for i in range(min(bpp, stride)):
                row[i] = src[i]
            for i in range(bpp, stride):
                row[i] = src[i] + row[i - bpp]
        elif kind == 2:  # Up
            for i in range(stride):
                row[i] = src[i] + up[i]
        elif kind == 3:  # Average
            for i in range(min(bpp, stride)):
                row[i] = src[i] + (up[i] >> 1)
            for i in range(bpp, stride):
                row[i] = src[i] + np.uint8((np.int32(row[i - bpp]) + np.int32(up[i])) >> 1)
        elif kind == 4:  # Paeth
            for i in range(min(bpp, stride)):
                row[i] = src[i] + up[i]  # a = c = 0: the predictor is b
            for i in range(bpp, stride):
                a = np.int32(row[i - bpp])
                b = np.int32(up[i])
                c = np.int32(up[i - bpp])
                if b == c:
                    row[i] = src[i] + np.uint8(a)
                    continue
                pa = abs(b - c)
                pb = abs(a - c)
                pc = abs(a + b - 2 * c)
                if pa <= pb and pa <= pc:
                    pred = a
                elif pb <= pc:
                    pred = b
                else:
                    pred = c
                row[i] = src[i] + np.uint8(pred)
        else:
            return False
    return True
