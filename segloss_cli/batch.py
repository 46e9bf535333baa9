"""Losses of a batch of cases with a reduction over the batch axis (issue 17).

``reduction="case"``: each case's losses, then the mean over the batch of each loss's value
(and of each class's value) over the cases where it is defined: MONAI's ``batch=False`` with
``reduction="mean"`` when every case has the same classes, SMP's and Berman's ``per_image=True``.
``reduction="batch"``: the sums run over every voxel of the batch before any ratio, as if the
cases were one volume: MONAI's ``batch=True``, SMP's default (``dims=(0, 2)``), Berman's
Lovasz ``per_image=False``. Every loss of segloss is a function of per-class sums over voxels
(or, for Lovasz, of the sorted errors of all voxels), so pooling is scoring the cases laid end
to end along their first spatial axis, which is what this does.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .errors import UsageError

REDUCTIONS = ("case", "batch")


def _as_array(x: Any) -> np.ndarray:
    if hasattr(x, "detach"):  # a torch tensor
        x = x.detach().cpu().numpy()
    return np.asarray(x)


def score_batch(pred: Any, gt: Any, *, reduction: str = "case", **params: Any) -> dict:
    """The losses of a batch: ``pred`` (B, C, *S) scores or (B, *S) labels, ``gt`` (B, *S) or
    (B, 1, *S) (MONAI's layout); keywords of :func:`segloss_cli.score` (losses and their
    parameters, ``labels``, ``ignore_label``, ``pred_type``, ...).

    Returns ``{loss: LossResult}``, each with ``params["reduction"]`` set.

    Examples
    --------
    >>> import numpy as np
    >>> gt = np.array([[[0, 1], [1, 1]], [[0, 0], [0, 1]]])  # two 2x2 cases
    >>> p1 = (gt == 1).astype(float)[:, None]
    >>> probs = np.concatenate([1 - p1, p1], axis=1) * 0.8 + 0.1  # (B, C, H, W)
    >>> case = score_batch(probs, gt, losses="dice", reduction="case", smooth_nr=0, smooth_dr=0)
    >>> batch = score_batch(probs, gt, losses="dice", reduction="batch", smooth_nr=0, smooth_dr=0)
    >>> round(case["dice"].value, 4), round(batch["dice"].value, 4)
    (0.1254, 0.1)
    """
    from dataclasses import replace

    from .api import score

    if reduction not in REDUCTIONS:
        raise UsageError(f"@reduction must be one of {', '.join(REDUCTIONS)}, not {reduction!r}")
    if params.get("metrics") not in (None, (), [], "none"):
        raise UsageError("score_batch computes losses only; score each case with score() for its metrics")
    p, g = _as_array(pred), _as_array(gt)
    if g.ndim == p.ndim and g.ndim >= 3 and g.shape[1] == 1 and p.shape[1] != 1:
        g = g[:, 0]  # (B, 1, *S) -> (B, *S)
    if p.shape[0] != g.shape[0] or g.ndim < 3:
        raise UsageError(
            f"score_batch needs a batch axis first: PRED {tuple(p.shape)}, GT {tuple(g.shape)}; "
            "PRED (B, C, *S) or (B, *S), GT (B, *S) or (B, 1, *S)"
        )
    scores = p.ndim == g.ndim + 1
    if not scores and p.shape != g.shape:
        raise UsageError(f"PRED {tuple(p.shape)} and GT {tuple(g.shape)}: a label-map PRED has GT's shape")
    params = {**params, "metrics": ()}
    if scores:
        params.setdefault("channel_axis", 0)  # each case is (C, *S) below
    if reduction == "batch":
        # (B, C, X, ...) -> (C, B*X, ...): the cases end to end along their first spatial axis
        flat_p = np.concatenate(list(p), axis=1) if scores else np.concatenate(list(p), axis=0)
        flat_g = np.concatenate(list(g), axis=0)
        res = score(flat_p, flat_g, case="batch", **params)
        return {n: replace(r, params={**r.params, "reduction": "batch"}) for n, r in res.losses.items()}
    cases = [score(p[b], g[b], case=str(b), **params) for b in range(p.shape[0])]
    out = {}
    for name in cases[0].losses:
        results = [c.losses[name] for c in cases]
        labels = sorted({k for r in results for k in r.per_class}, key=str)
        per_class = {k: _mean([r.per_class.get(k) for r in results]) for k in labels}
        first = results[0]
        out[name] = replace(
            first,
            value=_mean([r.value for r in results]),
            per_class=per_class,
            params={**first.params, "reduction": "case"},
        )
    return out


def _mean(values) -> Any:
    defined = [float(v) for v in values if v is not None]
    return float(np.mean(defined)) if defined else None
