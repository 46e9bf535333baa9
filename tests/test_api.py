"""The Python API: the same numbers as `segloss eval`, on arrays, tensors and files."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

import segloss
from segloss_cli.cli import app
from segloss_cli.errors import InputError, UsageError

ROOT = Path(__file__).resolve().parents[1]
SAMPLES = ROOT / "sample_data"
runner = CliRunner()


def cli_json(*args) -> dict:
    res = runner.invoke(app, [str(a) for a in args] + ["--format", "json"])
    assert res.exit_code == 0, res.output
    return json.loads(res.stdout)


def _arrays(pred_name: str, gt_name: str):
    import nibabel as nib

    pred, gt = nib.load(SAMPLES / pred_name), nib.load(SAMPLES / gt_name)
    return np.asarray(pred.dataobj), np.asarray(gt.dataobj), tuple(float(z) for z in gt.header.get_zooms()[:3])


@pytest.mark.compiled  # large arrays: seconds compiled, minutes as Python
@pytest.mark.parametrize(
    "pred_name,gt_name,options,params",
    [
        (
            "dk_pred.nii.gz",
            "dk_gt.nii.gz",
            ["--label-names", SAMPLES / "dk_labels.json"],
            {"label_names": SAMPLES / "dk_labels.json"},
        ),
        (
            "tissue_probs.nii.gz",
            "tissue_gt.nii.gz",
            ["--losses", "all", "--include-background"],
            {"losses": "all", "include_background": True},
        ),
        (
            "tissue_probs.nii.gz",
            "tissue_gt.nii.gz",
            ["--tversky-alpha", "0.4", "--weights", "1,2,0.5", "--squared"],
            {"tversky_alpha": 0.4, "weights": [1, 2, 0.5], "squared": True},
        ),
    ],
    ids=["labels", "probs-all-losses", "probs-loss-params"],
)
def test_score_on_arrays_is_what_eval_prints(pred_name, gt_name, options, params):
    """Every sample pair: score() on the arrays nibabel reads equals the CLI's JSON case."""
    doc = cli_json("eval", SAMPLES / pred_name, SAMPLES / gt_name, *options)
    pred, gt, spacing = _arrays(pred_name, gt_name)
    # The CLI's default metrics (the opt-in ones, in `all`, are not in eval's default output)
    got = segloss.score(pred, gt, spacing_mm=spacing, **params).to_dict()
    want = doc["cases"][0]
    assert json.loads(json.dumps(got["classes"])) == want["classes"]
    assert json.loads(json.dumps(got["losses"])) == want["losses"]
    assert got["spacing"] == pytest.approx(want["spacing"])


def test_score_files_and_run_match_eval():
    doc = cli_json(
        "eval", SAMPLES / "dk_pred.nii.gz", SAMPLES / "dk_gt.nii.gz", "--metrics", "dice,hd95", "--labels", "17,42"
    )
    res = segloss.score_files(
        SAMPLES / "dk_pred.nii.gz", SAMPLES / "dk_gt.nii.gz", metrics="dice,hd95", labels=[17, 42]
    )
    assert res.to_dict() == doc["cases"][0]
    run = segloss.run(
        str(SAMPLES / "dk_pred.nii.gz"), str(SAMPLES / "dk_gt.nii.gz"), metrics=["dice", "hd95"], labels=[17, 42]
    )
    assert run.summary is not None and run.summary.to_dict() == doc["summary"]
    assert run.settings == {"segloss_version": doc["segloss_version"], **doc["settings"]}


def test_torch_tensors_score_like_numpy():
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(0)
    gt = rng.integers(0, 3, size=(12, 10, 6)).astype(np.uint8)
    logits = rng.normal(size=(3, 12, 10, 6)).astype(np.float32)
    want = segloss.score(logits, gt, pred_type="logits", losses="dice,ce,focal").to_dict()
    t = torch.from_numpy(logits).requires_grad_(True)  # a training loop's tensor: detached, not copied twice
    got = segloss.score(t, torch.from_numpy(gt), pred_type="logits", losses="dice,ce,focal").to_dict()
    assert got["classes"] == want["classes"] and got["losses"] == want["losses"]
    labels = torch.from_numpy(gt.astype(np.int64))
    assert segloss.metrics.dice(labels, labels) == {1: 1.0, 2: 1.0}


