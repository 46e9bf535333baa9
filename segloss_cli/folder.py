"""Score a folder of predictions against a folder of ground truths.

Two steps, both free of printing:

1. :func:`pair_folders` matches files by case id (file name without .nii.gz/.nii/.npy/.npz,
   minus an optional suffix such as ``_seg``) and lists what did not pair: missing
   predictions, extra predictions and duplicate ids. It reads no image data.
2. :func:`evaluate_folder` scores the pairs. The first case runs in this process: that
   compiles (and writes to numba's on-disk cache) exactly the kernel specialisations the
   data needs. The other cases then go to a pool of ``spawn``-ed workers, one case per worker
   at a time, which load the compiled kernels from the cache instead of compiling them
   again (see evaluate_folder for when the pool is worth starting). Results are sorted by case id, so the output does not depend on the number of
   workers or on the order of files on disk.

Why spawn and not fork: numba's threading layers are not all fork-safe once their threads
have started in the parent (GNU OpenMP is not; workqueue is unsafe with concurrent use), and
the parent has just run parallel kernels. Spawned workers start clean; each one's numba
thread count is set so that workers x threads does not exceed the cores.
"""

from __future__ import annotations

import fnmatch
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Optional

import numpy as np

from .errors import InputError, UsageError
from .io.readers import case_id, file_kind
from .model import CaseResult, Prediction, Volume

MISSING_POLICIES = ("error", "worst", "skip")
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

    def summary(self) -> dict:
        """What pairing did, for the JSON summary."""
        return {
            "missing_policy": self.policy,
            "n_pairs": sum(p.pred is not None for p in self.pairs),
            "missing_predictions": list(self.missing),
            "n_missing_scored_as_empty": len(self.missing) if self.policy == "worst" else 0,
            "n_missing_skipped": len(self.missing) if self.policy == "skip" else 0,
            "extra_predictions": list(self.extra),
        }


def default_jobs() -> int:
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):
        return max(1, os.cpu_count() or 1)


def _listing(names, limit: int = _MAX_LISTED) -> str:
    names = list(names)
    shown = ", ".join(names[:limit])
    return shown + (f", ... ({len(names)} in all)" if len(names) > limit else "")


def _index(folder: Path, role: str, pattern: Optional[str], suffix: Optional[str]) -> dict[str, Path]:
    """case id -> file for every image file directly in ``folder`` (hidden files skipped)."""
    if not folder.is_dir():
        raise InputError(f"{role} folder not found; check the path", folder)
    by_id: dict[str, list[Path]] = {}
    try:
        entries = sorted(folder.iterdir())
    except PermissionError:
        raise InputError(f"cannot list the {role} folder (permission denied)", folder) from None
    for path in entries:
        name = path.name
        if name.startswith(".") or file_kind(name) is None or not path.is_file():
            continue
        if pattern is not None and not fnmatch.fnmatchcase(name, pattern):
            continue
        cid = case_id(name)
        if suffix and cid.endswith(suffix) and len(cid) > len(suffix):
            cid = cid[: -len(suffix)]
        by_id.setdefault(cid, []).append(path)
    dups = {cid: files for cid, files in by_id.items() if len(files) > 1}
    if dups:
        first = sorted(dups)[0]
        raise InputError(
            f"{len(dups)} duplicate case id(s) in the {role} folder: "
            + _listing(f"{cid} ({' and '.join(p.name for p in dups[cid])})" for cid in sorted(dups))
            + f"; keep one file per case (e.g. remove {dups[first][0].name}) or select with --pattern",
            folder,
        )
    return {cid: files[0] for cid, files in by_id.items()}


