"""CSV output: one row per case and class; stable columns; empty cell = undefined."""

from __future__ import annotations

import csv
import io
from typing import Any, Optional

from ..model import STAT_KEYS, RunResult


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return repr(value)  # shortest text that reads back to the same float
    return str(value)


def render_csv(run: RunResult) -> str:
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(["case", "label", "name", "status", *run.metric_names, *(f"loss_{n}" for n in run.loss_names)])
    for case in run.cases:
        for row in case.classes:
            losses = []
            for name in run.loss_names:
                res = case.losses.get(name)
                losses.append(None if res is None else res.per_class.get(row.label, res.value))
            writer.writerow(
                [case.case, row.label, row.name or "", row.status]
                + [_cell(row.metrics.get(m)) for m in run.metric_names]
                + [_cell(v) for v in losses]
            )
    return buf.getvalue()


def render_summary_csv(run: RunResult) -> str:
    """One row per class and metric (then loss) with the summary statistics."""
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(["label", "name", "kind", "key", *STAT_KEYS])
    summary: Optional[dict] = run.summary
    if not summary:
        return buf.getvalue()
    for label, entry in summary["classes"].items():
        for kind, singular in (("metrics", "metric"), ("losses", "loss")):
            for key, st in entry.get(kind, {}).items():
                writer.writerow([label, entry.get("name") or "", singular, key, *(_cell(st[k]) for k in STAT_KEYS)])
    for key, st in summary.get("mean_over_classes", {}).items():
        writer.writerow(["mean_over_classes", "", "metric", key, *(_cell(st[k]) for k in STAT_KEYS)])
    for key, st in summary.get("losses", {}).items():
        writer.writerow(["all", "", "loss", key, *(_cell(st[k]) for k in STAT_KEYS)])
    return buf.getvalue()
