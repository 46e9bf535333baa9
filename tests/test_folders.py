"""Folder mode of `segloss eval`: pairing, errors, parallel determinism, summary, outputs.

Volumes are tiny and most runs use --metrics overlap so the whole file stays fast; the
parallel runs go through a subprocess where numba's on-disk cache or signals are involved.
"""

from __future__ import annotations

import csv
import io
import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import nibabel as nib
import numpy as np
import pytest
from typer.testing import CliRunner

from segloss_cli.cli import app
from segloss_cli.errors import InputError
from segloss_cli.folder import CasePair, pair_folders, score_pairs
from tests.conftest import sigint_default

RUNNER = CliRunner()
SPACING = (0.8, 0.8, 2.0)


def write_nifti(path, array, spacing=SPACING):
    nib.save(nib.Nifti1Image(np.asarray(array), np.diag([*spacing, 1.0])), str(path))
    return Path(path)


def case_arrays(seed: int, shape=(14, 12, 8)):
    """A GT with classes 1 and 2 and a prediction with some voxels relabelled."""
    rng = np.random.default_rng(seed)
    gt = np.zeros(shape, np.uint8)
    gt[2:8, 2:9, 1:6] = 1
    gt[8:13, 3:8, 2:7] = 2
    pred = gt.copy()
    n = 25 + seed * 3
    idx = tuple(rng.integers(0, s, n) for s in shape)
    pred[idx] = rng.integers(0, 3, n)
    return pred, gt


def make_folders(tmp_path, n=5, *, pred_name="{}.nii.gz", gt_name="{}.nii.gz", ids=None, empty_class2=()):
    pdir, gdir = tmp_path / "pred", tmp_path / "gt"
    pdir.mkdir(exist_ok=True)
    gdir.mkdir(exist_ok=True)
    ids = ids or [f"case{i:02d}" for i in range(n)]
    for i, cid in enumerate(ids):
        pred, gt = case_arrays(i)
        if cid in empty_class2:
            pred[pred == 2] = 0
        write_nifti(pdir / pred_name.format(cid), pred)
        write_nifti(gdir / gt_name.format(cid), gt)
    return pdir, gdir


def run(*args):
    res = RUNNER.invoke(app, [str(a) for a in args])
    return res


def naive_dice(pred, gt, label):
    p, g = pred == label, gt == label
    denom = p.sum() + g.sum()
    return None if denom == 0 else 2.0 * np.logical_and(p, g).sum() / denom


# ------------------------------------------------------------------ pairing rules


def test_pairs_by_case_id_ignoring_other_files(tmp_path):
    pdir, gdir = make_folders(tmp_path, 3)
    (pdir / "notes.txt").write_text("not an image")
    (gdir / "dataset.json").write_text("{}")
    (gdir / ".hidden.nii.gz").write_bytes(b"")
    (gdir / "sub").mkdir()
    pairing = pair_folders(pdir, gdir)
    assert [p.case for p in pairing.pairs] == ["case00", "case01", "case02"]
    assert all(Path(p.pred).parent == pdir and Path(p.gt).parent == gdir for p in pairing.pairs)


def test_pairs_across_formats_and_sorted_whatever_the_creation_order(tmp_path):
    pdir, gdir = tmp_path / "p", tmp_path / "g"
    pdir.mkdir()
    gdir.mkdir()
    for cid in ["c3", "c1", "c2"]:  # created out of order
        pred, gt = case_arrays(1)
        np.save(pdir / f"{cid}.npy", pred)
        write_nifti(gdir / f"{cid}.nii", gt)
    pairing = pair_folders(pdir, gdir)
    assert [p.case for p in pairing.pairs] == ["c1", "c2", "c3"]
    assert pairing.pairs[0].pred.endswith("c1.npy") and pairing.pairs[0].gt.endswith("c1.nii")


def test_pattern_and_suffixes(tmp_path):
    pdir, gdir = make_folders(tmp_path, 3, pred_name="{}_seg.nii.gz", gt_name="{}_gt.nii.gz")
    write_nifti(pdir / "other_seg.nii.gz", case_arrays(0)[0])
    with pytest.raises(InputError, match="without a ground truth: case00_seg"):
        pair_folders(pdir, gdir, pattern="case*")
    pairing = pair_folders(pdir, gdir, pattern="case*", pred_suffix="_seg", gt_suffix="_gt")
    assert [p.case for p in pairing.pairs] == ["case00", "case01", "case02"]
    res = run(
        "eval",
        pdir,
        gdir,
        "--pattern",
        "case0[12]*",
        "--pred-suffix",
        "_seg",
        "--gt-suffix",
        "_gt",
        "--metrics",
        "dice",
        "--format",
        "json",
        "-j",
        "1",
    )
    assert res.exit_code == 0, res.stderr
    assert [c["case"] for c in json.loads(res.stdout)["cases"]] == ["case01", "case02"]


