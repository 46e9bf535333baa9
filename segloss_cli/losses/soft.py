"""Loss sums against soft labels (a GT of class probabilities g_ic; io/soft_labels.py).

Every sum of :class:`~segloss_cli.losses.sums.Sums` with the one-hot g replaced by g_ic:
spg = sum p g, sp = sum p, sg = sum g, sp2 = sum p^2, l1 = sum g log p, l0 = sum (1-g) log(1-p),
f1 = sum g (1-p)^gamma log p, f0 = sum (1-g) p^gamma log(1-p). With a one-hot g they are the
label-map sums. The region losses (Dice, IoU, Tversky, generalized Dice) then are MONAI's and
SMP's with float targets, ce is PyTorch's cross-entropy with probability targets (unweighted:
the mean over voxels of -sum_c g_c log p_c) and focal the expectation of its per-class terms.
numpy over slabs of the first spatial axis (K x slab float64 temporaries); soft labels are
opt-in, the label-map path never comes here.
"""

from __future__ import annotations

import numpy as np

from .registry import LOG_EPS
from .sums import Sums

SLAB_VOXELS = 1 << 18


def slab_steps(shape) -> int:
    """Rows of the first spatial axis per slab."""
    return max(1, SLAB_VOXELS // max(1, int(np.prod(shape[1:], dtype=np.int64))))


def probabilities(x: np.ndarray, kind: str, renormalize: bool):
    """(p, log p, log(1 - p)) of a (K, n) slab of stored scores, as the fused kernel defines them:
    exact log-softmax and log of the other classes' share for logits, log(max(., eps)) otherwise."""
    if kind == "logits":
        m = np.max(x, axis=0, keepdims=True)
        lse = m + np.log(np.sum(np.exp(x - m), axis=0, keepdims=True))
        logp = x - lse
        log1m = np.empty_like(x)
        for c in range(x.shape[0]):
            others = np.delete(x, c, axis=0)
            mo = np.max(others, axis=0)
            log1m[c] = mo + np.log(np.sum(np.exp(others - mo), axis=0)) - lse[0]
        return np.exp(logp), logp, log1m
    p = x / np.sum(x, axis=0, keepdims=True) if renormalize else x
    return p, np.log(np.maximum(p, LOG_EPS)), np.log(np.maximum(1.0 - p, LOG_EPS))


def soft_sums(pred, soft: np.ndarray, all_labels: tuple[int, ...], *, gamma: float, renormalize: bool) -> Sums:
    """The Sums of a score-map ``pred`` against the soft targets ``soft`` (K, *spatial)."""
    kk = len(all_labels)
    if pred.scores is None or pred.scores.shape[0] != kk or soft.shape[0] != kk:
        raise AssertionError("soft labels need a score map with one channel per class")
    acc = np.zeros((8, kk))
    n0 = soft.shape[1]
    step = slab_steps(soft.shape[1:])
    for lo in range(0, n0, step):
        hi = min(n0, lo + step)
        x = np.asarray(pred.scores[:, lo:hi], dtype=np.float64).reshape(kk, -1)
        g = np.asarray(soft[:, lo:hi], dtype=np.float64).reshape(kk, -1)
        p, logp, log1m = probabilities(x, str(pred.kind), renormalize)
        acc[0] += np.sum(p * g, axis=1)
        acc[1] += np.sum(p, axis=1)
        acc[2] += np.sum(g, axis=1)
        acc[3] += np.sum(p * p, axis=1)
        acc[4] += np.sum(g * logp, axis=1)
        acc[5] += np.sum((1.0 - g) * log1m, axis=1)
        acc[6] += np.sum(g * (1.0 - p) ** gamma * logp, axis=1)
        acc[7] += np.sum((1.0 - g) * p**gamma * log1m, axis=1)
    return Sums(tuple(all_labels), *(acc[q].copy() for q in range(8)))
