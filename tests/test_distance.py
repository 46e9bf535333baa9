"""Surface distances and their reductions: brute force, closed forms, properties."""

import math

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from segloss_cli.metrics.distance import surface_distances, surface_metrics
from segloss_cli.metrics.params import SurfaceParams
from tests import naive_distance as naive

NAMES = ["hd", "hd95", "assd", "masd", "nsd"]


def opts(q=95.0, mode="max", tau=1.0, per_label=None):
    return SurfaceParams(hd_percentile=q, hd_mode=mode, nsd_tolerance_mm=tau, nsd_tolerance_per_label=per_label or {})


def ours(pred, gt, spacing, **kw):
    """All five metrics of two binary masks (label 1), as a dict of floats."""
    out = surface_metrics(
        np.asarray(pred, np.uint8), np.asarray(gt, np.uint8), [1], spacing_mm=spacing, names=NAMES, params=opts(**kw)
    )
    return {k: float(v[0]) for k, v in out.items()}


def directed(pred, gt, spacing, ignore_label=None):
    sd = surface_distances(
        np.asarray(pred, np.uint8), np.asarray(gt, np.uint8), [1], spacing_mm=spacing, ignore_label=ignore_label
    )[0]
    return sd.pred_to_gt, sd.gt_to_pred


def assert_metrics_close(a, b, rtol=1e-12):
    for k in b:
        assert a[k] == pytest.approx(b[k], rel=rtol, abs=1e-12), k


# --- brute force ------------------------------------------------------------------------------


@pytest.mark.parametrize("seed", range(24))
def test_surface_distances_match_all_pairs(seed):
    rng = np.random.default_rng(seed)
    ndim = 2 + seed % 2
    shape = tuple(int(n) for n in rng.integers(1, 10, size=ndim))
    spacing = tuple(rng.uniform(0.2, 4.0, size=ndim))
    pred = rng.random(shape) < rng.uniform(0.1, 0.7)
    gt = rng.random(shape) < rng.uniform(0.1, 0.7)
    if not pred.any() or not gt.any():
        pred.flat[0] = gt.flat[-1] = True
    if seed % 3 == 0:
        pred, gt = np.asfortranarray(pred), np.asfortranarray(gt)
    d_pg, d_gp = directed(pred, gt, spacing)
    np.testing.assert_allclose(np.sort(d_pg), np.sort(naive.directed(pred, gt, spacing)), rtol=1e-12)
    np.testing.assert_allclose(np.sort(d_gp), np.sort(naive.directed(gt, pred, spacing)), rtol=1e-12)
    tau = float(rng.uniform(0, 3))
    for mode in ("max", "pooled"):
        assert_metrics_close(
            ours(pred, gt, spacing, tau=tau, mode=mode), naive.metrics(pred, gt, spacing, tau=tau, mode=mode)
        )


def test_many_labels_at_once_match_each_label_alone(rng):
    shape = (14, 12, 9)
    spacing = (0.7, 1.1, 2.9)
    # int64 like the large-label test below: one more compiled signature, not two.
    gt = rng.integers(0, 5, size=shape).astype(np.int64)
    pred = np.where(rng.random(shape) < 0.3, rng.integers(0, 5, size=shape), gt).astype(np.int64)
    labels = [3, 1, 7, 4, 2]  # 7 is absent: empty in both
    res = surface_metrics(pred, gt, labels, spacing_mm=spacing, names=NAMES, params=opts(tau=1.5))
    for i, c in enumerate(labels):
        if c == 7:
            assert all(math.isnan(res[n][i]) for n in NAMES)
            continue
        ref = naive.metrics(pred == c, gt == c, spacing, tau=1.5)
        assert_metrics_close({n: res[n][i] for n in NAMES}, ref)


def test_large_label_values_use_the_search_path():
    gt = np.zeros((6, 7, 5), np.int64)
    gt[1:4, 2:5, 1:3] = 2**40
    pred = np.zeros_like(gt)
    pred[2:5, 2:6, 1:4] = 2**40
    res = surface_metrics(pred, gt, [2**40], spacing_mm=(1, 2, 3), names=NAMES, params=opts())
    assert_metrics_close({n: res[n][0] for n in NAMES}, naive.metrics(pred > 0, gt > 0, (1, 2, 3)))


