"""Streamed results: --cases-jsonl, a streamed --csv, and a run that keeps no case.

The streamed files must be the whole-run renderers' text byte for byte, the summary taken case
by case must be the summary of the kept cases, and a failed run must write nothing.
"""

from __future__ import annotations

import json
import threading

import numpy as np
import pytest
from typer.testing import CliRunner

from segloss_cli.aggregate import RunningSummary, Values, stats
from segloss_cli.api import FolderParams, evaluate_folder, make_params, run_params
from segloss_cli.cli import app
from segloss_cli.folder import InOrder
from segloss_cli.report.csv_ import render_csv, render_summary_csv
from segloss_cli.report.json_ import render_json
from tests.test_folders import case_arrays, make_folders

RUNNER = CliRunner()
NAMES = {"1": 'left, "odd" name', "2": "two\nlines"}


def run(*args):
    return RUNNER.invoke(app, [str(a) for a in args])


@pytest.fixture(scope="module")
def folders(tmp_path_factory):
    top = tmp_path_factory.mktemp("stream")
    pdir, gdir = make_folders(top, 7, empty_class2=("case03",))
    names = top / "names.json"
    names.write_text(json.dumps(NAMES))
    return pdir, gdir, names


@pytest.fixture(scope="module")
def mixed(tmp_path_factory):
    """.npy cases: label maps for some, softmax scores for others (whose losses the label maps
    lack): the streamed CSV gains loss columns after its first rows."""
    top = tmp_path_factory.mktemp("mixed")
    pdir, gdir = top / "pred", top / "gt"
    pdir.mkdir()
    gdir.mkdir()
    rng = np.random.default_rng(3)
    for i in range(6):
        pred, gt = case_arrays(i, shape=(8, 8, 6))
        np.save(gdir / f"c{i}.npy", gt)
        if i in (2, 4):
            logits = rng.normal(size=(3, *gt.shape)) + 3.0 * np.eye(3)[pred].transpose(3, 0, 1, 2)
            probs = np.exp(logits) / np.exp(logits).sum(axis=0, keepdims=True)
            np.save(pdir / f"c{i}.npy", probs.astype(np.float32))
        else:
            np.save(pdir / f"c{i}.npy", pred)
    return pdir, gdir


COMMON = ("--metrics", "dice,iou,hd95,tp", "--missing", "error", "-q")


def test_streamed_csv_and_summary_equal_the_whole_run(folders, tmp_path):
    pdir, gdir, names = folders
    out = tmp_path / "out"
    out.mkdir()
    res = run(
        "eval", pdir, gdir, *COMMON, "--label-names", names, "-j", "2",
        "--csv", out / "c.csv", "--summary-csv", out / "s.csv", "--cases-jsonl", out / "c.jsonl",
    )  # fmt: skip
    assert res.exit_code == 0, res.stderr
    kept = evaluate_folder(pdir, gdir, metrics="dice,iou,hd95,tp", label_names=names, jobs=1)
    assert (out / "c.csv").read_text() == render_csv(kept)
    assert (out / "s.csv").read_text() == render_summary_csv(kept)
    whole = json.loads(render_json(kept))
    lines = (out / "c.jsonl").read_text().splitlines()
    assert [json.loads(line) for line in lines] == whole["cases"]
    assert sorted(p.name for p in out.iterdir()) == ["c.csv", "c.jsonl", "s.csv"]  # no temporary file left


def test_stdout_csv_and_table_match_a_run_that_keeps_its_cases(folders):
    pdir, gdir, names = folders
    streamed = run("eval", pdir, gdir, *COMMON, "--label-names", names, "-f", "csv")
    kept = evaluate_folder(pdir, gdir, metrics="dice,iou,hd95,tp", label_names=names, jobs=1)
    assert streamed.exit_code == 0, streamed.stderr
    assert streamed.stdout == render_csv(kept)
    table = run("eval", pdir, gdir, *COMMON, "--aggregate", "both")
    with_json = run("eval", pdir, gdir, *COMMON, "--aggregate", "both", "--json", "/dev/null")  # keeps the cases
    assert table.exit_code == with_json.exit_code == 0
    assert table.stdout == with_json.stdout


def test_loss_columns_that_appear_later_widen_the_streamed_csv(mixed, tmp_path):
    pdir, gdir = mixed
    out = tmp_path / "c.csv"
    res = run("eval", pdir, gdir, "--spacing", "1", "--metrics", "dice,hd95", "-q", "-j", "2", "--csv", out)
    assert res.exit_code == 0, res.stderr
    kept = evaluate_folder(pdir, gdir, spacing_mm=1, metrics="dice,hd95", jobs=1)
    assert kept.loss_names and not kept.cases[0].losses  # the first case has no loss
    assert out.read_text() == render_csv(kept)


def test_a_failed_run_writes_nothing_and_leaves_no_temporary_file(folders, tmp_path):
    pdir, gdir, _ = folders
    bad = tmp_path / "pred"
    bad.mkdir()
    for f in pdir.iterdir():
        (bad / f.name).write_bytes(f.read_bytes())
    (bad / "case05.nii.gz").write_bytes(b"\x1f\x8b\x08\x00truncated")
    out = tmp_path / "out"
    out.mkdir()
    res = run("eval", bad, gdir, *COMMON, "-j", "1", "--csv", out / "c.csv", "--cases-jsonl", out / "c.jsonl")
    assert res.exit_code == 2
    assert "case05.nii.gz" in res.stderr and "Traceback" not in res.stderr
    assert list(out.iterdir()) == []


