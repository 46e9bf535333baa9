"""Sums of the opt-in loss variants that the fused kernel does not compute (issue 17).

- label smoothing (PyTorch ``CrossEntropyLoss(label_smoothing=e)``) needs sum_i log p_ik over
  every voxel, not only the voxels of class k;
- MONAI ``DiceCELoss(softmax=False)`` takes the CE term of the values as stored, as logits
  (a probability map is log-softmaxed once more);
- MONAI ``DiceFocalLoss``'s focal term is a sigmoid focal loss of each stored channel taken
  as a logit, whatever the Dice term's activation.

These are numpy passes over slabs of the score map (a bounded temporary per slab), run only
when one of those options asks for them; the default losses never come here.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

import numpy as np

from .registry import LOG_EPS

SLAB_VOXELS = 1 << 18  # voxels per slab: K x this float64 temporaries at most


@dataclass(frozen=True)
class LogSums:
    """float64 per-class sums over non-ignored voxels (entry c belongs to ``labels[c]``).

    l1 = sum_{g=c} log p_c; la = sum_i log p_ic (every voxel); lv = sum_{g=c} sum_k log p_ik;
    sg = voxels of class c; fs1 = sum_{g=c} -(1-s)^gamma log s, fs0 = sum_{g!=c} -s^gamma
    log(1-s) with s = sigmoid(x_c) of the stored channel (None unless asked for).
    """

    labels: tuple[int, ...]
    l1: np.ndarray
    la: np.ndarray
    lv: np.ndarray
    sg: np.ndarray
    fs1: Optional[np.ndarray] = None
    fs0: Optional[np.ndarray] = None

    @property
    def n(self) -> float:
        return float(self.sg.sum())


def _log_softmax(x: np.ndarray) -> np.ndarray:
    m = np.max(x, axis=0, keepdims=True)
    return x - (m + np.log(np.sum(np.exp(x - m), axis=0, keepdims=True)))


def _log_sigmoid(x: np.ndarray) -> np.ndarray:
    return -np.logaddexp(0.0, -x)


def _slab_scores(pred, lo: int, hi: int, labels: tuple[int, ...]) -> np.ndarray:
    """Channels of spatial rows lo:hi (first spatial axis), float64; a label map one-hot."""
    if pred.scores is None:
        lab = np.asarray(pred.labels[lo:hi])
        return np.stack([(lab == c).astype(np.float64) for c in labels])
    return np.asarray(pred.scores[:, lo:hi], dtype=np.float64)


def log_sums(
    pred,
    gt,
    all_labels: tuple[int, ...],
    *,
    raw: bool,
    focal: bool,
    gamma: float,
    ignore_label: Optional[int],
    renormalize: bool = False,
) -> LogSums:
    """The sums above in one pass over slabs of PRED.

    ``raw``: log p is the log-softmax of the stored values (log-sigmoid for one channel)
    whatever their kind (MONAI's CE of softmax=False); otherwise log p is what the losses
    use by default: log-softmax / log-sigmoid of logits, log(max(p, 1e-7)) of probabilities
    (renormalised when asked), 0 or log(1e-7) for a label map's one-hot.
    ``focal``: also the sigmoid focal sums of each stored channel as a logit.
    """
    labels = tuple(int(v) for v in all_labels)
    col = {lab: i for i, lab in enumerate(labels)}
    kk = len(labels)
    sigmoid = pred.scores is not None and pred.scores.shape[0] == 1
    kind = "raw" if raw else ("labels" if pred.scores is None else pred.kind)
    g_all = np.asarray(gt.array)
    soft = gt.soft  # soft labels (io/soft_labels.py): g_ic in place of the one-hot
    n0 = g_all.shape[0]
    step = max(1, SLAB_VOXELS // max(1, int(np.prod(g_all.shape[1:], dtype=np.int64))))
    l1, la, lv, sg = (np.zeros(kk) for _ in range(4))
    fs1, fs0 = (np.zeros(kk) for _ in range(2)) if focal else (None, None)
    log_eps = float(np.log(LOG_EPS))
    for lo in range(0, n0, step):
        hi = min(n0, lo + step)
        g = np.asarray(g_all[lo:hi]).astype(np.int64).ravel()
        x = _slab_scores(pred, lo, hi, labels).reshape(1 if sigmoid else kk, -1)
        keep = np.ones(g.size, bool) if ignore_label is None else g != ignore_label
        g, x = g[keep], x[:, keep]
        idx = np.array([col.get(int(v), -1) for v in range(int(g.max()) + 1)] if g.size else [], np.int64)
        gi = idx[g] if g.size else g
        if gi.size and gi.min() < 0:
            raise AssertionError("GT has a label outside the class set")
        if sigmoid:
            z = x[0]
            if kind in ("raw", "logits"):
                logp = np.stack([_log_sigmoid(-z), _log_sigmoid(z)])
            else:
                logp = np.log(np.maximum(np.stack([1.0 - z, z]), LOG_EPS))
            logits_view = np.stack([-z, z])  # class 0 is the logit of 1 - p
        else:
            if kind in ("raw", "logits"):
                logp = _log_softmax(x)
            elif kind == "labels":
                logp = np.where(x > 0, 0.0, log_eps)
            else:
                p = x / np.sum(x, axis=0, keepdims=True) if renormalize else x
                logp = np.log(np.maximum(p, LOG_EPS))
            logits_view = x
        if soft is not None:
            _soft_slab(np.asarray(soft[:, lo:hi], dtype=np.float64).reshape(kk, -1), logp, logits_view, focal, gamma,
                       (l1, la, lv, sg, fs1, fs0))  # fmt: skip
            continue
        onehot = gi[None, :] == np.arange(kk)[:, None]
        l1 += np.sum(np.where(onehot, logp, 0.0), axis=1)
        la += np.sum(logp, axis=1)
        lv += np.bincount(gi, weights=np.sum(logp, axis=0), minlength=kk)[:kk]
        sg += np.bincount(gi, minlength=kk)[:kk]
        if focal:
            # (1 - s)^gamma as exp(gamma log sigmoid(-x)), as MONAI's sigmoid_focal_loss does
            ls, l1s = _log_sigmoid(logits_view), _log_sigmoid(-logits_view)  # log s, log(1 - s)
            fs1 += np.sum(np.where(onehot, -np.exp(gamma * l1s) * ls, 0.0), axis=1)
            fs0 += np.sum(np.where(onehot, 0.0, -np.exp(gamma * ls) * l1s), axis=1)
    return LogSums(labels, l1, la, lv, sg, fs1, fs0)


def _soft_slab(g, logp, x, focal, gamma, out) -> None:
    """The sums above of one slab against soft targets g (K, n), added into ``out``. The
    sigmoid focal term is MONAI's sigmoid_focal_loss with a float target t: BCE(x, t) times
    exp(gamma log sigmoid(-x (2t - 1))), the part weighted t in fs1 and 1 - t in fs0 (alpha's
    split); for t in {0, 1} it is the label-map term."""
    l1, la, lv, sg, fs1, fs0 = out
    l1 += np.sum(g * logp, axis=1)
    la += np.sum(logp, axis=1)
    lv += np.sum(g * np.sum(logp, axis=0)[None, :], axis=1)
    sg += np.sum(g, axis=1)
    if focal:
        bce = -(g * _log_sigmoid(x) + (1.0 - g) * _log_sigmoid(-x))
        term = np.exp(gamma * _log_sigmoid(-x * (2.0 * g - 1.0))) * bce
        fs1 += np.sum(g * term, axis=1)
        fs0 += np.sum((1.0 - g) * term, axis=1)