def test_missing_and_extra_predictions_listed_before_any_work(tmp_path):
    pdir, gdir = make_folders(tmp_path, 4)
    (pdir / "case01.nii.gz").unlink()
    write_nifti(pdir / "stray.nii.gz", case_arrays(0)[0])
    out = tmp_path / "out.json"
    res = run("eval", pdir, gdir, "--json", out, "-j", "1")
    assert res.exit_code == 2
    line = res.stderr.strip()
    assert "\n" not in line
    assert "1 ground truth(s) without a prediction: case01" in line
    assert "1 prediction(s) without a ground truth: stray" in line
    assert "--missing worst" in line
    assert not out.exists()


def test_duplicate_case_ids_are_an_error_naming_both_files(tmp_path):
    pdir, gdir = make_folders(tmp_path, 2)
    pred, _ = case_arrays(0)
    write_nifti(pdir / "case00.nii", pred)
    for missing in ("error", "worst", "skip"):
        res = run("eval", pdir, gdir, "--missing", missing, "-j", "1")
        assert res.exit_code == 2
        assert "duplicate case id" in res.stderr and "case00.nii and case00.nii.gz" in res.stderr


def test_zero_pairs_is_an_error(tmp_path):
    pdir, gdir = make_folders(tmp_path, 2)
    for f in gdir.iterdir():
        f.rename(gdir / ("x_" + f.name))
    res = run("eval", pdir, gdir, "--missing", "skip", "-j", "1")
    assert res.exit_code == 2
    assert "no case pairs" in res.stderr
    empty = tmp_path / "empty"
    empty.mkdir()
    res = run("eval", pdir, empty, "-j", "1")
    assert res.exit_code == 2 and "no ground-truth files" in res.stderr
    res = run("eval", pdir, gdir, "--pattern", "nothing*", "-j", "1")
    assert res.exit_code == 2 and "matching --pattern 'nothing*'" in res.stderr


def test_file_and_folder_mixed_or_folder_options_on_files(tmp_path):
    pdir, gdir = make_folders(tmp_path, 1)
    res = run("eval", pdir, gdir / "case00.nii.gz")
    assert res.exit_code == 2 and "two files or two folders" in res.stderr
    res = run("eval", pdir / "case00.nii.gz", gdir / "case00.nii.gz", "--pattern", "*")
    assert res.exit_code == 2 and "--pattern applies to folders" in res.stderr
    res = run("eval", pdir, gdir, "--jobs", "0")
    assert res.exit_code == 2 and "--jobs" in res.stderr


def test_missing_worst_scores_an_empty_prediction(tmp_path):
    pdir, gdir = make_folders(tmp_path, 3)
    (pdir / "case01.nii.gz").unlink()
    res = run("eval", pdir, gdir, "--missing", "worst", "--metrics", "dice,recall", "--format", "json", "-j", "1")
    assert res.exit_code == 0, res.stderr
    assert "case01" in res.stderr and "scored as empty" in res.stderr
    data = json.loads(res.stdout)
    case = {c["case"]: c for c in data["cases"]}["case01"]
    assert case["pred"] is None
    assert {k: (v["status"], v["metrics"]["dice"], v["metrics"]["recall"]) for k, v in case["classes"].items()} == {
        "1": ("pred_empty", 0.0, 0.0),
        "2": ("pred_empty", 0.0, 0.0),
    }
    pairing = data["summary"]["pairing"]
    assert pairing["missing_predictions"] == ["case01"] and pairing["n_missing_scored_as_empty"] == 1
    assert data["summary"]["classes"]["1"]["metrics"]["dice"]["n"] == 3
    assert data["summary"]["worst_cases"]["cases"][0]["case"] == "case01"


