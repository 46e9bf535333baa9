"""The loss variants of issue 17 against plain numpy oracles written per voxel from their
definitions (PyTorch label smoothing, MONAI DiceCELoss(softmax=False), MONAI DiceFocalLoss's
sigmoid focal term, MONAI weight and alpha semantics, SMP's zero for a class absent from GT).

(They were also compared with MONAI 1.6.1, PyTorch and SMP locally: README, "Losses".)
"""

import numpy as np
import pytest

import segloss
from segloss_cli.losses.registry import PARAMS, VARIANTS_OF, LossParams

EPS = 1e-7
K = 4


def _case(seed, kind, shape=(5, 4, 3)):
    rng = np.random.default_rng(seed)
    gt = rng.integers(0, K, shape)
    gt[gt == 3] = 2  # class 3 absent from GT
    x = rng.normal(size=(K, *shape)) * 2
    if kind == "probs":
        x = np.exp(x) / np.exp(x).sum(0)
    return x, gt


def _flat(x, gt, keep=None):
    x = x.reshape(x.shape[0], -1).astype(np.float64)
    g = gt.reshape(-1)
    if keep is not None:
        x, g = x[:, keep.reshape(-1)], g[keep.reshape(-1)]
    return x, g


def _log_softmax(x):
    m = x.max(0)
    return x - (m + np.log(np.exp(x - m).sum(0)))


def _logp(x, kind):
    return _log_softmax(x) if kind == "logits" else np.log(np.maximum(x, EPS))


def _probs(x, kind):
    return np.exp(_log_softmax(x)) if kind == "logits" else x


def _dice_per_class(p, g, s=1e-5):
    oh = (g[None, :] == np.arange(K)[:, None]).astype(np.float64)
    return 1 - (2 * (p * oh).sum(1) + s) / (p.sum(1) + oh.sum(1) + s)


def _torch_ce(logp, g, w, e):
    """PyTorch CrossEntropyLoss(weight=w, label_smoothing=e, reduction='mean'), voxel by voxel."""
    num = 0.0
    den = 0.0
    for i in range(g.size):
        y = g[i]
        num += (1 - e) * w[y] * -logp[y, i] + (e / K) * sum(w[k] * -logp[k, i] for k in range(K))
        den += w[y]
    return num / den


@pytest.mark.parametrize("kind", ["logits", "probs"])
@pytest.mark.parametrize("e", [0.1, 0.5])
def test_label_smoothing_is_torchs(kind, e):
    x, gt = _case(1, kind)
    w = [1.0, 2.0, 0.5, 3.0]
    got = segloss.score(x, gt, pred_type=kind, metrics=(), losses="ce", label_smoothing=e, weights=w)
    lp, g = _flat(x, gt)
    assert got.losses["ce"].value == pytest.approx(_torch_ce(_logp(lp, kind), g, w, e), rel=1e-12)
    assert got.losses["ce"].params["label_smoothing"] == e
    # per class c: the mean over the voxels of class c of the smoothed loss (unweighted)
    logp = _logp(lp, kind)
    for c in (1, 2):
        on = g == c
        want = np.mean((1 - e) * -logp[c, on] + (e / K) * -logp[:, on].sum(0))
        assert got.losses["ce"].per_class[c] == pytest.approx(want, rel=1e-12)


def test_label_smoothing_leaves_out_ignored_voxels_and_reads_label_maps():
    x, gt = _case(2, "logits")
    gt[0, 0, :] = 9
    got = segloss.score(x, gt, pred_type="logits", metrics=(), losses="ce", label_smoothing=0.2, ignore_label=9)
    lp, g = _flat(x, gt, keep=gt != 9)
    assert got.losses["ce"].value == pytest.approx(_torch_ce(_logp(lp, "logits"), g, [1.0] * K, 0.2), rel=1e-12)
    # a label map PRED is its one-hot: log p = 0 or log(1e-7)
    pred = np.argmax(x, 0)
    pred[pred == 3] = 0
    lab = segloss.score(pred, gt, metrics=(), losses="ce", label_smoothing=0.2, ignore_label=9, labels=[0, 1, 2])
    _, g = _flat(x, gt, keep=gt != 9)
    oh = (pred.reshape(-1)[(gt != 9).reshape(-1)][None, :] == np.arange(3)[:, None]).astype(float)
    logp = np.where(oh > 0, 0.0, np.log(EPS))
    num = sum(0.8 * -logp[g[i], i] + (0.2 / 3) * -logp[:, i].sum() for i in range(g.size))
    assert lab.losses["ce"].value == pytest.approx(num / g.size, rel=1e-12)