def pair_folders(
    pred_dir: str | os.PathLike,
    gt_dir: str | os.PathLike,
    *,
    pattern: Optional[str] = None,
    pred_suffix: Optional[str] = None,
    gt_suffix: Optional[str] = None,
    missing: str = "error",
) -> Pairing:
    """Pair files of two folders by case id; raise InputError listing what does not pair.

    ``missing``: ``error`` (default) fails on any missing or extra prediction; ``worst`` keeps a
    missing prediction as a pair with ``pred=None`` (scored as an empty prediction); ``skip``
    leaves it out. Under ``worst`` and ``skip`` extra predictions (no GT to score against) are
    left out and listed. Duplicate ids and zero pairs are always errors.
    """
    if missing not in MISSING_POLICIES:
        raise UsageError(f"--missing must be one of {', '.join(MISSING_POLICIES)}, not '{missing}'")
    preds = _index(Path(pred_dir), "prediction", pattern, pred_suffix)
    gts = _index(Path(gt_dir), "ground-truth", pattern, gt_suffix)
    hint = "" if pattern is None else f" matching --pattern '{pattern}'"
    if not gts:
        raise InputError(f"no ground-truth files (.nii.gz, .nii, .npy, .npz){hint}; check the folder", gt_dir)
    if not preds and missing != "worst":
        raise InputError(f"no prediction files (.nii.gz, .nii, .npy, .npz){hint}; check the folder", pred_dir)
    missing_ids = tuple(sorted(set(gts) - set(preds)))
    extra_ids = tuple(sorted(set(preds) - set(gts)))
    if missing == "error" and (missing_ids or extra_ids):
        parts = []
        if missing_ids:
            parts.append(f"{len(missing_ids)} ground truth(s) without a prediction: {_listing(missing_ids)}")
        if extra_ids:
            parts.append(f"{len(extra_ids)} prediction(s) without a ground truth: {_listing(extra_ids)}")
        fix = (
            "; check the case names (--pred-suffix/--gt-suffix strip e.g. _seg), or pass --missing worst "
            "(score a missing prediction as empty) or --missing skip"
        )
        raise InputError("; ".join(parts) + fix)
    pairs = [CasePair(cid, str(preds[cid]), str(gts[cid])) for cid in sorted(set(gts) & set(preds))]
    if missing == "worst":
        pairs += [CasePair(cid, None, str(gts[cid])) for cid in missing_ids]
    pairs.sort(key=lambda p: p.case)
    if not pairs:
        raise InputError(
            f"no case pairs: no file name{hint} occurs in both {pred_dir} and {gt_dir}; "
            "check the folders, --pattern and --pred-suffix/--gt-suffix"
        )
    return Pairing(tuple(pairs), missing_ids, extra_ids, missing)


# --------------------------------------------------------------------------------------------
# Scoring


def evaluate_missing(gt_path: str, opts, *, case: str) -> CaseResult:
    """Score a missing prediction as an empty one: every voxel background (label 0).

    The GT is loaded and checked as usual; the prediction is an all-zero label map on the
    GT's grid, so every GT class is ``pred_empty`` and scores the worst value.
    """
    from .evaluate import case_classes, evaluate_loaded
    from .io.prediction import load_gt

    gt, gt_present = load_gt(gt_path, opts.load)
    zeros = np.zeros(gt.array.shape, dtype=np.uint8)
    volume = Volume(zeros, gt.spacing_mm, gt.affine, "", gt.spacing_source)
    pred = Prediction(kind="labels", labels=zeros, scores=None, volume=volume)
    classes = case_classes(None, np.union1d(gt_present, np.array([0], dtype=gt_present.dtype)), opts)
    result = evaluate_loaded(pred, gt, classes, opts, case=case)
    return CaseResult(result.case, None, result.gt, result.spacing_mm, result.classes, result.losses)


def score_pair(pair: CasePair, opts) -> CaseResult:
    from .evaluate import evaluate_pair

    if pair.pred is None:
        return evaluate_missing(pair.gt, opts, case=pair.case)
    return evaluate_pair(pair.pred, pair.gt, opts, case=pair.case)


# Worker-process state: the options arrive once per worker (initializer), not once per case.
_WORKER_OPTS = None


def _worker_init(opts, numba_threads: int) -> None:
    import signal

    # Ctrl-C goes to the whole process group: the parent alone handles it and terminates us.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    # Spawned workers have not imported numba yet, so the thread count can still be set here.
    os.environ["NUMBA_NUM_THREADS"] = str(numba_threads)
    global _WORKER_OPTS
    _WORKER_OPTS = opts
    # Import what scoring needs now, while the parent scores the first case.
    from . import evaluate  # noqa: F401
    from .io import prediction  # noqa: F401
    from .metrics.registry import all_metrics

    all_metrics()
    import nibabel  # noqa: F401


def _worker_score(item: tuple[int, CasePair]) -> tuple[int, CaseResult]:
    index, pair = item
    return index, score_pair(pair, _WORKER_OPTS)


