"""CSV output: one row per case and class; stable columns; empty cell = undefined."""

from __future__ import annotations

import csv
import io
from typing import Any

from ..model import STAT_KEYS, RunResult, Stats


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return repr(value)  # shortest text that reads back to the same float
    return str(value)


def csv_header(metric_names, loss_names) -> list[str]:
    return ["case", "label", "name", "status", *metric_names, *(f"loss_{n}" for n in loss_names)]


def csv_cells(rec: dict[str, Any], header: list[str]) -> list[Any]:
    """One record (model.case_rows) as the CSV's cells under ``header``."""
    return [rec["case"], rec["label"], rec["name"] or "", rec["status"], *(_cell(rec[key]) for key in header[4:])]


def render_csv(run: RunResult) -> str:
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    header = csv_header(run.metric_names, run.loss_names)
    writer.writerow(header)
    for rec in run.rows():
        writer.writerow(csv_cells(rec, header))
    return buf.getvalue()


def render_summary_csv(run: RunResult) -> str:
    """One row per class and metric (then loss) with the summary statistics."""
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(["label", "name", "kind", "key", *STAT_KEYS])
    summary = run.summary
    if summary is None:
        return buf.getvalue()

    def write(label: str, name: str, kind: str, key: str, st: Stats) -> None:
        writer.writerow([label, name, kind, key, *(_cell(getattr(st, k)) for k in STAT_KEYS)])

    for entry in summary.classes:
        for key, st in entry.metrics.items():
            write(str(entry.label), entry.name or "", "metric", key, st)
        for key, st in (entry.losses or {}).items():
            write(str(entry.label), entry.name or "", "loss", key, st)
    for key, st in summary.mean_over_classes.items():
        write("mean_over_classes", "", "metric", key, st)
    for key, st in (summary.losses or {}).items():
        write("all", "", "loss", key, st)
    if summary.pooled is not None:
        # Pooled values are one number each: it goes in the mean column, n is the number of cases.
        pooled = summary.pooled

        def one(label: str, name: str, key: str, value) -> None:
            writer.writerow([label, name, "pooled", key, _cell(value), *[""] * 6, pooled.n_cases, ""])

        for row in pooled.classes:
            for key, value in row.metrics.items():
                one(str(row.label), row.name or "", key, value)
        for key, value in pooled.mean_over_classes.items():
            one("mean_over_classes", "", key, value)
        for key, value in pooled.dataset.items():
            one("all", "", key, value)
    return buf.getvalue()