def test_ce_raw_takes_probabilities_as_logits():
    x, gt = _case(3, "probs")
    got = segloss.score(x, gt, pred_type="probs", metrics=(), losses="dice_ce", ce_raw=True, include_background=True)
    p, g = _flat(x, gt)
    ce = -np.mean(_log_softmax(p)[g, np.arange(g.size)])  # MONAI DiceCELoss(softmax=False)
    want = np.mean(_dice_per_class(p, g)) + ce
    assert got.losses["dice_ce"].value == pytest.approx(want, rel=1e-12)
    assert got.losses["dice_ce"].params["ce_raw"] is True


def test_ce_raw_of_one_sigmoid_channel_is_bce_with_logits():
    rng = np.random.default_rng(4)
    g = (rng.random((6, 5)) > 0.6).astype(int)
    p = rng.random((1, 6, 5)) * 0.9 + 0.05
    got = segloss.score(p, g, pred_type="probs", metrics=(), losses="dice_ce", ce_raw=True)
    s = 1 / (1 + np.exp(-p[0]))
    bce = -np.mean(g * np.log(s) + (1 - g) * np.log(1 - s))
    dice = 1 - (2 * np.sum(p[0] * g) + 1e-5) / (np.sum(p[0]) + np.sum(g) + 1e-5)
    assert got.losses["dice_ce"].value == pytest.approx(dice + bce, rel=1e-12)


def _sigmoid_focal(x, t, gamma=2.0, alpha=None):
    s = 1 / (1 + np.exp(-x))
    pt = np.where(t == 1, s, 1 - s)
    loss = -((1 - pt) ** gamma) * np.log(pt)
    if alpha is not None:
        loss = loss * np.where(t == 1, alpha, 1 - alpha)
    return loss


@pytest.mark.parametrize("alpha", [None, 0.3])
@pytest.mark.parametrize("background", [True, False])
def test_focal_sigmoid_is_monai_dice_focal(alpha, background):
    x, gt = _case(5, "logits")
    got = segloss.score(
        x,
        gt,
        pred_type="logits",
        metrics=(),
        losses="dice_focal",
        focal_sigmoid=True,
        sigmoid_focal_alpha=alpha,
        include_background=background,
    )
    lx, g = _flat(x, gt)
    chans = range(K) if background else range(1, K)
    t = (g[None, :] == np.arange(K)[:, None]).astype(int)
    focal = np.mean([_sigmoid_focal(lx[c], t[c], alpha=alpha) for c in chans])
    dice = np.mean(_dice_per_class(_probs(lx, "logits"), g)[list(chans)])
    assert got.losses["dice_focal"].value == pytest.approx(dice + focal, rel=1e-10)


