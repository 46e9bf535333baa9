"""Regions (unions of labels), label tables (dataset.json regions and ignore, CSV), names in --labels."""

from __future__ import annotations

import json

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

import segloss
from segloss_cli.classes import load_label_table
from segloss_cli.cli import app
from segloss_cli.errors import UsageError
from segloss_cli.metrics.overlap import region_confusion
from segloss_cli.metrics.registry import all_metrics
from tests import naive_distance

runner = CliRunner()


def cli(*args):
    return runner.invoke(app, [str(a) for a in args])


def brats_like(seed=0, shape=(24, 24, 16)):
    rng = np.random.default_rng(seed)
    zz, yy, xx = np.mgrid[: shape[0], : shape[1], : shape[2]]
    c = rng.integers(8, 16, size=3)
    d = (zz - c[0]) ** 2 + (yy - c[1]) ** 2 + (xx - c[2]) ** 2
    gt = np.zeros(shape, np.uint8)
    gt[d < 40] = 2
    gt[d < 16] = 1
    gt[d < 5] = 3
    pred = np.roll(gt, 1, axis=0)
    flip = rng.random(shape) < 0.03
    pred[flip] = rng.integers(0, 4, size=int(flip.sum()))
    return pred, gt


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 10_000), ignore=st.sampled_from([None, 4]), order=st.sampled_from(["C", "F"]))
def test_region_counts_equal_numpy_unions(seed, ignore, order):
    rng = np.random.default_rng(seed)
    gt = rng.integers(0, 5, size=(7, 6, 5)).astype(np.uint8)
    pred = rng.integers(0, 4, size=gt.shape).astype(np.int16)
    regions = [(1, 2, 3), (2, 3), (3,), (0, 1)]
    c = region_confusion(np.asarray(pred, order=order), np.asarray(gt, order=order), regions, ignore_label=ignore)
    keep = np.ones(gt.shape, bool) if ignore is None else gt != ignore
    for i, region in enumerate(regions):
        p, g = np.isin(pred, region) & keep, np.isin(gt, region) & keep
        assert (c.tp[i], c.fp[i], c.fn[i]) == (np.sum(p & g), np.sum(p & ~g), np.sum(~p & g))
        assert c.tn[i] == np.sum(~p & ~g & keep) and c.n == keep.sum()


def test_region_metrics_are_the_union_masks_metrics():
    """Every metric of a region equals the metric of the binary pair (label in region)."""
    pred, gt = brats_like()
    regions = {"WT": [1, 2, 3], "TC": [1, 3], "ET": [3]}
    res = segloss.score(pred, gt, regions=regions, spacing_mm=(1.0, 1.0, 1.5), metrics="all")
    assert [r.label for r in res.classes] == ["WT", "TC", "ET"]
    for row in res.classes:
        members = regions[row.label]
        binary = segloss.score(
            np.isin(pred, members).astype(np.uint8),
            np.isin(gt, members).astype(np.uint8),
            spacing_mm=(1.0, 1.0, 1.5),
            metrics="all",
        )
        # Per-case metrics (family "case", e.g. mcc_multiclass over every label) describe the
        # whole label map, not the region's binary pair.
        per_class = [m for m in row.metrics if all_metrics()[m].family != "case"]
        assert {m: row.metrics[m] for m in per_class} == {m: binary.row(1).metrics[m] for m in per_class}
        assert row.counts == binary.row(1).counts


def test_region_surface_distances_against_brute_force():
    pred, gt = brats_like(seed=5, shape=(12, 12, 10))
    names = ["hd", "hd95", "assd", "masd", "nsd"]
    res = segloss.score(pred, gt, regions={"TC": [1, 3]}, spacing_mm=(0.8, 1.0, 2.0), metrics=names)
    want = naive_distance.metrics(np.isin(pred, [1, 3]), np.isin(gt, [1, 3]), (0.8, 1.0, 2.0))
    for name in names:
        assert res.row("TC").metrics[name] == pytest.approx(want[name], rel=1e-12)


