"""Lovasz-Softmax and Lovasz hinge (Berman et al. 2018), one class at a time.

Extra memory: one float64 key and one uint8 per voxel (9 bytes x N), reused for every class; the sort is
in place. Cost: one pass and one sort of N keys per reported class.
"""

from __future__ import annotations

import numpy as np

from .registry import LOG_EPS

SOFTMAX, HINGE = 0, 1


def lovasz_per_class(pred, gt, labels, *, mode: int, ignore_label, renormalize: bool) -> np.ndarray:
    """Lovasz loss of each class in ``labels`` (class labels; channel index for score maps)."""
    from ..kernels import loss_lovasz as K
    from ..kernels._jit import n_chunks
    from ..kernels.layout import as_kernel_3d, scores_kernel_4d, spatial_order

    has_ignore = ignore_label is not None
    ign = 0 if ignore_label is None else int(ignore_label)
    if pred.scores is not None:
        order = spatial_order(pred.scores[0])
        view = scores_kernel_4d(pred.scores, order)
    else:
        order = spatial_order(pred.labels)
        view = as_kernel_3d(pred.labels, order)
    gview = as_kernel_3d(gt.array, order)
    chunks = n_chunks(gview.shape[0] * gview.shape[1])
    keys = np.empty(gview.size, np.float64)
    gbuf = np.empty(gview.size, np.uint8)
    out = np.empty(len(labels), np.float64)
    for n, label in enumerate(labels):
        if pred.scores is not None:
            sigmoid = pred.scores.shape[0] == 1
            nfg = K.lovasz_keys_scores(
                view,
                gview,
                int(label),
                mode,
                pred.kind == "logits",
                sigmoid,
                bool(renormalize and pred.kind == "probs" and not sigmoid),
                LOG_EPS,
                ign,
                has_ignore,
                keys,
                gbuf,
                chunks,
            )
        else:
            nfg = K.lovasz_keys_labels(view, gview, int(label), mode, LOG_EPS, ign, has_ignore, keys, gbuf, chunks)
        K.pack_keys(keys, gbuf)
        keys.sort()
        out[n] = K.lovasz_walk(keys, nfg)
    return out
