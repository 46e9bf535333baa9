"""Ranking runs (models, losses, checkpoints) scored on the same cases (conventions.md, "Ranking").

A *task* is one class and one metric. For every task, each run's values over the cases give:

- its mean, with a bootstrap percentile confidence interval (cases resampled with
  replacement, one index matrix for every run and task, drawn from
  ``numpy.random.default_rng(seed).integers(0, n_cases, (n_bootstrap, n_cases))``: the draw
  ``scipy.stats.bootstrap(..., method="percentile")`` makes with the same generator);
- its rank among the runs (1 = best, ties share the lowest rank), by ``aggregate-then-rank``
  (rank the means) or ``rank-then-aggregate`` (rank the runs within each case, then rank the
  mean ranks), challengeR's two schemes;
- a paired two-sided Wilcoxon signed-rank test against the task's best run, on the per-case
  differences, with scipy.stats.wilcoxon's defaults (``zero_method="wilcox"``,
  ``correction=False``, ``method="auto"``), Holm-corrected over the runs of the task;
- rank stability: on each bootstrap resample the ranking is redone; how often each run ranks
  first, its mean rank and how often it takes each rank.

The final ranking is by the mean over tasks of each run's task rank (ranked again, lower is
better), with its own stability under the same resamples. Nothing here prints; records
become dicts only in report/.

The statistics are numpy only (scipy is a test oracle, never imported here).
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Optional, Union, cast

import numpy as np

from . import __version__
from .errors import InputError, UsageError
from .model import CaseResult, ClassResult, RunResult

__all__ = [
    "RANK_METHODS",
    "WilcoxonResult",
    "RunTaskStats",
    "TaskRanking",
    "FinalRank",
    "Ranking",
    "CaseValues",
    "SliceOverlay",
    "wilcoxon",
    "holm",
    "bootstrap_indices",
    "bootstrap_means",
    "percentile_interval",
    "min_ranks",
    "rank_runs",
    "load_run",
    "rankable_metrics",
    "slice_overlays",
    "load_params_of",
]

Label = Union[int, str]  # a label, or the name of a region (a union of labels)


RANK_METHODS = ("aggregate-then-rank", "rank-then-aggregate")

# scipy.stats.wilcoxon(method="auto"): the exact null distribution up to 50 differences
# without ties or zeros; with ties or zeros, an exhaustive sign-flip permutation test up to 13
# (deterministic: 2**13 < its 9999 resamples); else the normal approximation.
_EXACT_MAX_N = 50
_PERMUTATION_MAX_N = 13


# --- statistics ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class WilcoxonResult:
    """A two-sided Wilcoxon signed-rank test of paired differences d = x - y.

    ``statistic``: min(R+, R-), the smaller signed-rank sum (as scipy reports it); ``pvalue``;
    ``method``: ``exact``, ``permutation`` (exhaustive, with ties or zeros), ``normal``, or
    ``all-zero`` (every difference is 0: p = 1, where scipy gives NaN beyond 13 pairs);
    ``n``: pairs, ``n_zero``: zero differences (dropped, ``zero_method="wilcox"``).
    """

    statistic: float
    pvalue: float
    method: str
    n: int
    n_zero: int


def _average_ranks(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(average ranks 1..n of ``values``, size of each value's tie group)."""
    order = np.argsort(values, kind="stable")
    sorted_vals = values[order]
    starts = np.flatnonzero(np.r_[True, sorted_vals[1:] != sorted_vals[:-1]])
    sizes = np.diff(np.r_[starts, values.size])
    avg = starts + (sizes + 1) / 2.0  # mean of ranks starts+1 .. starts+size
    ranks = np.empty(values.size, dtype=np.float64)
    ranks[order] = np.repeat(avg, sizes)
    return ranks, sizes


def _signed_rank_counts(weights: np.ndarray) -> np.ndarray:
    """counts[s] = number of sign patterns whose positive ranks sum to s (integer weights)."""
    total = int(weights.sum())
    counts = np.zeros(total + 1, dtype=object)  # Python ints: exact for any n
    counts[0] = 1
    top = 0
    for w in weights.astype(np.int64):
        w = int(w)
        counts[w : top + w + 1] = counts[w : top + w + 1] + counts[: top + 1]
        top += w
    return counts


