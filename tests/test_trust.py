"""Issue 20: the gate never passes on an undefined value, result and requirement files are
validated, volumes keep their slice thickness, the ignore label is never a class, user text is
never read as markup."""

from __future__ import annotations

import json

import numpy as np
import pytest
from typer.testing import CliRunner

import segloss
from segloss_cli.cli import app

from .conftest import write_nifti

runner = CliRunner()


def cli(*args):
    return runner.invoke(app, [str(a) for a in args])


def _folders(tmp_path, missed_in=("c1",)):
    for sub in ("p", "g"):
        (tmp_path / sub).mkdir(parents=True)
    for i in range(3):
        gt = np.zeros((8, 8, 4), np.uint8)
        gt[2:6, 2:6] = 1
        gt[6:8, 6:8] = 2
        pred = gt.copy()
        if f"c{i}" in missed_in:
            pred[pred == 2] = 0  # class 2 missed in this case: dice undefined under --empty-policy nan
        np.save(tmp_path / "p" / f"c{i}.npy", pred)
        np.save(tmp_path / "g" / f"c{i}.npy", gt)
    return tmp_path / "p", tmp_path / "g"


def test_an_undefined_case_value_fails_the_folder_gate(tmp_path):
    pdir, gdir = _folders(tmp_path)
    base = ("eval", pdir, gdir, "--metrics", "dice,hd95", "--spacing", "1", "--empty-policy", "nan")
    doc = json.loads(cli(*base, "--format", "json").stdout)
    st = doc["summary"]["classes"]["2"]["metrics"]["dice"]
    assert st["mean"] == 1.0 and st["n_null"] == 1  # the mean over the other cases looks perfect
    res = cli(*base, "--require", "dice>=0.9")
    assert res.exit_code == 1 and "undefined in 1 case" in res.stderr
    assert cli(*base, "--require", "hd95<=1").exit_code == 1
    assert cli(*base, "--require", "dice>=0.9", "--allow-undefined").exit_code == 0
    assert cli(*base, "--require", "dice[1]>=0.9").exit_code == 0  # class 1 is defined everywhere


def _result(tmp_path, name, mean_text):
    pdir, gdir = _folders(tmp_path / name, missed_in=())
    out = tmp_path / f"{name}.json"
    assert cli("eval", pdir, gdir, "--metrics", "dice", "--json", out, "-q").exit_code == 0
    text = out.read_text()
    doc = json.loads(text)
    old = json.dumps(doc["summary"]["classes"]["1"]["metrics"]["dice"]["mean"])
    out.write_text(text.replace(f'"mean": {old}', f'"mean": {mean_text}', 1))
    return out


@pytest.mark.parametrize("mean_text", ["NaN", "Infinity", '"0.9"'])
def test_compare_refuses_non_numbers_in_a_result(tmp_path, mean_text):
    base = _result(tmp_path, "base", "0.5")
    new = _result(tmp_path, "new", mean_text)
    for a, b in ((base, new), (new, base)):
        res = cli("compare", a, b, "--max-drop", "dice=0.01")
        assert res.exit_code == 2, res.stderr
        assert "not a segloss result" in res.stderr or "never writes" in res.stderr


def test_requirement_files_that_gate_nothing_are_errors(tmp_path):
    gt = np.zeros((4, 4, 4), np.uint8)
    gt[1:3, 1:3, 1:3] = 1
    np.save(tmp_path / "g.npy", gt)
    cases = {
        "empty.toml": ("require = []\n", "gates nothing"),
        "both.toml": ('require = []\n[tool.segloss]\nrequire = ["dice>=0.9"]\n', "both at the top level"),
    }
    for name, (text, expected) in cases.items():
        (tmp_path / name).write_text(text)
        res = cli(
            "eval", tmp_path / "g.npy", tmp_path / "g.npy", "--metrics", "dice", "--require-file", tmp_path / name
        )
        assert res.exit_code == 2 and expected in res.stderr, res.stderr


def test_a_single_slice_volume_keeps_its_thickness(tmp_path):
    gt = np.zeros((20, 20, 1), np.uint8)
    gt[5:15, 5:15, 0] = 1
    write_nifti(tmp_path / "g.nii.gz", gt, spacing=(1.0, 1.0, 5.0))
    doc = json.loads(cli("eval", tmp_path / "g.nii.gz", tmp_path / "g.nii.gz", "--metrics", "vol_gt_ml",
                         "--format", "json").stdout)  # fmt: skip
    assert doc["cases"][0]["classes"]["1"]["metrics"]["vol_gt_ml"] == pytest.approx(100 * 5.0 / 1000)


