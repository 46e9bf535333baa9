"""Every metric declared once: the CLI choices, report columns, `segloss metrics`, the docs
and the parametrised tests all read this list.

A metric belongs to a *family* that says what it is computed from: ``confusion`` metrics are
formulas over per-class TP/FP/FN/TN counts (one pass over the data serves them all);
``surface`` metrics are reductions of per-class surface distances (computed only when one
is selected); ``case`` metrics are one value per case from the counts of every label (the
whole confusion matrix), repeated in each class row; ``shape`` metrics are computed from each
class's binary masks (metrics/shape.py).

Empty-mask rules (conventions.md, "Empty masks"):
- ``similarity``: both empty -> 1, one empty -> 0 under ``worst``; null under ``nan``.
- ``distance``: both empty -> 0, one empty -> the worst distance under ``worst``; null under ``nan``.
- ``ratio``: null exactly when the formula's denominator is 0 (either policy).
- ``always``: always defined (counts, volumes, accuracy).
- ``lesion``: the BraTS 2023 value under ``worst`` (both empty -> lesion_dice 1, lesion_hd95 0);
  null under ``nan`` when PRED or GT is empty.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Optional

from ..errors import UsageError
from ..model import Status
from ..selection import did_you_mean, register_name, select_names


@dataclass(frozen=True)
class MetricSpec:
    name: str
    formula: str
    family: str  # confusion | surface | case | shape
    empty_rule: str  # similarity | distance | ratio | always
    lo: float
    hi: float
    higher_is_better: Optional[bool]  # None: neither (counts, volumes, signed differences)
    description: str
    aliases: tuple[str, ...] = ()
    unit: Optional[str] = None
    integer: bool = False  # reported as an integer (counts)
    compute: Optional[Callable] = None
    in_table: bool = False  # shown in the terminal table when --metrics is not given
    # In the default selection and the family groups (overlap, distance). Metrics added after
    # wave 1 are False so that no default output changes: they are computed when named, or
    # by `all` or their own group.
    default: bool = True


METRICS: dict[str, MetricSpec] = {}
_ALIASES: dict[str, str] = {}

GROUPS = {
    "all": lambda spec: True,
    "overlap": lambda spec: spec.family == "confusion" and spec.default,
    "distance": lambda spec: spec.family == "surface" and spec.default,
    # The opt-in count metrics of issue 17 (rates, likelihood ratios, multi-class MCC).
    "overlap_extra": lambda spec: spec.family in ("confusion", "case") and not spec.default,
    # Directed (one-way) surface distances: hd_pg, hd_gp, hd95_pg, hd95_gp, asd_pg, asd_gp.
    "directed": lambda spec: spec.family == "surface" and spec.name.endswith(("_pg", "_gp")),
    "shape": lambda spec: spec.family == "shape",
    # Lesion-wise, detection and panoptic metrics of connected components (issue 18).
    "lesion": lambda spec: spec.family == "lesion",
}


def register(spec: MetricSpec) -> MetricSpec:
    return register_name(spec, METRICS, _ALIASES, GROUPS, "metric")


def declarer(family: str, **defaults: Any) -> Callable[..., MetricSpec]:
    """The declaring function of one metrics module: ``declare(name, formula, empty_rule, lo,
    hi, better, description, compute=None, **fields)`` registers a MetricSpec of ``family``
    (a field may override it), the module's ``defaults`` under the keywords given."""

    def declare(name, formula, empty_rule, lo, hi, better, description, compute=None, **fields) -> MetricSpec:
        return register(
            MetricSpec(
                name=name,
                formula=formula,
                empty_rule=empty_rule,
                lo=lo,
                hi=hi,
                higher_is_better=better,
                description=description,
                compute=compute,
                **{"family": family, **defaults, **fields},
            )
        )

    return declare


def _load_all() -> None:
    # Import for the side effect of registering; kept lazy so listing names stays cheap.
    # Overlap first: the registry's order (CLI choices, report columns, JSON keys) is the
    # overlap metrics, then the surface ones, whichever module some caller imported before.
    from . import overlap  # noqa: F401

    # isort: split
    from . import distance  # noqa: F401

    # isort: split
    from . import shape  # noqa: F401

    # isort: split
    from . import lesion  # noqa: F401


def all_metrics() -> dict[str, MetricSpec]:
    _load_all()
    return METRICS


