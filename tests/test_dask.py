"""`segloss eval --scheduler`: a folder scored on a Dask cluster (segloss_cli.backends.dask).

One session-wide LocalCluster (2 single-threaded worker processes on 127.0.0.1) serves the
tests that need a cluster; it lets no task be retried after a worker dies, so one kill is
final. Output files are compared byte for byte with `--jobs 1`. Skipped, with the reason,
where dask[distributed] is not installed (pip install 'segloss[dask]').
"""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
from importlib.util import find_spec

import pytest
from typer.testing import CliRunner

from segloss_cli.backends import check_scheduler, parse_batch_size
from segloss_cli.cli import app
from segloss_cli.errors import UsageError
from tests.test_folders import make_folders

RUNNER = CliRunner()
needs_dask = pytest.mark.skipif(
    find_spec("distributed") is None, reason="dask[distributed] is not installed (pip install 'segloss[dask]')"
)
OPTS = ("--metrics", "dice,iou,hd95,tp", "--losses", "dice", "-q")


def run(*args):
    return RUNNER.invoke(app, [str(a) for a in args])


@pytest.fixture(scope="session")
def cluster():
    distributed = pytest.importorskip("distributed", reason="dask[distributed] is not installed")
    import dask

    with dask.config.set({"distributed.scheduler.allowed-failures": 0}):
        cl = distributed.LocalCluster(
            n_workers=2,
            threads_per_worker=1,
            processes=True,
            host="127.0.0.1",
            dashboard_address="127.0.0.1:0",
        )
    client = distributed.Client(cl, set_as_default=False)
    yield cl, client
    client.close()
    cl.close()


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    top = tmp_path_factory.mktemp("dask")
    return make_folders(top, 12)


def test_scheduler_and_batch_size_are_checked_before_any_work(tmp_path):
    assert check_scheduler(" local:3 ") == "local:3" and check_scheduler("tcp://10.0.0.5:8786") == "tcp://10.0.0.5:8786"
    for bad in ("local:0", "remote", "http://x:1", "tcp://"):
        with pytest.raises(UsageError, match="^scheduler "):
            check_scheduler(bad)
    assert parse_batch_size("auto") is None and parse_batch_size("16") == 16
    with pytest.raises(UsageError, match="^batch_size "):
        parse_batch_size("0")
    pdir, gdir = make_folders(tmp_path, 2)
    res = run("eval", pdir, gdir, "--scheduler", "spark://x")
    assert res.exit_code == 2 and "--scheduler 'spark://x' is not a Dask scheduler" in res.stderr
    res = run("eval", pdir, gdir, "--batch-size", "4")
    assert res.exit_code == 2 and "--batch-size applies to --scheduler" in res.stderr


def test_without_dask_installed_one_line(folder, monkeypatch, tmp_path):
    monkeypatch.setitem(sys.modules, "distributed", None)  # `import distributed` fails
    res = run("eval", *folder, "--scheduler", "local:1", "--json", tmp_path / "out.json")
    assert res.exit_code == 2
    assert res.stderr.strip() == (
        "segloss: error: --scheduler needs Dask: pip install 'segloss[dask]' (dask[distributed]), then rerun"
    )
    assert not (tmp_path / "out.json").exists()


@needs_dask
def test_cluster_output_is_byte_identical_to_jobs_1(cluster, folder, tmp_path):
    cl, _ = cluster
    ref_json, ref_csv = tmp_path / "j1.json", tmp_path / "j1.csv"
    res = run("eval", *folder, *OPTS, "-j", "1", "--json", ref_json, "--csv", ref_csv)
    assert res.exit_code == 0, res.stderr
    for batch in ("auto", "5"):
        out_json, out_csv = tmp_path / f"d{batch}.json", tmp_path / f"d{batch}.csv"
        args = ("--scheduler", cl.scheduler_address, "--batch-size", batch, "--json", out_json, "--csv", out_csv)
        res = run("eval", *folder, *OPTS, *args)
        assert res.exit_code == 0, res.stderr
        assert out_json.read_bytes() == ref_json.read_bytes()
        assert out_csv.read_bytes() == ref_csv.read_bytes()


