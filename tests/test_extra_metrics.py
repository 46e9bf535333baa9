"""The opt-in metrics of issue 17 against plain numpy oracles (tests/naive.py), through the API.

The count formulas are also covered by test_overlap_metrics' registry-wide property test; here:
the whole-matrix multi-class MCC, the opt-in rule (no default output changes) and the shape
metrics (boundary IoU, clDice, centre-of-mass distance).
"""

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

import segloss
from segloss_cli.metrics.registry import all_metrics, select
from tests import naive

NEW_COUNT_METRICS = (
    "false_omission_rate",
    "informedness",
    "markedness",
    "fowlkes_mallows",
    "lr_plus",
    "lr_minus",
    "prevalence_threshold",
    "mcc_multiclass",
)


def test_new_metrics_are_opt_in_and_after_the_old_ones():
    names = list(all_metrics())
    default = select(None)
    for name in NEW_COUNT_METRICS:
        assert name not in default
        assert not all_metrics()[name].default
        assert names.index(name) > names.index("tn")  # the wave-1 columns keep their order
    assert set(NEW_COUNT_METRICS) <= set(select("overlap_extra"))
    assert set(NEW_COUNT_METRICS) <= set(select("all"))
    assert not set(NEW_COUNT_METRICS) & set(select("overlap"))


def test_aliases():
    assert select("youden,for,fmi,lr+,lr-,pt,rk") == (
        "false_omission_rate",
        "informedness",
        "fowlkes_mallows",
        "lr_plus",
        "lr_minus",
        "prevalence_threshold",
        "mcc_multiclass",
    )


labels_2d = arrays(np.int64, st.tuples(st.integers(1, 6), st.integers(1, 6)), elements=st.integers(0, 3))


@settings(max_examples=60, deadline=None)
@given(pair=labels_2d.flatmap(lambda g: st.tuples(st.just(g), arrays(np.int64, g.shape, elements=st.integers(0, 3)))))
def test_mcc_multiclass_equals_the_one_hot_correlation(pair):
    gt, pred = pair
    res = segloss.score(pred, gt, metrics="mcc_multiclass,mcc", include_background=True)
    want = naive.mcc_multiclass(pred, gt)
    values = {row.metrics["mcc_multiclass"] for row in res.classes}
    assert len(values) == 1  # one value of the case, repeated in each class row
    got = values.pop()
    if want is None:
        assert got is None
    else:
        assert got == pytest.approx(want, rel=1e-9, abs=1e-12)
    if len(np.union1d(pred, gt)) == 2 and got is not None:  # two labels: R_K is the binary MCC
        assert got == pytest.approx(res.classes[0].metrics["mcc"], rel=1e-9, abs=1e-12)


def test_mcc_multiclass_counts_background_and_leaves_out_ignored_voxels():
    gt = np.array([[0, 1, 2, 255], [0, 1, 2, 255], [1, 1, 2, 0]])
    pred = np.array([[0, 1, 1, 0], [0, 2, 2, 255], [1, 1, 2, 255]])
    res = segloss.score(pred, gt, metrics="mcc_multiclass", ignore_label=255)
    keep = gt != 255
    want = naive.mcc_multiclass(pred[keep], gt[keep])
    assert [r.label for r in res.classes] == [1, 2]  # background counted, not reported
    assert all(r.metrics["mcc_multiclass"] == pytest.approx(want, rel=1e-12) for r in res.classes)
    # PRED gives 255 outside the ignored voxels ([1, 3] is GT 255, [2, 3] is GT 0): a wrong label
    assert naive.mcc_multiclass(pred[keep], gt[keep]) != naive.mcc_multiclass(
        np.where(pred == 255, 0, pred)[keep], gt[keep]
    )