def wilcoxon(x: Any, y: Any = None) -> WilcoxonResult:
    """Paired two-sided Wilcoxon signed-rank test, as ``scipy.stats.wilcoxon(x, y)`` by default.

    Zero differences are dropped before ranking (``zero_method="wilcox"``) but count towards
    the choice of method; ties get average ranks. p-value: for n <= 50 differences without ties
    or zeros, the exact null distribution of R+ (2 * the smaller tail); with ties or zeros and
    n <= 13, the exhaustive sign-flip distribution of R+ with the observed ranks (the same
    numbers as scipy's permutation test); otherwise the normal approximation
    z = (R+ - m(m+1)/4) / sqrt((m(m+1)(2m+1) - sum(t^3 - t)/2) / 24) over the m non-zero
    differences and tie groups t, without continuity correction, p = erfc(|z| / sqrt(2)).

    Examples
    --------
    >>> r = wilcoxon([0.9, 0.8, 0.85, 0.7, 0.95], [0.8, 0.82, 0.6, 0.5, 0.9])
    >>> r.statistic, round(r.pvalue, 4), r.method
    (1.0, 0.125, 'exact')
    """
    d = np.asarray(x, dtype=np.float64).reshape(-1)
    if y is not None:
        d = d - np.asarray(y, dtype=np.float64).reshape(-1)
    if d.size == 0 or not np.all(np.isfinite(d)):
        raise ValueError("wilcoxon needs at least one finite difference")
    n = int(d.size)
    nonzero = d[d != 0]
    m = int(nonzero.size)
    if m == 0:
        return WilcoxonResult(0.0, 1.0, "all-zero", n, n)
    ranks, sizes = _average_ranks(np.abs(nonzero))
    r_plus = float(ranks[nonzero > 0].sum())
    r_minus = float(ranks[nonzero < 0].sum())
    statistic = min(r_plus, r_minus)
    ties = bool(np.any(sizes > 1))
    if n <= _EXACT_MAX_N and not ties and m == n:
        method = "exact"
    elif n <= _PERMUTATION_MAX_N:
        method = "permutation"
    else:
        method = "normal"
    if method == "normal":
        mean = m * (m + 1) / 4.0
        var = (m * (m + 1) * (2 * m + 1) - float(np.sum(sizes.astype(np.float64) ** 3 - sizes)) / 2) / 24.0
        z = (r_plus - mean) / math.sqrt(var)
        p = math.erfc(abs(z) / math.sqrt(2.0))
    else:
        # Average ranks are multiples of 1/2: doubled, the null distribution is over integers,
        # and counting sign patterns is exact (the zeros' flips multiply every count alike).
        doubled = np.rint(2 * ranks).astype(np.int64)
        counts = _signed_rank_counts(doubled)
        t = int(round(2 * r_plus))
        total = sum(counts)
        low, high = sum(counts[: t + 1]), sum(counts[t:])
        p = min(1.0, 2 * min(low, high) / total)
    return WilcoxonResult(statistic, float(p), method, n, n - m)


def holm(pvalues: Sequence[float]) -> np.ndarray:
    """Holm's step-down adjusted p-values (family-wise error control over the given tests).

    Sorted ascending p_(1) <= ... <= p_(m): adjusted p_(i) = max over j <= i of
    min(1, (m - j + 1) p_(j)); reject at level alpha exactly where the adjusted p <= alpha.

    Examples
    --------
    >>> holm([0.01, 0.04, 0.03]).tolist()
    [0.03, 0.06, 0.06]
    """
    p = np.asarray(pvalues, dtype=np.float64).reshape(-1)
    m = p.size
    if m == 0:
        return p.copy()
    order = np.argsort(p, kind="stable")
    adjusted = np.minimum(1.0, np.maximum.accumulate((m - np.arange(m)) * p[order]))
    out = np.empty(m, dtype=np.float64)
    out[order] = adjusted
    return out


def bootstrap_indices(n_cases: int, n_bootstrap: int, seed: int) -> np.ndarray:
    """Resampled case indices, shape (n_bootstrap, n_cases): each row draws n_cases cases with
    replacement, ``default_rng(seed).integers(0, n_cases, (n_bootstrap, n_cases))``."""
    rng = np.random.default_rng(seed)
    return rng.integers(0, n_cases, (n_bootstrap, n_cases))


def bootstrap_means(values: np.ndarray, indices: np.ndarray) -> np.ndarray:
    """Mean of each resample: ``values`` (n_cases,) or (n_cases, k) -> (n_bootstrap,) or
    (n_bootstrap, k). Rows holding NaN (undefined values) are left out of a resample's mean;
    a resample without any defined row gives NaN."""
    v = np.asarray(values, dtype=np.float64)
    resampled = v[indices]  # (B, n) or (B, n, k)
    if not np.isnan(v).any():
        return resampled.mean(axis=1)
    defined = ~np.isnan(resampled)
    count = defined.sum(axis=1)
    total = np.where(defined, resampled, 0.0).sum(axis=1)
    out = np.full(total.shape, np.nan)
    np.divide(total, count, out=out, where=count > 0)
    return out


def percentile_interval(means: np.ndarray, confidence: float) -> tuple[Optional[float], Optional[float]]:
    """The bootstrap percentile interval: the (1 - confidence)/2 and (1 + confidence)/2
    quantiles (linear interpolation, numpy's default) of the resampled statistic."""
    m = np.asarray(means, dtype=np.float64)
    m = m[~np.isnan(m)]
    if m.size == 0:
        return None, None
    a = (1.0 - confidence) / 2.0
    lo, hi = np.quantile(m, [a, 1.0 - a])
    return float(lo), float(hi)


