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
from collections.abc import Callable
from dataclasses import dataclass
from typing import Optional

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
