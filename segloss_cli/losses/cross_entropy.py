"""Cross-entropy family: ce and focal over all K channels, bce and binary_focal one-vs-rest."""

from __future__ import annotations

import numpy as np

from .context import Ctx, ratio, weighted_mean


def _per_voxel_mean(num: np.ndarray, count: np.ndarray) -> np.ndarray:
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(count > 0, num / np.where(count > 0, count, 1.0), np.nan)


def ce(ctx: Ctx):
    s = ctx.sums
    per = _per_voxel_mean(-s.l1, s.sg)[ctx.idx]
    # PyTorch weighted CE: every voxel of every class (all K channels), weighted by its class
    value = ratio(-np.sum(ctx.w_all * s.l1), np.sum(ctx.w_all * s.sg))
    return per, value


def focal(ctx: Ctx):
    s = ctx.sums
    per = _per_voxel_mean(-s.f1, s.sg)[ctx.idx]
    value = ratio(-np.sum(ctx.w_all * s.f1), np.sum(ctx.w_all * s.sg))
    return per, value


def bce_per_class(ctx: Ctx) -> np.ndarray:
    s = ctx.sums
    n = s.n
    if n == 0:
        return np.full(ctx.idx.size, np.nan)
    return -(s.l1[ctx.idx] + s.l0[ctx.idx]) / n


def bce(ctx: Ctx):
    v = bce_per_class(ctx)
    return v, weighted_mean(v, ctx.w_rep)


def binary_focal(ctx: Ctx):
    s = ctx.sums
    a = ctx.params["focal_alpha"]
    n = s.n
    v = -(a * s.f1[ctx.idx] + (1.0 - a) * s.f0[ctx.idx]) / n if n else np.full(ctx.idx.size, np.nan)
    return v, weighted_mean(v, ctx.w_rep)
