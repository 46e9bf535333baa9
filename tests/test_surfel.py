"""The surfel surface model (``--surface surfel``): DeepMind surface-distance's surfaces.

Three kinds of checks, none from segloss's own output:
- DeepMind's documented examples (surface_distance_test.py in google-deepmind/surface-distance):
  the closed forms its tests write down (to 1e-9) and, for the cube example it gives to three
  decimals, those three decimals.
- A plain numpy/scipy oracle (tests/naive_surfel.py): neighbour codes by slicing a zero-padded
  mask, 2-D contour lengths derived from the marching-squares geometry, 3-D areas from
  DeepMind's normals table in numpy, distances by scipy's EDT on the corner grid, DeepMind's
  reductions written out.
- Closed forms of the 3-D area table for configurations whose surface is planar.
"""

from __future__ import annotations

import itertools
import json
import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import ndimage

from segloss_cli.metrics.distance import surface_distances, surface_metrics
from segloss_cli.metrics.params import SurfaceParams
from segloss_cli.metrics.surfel_areas import surfel_areas_3d
from tests import naive_surfel

SURFEL = SurfaceParams(surface="surfel")
ALL = ("hd", "hd95", "assd", "masd", "nsd", "hd_pg", "hd_gp", "hd95_pg", "hd95_gp", "asd_pg", "asd_gp")


def _surfel(p, g, spacing, names=ALL, **kw):
    got = surface_metrics(
        p.astype(np.uint8), g.astype(np.uint8), [1], spacing_mm=spacing, names=names,
        params=SurfaceParams(surface="surfel", **kw),
    )  # fmt: skip
    return {n: float(v[0]) for n, v in got.items()}


def _sorted(d, w):
    o = np.lexsort((w, d))
    return d[o], w[o]


# --- DeepMind's documented examples ---------------------------------------------------------------


def test_deepmind_2d_two_pixels_2mm_away():
    g = np.zeros((128, 128), bool)
    p = np.zeros((128, 128), bool)
    g[50, 70] = p[50, 72] = True
    sd = surface_distances(p.view(np.uint8), g.view(np.uint8), [1], spacing_mm=(2, 1), surface="surfel")[0]
    diag = 0.5 * math.sqrt(2**2 + 1**2)
    for d, w in ((sd.gt_to_pred, sd.gt_area), (sd.pred_to_gt, sd.pred_area)):
        d, w = _sorted(d, w)
        np.testing.assert_allclose(w, [diag] * 4, rtol=1e-12)
        np.testing.assert_allclose(d, [1.0, 1.0, 2.0, 2.0], rtol=1e-12)
    got = _surfel(p, g, (2, 1))
    expected = {"asd_gp": 1.5, "asd_pg": 1.5, "masd": 1.5, "assd": 1.5, "hd": 2.0, "hd95": 2.0, "nsd": 0.5}
    for name, value in expected.items():
        assert got[name] == pytest.approx(value, abs=1e-9), name


def test_deepmind_2d_two_squares_shifted_by_one_pixel():
    g = np.zeros((6, 6), bool)
    p = np.zeros((6, 6), bool)
    g[1:3, 1:3] = True
    p[1:4, 1:3] = True
    vertical, horizontal = 2.0, 1.0
    diag = 0.5 * math.sqrt(horizontal**2 + vertical**2)
    # DeepMind's expected elements (clockwise from the top-left corner) and distances.
    w_g = np.array([diag, horizontal, diag, vertical, diag, horizontal, diag, vertical])
    w_p = np.array([diag, horizontal, diag, vertical, vertical, diag, horizontal, diag, vertical, vertical])
    d_gp = np.array([0.0] * 5 + [horizontal] + [0.0] * 2)
    d_pg = np.array([0.0] * 5 + [vertical] * 3 + [0.0] * 2)
    sd = surface_distances(
        p.view(np.uint8), g.view(np.uint8), [1], spacing_mm=(vertical, horizontal), surface="surfel"
    )[0]
    for (d, w), (de, we) in (((sd.gt_to_pred, sd.gt_area), (d_gp, w_g)), ((sd.pred_to_gt, sd.pred_area), (d_pg, w_p))):
        d, w = _sorted(d, w)
        de, we = _sorted(de, we)
        np.testing.assert_allclose(d, de, atol=1e-12)
        np.testing.assert_allclose(w, we, rtol=1e-12)
    got = _surfel(p, g, (vertical, horizontal))
    assert got["asd_gp"] == pytest.approx(np.sum(d_gp * w_g) / w_g.sum(), abs=1e-9)
    assert got["asd_pg"] == pytest.approx(np.sum(d_pg * w_p) / w_p.sum(), abs=1e-9)
    assert got["hd"] == pytest.approx(vertical, abs=1e-9)
    # 95% of GT's length is within 0 mm of PRED; PRED's last 3 vertical elements are 2 mm away
    assert got["hd95"] == pytest.approx(vertical, abs=1e-9)
    within = w_g[d_gp <= 1].sum() + w_p[d_pg <= 1].sum()
    assert got["nsd"] == pytest.approx(within / (w_g.sum() + w_p.sum()), abs=1e-9)


