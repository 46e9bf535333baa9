"""CSV output: one row per case and class; stable columns; empty cell = undefined."""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Callable
from typing import Any

from ..model import STAT_KEYS, RunResult, Stats

# A spreadsheet (Excel, LibreOffice, Google Sheets) runs a cell that starts with one of these as
# a formula: a case id or class name "=HYPERLINK(...)" would be code on opening the CSV (OWASP,
# "CSV Injection"). Such text cells get a leading single quote, which the spreadsheet hides.
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
_NUMBER = re.compile(r"[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?")


def text_cell(value: Any) -> str:
    """User text (a case id, a class name) as a CSV cell: a leading ``'`` when it would start a
    formula, unless it is a plain number (``-1``, ``-0.5``: data, not a formula)."""
    text = "" if value is None else str(value)
    if text.startswith(_FORMULA_START):
        return text if _NUMBER.fullmatch(text) else "'" + text
    return text


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
    return [
        text_cell(rec["case"]),
        text_cell(rec["label"]),
        text_cell(rec["name"]),
        rec["status"],
        *(_cell(rec[key]) for key in header[4:]),
    ]


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
    write_summary_csv(run, buf.write)
    return buf.getvalue()


class _Rows:
    """csv.writer rows handed to ``write`` in pieces of about 64 KB (not the whole document)."""

    def __init__(self, write: Callable[[str], Any]):
        self.out = write
        self.buf = io.StringIO()
        self.writer = csv.writer(self.buf, lineterminator="\n")

    def row(self, cells: list[Any]) -> None:
        self.writer.writerow(cells)
        if self.buf.tell() >= 1 << 16:
            self.flush()

    def flush(self) -> None:
        text = self.buf.getvalue()
        if text:
            self.out(text)
        self.buf.seek(0)
        self.buf.truncate()


def write_summary_csv(run: RunResult, write: Callable[[str], Any]) -> None:
    """:func:`render_summary_csv`'s text given to ``write`` in pieces, as the JSON is
    (json_.write_json): memory holds one piece, never the document."""
    rows = _Rows(write)
    rows.row(["label", "name", "kind", "key", *STAT_KEYS])
    summary = run.summary
    if summary is None:
        rows.flush()
        return

    def one_stat(label: str, name: str, kind: str, key: str, st: Stats) -> None:
        rows.row([text_cell(label), text_cell(name), kind, key, *(_cell(getattr(st, k)) for k in STAT_KEYS)])

    for entry in summary.classes:
        for key, st in entry.metrics.items():
            one_stat(str(entry.label), entry.name or "", "metric", key, st)
        for key, st in (entry.losses or {}).items():
            one_stat(str(entry.label), entry.name or "", "loss", key, st)
    for key, st in summary.mean_over_classes.items():
        one_stat("mean_over_classes", "", "metric", key, st)
    for key, st in (summary.losses or {}).items():
        one_stat("all", "", "loss", key, st)
    if summary.pooled is not None:
        # Pooled values are one number each: it goes in the mean column, n is the number of cases.
        pooled = summary.pooled

        def one(label: str, name: str, key: str, value) -> None:
            rows.row([text_cell(label), text_cell(name), "pooled", key, _cell(value), *[""] * 6, pooled.n_cases, ""])

        for row in pooled.classes:
            for key, value in row.metrics.items():
                one(str(row.label), row.name or "", key, value)
        for key, value in pooled.mean_over_classes.items():
            one("mean_over_classes", "", key, value)
        for key, value in pooled.dataset.items():
            one("all", "", key, value)
    rows.flush()
