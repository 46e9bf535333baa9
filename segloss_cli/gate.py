"""The CI gate: parse ``--require`` expressions and check them against a run's summary.

Syntax (conventions.md, "Requirements"): ``metric[class] OP value``, ``loss.NAME[class] OP
value`` or ``pooled.metric[class] OP value`` with OP one of ``>= <= > <``; the class (label or
name) is optional, and without it a metric requirement applies to every reported class and a
loss requirement to the loss's reduced value. ``pooled.`` gates a count-based metric computed
from the counts summed over cases, or a dataset-level score (``pooled.mIoU``, ``pooled.aAcc``,
``pooled.mAcc``, ``pooled.mDice``, ``pooled.mFscore``). Values come from the summary mean, which for a single pair is the case value
itself (the mean of one number). An undefined (null) value fails unless ``allow_undefined``.
Unknown metrics, losses and classes raise UsageError (exit 2): a typo never passes silently.

Nothing here prints; the CLI renders the checks and picks the exit code. Library entry point:
:func:`check`.
"""

from __future__ import annotations

import math
import operator
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Optional

import numpy as np

from .classes import class_order
from .errors import InputError, UsageError
from .model import ClassSummary, RunResult, Stats

OPERATORS = {">=": operator.ge, "<=": operator.le, ">": operator.gt, "<": operator.lt}

_EXPR = re.compile(
    r"""^\s*
    (?:(?P<agg>[A-Za-z_]+)\s*\(\s*)?
    (?:(?P<loss>loss\.)|(?P<pooled>pooled\.))?
    (?P<name>[A-Za-z_][A-Za-z0-9_]*)
    \s*(?:\[\s*(?P<cls>[^\[\]]*?)\s*\])?
    (?:\.(?P<stat>[A-Za-z0-9_]+))?
    \s*(?(agg)\))
    \s*(?P<op>>=|<=|>|<)
    \s*(?P<value>\S+)\s*$""",
    re.VERBOSE,
)
EXAMPLES = (
    "dice>=0.85, hd95<=5, dice[liver]>=0.9, mean(dice)>=0.8, dice.min>=0.5, dice[liver].p05>=0.7, "
    "loss.dice<=0.2, pooled.mIoU>=0.7"
)
# Over classes: f(metric) applies f to the classes' values (each the mean over cases, or a
# statistic over cases with .stat). Over cases: metric.stat is that statistic of the cases' values.
CLASS_AGGREGATES: dict[str, Any] = {"mean": np.mean, "min": np.min, "max": np.max, "median": np.median}
STAT_PERCENTILES = {"min": 0.0, "max": 100.0, "median": 50.0, "q1": 25.0, "q3": 75.0}  # the named ones
CASE_STATS = ("mean", *STAT_PERCENTILES)  # and pNN, NN in 0..100


@dataclass(frozen=True)
class Requirement:
    text: str
    kind: str  # metric | loss | pooled (a count-based metric from counts summed over cases, or aAcc, mIoU, ...)
    name: str  # as written (resolved against the run when checked)
    selector: Optional[str]  # class label or name as written; None = every class / reduced loss
    op: str
    threshold: float
    aggregate: Optional[str] = None  # over classes: mean | min | max | median
    stat: Optional[str] = None  # over cases: mean | min | max | median | q1 | q3 | pNN

    def holds(self, value: float) -> bool:
        return OPERATORS[self.op](value, self.threshold)


@dataclass(frozen=True)
class Check:
    requirement: Requirement
    key: str  # canonical metric name or loss.NAME
    label: Optional[str]  # class label as in JSON; None for a loss's reduced value
    class_name: Optional[str]
    actual: Optional[float]
    passed: bool
    n_undefined: int = 0  # cases whose value is undefined: any one fails the check (unless allowed)
    failing_cases: tuple[str, ...] = ()  # a statistic over cases: the cases whose own value misses the bar

    @property
    def undefined(self) -> bool:
        return self.actual is None or self.n_undefined > 0