def test_ignored_voxels_are_outside_both_masks(rng):
    shape = (9, 10, 8)
    gt = rng.integers(0, 2, size=shape).astype(np.uint8)
    pred = rng.integers(0, 2, size=shape).astype(np.uint8)
    ign = rng.random(shape) < 0.2
    gt[ign] = 255
    d_pg, d_gp = directed(pred, gt, (1.0, 1.5, 2.0), ignore_label=255)
    p = (pred == 1) & ~ign
    g = gt == 1
    np.testing.assert_allclose(np.sort(d_pg), np.sort(naive.directed(p, g, (1.0, 1.5, 2.0))), rtol=1e-12)
    np.testing.assert_allclose(np.sort(d_gp), np.sort(naive.directed(g, p, (1.0, 1.5, 2.0))), rtol=1e-12)


def test_empty_masks_give_none_and_nan():
    a = np.zeros((4, 5), np.uint8)
    b = a.copy()
    b[1, 1] = 1
    assert surface_distances(a, b, [1], spacing_mm=(1, 1)) == [None]
    assert surface_distances(b, a, [1], spacing_mm=(1, 1)) == [None]
    res = surface_metrics(a, a, [1], spacing_mm=(1, 1), names=NAMES, params=opts())
    assert all(math.isnan(res[n][0]) for n in NAMES)


# --- closed forms -----------------------------------------------------------------------------


@pytest.mark.parametrize("spacing", [(1.0, 1.0, 1.0), (0.8, 0.8, 2.5), (3.0, 0.5, 1.25)])
def test_two_single_voxels(spacing):
    pred = np.zeros((6, 7, 8), np.uint8)
    gt = np.zeros_like(pred)
    pred[1, 2, 3] = 1
    gt[4, 6, 3] = 1
    d = math.sqrt((3 * spacing[0]) ** 2 + (4 * spacing[1]) ** 2)
    m = ours(pred, gt, spacing, tau=d)
    for k in ("hd", "hd95", "assd", "masd"):
        assert m[k] == pytest.approx(d, rel=1e-15)
    assert m["nsd"] == 1.0
    assert ours(pred, gt, spacing, tau=d * (1 - 1e-6))["nsd"] == 0.0


@pytest.mark.parametrize("n", [4, 6, 9])
@pytest.mark.parametrize("axis", [0, 1, 2])
def test_cubes_shifted_by_one_slice(n, axis):
    # Shifted along the axis with the smallest spacing, every surface voxel is either on the
    # other surface (0) or one slice away (s): n^2 + (n-2)^2 of the n^3 - (n-2)^3 per side.
    spacing = [2.0, 2.0, 2.0]
    spacing[axis] = 0.6
    gt = np.zeros((n + 4,) * 3, np.uint8)
    gt[2 : 2 + n, 2 : 2 + n, 2 : 2 + n] = 1
    pred = np.roll(gt, 1, axis=axis)
    s = spacing[axis]
    n_surface = n**3 - (n - 2) ** 3
    n_off = n**2 + (n - 2) ** 2
    d_pg, d_gp = directed(pred, gt, spacing)
    for d in (d_pg, d_gp):
        assert d.size == n_surface
        assert np.count_nonzero(d == s) == n_off and np.count_nonzero(d == 0) == n_surface - n_off
    m = ours(pred, gt, spacing, tau=s / 2)
    assert m["hd"] == s and m["hd95"] == s
    assert m["assd"] == pytest.approx(s * n_off / n_surface, rel=1e-15)
    assert m["masd"] == pytest.approx(s * n_off / n_surface, rel=1e-15)
    assert m["nsd"] == pytest.approx((n_surface - n_off) / n_surface, rel=1e-15)
    assert ours(pred, gt, spacing, tau=s)["nsd"] == 1.0


def test_one_voxel_tolerance_with_float32_spacing():
    # Header spacing 0.8 is float32 0.800000011920929: a one-voxel distance is within tau = 0.8.
    s = float(np.float32(0.8))
    gt = np.zeros((6, 6, 6), np.uint8)
    gt[1:5, 1:5, 1:5] = 1
    pred = np.roll(gt, 1, axis=2)
    assert ours(pred, gt, (s, s, s), tau=0.8)["nsd"] == 1.0


def test_concentric_spheres():
    r_in, r_out = 6.0, 10.0
    idx = np.indices((25, 25, 25)) - 12.0
    r = np.sqrt((idx**2).sum(axis=0))
    pred, gt = r <= r_in, r <= r_out
    m = ours(pred, gt, (1.0, 1.0, 1.0))
    # Voxelised spheres: surfaces lie within one voxel diagonal of the ideal radius.
    assert abs(m["hd"] - (r_out - r_in)) <= math.sqrt(3)
    assert abs(m["assd"] - (r_out - r_in)) <= 1.5
    assert m["nsd"] == 0.0  # no surface voxel within 1 mm of the other surface
    assert_metrics_close(m, naive.metrics(pred, gt, (1.0, 1.0, 1.0)))


