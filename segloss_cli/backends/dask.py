"""Score a folder's cases on a Dask cluster (``pip install 'segloss[dask]'``).

The client sends batches of :class:`~segloss_cli.folder.CasePair` to the workers; a task
scores its batch with :func:`segloss_cli.folder.score_pair` (the local path's per-case
function) and returns the CaseResults, which are picklable frozen dataclasses. The client
sorts them by case id, so :func:`segloss_cli.evaluate.assemble_run` makes exactly the
RunResult of ``--jobs 1``: kernels split their work into a fixed number of chunks, so a
case's numbers do not depend on the process or the thread count that scored it.

What a cluster changes, and how this module keeps the local behaviour:

- **Compilation.** Every worker process loads (or, with a cold numba cache, compiles: ~30 s)
  the kernels itself. The first case runs alone, as locally, so one worker fills numba's
  on-disk cache and the others load from it where they share the file system.
- **Threads.** Dask does not set numba's thread count in its task threads, so each task
  sets it (``numba.set_num_threads``: per calling thread): cores // workers on this machine
  for ``local:N``, cores // the worker's threads on a remote worker. Under numba's
  workqueue layer (not thread-safe) a worker's tasks run their kernels one at a time.
- **Heap.** The CLI's glibc heap settings (cli/_batch.py) are applied once in every worker
  process the CLI's run uses.
- **Errors.** A worker's SeglossError comes back as data and is raised again in the client
  as the same class with the same message and path (exit 2 naming the file, as locally);
  a worker that dies in a task (killed, out of memory) is exit 3 naming the cases of the
  batch; an unreachable scheduler is one line after ``connect_timeout_s``.
- **Interrupts.** The client waits in short slices, so Ctrl-C and SIGTERM stop the run at
  once: the run's tasks are cancelled and a cluster it started is shut down.
"""

from __future__ import annotations

import contextlib
import logging
import math
import os
import threading
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Optional

from ..errors import InputError, SeglossError, UsageError

if TYPE_CHECKING:  # pragma: no cover
    from ..evaluate import EvalParams
    from ..folder import CasePair
    from ..model import CaseResult

# Cases per task under --batch-size auto: Dask's per-task cost (~10 ms of scheduler and
# transfer work) is small against 16 cases, and a run still spreads over every worker.
MAX_AUTO_BATCH = 16
_WAIT_S = 0.2  # the client's wait slice: how soon Ctrl-C / SIGTERM is handled


class WorkerDied(SeglossError):
    """A Dask worker died while scoring a batch (killed, out of memory): exit 3."""

    exit_code = 3


@dataclass(frozen=True)
class _Failure:
    """A SeglossError raised in a task, carried back as plain data (its __init__ takes a path
    that pickling an exception would drop)."""

    kind: type
    message: str
    path: Optional[str]

    def error(self) -> SeglossError:
        return self.kind(self.message, self.path)


def _import_distributed():
    try:
        import distributed
    except ImportError:
        raise UsageError("@scheduler needs Dask: pip install 'segloss[dask]' (dask[distributed]), then rerun") from None
    return distributed


def auto_batch_size(n_cases: int, n_threads: int) -> int:
    """Cases per task: about four tasks per worker thread, at most MAX_AUTO_BATCH cases each.

    Examples
    --------
    >>> auto_batch_size(200, 2), auto_batch_size(20, 2), auto_batch_size(3, 8)
    (16, 3, 1)
    """
    return max(1, min(MAX_AUTO_BATCH, math.ceil(n_cases / (4 * max(1, n_threads)))))


def batches(pairs: Sequence[CasePair], size: int) -> list[tuple[CasePair, ...]]:
    return [tuple(pairs[i : i + size]) for i in range(0, len(pairs), size)]


# --- the task (runs in a worker process) -----------------------------------------------------

_PROCESS_READY = False
_SERIAL = threading.Lock()  # kernels one at a time where the threading layer is not thread-safe


def _prepare_process(tune: bool) -> None:
    """Once per worker process: the CLI's heap settings and start-up shortcut."""
    global _PROCESS_READY
    if _PROCESS_READY:
        return
    _PROCESS_READY = True
    import sys

    if PRELOAD in sys.modules:  # a worker forked from the run's forkserver (_start_forkserver)
        import multiprocessing

        # numba guards its threading-layer start with a multiprocessing lock wherever the start
        # method's name contains "fork": under "forkserver" that is a named semaphore which a
        # worker stopped mid-task (SIGTERM) leaves behind, and the resource tracker's warning
        # about it lands on the run's stderr. A spawned worker takes numba's no-op lock; so does
        # this one, which starts no process of its own.
        multiprocessing.set_start_method("spawn", force=True)
    if not tune:
        return
    import segloss_cli

    if "segloss_cli.kernels._jit" not in sys.modules:
        segloss_cli.CLI_PROCESS = True  # numba's BLAS probe skipped, as in the CLI's process
    _heap_settings()


