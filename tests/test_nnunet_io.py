"""nnU-Net probability files (.npz key `probabilities`, (C, z, y, x) order), --axes, folder pairing
with --pred-ext (case.nii.gz + case.npz + case.pkl), and 5-D (x, y, z, 1, C) NIfTI score maps."""

from __future__ import annotations

import json
import pickle

import nibabel as nib
import numpy as np
import pytest
from typer.testing import CliRunner

import segloss
from segloss_cli.cli import app
from segloss_cli.errors import UsageError

runner = CliRunner()
SPACING = (0.8, 0.9, 2.0)
AFFINE = np.diag([*SPACING, 1.0])


def cli(*args):
    return runner.invoke(app, [str(a) for a in args])


def case(seed=0, shape=(20, 16, 12), k=3):
    """GT (x, y, z) and soft probabilities (K, x, y, z) whose argmax is a noisy GT."""
    rng = np.random.default_rng(seed)
    gt = np.zeros(shape, np.uint8)
    gt[3:10, 4:12, 2:8] = 1
    gt[11:18, 2:9, 5:11] = 2
    logits = 3.0 * np.eye(k)[gt].transpose(3, 0, 1, 2) + rng.normal(0, 1.2, size=(k, *shape))
    e = np.exp(logits - logits.max(axis=0))
    return gt, (e / e.sum(axis=0)).astype(np.float32)


def nnunet_export(folder, name, probs_xyz, affine=AFFINE):
    """What nnUNetv2_predict --save_probabilities leaves per case (export_prediction_from_logits):
    the segmentation, np.savez_compressed(probabilities=...) in the (C, z, y, x) order of
    SimpleITK arrays, and the properties pickle."""
    seg = probs_xyz.argmax(axis=0).astype(np.uint8)
    nib.save(nib.Nifti1Image(seg, affine), str(folder / f"{name}.nii.gz"))
    np.savez_compressed(folder / f"{name}.npz", probabilities=probs_xyz.transpose(0, 3, 2, 1))
    with open(folder / f"{name}.pkl", "wb") as fh:
        pickle.dump({"spacing": list(SPACING[::-1]), "shape_before_cropping": probs_xyz.shape[:0:-1]}, fh)
    return folder / f"{name}.npz"


def oracle(probs, gt):
    """Dice of argmax(probs) per foreground class and the cross-entropy, in numpy."""
    hard = probs.argmax(axis=0)
    dices = {}
    for c in range(1, probs.shape[0]):
        p, g = hard == c, gt == c
        dices[str(c)] = 2 * np.sum(p & g) / (p.sum() + g.sum())
    picked = np.take_along_axis(probs.astype(np.float64), gt[None].astype(np.int64), axis=0)
    return dices, float(-np.mean(np.log(np.maximum(picked, 1e-7))))


def scored(res):
    assert res.exit_code == 0, res.output
    doc = json.loads(res.stdout)
    c = doc["cases"][0]
    return {k: v["metrics"]["dice"] for k, v in c["classes"].items()}, c["losses"]["ce"]["value"], doc


@pytest.mark.parametrize("dtype", [np.float32, np.float16])
def test_nnunet_npz_is_read_reversed(tmp_path, dtype):
    gt, probs = case()
    probs = probs.astype(dtype)
    npz = nnunet_export(tmp_path, "c1", probs)
    g = tmp_path / "gt.nii.gz"
    nib.save(nib.Nifti1Image(gt, AFFINE), str(g))
    want_dice, want_ce = oracle(probs.astype(np.float32), gt)
    base = ("eval", npz, g, "--metrics", "dice", "--losses", "ce", "-f", "json")
    auto = cli(*base)
    dices, ce, doc = scored(auto)
    assert dices == pytest.approx(want_dice) and ce == pytest.approx(want_ce, rel=1e-6)
    notes = [line for line in auto.stderr.splitlines() if "warning" in line]
    assert len(notes) == 1 and "spatial axes reversed" in notes[0] and "--axes zyx" in notes[0]
    assert "axes" not in doc["settings"]  # auto: the JSON of existing runs is unchanged
    told = cli(*base, "--axes", "zyx")
    dices, ce, doc = scored(told)
    assert dices == pytest.approx(want_dice) and ce == pytest.approx(want_ce, rel=1e-6)
    assert "warning" not in told.stderr and doc["settings"]["axes"] == "zyx"
    refused = cli(*base, "--axes", "xyz")
    lines = refused.stderr.strip().splitlines()
    assert refused.exit_code == 2 and len(lines) == 1
    assert "spatial axes reversed" in lines[0] and "--axes zyx" in lines[0] and str(npz) in lines[0]