def test_mask_touching_the_image_border():
    # GT fills the whole 5 x 7 image: its surface is the border ring (outside counts as outside).
    gt = np.ones((5, 7), np.uint8)
    pred = np.zeros_like(gt)
    pred[2, 3] = 1
    d_pg, d_gp = directed(pred, gt, (1.0, 1.0))
    assert d_pg.tolist() == [2.0]  # to row 0 or row 4
    assert d_gp.size == 2 * 5 + 2 * 7 - 4
    assert d_gp.max() == pytest.approx(math.sqrt(2**2 + 3**2), rel=1e-15)
    # A full image against itself: every distance 0.
    d_pg, d_gp = directed(gt, gt, (1.0, 1.0))
    assert d_pg.size == d_gp.size == 20 and not d_pg.any() and not d_gp.any()


def test_full_3d_image_surface_is_its_border():
    gt = np.ones((4, 5, 6), np.uint8)
    d_pg, _ = directed(gt, gt, (1.0, 1.0, 1.0))
    assert d_pg.size == 4 * 5 * 6 - 2 * 3 * 4


def test_2d_image_has_no_surface_across_the_missing_axis():
    # In 2-D, the interior of a filled rectangle is not surface (no faces above/below).
    gt = np.zeros((6, 6), np.uint8)
    gt[1:5, 1:5] = 1
    d_pg, _ = directed(gt, gt, (1.0, 1.0))
    assert d_pg.size == 12


# --- properties -------------------------------------------------------------------------------

masks = hnp.arrays(np.bool_, hnp.array_shapes(min_dims=2, max_dims=3, min_side=1, max_side=7))


@st.composite
def pair_and_spacing(draw):
    shape = draw(hnp.array_shapes(min_dims=2, max_dims=3, min_side=1, max_side=7))
    pred = draw(hnp.arrays(np.bool_, shape))
    gt = draw(hnp.arrays(np.bool_, shape))
    assume(pred.any() and gt.any())
    spacing = tuple(draw(st.floats(0.1, 5.0)) for _ in shape)
    return pred, gt, spacing


@settings(max_examples=40, deadline=None)
@given(case=pair_and_spacing(), tau=st.floats(0.0, 6.0))
def test_symmetry_and_order(case, tau):
    pred, gt, spacing = case
    a = ours(pred, gt, spacing, tau=tau)
    b = ours(gt, pred, spacing, tau=tau)
    for k in NAMES:
        assert a[k] == pytest.approx(b[k], rel=1e-12, abs=1e-12)
    # A mean of equal distances may round one ulp above them (3 x 0.1 / 3 = 0.10000000000000002).
    top = a["hd"] * (1 + 1e-12)
    assert a["hd95"] <= top and a["assd"] <= top and a["masd"] <= top
    assert 0.0 <= a["nsd"] <= 1.0
    assert ours(pred, gt, spacing, tau=tau, mode="pooled")["hd95"] <= a["hd"]


@settings(max_examples=30, deadline=None)
@given(case=pair_and_spacing(), k=st.sampled_from([0.25, 0.5, 2.0, 8.0]), tau=st.floats(0.0, 6.0))
def test_scaling_spacing_scales_distances(case, k, tau):
    pred, gt, spacing = case
    a = ours(pred, gt, spacing, tau=tau)
    b = ours(pred, gt, tuple(s * k for s in spacing), tau=tau * k)
    for name in ("hd", "hd95", "assd", "masd"):
        assert b[name] == pytest.approx(a[name] * k, rel=1e-12, abs=1e-12)
    assert b["nsd"] == a["nsd"]  # powers of two scale float32 values exactly


@settings(max_examples=30, deadline=None)
@given(case=pair_and_spacing(), data=st.data())
def test_flips_and_transposes_change_nothing(case, data):
    pred, gt, spacing = case
    a = ours(pred, gt, spacing, tau=1.3)
    perm = data.draw(st.permutations(range(pred.ndim)))
    flips = tuple(a_ for a_ in range(pred.ndim) if data.draw(st.booleans()))
    p2 = np.flip(pred, flips).transpose(perm)
    g2 = np.flip(gt, flips).transpose(perm)
    if data.draw(st.booleans()):
        p2, g2 = np.asfortranarray(p2), np.asfortranarray(g2)
    b = ours(p2, g2, tuple(spacing[i] for i in perm), tau=1.3)
    for k in NAMES:
        assert b[k] == pytest.approx(a[k], rel=1e-12, abs=1e-12)