def min_ranks(scores: np.ndarray, *, higher_is_better: bool) -> np.ndarray:
    """Ranks along the last axis, 1 = best; ties share the lowest rank ("min", challengeR's
    default); NaN ranks after every number."""
    s = np.asarray(scores, dtype=np.float64)
    key = np.where(np.isnan(s), -np.inf, s if higher_is_better else -s)
    better = key[..., np.newaxis, :] > key[..., :, np.newaxis]  # [i, j]: j beats i
    return 1 + better.sum(axis=-1)


# --- records ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class RunTaskStats:
    """One run on one task (class and metric).

    ``mean`` over the task's cases with its bootstrap interval ``ci_low``/``ci_high``;
    ``score``: what was ranked (the mean, or the mean rank over cases under
    rank-then-aggregate); ``rank`` (1 = best); the Wilcoxon test against the task's best run
    (``p_value``, Holm-adjusted ``p_holm``, ``statistic``, ``test``: its method; all None for
    the best run itself); ``significant``: p_holm < alpha; under the bootstrap:
    ``first_frequency`` (share of resamples where the run ranks first, ties included) and
    ``mean_bootstrap_rank``.
    """

    name: str
    mean: Optional[float]
    ci_low: Optional[float]
    ci_high: Optional[float]
    score: Optional[float]
    rank: int
    p_value: Optional[float]
    p_holm: Optional[float]
    statistic: Optional[float]
    test: Optional[str]
    significant: Optional[bool]
    first_frequency: float
    mean_bootstrap_rank: float

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "mean": self.mean,
            "ci": [self.ci_low, self.ci_high],
            "score": self.score,
            "rank": self.rank,
            "p_value": self.p_value,
            "p_holm": self.p_holm,
            "statistic": self.statistic,
            "test": self.test,
            "significant": self.significant,
            "first_frequency": self.first_frequency,
            "mean_bootstrap_rank": self.mean_bootstrap_rank,
        }


@dataclass(frozen=True)
class TaskRanking:
    """The runs on one class and metric; ``runs`` in input order, ``best`` the rank-1 run
    (the first of tied ones); ``n_cases`` cases used, ``n_dropped`` left out because some
    run's value was undefined there."""

    label: Label
    class_name: Optional[str]
    metric: str
    higher_is_better: bool
    unit: Optional[str]
    n_cases: int
    n_dropped: int
    best: str
    runs: tuple[RunTaskStats, ...]
    values: np.ndarray  # (n_cases, n_runs) per-case values of all cases (NaN where dropped)

    def by_name(self) -> dict[str, RunTaskStats]:
        return {r.name: r for r in self.runs}

    def to_dict(self) -> dict[str, Any]:
        return {
            "label": str(self.label),
            "name": self.class_name,
            "metric": self.metric,
            "higher_is_better": self.higher_is_better,
            "n_cases": self.n_cases,
            "n_dropped": self.n_dropped,
            "best": self.best,
            "runs": [r.to_dict() for r in self.runs],
        }


@dataclass(frozen=True)
class FinalRank:
    """A run's place in the final ranking: ``mean_rank`` over tasks, its ``rank`` (1 = best),
    and under the bootstrap how often it ranks first and the share of resamples at each rank
    (``rank_frequencies[k]`` for rank k + 1)."""

    name: str
    mean_rank: float
    rank: int
    first_frequency: float
    rank_frequencies: tuple[float, ...]

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "rank": self.rank,
            "mean_rank": self.mean_rank,
            "first_frequency": self.first_frequency,
            "rank_frequencies": list(self.rank_frequencies),
        }


@dataclass(frozen=True)
class CaseValues:
    """One case's values per run (input order): the mean over the case's classes."""

    case: str
    values: tuple[Optional[float], ...]


