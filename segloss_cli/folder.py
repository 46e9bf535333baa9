"""Score a folder of predictions against a folder of ground truths.

Two steps, both free of printing:

1. :func:`pair_folders` matches files by case id (file name without .nii.gz/.nii/.npy/.npz,
   minus an optional suffix such as ``_seg``) and lists what did not pair: missing
   predictions, extra predictions and duplicate ids. It reads no image data.
2. :func:`score_pairs` scores the pairs. The first case runs alone: that compiles (or
   loads from numba's on-disk cache) exactly the kernel specialisations the data needs, once.
   The other cases go to ``jobs`` worker threads, one case per worker at a time. Results
   are sorted by case id, so the output does not depend on the number of workers or on the
   order of files on disk.

Why threads and not processes: the work of a case is inflating its files (ISA-L/zlib
release the GIL) and numba kernels (compiled ``nogil``), so threads run it in parallel,
and they start in microseconds where a spawned process re-imports numpy, numba and the
kernels (about a second of CPU each, as long as a hundred small cases take). Each worker
thread runs kernels on ``cores // jobs`` numba threads (numba's thread count is per
calling thread), so workers x threads never exceeds the cores. The GIL-bound remainder
(header parsing, building results) is a few percent of a case.
"""

from __future__ import annotations

import fnmatch
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Optional

import numpy as np

from .errors import InputError, UsageError
from .io.masks import is_mask_folder
from .io.readers import FORMATS, SUFFIXES, case_id, file_kind
from .io.remote import as_local_or_url, is_url, list_files

if TYPE_CHECKING:  # pragma: no cover
    from .evaluate import EvalParams
    from .shards import ShardInfo
from .model import CaseResult, MissingPolicy, PairingSummary, Prediction, Volume

_MAX_LISTED = 10


@dataclass(frozen=True)
class CasePair:
    case: str
    pred: Optional[str]  # None: the prediction is missing (scored as empty under --missing worst)
    gt: str


@dataclass(frozen=True)
class Pairing:
    pairs: tuple[CasePair, ...]  # sorted by case id; includes missing predictions only under "worst"
    missing: tuple[str, ...] = ()  # case ids with a GT but no prediction
    extra: tuple[str, ...] = ()  # case ids with a prediction but no GT
    policy: str = "error"
    shard: Optional[ShardInfo] = None  # set when this is one shard of the pairing (shards.select_shard)

    def summary(self) -> PairingSummary:
        """What pairing did, for the run's summary."""
        return PairingSummary(
            missing_policy=str(self.policy),
            n_pairs=sum(p.pred is not None for p in self.pairs),
            missing_predictions=self.missing,
            n_missing_scored_as_empty=len(self.missing) if self.policy == "worst" else 0,
            n_missing_skipped=len(self.missing) if self.policy == "skip" else 0,
            extra_predictions=self.extra,
        )


def default_jobs() -> int:
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):
        return max(1, os.cpu_count() or 1)


def _listing(names, limit: int = _MAX_LISTED) -> str:
    names = list(names)
    shown = ", ".join(names[:limit])
    return shown + (f", ... ({len(names)} in all)" if len(names) > limit else "")


def normalize_ext(ext: str) -> str:
    """A file extension as ``file_kind`` spells it (``npz`` -> ``.npz``), or UsageError."""
    text = ext.strip().lower()
    text = text if text.startswith(".") else "." + text
    if text not in SUFFIXES:
        raise UsageError(f"@pred_ext {ext!r} is not an image file extension; use one of {', '.join(SUFFIXES)}")
    return text


