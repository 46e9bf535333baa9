"""Every loss against the numpy oracle (tests/naive_losses.py) on random inputs, plus the
closed forms and relations conventions.md and issue 3 list."""

from __future__ import annotations

import math

import numpy as np
import pytest

from segloss_cli.classes import ClassSelection
from segloss_cli.evaluate import EvalParams, load_pair
from segloss_cli.io.prediction import LoadParams
from segloss_cli.losses import compute_losses
from segloss_cli.losses.registry import LOSSES, LossParams, default_losses, select

from . import naive_losses as naive

ALL = tuple(LOSSES)


def softmax(x, axis=0):
    e = np.exp(x - x.max(axis=axis, keepdims=True))
    return e / e.sum(axis=axis, keepdims=True)


def run(
    tmp_path,
    pred,
    gt,
    *,
    kind="probs",
    names=ALL,
    params=None,
    include_background=False,
    ignore=None,
    renormalize=False,
    labels=None,
    channel_axis=None,
):
    pp, gp = tmp_path / "pred.npy", tmp_path / "gt.npy"
    np.save(pp, pred)
    np.save(gp, gt)
    opts = EvalParams(
        metrics=(),
        load=LoadParams(pred_type=kind, renormalize=renormalize, channel_axis=channel_axis),
        classes=ClassSelection(labels=labels, include_background=include_background, ignore_label=ignore),
        losses=LossParams(names=tuple(names), values=dict(params or {})),
    )
    pair = load_pair(str(pp), str(gp), opts)
    p, g, classes = pair.pred, pair.gt, pair.classes
    return compute_losses(
        p, g, classes, opts.losses, names=opts.losses.names, ignore_label=ignore, renormalize=renormalize
    ), classes


def oracle(scores_or_labels, gt, classes, *, kind, params=None, ignore=None, renormalize=False, weights=None):
    all_labels = list(classes.all_labels)
    keep = np.ones(gt.size, bool) if ignore is None else (gt.reshape(-1) != ignore)
    if kind == "labels":
        P, LP, LQ = naive.onehot_activations(scores_or_labels, all_labels)
        sigmoid = False
    else:
        P, LP, LQ = naive.activations(scores_or_labels, kind, renormalize)
        sigmoid = scores_or_labels.shape[0] == 1
    P, LP, LQ = P[:, keep], LP[:, keep], LQ[:, keep]
    g = gt.reshape(-1)[keep]
    G = np.stack([(g == c).astype(np.float64) for c in all_labels])
    idx = [all_labels.index(c) for c in classes.reported]
    w_all = np.ones(len(all_labels)) if weights is None else np.asarray(weights, dtype=np.float64)
    return naive.all_losses(P, LP, LQ, G, idx, w_all, params or {}, sigmoid=sigmoid)


def check(got, want, classes, names=ALL, rtol=1e-9, atol=1e-12):
    for name in names:
        res = got[name]
        per, value = want[name]
        if value is None or not np.isfinite(value):
            assert res.value is None, name
        else:
            assert res.value == pytest.approx(value, rel=rtol, abs=atol), name
        if per is None:
            assert res.per_class == {}, name
            continue
        for lab, v in zip(classes.reported, per):
            if np.isfinite(v):
                assert res.per_class[lab] == pytest.approx(v, rel=rtol, abs=atol), (name, lab)
            else:
                assert res.per_class[lab] is None, (name, lab)


CASES = [
    # shape, K, dtype, kind
    ((13, 17), 3, np.float64, "probs"),
    ((13, 17), 2, np.float32, "logits"),
    ((6, 7, 9), 4, np.float32, "probs"),
    ((6, 7, 9), 5, np.float64, "logits"),
    ((5, 6, 4), 1, np.float32, "probs"),
    ((5, 6, 4), 1, np.float64, "logits"),
    ((9, 11), 7, np.float32, "logits"),
]


