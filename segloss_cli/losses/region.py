"""Region (overlap) losses: formulas over per-class sums p g, p, g, p^2."""

from __future__ import annotations

import numpy as np

from .context import Ctx


def _sums(ctx: Ctx, squared: bool):
    s = ctx.sums
    i = ctx.idx
    sp = s.sp2[i] if squared else s.sp[i]
    return s.spg[i], sp, s.sg[i]  # sum g^2 = sum g for one-hot g


def dice_per_class(ctx: Ctx) -> np.ndarray:
    p = ctx.params
    spg, sp, sg = _sums(ctx, p["squared"])
    with np.errstate(divide="ignore", invalid="ignore"):
        return 1.0 - (2.0 * spg + p["smooth_nr"]) / (sp + sg + p["smooth_dr"])


def dice(ctx: Ctx):
    v = ctx.absent_zero(dice_per_class(ctx))
    return v, ctx.mean(v)


def iou(ctx: Ctx):
    p = ctx.params
    spg, sp, sg = _sums(ctx, p["squared"])
    with np.errstate(divide="ignore", invalid="ignore"):
        v = 1.0 - (2.0 * spg + p["smooth_nr"]) / (2.0 * (sp + sg - spg) + p["smooth_dr"])
    v = ctx.absent_zero(v)
    return v, ctx.mean(v)


def generalized_dice(ctx: Ctx):
    p = ctx.params
    spg, sp, sg = _sums(ctx, False)
    with np.errstate(divide="ignore"):
        w = 1.0 / (sg * sg)
    inf = np.isinf(w)
    w[inf] = 0.0
    if inf.any():
        w[inf] = w.max() if w.size else 0.0  # MONAI: the largest finite weight (0 if none)
    num = 2.0 * float(np.sum(w * spg)) + p["smooth_nr"]
    den = float(np.sum(w * (sp + sg))) + p["smooth_dr"]
    with np.errstate(divide="ignore", invalid="ignore"):
        value = 1.0 - np.float64(num) / np.float64(den)
    return None, float(value)


def tversky_per_class(ctx: Ctx) -> np.ndarray:
    p = ctx.params
    spg, sp, sg = _sums(ctx, False)
    fp = sp - spg
    fn = sg - spg
    with np.errstate(divide="ignore", invalid="ignore"):
        return 1.0 - (spg + p["smooth_nr"]) / (spg + p["tversky_alpha"] * fp + p["tversky_beta"] * fn + p["smooth_dr"])


def tversky(ctx: Ctx):
    v = ctx.absent_zero(tversky_per_class(ctx))
    return v, ctx.mean(v)


def focal_tversky(ctx: Ctx):
    t = ctx.absent_zero(tversky_per_class(ctx))
    v = np.power(np.maximum(t, 0.0), ctx.params["focal_tversky_gamma"])  # t >= 0; clamp rounding below 0
    v[np.isnan(t)] = np.nan
    return v, ctx.mean(v)


def log_cosh_dice(ctx: Ctx):
    v = ctx.absent_zero(np.log(np.cosh(dice_per_class(ctx))))
    return v, ctx.mean(v)
