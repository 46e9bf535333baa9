"""The one-pass confusion kernel against the per-class numpy oracle, on every layout and dtype."""

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st
from hypothesis.extra import numpy as hnp

from segloss_cli.metrics.overlap import confusion
from tests import naive

DTYPES = [np.uint8, np.int16, np.uint16, np.int32, np.int64, np.bool_]


def _check(pred, gt, labels, ignore_label=None):
    c = confusion(pred, gt, labels, ignore_label=ignore_label)
    for i, lab in enumerate(labels):
        expect = naive.confusion(pred, gt, lab, ignore_label)
        assert (int(c.tp[i]), int(c.fp[i]), int(c.fn[i]), int(c.tn[i])) == expect, lab
        assert int(c.tp[i] + c.fp[i] + c.fn[i] + c.tn[i]) == c.n
    return c


@settings(max_examples=60, deadline=None)
@given(
    shape=st.one_of(hnp.array_shapes(min_dims=2, max_dims=2, max_side=9), hnp.array_shapes(min_dims=3, max_dims=3, max_side=7)),
    n_labels=st.integers(1, 6),
    dtype=st.sampled_from(DTYPES),
    order=st.sampled_from("CF"),
    seed=st.integers(0, 2**32 - 1),
)
def test_matches_oracle_random(shape, n_labels, dtype, order, seed):
    rng = np.random.default_rng(seed)
    hi = 2 if dtype == np.bool_ else n_labels + 1
    gt = np.asarray(rng.integers(0, hi, shape), dtype=dtype, order=order)
    pred = np.asarray(rng.integers(0, hi, shape), dtype=dtype, order=order)
    labels = list(range(hi))
    _check(pred, gt, labels)


@pytest.mark.parametrize("big", [1605, 2**15 - 1, 2**16, 2**31 - 1])
def test_sparse_and_large_labels(big, rng):
    gt = rng.choice(np.array([0, 3, big], dtype=np.int64), size=(6, 7, 8))
    pred = rng.choice(np.array([0, 3, big, 7], dtype=np.int64), size=(6, 7, 8))
    _check(pred, gt, [0, 3, 7, big])
    _check(pred.astype(np.int32) if big < 2**31 else pred, gt, [big, 3])  # caller's order kept


def test_large_label_does_not_allocate_table():
    """A label of 2**31-1 must take the binary-search path, not a 2**31-entry table."""
    import tracemalloc

    gt = np.zeros((4, 4, 4), np.int32)
    gt[1, 1, 1] = 2**31 - 1
    confusion(gt, gt, [0, 2**31 - 1])  # compile outside the measurement
    tracemalloc.start()
    c = confusion(gt, gt, [0, 2**31 - 1])
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert peak < 1_000_000
    assert int(c.tp[1]) == 1


def test_mixed_layouts_read_only_and_memmap(tmp_path, rng):
    gt = rng.integers(0, 4, (5, 6, 7)).astype(np.uint8)
    pred = rng.integers(0, 4, (5, 6, 7)).astype(np.int16)
    np.save(tmp_path / "p.npy", pred)
    mm = np.load(tmp_path / "p.npy", mmap_mode="r")
    gt_f = np.asfortranarray(gt)
    gt_f.setflags(write=False)
    _check(mm, gt_f, [0, 1, 2, 3])
    _check(pred[:, ::-1, ::2], gt[:, ::-1, ::2], [1, 2, 3])  # negative and >1 strides
    _check(np.transpose(pred, (2, 0, 1)), np.transpose(gt, (2, 0, 1)), [1, 2])


def test_ignore_label_excluded(rng):
    gt = rng.integers(0, 3, (8, 9)).astype(np.uint8)
    gt[rng.random((8, 9)) < 0.3] = 255
    pred = rng.integers(0, 3, (8, 9)).astype(np.uint8)
    c = _check(pred, gt, [0, 1, 2], ignore_label=255)
    assert c.n == int(np.sum(gt != 255))


def test_labels_outside_class_set_count_as_other(rng):
    gt = rng.integers(0, 6, (10, 10)).astype(np.uint8)
    pred = rng.integers(0, 6, (10, 10)).astype(np.uint8)
    _check(pred, gt, [2])  # labels 0,1,3,4,5 are "not 2" for both maps


def test_counts_exact_beyond_2_31_voxels():
    """Broadcast views: 2**31 + 2**20 voxels counted exactly without allocating them."""
    shape = (2049, 1024, 1024)  # 2,148,532,224 voxels > 2**31 (int32 counters would wrap)
    gt = np.broadcast_to(np.array([1, 0], np.uint8)[np.newaxis, np.newaxis, [0, 1] * 512], shape)
    pred = np.broadcast_to(np.uint8(1), shape)
    c = confusion(pred, gt, [1])
    n = 2049 * 1024 * 1024
    assert c.n == n
    assert int(c.tp[0]) == n // 2
    assert int(c.fp[0]) == n // 2
    assert int(c.fn[0]) == 0 and int(c.tn[0]) == 0