@pytest.mark.parametrize("shape,k,dtype,kind", CASES)
@pytest.mark.parametrize("include_background", [False, True])
def test_every_loss_matches_oracle(tmp_path, shape, k, dtype, kind, include_background):
    rng = np.random.default_rng([*shape, k, len(kind)])  # fixed per case (hash() of a str is salted)
    kk = max(k, 2)
    gt = rng.integers(0, kk, size=shape).astype(np.uint8)
    x = rng.normal(0, 3, size=(k,) + shape)
    scores = (x if kind == "logits" else (softmax(x) if k > 1 else 1 / (1 + np.exp(-x)))).astype(dtype)
    got, classes = run(tmp_path, scores, gt, kind=kind, include_background=include_background)
    want = oracle(scores, gt, classes, kind=kind)
    rtol = 1e-9 if dtype == np.float64 else 1e-6  # float32 inputs: both read the same floats, sums differ in order
    check(got, want, classes, rtol=rtol)


@pytest.mark.parametrize("layout", ["channel_last_F", "channel_first_C", "channel_first_F"])
def test_layouts_and_weights_and_ignore(tmp_path, layout):
    """Memory layout must not change a value; weights and an ignore label apply everywhere."""
    rng = np.random.default_rng(7)
    shape, k = (8, 9, 10), 4
    gt = rng.integers(0, k, size=shape).astype(np.int16)
    gt[rng.random(shape) < 0.1] = 255
    x = rng.normal(0, 2, size=(k,) + shape).astype(np.float32)
    probs = softmax(x.astype(np.float64)).astype(np.float32)
    stored = {
        "channel_last_F": np.asfortranarray(np.moveaxis(probs, 0, -1)),
        "channel_first_C": np.ascontiguousarray(probs),
        "channel_first_F": np.asfortranarray(probs),
    }[layout]
    axis = -1 if layout == "channel_last_F" else 0
    weights = (0.5, 1.0, 2.0, 3.0)
    params = {"weights": weights, "smooth_nr": 0.0, "smooth_dr": 1e-3, "focal_gamma": 1.5, "squared": True}
    got, classes = run(tmp_path, stored, gt, params=params, ignore=255, channel_axis=axis, renormalize=True)
    want = oracle(probs, gt, classes, kind="probs", params=params, ignore=255, renormalize=True, weights=weights)
    check(got, want, classes, rtol=1e-6)
    assert got["ce"].params["weights"] == {"0": 0.5, "1": 1.0, "2": 2.0, "3": 3.0}
    assert got["dice"].params["squared"] is True


def test_label_map_prediction_is_one_hot(tmp_path):
    rng = np.random.default_rng(3)
    shape = (7, 8, 9)
    gt = rng.choice([0, 2, 5], size=shape).astype(np.uint8)
    pred = rng.choice([0, 2, 5, 7], size=shape).astype(np.uint8)
    got, classes = run(tmp_path, pred, gt, kind="labels")
    assert classes.all_labels == (0, 2, 5, 7)
    want = oracle(pred, gt, classes, kind="labels")
    check(got, want, classes, rtol=1e-9)


def test_renormalize_divides_by_channel_sum(tmp_path):
    rng = np.random.default_rng(5)
    gt = rng.integers(0, 3, size=(10, 12)).astype(np.uint8)
    raw = rng.random((3, 10, 12)) + 0.05
    got, classes = run(tmp_path, raw / raw.sum(0) * 1.0, gt)
    scaled, _ = run(tmp_path, raw / raw.sum(0) * 1.01, gt, renormalize=True)
    for name in ALL:
        assert scaled[name].value == pytest.approx(got[name].value, rel=1e-9), name


# --- relations and closed forms --------------------------------------------------------


def _random_case(rng, shape=(9, 10, 11), k=4):
    gt = rng.integers(0, k, size=shape).astype(np.uint8)
    logits = rng.normal(0, 2.5, size=(k,) + shape)
    return gt, logits


