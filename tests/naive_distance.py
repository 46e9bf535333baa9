"""Slow, obvious oracles for the surface-distance code: all pairs, no cleverness.

Only for small arrays. Written from the definitions in conventions.md, independently of the
kernels (no EDT, no cropping, no numba).
"""

from __future__ import annotations

import itertools
import math

import numpy as np


def surface(mask: np.ndarray) -> np.ndarray:
    """Mask voxels with a face neighbour outside the mask; outside the image is outside."""
    mask = np.asarray(mask, dtype=bool)
    padded = np.pad(mask, 1, constant_values=False)
    out = np.zeros_like(mask)
    for idx in zip(*np.nonzero(mask)):
        for axis in range(mask.ndim):
            for step in (-1, 1):
                nb = [i + 1 for i in idx]
                nb[axis] += step
                if not padded[tuple(nb)]:
                    out[idx] = True
    return out


def edt(sites: np.ndarray, spacing) -> np.ndarray:
    """Distance from every voxel to the nearest site, by trying every site."""
    sites = np.asarray(sites, dtype=bool)
    pts = np.argwhere(sites) * np.asarray(spacing, dtype=np.float64)
    out = np.full(sites.shape, np.inf)
    if len(pts) == 0:
        return out
    for idx in itertools.product(*(range(n) for n in sites.shape)):
        x = np.asarray(idx, dtype=np.float64) * spacing
        out[idx] = math.sqrt(float(((pts - x) ** 2).sum(axis=1).min()))
    return out


def directed(src: np.ndarray, dst: np.ndarray, spacing) -> np.ndarray:
    """For each surface voxel of src (raster order), distance to the nearest surface voxel of dst."""
    a = np.argwhere(surface(src)) * np.asarray(spacing, dtype=np.float64)
    b = np.argwhere(surface(dst)) * np.asarray(spacing, dtype=np.float64)
    d2 = ((a[:, None, :] - b[None, :, :]) ** 2).sum(axis=2)
    return np.sqrt(d2.min(axis=1))


def percentile(values: np.ndarray, q: float) -> float:
    """Linear interpolation between order statistics (numpy's default 'linear' method)."""
    v = sorted(float(x) for x in values)
    pos = (len(v) - 1) * q / 100.0
    lo = math.floor(pos)
    hi = min(lo + 1, len(v) - 1)
    return v[lo] + (v[hi] - v[lo]) * (pos - lo)


def metrics(pred: np.ndarray, gt: np.ndarray, spacing, *, q=95.0, tau=1.0, mode="max") -> dict:
    """Every surface metric of two non-empty binary masks, straight from the definitions."""
    pg = directed(pred, gt, spacing)
    gp = directed(gt, pred, spacing)
    both = np.concatenate([pg, gp])
    if mode == "pooled":
        hdq = percentile(both, q)
    else:
        hdq = max(percentile(pg, q), percentile(gp, q))
    t = np.float32(tau)
    return {
        "hd": max(float(pg.max()), float(gp.max())),
        "hd95": hdq,
        "assd": float(sum(both)) / len(both),
        "masd": (float(sum(pg)) / len(pg) + float(sum(gp)) / len(gp)) / 2,
        "nsd": sum(1 for d in both if np.float32(d) <= t) / len(both),
    }