def test_symmetric_shape_nnunet_npz_needs_axes(tmp_path):
    """A GT of 12x16x12 reads the same reversed: only --axes can say which order the array has."""
    gt, probs = case(seed=1, shape=(12, 16, 12))
    npz = nnunet_export(tmp_path, "c1", probs)
    g = tmp_path / "gt.nii.gz"
    nib.save(nib.Nifti1Image(gt, AFFINE), str(g))
    res = cli("eval", npz, g, "--metrics", "dice", "--losses", "ce")
    lines = res.stderr.strip().splitlines()
    assert res.exit_code == 2 and len(lines) == 1
    assert "nnU-Net probability array" in lines[0] and "--axes zyx" in lines[0] and "--axes xyz" in lines[0]
    want_dice, want_ce = oracle(probs, gt)
    dices, ce, _ = scored(cli("eval", npz, g, "--metrics", "dice", "--losses", "ce", "-f", "json", "--axes", "zyx"))
    assert dices == pytest.approx(want_dice) and ce == pytest.approx(want_ce, rel=1e-6)
    # A plain .npy of that shape is read as stored, as before (nothing marks its order).
    np.save(tmp_path / "p.npy", probs)
    dices, _, _ = scored(cli("eval", tmp_path / "p.npy", g, "--metrics", "dice", "--losses", "ce", "-f", "json"))
    assert dices == pytest.approx(want_dice)


def test_probabilities_key_is_the_default_among_several(tmp_path):
    gt, probs = case(seed=2)
    np.savez(tmp_path / "p.npz", probabilities=probs.transpose(0, 3, 2, 1), seg=gt.T)
    np.save(tmp_path / "g.npy", gt)
    dices, _, _ = scored(
        cli("eval", tmp_path / "p.npz", tmp_path / "g.npy", "-m", "dice", "--losses", "ce", "-f", "json")
    )
    assert dices == pytest.approx(oracle(probs, gt)[0])
    np.savez(tmp_path / "q.npz", a=probs, b=probs)
    res = cli("eval", tmp_path / "q.npz", tmp_path / "g.npy", "-m", "dice")
    assert res.exit_code == 2 and "holds several arrays (a, b); choose one with --npz-key" in res.stderr


def test_reversed_label_maps_and_nifti_headers(tmp_path):
    gt, probs = case(seed=3)
    pred = probs.argmax(axis=0).astype(np.uint8)
    g = tmp_path / "g.nii.gz"
    nib.save(nib.Nifti1Image(gt, AFFINE), str(g))
    want = oracle(probs, gt)[0]
    np.save(tmp_path / "p.npy", pred.T)  # a label map saved from a SimpleITK array
    res = cli("eval", tmp_path / "p.npy", g, "-m", "dice", "-f", "json")
    assert scored_labels(res) == pytest.approx(want) and "spatial axes reversed" in res.stderr
    # A NIfTI stored (z, y, x) with the header of that order (the affine's voxel columns
    # swapped, spacing 2.0, 0.9, 0.8): spacing and affine follow the reversal.
    nib.save(nib.Nifti1Image(pred.T.copy(), AFFINE[:, [2, 1, 0, 3]]), str(tmp_path / "p.nii.gz"))
    assert nib.load(tmp_path / "p.nii.gz").header.get_zooms() == pytest.approx(SPACING[::-1])
    res = cli("eval", tmp_path / "p.nii.gz", g, "-m", "dice,hd95", "-f", "json", "--axes", "zyx")
    assert res.exit_code == 0, res.output
    doc = json.loads(res.stdout)
    assert doc["cases"][0]["spacing"] == pytest.approx(list(SPACING))
    assert scored_labels(res) == pytest.approx(want)
    ok = cli("eval", g, g, "-m", "dice", "--axes", "zyx")
    assert ok.exit_code == 2 and "does not fit the GT shape" in ok.stderr and "drop --axes zyx" in ok.stderr


