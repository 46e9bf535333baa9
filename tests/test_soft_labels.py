"""Soft labels (gt_type="soft", --gt-type soft): losses against per-voxel numpy oracles with
float targets, the metrics on the argmax, and the refusals (io/soft_labels.py)."""

import json

import numpy as np
import pytest
from typer.testing import CliRunner

import segloss
from segloss_cli.cli import app

K = 3


def _case(seed=0, shape=(6, 5, 4)):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(K, *shape)) * 2
    g = np.moveaxis(rng.dirichlet([0.5, 1.0, 2.0], size=shape), -1, 0)
    return x, g


def _softmax(x):
    e = np.exp(x - x.max(0))
    return e / e.sum(0)


def _score(x, g, losses, **kw):
    return segloss.score(x, g, pred_type="logits", gt_type="soft", metrics="dice", losses=losses, **kw)


def test_region_losses_and_ce_equal_float_target_oracles():
    x, g = _case()
    p = _softmax(x).reshape(K, -1)
    gf = g.reshape(K, -1)
    s = 1e-5
    dice = 1 - (2 * (p * gf).sum(1) + s) / (p.sum(1) + gf.sum(1) + s)  # MONAI DiceLoss with float targets
    iou = 1 - (2 * (p * gf).sum(1) + s) / (2 * (p.sum(1) + gf.sum(1) - (p * gf).sum(1)) + s)  # conventions.md's
    ce = -np.mean(np.sum(gf * np.log(p), axis=0))  # torch cross_entropy with probability targets
    got = _score(x, g, "dice,iou,ce,dice_ce", include_background=True).losses
    assert got["dice"].value == pytest.approx(dice.mean(), rel=1e-12)
    np.testing.assert_allclose([got["dice"].per_class[c] for c in range(K)], dice, rtol=1e-12)
    assert got["iou"].value == pytest.approx(iou.mean(), rel=1e-12)
    assert got["ce"].value == pytest.approx(ce, rel=1e-12)
    assert got["dice_ce"].value == pytest.approx(dice.mean() + ce, rel=1e-12)


def test_sigmoid_focal_is_monais_formula_for_float_targets():
    x, g = _case(1)
    xf, t = x.reshape(K, -1), g.reshape(K, -1)
    ls = -np.logaddexp(0, -xf)  # log sigmoid(x)
    bce = -(t * ls + (1 - t) * -np.logaddexp(0, xf))
    term = np.exp(2.0 * -np.logaddexp(0, xf * (2 * t - 1))) * bce  # MONAI sigmoid_focal_loss
    alpha = t * 0.3 + (1 - t) * 0.7
    got = _score(x, g, "focal", include_background=True, focal_sigmoid=True, sigmoid_focal_alpha=0.3)
    assert got.losses["focal"].value == pytest.approx(np.mean(alpha * term), rel=1e-12)


def test_one_hot_soft_labels_equal_the_label_map():
    x, _ = _case(2)
    lab = np.random.default_rng(3).integers(0, K, x.shape[1:])
    onehot = np.moveaxis(np.eye(K)[lab], -1, 0)
    names = "dice,iou,generalized_dice,tversky,ce,bce,focal,binary_focal,combo,dice_ce,dice_focal"
    hard = segloss.score(x, lab, pred_type="logits", metrics="dice,iou", losses=names)
    soft = segloss.score(x, onehot, pred_type="logits", gt_type="soft", metrics="dice,iou", losses=names)
    for n in hard.losses:
        assert soft.losses[n].value == pytest.approx(hard.losses[n].value, rel=1e-12), n
    assert [r.metrics for r in soft.classes] == [r.metrics for r in hard.classes]


def test_metrics_use_the_argmax_with_a_note():
    x, g = _case(4)
    got = _score(x, g, ())
    arg = np.argmax(g, axis=0)
    pred = np.argmax(x, axis=0)
    for row in got.classes:
        a, b = pred == row.label, arg == row.label
        assert row.metrics["dice"] == pytest.approx(2 * np.sum(a & b) / (a.sum() + b.sum()), rel=1e-12)
    assert any("soft labels" in n for n in got.notes)


@pytest.mark.parametrize(
    "change, kw, message",
    [
        (lambda g: (g * 255).astype(np.uint8), {}, "data type uint8"),
        (lambda g: g * 1.1, {}, "span"),
        (lambda g: np.concatenate([g, g[:1] * 0.5]) / 1.0, {}, "sum to"),
        (lambda g: g[:2] / g[:2].sum(0), {}, "has 2 class channels but PRED has 3"),
        (lambda g: g, {"ignore_label": 2}, "no label values to ignore"),
        (lambda g: g, {"losses": "lovasz_softmax"}, "no soft-label form"),
        (lambda g: g, {"losses": "dice", "squared": True}, "squared"),
        (lambda g: g, {"pred_type": "labels"}, "needs PRED as class probabilities"),
    ],
)
def test_refused_with_a_clear_error(change, kw, message):
    x, g = _case(5, (4, 3))
    args = {"pred_type": "logits", "gt_type": "soft", "metrics": "dice", "losses": "dice", **kw}
    pred = np.argmax(x, 0).astype(np.uint8) if kw.get("pred_type") == "labels" else x  # a label map PRED
    with pytest.raises(segloss.SeglossError, match=message):
        segloss.score(pred, change(g), **args)


def test_cli_soft_gt(tmp_path):
    x, g = _case(6, (5, 4, 3))
    np.save(tmp_path / "p.npy", x.astype(np.float32))
    np.save(tmp_path / "g.npy", g.astype(np.float32))
    args = ["eval", str(tmp_path / "p.npy"), str(tmp_path / "g.npy"), "--pred-type", "logits", "--gt-type", "soft"]
    r = CliRunner().invoke(app, [*args, "--losses", "dice", "--metrics", "dice", "--format", "json"])
    assert r.exit_code == 0, r.output
    doc = json.loads(r.stdout)
    assert doc["settings"]["gt_type"] == "soft"
    p = _softmax(x.astype(np.float32).astype(np.float64)).reshape(K, -1)[1:]
    gf = g.astype(np.float32).astype(np.float64).reshape(K, -1)[1:]
    dice = 1 - (2 * (p * gf).sum(1) + 1e-5) / (p.sum(1) + gf.sum(1) + 1e-5)
    assert doc["cases"][0]["losses"]["dice"]["value"] == pytest.approx(dice.mean(), rel=1e-9)
    plain = CliRunner().invoke(app, [*args[:-2], "--losses", "dice", "--format", "json"])
    assert plain.exit_code == 2  # a soft GT read as a label map is refused, as before