def _index(
    folder: Path,
    role: str,
    pattern: Optional[str],
    suffix: Optional[str],
    prefer_ext: Optional[str] = None,
    storage_options=None,
    recursive: bool = False,
) -> dict[str, Path]:
    """case id -> file for every image file directly in ``folder`` (hidden files skipped), and
    case id -> folder for every sub-folder of per-structure masks (``case1/liver.nii.gz``, or
    ``case1/segmentations/liver.nii.gz`` as TotalSegmentator writes).

    ``recursive``: every image file in ``folder`` and its sub-folders (hidden ones skipped) is a
    case, its id the file name's (Cityscapes' ``gtFine/val/<city>/<city>_..._gtFine_labelIds.png``
    pairs with a flat or nested prediction folder by name); no sub-folder is a mask case.

    A case with several files (nnU-Net's ``case.nii.gz`` and ``case.npz``) takes the one whose
    extension is ``prefer_ext``; other files (``case.pkl``, dataset.json) are not images.
    A URL (io/remote.py) is listed through fsspec: its objects, without sub-folders."""
    by_id: dict[str, list[Path]] = {}
    if is_url(folder):
        if recursive:
            raise UsageError("@recursive lists local folders only; give the object prefix that holds the files")
        entries: list = list_files(str(folder), role, storage_options)
    else:
        if not folder.is_dir():
            raise InputError(f"{role} folder not found; check the path", folder)
        try:
            entries = _walk(folder) if recursive else sorted(folder.iterdir())
        except PermissionError:
            raise InputError(f"cannot list the {role} folder (permission denied)", folder) from None
    for path in entries:
        name = path.name
        if name.startswith(".") or (pattern is not None and not fnmatch.fnmatchcase(name, pattern)):
            continue
        entry: Optional[Path] = None
        # a case stored as per-structure masks (TotalSegmentator), here or in segmentations/
        if path.is_dir() and not recursive:
            entry, cid = next((d for d in (path, path / "segmentations") if is_mask_folder(d)), None), name
        elif file_kind(name) is not None and path.is_file():
            entry, cid = path, case_id(name)
        if entry is None:
            continue
        if suffix and cid.endswith(suffix) and len(cid) > len(suffix):
            cid = cid[: -len(suffix)]
        by_id.setdefault(cid, []).append(entry)
    if prefer_ext is not None:
        for cid, files in by_id.items():
            chosen = [p for p in files if file_kind(p.name) == prefer_ext]
            if len(files) > 1 and len(chosen) == 1:
                by_id[cid] = chosen
    dups = {cid: files for cid, files in by_id.items() if len(files) > 1}
    if dups:
        first = sorted(dups)[0]
        kinds = {str(file_kind(p.name)) for p in dups[first]}
        choose = ""
        if len(kinds) == len(dups[first]) and role == "prediction":
            ext = ".npz" if ".npz" in kinds else sorted(kinds)[0]
            choose = f"choose one extension with @pred_ext (e.g. @pred_ext={ext}, nnU-Net's probabilities), "
        shown = (lambda p: p.relative_to(folder).as_posix()) if recursive else (lambda p: p.name)
        raise InputError(
            f"{len(dups)} duplicate case id(s) in the {role} folder: "
            + _listing(f"{cid} ({' and '.join(shown(p) for p in dups[cid])})" for cid in sorted(dups))
            + f"; {choose}keep one file per case (e.g. remove {dups[first][0].name}) or select with @pattern",
            folder,
        )
    return {cid: files[0] for cid, files in by_id.items()}


def _walk(folder: Path) -> list[Path]:
    """Every file under ``folder``, sub-folders first-to-last in name order; hidden folders skipped."""
    out: list[Path] = []
    for root, dirs, files in os.walk(folder, onerror=_raise):
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        out.extend(Path(root) / f for f in sorted(files))
    return out


def _raise(exc: OSError) -> None:
    raise exc


def _no_files_hint(folder, recursive: bool) -> str:
    """What to check when a folder gave no case: its sub-folders need @recursive."""
    local = not is_url(folder) and Path(folder).is_dir()
    if not recursive and local and any(p.is_dir() and not p.name.startswith(".") for p in Path(folder).iterdir()):
        return "files in sub-folders (Cityscapes' city folders) are cases with @recursive=True"
    return "check the folder"


def pair_folders(
    pred_dir: str | os.PathLike,
    gt_dir: str | os.PathLike,
    *,
    pattern: Optional[str] = None,
    pred_suffix: Optional[str] = None,
    gt_suffix: Optional[str] = None,
    missing: MissingPolicy | str = MissingPolicy.ERROR,
    pred_ext: Optional[str] = None,
    storage_options=None,
    recursive: bool = False,
) -> Pairing:
    """Pair files of two folders by case id; raise InputError listing what does not pair.

    ``missing``: ``error`` (default) fails on any missing or extra prediction; ``worst`` keeps a
    missing prediction as a pair with ``pred=None`` (scored as an empty prediction); ``skip``
    leaves it out. Under ``worst`` and ``skip`` extra predictions (no GT to score against) are
    left out and listed. Duplicate ids and zero pairs are always errors. ``pred_ext`` picks the
    prediction file of a case that has several (``.npz`` for nnU-Net's probabilities).
    Either folder may be a URL (``s3://bucket/preds/``; io/remote.py, with ``storage_options``).
    """
    try:
        missing = str(MissingPolicy.parse(missing, "@missing"))
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    ext = None if pred_ext is None else normalize_ext(pred_ext)
    preds = _index(as_local_or_url(pred_dir), "prediction", pattern, pred_suffix, ext, storage_options, recursive)
    gts = _index(as_local_or_url(gt_dir), "ground-truth", pattern, gt_suffix, None, storage_options, recursive)
    hint = "" if pattern is None else f" matching @pattern '{pattern}'"
    if not gts:
        raise InputError(f"no ground-truth files ({FORMATS}){hint}; {_no_files_hint(gt_dir, recursive)}", gt_dir)
    if not preds and missing != "worst":
        raise InputError(f"no prediction files ({FORMATS}){hint}; {_no_files_hint(pred_dir, recursive)}", pred_dir)
    missing_ids = tuple(sorted(set(gts) - set(preds)))
    extra_ids = tuple(sorted(set(preds) - set(gts)))
    if missing == "error" and (missing_ids or extra_ids):
        parts = []
        if missing_ids:
            parts.append(f"{len(missing_ids)} ground truth(s) without a prediction: {_listing(missing_ids)}")
        if extra_ids:
            parts.append(f"{len(extra_ids)} prediction(s) without a ground truth: {_listing(extra_ids)}")
        fix = (
            "; check the case names (@pred_suffix/@gt_suffix strip e.g. _seg), or pass @missing=worst "
            "(score a missing prediction as empty) or @missing=skip"
        )
        unpaired = [gts[c] for c in missing_ids] + [preds[c] for c in extra_ids]
        if any(Path(p).is_dir() for p in unpaired):  # a listed URL object is never a local folder
            fix += (
                "; a sub-folder is read as one case of per-structure masks: pass @recursive=True if its files "
                "are cases (Cityscapes' city folders)"
            )
        raise InputError("; ".join(parts) + fix)
    pairs = [CasePair(cid, str(preds[cid]), str(gts[cid])) for cid in sorted(set(gts) & set(preds))]
    if missing == "worst":
        pairs += [CasePair(cid, None, str(gts[cid])) for cid in missing_ids]
    pairs.sort(key=lambda p: p.case)
    if not pairs:
        raise InputError(
            f"no case pairs: no file name{hint} occurs in both {pred_dir} and {gt_dir}; "
            "check the folders, @pattern and @pred_suffix/@gt_suffix"
        )
    return Pairing(tuple(pairs), missing_ids, extra_ids, missing)