@settings(max_examples=30, deadline=None)
@given(case=pair_and_spacing(), taus=st.lists(st.floats(0.0, 8.0), min_size=2, max_size=5))
def test_nsd_non_decreasing_in_tau(case, taus):
    pred, gt, spacing = case
    values = [ours(pred, gt, spacing, tau=t)["nsd"] for t in sorted(taus)]
    assert values == sorted(values)


def test_per_label_tolerance():
    gt = np.zeros((10, 10, 10), np.uint8)
    gt[1:4, 1:4, 1:4] = 1
    gt[5:8, 5:8, 5:8] = 2
    pred = np.roll(gt, 1, axis=0)
    res = surface_metrics(
        pred, gt, [1, 2], spacing_mm=(1, 1, 1), names=["nsd"], params=opts(tau=0.5, per_label={2: 1.0})
    )
    assert res["nsd"][0] < 1.0 and res["nsd"][1] == 1.0


def test_percentile_option():
    rng = np.random.default_rng(7)
    pred = rng.random((9, 9, 9)) < 0.3
    gt = rng.random((9, 9, 9)) < 0.3
    for q in (0.0, 50.0, 99.0, 100.0):
        assert ours(pred, gt, (1, 2, 3), q=q)["hd95"] == pytest.approx(
            naive.metrics(pred, gt, (1, 2, 3), q=q)["hd95"], rel=1e-12
        )
    assert ours(pred, gt, (1, 2, 3), q=100.0)["hd95"] == ours(pred, gt, (1, 2, 3))["hd"]


@pytest.mark.parametrize("order", ["C", "F"])
def test_class_boxes_match_numpy(rng, order):
    from segloss_cli.kernels import surface as KS
    from segloss_cli.kernels.layout import as_kernel_3d, spatial_order

    shape = (13, 11, 17)
    gt = np.asarray(np.where(rng.random(shape) < 0.05, rng.integers(1, 6, size=shape), 0), np.uint8, order=order)
    pred = np.asarray(np.where(rng.random(shape) < 0.05, rng.integers(1, 6, size=shape), 0), np.uint8, order=order)
    gt[rng.random(shape) < 0.1] = 9  # ignored
    labels = np.arange(1, 7)  # 6 is absent everywhere
    lut = np.full(7, 6, np.int64)
    lut[1:] = np.arange(6)
    ax = spatial_order(gt)
    g3, p3 = as_kernel_3d(gt, ax), as_kernel_3d(pred, ax)
    lo, hi = KS.class_boxes(p3, g3, lut, labels, True, np.int64(9), True, 3)
    for ci, c in enumerate(labels):
        for m, mask in ((0, (p3 == c) & (g3 != 9)), (1, g3 == c)):
            idx = np.argwhere(mask)
            if idx.size == 0:
                assert (lo[m, ci] > hi[m, ci]).all()
            else:
                assert lo[m, ci].tolist() == idx.min(axis=0).tolist()
                assert hi[m, ci].tolist() == idx.max(axis=0).tolist()


def test_cached_kernels_in_a_fresh_process():
    # numba's cache=True with parallel=True has had bugs: the second process loads every
    # distance kernel from the on-disk cache written by the first (or by earlier tests).
    import json
    import subprocess
    import sys

    code = (
        "import json, numpy as np\n"
        "from segloss_cli.metrics.distance import surface_distances\n"
        "g = np.zeros((9, 8, 7), np.uint8); g[2:7, 1:6, 2:5] = 1\n"
        "p = np.zeros_like(g); p[3:8, 2:6, 1:5] = 1\n"
        "sd = surface_distances(np.asfortranarray(p), np.asfortranarray(g), [1], spacing_mm=(0.7, 1.3, 2.1))[0]\n"
        "print(json.dumps([sorted(sd.pred_to_gt.tolist()), sorted(sd.gt_to_pred.tolist())]))\n"
    )
    g = np.zeros((9, 8, 7), bool)
    g[2:7, 1:6, 2:5] = True
    p = np.zeros_like(g)
    p[3:8, 2:6, 1:5] = True
    sp = (0.7, 1.3, 2.1)
    for _ in range(2):
        out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
        pg, gp = json.loads(out.stdout)
        np.testing.assert_allclose(pg, np.sort(naive.directed(p, g, sp)), rtol=1e-12)
        np.testing.assert_allclose(gp, np.sort(naive.directed(g, p, sp)), rtol=1e-12)
