"""Taxicab (L1) and chessboard (L-infinity) distance transforms with anisotropic spacing.

d(x) = min over sites y of sum_a s_a |x_a - y_a| (taxicab) or max_a s_a |x_a - y_a|
(chessboard): one step along axis a costs s_a mm. Both are separable: starting from 0 at the
sites and inf elsewhere, each axis in turn replaces every line f by
g[i] = min_j f[j] (+ or max) s |i - j|, which is exact because min distributes over + and max.

Taxicab, one direction: the candidate j whose f[j] + s (i - j) is lowest stays lowest for
every later i (the differences between candidates do not depend on i), so a sweep keeps one
candidate. Chessboard, one direction: for j1 < j2 with f[j1] < f[j2], j1 gives the lower
max(f, s (i - j)) until s (i - j1) exceeds f[j2], and j2 from then on; a deque of candidates
with increasing f, its front popped once the next one is as low, gives the minimum at every i
in amortised O(1) (the dominance of a later candidate is permanent). Each line is swept forward
and backward; values are exact sums or maxima of s * integer, so they equal a brute-force
minimum over the sites (taxicab up to the rounding of a three-term sum).

Arrays are 3-D (b0, b1, b2), C-ordered float64, as the kernel layout gives; a 2-D image has b0 == 1.
"""

import numpy as np

from ._jit import jit

INF = np.inf


@jit(inline="always")
def _sweep(line, n, s, chess, out, q, backward):
    """One direction of the 1-D transform of ``line`` into ``out`` (min with what is there)."""
    head = 0
    tail = 0
    for k in range(n):
        i = n - 1 - k if backward else k
        fi = line[i]
        if fi != INF:
            if chess:
                while tail > head and line[q[tail - 1]] >= fi:
                    tail -= 1
                q[tail] = i
                tail += 1
            elif tail == 0 or fi <= line[q[0]] + s * abs(i - q[0]):
                q[0] = i
                tail = 1
        if tail == head:
            continue
        if chess:
            while tail - head >= 2:
                a = q[head]
                b = q[head + 1]
                ha = max(line[a], s * abs(i - a))
                hb = max(line[b], s * abs(i - b))
                if ha < hb:
                    break
                head += 1
            j = q[head]
            v = max(line[j], s * abs(i - j))
        else:
            j = q[0]
            v = line[j] + s * abs(i - j)
        if v < out[i]:
            out[i] = v


@jit()
def cdt_inplace(f, s0, s1, s2, chess):
    """Replace ``f`` (0 at the sites, inf elsewhere) by the taxicab (``chess`` False) or
    chessboard distance in mm to the nearest site, axis 2, then 1, then 0."""
    b0, b1, b2 = f.shape
    m = max(b0, b1, b2)
    line = np.empty(m, np.float64)
    out = np.empty(m, np.float64)
    q = np.empty(m, np.int64)
    for axis in (2, 1, 0):
        n = (b0, b1, b2)[axis]
        if n == 1:
            continue
        s = (s0, s1, s2)[axis]
        na = b0 if axis != 0 else b1
        nb = b2 if axis != 2 else b1
        for x in range(na):
            for y in range(nb):
                for t in range(n):
                    if axis == 2:
                        line[t] = f[x, y, t]
                    elif axis == 1:
                        line[t] = f[x, t, y]
                    else:
                        line[t] = f[t, x, y]
                    out[t] = INF
                _sweep(line, n, s, chess, out, q, False)
                _sweep(line, n, s, chess, out, q, True)
                for t in range(n):
                    if axis == 2:
                        f[x, y, t] = out[t]
                    elif axis == 1:
                        f[x, t, y] = out[t]
                    else:
                        f[t, x, y] = out[t]