class DLPackOnly:
    """An array that offers only __dlpack__ (what cupy, jax and others share)."""

    def __init__(self, array):
        self._a = array

    def __dlpack__(self, **kwargs):
        return self._a.__dlpack__(**kwargs)

    def __dlpack_device__(self):
        return self._a.__dlpack_device__()


def test_dlpack_and_array_protocol_inputs():
    gt = np.array([[0, 1, 1], [0, 2, 2]], np.uint8)
    pred = np.array([[0, 1, 2], [0, 2, 2]], np.uint8)
    want = segloss.score(pred, gt).to_dict()
    assert segloss.score(DLPackOnly(pred), DLPackOnly(gt)).to_dict() == want
    assert segloss.score(pred.tolist(), gt.tolist()).to_dict()["classes"] == want["classes"]
    with pytest.raises(TypeError, match="must be an array"):
        segloss.score(object(), gt)


def test_counts_are_kept_for_every_class_and_match_numpy(rng):
    gt = rng.integers(0, 4, size=(9, 7, 5))
    pred = np.where(rng.random(gt.shape) < 0.3, rng.integers(0, 4, size=gt.shape), gt)
    res = segloss.score(pred, gt, metrics="dice", ignore_label=3)
    keep = gt != 3
    for row in res.classes:
        p, g = (pred == row.label) & keep, (gt == row.label) & keep
        assert row.counts is not None
        assert (row.counts.tp, row.counts.fp, row.counts.fn) == (
            int(np.sum(p & g)),
            int(np.sum(p & ~g)),
            int(np.sum(~p & g)),
        )
        assert row.counts.n == int(keep.sum())
        assert row.metrics["dice"] == pytest.approx(
            2 * row.counts.tp / (2 * row.counts.tp + row.counts.fp + row.counts.fn)
        )


def test_loss_and_metric_functions_against_numpy(rng):
    gt = rng.integers(0, 3, size=(10, 8, 4)).astype(np.uint8)
    logits = rng.normal(size=(3, *gt.shape)) + 2.0 * np.stack([gt == k for k in range(3)])
    probs = (np.exp(logits) / np.exp(logits).sum(axis=0)).astype(np.float32)
    p = probs.astype(np.float64)
    per = [1 - (2 * np.sum(p[c] * (gt == c)) + 1e-5) / (np.sum(p[c]) + np.sum(gt == c) + 1e-5) for c in (1, 2)]
    assert segloss.losses.dice(probs, gt) == pytest.approx(np.mean(per), rel=1e-6)
    a, b = 0.4, 0.6
    tv = [
        1
        - (np.sum(p[c] * (gt == c)) + 1e-5)
        / (np.sum(p[c] * (gt == c)) + a * np.sum(p[c] * (gt != c)) + b * np.sum((1 - p[c]) * (gt == c)) + 1e-5)
        for c in (1, 2)
    ]
    assert segloss.losses.tversky(probs, gt, tversky_alpha=a, tversky_beta=b) == pytest.approx(np.mean(tv), rel=1e-6)
    hard = probs.argmax(axis=0)
    iou = segloss.metrics.iou(hard, gt)
    for c in (1, 2):
        inter, union = np.sum((hard == c) & (gt == c)), np.sum((hard == c) | (gt == c))
        assert iou[c] == pytest.approx(inter / union)
    assert segloss.metrics.hd(hard, gt, spacing_mm=1)[1] >= 0