def test_cases_jsonl_may_not_be_another_output(folders, tmp_path):
    pdir, gdir, _ = folders
    res = run("eval", pdir, gdir, "--csv", tmp_path / "a", "--cases-jsonl", tmp_path / "a")
    assert res.exit_code == 2
    assert "--cases-jsonl must be different files" in res.stderr


def test_a_pair_streams_its_one_case(tmp_path):
    pred, gt = case_arrays(1)
    np.save(tmp_path / "p.npy", pred)
    np.save(tmp_path / "g.npy", gt)
    res = run("eval", tmp_path / "p.npy", tmp_path / "g.npy", "-m", "dice", "--cases-jsonl", tmp_path / "c.jsonl", "-q")
    assert res.exit_code == 0, res.stderr
    (line,) = (tmp_path / "c.jsonl").read_text().splitlines()
    assert json.loads(line)["classes"]["1"]["status"] == "ok"


def test_run_without_keeping_cases_has_the_same_summary(folders):
    pdir, gdir, names = folders
    params = make_params(metrics="dice,hd95", label_names=names)
    seen = []
    light = run_params(pdir, gdir, params, folder=FolderParams(jobs=2), keep_cases=False, on_result=seen.append)
    kept = run_params(pdir, gdir, params, folder=FolderParams(jobs=1))
    assert light.cases == ()
    assert tuple(seen) == kept.cases  # handed on in case-id order
    assert light.summary == kept.summary
    assert light.settings == kept.settings


@pytest.mark.parametrize("seed", range(5))
def test_values_give_the_statistics_of_the_list(seed):
    rng = np.random.default_rng(seed)
    raw = [None if rng.random() < 0.2 else float(v) for v in rng.normal(size=int(rng.integers(0, 40)))]
    acc = Values()
    for v in raw:
        acc.add(v)
    got = acc.stats()
    defined = np.array([v for v in raw if v is not None])
    assert (got.n, got.n_null) == (defined.size, len(raw) - defined.size)
    if defined.size:
        assert got.mean == float(defined.mean()) and got.std == float(defined.std())
        assert got.median == float(np.percentile(defined, 50)) and got.q1 == float(np.percentile(defined, 25))
    assert stats(raw) == got


def test_running_summary_keeps_the_k_worst_cases_of_a_full_sort():
    from segloss_cli.aggregate import worst_cases
    from segloss_cli.api import score

    rng = np.random.default_rng(0)
    cases = []
    for i in range(60):
        gt = np.zeros((6, 6), np.uint8)
        gt[1:5, 1:5] = 1
        pred = np.where(rng.random(gt.shape) < rng.random() * 0.6, 0, gt).astype(np.uint8)
        cases.append(score(pred, gt, metrics="dice", case=f"k{i:02d}"))
    acc = RunningSummary(("dice",), worst_metric="dice", k=5)
    for c in cases:
        acc.add(c)
    full = sorted(cases, key=lambda c: (c.classes[0].metrics["dice"], c.case))[:5]
    assert [w.case for w in acc.worst().cases] == [c.case for c in full]  # type: ignore[union-attr]
    assert acc.worst() == worst_cases(cases, "dice")


def test_in_order_hands_results_on_by_index_and_holds_workers_back():
    got = []
    order = InOrder(5, got.append, keep=False, window=1)
    for i in (2, 1, 4):
        order.put(i, f"r{i}")  # type: ignore[arg-type]
    assert got == []
    order.put(0, "r0")  # type: ignore[arg-type]
    assert got == ["r0", "r1", "r2"]
    order.put(3, "r3")  # type: ignore[arg-type]
    assert got == ["r0", "r1", "r2", "r3", "r4"]
    assert order.kept() == ()

    waiting = InOrder(4, keep=False, window=1)
    stop = threading.Event()
    t = threading.Thread(target=waiting.wait_turn, args=(3, stop))
    t.start()
    t.join(0.3)
    assert t.is_alive()  # case 3 is 3 ahead of case 0, the window is 1
    waiting.put(0, "a")  # type: ignore[arg-type]
    waiting.put(1, "b")  # type: ignore[arg-type]
    t.join(2)
    assert not t.is_alive()


def test_an_interrupt_mid_run_writes_nothing_and_says_so(folders, tmp_path, monkeypatch):
    import segloss_cli.folder as folder_mod

    pdir, gdir, _ = folders
    real, calls = folder_mod.score_pair, []

    def interrupted(pair, params):
        calls.append(pair.case)
        if len(calls) == 4:
            raise KeyboardInterrupt
        return real(pair, params)

    monkeypatch.setattr(folder_mod, "score_pair", interrupted)
    out = tmp_path / "out"
    out.mkdir()
    res = run("eval", pdir, gdir, *COMMON, "-j", "1", "--csv", out / "c.csv", "--cases-jsonl", out / "c.jsonl")
    assert res.exit_code == 130
    assert "segloss: interrupted; nothing written" in res.stderr
    assert list(out.iterdir()) == []


def test_requirements_on_a_streamed_run(folders):
    pdir, gdir, _ = folders
    # A mean requirement reads the running summary; a .min one keeps the cases to name them.
    ok = run("eval", pdir, gdir, *COMMON, "--require", "dice>=0.5")
    assert ok.exit_code == 0, ok.stderr
    low = run("eval", pdir, gdir, "--metrics", "dice", "--require", "dice[2].min>=0.99", "--format", "csv")
    assert low.exit_code == 1
    assert "case03" in low.stderr  # case03 has no class 2 in its prediction