def test_missing_skip_leaves_the_case_out_and_counts_it(tmp_path):
    pdir, gdir = make_folders(tmp_path, 3)
    (pdir / "case02.nii.gz").unlink()
    write_nifti(pdir / "extra.nii.gz", case_arrays(0)[0])
    res = run("eval", pdir, gdir, "--missing", "skip", "--metrics", "dice", "--format", "json", "-j", "1")
    assert res.exit_code == 0, res.stderr
    data = json.loads(res.stdout)
    assert [c["case"] for c in data["cases"]] == ["case00", "case01"]
    p = data["summary"]["pairing"]
    assert (p["n_missing_skipped"], p["missing_predictions"], p["extra_predictions"]) == (1, ["case02"], ["extra"])
    assert data["summary"]["n_cases"] == 2


# ------------------------------------------------------------------ values and summary


def test_case_values_and_summary_statistics_against_numpy(tmp_path):
    pdir, gdir = make_folders(tmp_path, 6, empty_class2=("case02", "case04"))
    res = run("eval", pdir, gdir, "--metrics", "dice,precision", "--empty-policy", "nan", "--format", "json", "-j", "1")
    assert res.exit_code == 0, res.stderr
    data = json.loads(res.stdout)
    per_label = {1: [], 2: []}
    prec2 = []
    for case in data["cases"]:
        pred = np.asarray(nib.load(str(pdir / f"{case['case']}.nii.gz")).dataobj)
        gt = np.asarray(nib.load(str(gdir / f"{case['case']}.nii.gz")).dataobj)
        for lab in (1, 2):
            got = case["classes"][str(lab)]["metrics"]["dice"]
            one_empty = (pred == lab).any() != (gt == lab).any()
            if one_empty:  # --empty-policy nan: a missed class is undefined
                assert got is None and case["classes"][str(lab)]["status"] == "pred_empty"
            else:
                assert got == pytest.approx(naive_dice(pred, gt, lab), rel=1e-12)
            per_label[lab].append(got)
        p2 = (pred == 2).sum()
        prec2.append(None if p2 == 0 else np.logical_and(pred == 2, gt == 2).sum() / p2)
        assert case["classes"]["2"]["metrics"]["precision"] == (None if prec2[-1] is None else pytest.approx(prec2[-1]))
    summ = data["summary"]["classes"]
    for lab, n_null in ((1, 0), (2, 2)):
        v = np.array([x for x in per_label[lab] if x is not None])
        st = summ[str(lab)]["metrics"]["dice"]
        q1, med, q3 = np.percentile(v, [25, 50, 75])
        expect = dict(mean=v.mean(), std=v.std(), median=med, q1=q1, q3=q3, min=v.min(), max=v.max())
        for k, e in expect.items():
            assert st[k] == pytest.approx(e, rel=1e-12, abs=1e-15), k
        assert (st["n"], st["n_null"]) == (6 - n_null, n_null)
    defined = np.array([v for v in prec2 if v is not None])
    st = summ["2"]["metrics"]["precision"]
    assert (st["n"], st["n_null"]) == (4, 2)
    assert st["mean"] == pytest.approx(defined.mean()) and st["std"] == pytest.approx(defined.std())
    # mean over classes: per case the mean of its defined class values, then statistics over cases
    per_case = np.array([np.mean([x for x in pair if x is not None]) for pair in zip(per_label[1], per_label[2])])
    assert data["summary"]["mean_over_classes"]["dice"]["mean"] == pytest.approx(per_case.mean())
    assert data["summary"]["mean_over_classes"]["dice"]["median"] == pytest.approx(np.median(per_case))
    worst = data["summary"]["worst_cases"]
    assert worst["metric"] == "dice"
    # a case with a missed (undefined) class first, then by the worst class value, then the mean (issue 14)
    pairs = list(zip(per_label[1], per_label[2]))
    missed = [any(x is None for x in pair) for pair in pairs]
    worst_value = [0.0 if missed[i] else min(pairs[i]) for i in range(6)]
    order = sorted(range(6), key=lambda i: (not missed[i], worst_value[i], per_case[i], i))
    assert [w["case"] for w in worst["cases"]] == [f"case{i:02d}" for i in order[:5]]


