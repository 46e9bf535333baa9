"""`segloss eval`'s per-case outputs, written as the cases come: ``--cases-jsonl``, ``--csv`` and
``--format csv`` (stdout, spooled to a temporary file), and the notes of the cases (each note
once, how many cases, the first). Given to the run as its ``on_result``; the run then keeps
no case unless an output needs them all (api.run_params ``keep_cases``).

Used as a context: on an error or an interrupt every temporary file is removed, so nothing is
written (the run's all-or-nothing rule); :meth:`outputs` are put in place by
io/atomic.write_all_atomic with the other outputs.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Optional

from ..io.atomic import StreamedOutput
from ..model import CaseResult


class CaseStreams:
    def __init__(
        self,
        *,
        csv_path: Optional[Path],
        jsonl_path: Optional[Path],
        stdout_csv: bool,
        metric_names: tuple[str, ...],
        loss_order: tuple[str, ...],
    ):
        from ..report.stream import CsvStream, JsonlStream

        self.n_cases = 0
        self.notes: dict[str, list[Any]] = {}  # note -> [number of cases, first case]
        self._files: list[StreamedOutput] = []
        self._streams: list[Any] = []
        self.stdout: Optional[StreamedOutput] = None
        try:
            if jsonl_path is not None:
                self._streams.append(JsonlStream(self._open(jsonl_path)))
            if csv_path is not None:
                self._streams.append(CsvStream(self._open(csv_path), metric_names, loss_order))
            if stdout_csv:
                self.stdout = self._open(None)
                self._streams.append(CsvStream(self.stdout, metric_names, loss_order))
        except BaseException:
            self.discard()
            raise

    def _open(self, path: Optional[Path]) -> StreamedOutput:
        out = StreamedOutput(path)
        self._files.append(out)
        return out

    def add(self, case: CaseResult) -> None:
        self.n_cases += 1
        for note in case.notes:
            seen = self.notes.setdefault(note, [0, case.case])
            seen[0] += 1
        for stream in self._streams:
            stream.add(case)

    def outputs(self) -> tuple[StreamedOutput, ...]:
        """The files to put in place (the stdout spool stays: :meth:`copy_stdout`)."""
        for stream in self._streams:
            stream.finish()
        return tuple(f for f in self._files if f is not self.stdout)

    def copy_stdout(self, fh) -> None:
        if self.stdout is not None:
            self.stdout.copy_to(fh)

    def discard(self) -> None:
        for f in self._files:
            f.discard()

    def __enter__(self) -> CaseStreams:
        return self

    def __exit__(self, *exc) -> None:
        self.discard()  # what was put in place stays; any temporary file left goes
