"""Public metric maths: validates, calls kernels, returns plain numbers per class.

Every metric of the registry is also a function of this package, built from its registry
entry: ``segloss_cli.metrics.dice(pred, gt)`` returns ``{label: value}`` for one case, under
the same rules as ``segloss eval`` (empty-mask policy included).
"""

from __future__ import annotations

_SUBMODULES = ("distance", "lesion", "overlap", "params", "registry", "shape")


def __getattr__(name: str):
    # The metric functions are the API's (api.metric_function), imported only when asked for.
    if name.startswith("_") or name in _SUBMODULES:  # the import system asks before loading a submodule
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    from .registry import all_metrics

    if name in all_metrics():
        from ..api import metric_function

        fn = metric_function(name)
        globals()[name] = fn
        return fn
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
