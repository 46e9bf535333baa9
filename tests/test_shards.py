"""Shards of a folder run (`segloss eval --shard K/N`) and `segloss merge`.

The merged result must be the unsharded run's, byte for byte (files compared), and every way
shards can fail to be the parts of one run is one line and exit 2.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from segloss_cli.api import FolderParams, evaluate_folder
from segloss_cli.cli import app
from segloss_cli.errors import InputError, UsageError
from segloss_cli.report.json_ import render_json
from segloss_cli.shards import ShardSpec, merge_runs, shard_of
from tests.test_folders import case_arrays, make_folders, write_nifti

RUNNER = CliRunner()


def run(*args):
    return RUNNER.invoke(app, [str(a) for a in args])


@pytest.fixture(scope="module")
def folders(tmp_path_factory):
    """8 cases: case03's prediction is missing, stray.nii.gz has no GT (--missing worst)."""
    top = tmp_path_factory.mktemp("shards")
    pdir, gdir = make_folders(top, 8)
    (pdir / "case03.nii.gz").unlink()
    write_nifti(pdir / "stray.nii.gz", case_arrays(0)[0])
    return pdir, gdir


COMMON = ("--missing", "worst", "--metrics", "dice,iou,hd95,tp", "--losses", "dice,ce", "-j", "1", "-q")


def shard_files(folders, out: Path, n: int, *extra) -> list[Path]:
    pdir, gdir = folders
    parts = []
    for k in range(1, n + 1):
        part = out / f"part-{k}-of-{n}.json"
        res = run("eval", pdir, gdir, *COMMON, *extra, "--shard", f"{k}/{n}", "--json", part, "-f", "json")
        assert res.exit_code == 0, res.stderr
        assert json.loads(res.stdout)["shard"]["index"] == k  # stdout carries the block too
        parts.append(part)
    return parts


def test_shard_assignment_is_a_stable_hash_of_the_id():
    assert [shard_of(f"case{i:02d}", 3) for i in range(6)] == [2, 3, 3, 3, 1, 1]
    ids = [f"c{i}" for i in range(500)]
    by_shard = {k: [c for c in ids if shard_of(c, 4) == k] for k in range(1, 5)}
    assert sorted(c for part in by_shard.values() for c in part) == sorted(ids)
    assert all(80 < len(part) < 170 for part in by_shard.values())  # roughly even
    assert ShardSpec.parse("3/64") == ShardSpec(3, 64) and str(ShardSpec.parse((1, 2))) == "1/2"
    for bad in ("0/3", "4/3", "3", "a/b", "1/0", "-1/3"):
        with pytest.raises(UsageError, match="^shard must be K/N"):
            ShardSpec.parse(bad)


def test_merged_shards_equal_the_unsharded_run_byte_for_byte(folders, tmp_path):
    pdir, gdir = folders
    full_json, full_csv = tmp_path / "full.json", tmp_path / "full.csv"
    res = run("eval", pdir, gdir, *COMMON, "--json", full_json, "--csv", full_csv)
    assert res.exit_code == 0, res.stderr
    parts = shard_files(folders, tmp_path, 3)
    held = [[c["case"] for c in json.loads(p.read_text())["cases"]] for p in parts]
    assert sorted(c for h in held for c in h) == [f"case{i:02d}" for i in range(8)]
    assert all(h for h in held)
    merged_json, merged_csv = tmp_path / "merged.json", tmp_path / "merged.csv"
    res = run("merge", *reversed(parts), "--json", merged_json, "--csv", merged_csv, "-q", "-f", "json")
    assert res.exit_code == 0, res.stderr
    assert merged_json.read_bytes() == full_json.read_bytes()
    assert merged_csv.read_bytes() == full_csv.read_bytes()
    assert res.stdout == full_json.read_text()
    data = json.loads(merged_json.read_text())
    assert "shard" not in data and data["summary"]["pairing"]["extra_predictions"] == ["stray"]
    assert data["summary"]["pooled"]["classes"]["1"]["counts"]["tp"] > 0


def test_merge_runs_library_equals_evaluate_folder(folders, tmp_path):
    pdir, gdir = folders
    kw = dict(missing="worst", metrics="dice,tp", losses="none", jobs=1)
    whole = evaluate_folder(pdir, gdir, **kw)
    paths = []
    for k in (1, 2):
        part = evaluate_folder(pdir, gdir, shard=f"{k}/2", **kw)
        assert all(shard_of(c.case, 2) == k for c in part.cases)
        res = run("eval", pdir, gdir, "--missing", "worst", "-m", "dice,tp", "--losses", "none", "-j", "1",
                  "--shard", f"{k}/2", "--json", tmp_path / f"p{k}.json", "-q")  # fmt: skip
        assert res.exit_code == 0, res.stderr
        paths.append(tmp_path / f"p{k}.json")
    merged = merge_runs(paths)
    assert render_json(merged) == render_json(whole)
    assert merged.summary is not None and merged.summary.pooled == whole.summary.pooled  # type: ignore[union-attr]
    assert FolderParams(shard="2/5").shard == ShardSpec(2, 5)


def test_a_shard_with_no_case_is_an_empty_part(folders, tmp_path):
    pdir, gdir = folders
    n = 40  # more shards than cases: most are empty
    empty = next(
        k
        for k in range(1, n + 1)
        if all(shard_of(f"case{i:02d}", n) != k and shard_of("stray", n) != k for i in range(8))
    )
    part = tmp_path / "empty.json"
    res = run("eval", pdir, gdir, *COMMON, "--shard", f"{empty}/{n}", "--json", part)
    assert res.exit_code == 0, res.stderr
    data = json.loads(part.read_text())
    assert data["cases"] == [] and data["shard"]["cases"] == {}


