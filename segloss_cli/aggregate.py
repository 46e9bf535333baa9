"""Summary statistics over cases, skipping undefined values and saying how many there were.

Per class and metric (and loss): mean, std (population, ddof=0 as numpy), median, q1, q3
(linear interpolation, numpy's default), min, max, n (values used) and n_null (undefined
values skipped). ``mean_over_classes``: for each metric, the same statistics over cases of
each case's mean over its defined class values. ``worst_cases``: the cases with the worst
mean over classes of one metric (the folder table's short list).
"""

from __future__ import annotations

from typing import Any, Iterable, Optional

import numpy as np

from .model import STAT_KEYS, CaseResult


def stats(values: Iterable[Optional[float]]) -> dict[str, Any]:
    vals = list(values)
    defined = np.array([float(v) for v in vals if v is not None], dtype=np.float64)
    out: dict[str, Any] = {"n": int(defined.size), "n_null": len(vals) - int(defined.size)}
    if defined.size == 0:
        return {**{k: None for k in STAT_KEYS[:7]}, **out}
    q1, med, q3 = np.percentile(defined, [25, 50, 75])
    return {
        "mean": float(defined.mean()),
        "std": float(defined.std()),
        "median": float(med),
        "q1": float(q1),
        "q3": float(q3),
        "min": float(defined.min()),
        "max": float(defined.max()),
        **out,
    }


def summarize(cases: Iterable[CaseResult], metric_names: tuple[str, ...], loss_names: tuple[str, ...]) -> dict[str, Any]:
    cases = list(cases)
    labels: list[int] = sorted({row.label for case in cases for row in case.classes})
    names: dict[int, Optional[str]] = {}
    per_metric: dict[int, dict[str, list]] = {lab: {m: [] for m in metric_names} for lab in labels}
    per_loss: dict[int, dict[str, list]] = {lab: {l: [] for l in loss_names} for lab in labels}
    loss_values: dict[str, list] = {l: [] for l in loss_names}
    class_means: dict[str, list] = {m: [] for m in metric_names}
    for case in cases:
        for row in case.classes:
            names.setdefault(row.label, row.name)
            for m in metric_names:
                per_metric[row.label][m].append(row.metrics.get(m))
        for m in metric_names:
            defined = [row.metrics.get(m) for row in case.classes if row.metrics.get(m) is not None]
            class_means[m].append(float(np.mean(defined)) if defined else None)
        for l in loss_names:
            res = case.losses.get(l)
            loss_values[l].append(None if res is None else res.value)
            for lab in labels:
                if res is not None and lab in res.per_class:
                    per_loss[lab][l].append(res.per_class[lab])
    out_classes = {}
    for lab in labels:
        entry: dict[str, Any] = {"name": names.get(lab), "metrics": {m: stats(per_metric[lab][m]) for m in metric_names}}
        if loss_names:
            entry["losses"] = {l: stats(per_loss[lab][l]) for l in loss_names if per_loss[lab][l]}
        out_classes[str(lab)] = entry
    summary: dict[str, Any] = {
        "n_cases": len(cases),
        "classes": out_classes,
        "mean_over_classes": {m: stats(class_means[m]) for m in metric_names},
    }
    if loss_names:
        summary["losses"] = {l: stats(loss_values[l]) for l in loss_names}
    return summary


def worst_cases(cases: Iterable[CaseResult], metric: str, *, higher_is_better: bool = True, k: int = 5) -> list[dict[str, Any]]:
    """The ``k`` cases with the worst mean over classes of ``metric``, worst first.

    Each entry: case, mean over its defined class values, and its worst class (label, name,
    value). Cases whose values are all undefined come first (an undefined headline value is
    never better than a defined one); ties break by case id so the list is stable.
    """
    rows = []
    for case in cases:
        defined = [(row.metrics.get(metric), row) for row in case.classes if row.metrics.get(metric) is not None]
        if defined:
            mean = float(np.mean([v for v, _ in defined]))
            pick = min if higher_is_better else max
            value, row = pick(defined, key=lambda vr: (float(vr[0]), vr[1].label) if higher_is_better else (float(vr[0]), -vr[1].label))
            worst = {"label": str(row.label), "name": row.name, "value": float(value)}
        else:
            mean, worst = None, None
        rows.append({"case": case.case, "mean": mean, "worst_class": worst})
    sign = 1.0 if higher_is_better else -1.0
    rows.sort(key=lambda r: (r["mean"] is not None, sign * (r["mean"] or 0.0), r["case"]))
    return rows[:k]
