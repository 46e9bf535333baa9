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
