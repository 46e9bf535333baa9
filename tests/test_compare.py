"""`segloss compare`: regressions per class and metric, exit codes, markdown and JSON output."""

from __future__ import annotations

import json
from pathlib import Path

import nibabel as nib
import numpy as np
import pytest
from typer.testing import CliRunner

from segloss_cli.cli import app
from segloss_cli.compare import compare_results, parse_allowances
from segloss_cli.errors import UsageError

RUNNER = CliRunner()


def write_nifti(path, array):
    nib.save(nib.Nifti1Image(np.asarray(array), np.eye(4)), str(path))
    return Path(path)


def run(*args):
    return RUNNER.invoke(app, [str(a) for a in args])


def dice(pred, gt, lab):
    return 2 * np.sum((pred == lab) & (gt == lab)) / (np.sum(pred == lab) + np.sum(gt == lab))


@pytest.fixture
def results(tmp_path):
    """BASE and NEW results of one GT: NEW loses 4 voxel rows of class 2 and gains FPs in class 1."""
    gt = np.zeros((12, 12, 4), np.uint8)
    gt[1:6, 1:11, :] = 1
    gt[7:11, 1:11, :] = 2
    base_pred = gt.copy()
    base_pred[1, 1:11, :] = 0
    new_pred = base_pred.copy()
    new_pred[7, 1:11, :] = 0  # class 2 loses a row
    new_pred[6, 1:4, :] = 1  # class 1 gains false positives
    g = write_nifti(tmp_path / "gt.nii.gz", gt)
    out = {}
    for name, pred in (("base", base_pred), ("new", new_pred)):
        p = write_nifti(tmp_path / f"{name}_pred.nii.gz", pred)
        out[name] = tmp_path / f"{name}.json"
        res = run("eval", p, g, "--metrics", "dice,iou,fp", "--json", out[name], "--format", "csv")
        assert res.exit_code == 0, res.stderr
        out[f"{name}_dice"] = {lab: dice(pred, gt, lab) for lab in (1, 2)}
        out[f"{name}_fp"] = {lab: int(np.sum((pred == lab) & (gt != lab))) for lab in (1, 2)}
    return out


def test_exit_0_within_allowance_and_1_beyond(results):
    b, n = results["base"], results["new"]
    drop2 = results["base_dice"][2] - results["new_dice"][2]
    assert drop2 > 0
    res = run("compare", b, n, "--max-drop", f"dice={drop2 + 1e-6}")
    assert res.exit_code == 0, res.stdout + res.stderr
    res = run("compare", b, n, "--max-drop", f"dice={drop2 - 1e-6}")
    assert res.exit_code == 1
    assert "REGRESSION" in res.stdout and "1 regression(s)" in res.stdout
    rise1 = results["new_fp"][1] - results["base_fp"][1]
    assert rise1 == 12
    assert run("compare", b, n, "--max-rise", "fp=12").exit_code == 0
    assert run("compare", b, n, "--max-rise", "fp=11.5").exit_code == 1
    assert run("compare", b, n).exit_code == 0  # no allowance: differences only


def test_json_output_values(results):
    res = run("compare", results["base"], results["new"], "--max-drop", "dice=0.01,f1=0.5", "--format", "json")
    assert res.exit_code == 2 and "two allowances" in res.stderr  # f1 is an alias of dice
    res = run(
        "compare", results["base"], results["new"], "--max-drop", "dice=0.01", "--max-rise", "fp=0", "--format", "json"
    )
    assert res.exit_code == 1
    data = json.loads(res.stdout)
    rows = {(r["label"], r["key"]): r for r in data["rows"]}
    for lab in (1, 2):
        r = rows[(str(lab), "dice")]
        assert r["base"] == pytest.approx(results["base_dice"][lab]) and r["new"] == pytest.approx(
            results["new_dice"][lab]
        )
        assert r["delta"] == pytest.approx(results["new_dice"][lab] - results["base_dice"][lab])
    assert rows[("2", "dice")]["status"] == "regression"
    assert rows[("1", "fp")]["status"] == "regression" and rows[("2", "fp")]["status"] == "ok"
    assert rows[("mean", "dice")]["status"] == "info"
    assert data["n_regressions"] == sum(r["status"] == "regression" for r in data["rows"])


def test_markdown_table_for_a_pull_request(results):
    res = run("compare", results["base"], results["new"], "--max-drop", "dice=0.001", "--format", "markdown")
    assert res.exit_code == 1
    lines = res.stdout.splitlines()
    assert lines[0].startswith("### ❌ segloss compare:")
    header = lines.index("| class | metric | base | new | change | allowed | result |")
    assert lines[header + 1] == "|---|---|---:|---:|---:|---|---|"
    body = [line for line in lines[header + 2 :] if line.startswith("|")]
    assert len(body) == 3  # classes 1 and 2, then the mean over classes
    d2 = results["base_dice"][2], results["new_dice"][2]
    assert body[1] == (
        f"| 2 | dice | {d2[0]:.4f} | {d2[1]:.4f} | {d2[1] - d2[0]:+.4f} | drop <= 0.001 | ❌ regression |"
    )
    ok = run("compare", results["base"], results["base"], "--max-drop", "dice=0", "--format", "markdown")
    assert ok.exit_code == 0 and ok.stdout.startswith("### ✅")