def resolve(name: str) -> MetricSpec:
    _load_all()
    key = name.strip().lower()
    if key not in _ALIASES:
        raise UsageError(f"unknown metric '{name}'{did_you_mean(key, _ALIASES)}; run `segloss metrics` for the list")
    return METRICS[_ALIASES[key]]


def select(names: Optional[str]) -> tuple[str, ...]:
    """Metric names from a comma-separated ``--metrics`` value (names, aliases or groups).

    ``None`` selects the default metrics (every metric whose spec has ``default=True``). Order
    follows the registry, duplicates drop.
    """
    specs = all_metrics()
    if names is None:
        return tuple(n for n, s in specs.items() if s.default)
    return select_names(names, specs, GROUPS, resolve)


def class_status(n_pred: int, n_gt: int) -> Status:
    if n_pred == 0 and n_gt == 0:
        return "both_empty"
    if n_gt == 0:
        return "gt_empty"
    if n_pred == 0:
        return "pred_empty"
    return "ok"


def apply_empty_rule(spec, value, status: str, policy: str, worst: Optional[float]):
    """The value conventions.md reports for this status; None means undefined (JSON null)."""
    if spec.empty_rule == "lesion" and status != "ok" and policy == "nan":
        return None  # BraTS's own values (1 / 0 when both are empty) under worst
    if spec.empty_rule in ("similarity", "distance") and status != "ok":
        if policy == "nan":
            return None
        if spec.empty_rule == "similarity":
            return 1.0 if status == "both_empty" else 0.0
        return 0.0 if status == "both_empty" else worst
    if spec.integer:
        return int(value)
    v = float(value)
    return None if not math.isfinite(v) else v


# --- per-metric empty-case values (issue 17): what a status gives, over the policy's rule ----

EMPTY_STATUSES = ("both_empty", "gt_empty", "pred_empty")
_STATUS_WORDS = {
    "both": ("both_empty",),
    "both_empty": ("both_empty",),
    "gt": ("gt_empty",),
    "gt_empty": ("gt_empty",),
    "pred": ("pred_empty",),
    "pred_empty": ("pred_empty",),
    "one": ("gt_empty", "pred_empty"),
    "any": EMPTY_STATUSES,
}
# The words of an undefined value: JSON null, left out of every mean (n_null counts it).
_UNDEFINED_WORDS = ("nan", "null", "skip", "ignore", "none")
WORST = "worst"  # the worst distance (--worst-distance, else the GT field of view's diagonal)

EmptyValues = Mapping[str, Mapping[str, Any]]  # metric -> status -> float (inf too), None or WORST


def _empty_value(text: Any, metric: str, where: str) -> Any:
    """One cell: a number (inf included), None (nan, null, skip, ignore) or WORST."""
    if text is None:
        return None
    if isinstance(text, str):
        word = text.strip().lower()
        if word in _UNDEFINED_WORDS:
            return None
        if word == WORST:
            if METRICS[metric].empty_rule != "distance":
                raise UsageError(f"@empty_values {where}: 'worst' is the worst distance, for distance metrics only")
            return WORST
        try:
            value = float(word)
        except ValueError:
            raise UsageError(f"@empty_values {where}: {text!r} is not a number, inf, nan (or skip) or worst") from None
    elif isinstance(text, bool) or not isinstance(text, (int, float)):
        raise UsageError(f"@empty_values {where}: {text!r} is not a number, inf, nan (or skip) or worst")
    else:
        value = float(text)
    return None if math.isnan(value) else value


def _cells(metric_text: str, cells: Any) -> tuple[tuple[str, ...], dict[str, Any]]:
    try:
        metrics = select(metric_text)
    except UsageError as exc:
        raise UsageError(f"@empty_values: {exc}") from None
    if not metrics:
        raise UsageError(f"@empty_values: {metric_text!r} names no metric")
    counts = [m for m in metrics if METRICS[m].integer]
    if counts and len(metrics) == 1:
        raise UsageError(f"@empty_values: {counts[0]} is a count, defined for every case")
    metrics = tuple(m for m in metrics if not METRICS[m].integer)
    if isinstance(cells, str):
        pairs = []
        for part in cells.split(","):
            if not part.strip():
                continue
            key, eq, value = part.partition("=")
            if not eq:
                raise UsageError(
                    f"@empty_values {metric_text}: {part.strip()!r} is not status=value (status: both, gt, pred, one, any)"
                )
            pairs.append((key, value))
    elif isinstance(cells, Mapping):
        pairs = list(cells.items())
    else:
        raise UsageError(f"@empty_values {metric_text}: give {{status: value}} or 'status=value,...'")
    out: dict[str, Any] = {}
    for key, value in pairs:
        word = str(key).strip().lower()
        if word not in _STATUS_WORDS:
            raise UsageError(
                f"@empty_values {metric_text}: unknown status {str(key).strip()!r} "
                "(both, gt, pred, one = gt and pred, any = all three)"
            )
        for m in metrics:
            cell = _empty_value(value, m, f"{metric_text}:{word}")
            for status in _STATUS_WORDS[word]:
                out.setdefault(m, {})[status] = cell
    return metrics, out


