"""segloss: evaluate segmentations: every loss and metric, per class.

The library API (docs/conventions.md, "Python API"): :func:`score` (arrays), :func:`score_files`,
:func:`evaluate_folder`, :func:`run`, ``gate.check``; every loss as ``losses.<name>`` and every
metric as ``metrics.<name>``. Imported lazily: ``import segloss_cli`` alone loads no numpy, so
the command line starts fast.
"""

from __future__ import annotations

from typing import Any

__version__ = "0.1.0"

# True in the `segloss` command's own process (set by cli.main before any command runs), so
# process-wide shortcuts stay out of library use (see kernels._jit._skip_blas_probe).
CLI_PROCESS = False

_API = {
    "score": "api",
    "score_files": "api",
    "score_batch": "batch",
    "evaluate_folder": "api",
    "run": "api",
    "make_params": "api",
    "FolderParams": "api",
    "CaseResult": "model",
    "ClassResult": "model",
    "ConfusionCounts": "model",
    "LossResult": "model",
    "RunResult": "model",
    "Summary": "model",
    "ClassSummary": "model",
    "Stats": "model",
    "SeglossError": "errors",
    "InputError": "errors",
    "UsageError": "errors",
    "check": "gate",
    "rank_runs": "rank",
    "load_run": "rank",
    "Ranking": "rank",
}

__all__ = ["__version__", "gate", "losses", "metrics", *_API]


def __getattr__(name: str) -> Any:
    import importlib

    if name in _API:
        value = getattr(importlib.import_module(f".{_API[name]}", __name__), name)
        globals()[name] = value
        return value
    if name in ("gate", "losses", "metrics"):
        return importlib.import_module(f".{name}", __name__)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