# --------------------------------------------------------------------------------------------
# Scoring


def evaluate_missing(gt_path: str, params: EvalParams, *, case: str) -> CaseResult:
    """Score a missing prediction as an empty one: every voxel background (label 0).

    The GT is loaded and checked as usual; the prediction is an all-zero label map on the
    GT's grid, so every GT class is ``pred_empty`` and scores the worst value.
    """
    from dataclasses import replace

    from .classes import resolve_classes
    from .evaluate import LoadedPair, evaluate_loaded
    from .io.prediction import read_gt
    from .scan import check_ignore_label, validate_label_map

    gt = read_gt(gt_path, params.load)
    check_ignore_label(gt.array.dtype, params.ignore_label, gt.path)
    arr, gt_present = validate_label_map(gt.array, gt.path, "GT", params.ignore_label)
    gt = gt.with_array(arr)
    zeros = np.zeros(gt.array.shape, dtype=np.uint8)
    volume = Volume(zeros, gt.spacing_mm, gt.affine, "", gt.spacing_source)
    pred = Prediction(kind="labels", labels=zeros, scores=None, volume=volume)
    classes = resolve_classes(None, np.union1d(gt_present, np.array([0], dtype=gt_present.dtype)), params.classes)
    result = evaluate_loaded(LoadedPair(pred, gt, classes), params, case=case)
    return replace(result, pred=None)


def score_pair(pair: CasePair, params: EvalParams) -> CaseResult:
    from .evaluate import evaluate_pair

    if pair.pred is None:
        return evaluate_missing(pair.gt, params, case=pair.case)
    return evaluate_pair(pair.pred, pair.gt, params, case=pair.case)


