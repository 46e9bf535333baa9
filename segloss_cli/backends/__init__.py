"""Backends that score a folder's cases somewhere other than this process's threads.

Each maps :func:`segloss_cli.folder.score_pair` over the pairs and returns the CaseResults
sorted by case id, so :func:`segloss_cli.evaluate.assemble_run` makes the same RunResult
as the local threads (docs/ARCHITECTURE.md, "A backend for many cases"). Only
:mod:`.dask` exists; it is imported when a run names a scheduler.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, Optional

from ..errors import UsageError

if TYPE_CHECKING:  # pragma: no cover
    from ..evaluate import EvalParams
    from ..folder import CasePair
    from ..model import CaseResult


def check_scheduler(text: str) -> str:
    """``local``, ``local:N`` (N worker processes on this machine) or ``tcp://HOST:PORT``
    (``tls://`` too); anything else is a UsageError. Checked before any file is read."""
    value = str(text).strip()
    if value == "local":
        return value
    if value.startswith("local:"):
        n = value[len("local:") :]
        if n.isdigit() and int(n) >= 1:
            return value
        raise UsageError(f"@scheduler {value!r}: local:N needs N >= 1 worker processes, e.g. local:4")
    scheme, sep, rest = value.partition("://")
    if sep and scheme in ("tcp", "tls") and rest:
        return value
    raise UsageError(
        f"@scheduler {value!r} is not a Dask scheduler; give local, local:N or tcp://HOST:PORT (e.g. tcp://10.0.0.5:8786)"
    )


def parse_batch_size(text: str) -> Optional[int]:
    """``auto`` -> None (the backend chooses), else a whole number >= 1."""
    value = str(text).strip().lower()
    if value == "auto":
        return None
    if value.isdigit() and int(value) >= 1:
        return int(value)
    raise UsageError(f"@batch_size {text!r}: give auto or a number of cases per task >= 1, e.g. 16")


def score_pairs_on(
    folder: Any,
    pairs: Sequence[CasePair],
    params: EvalParams,
    *,
    on_case: Optional[Callable[[CaseResult], None]] = None,
    on_result: Optional[Callable[[CaseResult], None]] = None,
    keep: bool = True,
) -> tuple[CaseResult, ...]:
    """Score ``pairs`` on the backend ``folder`` (an api.FolderParams) names; ``on_result`` and
    ``keep`` as in :func:`segloss_cli.folder.score_pairs`."""
    from .dask import score_pairs_dask

    return score_pairs_dask(
        pairs,
        params,
        scheduler=folder.scheduler,
        batch_size=folder.batch_size,
        connect_timeout_s=folder.connect_timeout_s,
        on_case=on_case,
        on_result=on_result,
        keep=keep,
    )