@dataclass(frozen=True)
class Ranking:
    """Every task's statistics and the final ranking of runs scored on the same cases."""

    names: tuple[str, ...]  # runs in input order
    sources: tuple[Optional[str], ...]  # where each run came from (folder, file), if known
    cases: tuple[str, ...]
    tasks: tuple[TaskRanking, ...]
    final: tuple[FinalRank, ...]  # sorted by rank, then input order
    method: str
    n_bootstrap: int
    seed: int
    confidence: float
    alpha: float
    metrics: tuple[str, ...]
    labels: tuple[Label, ...]
    notes: tuple[str, ...] = ()
    worst_metric: Optional[str] = None  # the first metric: what worst_cases are ordered by
    worst_cases: tuple[CaseValues, ...] = ()  # worst first, by the mean over runs

    def task(self, label: Label, metric: str) -> TaskRanking:
        for t in self.tasks:
            if t.label == label and t.metric == metric:
                return t
        raise KeyError((label, metric))

    def settings(self) -> dict[str, Any]:
        return {
            "method": self.method,
            "n_bootstrap": self.n_bootstrap,
            "seed": self.seed,
            "confidence": self.confidence,
            "alpha": self.alpha,
            "metrics": list(self.metrics),
            "labels": [str(v) for v in self.labels],
            "resampling": "cases with replacement, the same resamples for every run and task",
            "test": "paired two-sided Wilcoxon signed-rank vs the task's best run, Holm-adjusted per task",
            "final": "mean over tasks of the task ranks, ranked (1 = best, ties share the lowest rank)",
        }

    def to_dict(self) -> dict[str, Any]:
        return {
            "schema_version": 1,
            "segloss_version": __version__,
            "kind": "ranking",
            "settings": self.settings(),
            "runs": [{"name": n, "source": s} for n, s in zip(self.names, self.sources)],
            "n_cases": len(self.cases),
            "final": [f.to_dict() for f in self.final],
            "tasks": [t.to_dict() for t in self.tasks],
            "notes": list(self.notes),
        }


# --- ranking ------------------------------------------------------------------------------------


def rankable_metrics(run: RunResult) -> tuple[str, ...]:
    """The metrics of a run that have a better direction, in registry order."""
    from .metrics.registry import all_metrics

    specs = all_metrics()
    return tuple(m for m in run.metric_names if m in specs and specs[m].higher_is_better is not None)


def _choose_metrics(runs: Mapping[str, RunResult], metrics: Union[None, str, Sequence[str]]) -> tuple[str, ...]:
    from .metrics.registry import all_metrics, resolve

    specs = all_metrics()
    shared = set.intersection(*(set(r.metric_names) for r in runs.values()))
    if metrics is None:
        # The terminal table's metrics (the headline set) that every run has and that rank.
        # In the first run's order (the order it was scored in).
        order = [m for m in next(iter(runs.values())).metric_names if m in shared and m in specs]
        chosen = [m for m in order if specs[m].in_table and specs[m].higher_is_better is not None]
        if not chosen:
            chosen = [m for m in order if specs[m].higher_is_better is not None]
        if not chosen:
            raise UsageError("the runs share no metric with a better direction; score them with @metrics=dice")
        return tuple(chosen)
    items = metrics.split(",") if isinstance(metrics, str) else list(metrics)
    out: list[str] = []
    for item in items:
        if not item.strip():
            continue
        spec = resolve(item)
        if spec.higher_is_better is None:
            raise UsageError(
                f"@metrics: {spec.name} has no better direction (higher or lower); rank on e.g. dice, hd95"
            )
        missing = [n for n, r in runs.items() if spec.name not in r.metric_names]
        if missing:
            raise UsageError(f"@metrics: {spec.name} is not in run {missing[0]}; score every run with it")
        if spec.name not in out:
            out.append(spec.name)
    if not out:
        raise UsageError("@metrics: give at least one metric to rank on, e.g. dice")
    return tuple(out)


def label_key(label: Label) -> tuple[bool, int, str]:
    """Labels in numeric order, then region names in text order."""
    return (True, 0, label) if isinstance(label, str) else (False, int(label), "")


def _json_label(text: str) -> Label:
    try:
        return int(text)
    except ValueError:
        return str(text)  # a region's name


def _check_cases(runs: Mapping[str, RunResult]) -> tuple[str, ...]:
    ids = {name: [c.case for c in r.cases] for name, r in runs.items()}
    for name, case_ids in ids.items():
        dup = sorted({c for c in case_ids if case_ids.count(c) > 1})
        if dup:
            raise InputError(f"run {name} has case {dup[0]} twice; each case must occur once")
    first_name = next(iter(ids))
    reference = sorted(ids[first_name])
    for name, case_ids in ids.items():
        if sorted(case_ids) != reference:
            lacks = sorted(set(reference) - set(case_ids))
            extra = sorted(set(case_ids) - set(reference))
            what = []
            if lacks:
                what.append(f"lacks {len(lacks)} case(s) of {first_name}: {', '.join(lacks[:5])}")
            if extra:
                what.append(f"has {len(extra)} case(s) {first_name} lacks: {', '.join(extra[:5])}")
            raise InputError(
                f"runs must be scored on the same cases: run {name} {'; '.join(what)}; "
                "score every run on the same ground truth (@missing=worst scores a missing prediction as empty)"
            )
    if not reference:
        raise InputError("the runs hold no case to rank")
    return tuple(reference)


