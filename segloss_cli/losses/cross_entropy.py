"""Cross-entropy family: ce and focal over all K channels, bce and binary_focal one-vs-rest."""

from __future__ import annotations

import numpy as np

from .context import Ctx, ratio


def _per_voxel_mean(num: np.ndarray, count: np.ndarray) -> np.ndarray:
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(count > 0, num / np.where(count > 0, count, 1.0), np.nan)


def ce(ctx: Ctx, *, raw: bool = False):
    """PyTorch CrossEntropyLoss(weight, label_smoothing=e): per voxel
    (1 - e) w_y (-log p_y) + (e/K) sum_k w_k (-log p_k), summed, over sum_i w_yi.
    ``raw``: log p of the stored values as logits (MONAI DiceCELoss(softmax=False))."""
    e = float(ctx.params.get("label_smoothing") or 0.0)
    if e == 0.0 and not raw:
        s = ctx.sums
        per = _per_voxel_mean(-s.l1, s.sg)[ctx.idx]
        # PyTorch weighted CE: every voxel of every class (all K channels), weighted by its class
        value = ratio(-np.sum(ctx.w_all * s.l1), np.sum(ctx.w_all * s.sg))
        return per, value
    ls = ctx.log_raw if raw else ctx.log
    assert ls is not None, "compute_losses computes the variant sums an option needs"
    k = ls.l1.size
    per = _per_voxel_mean(-(1.0 - e) * ls.l1 - (e / k) * ls.lv, ls.sg)[ctx.idx]
    num = -(1.0 - e) * np.sum(ctx.w_all * ls.l1) - (e / k) * np.sum(ctx.w_all * ls.la)
    return per, ratio(num, np.sum(ctx.w_all * ls.sg))


def bce_raw(ctx: Ctx):
    """One sigmoid channel under MONAI DiceCELoss(softmax=False): BCE with logits of the stored
    value, -mean_i [g log s + (1-g) log(1-s)], s = sigmoid(x); the same for both classes."""
    ls = ctx.log_raw
    assert ls is not None
    v = np.full(ctx.idx.size, -float(np.sum(ls.l1)) / ls.n if ls.n else np.nan)
    return v, ctx.mean(v)


def _alpha_factors(ctx: Ctx) -> np.ndarray:
    """MONAI's softmax alpha per class column: 1 - a for class 0 (the first channel), a for the others."""
    a = ctx.params.get("softmax_focal_alpha")
    f = np.ones(ctx.w_all.size)
    if a is not None:
        f[:] = a
        f[0] = 1.0 - a
    return f


def focal(ctx: Ctx):
    """Softmax focal loss; with ``focal_sigmoid`` MONAI FocalLoss's default (use_softmax=False):
    :func:`sigmoid_focal_raw`."""
    if ctx.params.get("focal_sigmoid"):
        return sigmoid_focal_raw(ctx)
    s = ctx.sums
    af = _alpha_factors(ctx)
    per = (af * _per_voxel_mean(-s.f1, s.sg))[ctx.idx]
    w = ctx.w_all * af
    if ctx.params.get("weights_scale"):  # sum_i w_yi a_yi (.) / N (MONAI: this / K)
        return per, ratio(-np.sum(w * s.f1), s.n)
    value = ratio(-np.sum(w * s.f1), np.sum(w * s.sg))
    return per, value


def sigmoid_focal_raw(ctx: Ctx):
    """MONAI DiceFocalLoss's focal term (FocalLoss(use_softmax=False) on the raw input): per
    reported channel c, mean over voxels of the sigmoid focal loss of x_c against g_c, with
    alpha a on g = 1 and 1 - a on g = 0 (none: 1 and 1)."""
    ls = ctx.log_raw
    assert ls is not None and ls.fs1 is not None and ls.fs0 is not None
    a = ctx.params.get("sigmoid_focal_alpha")
    a1, a0 = (1.0, 1.0) if a is None else (a, 1.0 - a)
    n = ls.n
    v = (a1 * ls.fs1[ctx.idx] + a0 * ls.fs0[ctx.idx]) / n if n else np.full(ctx.idx.size, np.nan)
    return v, ctx.mean(v)


def bce_per_class(ctx: Ctx) -> np.ndarray:
    s = ctx.sums
    n = s.n
    if n == 0:
        return np.full(ctx.idx.size, np.nan)
    return -(s.l1[ctx.idx] + s.l0[ctx.idx]) / n


def bce(ctx: Ctx):
    v = bce_per_class(ctx)
    return v, ctx.mean(v)


def binary_focal(ctx: Ctx):
    s = ctx.sums
    a = ctx.params["focal_alpha"]
    n = s.n
    v = -(a * s.f1[ctx.idx] + (1.0 - a) * s.f0[ctx.idx]) / n if n else np.full(ctx.idx.size, np.nan)
    return v, ctx.mean(v)
