"""The numba EDT against scipy (test-only oracle) and brute force, many anisotropic spacings."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from scipy import ndimage as ndi

from segloss_cli.metrics.distance import euclidean_distance_transform
from tests import naive_distance as naive

SPACINGS_3D = [
    (1.0, 1.0, 1.0),
    (0.8, 0.8, 2.5),
    (2.5, 0.8, 0.8),
    (0.3, 5.0, 1.7),
    (float(np.float32(0.8)), float(np.float32(0.8)), float(np.float32(3.0))),
    (1e-3, 1e-3, 1e-3),
    (123.0, 0.5, 7.25),
]
SPACINGS_2D = [(1.0, 1.0), (0.8, 2.5), (3.0, 0.1), (0.7, 0.7)]


def _sites(rng, shape, p):
    s = rng.random(shape) < p
    s.flat[rng.integers(s.size)] = True  # at least one site
    return s


@pytest.mark.parametrize("spacing", SPACINGS_3D)
@pytest.mark.parametrize("order", ["C", "F"])
@pytest.mark.parametrize("density", [0.002, 0.05, 0.5])
def test_edt_3d_matches_scipy(rng, spacing, order, density):
    sites = np.asarray(_sites(rng, (17, 23, 11), density), order=order)
    ours = euclidean_distance_transform(sites, spacing_mm=spacing)
    ref = ndi.distance_transform_edt(~sites, sampling=spacing)
    np.testing.assert_allclose(ours, ref, rtol=1e-12, atol=0)


@pytest.mark.parametrize("spacing", SPACINGS_2D)
@pytest.mark.parametrize("shape", [(31, 17), (1, 40), (40, 1), (2, 2)])
def test_edt_2d_matches_scipy(rng, spacing, shape):
    sites = _sites(rng, shape, 0.05)
    ours = euclidean_distance_transform(sites, spacing_mm=spacing)
    ref = ndi.distance_transform_edt(~sites, sampling=spacing)
    np.testing.assert_allclose(ours, ref, rtol=1e-12, atol=0)


@pytest.mark.parametrize("seed", range(6))
def test_edt_matches_brute_force(seed):
    rng = np.random.default_rng(seed)
    ndim = 2 + seed % 2
    shape = tuple(rng.integers(1, 9, size=ndim))
    spacing = tuple(rng.uniform(0.2, 4.0, size=ndim))
    sites = _sites(rng, shape, 0.1)
    np.testing.assert_allclose(
        euclidean_distance_transform(sites, spacing_mm=spacing), naive.edt(sites, spacing), rtol=1e-12, atol=0
    )


def test_edt_single_site_closed_form():
    sites = np.zeros((5, 6, 7), bool)
    sites[1, 2, 3] = True
    s = (0.5, 2.0, 3.0)
    idx = np.indices(sites.shape).astype(float)
    expected = np.sqrt(sum(((idx[a] - c) * s[a]) ** 2 for a, c in enumerate((1, 2, 3))))
    np.testing.assert_allclose(euclidean_distance_transform(sites, spacing_mm=s), expected, rtol=1e-14)


def test_edt_without_sites_is_inf():
    out = euclidean_distance_transform(np.zeros((3, 4, 5), bool), spacing_mm=(1, 2, 3))
    assert np.isinf(out).all()


def test_edt_rejects_bad_spacing():
    from segloss_cli.errors import InputError

    with pytest.raises(InputError, match="positive"):
        euclidean_distance_transform(np.ones((3, 3), bool), spacing_mm=(1.0, 0.0))
    with pytest.raises(InputError, match="one per axis"):
        euclidean_distance_transform(np.ones((3, 3), bool), spacing_mm=(1.0, 1.0, 1.0))


@settings(max_examples=40, deadline=None)
@given(
    sites=hnp.arrays(np.bool_, hnp.array_shapes(min_dims=2, max_dims=3, min_side=1, max_side=12)),
    data=st.data(),
)
def test_edt_property_matches_scipy(sites, data):
    if not sites.any():
        sites.flat[0] = True
    spacing = tuple(data.draw(st.floats(0.05, 20.0)) for _ in range(sites.ndim))
    ours = euclidean_distance_transform(sites, spacing_mm=spacing)
    ref = ndi.distance_transform_edt(~sites, sampling=spacing)
    np.testing.assert_allclose(ours, ref, rtol=1e-12, atol=0)
