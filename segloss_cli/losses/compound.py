"""Compound losses: weighted sums of a region term and a cross-entropy term."""

from __future__ import annotations

import numpy as np

from . import cross_entropy as _ce
from . import region as _region
from .context import Ctx


def combo(ctx: Ctx):
    s = ctx.sums
    p = ctx.params
    a, b = p["combo_alpha"], p["combo_beta"]
    n = s.n
    i = ctx.idx
    mce = -(a * s.l1[i] + (1.0 - a) * s.l0[i]) / n if n else np.full(i.size, np.nan)
    v = b * mce - (1.0 - b) * (1.0 - _region.dice_per_class(ctx))
    return v, ctx.mean(v)


def dice_ce(ctx: Ctx):
    p = ctx.params
    d_per, d_val = _region.dice(ctx)
    if p["ce_raw"]:  # MONAI DiceCELoss(softmax=False): CE of the stored values as logits
        c_per, c_val = _ce.bce_raw(ctx) if ctx.sigmoid else _ce.ce(ctx, raw=True)
    else:
        c_per, c_val = (_ce.bce if ctx.sigmoid else _ce.ce)(ctx)
    return p["lambda_dice"] * d_per + p["lambda_ce"] * c_per, p["lambda_dice"] * d_val + p["lambda_ce"] * c_val


def dice_focal(ctx: Ctx):
    p = ctx.params
    d_per, d_val = _region.dice(ctx)
    f_per, f_val = _ce.focal(ctx)  # with focal_sigmoid: MONAI DiceFocalLoss's sigmoid focal term
    return p["lambda_dice"] * d_per + p["lambda_focal"] * f_per, p["lambda_dice"] * d_val + p["lambda_focal"] * f_val