def test_mcc_multiclass_of_a_score_map_and_undefined_for_a_constant_prediction():
    rng = np.random.default_rng(3)
    gt = rng.integers(0, 3, (5, 6))
    probs = rng.random((3, 5, 6))
    probs /= probs.sum(0)
    res = segloss.score(probs, gt, metrics="mcc_multiclass", pred_type="probs")
    want = naive.mcc_multiclass(np.argmax(probs, 0), gt)
    assert res.classes[0].metrics["mcc_multiclass"] == pytest.approx(want, rel=1e-12)
    const = segloss.score(np.ones_like(gt), gt, metrics="mcc_multiclass")
    assert all(r.metrics["mcc_multiclass"] is None for r in const.classes)  # 0/0: null (sklearn says 0)


def test_mcc_multiclass_of_a_sigmoid_channel_is_its_binary_mcc():
    rng = np.random.default_rng(5)
    gt = (rng.random((2, 6, 7)) > 0.5).astype(np.uint8)
    probs = rng.random((2, 6, 7)).astype(np.float32)
    res = segloss.score(probs, gt, pred_type="sigmoid", metrics="mcc,mcc_multiclass", include_background=True)
    for row in res.classes:
        assert row.metrics["mcc_multiclass"] == pytest.approx(row.metrics["mcc"], rel=1e-12)


def test_count_metrics_closed_forms():
    # TP 6, FP 2, FN 3, TN 9: TPR 2/3, TNR 9/11, PPV 3/4, NPV 3/4
    pred = np.array([[1] * 6 + [1] * 2 + [0] * 3 + [0] * 9])
    gt = np.array([[1] * 6 + [0] * 2 + [1] * 3 + [0] * 9])
    m = segloss.score(pred, gt, metrics="overlap_extra").classes[0].metrics
    tpr, tnr, fpr = 2 / 3, 9 / 11, 2 / 11
    assert m["false_omission_rate"] == pytest.approx(3 / 12)
    assert m["informedness"] == pytest.approx(tpr + tnr - 1)
    assert m["markedness"] == pytest.approx(0.5)
    assert m["fowlkes_mallows"] == pytest.approx(math.sqrt(0.75 * tpr))
    assert m["lr_plus"] == pytest.approx(tpr / fpr)
    assert m["lr_minus"] == pytest.approx((1 / 3) / tnr)
    assert m["prevalence_threshold"] == pytest.approx((math.sqrt(tpr * fpr) - fpr) / (tpr - fpr))


def test_count_metrics_empty_cases():
    # no FP: LR+ infinite -> null; TPR = FPR > 0: prevalence threshold 0.5; GT empty: rates null
    m = segloss.score(np.array([[1, 1, 0, 0]]), np.array([[1, 1, 0, 0]]), metrics="overlap_extra").classes[0].metrics
    assert m["lr_plus"] is None and m["lr_minus"] == 0.0 and m["prevalence_threshold"] == 0.0
    m = segloss.score(np.array([[1, 0, 1, 0]]), np.array([[1, 1, 0, 0]]), metrics="overlap_extra").classes[0].metrics
    assert m["prevalence_threshold"] == 0.5 and m["informedness"] == 0.0
    res = segloss.score(np.array([[1, 0, 0, 0]]), np.array([[0, 0, 0, 0]]), metrics="overlap_extra", labels=[1])
    m = res.classes[0].metrics
    assert res.classes[0].status == "gt_empty"
    for name in ("informedness", "fowlkes_mallows", "lr_plus", "lr_minus", "prevalence_threshold"):
        assert m[name] is None, name
    assert m["false_omission_rate"] == 0.0


# --- shape metrics ------------------------------------------------------------------------------


def _reference_boundary(mask, ratio):
    """bowenc0221/boundary-iou-api mask_to_boundary, with scipy's erosion in place of cv2's
    (pad one ring of zeros, erode with a 3^n cube d times, subtract)."""
    from scipy import ndimage

    d = max(1, int(round(ratio * np.sqrt(sum(n**2 for n in mask.shape)))))
    padded = np.pad(mask.astype(np.uint8), 1)
    eroded = ndimage.binary_erosion(padded, structure=np.ones((3,) * mask.ndim), iterations=d, border_value=1)
    return mask & ~eroded[(slice(1, -1),) * mask.ndim].astype(bool)