def test_usage_and_input_errors(results, tmp_path):
    b, n = results["base"], results["new"]
    for args, msg in [
        (("--max-drop", "nosuch=1"), "unknown metric 'nosuch'"),
        (("--max-drop", "recall=1"), "not in either result"),
        (("--max-drop", "dice"), "expected NAME=AMOUNT"),
        (("--max-drop", "dice=-1"), ">= 0"),
        (("--max-rise", "loss.dice=1"), "not in either result"),
    ]:
        res = run("compare", b, n, *args)
        assert res.exit_code == 2 and msg in res.stderr, (args, res.stderr)
    junk = tmp_path / "junk.json"
    junk.write_text('{"hello": 1}')
    res = run("compare", b, junk)
    assert res.exit_code == 2 and "not a segloss result" in res.stderr
    res = run("compare", b, tmp_path / "absent.json")
    assert res.exit_code == 2 and "file not found" in res.stderr


def _result(classes, *, settings=None, cases=("c",)):
    """A minimal schema-1 result: classes = {label: {metric: mean}}."""
    return {
        "schema_version": 1,
        "settings": settings or {},
        "cases": [{"case": c} for c in cases],
        "summary": {
            "classes": {
                lab: {"name": None, "metrics": {m: {"mean": v} for m, v in ms.items()}} for lab, ms in classes.items()
            },
            "mean_over_classes": {},
        },
    }


def test_undefined_or_missing_class_in_new_is_a_regression():
    base = _result({"1": {"dice": 0.9}, "2": {"dice": 0.8}})
    new = _result({"1": {"dice": None}})
    allow = parse_allowances(["dice=0.5"], "drop")
    comp = compare_results(base, new, allow)
    assert {(r.label, r.status) for r in comp.rows} == {("1", "undefined"), ("2", "missing")}
    comp = compare_results(base, new, allow, allow_undefined=True)
    assert {(r.label, r.status) for r in comp.rows} == {("1", "ok"), ("2", "missing")}
    # undefined in BASE and defined in NEW is not a regression; a class new in NEW is listed
    comp = compare_results(_result({"1": {"dice": None}}), _result({"1": {"dice": 0.1}, "3": {"dice": 0.5}}), allow)
    assert [(r.label, r.status) for r in comp.rows] == [("1", "ok"), ("3", "new_class")]
    assert not comp.failures


def test_notes_on_settings_and_case_sets():
    base = _result({"1": {"dice": 0.9}}, settings={"empty_policy": "worst"}, cases=("a", "b"))
    new = _result({"1": {"dice": 0.9}}, settings={"empty_policy": "nan"}, cases=("b", "c"))
    comp = compare_results(base, new, parse_allowances(["dice=0"], "drop"))
    assert comp.notes == (
        'setting empty_policy differs: "worst" in BASE, "nan" in NEW',
        "1 case(s) only in BASE: a",
        "1 case(s) only in NEW: c",
    )
    assert not comp.failures


def test_allowance_parsing():
    assert [
        (a.key, a.direction, a.amount) for a in parse_allowances(["dice=0.01, jaccard=0.02", "loss.Dice=1"], "drop")
    ] == [("dice", "drop", 0.01), ("iou", "drop", 0.02), ("loss.dice", "drop", 1.0)]
    with pytest.raises(UsageError):
        parse_allowances(["dice=x"], "rise")


def test_folder_results_compare_summary_means(tmp_path):
    def folder(name, shift):
        pdir, gdir = tmp_path / name / "p", tmp_path / name / "g"
        pdir.mkdir(parents=True)
        gdir.mkdir(parents=True)
        vals = []
        for i in range(3):
            gt = np.zeros((10, 10, 3), np.uint8)
            gt[2:8, 2:8, :] = 1
            pred = gt.copy()
            pred[2 : 2 + i + shift, 2:8, :] = 0
            write_nifti(pdir / f"c{i}.nii.gz", pred)
            write_nifti(gdir / f"c{i}.nii.gz", gt)
            vals.append(dice(pred, gt, 1))
        out = tmp_path / f"{name}.json"
        assert run("eval", pdir, gdir, "--metrics", "dice", "-j", "1", "--json", out, "-q").exit_code == 0
        return out, float(np.mean(vals))

    (b, mb), (n, mn) = folder("base", 0), folder("new", 1)
    res = run("compare", b, n, "--max-drop", "dice=0.01", "--format", "json")
    assert res.exit_code == 1
    row = [r for r in json.loads(res.stdout)["rows"] if r["label"] == "1"][0]
    assert row["base"] == pytest.approx(mb) and row["new"] == pytest.approx(mn)
    assert run("compare", b, n, "--max-drop", f"dice={mb - mn + 1e-9}").exit_code == 0