def test_csv_outputs_and_summary_csv(tmp_path):
    pdir, gdir = make_folders(tmp_path, 3)
    jp, cp, sp = tmp_path / "r.json", tmp_path / "r.csv", tmp_path / "s.csv"
    res = run("eval", pdir, gdir, "--metrics", "dice,iou", "--json", jp, "--csv", cp, "--summary-csv", sp, "-j", "1")
    assert res.exit_code == 0, res.stderr
    data = json.loads(jp.read_text())
    rows = list(csv.DictReader(io.StringIO(cp.read_text())))
    assert [(r["case"], r["label"]) for r in rows] == [(f"case0{i}", lab) for i in range(3) for lab in ("1", "2")]
    assert float(rows[0]["dice"]) == data["cases"][0]["classes"]["1"]["metrics"]["dice"]
    srows = list(csv.DictReader(io.StringIO(sp.read_text())))
    got = {(r["label"], r["kind"], r["key"]): r for r in srows}
    st = data["summary"]["classes"]["2"]["metrics"]["iou"]
    assert float(got[("2", "metric", "iou")]["mean"]) == st["mean"] and int(got[("2", "metric", "iou")]["n"]) == st["n"]
    assert (
        float(got[("mean_over_classes", "metric", "dice")]["q3"]) == data["summary"]["mean_over_classes"]["dice"]["q3"]
    )
    pooled = data["summary"]["pooled"]
    assert float(got[("2", "pooled", "iou")]["mean"]) == pooled["classes"]["2"]["metrics"]["iou"]
    assert float(got[("all", "pooled", "mIoU")]["mean"]) == pooled["mIoU"]


def test_terminal_table_shows_summary_n_and_worst_cases(tmp_path):
    pdir, gdir = make_folders(tmp_path, 4, empty_class2=("case01",))
    res = run("eval", pdir, gdir, "--metrics", "dice,precision", "-j", "1")
    assert res.exit_code == 0, res.stderr
    out = res.stdout
    assert "summary of 4 cases" in out and "mean over classes" in out
    assert "±" in out and "(n=3)" in out  # precision of class 2 undefined in one case
    assert "worst cases by dice" in out and out.index("case01") < out.rindex("case0")
    assert "scoring" not in res.stderr  # no progress bar when stderr is not a terminal


# ------------------------------------------------------------------ errors leave nothing behind


def test_a_bad_case_fails_the_run_and_writes_nothing(tmp_path):
    pdir, gdir = make_folders(tmp_path, 4)
    (pdir / "case02.nii.gz").write_bytes(b"\x1f\x8bnot really gzip")
    out, out_csv = tmp_path / "out.json", tmp_path / "out.csv"
    res = run("eval", pdir, gdir, "--json", out, "--csv", out_csv, "--metrics", "dice", "-j", "1")
    assert res.exit_code == 2
    assert "case02.nii.gz" in res.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["gt", "pred"]


# ------------------------------------------------------------------ parallel runs (subprocess)


def _segloss(*args, env=None, **kw):
    return subprocess.run(
        [sys.executable, "-m", "segloss_cli", *map(str, args)],
        capture_output=True,
        text=True,
        env={**os.environ, **(env or {})},
        timeout=300,
        **kw,
    )


def test_jobs_1_and_2_give_identical_cli_outputs(tmp_path):
    pdir, gdir = make_folders(tmp_path, 6, empty_class2=("case03",))
    outs = {}
    for jobs in (2, 1):
        csv_path = tmp_path / f"j{jobs}.csv"
        res = _segloss("eval", pdir, gdir, "--metrics", "all", "--format", "json", "--csv", csv_path, "--jobs", jobs)
        assert res.returncode == 0, res.stderr
        outs[jobs] = (res.stdout, csv_path.read_text())
    assert outs[1] == outs[2]
    assert [c["case"] for c in json.loads(outs[1][0])["cases"]] == [f"case{i:02d}" for i in range(6)]


_POOL_SCRIPT = """
import json, sys
from segloss_cli.evaluate import EvalParams
from segloss_cli.folder import pair_folders, score_pairs
from segloss_cli.losses.registry import LossParams
from segloss_cli.metrics.registry import select

if __name__ == "__main__":
    pairs = pair_folders(sys.argv[1], sys.argv[2]).pairs
    opts = EvalParams(metrics=select(sys.argv[3]), losses=LossParams(names=("dice", "ce", "focal", "lovasz_softmax")))
    pool = score_pairs(pairs, opts, jobs=2)  # cases 1.. scored by two worker threads
    serial = score_pairs(pairs, opts, jobs=1)
    print(json.dumps([[c.to_dict() for c in pool], [c.to_dict() for c in serial]]))
"""


