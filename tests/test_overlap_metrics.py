"""Every registered overlap metric against its textbook formula, its range and its empty rule.

The parametrisation reads the registry, so a metric added there is tested here too.
"""

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from segloss_cli.metrics.overlap import Counts
from segloss_cli.metrics.registry import all_metrics, class_status, resolve, select
from segloss_cli.metrics.registry import apply_empty_rule as _apply_empty_rule
from tests import naive

CONFUSION = [n for n, s in all_metrics().items() if s.family == "confusion"]


def _counts(tp, fp, fn, tn, voxel_ml=1e-3):
    a = lambda v: np.array([v], np.int64)  # noqa: E731
    return Counts(np.array([1]), a(tp), a(fp), a(fn), a(tn), tp + fp + fn + tn, voxel_ml)


count = st.integers(0, 10**6)


@pytest.mark.parametrize("name", CONFUSION)
@settings(max_examples=80, deadline=None)
@given(tp=count, fp=count, fn=count, tn=count)
def test_formula_matches_oracle_and_range(name, tp, fp, fn, tn):
    if tp + fp + fn + tn == 0:
        return
    spec = all_metrics()[name]
    got = spec.compute(_counts(tp, fp, fn, tn))[0]
    want = naive.metric(name, tp, fp, fn, tn)
    if want is None:
        assert math.isnan(float(got))
        return
    assert float(got) == pytest.approx(want, rel=1e-12, abs=1e-12)
    assert spec.lo - 1e-12 <= float(got) <= spec.hi + 1e-12


@pytest.mark.parametrize("name", CONFUSION)
def test_registry_entry_is_complete(name):
    spec = all_metrics()[name]
    assert spec.formula and spec.description
    assert spec.empty_rule in {"similarity", "ratio", "always"}
    assert spec.lo < spec.hi
    for alias in (name, *spec.aliases):
        assert resolve(alias.upper()).name == name


def test_aliases_groups_and_unknown():
    from segloss_cli.errors import UsageError

    assert select("f1,jaccard,sensitivity,ppv") == ("dice", "iou", "precision", "recall")
    assert set(select("overlap")) == {n for n in CONFUSION if all_metrics()[n].default}
    assert select("none") == ()
    with pytest.raises(UsageError, match="unknown metric 'dcie'"):
        select("dcie")


def test_mcc_no_integer_overflow():
    big = 3 * 10**9  # products of four such counts overflow int64
    got = all_metrics()["mcc"].compute(_counts(big, big // 3, big // 5, 7 * big))[0]
    assert got == pytest.approx(naive.metric("mcc", big, big // 3, big // 5, 7 * big), rel=1e-12)


def test_volumes_use_voxel_volume_and_null_without_spacing():
    spec = all_metrics()["vol_gt_ml"]
    assert spec.compute(_counts(10, 0, 5, 0, voxel_ml=0.8 * 0.8 * 2.5 / 1000))[0] == pytest.approx(15 * 1.6e-3)
    assert math.isnan(spec.compute(_counts(10, 0, 5, 0, voxel_ml=None))[0])


# One test per cell of the empty-mask table (conventions.md) for the overlap metrics.
def _value(name, tp, fp, fn, tn, policy):
    spec = all_metrics()[name]
    status = class_status(tp + fp, tp + fn)
    return _apply_empty_rule(spec, spec.compute(_counts(tp, fp, fn, tn))[0], status, policy, worst=99.0)


def test_both_empty_worst():
    assert class_status(0, 0) == "both_empty"
    for name in ("dice", "iou", "volume_similarity"):
        assert _value(name, 0, 0, 0, 50, "worst") == 1.0
    assert _value("precision", 0, 0, 0, 50, "worst") is None
    assert _value("recall", 0, 0, 0, 50, "worst") is None
    assert _value("specificity", 0, 0, 0, 50, "worst") == 1.0  # denominator not 0


def test_gt_empty_worst():
    assert class_status(5, 0) == "gt_empty"
    for name in ("dice", "iou", "volume_similarity"):
        assert _value(name, 0, 5, 0, 45, "worst") == 0.0
    assert _value("recall", 0, 5, 0, 45, "worst") is None
    assert _value("rvd", 0, 5, 0, 45, "worst") is None
    assert _value("precision", 0, 5, 0, 45, "worst") == 0.0


def test_pred_empty_worst():
    assert class_status(0, 5) == "pred_empty"
    for name in ("dice", "iou", "volume_similarity"):
        assert _value(name, 0, 0, 5, 45, "worst") == 0.0
    assert _value("precision", 0, 0, 5, 45, "worst") is None
    assert _value("recall", 0, 0, 5, 45, "worst") == 0.0


@pytest.mark.parametrize("tp,fp,fn", [(0, 0, 0), (0, 5, 0), (0, 0, 5)])
def test_nan_policy_nulls_similarity(tp, fp, fn):
    for name in ("dice", "iou", "volume_similarity"):
        assert _value(name, tp, fp, fn, 40, "nan") is None
    assert _value("tp", tp, fp, fn, 40, "nan") == tp


def test_ok_status_keeps_value_under_both_policies():
    for policy in ("worst", "nan"):
        assert _value("dice", 3, 1, 2, 10, policy) == pytest.approx(6 / 9)


@pytest.mark.parametrize("policy", ["worst", "nan"])
def test_metric_column_is_apply_empty_rule_cell_by_cell(policy, rng):
    """evaluate.metric_column (one numpy pass per metric over a case's rows) gives exactly
    apply_empty_rule's value and type in every cell: every metric's rule, every status,
    NaN/inf values, int and float arrays."""
    from segloss_cli.evaluate import metric_column

    statuses = ["ok", "both_empty", "gt_empty", "pred_empty"] * 6
    for spec in all_metrics().values():
        floats = rng.random(len(statuses)) * 10 - 5
        floats[[1, 4, 9]] = [np.nan, np.inf, -0.0]
        arrays = [np.arange(len(statuses), dtype=np.int64) * 7] + ([] if spec.integer else [floats])
        for values in arrays:
            got = metric_column(spec, values, statuses, policy, 12.5)
            want = [_apply_empty_rule(spec, v, s, policy, 12.5) for v, s in zip(values, statuses)]
            assert [(type(g), g) for g in got] == [(type(w), w) for w in want], spec.name
            assert [math.copysign(1, g) for g in got if type(g) is float] == [
                math.copysign(1, w) for w in want if type(w) is float
            ]


def test_means_over_classes_are_numpys_mean_of_the_defined_values(rng):
    """aggregate._means_over_classes (one array for all metrics of a case) gives the bits of
    np.mean over each metric's defined class values, None where none is defined."""
    from types import SimpleNamespace

    from segloss_cli.aggregate import _means_over_classes

    names = ("a", "b", "c", "d")
    for n_rows in (1, 2, 7, 19, 130):
        scale = 10.0 ** rng.integers(-6, 6, (n_rows, len(names)))
        rows = []
        for i in range(n_rows):
            vals = dict(zip(names, (rng.random(len(names)) * scale[i]).tolist()))
            vals["b"] = None if i % 3 == 0 else vals["b"]  # some undefined
            vals["c"] = None  # never defined
            vals["d"] = int(i * 3)  # counts
            rows.append(SimpleNamespace(metrics=vals))
        got = _means_over_classes(rows, names)
        for m, g in zip(names, got):
            defined = [float(r.metrics[m]) for r in rows if r.metrics[m] is not None]
            assert g == (float(np.mean(defined)) if defined else None), (m, n_rows)