def _value_matrix(
    runs: Mapping[str, RunResult], cases: tuple[str, ...], label: Label, metric: str
) -> tuple[np.ndarray, Optional[str]]:
    """(n_cases, n_runs) values, NaN where undefined, and the class name.

    A class row a case lacks in one run (the class is in neither that run's PRED nor its GT,
    while another run predicted it) is both_empty there, and takes that status's value.
    """
    from .metrics.registry import all_metrics, apply_empty_rule, parse_empty_values

    spec = all_metrics()[metric]
    out = np.full((len(cases), len(runs)), np.nan)
    name: Optional[str] = None
    for j, run in enumerate(runs.values()):
        by_case = {c.case: c for c in run.cases}
        policy = str(run.settings.get("empty_policy", "worst"))
        cells = parse_empty_values(run.settings.get("empty_values")).get(metric, {})  # a --convention's values
        for i, case_id in enumerate(cases):
            row = _row(by_case[case_id], label)
            if row is None:
                value = apply_empty_rule(spec, math.nan, "both_empty", policy, None)
                value = cells.get("both_empty", value) if cells.get("both_empty") != "worst" else value
            else:
                value = row.metrics.get(metric)
                name = name or row.name
            if value is not None:
                out[i, j] = float(value)
    return out, name


def _row(case: CaseResult, label: Label) -> Optional[ClassResult]:
    for r in case.classes:
        if r.label == label:
            return r
    return None


def _task_scores(values: np.ndarray, method: str, higher_is_better: bool) -> tuple[np.ndarray, bool]:
    """(what is ranked per run, whether higher is better for it) over the rows of ``values``."""
    if method == "aggregate-then-rank":
        return values.mean(axis=0), higher_is_better
    return min_ranks(values, higher_is_better=higher_is_better).mean(axis=0), False


def _bootstrap_task_ranks(
    values: np.ndarray, indices: np.ndarray, method: str, higher_is_better: bool
) -> tuple[np.ndarray, np.ndarray]:
    """(means per resample (B, R), task ranks per resample (B, R)); NaN rows left out."""
    means = bootstrap_means(values, indices)
    if method == "aggregate-then-rank":
        return means, min_ranks(means, higher_is_better=higher_is_better)
    case_ranks = min_ranks(values, higher_is_better=higher_is_better).astype(np.float64)
    case_ranks[np.isnan(values).any(axis=1)] = np.nan
    return means, min_ranks(bootstrap_means(case_ranks, indices), higher_is_better=False)


