"""Segmentation losses: one fused pass of per-class sums, formulas over them.

registry.py declares every loss and parameter (cheap to import: the CLI reads it for its
options); compute.py runs a case; the formulas live in region.py (Dice family),
cross_entropy.py (cross-entropy family), compound.py and lovasz.py.

Every loss of the registry is also a function of this package, built from its registry
entry: ``segloss_cli.losses.dice(probs, gt)`` returns the reduced loss value of one case.
"""

from __future__ import annotations


def compute_losses(pred, gt, classes, params, **kwargs):
    """See compute.compute_losses; imported lazily so `import segloss_cli.losses` stays light."""
    from .compute import compute_losses as _compute

    return _compute(pred, gt, classes, params, **kwargs)


def __getattr__(name: str):
    # The loss functions are the API's (api.loss_function): this package is the place users
    # look for them, the API the layer that can read arrays; imported only when asked for.
    if name.startswith("_"):
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    from .registry import LOSSES

    if name in LOSSES:
        from ..api import loss_function

        fn = loss_function(name)
        globals()[name] = fn
        return fn
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    from .registry import LOSSES

    return sorted({*globals(), *LOSSES})