def test_soft_losses_on_one_hot_equal_hard_metrics(tmp_path):
    from segloss_cli.metrics.overlap import confusion

    rng = np.random.default_rng(11)
    gt, logits = _random_case(rng)
    hard = logits.argmax(0)
    onehot = np.stack([(hard == c) for c in range(4)]).astype(np.float64)
    params = {"smooth_nr": 0.0, "smooth_dr": 0.0, "tversky_alpha": 0.5, "tversky_beta": 0.5}
    got, classes = run(tmp_path, onehot, gt, params=params, names=("dice", "iou", "tversky"))
    c = confusion(hard, gt, np.array(classes.reported))
    tp, fp, fn = c.tp.astype(float), c.fp.astype(float), c.fn.astype(float)
    for n, lab in enumerate(classes.reported):
        assert 1 - got["dice"].per_class[lab] == pytest.approx(2 * tp[n] / (2 * tp[n] + fp[n] + fn[n]), rel=1e-12)
        assert 1 - got["iou"].per_class[lab] == pytest.approx(tp[n] / (tp[n] + fp[n] + fn[n]), rel=1e-12)
        assert 1 - got["tversky"].per_class[lab] == pytest.approx(2 * tp[n] / (2 * tp[n] + fp[n] + fn[n]), rel=1e-12)


def test_relations_between_losses(tmp_path):
    rng = np.random.default_rng(12)
    gt, logits = _random_case(rng)
    probs = softmax(logits)
    # smoothing off: tversky adds s to I, dice to 2I, so they agree exactly only without it
    params = {"tversky_alpha": 0.5, "tversky_beta": 0.5, "focal_gamma": 0.0, "smooth_nr": 0.0, "smooth_dr": 0.0}
    got, classes = run(tmp_path, probs, gt, params=params)
    assert got["tversky"].value == pytest.approx(got["dice"].value, rel=1e-12)  # tversky(0.5, 0.5) = dice
    assert got["focal"].value == pytest.approx(got["ce"].value, rel=1e-12)  # focal, gamma 0 = ce
    for lab in classes.reported:
        assert got["focal"].per_class[lab] == pytest.approx(got["ce"].per_class[lab], rel=1e-12)
        assert got["dice_ce"].per_class[lab] == pytest.approx(
            got["dice"].per_class[lab] + got["ce"].per_class[lab], rel=1e-12
        )
    assert got["dice_ce"].value == pytest.approx(got["dice"].value + got["ce"].value, rel=1e-12)
    assert got["dice_focal"].value == pytest.approx(got["dice"].value + got["focal"].value, rel=1e-12)


def test_logits_equal_softmax_of_logits(tmp_path):
    rng = np.random.default_rng(13)
    gt, logits = _random_case(rng)
    from_logits, _ = run(tmp_path, logits, gt, kind="logits")
    from_probs, _ = run(tmp_path, softmax(logits), gt, kind="probs")
    for name in ALL:
        # probabilities clamp log p at 1e-7; these logits never get that small
        assert from_logits[name].value == pytest.approx(from_probs[name].value, rel=1e-9), name


def test_sigmoid_logits_equal_two_channel_softmax(tmp_path):
    rng = np.random.default_rng(14)
    gt = rng.integers(0, 2, size=(8, 9, 10)).astype(np.uint8)
    x = rng.normal(0, 2, size=(1, 8, 9, 10))
    one, _ = run(tmp_path, x, gt, kind="logits", include_background=True)
    two, _ = run(tmp_path, np.concatenate([np.zeros_like(x), x]), gt, kind="logits", include_background=True)
    for name in ALL:
        assert one[name].value == pytest.approx(two[name].value, rel=1e-9), name


def test_class_permutation_equivariance(tmp_path):
    rng = np.random.default_rng(15)
    gt, logits = _random_case(rng)
    perm = np.array([0, 3, 1, 2])  # background stays 0; new class perm[c] is old class c
    inv = np.argsort(perm)
    base, classes = run(tmp_path, logits, gt, kind="logits")
    permuted, _ = run(tmp_path, logits[inv], perm[gt].astype(np.uint8), kind="logits")
    for name in ALL:
        assert permuted[name].value == pytest.approx(base[name].value, rel=1e-9), name
        for lab in classes.reported:
            if base[name].per_class:
                assert permuted[name].per_class[int(perm[lab])] == pytest.approx(base[name].per_class[lab], rel=1e-9)


def test_ranges(tmp_path):
    rng = np.random.default_rng(16)
    gt, logits = _random_case(rng, k=3)
    got, _ = run(tmp_path, logits * 4, gt, kind="logits")
    for name, spec in LOSSES.items():
        values = [got[name].value, *[v for v in got[name].per_class.values() if v is not None]]
        for v in values:
            assert spec.lo - 1e-12 <= v <= spec.hi + 1e-12, (name, v)
    assert got["ce"].value >= 0 and got["lovasz_softmax"].value >= 0 and 0 <= got["dice"].value <= 1