def test_merge_refuses_what_is_not_one_run(folders, tmp_path):
    pdir, gdir = folders
    parts = shard_files(folders, tmp_path, 3)

    def merge_error(*files):
        res = run("merge", *files, "--json", tmp_path / "out.json")
        assert res.exit_code == 2, res.output
        assert not (tmp_path / "out.json").exists()
        line = res.stderr.strip()
        assert "\n" not in line and line.startswith("segloss: error: ")
        return line

    assert "1 of 3 shards missing: 3/3" in merge_error(parts[0], parts[1])
    assert "shard 2/3 given twice" in merge_error(parts[0], parts[1], parts[1], parts[2])
    other = tmp_path / "other"
    other.mkdir()
    other_part = other / "part-2.json"
    res = run("eval", pdir, gdir, *COMMON, "--metrics", "dice,iou,hd95,fp", "--shard", "2/3", "--json", other_part)
    assert res.exit_code == 0, res.stderr
    assert "scored with other settings" in merge_error(parts[0], other_part, parts[2])
    assert "(metrics differ)" in merge_error(parts[0], other_part, parts[2])
    res = run("eval", pdir, gdir, *COMMON, "--pattern", "case0[0-5]*", "--shard", "2/3", "--json", other_part)
    assert res.exit_code == 0, res.stderr
    assert "cut from other folders" in merge_error(parts[0], other_part, parts[2])
    two = shard_files(folders, other, 2)
    assert "different splits" in merge_error(parts[0], parts[1], parts[2], two[0])
    # A case moved into another shard's file: held twice / not in its shard.
    data = json.loads(parts[1].read_text())
    stolen = json.loads(parts[0].read_text())["cases"][0]
    data["cases"].append(stolen)
    data["shard"]["cases"][stolen["case"]] = json.loads(parts[0].read_text())["shard"]["cases"][stolen["case"]]
    edited = tmp_path / "edited.json"
    edited.write_text(json.dumps(data))
    assert f"case {stolen['case']} is in shards" in merge_error(parts[0], edited, parts[2])
    plain = tmp_path / "plain.json"
    assert run("eval", pdir, gdir, *COMMON, "--json", plain).exit_code == 0
    assert 'not a shard (no "shard" block)' in merge_error(plain)
    with pytest.raises(InputError, match="shards missing"):
        merge_runs(parts[:1])


def test_merge_gates_like_eval(folders, tmp_path):
    parts = shard_files(folders, tmp_path, 2)
    ok = run("merge", *parts, "--require", "dice[1]>=0.0", "--format", "csv")
    assert ok.exit_code == 0, ok.stderr
    assert ok.stdout.startswith("case,label,name,status,")
    failed = run("merge", *parts, "--require", "dice[1]>=0.999", "-q")
    assert failed.exit_code == 1
    unknown = run("merge", *parts, "--require", "nsd>=0.5")
    assert unknown.exit_code == 2 and "nsd is not computed" in unknown.stderr


def test_shard_options_apply_to_folders_only(tmp_path):
    pred, gt = case_arrays(0)
    p, g = write_nifti(tmp_path / "p.nii.gz", pred), write_nifti(tmp_path / "g.nii.gz", gt)
    res = run("eval", p, g, "--shard", "1/2")
    assert res.exit_code == 2 and "--shard applies to folders" in res.stderr
    pdir, gdir = make_folders(tmp_path, 2)
    res = run("eval", pdir, gdir, "--shard", "5/4")
    assert res.exit_code == 2 and "--shard must be K/N with 1 <= K <= N (e.g. 3/64), not 5/4" in res.stderr
    assert np.array_equal(pred, pred)


def test_merge_keeps_the_pooled_means_the_shards_were_scored_with(tmp_path):
    pdir, gdir = tmp_path / "p", tmp_path / "g"
    pdir.mkdir()
    gdir.mkdir()
    for i in range(6):
        gt = np.zeros((6, 6, 2), np.uint8)
        gt[1:4, 1:4] = 1 + i % 2
        pred = gt.copy()
        pred[0, 0] = 3 if i == 0 else 0  # class 3: predicted once, in no GT (the two rules differ on it)
        np.save(pdir / f"c{i}.npy", pred)
        np.save(gdir / f"c{i}.npy", gt)
    args = ("--metrics", "dice", "-j", "1", "-q", "--pooled-means", "torchmetrics")
    full = tmp_path / "full.json"
    assert run("eval", pdir, gdir, *args, "--json", full).exit_code == 0
    parts = [tmp_path / f"s{k}.json" for k in (1, 2)]
    for k, part in enumerate(parts, 1):
        res = run("eval", pdir, gdir, *args, "--shard", f"{k}/2", "--json", part)
        assert res.exit_code == 0, res.stderr
    merged = tmp_path / "merged.json"
    res = run("merge", *parts, "--json", merged, "-q")
    assert res.exit_code == 0, res.stderr
    assert merged.read_bytes() == full.read_bytes()
    mmseg = json.loads(run("eval", pdir, gdir, *args[:-2], "-f", "json").stdout)["summary"]["pooled"]
    assert json.loads(full.read_text())["summary"]["pooled"]["mAcc"] < mmseg["mAcc"]  # the rule mattered