def test_deepmind_3d_two_pixels_2mm_away():
    g = np.zeros((128, 128, 128), bool)
    p = np.zeros((128, 128, 128), bool)
    g[50, 60, 70] = p[50, 60, 72] = True
    got = _surfel(p, g, (3, 2, 1))
    expected = {"asd_gp": 1.5, "asd_pg": 1.5, "hd": 2.0, "hd95": 2.0, "nsd": 0.5}
    for name, value in expected.items():
        assert got[name] == pytest.approx(value, abs=1e-9), name


@pytest.mark.compiled  # large arrays: seconds compiled, minutes as Python
def test_deepmind_3d_two_cubes_shifted_by_one_pixel_and_voxel_differs():
    g = np.zeros((100, 100, 100), np.uint8)
    p = np.zeros((100, 100, 100), np.uint8)
    g[0:50] = 1
    p[0:51] = 1
    got = _surfel(p, g, (2, 1, 1), names=("asd_gp", "asd_pg", "hd", "hd95", "nsd"))
    # DeepMind's test gives these to 3 decimals (assertAlmostEqual places=3)
    expected = {"asd_gp": 0.322, "asd_pg": 0.339, "hd": 2.0, "hd95": 2.0, "nsd": 0.836}
    for name, value in expected.items():
        assert round(abs(got[name] - value), 3) == 0, (name, got[name])
    voxel = surface_metrics(p, g, [1], spacing_mm=(2, 1, 1), names=["nsd"])["nsd"][0]
    assert round(abs(voxel - 0.755), 3) == 0  # the figure: voxel-centre surfaces differ
    assert naive_surfel.metrics(p.astype(bool), g.astype(bool), (2, 1, 1))["nsd"] == pytest.approx(
        got["nsd"], rel=1e-12
    )


def test_empty_masks_follow_the_empty_policy():
    # DeepMind itself gives inf distances, surface dice 0 (one empty) or NaN (both empty); segloss
    # applies --empty-policy as for voxel surfaces (conventions.md, "Surfel surfaces").
    import segloss_cli as segloss

    g = np.zeros((8, 8), np.uint8)
    p = np.zeros((8, 8), np.uint8)
    g[2:4, 2:4] = 1
    assert surface_distances(p, g, [1], spacing_mm=(1, 1), surface="surfel") == [None]
    for policy, hd, nsd_ in (("worst", math.hypot(8, 8), 0.0), ("nan", None, None)):
        row = segloss.score(p, g, spacing_mm=(1, 1), metrics="hd95,nsd", surface="surfel", empty_policy=policy)
        got = row.to_dict()["classes"]["1"]["metrics"]
        assert got["hd95"] == (None if hd is None else pytest.approx(hd)) and got["nsd"] == nsd_
    both = segloss.score(np.zeros_like(g), np.zeros_like(g), spacing_mm=(1, 1), labels=[1], metrics="hd95,nsd",
                         surface="surfel")  # fmt: skip
    assert both.to_dict()["classes"]["1"]["metrics"] == {"hd95": 0.0, "nsd": 1.0}