def test_worker_threads_share_compiled_kernels_and_match_serial(tmp_path):
    """Worker threads use the kernels the first case compiled or loaded: no kernel is compiled
    or loaded from numba's cache twice, and every value, float loss sums included, matches
    the serial run."""
    pdir, gdir = make_folders(tmp_path, 5, empty_class2=("case02",))
    script = tmp_path / "pool.py"
    script.write_text(_POOL_SCRIPT)
    res = subprocess.run(
        [sys.executable, str(script), str(pdir), str(gdir), "all"],
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "NUMBA_DEBUG_CACHE": "1"},
    )
    assert res.returncode == 0, res.stderr[-3000:]
    log = res.stdout.splitlines()  # numba prints its cache debugging on stdout
    pool, serial = json.loads(log[-1])
    assert pool == serial and [c["case"] for c in pool] == [f"case{i:02d}" for i in range(5)]
    saved = [line.split("'")[1] for line in log if line.startswith("[cache] data saved to")]
    loaded = [line.split("'")[1] for line in log if line.startswith("[cache] data loaded from")]
    assert saved or loaded  # the kernels went through the cache
    assert len(saved) == len(set(saved)) and len(loaded) == len(set(loaded))
    assert not set(saved) & set(loaded)


def _thread_names_scoring(tmp_path, monkeypatch, n_cases: int, jobs: int) -> list[str]:
    """Score a generated folder; the name of the thread that scored each case, in order."""
    import threading

    import segloss_cli.folder as folder_mod
    from segloss_cli.evaluate import EvalParams
    from segloss_cli.metrics.registry import select

    pdir, gdir = make_folders(tmp_path, n_cases)
    names = []
    score = folder_mod.score_pair

    def spy(pair, opts):
        names.append(threading.current_thread().name)
        return score(pair, opts)

    monkeypatch.setattr(folder_mod, "score_pair", spy)
    results = score_pairs(pair_folders(pdir, gdir).pairs, EvalParams(metrics=select("dice")), jobs=jobs)
    assert [r.case for r in results] == [f"case{i:02d}" for i in range(n_cases)]
    return names


def test_cases_run_on_worker_threads(tmp_path, monkeypatch):
    import threading

    names = _thread_names_scoring(tmp_path, monkeypatch, 6, jobs=2)
    assert names[0] == threading.current_thread().name  # the first case compiles, alone
    assert len(names) == 6 and all(n.startswith("segloss-case-") for n in names[1:])


def test_workqueue_threading_layer_scores_cases_one_at_a_time(tmp_path, monkeypatch):
    """numba's workqueue layer aborts on concurrent parallel launches: no worker threads then."""
    import threading

    import numba

    monkeypatch.setattr(numba, "threading_layer", lambda: "workqueue")
    names = _thread_names_scoring(tmp_path, monkeypatch, 4, jobs=2)
    assert len(names) == 4 and set(names) == {threading.current_thread().name}


def test_worker_error_stops_the_pool_and_writes_nothing(tmp_path):
    pdir, gdir = make_folders(tmp_path, 5)
    write_nifti(pdir / "case03.nii.gz", np.zeros((5, 5, 5), np.uint8))  # wrong shape
    out = tmp_path / "out.json"
    res = _segloss("eval", pdir, gdir, "--metrics", "dice", "--json", out, "--jobs", "2")
    assert res.returncode == 2, res.stderr
    assert "case03.nii.gz" in res.stderr and "Traceback" not in res.stderr
    assert not out.exists() and not list(tmp_path.glob(".out.json*"))


_SLOW_SITE = """
import os, threading, time
import segloss_cli.folder as folder

_score = folder.score_pair

def score_pair(pair, opts):
    with open(os.environ["SEGLOSS_TEST_STARTED"], "a") as fh:
        fh.write(threading.current_thread().name + "\\n")
    time.sleep(0.4)
    return _score(pair, opts)

folder.score_pair = score_pair
"""


