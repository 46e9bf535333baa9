"""Per-class sums of one case: the only pass over the data that sum-based losses need."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..errors import InputError
from ..model import Prediction, Volume
from .registry import LOG_EPS

NEEDS_BITS = {"sp2": 1, "log": 2, "log1m": 4, "f1": 8, "f0": 16}  # kernels/loss_sums.NEED_*


@dataclass(frozen=True)
class Sums:
    """float64 per-class sums over non-ignored voxels; entry c belongs to ``labels[c]``.

    spg = sum p g, sp = sum p, sg = sum g, sp2 = sum p^2, l1 = sum_{g=1} log p,
    l0 = sum_{g=0} log(1-p), f1 = sum_{g=1} (1-p)^gamma log p, f0 = sum_{g=0} p^gamma log(1-p).
    """

    labels: tuple[int, ...]
    spg: np.ndarray
    sp: np.ndarray
    sg: np.ndarray
    sp2: np.ndarray
    l1: np.ndarray
    l0: np.ndarray
    f1: np.ndarray
    f0: np.ndarray

    @property
    def n(self) -> float:
        """Voxels counted (every non-ignored GT voxel has a class)."""
        return float(self.sg.sum())


def needs_mask(needs: set[str]) -> int:
    return sum(bit for key, bit in NEEDS_BITS.items() if key in needs)


def compute_sums(
    pred: Prediction,
    gt: Volume,
    all_labels: tuple[int, ...],
    *,
    needs: set[str],
    gamma: float,
    ignore_label,
    renormalize: bool,
) -> Sums:
    """One fused pass for a score map; closed forms over confusion counts for a label map;
    against soft labels (``gt.soft``) the numpy pass of losses/soft.py."""
    if gt.soft is not None:
        from .soft import soft_sums

        return soft_sums(pred, gt.soft, all_labels, gamma=gamma, renormalize=renormalize)
    if pred.scores is None:
        return _label_sums(pred, gt, all_labels, gamma=gamma, ignore_label=ignore_label)
    from ..kernels import loss_sums as K
    from ..kernels._jit import n_chunks
    from ..kernels.layout import as_kernel_3d, scores_kernel_4d, spatial_order

    order = spatial_order(pred.scores[0])
    view = scores_kernel_4d(pred.scores, order)
    gview = as_kernel_3d(gt.array, order)
    sigmoid = pred.scores.shape[0] == 1
    out, zero_sum, outside = K.loss_sums(
        view,
        gview,
        pred.kind == "logits",
        sigmoid,
        bool(renormalize and pred.kind == "probs" and not sigmoid),
        needs_mask(needs),
        float(gamma),
        LOG_EPS,
        0 if ignore_label is None else int(ignore_label),
        ignore_label is not None,
        n_chunks(gview.shape[0] * gview.shape[1]),
    )
    if zero_sum:
        raise InputError(
            f"@renormalize: {zero_sum} voxels have probabilities summing to 0; fix the model output", pred.volume.path
        )
    if outside:
        raise InputError(f"GT has {outside} voxels whose label is not a class of the prediction", gt.path)
    if len(all_labels) != out.shape[1]:
        raise AssertionError("class set does not match the prediction's channels")
    return Sums(tuple(all_labels), *(out[q].copy() for q in range(K.N_SUMS)))


def _label_sums(pred: Prediction, gt: Volume, all_labels, *, gamma: float, ignore_label) -> Sums:
    """One-hot probabilities of a label map, without building them: every sum is a count.

    A voxel's p is 1 for its predicted class and 0 elsewhere, so p^2 = p, log p = 0 or
    log(eps), and (1-p)^gamma log p is log(eps) exactly where the prediction misses.
    """
    from ..metrics.overlap import confusion

    c = confusion(pred.labels, gt.array, np.asarray(all_labels, dtype=np.int64), ignore_label=ignore_label)
    tp = c.tp.astype(np.float64)
    n_pred = c.n_pred.astype(np.float64)
    n_gt = c.n_gt.astype(np.float64)
    log_eps = float(np.log(LOG_EPS))
    miss = (n_gt - tp) * log_eps  # GT voxels of c predicted as something else: p_c = 0
    false = (n_pred - tp) * log_eps  # voxels predicted c that are not c: 1 - p_c = 0
    return Sums(tuple(all_labels), tp, n_pred, n_gt, n_pred.copy(), miss, false, miss.copy(), false.copy())