def test_extreme_logits_stay_finite(tmp_path):
    rng = np.random.default_rng(17)
    gt = rng.integers(0, 3, size=(6, 7, 8)).astype(np.uint8)
    logits = rng.choice([-1e4, 0.0, 1e4], size=(3, 6, 7, 8)).astype(np.float32)
    got, classes = run(tmp_path, logits, gt, kind="logits")
    want = oracle(logits, gt, classes, kind="logits")
    for name in ALL:
        assert got[name].value is not None and math.isfinite(got[name].value), name
    check(got, want, classes, rtol=1e-9)
    assert got["ce"].value > 1000  # confidently wrong voxels cost ~1e4 each, not log(1e-7)
    sig, _ = run(
        tmp_path,
        np.array([[[1e4, -1e4, 30.0, -30.0]]]).astype(np.float32),
        np.array([[0, 1, 1, 0]], np.uint8),
        kind="logits",
    )
    assert sig["bce"].value == pytest.approx((1e4 + 1e4 + np.log1p(np.exp(-30)) * 2) / 4, rel=1e-12)


def test_closed_form_small_example(tmp_path):
    """Two voxels, two classes, by hand: p1 = (0.8, 0.3), g1 = (1, 0)."""
    probs = np.array([[0.2, 0.7], [0.8, 0.3]])
    gt = np.array([[1, 0]], np.uint8).reshape(2)
    probs = probs.reshape(2, 2)
    got, _ = run(
        tmp_path,
        probs.reshape(2, 1, 2),
        gt.reshape(1, 2),
        params={"smooth": 0} if False else {"smooth_nr": 0.0, "smooth_dr": 0.0},
    )
    assert got["dice"].value == pytest.approx(1 - 2 * 0.8 / (1.1 + 1))
    assert got["iou"].value == pytest.approx(1 - 0.8 / (1.1 + 1 - 0.8))
    assert got["ce"].value == pytest.approx(-(np.log(0.8) + np.log(0.7)) / 2)
    assert got["ce"].per_class[1] == pytest.approx(-np.log(0.8))
    assert got["bce"].value == pytest.approx(-(np.log(0.8) + np.log(0.7)) / 2)
    # Lovasz on class 1: errors (0.2 fg, 0.3 bg); sorted: 0.3 (bg) J=1-1/2=0.5, 0.2 (fg) J=1-0/2=1
    lv, _ = run(tmp_path, probs.reshape(2, 1, 2), gt.reshape(1, 2), names=("lovasz_softmax",))
    assert lv["lovasz_softmax"].value == pytest.approx(0.3 * 0.5 + 0.2 * 0.5)


def test_selection_and_defaults():
    assert select(None) is None
    assert select("none") == ()
    assert select("all") == ALL
    assert select("dice,jaccard,DICE") == ("dice", "iou")
    assert set(select("lovasz")) == {"lovasz_softmax", "lovasz_hinge"}
    assert "lovasz_softmax" not in default_losses("probs") and "dice" in default_losses("logits")
    assert default_losses("labels") == ()
    from segloss_cli.errors import UsageError

    with pytest.raises(UsageError, match="segloss losses"):
        select("dcie")


def test_lovasz_of_a_fully_wrong_prediction_is_exactly_one(tmp_path):
    """Errors of 1 carry the GT bit in their last mantissa bit; the walk must not read 1 + ulp."""
    gt = np.ones((4, 5), np.uint8)
    logits = np.zeros((2, 4, 5))
    logits[0] = 1e4
    got, _ = run(tmp_path, logits, gt, kind="logits", names=("lovasz_softmax", "lovasz_hinge"))
    assert got["lovasz_softmax"].value == 1.0
    wrong = np.zeros((4, 5), np.uint8)
    got, _ = run(tmp_path, wrong, gt, kind="labels", names=("lovasz_softmax",))
    assert got["lovasz_softmax"].value == 1.0
