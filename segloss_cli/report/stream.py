"""Per-case outputs written as the cases come (``--cases-jsonl``, a streamed ``--csv``).

Each renders one case at a time into a text sink (io/atomic.StreamedOutput) and holds no case,
so a run that streams need not keep its cases. The text is that of the whole-run renderers:
a JSON line is the case of the JSON report (json_.py), and the streamed CSV is byte for byte
``render_csv`` of the same cases.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from typing import Any, Protocol

from ..model import CaseResult, case_rows
from .csv_ import csv_cells, csv_header
from .json_ import _case_line


class Sink(Protocol):
    def write(self, text: str) -> None: ...

    def rewrite(self, transform: Any) -> None: ...


class JsonlStream:
    """One line per case: the per-case object of the JSON report (``cases[i]``), compact."""

    def __init__(self, sink: Sink):
        self.sink = sink

    def add(self, case: CaseResult) -> None:
        self.sink.write(_case_line(case) + "\n")

    def finish(self) -> None:
        pass


class CsvStream:
    """The ``--csv`` rows of each case as it comes.

    The CSV's loss columns are the losses some case computed (in ``loss_order``, the
    registry's), which only the whole run knows. The columns start as the first case's losses;
    a later case with another loss (a folder mixing label maps and score maps) widens them: the
    rows so far are rewritten once with an empty cell in the new column, as the whole-run
    CSV has them. That happens at most once per loss, and never in a folder of one kind.
    """

    def __init__(self, sink: Sink, metric_names: Sequence[str], loss_order: Sequence[str]):
        self.sink = sink
        self.metric_names = tuple(metric_names)
        self.loss_order = tuple(loss_order)
        self.losses: tuple[str, ...] = ()
        self.started = False

    def _header(self) -> list[str]:
        return csv_header(self.metric_names, self.losses)

    def add(self, case: CaseResult) -> None:
        if not self.started:
            self.losses = self._ordered(case.losses)
            self._write([self._header()])
            self.started = True
        elif any(n not in self.losses for n in case.losses):
            self._widen(self._ordered(set(self.losses) | set(case.losses)))
        header = self._header()
        self._write(csv_cells(rec, header) for rec in case_rows(case, self.metric_names, self.losses))

    def finish(self) -> None:
        if not self.started:  # no case: the header alone, as render_csv of no case
            self._write([self._header()])
            self.started = True

    def _ordered(self, names) -> tuple[str, ...]:
        return tuple(n for n in self.loss_order if n in names)

    def _write(self, rows) -> None:
        buf = io.StringIO()
        csv.writer(buf, lineterminator="\n").writerows(rows)
        self.sink.write(buf.getvalue())

    def _widen(self, losses: tuple[str, ...]) -> None:
        fixed = 4 + len(self.metric_names)
        old = self.losses
        new_header = csv_header(self.metric_names, losses)

        def transform(src, dst) -> None:
            writer = csv.writer(dst, lineterminator="\n")
            for n, cells in enumerate(csv.reader(src)):
                if n == 0:
                    writer.writerow(new_header)
                    continue
                by_loss = dict(zip(old, cells[fixed:]))
                writer.writerow([*cells[:fixed], *(by_loss.get(name, "") for name in losses)])

        self.sink.rewrite(transform)
        self.losses = losses