@needs_dask
def test_a_local_cluster_started_by_the_run(folder, tmp_path):
    ref, out = tmp_path / "j1.json", tmp_path / "local.json"
    assert run("eval", *folder, *OPTS, "-j", "1", "--json", ref).exit_code == 0
    res = run("eval", *folder, *OPTS, "--scheduler", "local:1", "--json", out)
    assert res.exit_code == 0, res.stderr
    assert out.read_bytes() == ref.read_bytes()


@needs_dask
def test_numba_threads_are_set_per_task(folder):
    import numba

    from segloss_cli.api import make_params
    from segloss_cli.backends.dask import score_batch
    from segloss_cli.folder import pair_folders

    before = numba.get_num_threads()
    pairs = pair_folders(*folder).pairs[:2]
    try:
        results = score_batch(pairs, make_params(metrics="dice"), numba_threads=1)
        assert numba.get_num_threads() == 1
    finally:
        numba.set_num_threads(before)
    assert [r.case for r in results] == ["case00", "case01"]


@needs_dask
def test_truncated_file_gives_the_local_exit_and_message(cluster, tmp_path):
    cl, _ = cluster
    pdir, gdir = make_folders(tmp_path, 6)
    bad = gdir / "case04.nii.gz"
    bad.write_bytes(bad.read_bytes()[:-40])  # the gzip stream cut short
    local = run("eval", pdir, gdir, *OPTS, "-j", "1", "--json", tmp_path / "a.json")
    remote = run("eval", pdir, gdir, *OPTS, "--scheduler", cl.scheduler_address, "--json", tmp_path / "b.json")
    assert local.exit_code == 2 and remote.exit_code == 2
    assert remote.stderr == local.stderr and str(bad) in remote.stderr
    assert remote.stderr.count("\n") == 1
    assert not (tmp_path / "a.json").exists() and not (tmp_path / "b.json").exists()


@needs_dask
def test_unreachable_scheduler_is_one_line_within_the_timeout(folder, tmp_path):
    with socket.socket() as s:  # a free port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    start = time.monotonic()
    res = run(
        "eval",
        *folder,
        "--scheduler",
        f"tcp://127.0.0.1:{port}",
        "--connect-timeout",
        "1",
        "--json",
        tmp_path / "o.json",
    )
    elapsed = time.monotonic() - start
    assert res.exit_code == 2, res.output
    line = res.stderr.strip()
    assert "\n" not in line
    assert line.startswith(f"segloss: error: cannot reach the Dask scheduler at tcp://127.0.0.1:{port} within 1 s")
    assert "--connect-timeout" in line
    assert elapsed < 8, elapsed
    assert not (tmp_path / "o.json").exists()


@needs_dask
def test_sigterm_exits_143_writes_nothing_and_tears_the_cluster_down(tmp_path):
    import psutil

    pdir, gdir = make_folders(tmp_path, 40)
    out = tmp_path / "out.json"
    cmd = [
        sys.executable,
        "-m",
        "segloss_cli",
        "eval",
        str(pdir),
        str(gdir),
        "--scheduler",
        "local:1",
        "--json",
        str(out),
    ]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    parent = psutil.Process(proc.pid)
    deadline = time.monotonic() + 60
    children: list = []
    while time.monotonic() < deadline and proc.poll() is None:
        children = parent.children(recursive=True)
        if any("python" in (c.name() or "") for c in children):
            break
        time.sleep(0.05)
    time.sleep(0.5)  # the worker is starting or scoring
    assert proc.poll() is None, proc.communicate()
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 143, err
    assert err.strip().splitlines()[-1] == "segloss: terminated; nothing written"
    assert not out.exists()
    gone, alive = psutil.wait_procs(children, timeout=15)
    assert not alive, alive