def test_dataset_json_regions_and_ignore(tmp_path):
    pred, gt = brats_like(seed=2)
    gt[0, 0, :4] = 4
    np.save(tmp_path / "p.npy", np.where(gt == 4, 0, pred))
    np.save(tmp_path / "g.npy", gt)
    ds = {
        "labels": {
            "background": 0,
            "whole_tumor": [1, 2, 3],
            "tumor_core": [1, 3],
            "enhancing_tumor": [3],
            "ignore": 4,
        },
        "regions_class_order": [2, 1, 3],
    }
    (tmp_path / "dataset.json").write_text(json.dumps(ds))
    table = load_label_table(tmp_path / "dataset.json")
    assert [r.name for r in table.regions] == [
        "whole_tumor",
        "tumor_core",
        "enhancing_tumor",
    ] and table.ignore_label == 4
    base = (
        "eval",
        tmp_path / "p.npy",
        tmp_path / "g.npy",
        "--label-names",
        tmp_path / "dataset.json",
        "--metrics",
        "dice",
    )
    res = cli(*base, "--format", "json")
    assert res.exit_code == 0, res.output
    doc = json.loads(res.stdout)
    assert list(doc["cases"][0]["classes"]) == ["whole_tumor", "tumor_core", "enhancing_tumor"]
    assert doc["settings"]["ignore_label"] == 4 and doc["settings"]["regions"]["tumor_core"] == [1, 3]
    assert "ignore label 4 from" in res.stderr
    keep = gt != 4
    for name, members in (("whole_tumor", [1, 2, 3]), ("enhancing_tumor", [3])):
        p, g = np.isin(pred, members) & keep, np.isin(gt, members) & keep
        assert doc["cases"][0]["classes"][name]["metrics"]["dice"] == pytest.approx(
            2 * np.sum(p & g) / (p.sum() + g.sum())
        )
    explicit = json.loads(cli(*base, "--format", "json", "--ignore-label", "0").stdout)
    assert explicit["settings"]["ignore_label"] == 0  # an explicit --ignore-label wins
    mixed = json.loads(cli(*base, "--format", "json", "--labels", "2", "--region", "X=1,2").stdout)
    assert list(mixed["cases"][0]["classes"]) == ["2", "whole_tumor", "tumor_core", "enhancing_tumor", "X"]
    gate = cli(*base, "--require", "dice[tumor_core]>=1.01")
    assert gate.exit_code == 1 and "tumor_core" in gate.stderr


def test_region_option_errors():
    for text, expected in (("WT", "expected NAME=LABELS"), ("WT=a", "as numbers"), ("3=1,2", "must be a name")):
        res = cli("eval", "a.npy", "b.npy", "--region", text)
        assert res.exit_code == 2 and expected in res.stderr, (text, res.stderr)
    with pytest.raises(UsageError, match="defined twice"):
        segloss.make_params(regions={"A": [1]}, label_names={"A": [2]})


def test_labels_by_name_and_csv_label_tables(tmp_path):
    names = load_label_table("sample_data/atlas-desikankilliany.csv").names
    assert names[1] == "bankssts" and len(names) >= 30
    res = cli(
        "eval",
        "sample_data/dk_pred.nii.gz",
        "sample_data/dk_gt.nii.gz",
        "--label-names",
        "sample_data/dk_labels.json",
        "--labels",
        "L cuneus,17",
        "--metrics",
        "dice",
        "--format",
        "json",
    )
    assert res.exit_code == 0, res.output
    assert list(json.loads(res.stdout)["cases"][0]["classes"]) == ["4", "17"]
    bad = cli("eval", "sample_data/dk_pred.nii.gz", "sample_data/dk_gt.nii.gz", "--labels", "liver")
    assert bad.exit_code == 2 and "no class is named 'liver'" in bad.stderr
    (tmp_path / "t.csv").write_text("value,name,colour\n1,liver,red\n2,spleen,blue\n")
    assert load_label_table(tmp_path / "t.csv").names == {1: "liver", 2: "spleen"}


def test_regions_in_folders_compare_and_pooled(tmp_path):
    for sub in ("p", "g"):
        (tmp_path / sub).mkdir()
    for i in range(3):
        pred, gt = brats_like(seed=10 + i)
        np.save(tmp_path / "p" / f"c{i}.npy", pred)
        np.save(tmp_path / "g" / f"c{i}.npy", gt)
    base = ("eval", tmp_path / "p", tmp_path / "g", "--region", "WT=1-3", "--region", "ET=3", "--metrics", "dice", "-q")
    res = cli(*base, "--json", tmp_path / "a.json")
    assert res.exit_code == 0, res.output
    doc = json.loads((tmp_path / "a.json").read_text())
    assert list(doc["summary"]["classes"]) == ["ET", "WT"] and "WT" in doc["summary"]["pooled"]["classes"]
    cmp = cli("compare", tmp_path / "a.json", tmp_path / "a.json", "--max-drop", "dice=0")
    assert cmp.exit_code == 0 and "WT" in cmp.stdout
