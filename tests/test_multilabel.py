"""Multi-label (sigmoid) predictions against a plain numpy oracle of MONAI's sigmoid conventions."""

from __future__ import annotations

import json

import numpy as np
import pytest
from typer.testing import CliRunner

import segloss
from segloss_cli.cli import app
from segloss_cli.errors import InputError, UsageError

SHAPE = (10, 9, 5)


def case(seed=0, channels=3):
    rng = np.random.default_rng(seed)
    gt = (rng.random((channels, *SHAPE)) < 0.3).astype(np.uint8)  # channels overlap
    logits = (rng.normal(size=(channels, *SHAPE)) + 3.0 * gt - 1.5).astype(np.float32)
    return logits, gt


def oracle(p, g, c):
    """Per channel: MONAI DiceLoss/TverskyLoss(sigmoid=True), BCE, and the Dice of p >= 0.5."""
    p, g = p.astype(np.float64), g.astype(np.float64)
    spg, sp, sg = (p * g).sum(), p.sum(), g.sum()
    hard = p >= 0.5
    eps = 1e-7
    pc = np.clip(p, eps, 1 - eps)
    return {
        "dice": 1 - (2 * spg + 1e-5) / (sp + sg + 1e-5),
        "tversky": 1 - (spg + 1e-5) / (spg + 0.3 * (p * (1 - g)).sum() + 0.7 * ((1 - p) * g).sum() + 1e-5),
        "bce": float(-np.mean(g * np.log(pc) + (1 - g) * np.log(1 - pc))),
        "dice_metric": 2 * np.sum(hard & (g > 0)) / (hard.sum() + g.sum()),
    }


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_multichannel_gt_against_numpy(seed):
    logits, gt = case(seed)
    probs = 1 / (1 + np.exp(-logits.astype(np.float64)))
    res = segloss.score(probs.astype(np.float32), gt, pred_type="sigmoid", include_background=True,
                        losses="dice,tversky,bce", metrics="dice")  # fmt: skip
    want = [oracle(probs.astype(np.float32)[c], gt[c], c) for c in range(3)]
    assert [r.label for r in res.classes] == [0, 1, 2]
    for c, row in enumerate(res.classes):
        assert row.metrics["dice"] == pytest.approx(want[c]["dice_metric"], rel=1e-12)
        for loss in ("dice", "tversky"):
            assert res.losses[loss].per_class[c] == pytest.approx(want[c][loss], rel=1e-6)
    for loss in ("dice", "tversky"):
        assert res.losses[loss].value == pytest.approx(np.mean([w[loss] for w in want]), rel=1e-6)
    assert res.losses["bce"].per_class[1] == pytest.approx(want[1]["bce"], rel=1e-5)


def test_logits_equal_their_sigmoid_and_channel_zero_needs_include_background():
    logits, gt = case(3)
    a = segloss.score(logits, gt, pred_type="sigmoid_logits", losses="dice", metrics="dice,iou")
    probs = (1 / (1 + np.exp(-logits.astype(np.float64)))).astype(np.float64)
    b = segloss.score(probs, gt, pred_type="sigmoid", losses="dice", metrics="dice,iou")
    assert [r.label for r in a.classes] == [1, 2]  # channel 0 out unless include_background (as MONAI)
    assert [r.metrics for r in a.classes] == [r.metrics for r in b.classes]
    assert a.losses["dice"].value == pytest.approx(b.losses["dice"].value, rel=1e-6)


def test_label_map_gt_with_regions_and_ignore():
    gt = np.zeros(SHAPE, np.uint8)
    gt[1:8, 1:8, 1:4] = 1
    gt[3:6, 3:6, 1:3] = 2
    gt[0, 0, :] = 5  # ignored
    regions = {"WT": [1, 2], "TC": [2]}
    rng = np.random.default_rng(4)
    masks = np.stack([np.isin(gt, r) for r in regions.values()]).astype(np.float32)
    probs = np.clip(masks * 0.8 + rng.random(masks.shape) * 0.3, 0, 1).astype(np.float32)
    res = segloss.score(probs, gt, pred_type="sigmoid", regions=regions, ignore_label=5, losses="dice", metrics="dice")
    keep = gt != 5
    for c, row in enumerate(res.classes):
        assert row.label == list(regions)[c]
        p, g = probs[c][keep], masks[c][keep]
        assert row.metrics["dice"] == pytest.approx(2 * np.sum((p >= 0.5) & (g > 0)) / ((p >= 0.5).sum() + g.sum()))
        want = 1 - (2 * (p.astype(np.float64) * g).sum() + 1e-5) / (p.astype(np.float64).sum() + g.sum() + 1e-5)
        assert res.losses["dice"].per_class[row.label] == pytest.approx(want, rel=1e-6)
    assert res.row("WT").counts.n == keep.sum()


def test_bad_multilabel_inputs():
    logits, gt = case(5)
    with pytest.raises(InputError, match="outside \\[0, 1\\]"):
        segloss.score(logits * 10, gt, pred_type="sigmoid")
    with pytest.raises(InputError, match="one binary mask per channel"):
        segloss.score(np.abs(np.tanh(logits)), gt * 3, pred_type="sigmoid")
    with pytest.raises(InputError, match="regions for 3 sigmoid channels"):
        segloss.score(np.abs(np.tanh(logits)), gt[0], pred_type="sigmoid", regions={"A": [1]})
    with pytest.raises(UsageError, match="weights do not apply"):
        segloss.score(np.abs(np.tanh(logits)), gt, pred_type="sigmoid", losses="dice", weights=[1, 2, 3])


def test_cli_multilabel(tmp_path):
    logits, gt = case(6)
    np.save(tmp_path / "p.npy", logits)
    np.save(tmp_path / "g.npy", gt)
    res = CliRunner().invoke(app, ["eval", str(tmp_path / "p.npy"), str(tmp_path / "g.npy"), "--pred-type",
                                   "sigmoid_logits", "--losses", "dice", "--metrics", "dice", "--format", "json"])  # fmt: skip
    assert res.exit_code == 0, res.output
    doc = json.loads(res.stdout)
    assert list(doc["cases"][0]["classes"]) == ["1", "2"] and doc["settings"]["pred_type"] == "sigmoid_logits"
    assert doc["cases"][0]["losses"]["dice"]["params"]["reduction"] == "mean over channels"
