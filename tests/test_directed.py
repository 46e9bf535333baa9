"""Directed surface distances (hd_pg, hd_gp, hd95_pg, hd95_gp, asd_pg, asd_gp).

Oracle: surfaces by scipy binary erosion (face connectivity, outside the image is outside),
distances by scipy's EDT of the other surface; pg is d(P->G), gp is d(G->P). These are MONAI
compute_hausdorff_distance(directed=True) (pred -> gt), compute_average_surface_distance(
symmetric=False) and MedPy asd(result, reference) (result -> reference) written from their
definitions, not from segloss's output.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from scipy import ndimage

from segloss_cli.metrics.distance import surface_metrics
from segloss_cli.metrics.registry import all_metrics, select

DIRECTED = ("hd_pg", "hd_gp", "hd95_pg", "hd95_gp", "asd_pg", "asd_gp")


def _surface(mask):
    struct = ndimage.generate_binary_structure(mask.ndim, 1)
    inner = ndimage.binary_erosion(mask, structure=struct, border_value=0)
    return mask & ~inner


def _oracle(p, g, spacing):
    sp, sg = _surface(p), _surface(g)
    d_pg = ndimage.distance_transform_edt(~sg, sampling=spacing)[sp]
    d_gp = ndimage.distance_transform_edt(~sp, sampling=spacing)[sg]
    return {
        "hd_pg": d_pg.max(),
        "hd_gp": d_gp.max(),
        "hd95_pg": np.percentile(d_pg, 95),
        "hd95_gp": np.percentile(d_gp, 95),
        "asd_pg": d_pg.mean(),
        "asd_gp": d_gp.mean(),
    }


def test_registered_opt_in_after_symmetric():
    specs = all_metrics()
    names = list(specs)
    for n in DIRECTED:
        assert not specs[n].default and specs[n].family == "surface"
        assert names.index(n) > names.index("nsd")
    assert not set(DIRECTED) & set(select(None))
    assert not set(DIRECTED) & set(select("distance"))
    assert set(select("directed")) == set(DIRECTED)


def test_closed_form_point_and_bar():
    # GT one voxel at x=0; PRED a bar x=2..4 (1 x 3 in 2-D, spacing 1 x 2 mm).
    g = np.zeros((1, 6), np.uint8)
    g[0, 0] = 1
    p = np.zeros((1, 6), np.uint8)
    p[0, 2:5] = 1
    got = surface_metrics(p, g, [1], spacing_mm=(1.0, 2.0), names=DIRECTED)
    # Every PRED voxel is on its surface: distances 4, 6, 8 mm; GT's one voxel: 4 mm.
    assert got["hd_pg"][0] == 8.0 and got["hd_gp"][0] == 4.0
    assert got["asd_pg"][0] == pytest.approx(6.0) and got["asd_gp"][0] == 4.0
    assert got["hd95_pg"][0] == pytest.approx(np.percentile([4, 6, 8], 95))
    assert got["hd95_gp"][0] == 4.0


def test_empty_class_is_nan_before_the_policy():
    g = np.zeros((4, 4), np.uint8)
    p = g.copy()
    p[1, 1] = 1
    got = surface_metrics(p, g, [1], spacing_mm=1.0, names=DIRECTED)
    assert all(np.isnan(got[n][0]) for n in DIRECTED)


@given(
    seed=st.integers(0, 2**31 - 1),
    shape=st.sampled_from([(7, 9), (5, 6, 7), (9, 4, 3)]),
    spacing=st.sampled_from([None, (0.8, 1.5, 3.0)]),
)
def test_matches_scipy_oracle(seed, shape, spacing):
    rng = np.random.default_rng(seed)
    p = rng.random(shape) < 0.35
    g = rng.random(shape) < 0.35
    if not p.any() or not g.any():
        return
    sp = (1.0,) * len(shape) if spacing is None else spacing[: len(shape)]
    got = surface_metrics(p.astype(np.uint8), g.astype(np.uint8), [1], spacing_mm=sp, names=DIRECTED)
    want = _oracle(p, g, sp)
    for n in DIRECTED:
        assert got[n][0] == pytest.approx(want[n], rel=1e-12, abs=1e-12), n
    # The symmetric metrics are the max / pooled forms of the directed ones.
    sym = surface_metrics(p.astype(np.uint8), g.astype(np.uint8), [1], spacing_mm=sp, names=("hd", "hd95"))
    assert sym["hd"][0] == max(got["hd_pg"][0], got["hd_gp"][0])
    assert sym["hd95"][0] == pytest.approx(max(got["hd95_pg"][0], got["hd95_gp"][0]), rel=1e-12)


def test_cli_names_them(tmp_path):
    from segloss_cli import score

    g = np.zeros((6, 6, 6), np.uint8)
    g[1:4, 1:4, 1:4] = 1
    p = np.zeros_like(g)
    p[2:5, 2:5, 2:5] = 1
    case = score(p, g, spacing_mm=1.0, metrics="directed")
    m = case.to_dict()["classes"]["1"]["metrics"]
    assert set(m) >= set(DIRECTED)
    want = _oracle(p.astype(bool), g.astype(bool), (1.0, 1.0, 1.0))
    for n in DIRECTED:
        assert m[n] == pytest.approx(want[n], rel=1e-12)