def _threads_per_worker(jobs: int) -> int:
    env = os.environ.get("NUMBA_NUM_THREADS")
    cores = default_jobs()
    if env and env.isdigit() and int(env) > 0:
        cores = min(cores, int(env))
    return max(1, cores // jobs)


def _start_pool(ctx, jobs: int, opts):
    """Start the workers with SIGINT ignored from their first instruction.

    A Ctrl-C reaches every process of the terminal's process group; a worker still importing
    (before its initializer runs) would die with a KeyboardInterrupt traceback. An ignored
    signal stays ignored across exec, and Python then installs no KeyboardInterrupt handler.
    """
    import signal
    import threading

    if threading.current_thread() is not threading.main_thread():
        return ctx.Pool(jobs, initializer=_worker_init, initargs=(opts, _threads_per_worker(jobs)))
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        return ctx.Pool(jobs, initializer=_worker_init, initargs=(opts, _threads_per_worker(jobs)))
    finally:
        signal.signal(signal.SIGINT, previous)


def evaluate_folder(
    pairs,
    opts,
    *,
    jobs: int = 1,
    on_case: Optional[Callable[[CaseResult], None]] = None,
    adaptive: bool = True,
) -> tuple[CaseResult, ...]:
    """Score every pair; return the results sorted by case id.

    ``jobs`` worker processes score cases in parallel (1: all in this process). ``on_case`` is
    called in this process after each case (progress display). Any error in any case stops
    the whole run: the pool is terminated and the exception propagates. So do Ctrl-C
    (KeyboardInterrupt) and SIGTERM; workers ignore SIGINT and are killed by the parent.

    Starting a spawned worker costs about what this process spent before its first result
    (interpreter, imports, loading compiled kernels): around a second of CPU. With
    ``adaptive`` (the default) this process scores the first two cases itself, starts the
    workers only when the remaining serial work is clearly larger than that cost, and keeps
    scoring cases itself until the workers answer, so more jobs never make a small folder
    slower. ``adaptive=False`` always hands cases 1.. to the pool (tests use it). Which process
    scores a case does not change its result: kernels split work into a fixed number of
    chunks whatever the thread count.
    """
    import time

    pairs = sorted(pairs, key=lambda p: p.case)
    if not pairs:
        raise InputError("no case pairs to score")
    if jobs < 1:
        raise UsageError(f"--jobs must be >= 1, not {jobs}")
    results: list[Optional[CaseResult]] = [None] * len(pairs)

    def done(i: int, res: CaseResult) -> None:
        results[i] = res
        if on_case is not None:
            on_case(res)

    # The first case compiles the kernels (or loads them from numba's cache) and writes the
    # cache, before any worker exists: workers then load compiled kernels, never compile.
    done(0, score_pair(pairs[0], opts))
    start = 1
    jobs = min(jobs, len(pairs) - 1)
    if jobs > 1 and adaptive:
        startup = _cpu_seconds()
        t = time.perf_counter()
        done(1, score_pair(pairs[1], opts))
        per_case = time.perf_counter() - t
        start = 2
        if (len(pairs) - 2) * per_case < 2.0 * startup:
            jobs = 1  # workers would not pay for their start
    if jobs <= 1:
        for i in range(start, len(pairs)):
            done(i, score_pair(pairs[i], opts))
        return tuple(results)  # type: ignore[arg-type]
    _score_with_pool(pairs, list(range(start, len(pairs))), opts, jobs, done, results, parent_helps=adaptive)
    return tuple(results)  # type: ignore[arg-type]


def _cpu_seconds() -> float:
    """CPU time this process has used so far (a proxy for what starting a worker costs)."""
    import resource

    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _score_with_pool(pairs, indices, opts, jobs: int, done, results, *, parent_helps: bool) -> None:
    import multiprocessing as mp
    import queue
    from collections import deque

    pool = _start_pool(mp.get_context("spawn"), jobs, opts)
    try:
        todo = deque((i, pairs[i]) for i in indices)
        inbox: queue.SimpleQueue = queue.SimpleQueue()
        in_flight: dict[int, CasePair] = {}
        workers_up = False

        def fail(error: BaseException) -> None:
            inbox.put(_Failed(error))

        def top_up(limit: int) -> None:
            while todo and len(in_flight) < limit:
                i, pair = todo.popleft()
                in_flight[i] = pair
                pool.apply_async(_worker_score, ((i, pair),), callback=inbox.put, error_callback=fail)

        # One case per worker until a worker has answered (a case given to the pool cannot be
        # taken back), then a short backlog of paths per worker keeps them busy. Each worker
        # holds one case at a time, so memory stays at about `jobs` cases (plus one here).
        # Meanwhile this process scores cases from the end of the list; while no worker has
        # answered yet it also scores cases already given to them (same result, first wins).
        top_up(jobs)
        while todo or any(results[i] is None for i in in_flight):
            helping = parent_helps and (bool(todo) or not workers_up)
            try:
                got = inbox.get_nowait() if helping else inbox.get(timeout=0.1)
            except queue.Empty:
                if not helping:
                    continue
                if todo:
                    i, pair = todo.pop()
                else:
                    i, pair = next((i, p) for i, p in in_flight.items() if results[i] is None)
                    del in_flight[i]
                done(i, score_pair(pair, opts))
                continue
            if isinstance(got, _Failed):
                raise got.error
            i, res = got
            in_flight.pop(i, None)
            workers_up = True
            if results[i] is None:
                done(i, res)
            top_up(2 * jobs)
    finally:
        # Every case is done (or the run failed): stop the workers, also any still starting.
        pool.terminate()
        pool.join()


class _Failed:
    """An exception raised in a worker, carried to the parent through the result queue."""

    def __init__(self, error: BaseException):
        self.error = error