def test_the_ignore_label_of_a_score_map_is_never_a_class():
    gt = np.array([[1, 1, 2]])
    probs = np.array([[[0.1, 0.1, 0.1]], [[0.8, 0.8, 0.1]], [[0.1, 0.1, 0.8]]], np.float64)
    res = segloss.score(probs, gt, ignore_label=2, metrics="dice", losses="dice,tversky")
    assert [r.label for r in res.classes] == [1]
    want = 1 - (2 * 1.6 + 1e-5) / (1.6 + 2 + 1e-5)  # the third voxel is ignored
    assert res.losses["dice"].value == pytest.approx(want, rel=1e-12)
    assert list(res.losses["dice"].per_class) == [1]


def test_user_text_is_never_read_as_markup(tmp_path):
    gt = np.zeros((4, 4, 4), np.uint8)
    gt[1:3, 1:3, 1:3] = 1
    np.save(tmp_path / "sub-01[run2].npy", gt)
    (tmp_path / "names.json").write_text(json.dumps({"1": "[bold red]liver[/]"}))
    res = cli("eval", tmp_path / "sub-01[run2].npy", tmp_path / "sub-01[run2].npy", "--metrics", "dice",
              "--label-names", tmp_path / "names.json", "--require", "dice[1]>=2")  # fmt: skip
    assert res.exit_code == 1, res.output
    assert "sub-01[run2]" in res.stdout and "[bold red]liver[/]" in res.stdout
    assert "[bold red]liver[/]" in res.stderr  # the failed-check table too


@pytest.mark.parametrize(
    "args,expected",
    [(("--weights", "1=2,1=3"), "given twice"), (("--smooth", "inf"), "must be >= 0 and finite")],
)
def test_option_values_that_are_refused(tmp_path, args, expected):
    gt = np.zeros((4, 4, 4), np.uint8)
    gt[1:3, 1:3, 1:3] = 1
    np.save(tmp_path / "g.npy", gt)
    res = cli("eval", tmp_path / "g.npy", tmp_path / "g.npy", "--metrics", "dice", "--losses", "dice", *args)
    assert res.exit_code == 2 and expected in res.stderr, res.stderr


def test_hostile_files_are_input_errors_not_crashes(tmp_path):
    gt = np.zeros((4, 4, 4), np.uint8)
    gt[1:3, 1:3, 1:3] = 1
    np.save(tmp_path / "g.npy", gt)
    deep = "[" * 100_000 + "]" * 100_000
    big = "1" * 5000
    files = {
        "deep.json": ("--label-names", deep),
        "big.json": ("--label-names", '{"' + big + '": "x"}'),
        "deep.toml": ("--require-file", "require = " + "[" * 50_000 + "]" * 50_000 + "\n"),
        "big.toml": ("--require-file", f"require = {big}\n"),
    }
    for name, (option, text) in files.items():
        (tmp_path / name).write_text(text)
        res = cli("eval", tmp_path / "g.npy", tmp_path / "g.npy", "--metrics", "dice", option, tmp_path / name)
        assert res.exit_code == 2 and res.stderr.startswith("segloss: error:"), (name, res.stderr[-300:])
    res = cli("eval", tmp_path / "g.npy", tmp_path / "g.npy", "--ignore-label", str(2**70))
    assert res.exit_code == 2, res.stderr


@pytest.mark.parametrize(
    "text", ["[" * 100_000 + "]" * 100_000, '{"schema_version": 1, "summary": {"n": ' + "9" * 5000 + "}}"]
)
def test_hostile_result_files_for_compare(tmp_path, text):
    (tmp_path / "a.json").write_text(text)
    res = cli("compare", tmp_path / "a.json", tmp_path / "a.json")
    assert res.exit_code == 2 and res.stderr.startswith("segloss: error:"), res.stderr[-300:]


@pytest.mark.parametrize("suffix", [".nii", ".nii.gz"])
def test_a_vox_offset_inside_the_header_is_refused(tmp_path, suffix):
    import gzip
    import struct

    gt = np.zeros((4, 4, 4), np.uint8)
    gt[1:3, 1:3, 1:3] = 1
    good = write_nifti(tmp_path / "good.nii", gt)
    raw = bytearray(good.read_bytes())
    raw[108:112] = struct.pack("<f", 100.0)  # vox_offset = 100: the voxels would be the header's bytes
    bad = tmp_path / f"bad{suffix}"
    bad.write_bytes(gzip.compress(bytes(raw)) if suffix == ".nii.gz" else bytes(raw))
    res = cli("eval", bad, good, "--metrics", "dice")
    assert res.exit_code == 2 and "vox_offset 100 lies inside" in res.stderr, res.stderr  # segloss's words
    raw[108:112] = struct.pack("<f", 0.0)  # 0 too: nibabel reads the header's bytes as voxels then
    zero = tmp_path / f"zero{suffix}"
    zero.write_bytes(gzip.compress(bytes(raw)) if suffix == ".nii.gz" else bytes(raw))
    res = cli("eval", zero, good, "--metrics", "dice")
    assert res.exit_code == 2 and "vox_offset 0 lies inside" in res.stderr, res.stderr
    assert cli("eval", good, good, "--metrics", "dice").exit_code == 0
