"""Segmentation losses: one fused pass of per-class sums, formulas over them.

registry.py declares every loss and parameter (cheap to import: the CLI reads it for its
options); compute.py runs a case; the formulas live in region.py (Dice family),
cross_entropy.py (cross-entropy family), compound.py and lovasz.py.

Every loss of the registry is also a function of this package, built from its registry
entry: ``segloss_cli.losses.dice(probs, gt)`` returns the reduced loss value of one case.
"""

from __future__ import annotations

from typing import Any, Callable


def compute_losses(pred, gt, classes, params, **kwargs):
    """See compute.compute_losses; imported lazily so `import segloss_cli.losses` stays light."""
    from .compute import compute_losses as _compute

    return _compute(pred, gt, classes, params, **kwargs)


def loss_function(name: str) -> Callable[..., float]:
    """The function computing loss ``name`` (a registry name) on one pair of arrays."""
    from .registry import LOSSES

    spec = LOSSES[name]

    def loss(pred: Any, gt: Any, **params: Any) -> float:
        from ..api import score

        res = score(pred, gt, metrics=(), losses=[spec.name], **params).losses[spec.name]
        return float("nan") if res.value is None else res.value

    loss.__name__ = loss.__qualname__ = spec.name
    loss.__doc__ = f"""{spec.description}.

    Per class: ``{spec.formula}``; reduced over classes: {spec.reduction}.

    Parameters
    ----------
    pred : array-like
        Probabilities or logits with a class axis (first or last), or a label map (one-hot).
    gt : array-like
        The ground-truth label map.
    **params
        Keywords of :func:`segloss_cli.score`: ``labels``, ``include_background``,
        ``ignore_label``, ``pred_type``, ``channel_axis``, ``renormalize``, and this loss's
        parameters: {", ".join(spec.params) or "none"}.

    Returns
    -------
    float
        The loss value of the case (``LossResult.value``; NaN where undefined). Per-class
        values: ``score(pred, gt, losses=["{spec.name}"]).losses["{spec.name}"].per_class``.
    """
    return loss


def __getattr__(name: str):
    if name.startswith("_"):
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    from .registry import LOSSES

    if name in LOSSES:
        fn = loss_function(name)
        globals()[name] = fn
        return fn
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    from .registry import LOSSES

    return sorted({*globals(), *LOSSES})