def _heap_settings() -> None:
    """The CLI's glibc heap settings (cli/_batch._keep_case_buffers_in_the_heap, which says
    why): a 32 MiB mmap threshold and a 256 MiB trim threshold."""
    import ctypes
    import ctypes.util

    try:
        mallopt = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6").mallopt
    except (OSError, AttributeError):
        return
    mallopt(-3, 32 << 20)  # M_MMAP_THRESHOLD
    mallopt(-1, 256 << 20)  # M_TRIM_THRESHOLD


def _task_threads(numba_threads: Optional[int]) -> int:
    from ..folder import _threads_per_worker

    if numba_threads is not None:
        return numba_threads
    try:
        from distributed import get_worker

        nthreads = int(get_worker().state.nthreads)
    except (ImportError, ValueError, AttributeError):
        nthreads = 1
    return _threads_per_worker(max(1, nthreads))


def score_batch(
    pairs: Sequence[CasePair], params: EvalParams, numba_threads: Optional[int] = None, tune: bool = False
) -> list[Any]:
    """Score a batch in a worker: CaseResults in order, ending at a SeglossError (as data)."""
    import numba

    from ..folder import _kernels_threadsafe, score_pair

    _prepare_process(tune)
    most = int(numba.config.NUMBA_NUM_THREADS)  # type: ignore[attr-defined]
    numba.set_num_threads(max(1, min(_task_threads(numba_threads), most)))
    out: list[Any] = []
    for pair in pairs:
        lock = contextlib.nullcontext() if _kernels_threadsafe() else _SERIAL
        try:
            with lock:
                out.append(score_pair(pair, params))
        except SeglossError as exc:
            out.append(_Failure(type(exc), exc.message, exc.path))
            break
    return out


# --- the client -------------------------------------------------------------------------------


@contextlib.contextmanager
def _quiet_dask_logs() -> Iterator[None]:
    """Dask logs worker restarts and closed connections at WARNING in the client process; a
    run reports those itself (one line), so they are silenced while it runs."""
    loggers = [logging.getLogger(name) for name in ("distributed", "tornado")]
    levels = [lg.level for lg in loggers]
    for lg in loggers:
        lg.setLevel(logging.CRITICAL)
    try:
        yield
    finally:
        for lg, level in zip(loggers, levels):
            lg.setLevel(level)