def _threads_per_worker(jobs: int) -> int:
    env = os.environ.get("NUMBA_NUM_THREADS")
    cores = default_jobs()
    if env and env.isdigit() and int(env) > 0:
        cores = min(cores, int(env))
    return max(1, cores // jobs)


def score_pairs(
    pairs,
    params: EvalParams,
    *,
    jobs: int = 1,
    on_case: Optional[Callable[[CaseResult], None]] = None,
    on_result: Optional[Callable[[CaseResult], None]] = None,
    keep: bool = True,
) -> tuple[CaseResult, ...]:
    """Score every pair; return the results sorted by case id.

    ``on_result`` is called in the calling thread with each result in case-id order (a result
    waits until every earlier case is done); ``keep=False`` drops each result once handed on
    and returns none, so memory holds only the cases in flight (workers do not start a case
    far ahead of the oldest unfinished one: see :class:`InOrder`).

    ``jobs`` worker threads score cases in parallel (1: all in the calling thread).
    ``on_case`` is called in the calling thread after each case (progress display). Any
    error in any case stops the run: no new case starts and the exception propagates; so
    do Ctrl-C (KeyboardInterrupt) and SIGTERM. Workers are daemon threads: one still inside
    a case does not hold up the exit. Which thread scores a case does not change its result:
    kernels split work into a fixed number of chunks whatever the thread count.
    """
    pairs = sorted(pairs, key=lambda p: p.case)
    if not pairs:
        raise InputError("no case pairs to score")
    if jobs < 1:
        raise UsageError(f"@jobs must be >= 1, not {jobs}")
    order = InOrder(len(pairs), on_result, keep=keep)

    def done(i: int, res: CaseResult) -> None:
        if on_case is not None:
            on_case(res)
        order.put(i, res)

    # The first case compiles the kernels (or loads them from numba's cache) before any
    # worker exists, so no two threads wait on the same compile.
    done(0, score_pair(pairs[0], params))
    jobs = min(jobs, len(pairs) - 1)
    if jobs > 1 and not _kernels_threadsafe():
        jobs = 1
    if jobs <= 1:
        for i in range(1, len(pairs)):
            done(i, score_pair(pairs[i], params))
    else:
        _score_threaded(pairs, range(1, len(pairs)), params, jobs, done, hold=order.wait_turn)
    return order.kept()


class InOrder:
    """Results handed on in case-id order while they arrive in any order.

    ``put(i, result)`` (the calling thread) stores result ``i`` and hands on, in order, every
    result from the oldest not yet handed on while they are there. With ``keep=False`` a
    result is dropped once handed on, and :meth:`wait_turn` (a worker, before it starts case
    ``i``) waits while ``i`` is more than ``window`` cases ahead of the oldest unfinished one,
    so at most ``window`` finished results wait for a slow case: memory does not grow with the
    number of cases.
    """

    def __init__(
        self, n: int, on_result: Optional[Callable[[CaseResult], None]] = None, *, keep: bool = True, window: int = 256
    ):
        import threading

        self._results: list[Optional[CaseResult]] = [None] * n
        self._on_result = on_result
        self._keep = keep
        self._window = window
        self._next = 0
        self._moved = threading.Condition()

    def put(self, i: int, result: CaseResult) -> None:
        self._results[i] = result
        while self._next < len(self._results) and self._results[self._next] is not None:
            if self._on_result is not None:
                self._on_result(self._results[self._next])  # type: ignore[arg-type]
            if not self._keep:
                self._results[self._next] = None
            self._next += 1
        if not self._keep:
            with self._moved:
                self._moved.notify_all()

    def wait_turn(self, i: int, stop) -> None:
        if self._keep:
            return
        with self._moved:
            while i - self._next > self._window and not stop.is_set():
                self._moved.wait(0.2)

    def kept(self) -> tuple[CaseResult, ...]:
        """Every result, in case-id order (none with ``keep=False``)."""
        return tuple(self._results) if self._keep else ()  # type: ignore[arg-type]


def _kernels_threadsafe() -> bool:
    """Whether numba's threading layer lets two threads launch parallel kernels at once.

    OpenMP and TBB do; workqueue (numba's fallback where neither is installed, e.g. some
    macOS wheels) aborts the process on concurrent launches, so cases then run one at a
    time. The layer is known once a parallel kernel has run, which the first case did.
    """
    import numba

    try:
        return numba.threading_layer() in ("omp", "tbb")
    except ValueError:  # no parallel kernel has run yet: the layer is unknown
        return False


def _score_threaded(pairs, indices, params: EvalParams, jobs: int, done, hold=None) -> None:
    import queue
    import threading

    todo: queue.SimpleQueue = queue.SimpleQueue()
    for i in indices:
        todo.put(i)
    outbox: queue.SimpleQueue = queue.SimpleQueue()
    stop = threading.Event()
    threads_each = _threads_per_worker(jobs)

    def work() -> None:
        import numba

        numba.set_num_threads(threads_each)  # per calling thread: this worker's kernels only
        while not stop.is_set():
            try:
                i = todo.get_nowait()
            except queue.Empty:
                return
            if hold is not None:
                hold(i, stop)
                if stop.is_set():
                    return
            try:
                outbox.put((i, score_pair(pairs[i], params)))
            except BaseException as exc:  # noqa: BLE001 - carried to the calling thread
                outbox.put((i, _Failed(exc)))
                return

    workers = [threading.Thread(target=work, name=f"segloss-case-{n}", daemon=True) for n in range(jobs)]
    for w in workers:
        w.start()
    try:
        for _ in range(len(indices)):
            while True:
                try:
                    # A bounded wait keeps Ctrl-C and SIGTERM handled promptly in this thread.
                    i, got = outbox.get(timeout=0.2)
                    break
                except queue.Empty:
                    if not any(w.is_alive() for w in workers) and outbox.empty():
                        raise RuntimeError("case workers stopped without a result") from None
            if isinstance(got, _Failed):
                raise got.error
            done(i, got)
    finally:
        stop.set()  # on error or interrupt: workers start no new case


class _Failed:
    """An exception raised in a worker, carried to the calling thread through the result queue."""

    def __init__(self, error: BaseException):
        self.error = error
