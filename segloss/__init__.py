"""``import segloss``: the segloss library under its own name (everything of ``segloss_cli``).

>>> import numpy as np, segloss
>>> segloss.score(np.array([[1, 1, 0]]), np.array([[1, 0, 0]])).row(1).metrics["dice"]
0.6666666666666666
"""

from __future__ import annotations

import sys

import segloss_cli
from segloss_cli import __version__, api, errors, gate, losses, metrics, model
from segloss_cli.api import FolderParams, evaluate_folder, make_params, run, score, score_files
from segloss_cli.batch import score_batch
from segloss_cli.errors import InputError, SeglossError, UsageError
from segloss_cli.gate import check
from segloss_cli.model import (
    CaseResult,
    ClassResult,
    ClassSummary,
    ConfusionCounts,
    LossResult,
    RunResult,
    Stats,
    Summary,
)
from segloss_cli.rank import Ranking, load_run, rank_runs

# `import segloss.losses` and `from segloss.metrics import dice` name the same modules.
for _name in ("api", "errors", "gate", "losses", "metrics", "model"):
    sys.modules[f"{__name__}.{_name}"] = getattr(segloss_cli, _name)

__all__ = [
    "__version__",
    "api",
    "errors",
    "gate",
    "losses",
    "metrics",
    "model",
    "FolderParams",
    "evaluate_folder",
    "make_params",
    "run",
    "score",
    "score_files",
    "score_batch",
    "check",
    "rank_runs",
    "load_run",
    "Ranking",
    "InputError",
    "SeglossError",
    "UsageError",
    "CaseResult",
    "ClassResult",
    "ClassSummary",
    "ConfusionCounts",
    "LossResult",
    "RunResult",
    "Stats",
    "Summary",
]
