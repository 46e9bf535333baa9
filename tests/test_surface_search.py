"""The surface-list, nearby-search and sparse-EDT kernels, and every path of surface_distances,
against brute force (tests/naive_distance.py) and scipy's distance_transform_edt."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from scipy import ndimage as ndi

from segloss_cli.kernels import surface_search as SS
from segloss_cli.metrics.distance import surface_distances
from tests import naive_distance as naive

PATHS = ["default", "dense", "sparse", "near"]


@pytest.fixture
def path(request, monkeypatch):
    """Force one path of kernels/surface_search.directed_squared through its cost constants."""
    name = request.param
    if name in ("dense", "sparse"):
        monkeypatch.setattr(SS, "NEAR_OFFSETS", 1)  # a ball of the coarsest spacing only
        monkeypatch.setattr(SS, "NS_PROBE", float("inf"))  # no further shells
        monkeypatch.setattr(SS, "NS_DENSE_VOXEL", 0.0 if name == "dense" else float("inf"))
        monkeypatch.setattr(SS, "DENSE_MEMORY_FACTOR", float("inf"))
    elif name == "near":
        monkeypatch.setattr(SS, "NS_PROBE", 0.0)  # every shell before any exact method
    return name


def brute_squared(sites, queries, spacing):
    s = np.asarray(spacing, np.float64)
    d = (queries[:, None, :] - sites[None, :, :]) * s
    return (d * d).sum(axis=2).min(axis=1)


def directed_scipy(src, dst, spacing):
    """d(src -> dst) with scipy: EDT of dst's surface read at src's surface (raster order)."""
    return ndi.distance_transform_edt(~naive.surface(dst), sampling=spacing)[naive.surface(src)]


# --- sparse_edt against brute force ---------------------------------------------------------------


@st.composite
def point_sets(draw):
    shape = draw(st.tuples(*(st.integers(1, 9) for _ in range(3))))
    size = int(np.prod(shape))
    sites = draw(st.lists(st.integers(0, size - 1), min_size=1, max_size=30, unique=True))
    queries = draw(st.lists(st.integers(0, size - 1), min_size=1, max_size=30, unique=True))
    spacing = tuple(draw(st.floats(0.05, 20.0)) for _ in range(3))
    perm = draw(st.permutations([0, 1, 2]))
    return shape, np.sort(sites), np.sort(queries), spacing, perm


@settings(max_examples=60, deadline=None)
@given(case=point_sets(), offset=st.tuples(*(st.integers(0, 3) for _ in range(3))))
def test_sparse_edt_matches_brute_force(case, offset):
    shape, s_idx, q_idx, spacing, perm = case
    full = tuple(n + o + 2 for n, o in zip(shape, offset))  # the box sits inside a larger view
    lo = np.asarray(offset, np.int64)
    s3 = np.stack(np.unravel_index(s_idx, shape), axis=1) + lo
    q3 = np.stack(np.unravel_index(q_idx, shape), axis=1) + lo
    s_flat = np.ravel_multi_index(s3.T, full).astype(np.int64)
    q_flat = np.ravel_multi_index(q3.T, full).astype(np.int64)
    got = SS.sparse_edt(
        s_flat,
        q_flat,
        full[1],
        full[2],
        np.asarray(perm, np.int64),
        lo,
        np.asarray(shape, np.int64),
        np.asarray(spacing, np.float64),
        3,
    )
    np.testing.assert_allclose(got, brute_squared(s3, q3, spacing), rtol=1e-12, atol=0)


def test_sparse_edt_many_queries_per_column_uses_the_envelope(rng):
    # Columns with more than 4 queries take the lower envelope along a instead of the minimum.
    shape = (40, 6, 5)
    s3 = np.stack([rng.integers(0, n, 25) for n in shape], axis=1)
    s3 = np.unique(s3, axis=0)
    q3 = np.stack(np.meshgrid(np.arange(40), [1, 4], [0, 3], indexing="ij"), axis=-1).reshape(-1, 3)
    s_flat = np.ravel_multi_index(s3.T, shape).astype(np.int64)
    q_flat = np.ravel_multi_index(q3.T, shape).astype(np.int64)
    for perm in ([0, 1, 2], [2, 1, 0]):
        got = SS.sparse_edt(
            s_flat,
            q_flat,
            shape[1],
            shape[2],
            np.asarray(perm, np.int64),
            np.zeros(3, np.int64),
            np.asarray(shape, np.int64),
            np.array([0.7, 1.9, 3.1]),
            16,
        )
        np.testing.assert_allclose(got, brute_squared(s3, q3, (0.7, 1.9, 3.1)), rtol=1e-12, atol=0)


# --- nearby search -------------------------------------------------------------------------------


def test_near_search_is_exact_or_says_not_found(rng):
    shape = (7, 9, 8)
    spacing = (2.5, 0.8, 1.1)
    codes = np.zeros(shape, np.uint8)
    codes[rng.random(shape) < 0.03] |= 2
    codes.flat[5] |= 2
    q_flat = np.flatnonzero(rng.random(shape) < 0.3).astype(np.int64)
    o0, o1, o2, od2, ends = SS.near_offsets(spacing, shape)
    assert np.all(np.diff(od2) >= 0) and ends[-1] == od2.size
    got = SS.near_search(
        codes,
        np.uint8(2),
        q_flat,
        shape[1],
        shape[2],
        0,
        0,
        0,
        o0[: ends[0]],
        o1[: ends[0]],
        o2[: ends[0]],
        od2[: ends[0]],
        4,
    )
    ref = brute_squared(np.argwhere(codes & 2), np.stack(np.unravel_index(q_flat, shape), axis=1), spacing)
    found = got >= 0
    np.testing.assert_allclose(got[found], ref[found], rtol=1e-15, atol=0)
    assert np.all(ref[~found] > od2[ends[0] - 1])  # nothing inside the ball was missed


def test_near_offsets_skip_the_missing_axis_of_2d_images():
    o0, o1, o2, od2, ends = SS.near_offsets((1.0, 0.5, 0.5), (1, 30, 30))
    assert not o0.any() and od2[0] == 0 and len(ends) == SS.NEAR_SHELLS


# --- surface lists -------------------------------------------------------------------------------


@pytest.mark.parametrize("order", ["C", "F"])
@pytest.mark.parametrize("ndim", [2, 3])
def test_surface_points_match_the_definition(rng, order, ndim):
    from segloss_cli.kernels import confusion as KC
    from segloss_cli.kernels.layout import as_kernel_3d, spatial_order

    shape = (9, 11, 7)[:ndim]
    gt = np.asarray(rng.integers(0, 4, size=shape), np.uint8, order=order)
    pred = np.asarray(rng.integers(0, 4, size=shape), np.uint8, order=order)
    gt[rng.random(shape) < 0.1] = 9  # ignored
    labels = np.array([1, 2, 3, 5])  # 5 is absent
    sorted_labels, lut, use_lut = KC.class_lookup(labels)
    ax = spatial_order(gt)
    g3, p3 = as_kernel_3d(gt, ax), as_kernel_3d(pred, ax)
    active = np.array([True, False, True, True])
    ps, pf, gs, gf = SS.surface_points(
        p3, g3, lut, sorted_labels, use_lut, active, np.int64(9), True, ndim == 3, 0, 0, 0, *g3.shape
    )
    for ci, c in enumerate(sorted_labels):
        for start, flat, mask in ((ps, pf, (p3 == c) & (g3 != 9)), (gs, gf, g3 == c)):
            got = flat[start[ci] : start[ci + 1]]
            if not active[ci]:
                assert got.size == 0
                continue
            surf = naive.surface(mask[0] if ndim == 2 else mask)
            want = np.flatnonzero(surf.reshape(g3.shape))
            np.testing.assert_array_equal(got, want)


# --- every path of surface_distances -------------------------------------------------------------


@pytest.mark.parametrize("path", PATHS, indirect=True)
@pytest.mark.parametrize("seed", range(8))
def test_paths_match_brute_force_and_scipy(path, seed):
    rng = np.random.default_rng(seed)
    ndim = 2 + seed % 2
    shape = tuple(int(n) for n in rng.integers(3, 12, size=ndim))
    spacing = tuple(rng.uniform(0.2, 4.0, size=ndim))
    gt = (rng.random(shape) < rng.uniform(0.1, 0.6)).astype(np.uint8)
    pred = (rng.random(shape) < rng.uniform(0.02, 0.3)).astype(np.uint8)
    gt.flat[0] = pred.flat[-1] = 1
    if seed % 3 == 0:
        pred, gt = np.asfortranarray(pred), np.asfortranarray(gt)
    sd = surface_distances(pred, gt, [1], spacing_mm=spacing)[0]
    p, g = pred > 0, gt > 0
    if pred.flags.c_contiguous:  # raster order of the kernel view is C order here
        np.testing.assert_allclose(sd.pred_to_gt, naive.directed(p, g, spacing), rtol=1e-12, atol=0)
        np.testing.assert_allclose(sd.gt_to_pred, naive.directed(g, p, spacing), rtol=1e-12, atol=0)
    np.testing.assert_allclose(np.sort(sd.pred_to_gt), np.sort(directed_scipy(p, g, spacing)), rtol=1e-12, atol=0)
    np.testing.assert_allclose(np.sort(sd.gt_to_pred), np.sort(directed_scipy(g, p, spacing)), rtol=1e-12, atol=0)


@pytest.mark.parametrize("path", PATHS, indirect=True)
def test_paths_with_many_classes_ignore_label_and_borders(path, rng):
    # Classes fill the image, so they share one surface pass and one code box.
    shape = (12, 10, 9)
    spacing = (0.8, 0.8, 2.5)
    gt = rng.integers(0, 4, size=shape).astype(np.uint8)
    pred = np.where(rng.random(shape) < 0.4, rng.integers(0, 4, size=shape), gt).astype(np.uint8)
    ign = rng.random(shape) < 0.1
    gt[ign] = 255
    res = surface_distances(pred, gt, [3, 1, 2], spacing_mm=spacing, ignore_label=255)
    for c, sd in zip([3, 1, 2], res):
        p, g = (pred == c) & ~ign, gt == c
        np.testing.assert_allclose(sd.pred_to_gt, naive.directed(p, g, spacing), rtol=1e-12, atol=0)
        np.testing.assert_allclose(sd.gt_to_pred, naive.directed(g, p, spacing), rtol=1e-12, atol=0)


masks = st.tuples(
    hnp.array_shapes(min_dims=2, max_dims=3, min_side=1, max_side=8), st.integers(0, 2**32 - 1), st.data()
)


@settings(max_examples=40, deadline=None)
@given(case=masks, which=st.sampled_from(["dense", "sparse"]))
def test_forced_paths_property(case, which):
    shape, seed, data = case
    rng = np.random.default_rng(seed)
    pred = rng.random(shape) < data.draw(st.floats(0.02, 0.9))
    gt = rng.random(shape) < data.draw(st.floats(0.02, 0.9))
    pred.flat[rng.integers(pred.size)] = True
    gt.flat[rng.integers(gt.size)] = True
    spacing = tuple(data.draw(st.floats(0.05, 20.0)) for _ in shape)
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(SS, "NEAR_OFFSETS", 1)
        mp.setattr(SS, "NS_PROBE", float("inf"))
        mp.setattr(SS, "NS_DENSE_VOXEL", 0.0 if which == "dense" else float("inf"))
        mp.setattr(SS, "DENSE_MEMORY_FACTOR", float("inf"))
        sd = surface_distances(pred.astype(np.uint8), gt.astype(np.uint8), [1], spacing_mm=spacing)[0]
    np.testing.assert_allclose(sd.pred_to_gt, naive.directed(pred, gt, spacing), rtol=1e-12, atol=0)
    np.testing.assert_allclose(sd.gt_to_pred, naive.directed(gt, pred, spacing), rtol=1e-12, atol=0)


def test_sparse_plan_prefers_the_cheapest_axis_order():
    # Sites in few planes along axis 2, queries everywhere: planes along 2 must be the a axis.
    sites = np.array([200, 200, 2, 40000, 400, 400])  # distinct 0, 1, 2, (0,1), (0,2), (1,2)
    queries = np.array([200, 200, 200, 40000, 40000, 40000])
    ns, perm = SS.sparse_plan(sites, queries)
    assert perm[0] == 2 and ns > 0
