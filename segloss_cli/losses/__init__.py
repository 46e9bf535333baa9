"""Segmentation losses from files: one fused pass of per-class sums, formulas over them.

registry.py declares every loss and parameter (cheap to import: the CLI reads it for its
options); compute.py runs a case; the formulas live in region.py (Dice family), ce.py
(cross-entropy family), compound.py and lovasz.py.
"""


def compute_losses(pred, gt, classes, opts, names=None):
    """See compute.compute_losses; imported lazily so `import segloss_cli.losses` stays light."""
    from .compute import compute_losses as _compute

    return _compute(pred, gt, classes, opts, names)
