"""Surface metrics through `segloss eval`: one test per empty-mask cell, options, settings."""

import json
import math

import numpy as np
import pytest
from typer.testing import CliRunner

from segloss_cli.cli import app
from tests import naive_distance as naive
from tests.conftest import write_nifti

runner = CliRunner()
DIST = ("hd", "hd95", "assd", "masd")
SP = (float(np.float32(0.8)), float(np.float32(0.9)), 2.5)  # as stored in a NIfTI header


def run(*args):
    return runner.invoke(app, [str(a) for a in args])


def _json(result):
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


@pytest.fixture
def pair(tmp_path):
    """Label 1 in both (ok), 2 only in GT (pred_empty), 3 only in PRED (gt_empty); 4 in neither."""
    gt = np.zeros((12, 10, 8), np.uint8)
    gt[2:8, 2:7, 1:6] = 1
    gt[9:11, 7:9, 5:7] = 2
    pred = np.zeros_like(gt)
    pred[3:9, 2:6, 2:7] = 1
    pred[0:2, 0:3, 0:2] = 3
    return (write_nifti(tmp_path / "pred.nii.gz", pred, SP), write_nifti(tmp_path / "gt.nii.gz", gt, SP), pred, gt)


def _classes(pair, *extra):
    p, g, *_ = pair
    doc = _json(run("eval", p, g, "--format", "json", "--labels", "1,2,3,4", *extra))
    return doc, doc["cases"][0]["classes"]


def diagonal(shape, spacing):
    return math.sqrt(sum((n * s) ** 2 for n, s in zip(shape, spacing)))


def test_ok_class_matches_brute_force(pair):
    _, _, pred, gt = pair
    _, classes = _classes(pair, "--nsd-tolerance", "1.2")
    row = classes["1"]
    assert row["status"] == "ok"
    ref = naive.metrics(pred == 1, gt == 1, SP, tau=1.2)
    for name in (*DIST, "nsd"):
        assert row["metrics"][name] == pytest.approx(ref[name], rel=1e-12), name


def test_both_empty_worst(pair):
    _, classes = _classes(pair)
    row = classes["4"]
    assert row["status"] == "both_empty"
    assert [row["metrics"][n] for n in DIST] == [0.0] * 4
    assert row["metrics"]["nsd"] == 1.0


@pytest.mark.parametrize("label,status", [("3", "gt_empty"), ("2", "pred_empty")], ids=["gt_empty", "pred_empty"])
def test_one_side_empty_worst_is_the_gt_diagonal(pair, label, status):
    _, _, _, gt = pair
    _, classes = _classes(pair)
    row = classes[label]
    assert row["status"] == status
    for n in DIST:
        assert row["metrics"][n] == pytest.approx(diagonal(gt.shape, SP), rel=1e-12)
    assert row["metrics"]["nsd"] == 0.0


@pytest.mark.parametrize(
    "label,status",
    [("4", "both_empty"), ("3", "gt_empty"), ("2", "pred_empty")],
    ids=["both_empty", "gt_empty", "pred_empty"],
)
def test_nan_policy_gives_null(pair, label, status):
    _, classes = _classes(pair, "--empty-policy", "nan")
    row = classes[label]
    assert row["status"] == status
    for n in (*DIST, "nsd"):
        assert row["metrics"][n] is None


def test_worst_distance_override(pair):
    _, classes = _classes(pair, "--worst-distance", "123.5")
    for label in ("2", "3"):
        assert [classes[label]["metrics"][n] for n in DIST] == [123.5] * 4
    assert classes["4"]["metrics"]["hd"] == 0.0


def test_settings_record_options(pair):
    doc, _ = _classes(pair, "--hd-percentile", "90", "--hd-mode", "pooled", "--nsd-tolerance", "1.5,2=0.5")
    s = doc["settings"]
    assert s["hd_percentile"] == 90.0 and s["hd_mode"] == "pooled" and s["distance_unit"] == "mm"
    assert s["nsd_tolerance_mm"] == 1.5 and s["nsd_tolerance_per_label_mm"] == {"2": 0.5}


def test_pooled_percentile_option_matches_oracle(pair):
    _, _, pred, gt = pair
    _, classes = _classes(pair, "--hd-percentile", "80", "--hd-mode", "pooled")
    ref = naive.metrics(pred == 1, gt == 1, SP, q=80.0, mode="pooled")
    assert classes["1"]["metrics"]["hd95"] == pytest.approx(ref["hd95"], rel=1e-12)


def test_metrics_overlap_skips_distances(pair):
    p, g, *_ = pair
    doc = _json(run("eval", p, g, "--format", "json", "--metrics", "overlap"))
    row = doc["cases"][0]["classes"]["1"]["metrics"]
    assert "dice" in row and not set(row) & {"hd", "hd95", "assd", "masd", "nsd"}
    assert "hd_mode" not in doc["settings"]


def test_table_header_shows_mm(pair):
    p, g, *_ = pair
    result = run("eval", p, g, "--metrics", "dice,hd95,nsd")
    assert result.exit_code == 0, result.output
    assert "hd95 (mm)" in result.stdout


def test_2d_numpy_with_spacing_option(tmp_path):
    gt = np.zeros((9, 11), np.uint8)
    gt[2:6, 3:9] = 1
    pred = np.roll(gt, 1, axis=1)
    np.save(tmp_path / "p.npy", pred)
    np.save(tmp_path / "g.npy", gt)
    doc = _json(run("eval", tmp_path / "p.npy", tmp_path / "g.npy", "--format", "json", "--spacing", "0.5,2"))
    ref = naive.metrics(pred == 1, gt == 1, (0.5, 2.0))
    for n in (*DIST, "nsd"):
        assert doc["cases"][0]["classes"]["1"]["metrics"][n] == pytest.approx(ref[n], rel=1e-12)


def test_numpy_without_spacing_is_a_usage_error(tmp_path):
    np.save(tmp_path / "p.npy", np.ones((4, 4), np.uint8))
    np.save(tmp_path / "g.npy", np.ones((4, 4), np.uint8))
    result = run("eval", tmp_path / "p.npy", tmp_path / "g.npy", "--metrics", "hd95")
    assert result.exit_code == 2
    assert "--spacing" in result.output


@pytest.mark.parametrize(
    "args,needle",
    [
        (("--nsd-tolerance", "abc"), "--nsd-tolerance"),
        (("--nsd-tolerance", "1,2"), "one default"),
        (("--nsd-tolerance", "1=1,1=2"), "twice"),
        (("--nsd-tolerance", "-1"), "non-negative"),
        (("--hd-percentile", "101"), "between 0 and 100"),
        (("--worst-distance", "0"), "positive"),
        (("--hd-mode", "mean"), "mean"),
    ],
)
def test_bad_distance_options_exit_2(pair, args, needle):
    p, g, *_ = pair
    result = run("eval", p, g, *args)
    assert result.exit_code == 2
    assert needle in result.output