def scored_labels(res):
    assert res.exit_code == 0, res.output
    return {k: v["metrics"]["dice"] for k, v in json.loads(res.stdout)["cases"][0]["classes"].items()}


def test_nnunet_output_folder_pairs_by_pred_ext(tmp_path):
    pdir, gdir = tmp_path / "pred", tmp_path / "gt"
    pdir.mkdir()
    gdir.mkdir()
    want = {}
    for i in range(3):
        gt, probs = case(seed=10 + i)
        nnunet_export(pdir, f"case_{i:03d}", probs)
        nib.save(nib.Nifti1Image(gt, AFFINE), str(gdir / f"case_{i:03d}.nii.gz"))
        want[f"case_{i:03d}"] = oracle(probs, gt)
    (pdir / "dataset.json").write_text("{}")
    (pdir / "plans.json").write_text("{}")
    res = cli("eval", pdir, gdir, "-m", "dice", "-q")
    lines = res.stderr.strip().splitlines()
    assert res.exit_code == 2 and len(lines) == 1
    assert "3 duplicate case id(s)" in lines[0] and "--pred-ext .npz" in lines[0]
    res = cli("eval", pdir, gdir, "-m", "dice", "--losses", "ce", "--pred-ext", ".npz", "--axes", "zyx", "-f", "json")
    assert res.exit_code == 0, res.output
    cases = json.loads(res.stdout)["cases"]
    assert [c["pred"].endswith(".npz") for c in cases] == [True] * 3
    for c in cases:
        dices, ce = want[c["case"]]
        assert {k: v["metrics"]["dice"] for k, v in c["classes"].items()} == pytest.approx(dices)
        assert c["losses"]["ce"]["value"] == pytest.approx(ce, rel=1e-6)
    seg = segloss.evaluate_folder(pdir, gdir, metrics="dice", pred_ext="nii.gz", jobs=1)
    assert [c.pred.endswith(".nii.gz") for c in seg.cases] == [True] * 3
    for c in seg.cases:  # the segmentation is the argmax: the same Dice
        assert {str(r.label): r.metrics["dice"] for r in c.classes} == pytest.approx(want[c.case][0])
    with pytest.raises(UsageError, match="not an image file extension"):
        segloss.evaluate_folder(pdir, gdir, pred_ext=".pkl")


def test_five_d_nifti_is_a_channel_last_score_map(tmp_path):
    gt, probs = case(seed=4)
    g = tmp_path / "g.nii.gz"
    nib.save(nib.Nifti1Image(gt, AFFINE), str(g))
    five = np.moveaxis(probs, 0, -1)[:, :, :, None, :]  # (x, y, z, 1, C)
    nib.save(nib.Nifti1Image(five, AFFINE), str(tmp_path / "p5.nii.gz"))
    want_dice, want_ce = oracle(probs, gt)
    dices, ce, doc = scored(cli("eval", tmp_path / "p5.nii.gz", g, "-m", "dice", "--losses", "ce", "-f", "json"))
    assert dices == pytest.approx(want_dice) and ce == pytest.approx(want_ce, rel=1e-6)
    assert doc["cases"][0]["spacing"] == pytest.approx(list(SPACING))
    bad = np.concatenate([five, five], axis=3)  # (x, y, z, 2, C): two time points
    nib.save(nib.Nifti1Image(bad, AFFINE), str(tmp_path / "t2.nii.gz"))
    res = cli("eval", tmp_path / "t2.nii.gz", g, "-m", "dice")
    lines = res.stderr.strip().splitlines()
    assert res.exit_code == 2 and len(lines) == 1 and "5-D NIfTI" in lines[0] and "2 time points" in lines[0]


def test_axes_parameter_is_checked():
    with pytest.raises(UsageError, match="axes must be one of auto, xyz, zyx"):
        segloss.make_params(axes="yxz")
    res = cli("eval", "a.npy", "b.npy", "--axes", "yxz")
    assert res.exit_code == 2