def parse_requirement(text: str) -> Requirement:
    m = _EXPR.match(text)
    if not m:
        if re.search(r"==|!=|=>|=<|(?<![<>])=(?!=)", text):
            raise UsageError(f"@require '{text}': use one of >= <= > < (examples: {EXAMPLES})")
        raise UsageError(
            f"@require '{text}': expected metric[class] OP value with OP one of >= <= > < (examples: {EXAMPLES})"
        )
    raw = m.group("value")
    try:
        threshold = float(raw)
    except ValueError:
        raise UsageError(f"@require '{text}': '{raw}' is not a number") from None
    if threshold != threshold:
        raise UsageError(f"@require '{text}': the threshold must be a number, not NaN")
    if threshold in (math.inf, -math.inf):  # "inf", or a number beyond a float (1e400): a bar nothing meets or all do
        raise UsageError(f"@require '{text}': the threshold must be a finite number, not inf or beyond a float (1e400)")
    selector = m.group("cls")
    if selector is not None and not selector:
        raise UsageError(f"@require '{text}': empty class in []; give a label or a name, e.g. dice[1]>=0.9")
    kind = "loss" if m.group("loss") else "pooled" if m.group("pooled") else "metric"
    if kind == "pooled" and _dataset_key(m.group("name")) and selector is not None:
        raise UsageError(f"@require '{text}': {m.group('name')} is one value over all classes; drop the [class]")
    agg, stat = m.group("agg"), m.group("stat")
    if agg is not None:
        agg = agg.lower()
        if agg not in CLASS_AGGREGATES:
            raise UsageError(f"@require '{text}': unknown aggregate {agg}(...); use {', '.join(CLASS_AGGREGATES)}")
        if kind != "metric" or selector is not None:
            raise UsageError(
                f"@require '{text}': {agg}(...) aggregates a metric over its classes, e.g. {agg}(dice)>=0.8"
            )
    if stat is not None:
        stat = stat.lower()
        if kind != "metric":
            raise UsageError(
                f"@require '{text}': .{stat} (a statistic over cases) applies to metrics, e.g. dice.min>=0.5"
            )
        if stat not in CASE_STATS and not _percentile(stat):
            raise UsageError(
                f"@require '{text}': unknown statistic .{stat}; use .{', .'.join(CASE_STATS)} or a percentile like .p05"
            )
    return Requirement(text.strip(), kind, m.group("name"), selector, m.group("op"), threshold, agg, stat)


def _percentile(stat: str) -> Optional[float]:
    """The percentile of ``pNN`` (p05 = 5, p50 = 50, p99.5 as p995 is not supported), else None."""
    if stat.startswith("p") and stat[1:].isdigit() and 0 <= int(stat[1:]) <= 100:
        return float(int(stat[1:]))
    return None


def _dataset_key(name: str) -> Optional[str]:
    """The dataset-level key (aAcc, mIoU, mAcc, mDice, mFscore) ``name`` spells, any case."""
    from .model import DATASET_KEYS

    return next((k for k in DATASET_KEYS if k.lower() == name.lower()), None)


# Limits (conventions.md, "Requirements"): a gate of more requirements, or a requirements file larger than
# this, is a usage error before any parsing (a 24 MB file of 2M requirements took a minute
# and 1.7 GB to accept).
MAX_REQUIREMENTS = 10_000
MAX_REQUIREMENT_FILE_BYTES = 4 << 20


def load_requirement_file(path: str | Path) -> list[str]:
    """Requirements from a TOML file: ``require = ["dice>=0.85", ...]`` at the top level, or
    under ``[tool.segloss]`` (so they can live in pyproject.toml)."""
    from .io.textfile import read_text
    from .io.toml_lite import TomlError, loads

    p = Path(path)
    try:
        if p.stat().st_size > MAX_REQUIREMENT_FILE_BYTES:
            raise InputError(
                f"is {p.stat().st_size / 1e6:.1f} MB; a requirements file may hold at most "
                f"{MAX_REQUIREMENT_FILE_BYTES >> 20} MB (and {MAX_REQUIREMENTS:,} requirements)",
                p,
            )
        text = read_text(p, MAX_REQUIREMENT_FILE_BYTES, "requirements file")  # a pipe has no size to stat
    except FileNotFoundError:
        raise InputError("requirements file not found; check @require_file", p) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"cannot read the requirements file ({type(exc).__name__})", p) from None
    try:
        data = loads(text)
    except TomlError as exc:
        raise InputError(f'not valid TOML ({exc}); expected require = ["dice>=0.85", ...]', p) from None
    except (RecursionError, ValueError):  # tomllib's ValueError: nesting or numbers beyond its limits
        raise InputError(
            'is not a requirements file (too deeply nested or too large a number); expected require = ["dice>=0.85", ...]',
            p,
        ) from None
    top: Any = data.get("require")
    tool = data.get("tool", {}).get("segloss", {}) if isinstance(data.get("tool"), dict) else {}
    nested: Any = tool.get("require") if isinstance(tool, dict) else None
    if top is not None and nested is not None:
        raise InputError("has require both at the top level and under [tool.segloss]; keep one list", p)
    value = top if top is not None else nested
    if value is None:
        raise InputError(
            'has no requirement list; write require = ["dice>=0.85", "hd95<=5"] (or put it under [tool.segloss])', p
        )
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise InputError('require must be a list of strings, e.g. require = ["dice>=0.85", "hd95<=5"]', p)
    if not value:
        # An empty list would gate nothing and pass: a CI job believing it is gated must hear it.
        raise InputError(
            'require is an empty list: it gates nothing; list requirements, e.g. require = ["dice>=0.85"]', p
        )
    if len(value) > MAX_REQUIREMENTS:
        raise InputError(f"holds {len(value):,} requirements; segloss checks at most {MAX_REQUIREMENTS:,}", p)
    return list(value)