def _reference_boundary_iou(p, g, ratio):
    bp, bg = _reference_boundary(p, ratio), _reference_boundary(g, ratio)
    union = np.sum(bp | bg)
    return None if union == 0 else np.sum(bp & bg) / union


masks = st.tuples(st.integers(2, 9), st.integers(2, 9), st.integers(1, 6)).flatmap(
    lambda s: st.tuples(
        arrays(np.int64, s, elements=st.integers(0, 2)), arrays(np.int64, s, elements=st.integers(0, 2))
    )
)


@settings(max_examples=60, deadline=None)
@given(pair=masks, ratio=st.sampled_from([0.02, 0.1, 0.3]))
def test_boundary_iou_equals_the_reference(pair, ratio):
    pred, gt = pair
    if gt.shape[2] == 1:  # a 2-D case
        pred, gt = pred[..., 0], gt[..., 0]
    res = segloss.score(pred, gt, metrics="boundary_iou", boundary_iou_ratio=ratio, labels=[1, 2])
    for row in res.classes:
        want = _reference_boundary_iou(pred == row.label, gt == row.label, ratio)
        if want is None:
            assert row.status == "both_empty" and row.metrics["boundary_iou"] == 1.0
        else:
            assert row.metrics["boundary_iou"] == pytest.approx(want, rel=1e-12)


def test_boundary_iou_band_width_and_empty_rule():
    from segloss_cli.metrics.shape import boundary_width

    assert boundary_width((10, 10), 0.02) == 1  # at least one voxel
    assert boundary_width((300, 400), 0.02) == 10  # round(0.02 x 500)
    gt = np.zeros((12, 12), int)
    gt[2:10, 2:10] = 1
    # a prediction equal to GT inside a thick band: boundary IoU 1, though the interiors differ
    res = segloss.score(np.where(gt == 1, 1, 0), gt, metrics="boundary_iou,dice")
    assert res.classes[0].metrics["boundary_iou"] == 1.0
    miss = segloss.score(np.zeros_like(gt), gt, metrics="boundary_iou", labels=[1])
    assert miss.classes[0].metrics["boundary_iou"] == 0.0
    nan = segloss.score(np.zeros_like(gt), gt, metrics="boundary_iou", labels=[1], empty_policy="nan")
    assert nan.classes[0].metrics["boundary_iou"] is None
    with pytest.raises(segloss.SeglossError, match="boundary_iou_ratio"):
        segloss.score(gt, gt, metrics="boundary_iou", boundary_iou_ratio=0)


def test_com_distance_in_mm_and_ignored_voxels():
    gt = np.zeros((6, 8, 4), int)
    pred = np.zeros_like(gt)
    gt[1:3, 1:3, 0] = 1  # centroid (1.5, 1.5, 0)
    pred[1:3, 5:7, 2] = 1  # centroid (1.5, 5.5, 2)
    sp = (0.5, 2.0, 3.0)
    got = segloss.score(pred, gt, metrics="com_distance", spacing_mm=sp).classes[0].metrics["com_distance"]
    assert got == pytest.approx(np.hypot(4 * 2.0, 2 * 3.0), rel=1e-12)
    gt[5, 7, 3] = 9  # ignored: the PRED voxel there does not move PRED's centroid
    pred[5, 7, 3] = 1
    got = segloss.score(pred, gt, metrics="com_distance", spacing_mm=sp, ignore_label=9).classes[0]
    assert got.metrics["com_distance"] == pytest.approx(np.hypot(8.0, 6.0), rel=1e-12)
    empty = segloss.score(np.zeros_like(gt), gt, metrics="com_distance", spacing_mm=sp, labels=[1]).classes[0]
    diag = np.sqrt(sum((n * s) ** 2 for n, s in zip(gt.shape, sp)))
    assert empty.status == "pred_empty" and empty.metrics["com_distance"] == pytest.approx(diag)
    with pytest.raises(segloss.SeglossError, match="spacing"):
        segloss.score(pred, gt, metrics="com_distance")