def rank_runs(
    runs: Mapping[str, RunResult],
    *,
    metrics: Union[None, str, Sequence[str]] = None,
    labels: Optional[Sequence[Label]] = None,
    method: str = "aggregate-then-rank",
    n_bootstrap: int = 1000,
    seed: int = 0,
    confidence: float = 0.95,
    alpha: float = 0.05,
    sources: Optional[Mapping[str, str]] = None,
) -> Ranking:
    """Rank runs scored on the same cases, per class and metric and overall.

    Parameters
    ----------
    runs : mapping of name -> RunResult
        At least two runs with the same case ids (folder runs against one GT folder, or
        results read with :func:`load_run`); input order is kept for ties.
    metrics : names or one comma-separated string, optional
        Metrics to rank on, each with a better direction. Default: the headline metrics
        (the terminal table's) that every run computed.
    labels : labels, optional
        Classes to rank on. Default: every class some run reports.
    method : ``aggregate-then-rank`` (default) or ``rank-then-aggregate``
        How a task ranks the runs: by their mean over cases, or by their mean per-case rank.
    n_bootstrap, seed, confidence : int, int, float
        Resamples (default 1000), the generator's seed (0), the interval's level (0.95).
    alpha : float
        Level of the Holm-adjusted tests (``significant``: p_holm < alpha).

    Returns
    -------
    Ranking

    Examples
    --------
    >>> import numpy as np
    >>> from segloss_cli import run
    >>> gt = np.zeros((8, 8), np.uint8); gt[2:6, 2:6] = 1
    >>> a = run(gt, gt, metrics="dice")
    >>> b = run(np.roll(gt, 1, axis=0), gt, metrics="dice")
    >>> r = rank_runs({"a": a, "b": b}, n_bootstrap=50)
    >>> [(f.name, f.rank) for f in r.final]
    [('a', 1), ('b', 2)]
    """
    from .metrics.registry import all_metrics

    if len(runs) < 2:
        raise UsageError("give at least two runs to rank (runs: name -> RunResult)")
    if method not in RANK_METHODS:
        raise UsageError(f"method must be one of {', '.join(RANK_METHODS)}, not {method!r}")
    if int(n_bootstrap) != n_bootstrap or n_bootstrap < 1:
        raise UsageError(f"n_bootstrap must be a whole number >= 1, not {n_bootstrap}")
    if not 0 < confidence < 1:
        raise UsageError(f"confidence must be between 0 and 1, not {confidence}")
    if not 0 < alpha < 1:
        raise UsageError(f"alpha must be between 0 and 1, not {alpha}")
    names = tuple(runs)
    cases = _check_cases(runs)
    chosen = _choose_metrics(runs, metrics)
    present = sorted({row.label for r in runs.values() for c in r.cases for row in c.classes}, key=label_key)
    task_labels: tuple[Label, ...]
    if labels is None:
        task_labels = tuple(present)
    else:
        task_labels = tuple(sorted(set(labels), key=label_key))
        absent = [v for v in task_labels if v not in present]
        if absent:
            raise UsageError(f"@labels: class {absent[0]} is in no run; the runs report {_short(present)}")
    if not task_labels:
        raise InputError("the runs report no class to rank (only background?); score them with @include_background")
    specs = all_metrics()
    indices = bootstrap_indices(len(cases), int(n_bootstrap), int(seed))
    n_runs = len(names)
    tasks: list[TaskRanking] = []
    boot_task_ranks: list[np.ndarray] = []
    for metric in chosen:
        spec = specs[metric]
        hib = bool(spec.higher_is_better)
        for label in task_labels:
            values, class_name = _value_matrix(runs, cases, label, metric)
            complete = ~np.isnan(values).any(axis=1)
            n_used = int(complete.sum())
            if n_used == 0:
                continue  # undefined in every case for some run (e.g. precision of a class never predicted)
            used = values[complete]
            scores, score_hib = _task_scores(used, method, hib)
            means = used.mean(axis=0)
            ranks = min_ranks(scores, higher_is_better=score_hib)
            best = int(np.flatnonzero(ranks == 1)[0])
            task_values = np.where(complete[:, None], values, np.nan)
            boot_means, boot_ranks = _bootstrap_task_ranks(task_values, indices, method, hib)
            boot_task_ranks.append(boot_ranks)
            tests: list[Optional[WilcoxonResult]] = [
                None if j == best else wilcoxon(used[:, j], used[:, best]) for j in range(n_runs)
            ]
            others = [j for j in range(n_runs) if j != best]
            adjusted = dict(zip(others, holm([tests[j].pvalue for j in others])))  # type: ignore[union-attr]
            rows = []
            for j, name in enumerate(names):
                lo, hi = percentile_interval(boot_means[:, j], confidence)
                test = tests[j]
                rows.append(
                    RunTaskStats(
                        name=name,
                        mean=float(means[j]),
                        ci_low=lo,
                        ci_high=hi,
                        score=float(scores[j]),
                        rank=int(ranks[j]),
                        p_value=None if test is None else test.pvalue,
                        p_holm=None if test is None else float(adjusted[j]),
                        statistic=None if test is None else test.statistic,
                        test=None if test is None else test.method,
                        significant=None if test is None else bool(adjusted[j] < alpha),
                        first_frequency=float(np.mean(boot_ranks[:, j] == 1)),
                        mean_bootstrap_rank=float(np.mean(boot_ranks[:, j])),
                    )
                )
            tasks.append(
                TaskRanking(
                    label=label,
                    class_name=class_name,
                    metric=metric,
                    higher_is_better=hib,
                    unit=spec.unit,
                    n_cases=n_used,
                    n_dropped=len(cases) - n_used,
                    best=names[best],
                    runs=tuple(rows),
                    values=values,
                )
            )
    if not tasks:
        raise InputError("no class and metric has a defined value in any case for every run; nothing to rank")
    task_ranks = np.array([[r.rank for r in t.runs] for t in tasks], dtype=np.float64)  # (T, R)
    mean_rank = task_ranks.mean(axis=0)
    final_rank = min_ranks(mean_rank, higher_is_better=False)
    boot_final = min_ranks(np.mean(boot_task_ranks, axis=0), higher_is_better=False)  # (B, R)
    final = [
        FinalRank(
            name=name,
            mean_rank=float(mean_rank[j]),
            rank=int(final_rank[j]),
            first_frequency=float(np.mean(boot_final[:, j] == 1)),
            rank_frequencies=tuple(float(np.mean(boot_final[:, j] == k + 1)) for k in range(n_runs)),
        )
        for j, name in enumerate(names)
    ]
    final.sort(key=lambda f: (f.rank, names.index(f.name)))
    worst_metric = tasks[0].metric
    return Ranking(
        names=names,
        sources=tuple((sources or {}).get(n) for n in names),
        cases=cases,
        tasks=tuple(tasks),
        final=tuple(final),
        method=method,
        n_bootstrap=int(n_bootstrap),
        seed=int(seed),
        confidence=float(confidence),
        alpha=float(alpha),
        metrics=chosen,
        labels=task_labels,
        notes=tuple(_setting_notes(runs)),
        worst_metric=worst_metric,
        worst_cases=_worst_cases(cases, [t for t in tasks if t.metric == worst_metric]),
    )