def _die_on(case: str) -> None:
    """In a worker process: make scoring ``case`` kill the process, as the OOM killer would."""
    import segloss_cli.folder as folder

    original = folder.score_pair

    def score_pair(pair, params):
        if pair.case == case:
            os._exit(1)
        return original(pair, params)

    score_pair.original = original  # type: ignore[attr-defined]
    folder.score_pair = score_pair


def _restore() -> None:
    import segloss_cli.folder as folder

    folder.score_pair = getattr(folder.score_pair, "original", folder.score_pair)


@needs_dask
def test_worker_killed_mid_task_is_exit_3_naming_the_case(cluster, folder, tmp_path):
    import cloudpickle

    cl, client = cluster
    cloudpickle.register_pickle_by_value(sys.modules[__name__])  # workers cannot import tests/
    client.run(_die_on, "case07")
    try:
        out = tmp_path / "out.json"
        res = run("eval", *folder, *OPTS, "--scheduler", cl.scheduler_address, "--batch-size", "3", "--json", out)
        assert res.exit_code == 3, res.output
        line = res.stderr.strip()
        assert "\n" not in line
        # Every batch queued on the killed worker fails with it; which one the client hears of
        # first depends on timing (seen: case01 .. case03), so the line names one lost batch.
        batches = {f"case{i:02d} .. case{i + 2:02d}" for i in (1, 4, 7)}
        named = re.match(
            r"segloss: error: a Dask worker died while scoring case (case\d\d \.\. case\d\d) \(3 cases\)", line
        )
        assert named is not None and named.group(1) in batches, line
        assert not out.exists()
    finally:
        client.run(_restore)
        cloudpickle.unregister_pickle_by_value(sys.modules[__name__])
    assert json.loads(json.dumps({"ok": True}))["ok"]


def test_batches_in_flight_are_bounded_so_waiting_results_are_too():
    """The client submits a batch only while it is fewer than `ahead` batches past the oldest
    unfinished one: with one slow batch, the cases waiting for it in the client stay at most
    `ahead` batches' worth however many cases the run has, and cases are handed on in order."""
    from types import SimpleNamespace

    from segloss_cli.backends.dask import _collect, batches
    from segloss_cli.folder import CasePair, InOrder

    pairs = [CasePair(f"c{i:03d}", "p", "g") for i in range(1 + 40 * 3)]
    work = [(pairs[0],)] + batches(pairs[1:], 3)
    ahead = 4
    handed: list[str] = []
    peak = {"in_flight": 0, "waiting": 0}

    class Watched(InOrder):
        def put(self, i, result):
            super().put(i, result)
            peak["waiting"] = max(peak["waiting"], sum(r is not None for r in self._results))

    order = Watched(len(pairs), lambda case: handed.append(case.case), keep=False)
    index = {p.case: i for i, p in enumerate(pairs)}
    futures: dict = {}
    held: list = []

    class Future:
        def __init__(self, j):
            self.j, self.finished = j, False

        def done(self):
            return self.finished

        def result(self):
            return [SimpleNamespace(case=p.case) for p in work[self.j]]

        def add_done_callback(self, callback):
            peak["in_flight"] = max(peak["in_flight"], len(futures))
            if self.j == 1:  # the slow batch: it finishes once every slot of the window is taken
                held.append((self, callback))
            else:
                self.finished = True
                callback(self)
            if held and len(futures) >= ahead:
                slow, cb = held.pop()
                slow.finished = True
                cb(slow)

    def submit(j):
        futures[(f := Future(j))] = j
        return f

    fake = SimpleNamespace(KilledWorker=RuntimeError, client=SimpleNamespace(FutureCancelledError=KeyError))
    _collect(fake, work, submit, 1, futures, (order, index), None)
    _collect(fake, work, submit, ahead, futures, (order, index), None, start=1)
    assert handed == [p.case for p in pairs]
    assert peak["in_flight"] == ahead  # the window was used, never exceeded
    assert peak["waiting"] == (ahead - 1) * 3  # the batches after the slow one, and no more