def validate_requirements(
    requirements: Sequence[Requirement], metric_names: Sequence[str], loss_names: Sequence[str]
) -> None:
    """Fail before any work on a requirement naming a metric or loss the run will not have.

    Classes are checked after scoring (the class set comes from the data).
    """
    from .metrics.registry import resolve

    if len(requirements) > MAX_REQUIREMENTS:
        raise UsageError(f"@require: {len(requirements):,} requirements; segloss checks at most {MAX_REQUIREMENTS:,}")
    for req in requirements:
        if req.kind == "pooled" and _dataset_key(req.name):
            continue
        if req.kind in ("metric", "pooled"):
            spec = resolve(req.name)
            if spec.name not in metric_names:
                raise UsageError(f"@require '{req.text}': metric {spec.name} is not computed; add it to @metrics")
            if req.kind == "pooled" and spec.family != "confusion":
                raise UsageError(
                    f"@require '{req.text}': {spec.name} is not a count-based metric, so it has no pooled value; "
                    "gate it on the cases (without pooled.)"
                )
        elif _loss(req) not in loss_names:
            computed = ", ".join(loss_names) or "none"
            raise UsageError(
                f"@require '{req.text}': loss {req.name} is not computed (computed: {computed}); select it with @losses"
            )


def _loss(req: Requirement) -> str:
    """Registry name of the loss a requirement names (aliases accepted; unknown: UsageError)."""
    from .losses.registry import resolve

    return resolve(req.name).name


def _resolve_class(selector: str, classes: dict[Any, ClassSummary], req: Requirement) -> int | str:
    """Key of the class the selector names: a label, a region, or a class name (any case)."""
    available = ", ".join(f"{lab} ({c.name})" if c.name else str(lab) for lab, c in classes.items()) or "none"
    key = selector.strip()
    try:
        label: Optional[int] = int(key)
    except ValueError:
        label = None
    if label is not None:
        if label in classes:
            return label
        raise UsageError(f"@require '{req.text}': class {label} is not among the reported classes ({available})")
    if key in classes:  # a region's name is its key
        return key
    exact = [lab for lab, c in classes.items() if c.name == key]
    matches = exact or [lab for lab, c in classes.items() if (c.name or "").lower() == key.lower()]
    if len(matches) == 1:
        return matches[0]
    if len(matches) > 1:
        raise UsageError(
            f"@require '{req.text}': several classes are named '{key}' ({', '.join(map(str, matches))}); use the label"
        )
    from .selection import did_you_mean

    known = [str(c.name).lower() for c in classes.values() if c.name] + [str(k).lower() for k in classes]
    raise UsageError(
        f"@require '{req.text}': no reported class is named '{key}'{did_you_mean(key, known)} "
        f"(classes: {available}); check @label_names"
    )


def _mean(stats: Optional[Stats]) -> Optional[float]:
    return None if stats is None or stats.mean is None else float(stats.mean)


