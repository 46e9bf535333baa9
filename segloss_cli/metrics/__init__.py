"""Public metric maths: validates, calls kernels, returns plain numbers per class.

Every metric of the registry is also a function of this package, built from its registry
entry: ``segloss_cli.metrics.dice(pred, gt)`` returns ``{label: value}`` for one case, under
the same rules as ``segloss eval`` (empty-mask policy included).
"""

from __future__ import annotations

from typing import Any, Callable, Optional


def metric_function(name: str) -> Callable[..., dict[int, Optional[float]]]:
    """The function computing metric ``name`` (a registry name) on one pair of arrays."""
    from .registry import all_metrics

    spec = all_metrics()[name]

    def metric(pred: Any, gt: Any, **params: Any) -> dict[int, Optional[float]]:
        from ..api import score

        res = score(pred, gt, metrics=[spec.name], losses=(), **params)
        return {row.label: row.metrics[spec.name] for row in res.classes}

    unit = f" ({spec.unit})" if spec.unit else ""
    metric.__name__ = metric.__qualname__ = spec.name
    metric.__doc__ = f"""{spec.description}{unit}: ``{spec.formula}``.

    Range [{spec.lo:g}, {spec.hi:g}], {"higher" if spec.higher_is_better else "lower" if spec.higher_is_better is False else "neither higher nor lower"} is better; empty-mask rule: {spec.empty_rule}
    (docs/conventions.md, "Empty masks").

    Parameters
    ----------
    pred, gt : array-like
        Label maps of one shape (or PRED as probabilities/logits with a class axis).
    **params
        Keywords of :func:`segloss_cli.score`: ``labels``, ``include_background``,
        ``ignore_label``, ``empty_policy``, ``spacing_mm`` (distance metrics need it), ...

    Returns
    -------
    dict
        ``{{label: value}}`` for each reported class; None where undefined.
    """
    return metric


_SUBMODULES = ("distance", "overlap", "params", "registry")


def __getattr__(name: str):
    if name.startswith("_") or name in _SUBMODULES:  # the import system asks before loading a submodule
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    from .registry import all_metrics

    if name in all_metrics():
        fn = metric_function(name)
        globals()[name] = fn
        return fn
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