def _worst_cases(cases: tuple[str, ...], tasks: Sequence[TaskRanking], k: int = 5) -> tuple[CaseValues, ...]:
    """The ``k`` cases whose mean over classes, averaged over runs, is worst (ties by case id);
    cases undefined for every run last."""
    stacked = np.stack([t.values for t in tasks])  # (classes, cases, runs)
    defined = ~np.isnan(stacked)
    count = defined.sum(axis=0)
    per_run = np.full(count.shape, np.nan)
    np.divide(np.where(defined, stacked, 0.0).sum(axis=0), count, out=per_run, where=count > 0)
    sign = 1.0 if tasks[0].higher_is_better else -1.0
    order = []
    for i, case in enumerate(cases):
        row = per_run[i][~np.isnan(per_run[i])]
        order.append((row.size == 0, sign * float(row.mean()) if row.size else 0.0, case, i))
    order.sort()
    return tuple(
        CaseValues(case, tuple(None if np.isnan(v) else float(v) for v in per_run[i])) for _, _, case, i in order[:k]
    )


def _short(values: Sequence[Label], limit: int = 10) -> str:
    text = ", ".join(str(v) for v in values[:limit])
    return text + (", ..." if len(values) > limit else "")


def _setting_notes(runs: Mapping[str, RunResult]) -> list[str]:
    """Settings that change what the numbers mean and differ between runs."""
    notes = []
    keys = sorted({k for r in runs.values() for k in r.settings})
    for key in keys:
        if key in ("segloss_version", "metrics", "losses", "loss_params"):
            continue
        values = {n: r.settings.get(key) for n, r in runs.items()}
        if len({json.dumps(v, sort_keys=True, default=str) for v in values.values()}) > 1:
            shown = ", ".join(f"{n}: {json.dumps(v, default=str)}" for n, v in values.items())
            notes.append(f"setting {key} differs between runs ({shown})")
    return notes


# --- runs from result files ---------------------------------------------------------------------


def load_run(path: Union[str, Path]) -> RunResult:
    """A RunResult from a JSON written by ``segloss eval --json`` (cases, settings, summary
    recomputed from the cases; confusion counts and losses are not kept in the JSON)."""
    from .aggregate import summarize, worst_cases
    from .compare import load_result
    from .evaluate import headline_metric
    from .metrics.registry import all_metrics

    data = load_result(path)
    specs = all_metrics()
    cases = []
    seen: set[str] = set()
    try:
        for entry in data.get("cases") or []:
            classes = tuple(
                ClassResult(
                    cast(Any, _json_label(label)),
                    row.get("name"),
                    row.get("status", "ok"),
                    dict(row.get("metrics") or {}),
                )
                for label, row in (entry.get("classes") or {}).items()
            )
            for row in classes:
                seen.update(row.metrics)
            spacing = entry.get("spacing")
            cases.append(
                CaseResult(
                    case=str(entry["case"]),
                    pred=entry.get("pred"),
                    gt=str(entry.get("gt")),
                    spacing_mm=None if spacing is None else tuple(float(s) for s in spacing),
                    classes=classes,
                )
            )
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise InputError(f"malformed case in a segloss result ({type(exc).__name__}: {exc})", path) from None
    settings = dict(data.get("settings") or {})
    listed = [m for m in settings.get("metrics") or [] if m in specs and m in seen]
    metric_names = tuple(listed) if listed else tuple(m for m in specs if m in seen)
    summary = summarize(cases, metric_names, ())
    headline = headline_metric(metric_names)
    if headline is not None:
        from dataclasses import replace

        better = bool(specs[headline].higher_is_better)
        summary = replace(summary, worst_cases=worst_cases(cases, headline, higher_is_better=better))
    return RunResult(
        settings=settings,
        cases=tuple(cases),
        summary=summary,
        metric_names=metric_names,
        metric_units={m: specs[m].unit for m in metric_names},
        table_metrics=tuple(m for m in metric_names if specs[m].in_table),
    )


# --- slices for the report's overlays -----------------------------------------------------------


@dataclass(frozen=True)
class SliceOverlay:
    """One case's slice with the most wrong voxels, cropped to its classes, for the report.

    ``gt`` and each of ``preds`` (run name -> labels) are 2-D label slices; ``gt_edges`` and
    ``pred_edges`` mark their class borders (a pixel whose 4-neighbour has another label);
    ``axis``/``index`` locate the slice (None for 2-D images); ``n_wrong``: wrong voxels on it
    (summed over runs); ``note``: why there is no slice (a file that could not be read).
    """

    case: str
    axis: Optional[int]
    index: Optional[int]
    gt: Optional[np.ndarray]
    preds: dict[str, np.ndarray]
    gt_edges: Optional[np.ndarray]
    pred_edges: dict[str, np.ndarray]
    n_wrong: int
    note: Optional[str] = None


def load_params_of(settings: Mapping[str, Any]):
    """How a run read its predictions (io.prediction.LoadParams), from its recorded settings;
    the defaults where a setting is missing or unusable."""
    from .io.prediction import LoadParams

    try:
        return LoadParams(
            pred_type=settings.get("pred_type") or "auto",  # type: ignore[arg-type]
            channel_axis=settings.get("channel_axis"),
            threshold=float(settings.get("threshold", 0.5)),
            spacing_mm=settings.get("spacing_option_mm"),
        )
    except (ValueError, TypeError):
        return LoadParams()