def check(
    run: RunResult,
    requirements: Sequence[Requirement | str],
    *,
    allow_undefined: bool = False,
) -> list[Check]:
    """One Check per requirement and class, in requirement order, classes by label.

    Requirements are :class:`Requirement` records or their text (``"dice>=0.85"``). Values
    are summary means: for one pair, the case value itself. An undefined value fails unless
    ``allow_undefined``; naming a metric, loss or class the run does not have is a
    UsageError, never a pass.

    Examples
    --------
    >>> import numpy as np
    >>> from segloss_cli import run
    >>> result = run(np.array([[0, 1], [1, 1]]), np.array([[0, 1], [0, 1]]), metrics=["dice"])
    >>> [(c.label, round(c.actual, 3), c.passed) for c in check(result, ["dice>=0.7"])]
    [('1', 0.8, True)]
    """
    reqs = [parse_requirement(r) if isinstance(r, str) else r for r in requirements]
    validate_requirements(reqs, run.metric_names, run.loss_names)
    from .metrics.registry import resolve

    summary = run.summary
    classes = summary.by_label() if summary is not None else {}
    reduced_losses = (summary.losses if summary is not None else None) or {}
    checks: list[Check] = []

    def add(
        req: Requirement,
        key: str,
        label: Optional[int | str],
        actual: Optional[float],
        n_null: int = 0,
        failing: tuple[str, ...] = (),
    ) -> None:
        # An undefined value in any case the statistic covers fails: a mean over the other
        # cases must not hide a missed class (--empty-policy nan) or an empty prediction.
        if actual is None or n_null:
            passed = allow_undefined and (actual is None or req.holds(actual))
        else:
            passed = req.holds(actual)
        name = classes[label].name if label is not None else None
        checks.append(Check(req, key, None if label is None else str(label), name, actual, passed, n_null, failing))

    def class_value(req: Requirement, metric: str, lab) -> tuple[Optional[float], int, tuple[str, ...]]:
        """(value, undefined count, failing cases) of one class: the summary mean, or a statistic
        over the cases' values with .stat."""
        if req.stat is None:
            stats = classes[lab].metrics.get(metric)
            return _mean(stats), (stats.n_null if stats is not None else 0), ()
        per_case = [(c.case, row.metrics.get(metric)) for c in run.cases for row in c.classes if row.label == lab]
        defined = np.array([v for _, v in per_case if v is not None], dtype=np.float64)
        n_null = sum(1 for _, v in per_case if v is None)
        failing = tuple(cid for cid, v in per_case if v is None or not req.holds(float(v)))
        if defined.size == 0:
            return None, n_null, failing
        if req.stat == "mean":
            return float(defined.mean()), n_null, failing
        pct = STAT_PERCENTILES[req.stat] if req.stat in STAT_PERCENTILES else _percentile(req.stat)
        return float(np.percentile(defined, pct or 0.0)), n_null, failing

    pooled = summary.pooled if summary is not None else None
    for req in reqs:
        if req.kind == "pooled":
            if pooled is None:
                raise UsageError(f"@require '{req.text}': the run has no pooled counts")
            key = _dataset_key(req.name)
            if key is not None:
                add(req, f"pooled.{key}", None, pooled.dataset.get(key))
                continue
            metric = resolve(req.name).name
            rows = pooled.by_label()
            labels = (
                sorted(rows, key=class_order) if req.selector is None else [_resolve_class(req.selector, classes, req)]
            )
            if not labels:
                raise UsageError(f"@require '{req.text}': the run reported no classes to check")
            for lab in labels:
                value = rows[lab].metrics.get(metric)
                add(req, f"pooled.{metric}", lab, None if value is None else float(value))
        elif req.kind == "metric":
            metric = resolve(req.name).name
            labels = (
                sorted(classes, key=class_order)
                if req.selector is None
                else [_resolve_class(req.selector, classes, req)]
            )
            if not labels:
                raise UsageError(f"@require '{req.text}': the run reported no classes to check")
            key = metric if req.stat is None else f"{metric}.{req.stat}"
            if req.aggregate is None:
                for lab in labels:
                    add(req, key, lab, *class_value(req, metric, lab))
            else:
                values = [class_value(req, metric, lab) for lab in labels]
                defined = [v for v, _, _ in values if v is not None]
                n_null = sum(n for _, n, _ in values) + sum(1 for v, _, _ in values if v is None)
                actual = float(CLASS_AGGREGATES[req.aggregate](defined)) if defined else None
                add(req, f"{req.aggregate}({key})", None, actual, n_null)
        else:
            loss = _loss(req)
            batch = summary.pooled.losses if summary is not None and summary.pooled is not None else None
            if batch is not None and loss in batch and req.stat is None:  # --reduction batch: the pooled loss
                res = batch[loss]
                if req.selector is None:
                    add(req, f"loss.{loss}", None, res.value)
                else:
                    lab = _resolve_class(req.selector, classes, req)
                    if lab not in res.per_class:
                        raise UsageError(
                            f"@require '{req.text}': loss {loss} has no per-class value for class {lab}; drop the [class]"
                        )
                    add(req, f"loss.{loss}", lab, res.per_class[lab])
            elif req.selector is None:
                stats = reduced_losses.get(loss)
                add(req, f"loss.{loss}", None, _mean(stats), stats.n_null if stats is not None else 0)
            else:
                lab = _resolve_class(req.selector, classes, req)
                per_class = classes[lab].losses or {}
                if loss not in per_class:
                    raise UsageError(
                        f"@require '{req.text}': loss {loss} has no per-class value for class {lab}; drop the [class]"
                    )
                add(req, f"loss.{loss}", lab, _mean(per_class[loss]), per_class[loss].n_null)
    return checks