@pytest.mark.parametrize("sig, code, word", [(signal.SIGINT, 130, "interrupted"), (signal.SIGTERM, 143, "terminated")])
def test_interrupt_stops_workers_promptly_and_writes_nothing(tmp_path, sig, code, word):
    pdir, gdir = make_folders(tmp_path, 24)
    site = tmp_path / "site"
    site.mkdir()
    (site / "sitecustomize.py").write_text(textwrap.dedent(_SLOW_SITE))  # every case takes >= 0.4 s
    out = tmp_path / "out.json"
    started = tmp_path / "started.txt"
    env = {**os.environ, "PYTHONPATH": str(site), "SEGLOSS_TEST_STARTED": str(started)}
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "segloss_cli",
            "eval",
            str(pdir),
            str(gdir),
            "--metrics",
            "dice",
            "--json",
            str(out),
            "--jobs",
            "2",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
        start_new_session=True,
        preexec_fn=sigint_default,
    )
    deadline = time.monotonic() + 60

    def workers_started():  # both worker threads are inside a case
        return started.exists() and len({n for n in started.read_text().split() if n.startswith("segloss-case-")}) == 2

    while not workers_started() and time.monotonic() < deadline:
        time.sleep(0.05)
    time.sleep(0.2)
    assert proc.poll() is None
    t0 = time.monotonic()
    if sig == signal.SIGINT:
        os.killpg(proc.pid, sig)  # Ctrl-C reaches the whole foreground process group
    else:
        proc.send_signal(sig)
    _, err = proc.communicate(timeout=30)
    assert time.monotonic() - t0 < 5
    assert proc.returncode == code, err
    assert f"segloss: {word}; nothing written" in err and "Traceback" not in err
    assert not out.exists() and not list(tmp_path.glob(".out.json*"))
    deadline = time.monotonic() + 5
    while _live_in_group(proc.pid) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert _live_in_group(proc.pid) == []  # no worker left behind


def _live_in_group(pgid: int) -> list[int]:
    """Processes of a process group that are not zombies (exited, waiting to be reaped)."""
    live = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        fields = stat[stat.rindex(")") + 2 :].split()
        if int(fields[2]) == pgid and fields[0] != "Z":
            live.append(int(entry.name))
    return live


def test_pair_folders_rejects_unknown_policy(tmp_path):
    pdir, gdir = make_folders(tmp_path, 1)
    from segloss_cli.errors import UsageError

    with pytest.raises(UsageError):
        pair_folders(pdir, gdir, missing="ignore")
    assert CasePair("a", None, "g").pred is None


def test_results_do_not_depend_on_the_numba_thread_count(tmp_path):
    """Workers get fewer numba threads than the parent; float loss sums must not change."""
    rng = np.random.default_rng(7)
    gt = np.zeros((24, 20, 10), np.uint8)
    gt[2:14, 3:17, 2:8] = 1
    gt[14:22, 4:12, 1:9] = 2
    logits = (rng.normal(size=(3, *gt.shape)) + 3.0 * np.stack([gt == k for k in range(3)])).astype(np.float32)
    np.save(tmp_path / "logits.npy", logits)
    np.save(tmp_path / "gt.npy", gt)
    outs = []
    for threads in ("1", "2"):
        res = _segloss(
            "eval",
            tmp_path / "logits.npy",
            tmp_path / "gt.npy",
            "--pred-type",
            "logits",
            "--spacing",
            "1",
            "--metrics",
            "dice,hd95,assd",
            "--losses",
            "all",
            "--format",
            "json",
            "-q",
            env={"NUMBA_NUM_THREADS": threads},
        )
        assert res.returncode == 0, res.stderr
        outs.append(res.stdout)
    assert outs[0] == outs[1]


def test_folder_json_is_the_same_document_with_one_line_per_case(tmp_path):
    from segloss_cli.aggregate import stats
    from segloss_cli.model import RunResult, Summary
    from segloss_cli.report.json_ import render_json, run_dict

    pdir, gdir = make_folders(tmp_path, 3, empty_class2=("case01",))
    res = run("eval", pdir, gdir, "--metrics", "all", "--format", "json")
    assert res.exit_code == 0, res.stderr
    doc = json.loads(res.stdout)
    case_lines = [line for line in res.stdout.splitlines() if line.startswith('    {"case": ')]
    assert [json.loads(line.rstrip(","))["case"] for line in case_lines] == ["case00", "case01", "case02"]
    assert [json.loads(line.rstrip(",")) for line in case_lines] == doc["cases"]
    # Whitespace is all the layout changes: the same dictionary as a plain dump, in key order.
    run_ = RunResult(
        settings={"segloss_version": "x", "a": [1, {"b": None}]},
        cases=(),
        summary=Summary(0, (), {"dice": stats([1.5, None])}),
    )
    text = render_json(run_)
    assert json.loads(text) == json.loads(json.dumps(run_dict(run_))) and text.endswith("}\n")
    assert list(json.loads(text)) == ["schema_version", "segloss_version", "settings", "cases", "summary"]