# --- the area table -------------------------------------------------------------------------------


@pytest.mark.parametrize("spacing", [(1.0, 1.0, 1.0), (0.9, 1.1, 1.5), (3.0, 2.0, 1.0)])
def test_area_table_closed_forms(spacing):
    s0, s1, s2 = spacing
    a = surfel_areas_3d(spacing)
    assert a[0] == a[255] == 0
    np.testing.assert_allclose(a, a[::-1], rtol=1e-12)  # a code and its complement: one surface
    corner = math.sqrt((s1 * s2) ** 2 + (s0 * s2) ** 2 + (s0 * s1) ** 2) / 8  # one voxel in: a triangle
    for k in range(8):
        assert a[1 << k] == pytest.approx(corner, rel=1e-12)
    bit = {d: 1 << (7 - (4 * d[0] + 2 * d[1] + d[2])) for d in itertools.product((0, 1), repeat=3)}
    face_area = (s1 * s2, s0 * s2, s0 * s1)
    for axis in range(3):  # half of the cell in: a face of the cell's cross-section
        half = sum(b for d, b in bit.items() if d[axis] == 0)
        assert a[half] == pytest.approx(face_area[axis], rel=1e-12)
        for d, b in bit.items():  # two voxels along the axis: a rectangle cutting off an edge
            if d[axis] == 0:
                e = list(d)
                e[axis] = 1
                others = [spacing[x] for x in range(3) if x != axis]
                edge = spacing[axis] * 0.5 * math.hypot(*others)
                assert a[b | bit[tuple(e)]] == pytest.approx(edge, rel=1e-12)


# --- against the oracle ---------------------------------------------------------------------------


@st.composite
def _pairs(draw):
    nd = draw(st.sampled_from([2, 3]))
    shape = tuple(draw(st.integers(1, 7 if nd == 3 else 10)) for _ in range(nd))
    n = int(np.prod(shape))
    p = np.array(draw(st.lists(st.booleans(), min_size=n, max_size=n))).reshape(shape)
    g = np.array(draw(st.lists(st.booleans(), min_size=n, max_size=n))).reshape(shape)
    spacing = tuple(draw(st.sampled_from([0.5, 0.8, 1.0, 1.25, 2.0, 3.0])) for _ in range(nd))
    fortran = draw(st.booleans())
    return p, g, spacing, fortran


@settings(max_examples=40, deadline=None)
@given(_pairs(), st.sampled_from([90.0, 95.0, 100.0]), st.sampled_from([0.5, 1.0, 2.0]))
def test_matches_oracle(case, q, tau):
    p, g, spacing, fortran = case
    if not p.any() or not g.any():
        assert surface_distances(p.view(np.uint8), g.view(np.uint8), [1], spacing_mm=spacing, surface="surfel") == [
            None
        ]
        return
    pp, gg = (np.asfortranarray(p), np.asfortranarray(g)) if fortran else (p, g)
    got = _surfel(pp, gg, spacing, hd_percentile=q, nsd_tolerance_mm=tau)
    want = naive_surfel.metrics(p, g, spacing, q=q, tau=tau)
    for name in ALL:
        assert got[name] == pytest.approx(want[name], rel=1e-9, abs=1e-12), name


def test_label_maps_and_ignore_label_match_binary_oracle():
    rng = np.random.default_rng(3)
    gt = rng.integers(0, 4, (9, 8, 7)).astype(np.uint8)
    pred = rng.integers(0, 4, (9, 8, 7)).astype(np.uint8)
    spacing = (1.5, 0.8, 1.0)
    got = surface_metrics(pred, gt, [1, 2], spacing_mm=spacing, names=["hd95", "assd", "nsd"], params=SURFEL,
                          ignore_label=3)  # fmt: skip
    for i, c in enumerate((1, 2)):
        want = naive_surfel.metrics((pred == c) & (gt != 3), gt == c, spacing)
        for name in ("hd95", "assd", "nsd"):
            assert got[name][i] == pytest.approx(want[name], rel=1e-9), (c, name)


