"""A plain numpy/scipy oracle of the surfel surface model (DeepMind surface-distance).

Neighbour codes by slicing a zero-padded mask; 2-D contour lengths derived here from the
marching-squares geometry; 3-D areas from DeepMind's normals table (the data, as
segloss_cli.metrics.surfel_areas holds it) in numpy; distances by scipy's EDT on the corner
grid; DeepMind's reductions written out (sorted (distance, area) pairs, cumulative area
fraction, searchsorted). Independent of segloss's kernels.
"""

from __future__ import annotations

import itertools

import numpy as np
from scipy import ndimage

from segloss_cli.metrics.surfel_areas import NORMALS_EIGHTHS


def codes(mask: np.ndarray) -> np.ndarray:
    """Neighbour code of every corner (n + 1 per axis): voxel offset d sets bit 2^nd - 1 - index(d)."""
    nd = mask.ndim
    padded = np.pad(mask.astype(np.int64), 1)
    code = np.zeros(tuple(n + 1 for n in mask.shape), np.int64)
    for off in itertools.product((0, 1), repeat=nd):
        index = sum(o << (nd - 1 - a) for a, o in enumerate(off))
        code |= padded[tuple(slice(o, o + n + 1) for o, n in zip(off, mask.shape))] << (2**nd - 1 - index)
    return code


def lengths_2d(spacing) -> np.ndarray:
    """Marching squares: contour through the midpoints between unlike voxel centres of a 2x2 cell."""
    s = np.asarray(spacing, float)
    out = np.zeros(16)
    centre = {(a, b): np.array([a * s[0], b * s[1]]) for a in (0, 1) for b in (0, 1)}
    for code in range(16):
        inside = {(a, b): bool(code >> (3 - (2 * a + b)) & 1) for a in (0, 1) for b in (0, 1)}
        edges = [((0, 0), (0, 1)), ((0, 1), (1, 1)), ((1, 1), (1, 0)), ((1, 0), (0, 0))]
        mids = {e: (centre[e[0]] + centre[e[1]]) / 2 for e in edges if inside[e[0]] != inside[e[1]]}
        if len(mids) == 2:
            m1, m2 = mids.values()
            out[code] = np.linalg.norm(m1 - m2)
        elif len(mids) == 4:  # a saddle: each inside corner is cut off by its own segment
            for v in (k for k, val in inside.items() if val):
                m1, m2 = (m for e, m in mids.items() if v in e)
                out[code] += np.linalg.norm(m1 - m2)
    return out


def areas_3d(spacing) -> np.ndarray:
    s0, s1, s2 = spacing
    scale = np.array([s1 * s2, s0 * s2, s0 * s1]) / 8.0
    return np.array([np.linalg.norm(np.array(n, float) * scale, axis=1).sum() for n in NORMALS_EIGHTHS])


def elements(mask, spacing):
    code = codes(mask)
    full = 2 ** (2**mask.ndim) - 1
    border = (code != 0) & (code != full)
    table = lengths_2d(spacing) if mask.ndim == 2 else areas_3d(spacing)
    return border, table[code]


def metrics(p, g, spacing, q=95.0, tau=1.0):
    """DeepMind's compute_surface_distances and its reductions, written from its definitions."""
    bp, ap = elements(p, spacing)
    bg, ag = elements(g, spacing)
    d_pg = ndimage.distance_transform_edt(~bg, sampling=spacing)[bp]
    d_gp = ndimage.distance_transform_edt(~bp, sampling=spacing)[bg]
    w_p, w_g = ap[bp], ag[bg]

    def perc(d, w):
        pairs = sorted(zip(d.tolist(), w.tolist()))
        ds, ws = np.array([x for x, _ in pairs]), np.array([y for _, y in pairs])
        i = np.searchsorted(np.cumsum(ws) / np.sum(ws), q / 100.0)
        return ds[min(i, ds.size - 1)]

    def mean(d, w):
        return np.sum(d * w) / np.sum(w)

    return {
        "hd": max(d_pg.max(), d_gp.max()),
        "hd95": max(perc(d_pg, w_p), perc(d_gp, w_g)),
        "assd": (np.sum(d_pg * w_p) + np.sum(d_gp * w_g)) / (np.sum(w_p) + np.sum(w_g)),
        "masd": (mean(d_pg, w_p) + mean(d_gp, w_g)) / 2,
        "nsd": (w_p[d_pg <= tau].sum() + w_g[d_gp <= tau].sum()) / (w_p.sum() + w_g.sum()),
        "hd_pg": d_pg.max(),
        "hd_gp": d_gp.max(),
        "hd95_pg": perc(d_pg, w_p),
        "hd95_gp": perc(d_gp, w_g),
        "asd_pg": mean(d_pg, w_p),
        "asd_gp": mean(d_gp, w_g),
    }