def _edges(labels: np.ndarray, classes: np.ndarray) -> np.ndarray:
    inside = np.isin(labels, classes)
    edge = np.zeros(labels.shape, dtype=bool)
    for ax in range(labels.ndim):
        diff = np.diff(labels, axis=ax) != 0
        lo = [slice(None)] * labels.ndim
        hi = [slice(None)] * labels.ndim
        lo[ax], hi[ax] = slice(None, -1), slice(1, None)
        edge[tuple(lo)] |= diff
        edge[tuple(hi)] |= diff
    return edge & inside


def _label_map(pred_path: str, gt, load) -> np.ndarray:
    from .io.prediction import read_prediction, score_view

    vol, kind = read_prediction(pred_path, gt, load)
    if kind == "labels":
        return np.asarray(vol.array)
    _, scores, _ = score_view(vol, gt, kind, load)
    if scores.shape[0] == 1:
        return (scores[0] >= load.threshold).astype(np.int64)
    return np.argmax(scores, axis=0)


def slice_overlays(
    cases: Sequence[tuple[str, str, Mapping[str, Optional[str]]]],
    classes: Sequence[Label],
    *,
    load: Any = None,
    ignore_label: Optional[int] = None,
    margin: int = 6,
) -> tuple[SliceOverlay, ...]:
    """For each (case id, GT path, {run name: PRED path}), the slice where the runs' PRED
    differs most from GT on ``classes`` (a voxel is wrong where PRED != GT and either is one
    of the classes; ``ignore_label`` voxels of GT never are), cropped to the classes' box on
    it plus ``margin``. 3-D volumes are cut across their coarsest axis (the last among equals).
    A case whose files cannot be read (moved, or a colour mask without its palette) gets a
    ``note`` instead."""
    from .errors import SeglossError
    from .io.prediction import LoadParams, read_gt

    load = load or LoadParams()
    wanted = np.asarray(sorted(c for c in classes if isinstance(c, (int, np.integer))), dtype=np.int64)
    out = []
    for case_id, gt_path, preds in cases:
        try:
            gt_vol = read_gt(gt_path, load)
            gt = np.asarray(gt_vol.array)
            maps = {name: _label_map(p, gt_vol, load) for name, p in preds.items() if p is not None}
            for name, p in preds.items():
                if p is None:
                    maps[name] = np.zeros_like(gt)  # a missing prediction is scored as empty
        except (SeglossError, OSError, ValueError) as exc:
            out.append(SliceOverlay(case_id, None, None, None, {}, None, {}, 0, note=str(exc)))
            continue
        counted = np.ones(gt.shape, dtype=bool) if ignore_label is None else gt != ignore_label
        gt_in = np.isin(gt, wanted)
        wrong = np.zeros(gt.shape, dtype=np.int64)
        for arr in maps.values():
            wrong += (arr != gt) & (gt_in | np.isin(arr, wanted)) & counted
        axis: Optional[int] = None
        index: Optional[int] = None
        gt2, wrong2, maps2 = gt, wrong, maps
        if gt.ndim == 3:
            spacing = gt_vol.spacing_mm or (1.0, 1.0, 1.0)
            axis = max(range(3), key=lambda a: (spacing[a], a))
            index = int(np.argmax(wrong.sum(axis=tuple(a for a in range(3) if a != axis))))
            gt2, wrong2 = np.take(gt, index, axis=axis), np.take(wrong, index, axis=axis)
            maps2 = {n: np.take(a, index, axis=axis) for n, a in maps.items()}
        box = np.isin(gt2, wanted)
        for a in maps2.values():
            box |= np.isin(a, wanted)
        if box.any():
            rows, cols = np.flatnonzero(box.any(axis=1)), np.flatnonzero(box.any(axis=0))
            r0, r1 = max(0, rows[0] - margin), min(box.shape[0], rows[-1] + margin + 1)
            c0, c1 = max(0, cols[0] - margin), min(box.shape[1], cols[-1] + margin + 1)
        else:
            r0, r1, c0, c1 = 0, box.shape[0], 0, box.shape[1]
        crop = (slice(r0, r1), slice(c0, c1))
        gt_c = np.asarray(gt2[crop]).astype(np.int64)
        preds_c = {n: np.asarray(a[crop]).astype(np.int64) for n, a in maps2.items()}
        out.append(
            SliceOverlay(
                case=case_id,
                axis=axis,
                index=index,
                gt=gt_c,
                preds=preds_c,
                gt_edges=_edges(gt_c, wanted),
                pred_edges={n: _edges(a, wanted) for n, a in preds_c.items()},
                n_wrong=int(wrong2.sum()),
            )
        )
    return tuple(out)