@contextlib.contextmanager
def connect(scheduler: str, connect_timeout_s: float) -> Iterator[tuple[Any, Optional[int]]]:
    """A Client for ``scheduler`` and, for ``local[:N]``, the numba threads per task; a
    cluster started here is shut down on leaving, whatever happened."""
    from importlib.util import find_spec

    local = scheduler == "local" or scheduler.startswith("local:")
    # Started first, so that it imports what the workers need while this process imports
    # distributed and starts the scheduler.
    forked = local and find_spec("distributed") is not None and _start_forkserver()
    closed = False
    try:
        distributed = _import_distributed()
        from ..folder import default_jobs

        cluster = None
        numba_threads: Optional[int] = None
        if local:
            n = int(scheduler.split(":", 1)[1]) if ":" in scheduler else default_jobs()
            cluster = _local_cluster(distributed, n, forked)
            numba_threads = max(1, default_jobs() // n)
            address = cluster.scheduler_address
        else:
            address = scheduler
        try:
            try:
                client = distributed.Client(address, timeout=connect_timeout_s, set_as_default=False)
            except (OSError, TimeoutError) as exc:
                raise InputError(
                    f"cannot reach the Dask scheduler at {scheduler} within {connect_timeout_s:g} s "
                    f"({type(exc).__name__}); check the address and that `dask scheduler` runs there, "
                    "or raise @connect_timeout_s"
                ) from None
            try:
                yield client, numba_threads
            finally:
                client.close(timeout=5)
        finally:
            if cluster is not None:
                cluster.close(timeout=10)
                closed = True
    finally:
        if forked:  # without a closed cluster (an interrupted start) its workers outlive this call
            _stop_forkserver(10.0 if closed else 0.0)


PRELOAD = "segloss_cli.backends.dask_preload"
# A cluster the run starts serves no dashboard, and its tasks are equal batches queued per
# worker thread: the dashboard's statistical profiler (every worker thread's stack every
# 10 ms), its system plots, the event loops' 20 ms latency ticks and work stealing's 100 ms
# rebalancing cost CPU (about 0.4 s of a 200-case run on two cores) and change no result.
LOCAL_CLUSTER_CONFIG = {
    "distributed.worker.profile.enabled": False,
    "distributed.admin.tick.interval": "1s",
    "distributed.admin.system-monitor.interval": "2s",
    "distributed.scheduler.work-stealing": False,
}


def _start_forkserver() -> bool:
    """Start multiprocessing's forkserver with :mod:`.dask_preload` imported in it (where the
    platform has one); the workers of the run's LocalCluster are forked from it."""
    import multiprocessing
    import multiprocessing.forkserver

    if "forkserver" not in multiprocessing.get_all_start_methods():
        return False
    multiprocessing.get_context("forkserver").set_forkserver_preload(["distributed", PRELOAD])
    try:
        multiprocessing.forkserver.ensure_running()
    except OSError:
        return False
    return True


def _local_cluster(distributed: Any, n: int, forked: bool) -> Any:
    """A LocalCluster of ``n`` single-threaded worker processes on 127.0.0.1; with ``forked``,
    forked from the forkserver of :func:`_start_forkserver`, so the workers start with segloss,
    numba and distributed imported once for all of them (and exit without an interpreter
    teardown, as forked children do)."""
    import dask

    config: dict[str, Any] = dict(LOCAL_CLUSTER_CONFIG)
    if forked:
        # distributed sets its own preload list once, importing in this process every optional
        # package it knows of (pandas among them) to list it: the list already set is enough.
        with contextlib.suppress(ImportError):
            import distributed.utils

            distributed.utils._forkserver_preload_set = True
        config["distributed.worker.multiprocessing-method"] = "forkserver"
    with dask.config.set(config):
        return distributed.LocalCluster(
            n_workers=n,
            threads_per_worker=1,
            processes=True,
            host="127.0.0.1",
            # The scheduler's HTTP server starts even without a dashboard, on 8787 unless told;
            # a free loopback port keeps a busy 8787 from printing a warning.
            dashboard_address="127.0.0.1:0",
            silence_logs=logging.CRITICAL,
        )


def _stop_forkserver(wait_s: float = 10.0) -> None:
    """Stop the forkserver the workers came from and wait for it (at most ``wait_s``): no
    process of the run outlives the run, and their CPU time is accounted to this process.

    multiprocessing's own ``_stop`` waits without a bound, but the server only sees its end
    once every worker it forked has exited too (each holds its "alive" pipe): after a start
    interrupted by SIGTERM a worker may still be running (it exits when this process does,
    distributed's workers watch their parent), so the wait is bounded here."""
    import multiprocessing.forkserver
    import multiprocessing.util
    import time

    server = getattr(multiprocessing.forkserver, "_forkserver", None)
    lock = getattr(server, "_lock", None)
    if server is None or lock is None:
        return
    with lock, contextlib.suppress(AttributeError, OSError, ChildProcessError):
        pid, alive = server._forkserver_pid, server._forkserver_alive_fd
        if pid is None or alive is None:
            return
        server._forkserver_alive_fd = None
        server._forkserver_pid = None  # the next run starts a server of its own
        address, server._forkserver_address = server._forkserver_address, None
        os.close(alive)
        if address and not multiprocessing.util.is_abstract_socket_namespace(address):
            os.unlink(address)
        deadline = time.monotonic() + wait_s
        while os.waitpid(pid, os.WNOHANG)[0] == 0 and time.monotonic() < deadline:
            time.sleep(0.02)


def _workers(client: Any) -> dict[str, Any]:
    try:
        return client.scheduler_info(n_workers=-1)["workers"]
    except TypeError:  # older distributed: no n_workers argument
        return client.scheduler_info()["workers"]


def _n_threads(client: Any) -> int:
    return max(1, sum(int(w.get("nthreads", 1)) for w in _workers(client).values()))


def score_pairs_dask(
    pairs: Sequence[CasePair],
    params: EvalParams,
    *,
    scheduler: str,
    batch_size: Optional[int] = None,
    connect_timeout_s: float = 10.0,
    on_case: Optional[Callable[[CaseResult], None]] = None,
    on_result: Optional[Callable[[CaseResult], None]] = None,
    keep: bool = True,
) -> tuple[CaseResult, ...]:
    """Score every pair on the Dask cluster ``scheduler``; the results sorted by case id
    (``on_result`` and ``keep``: as in :func:`segloss_cli.folder.score_pairs`).

    ``scheduler``: ``local`` (a LocalCluster with one single-threaded worker process per
    core), ``local:N`` (N of them) or the address of a running scheduler
    (``tcp://HOST:PORT``; its workers must see the files at the same paths). ``batch_size``:
    cases per task (None: :func:`auto_batch_size`). ``on_case`` is called in the calling
    thread for each case as its batch comes back. Errors as on the local path: the first
    SeglossError of any case stops the run (raised again here); a worker that dies in a
    task raises :class:`WorkerDied` (exit 3); Ctrl-C and SIGTERM cancel the run's tasks.
    """
    import segloss_cli

    pairs = sorted(pairs, key=lambda p: p.case)
    if not pairs:
        raise InputError("no case pairs to score")
    distributed = _import_distributed()
    tune = bool(segloss_cli.CLI_PROCESS)
    from ..folder import InOrder

    order = InOrder(len(pairs), on_result, keep=keep)
    index = {p.case: i for i, p in enumerate(pairs)}
    results = (order, index)
    with _quiet_dask_logs(), connect(scheduler, connect_timeout_s) as (client, numba_threads):
        size = batch_size or auto_batch_size(len(pairs) - 1, _n_threads(client))
        # The first case alone, as locally: one worker compiles (or loads) the kernels the data
        # needs and fills numba's on-disk cache before the others start.
        work = [(pairs[0],)] + batches(pairs[1:], size)
        futures: dict[Any, int] = {}  # in flight: future -> index in work

        def submit(j: int) -> Any:
            future = client.submit(score_batch, work[j], params, numba_threads, tune, pure=False)
            futures[future] = j
            return future

        try:
            _collect(distributed, work, submit, 1, futures, results, on_case)
            if len(work) > 1:
                _collect(distributed, work, submit, _ahead(client), futures, results, on_case, start=1)
        finally:
            pending = [f for f in futures if not f.done()]
            if pending:  # an error or an interrupt: nothing more of this run runs
                client.cancel(pending, force=True)
    return order.kept()


def _ahead(client: Any) -> int:
    """Batches in flight at most: four per worker thread keeps every thread fed while results
    come back, and bounds the results that wait in the client for an earlier, slower batch."""
    return max(2, AHEAD_PER_THREAD * _n_threads(client))


AHEAD_PER_THREAD = 4


def _collect(
    distributed: Any,
    work: Sequence[tuple[CasePair, ...]],
    submit: Callable[[int], Any],
    ahead: int,
    futures: dict[Any, int],
    results: tuple,
    on_case,
    *,
    start: int = 0,
) -> None:
    """Run batches ``work[start:]`` (just ``work[0]`` when ``start`` is 0), handing each case on
    as its batch comes back. A batch is submitted only while it is fewer than ``ahead``
    batches past the oldest unfinished one, so however many cases the run has, the cases
    waiting in the client for an earlier one (InOrder's buffer) are at most ``ahead``
    batches' worth."""
    import queue

    stop = len(work) if start else 1
    finished: queue.SimpleQueue = queue.SimpleQueue()
    done: set[int] = set()
    oldest, nxt = start, start
    order, index = results
    while oldest < stop:
        while nxt < stop and nxt < oldest + ahead:
            submit(nxt).add_done_callback(finished.put)  # called in the client's thread
            nxt += 1
        while True:
            try:
                # A bounded wait keeps Ctrl-C and SIGTERM handled promptly in this thread.
                future = finished.get(timeout=_WAIT_S)
                break
            except queue.Empty:
                continue
        j = futures[future]
        for item in _result(distributed, future, work[j]):
            if isinstance(item, _Failure):
                raise item.error()
            if on_case is not None:
                on_case(item)
            order.put(index[item.case], item)
        del futures[future]
        done.add(j)
        while oldest in done:
            done.discard(oldest)
            oldest += 1


def _result(distributed: Any, future: Any, batch: tuple[CasePair, ...]) -> list[Any]:
    try:
        return future.result()
    except distributed.KilledWorker:
        cases = batch[0].case if len(batch) == 1 else f"{batch[0].case} .. {batch[-1].case} ({len(batch)} cases)"
        raise WorkerDied(
            f"a Dask worker died while scoring case {cases} (killed, or out of memory); "
            "nothing written; rerun, with more memory per worker or a smaller @batch_size"
        ) from None
    except distributed.client.FutureCancelledError:
        raise WorkerDied(f"the Dask scheduler cancelled the task of case {batch[0].case}; nothing written") from None