@pytest.mark.parametrize("alpha", [None, 0.3])
@pytest.mark.parametrize("kind", ["logits", "probs"])
def test_focal_sigmoid_is_monai_focal_loss_default(alpha, kind):
    """MONAI FocalLoss(use_softmax=False, include_background=True, weight=w): the sigmoid focal
    loss of every stored channel as a logit, times w_c, mean over channels and voxels."""
    x, gt = _case(8, kind)
    w = np.array([1.0, 2.0, 0.5, 3.0])
    got = segloss.score(
        x,
        gt,
        pred_type=kind,
        metrics=(),
        losses="focal",
        focal_sigmoid=True,
        sigmoid_focal_alpha=alpha,
        include_background=True,
        weights=w,
        weights_scale=True,
    )
    lx, g = _flat(x, gt)
    t = (g[None, :] == np.arange(K)[:, None]).astype(int)
    per = np.array([_sigmoid_focal(lx[c], t[c], alpha=alpha).mean() for c in range(K)])
    per_class = got.losses["focal"].per_class
    np.testing.assert_allclose([per_class[c] for c in range(K)], per, rtol=1e-10)
    assert got.losses["focal"].value == pytest.approx(np.mean(w * per), rel=1e-10)
    plain = segloss.score(x, gt, pred_type=kind, metrics=(), losses="focal", focal_sigmoid=True)
    per0 = [_sigmoid_focal(lx[c], t[c]).mean() for c in range(1, K)]  # background excluded, no alpha
    assert plain.losses["focal"].value == pytest.approx(np.mean(per0), rel=1e-10)


def test_softmax_focal_alpha_and_weights_scale_are_monais():
    x, gt = _case(6, "logits")
    w = np.array([1.0, 2.0, 0.5, 3.0])
    lx, g = _flat(x, gt)
    logp = _log_softmax(lx)
    lpy = logp[g, np.arange(g.size)]
    f = -((1 - np.exp(lpy)) ** 2) * lpy
    af = np.where(g == 0, 0.7, 0.3)
    got = segloss.score(x, gt, pred_type="logits", metrics=(), losses="focal", softmax_focal_alpha=0.3)
    assert got.losses["focal"].value == pytest.approx(np.sum(af * f) / np.sum(af), rel=1e-12)
    scaled = segloss.score(
        x, gt, pred_type="logits", metrics=(), losses="focal", softmax_focal_alpha=0.3, weights=w, weights_scale=True
    )
    # MONAI FocalLoss(use_softmax=True, alpha=0.3, weight=w) is this / K (its mean runs over K x N)
    assert scaled.losses["focal"].value == pytest.approx(np.mean(w[g] * af * f), rel=1e-12)


def test_weights_scale_and_absent_zero_for_region_losses():
    x, gt = _case(7, "probs")
    w = np.array([1.0, 2.0, 0.5, 3.0])
    p, g = _flat(x, gt)
    per = _dice_per_class(p, g)
    got = segloss.score(x, gt, pred_type="probs", metrics=(), losses="dice", include_background=True, weights=w)
    assert got.losses["dice"].value == pytest.approx(np.sum(w * per) / np.sum(w), rel=1e-12)
    got = segloss.score(
        x, gt, pred_type="probs", metrics=(), losses="dice", include_background=True, weights=w, weights_scale=True
    )
    assert got.losses["dice"].value == pytest.approx(np.mean(w * per), rel=1e-12)  # MONAI DiceLoss(weight=w)
    smp = segloss.score(
        x,
        gt,
        pred_type="probs",
        metrics=(),
        losses="dice",
        include_background=True,
        absent_zero=True,
        smooth_nr=0,
        smooth_dr=0,
    )
    oh = (g[None, :] == np.arange(K)[:, None]).astype(float)
    dice0 = 1 - 2 * (p * oh).sum(1) / (p.sum(1) + oh.sum(1))
    dice0[oh.sum(1) == 0] = 0.0  # SMP: a class absent from the target contributes 0, still counted
    assert smp.losses["dice"].value == pytest.approx(np.mean(dice0), rel=1e-12)
    assert smp.losses["dice"].per_class[3] == 0.0


def test_variants_are_recorded_only_when_set():
    x, gt = _case(8, "logits")
    plain = segloss.score(x, gt, pred_type="logits", metrics=(), losses="all")
    for name, loss in plain.losses.items():
        assert not set(VARIANTS_OF.get(name, ())) & set(loss.params), name
    variant_keys = {k for k, s in PARAMS.items() if s.variant}
    assert not variant_keys & set(LossParams().recorded())
    assert LossParams(values={"label_smoothing": 0.1}).recorded()["label_smoothing"] == 0.1
    every = set().union(*VARIANTS_OF.values())
    assert every == variant_keys  # every switch is read by some loss