def test_shape_metrics_of_regions_and_sigmoid_channels():
    rng = np.random.default_rng(11)
    gt = rng.integers(0, 4, (7, 6, 5))
    pred = rng.integers(0, 4, (7, 6, 5))
    res = segloss.score(pred, gt, metrics="boundary_iou,com_distance", spacing_mm=1, regions={"R": [1, 2]})
    row = res.classes[-1]
    assert row.label == "R"
    assert row.metrics["boundary_iou"] == pytest.approx(
        _reference_boundary_iou(np.isin(pred, [1, 2]), np.isin(gt, [1, 2]), 0.02)
    )
    probs = rng.random((2, 7, 6, 5)).astype(np.float32)
    gts = (rng.random((2, 7, 6, 5)) > 0.5).astype(np.uint8)
    ml = segloss.score(probs, gts, pred_type="sigmoid", metrics="boundary_iou", include_background=True)
    for c, row in enumerate(ml.classes):
        assert row.metrics["boundary_iou"] == pytest.approx(_reference_boundary_iou(probs[c] >= 0.5, gts[c] > 0, 0.02))


# Three 12x14 masks and their skeletons by skimage 0.26 skeletonize (np.packbits, hex): a fixed
# reference, since skimage is not a test dependency.
SKIMAGE_SKELETONS = [
    ("fffffff7c3cc07000006003807c01f007801e1cf07", "47e0e040000000000002001000800400200101c000"),
    ("f07fe0ff81fe0f00fc03f003c007003c00f387cf1f", "0070002700800200f8002000800200080023010300"),
    ("1fe0ff8ffe3fff3ffc39f0e7c30f0c1ce00f81fe0f", "0000000ff80110042010408082000800200f00c004"),
]


def _unpack(hexbits, shape=(12, 14)):
    bits = np.unpackbits(np.frombuffer(bytes.fromhex(hexbits), np.uint8))
    return bits[: shape[0] * shape[1]].reshape(shape).astype(bool)


@pytest.mark.parametrize("mask_hex,skel_hex", SKIMAGE_SKELETONS)
def test_skeleton_equals_skimage(mask_hex, skel_hex):
    from segloss_cli.kernels.shape import skeletonize_2d

    assert np.array_equal(skeletonize_2d(_unpack(mask_hex)), _unpack(skel_hex))


def test_cldice_is_the_centreline_dice_of_the_skeletons():
    masks = [_unpack(m) for m, _ in SKIMAGE_SKELETONS]
    skels = [_unpack(s) for _, s in SKIMAGE_SKELETONS]
    for i, j in [(0, 1), (1, 2), (2, 0), (0, 0)]:
        p, g, sp, sg = masks[i], masks[j], skels[i], skels[j]
        tprec, tsens = np.sum(sp & g) / np.sum(sp), np.sum(sg & p) / np.sum(sg)
        want = 2 * tprec * tsens / (tprec + tsens)
        got = segloss.score(p.astype(int), g.astype(int), metrics="cldice").classes[0].metrics["cldice"]
        assert got == pytest.approx(want, rel=1e-12)
    bar = np.zeros((7, 9), int)
    bar[2:5, 1:8] = 1
    # MetricsReloaded's empty cases: one empty -> undefined (an empty skeleton), both -> 1
    assert segloss.score(np.zeros_like(bar), bar, metrics="cldice", labels=[1]).classes[0].metrics["cldice"] is None
    both = segloss.score(np.zeros_like(bar), np.zeros_like(bar), metrics="cldice", labels=[1]).classes[0]
    assert both.status == "both_empty" and both.metrics["cldice"] == 1.0
    apart = np.zeros_like(bar)
    apart[0, :] = 1  # no skeleton pixel of either inside the other: 0
    assert segloss.score(apart, bar, metrics="cldice").classes[0].metrics["cldice"] == 0.0
    cube = np.ones((3, 4, 5), int)
    assert segloss.score(cube, cube, metrics="cldice").classes[0].metrics["cldice"] == 1.0  # 3-D: Lee's skeleton