def parse_empty_values(spec: Any) -> dict[str, dict[str, Any]]:
    """Per-metric empty-case values from the API's mapping or the command line's text.

    Text: ``METRIC:STATUS=VALUE,...`` items separated by ``;`` (or given as a list), e.g.
    ``"dice:both=1,gt=0;hd95:one=inf"``. STATUS: ``both`` (both empty), ``gt`` (GT empty,
    PRED not), ``pred`` (PRED empty, GT not), ``one`` (gt and pred), ``any`` (all three).
    VALUE: a number, ``inf``, ``nan`` (or ``null``, ``skip``, ``ignore``: undefined, null in
    JSON and left out of means) or ``worst`` (the worst distance; distance metrics). METRIC:
    a name, an alias or a group. A mapping: ``{metric: {status: value}}`` or
    ``{metric: "status=value,..."}``. Later items override earlier ones cell by cell.

    Examples
    --------
    >>> parse_empty_values("dice:both=1,gt=0;hd:one=inf")["hd"]
    {'gt_empty': inf, 'pred_empty': inf}
    >>> parse_empty_values({"iou": {"both": "nan"}})
    {'iou': {'both_empty': None}}
    """
    _load_all()
    if spec is None:
        return {}
    items: list[tuple[str, Any]] = []
    if isinstance(spec, str):
        spec = [spec]
    if isinstance(spec, Mapping):
        items = [(str(k), v) for k, v in spec.items()]
    else:
        for text in spec:
            for item in str(text).split(";"):
                if not item.strip():
                    continue
                name, colon, cells = item.partition(":")
                if not colon:
                    raise UsageError(f"@empty_values: {item.strip()!r} is not METRIC:STATUS=VALUE,...")
                items.append((name.strip(), cells))
    out: dict[str, dict[str, Any]] = {}
    for name, cells in items:
        _, table = _cells(name, cells)
        for m, row in table.items():
            out.setdefault(m, {}).update(row)
    return {m: out[m] for m in METRICS if m in out}  # registry order


def merge_empty_values(base: EmptyValues, over: EmptyValues) -> dict[str, dict[str, Any]]:
    """``base`` with each cell of ``over`` replacing its own (a preset under explicit values)."""
    out = {m: dict(row) for m, row in base.items()}
    for m, row in over.items():
        out.setdefault(m, {}).update(row)
    return {m: out[m] for m in METRICS if m in out}


def empty_values_by_status(table: EmptyValues) -> dict[str, dict[str, Any]]:
    """status -> metric -> value: the form :func:`apply_empty_values` reads."""
    out: dict[str, dict[str, Any]] = {}
    for m, row in table.items():
        for status, value in row.items():
            out.setdefault(status, {})[m] = value
    return out


def apply_empty_values(metrics: dict, status: str, by_status: Mapping[str, Mapping[str, Any]], worst) -> None:
    """Overwrite the values of ``metrics`` (one class row) that the per-metric table sets for
    ``status``; called only for an empty status with a table, so the usual row pays nothing."""
    cells = by_status.get(status)
    if cells:
        for m, value in cells.items():
            if m in metrics:
                metrics[m] = worst if value is WORST else value


def recorded_empty_values(table: EmptyValues) -> dict[str, dict[str, Any]]:
    """The table as JSON holds it: numbers, "inf"/"-inf", "nan" (undefined) or "worst"."""

    def text(v: Any) -> Any:
        if v is None:
            return "nan"
        if v is WORST or isinstance(v, str):
            return v
        return v if math.isfinite(v) else ("inf" if v > 0 else "-inf")

    return {m: {s: text(row[s]) for s in EMPTY_STATUSES if s in row} for m, row in table.items()}
