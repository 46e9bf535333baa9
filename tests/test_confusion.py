"""The one-pass confusion kernel against the per-class numpy oracle, on every layout and dtype."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
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
    shape=st.one_of(
        hnp.array_shapes(min_dims=2, max_dims=2, max_side=9), hnp.array_shapes(min_dims=3, max_dims=3, max_side=7)
    ),
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


@pytest.mark.compiled  # 2**31 voxels: seconds compiled, hours as Python
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


# --------------------------------------------------------------------------------------------
# label_histograms: validation and overlap counts of a label-map pair in one pass


# Every width with itself (the word path: 8, 4, 2 and 1 labels per word, bool as uint8) and
# mixed widths both ways (the voxel-walk path). Not all 36 pairs: each pair is a numba
# specialisation to compile on a fresh cache, and these cover every code path.
DTYPE_PAIRS = [(d, d) for d in DTYPES] + [
    (np.uint8, np.int16),
    (np.int16, np.uint8),
    (np.bool_, np.int32),
    (np.int64, np.uint8),
    (np.uint8, np.bool_),
]


def _blocky(rng, shape, hi, dtype, order, noise):
    """Long runs of one label (the word-skip path) with sparse noise (the voxel-by-voxel path)."""
    n = int(np.prod(shape))
    run_starts = np.sort(rng.choice(n, size=max(1, n // 40), replace=False))
    values = rng.integers(0, hi, run_starts.size)
    flat = np.zeros(n, np.int64)
    flat[run_starts] = np.diff(np.concatenate([[0], values]))
    flat = np.cumsum(flat)
    flip = rng.random(n) < noise
    flat[flip] = rng.integers(0, hi, int(flip.sum()))
    return np.asarray(flat.reshape(shape), dtype=dtype, order=order)


def _oracle_histograms(pred, gt, ignore_label):
    p = pred.astype(np.int64).ravel()
    g = gt.astype(np.int64).ravel()
    keep = g != ignore_label if ignore_label is not None else np.ones(g.size, bool)
    size = 1 + int(max(p.max(), g.max()))
    return (
        np.bincount(p[keep], minlength=size),
        np.bincount(g, minlength=size),
        np.bincount(p[keep & (p == g)], minlength=size),
        np.bincount(p[~keep], minlength=size),
    )


@settings(max_examples=80, deadline=None)
@given(
    shape=st.one_of(
        hnp.array_shapes(min_dims=2, max_dims=2, max_side=40), hnp.array_shapes(min_dims=3, max_dims=3, max_side=17)
    ),
    n_labels=st.integers(1, 6),
    dtypes=st.sampled_from(DTYPE_PAIRS),
    order=st.sampled_from("CF"),
    noise=st.sampled_from([0.0, 0.01, 0.3]),
    ignore=st.sampled_from([None, 0, 2]),
    seed=st.integers(0, 2**32 - 1),
)
def test_label_histograms_match_oracle(shape, n_labels, dtypes, order, noise, ignore, seed):
    from segloss_cli.scan import label_histograms

    pred_dtype, gt_dtype = dtypes
    rng = np.random.default_rng(seed)
    hi_p = 2 if pred_dtype == np.bool_ else n_labels + 1
    hi_g = 2 if gt_dtype == np.bool_ else n_labels + 1
    pred = _blocky(rng, shape, hi_p, pred_dtype, order, noise)
    gt = _blocky(rng, shape, hi_g, gt_dtype, order, noise)
    h = label_histograms(pred, gt, ignore)
    assert h is not None  # contiguous small non-negative integers always take the one-pass path
    for got, want in zip((h.pred, h.gt, h.tp, h.pred_in_ignored), _oracle_histograms(pred, gt, ignore)):
        np.testing.assert_array_equal(got[: want.size], want)
        assert not got[want.size :].any()
    labels = list(range(max(hi_p, hi_g) + 1))  # one label present in neither map
    c = h.counts(labels, ignore_label=ignore)
    ref = confusion(pred, gt, labels, ignore_label=ignore)
    for field in ("tp", "fp", "fn", "tn"):
        np.testing.assert_array_equal(getattr(c, field), getattr(ref, field), err_msg=field)
    assert c.n == ref.n


@pytest.mark.parametrize(
    "pred_dtype, gt_dtype, value, takes_general_path",
    [
        (np.uint8, np.uint8, 255, False),
        (np.uint16, np.uint16, 65535, False),
        (np.int32, np.int32, 65535, False),
        (np.int32, np.int32, 65536, True),  # beyond the 16-bit table
        (np.int16, np.int16, -1, True),  # negative: the general path names the error
        (np.int64, np.uint8, 2**40, True),
        (np.uint8, np.int16, 300, False),  # mixed widths: walked voxel by voxel, nothing cast
        (np.uint64, np.int64, 7, False),
        (np.uint64, np.int64, 2**63, True),  # read as negative by the kernel: general path
    ],
)
def test_label_histograms_table_edges(pred_dtype, gt_dtype, value, takes_general_path):
    from segloss_cli.scan import label_histograms

    gt = np.zeros((5, 6, 7), gt_dtype)
    pred = np.zeros((5, 6, 7), pred_dtype)
    target = gt if np.array(value).astype(gt_dtype) == value else pred
    target[2, 3, 4] = value
    target[4, 5, 6] = value  # in the tail after the last whole 64-bit word
    h = label_histograms(pred, gt)
    assert (h is None) == takes_general_path
    if h is not None:
        hist = h.gt if target is gt else h.pred
        assert int(hist[value]) == 2 and int(hist[0]) == gt.size - 2


def test_label_histograms_decline_strided_and_mismatched_inputs():
    from segloss_cli.scan import label_histograms

    a = np.zeros((6, 8, 10), np.uint8)
    assert label_histograms(a[:, ::2], a[:, ::2]) is None  # not contiguous
    assert label_histograms(a, np.zeros((6, 8, 11), np.uint8)) is None  # shapes differ
    assert label_histograms(a.astype(np.float32), a) is None  # float: validated elsewhere first


@settings(max_examples=60, deadline=None)
@given(
    seed=st.integers(0, 10_000),
    n=st.integers(1, 700),
    dtype=st.sampled_from(["uint8", "int16", "uint16", "int32"]),
    ignore=st.sampled_from([None, 3, 255]),
    blocky=st.booleans(),
    wide=st.booleans(),
)
def test_pair_table_equals_numpy(seed, n, dtype, ignore, blocky, wide):
    """The (PRED, GT) pair table of both paths (64-bit words for one width and a C-contiguous
    layout, voxel runs otherwise) against np.add.at; values outside [0, 256) only tallied."""
    from segloss_cli.kernels.confusion import pair_table

    rng = np.random.default_rng(seed)
    hi = 300 if wide and dtype != "uint8" else 6
    lo = -2 if wide and dtype.startswith("int") else 0

    def draw():
        if blocky:  # long runs, like real label maps: the word path's skipping is exercised
            return np.repeat(rng.integers(lo, hi, size=n // 17 + 1), 17)[:n].astype(dtype)
        return rng.integers(lo, hi, size=n).astype(dtype)

    pred, gt = draw(), draw()
    size = 256
    ign = np.int64(ignore if ignore is not None else 0)
    want = np.zeros((size, size + 1), np.int64)
    p64, g64 = pred.astype(np.int64), gt.astype(np.int64)
    at_ign = (g64 == ignore) if ignore is not None else np.zeros(n, bool)
    ok_p = (p64 >= 0) & (p64 < size)
    ok_g = (g64 >= 0) & (g64 < size)
    pair = ok_p & ok_g & ~at_ign
    np.add.at(want, (p64[pair], g64[pair]), 1)
    np.add.at(want, (p64[ok_p & at_ign], np.full(int((ok_p & at_ign).sum()), size)), 1)
    n_out = n - int(pair.sum()) - int((ok_p & at_ign).sum())
    for p3, g3 in (
        (pred.reshape(1, 1, n), gt.reshape(1, 1, n)),  # one width, contiguous: words
        (pred.reshape(1, 1, n), gt.astype(np.int64).reshape(1, 1, n)),  # two widths: voxel runs
    ):
        table, outside = pair_table(p3, g3, size, ign, ignore is not None)
        assert outside == n_out
        np.testing.assert_array_equal(table, want)