def test_regions_use_the_surface_model():
    from segloss_cli.metrics.distance import region_surface_metrics

    rng = np.random.default_rng(4)
    gt = rng.integers(0, 3, (12, 10)).astype(np.uint8)
    pred = rng.integers(0, 3, (12, 10)).astype(np.uint8)
    got = region_surface_metrics(pred, gt, [[1, 2]], spacing_mm=(1.0, 2.0), names=["hd95", "nsd"], params=SURFEL)
    want = naive_surfel.metrics(pred > 0, gt > 0, (1.0, 2.0))
    assert got["hd95"][0] == pytest.approx(want["hd95"]) and got["nsd"][0] == pytest.approx(want["nsd"])


def test_pooled_mode_is_the_area_weighted_percentile_of_both():
    rng = np.random.default_rng(5)
    p, g = rng.random((9, 11)) < 0.4, rng.random((9, 11)) < 0.4
    got = _surfel(p, g, (1.0, 1.5), names=("hd95",), hd_mode="pooled")["hd95"]
    bp, ap = naive_surfel.elements(p, (1.0, 1.5))
    bg, ag = naive_surfel.elements(g, (1.0, 1.5))
    d = np.concatenate([ndimage.distance_transform_edt(~bg, sampling=(1.0, 1.5))[bp],
                        ndimage.distance_transform_edt(~bp, sampling=(1.0, 1.5))[bg]])  # fmt: skip
    w = np.concatenate([ap[bp], ag[bg]])
    o = np.lexsort((w, d))
    i = np.searchsorted(np.cumsum(w[o]) / w.sum(), 0.95)
    assert got == pytest.approx(d[o][min(i, d.size - 1)])


# --- options and records --------------------------------------------------------------------------


def test_cli_records_the_surface_model_only_when_surfel(tmp_path):
    from typer.testing import CliRunner

    from segloss_cli.cli import app

    g = np.zeros((10, 12), np.uint8)
    g[2:6, 3:8] = 1
    p = np.roll(g, 1, axis=0)
    np.save(tmp_path / "p.npy", p)
    np.save(tmp_path / "g.npy", g)
    base = [
        str(tmp_path / "p.npy"),
        str(tmp_path / "g.npy"),
        "--spacing",
        "1,2",
        "--metrics",
        "nsd,assd",
        "--format",
        "json",
    ]
    runner = CliRunner()
    default = runner.invoke(app, ["eval", *base])
    surfel = runner.invoke(app, ["eval", *base, "--surface", "surfel"])
    assert default.exit_code == 0 and surfel.exit_code == 0, (default.output, surfel.output)
    d, s = json.loads(default.stdout), json.loads(surfel.stdout)
    assert "surface" not in d["settings"] and s["settings"]["surface"] == "surfel"
    got, want = s["cases"][0]["classes"]["1"]["metrics"], naive_surfel.metrics(p > 0, g > 0, (1.0, 2.0))
    assert got == {"nsd": pytest.approx(want["nsd"]), "assd": pytest.approx(want["assd"])}
    assert d["cases"][0]["classes"]["1"]["metrics"]["assd"] != pytest.approx(got["assd"])
    bad = runner.invoke(app, ["eval", *base, "--surface", "mesh"])
    assert bad.exit_code == 2

    from segloss_cli.compare import incompatible_settings

    assert incompatible_settings(d, s, ["nsd"]) == ['surface "voxel" in BASE, "surfel" in NEW']
    assert incompatible_settings(d, d, ["nsd"]) == []


def test_api_keyword_and_lesion_default():
    from segloss_cli.api import make_params

    assert str(make_params().surface.surface) == "voxel"
    assert str(make_params().lesion.surface) == "surfel"  # BraTS presets: the reference's model
    both = make_params(surface="voxel", lesion_preset="brats-met")
    assert str(both.surface.surface) == "voxel" and str(both.lesion.surface) == "voxel"
    assert str(make_params(surface="surfel").surface.surface) == "surfel"
    with pytest.raises(ValueError, match="surface"):
        make_params(surface="mesh")