def test_bad_variant_values_are_usage_errors():
    x, gt = _case(9, "logits")
    with pytest.raises(segloss.SeglossError, match="label_smoothing must be between 0 and 1"):
        segloss.score(x, gt, pred_type="logits", losses="ce", label_smoothing=1.5)
    with pytest.raises(segloss.SeglossError, match="absent_zero must be True or False"):
        segloss.score(x, gt, pred_type="logits", losses="dice", absent_zero=1)


# --- reductions over a batch axis (score_batch) ------------------------------------------------


def _batch(seed=12, b=3):
    rng = np.random.default_rng(seed)
    gt = rng.integers(0, K, (b, 5, 4, 3))
    gt[1][gt[1] == 2] = 1  # class 2 absent from case 1
    x = rng.normal(size=(b, K, 5, 4, 3)) * 2
    return x, gt


def test_batch_reduction_pools_the_sums_before_the_ratio():
    x, gt = _batch()
    got = segloss.score_batch(x, gt, pred_type="logits", losses="dice,lovasz_softmax", reduction="batch")
    # every voxel of the batch in one sum: MONAI DiceLoss(batch=True), SMP's default
    p = np.concatenate([_probs(_flat(x[b], gt[b])[0], "logits") for b in range(len(gt))], axis=1)
    g = gt.reshape(-1)
    want = np.mean(_dice_per_class(p, g)[1:])
    assert got["dice"].value == pytest.approx(want, rel=1e-12)
    assert got["dice"].params["reduction"] == "batch"
    # Lovasz per_image=False: one sort over the pooled voxels of each class
    from tests import naive_losses

    G = (g[None, :] == np.arange(K)[:, None]).astype(np.float64)
    _, lov = naive_losses.lovasz_softmax(p, G, [1, 2, 3], np.ones(3))
    assert got["lovasz_softmax"].value == pytest.approx(lov, rel=1e-12)


def test_case_reduction_is_the_mean_over_the_batch():
    x, gt = _batch()
    got = segloss.score_batch(x, gt, pred_type="logits", losses="dice,ce", reduction="case", include_background=True)
    per_case = [segloss.score(x[b], gt[b], pred_type="logits", losses="dice,ce", metrics=(), include_background=True,
                              channel_axis=0) for b in range(len(gt))]  # fmt: skip
    for name in ("dice", "ce"):
        assert got[name].value == pytest.approx(np.mean([c.losses[name].value for c in per_case]), rel=1e-12)
        assert got[name].params["reduction"] == "case"
    d = [_dice_per_class(_probs(*[_flat(x[b], gt[b])[0]], "logits"), _flat(x[b], gt[b])[1]) for b in range(len(gt))]
    assert got["dice"].value == pytest.approx(np.mean([np.mean(v) for v in d]), rel=1e-12)


def test_batch_layouts_and_errors():
    x, gt = _batch(b=2)
    a = segloss.score_batch(x, gt[:, None], pred_type="logits", losses="dice", reduction="batch")  # (B, 1, *S) GT
    b = segloss.score_batch(x, gt, pred_type="logits", losses="dice", reduction="batch")
    assert a["dice"].value == b["dice"].value
    labels = segloss.score_batch(np.argmax(x, 1), gt, losses="dice", reduction="batch")
    flat = segloss.score(np.concatenate(list(np.argmax(x, 1))), np.concatenate(list(gt)), losses="dice", metrics=())
    assert labels["dice"].value == flat.losses["dice"].value
    with pytest.raises(segloss.SeglossError, match="reduction must be one of case, batch"):
        segloss.score_batch(x, gt, losses="dice", reduction="mean")
    with pytest.raises(segloss.SeglossError, match="losses only"):
        segloss.score_batch(x, gt, losses="dice", metrics="dice")
    with pytest.raises(segloss.SeglossError, match="batch axis first"):
        segloss.score_batch(x, gt[:1], losses="dice")