def test_library_errors_name_parameters_and_the_cli_names_options(tmp_path):
    gt = np.zeros((4, 4, 4), np.uint8)
    gt[1:3, 1:3, 1:3] = 1
    with pytest.raises(InputError, match=r"pass spacing_mm \(e\.g\. spacing_mm=1 for voxel units\)"):
        segloss.score(gt, gt, metrics="hd95")
    with pytest.raises(UsageError, match="tversky_alpha must be between 0 and 1"):
        segloss.score(gt, gt, losses="tversky", tversky_alpha=2)
    with pytest.raises(UsageError, match="smooth_nr must be >= 0 and finite"):
        segloss.score(gt, gt, losses="dice", smooth_nr=float("inf"))
    with pytest.raises(UsageError, match="hd_percentile must be between 0 and 100"):
        segloss.score(gt, gt, hd_percentile=120)
    with pytest.raises(ValueError, match="empty_policy must be one of worst, nan"):
        segloss.score(gt, gt, empty_policy="zero")
    with pytest.raises(TypeError, match="unexpected keyword argument 'tversky_alfa'"):
        segloss.score(gt, gt, tversky_alfa=0.1)
    np.save(tmp_path / "g.npy", gt)
    res = runner.invoke(app, ["eval", str(tmp_path / "g.npy"), str(tmp_path / "g.npy"), "--metrics", "hd95"])
    assert res.exit_code == 2
    assert "pass --spacing (e.g. --spacing 1 for voxel units) or skip them with --metrics overlap" in res.stderr
    res = runner.invoke(app, ["eval", str(tmp_path / "g.npy"), str(tmp_path / "g.npy"), "--tversky-alpha", "2"])
    assert res.exit_code == 2 and "--tversky-alpha must be between 0 and 1" in res.stderr


def test_every_library_parameter_has_a_cli_option():
    from segloss_cli.cli._common import cli_options
    from segloss_cli.errors import PARAMETERS

    assert PARAMETERS <= set(cli_options())


def test_gate_check_on_a_library_run():
    gt = np.array([[0, 1, 1, 2], [0, 1, 2, 2]])
    pred = np.array([[0, 1, 1, 2], [0, 0, 2, 2]])
    result = segloss.run(pred, gt, metrics="dice,recall")
    checks = segloss.check(result, ["dice>=0.8", "recall[2]>=1"])
    assert [(c.key, c.label, c.passed) for c in checks] == [
        ("dice", "1", True),
        ("dice", "2", True),
        ("recall", "2", True),
    ]
    assert not segloss.check(result, ["dice[1]>=0.9"])[0].passed
    with pytest.raises(UsageError, match="require 'hd95<=1': metric hd95 is not computed; add it to metrics"):
        segloss.check(result, ["hd95<=1"])


def test_evaluate_folder_and_to_pandas(tmp_path):
    pd = pytest.importorskip("pandas")
    for sub in ("p", "g"):
        (tmp_path / sub).mkdir()
    gt = np.zeros((6, 6, 3), np.uint8)
    gt[1:4, 1:4] = 1
    np.save(tmp_path / "g" / "a.npy", gt)
    np.save(tmp_path / "p" / "a.npy", gt)
    np.save(tmp_path / "g" / "b.npy", gt)
    np.save(tmp_path / "p" / "b.npy", np.roll(gt, 1, axis=0))
    result = segloss.evaluate_folder(tmp_path / "p", tmp_path / "g", metrics="dice,tp", jobs=1)
    frame = result.to_pandas()
    assert list(frame.columns) == ["case", "label", "name", "status", "dice", "tp"]
    assert frame["case"].tolist() == ["a", "b"] and frame["tp"].dtype.kind == "i"
    assert frame["dice"].tolist() == [1.0, pytest.approx(2 * 18 / (27 + 27))]
    stats = result.summary.classes[0].metrics["dice"]
    assert stats.n == 2 and stats.mean == pytest.approx(frame["dice"].mean())
    assert isinstance(frame, pd.DataFrame)
