"""Connected components (kernels/components.py via metrics.lesion) against scipy.ndimage.label
and connected-components-3d, and the BraTS dilation against scipy.ndimage.binary_dilation."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from segloss_cli.errors import UsageError
from segloss_cli.metrics.lesion import _dilate, connected_components

ndi = pytest.importorskip("scipy.ndimage")

RANK = {6: 1, 18: 2, 26: 3, 4: 1, 8: 2}


def same_partition(a, b):
    """True when two label arrays split the same voxels into the same components."""
    m = a > 0
    if not np.array_equal(m, b > 0):
        return False
    pairs = np.unique(np.stack([a[m], b[m]]), axis=1)
    return len(np.unique(pairs[0])) == pairs.shape[1] == len(np.unique(pairs[1]))


masks3 = arrays(np.bool_, st.tuples(*[st.integers(1, 7)] * 3))
masks2 = arrays(np.bool_, st.tuples(st.integers(1, 12), st.integers(1, 12)))


@settings(deadline=None)
@given(mask=masks3, conn=st.sampled_from([6, 18, 26]), layout=st.sampled_from(["C", "F", "T"]))
def test_3d_equals_scipy(mask, conn, layout):
    arr = {"C": mask, "F": np.asfortranarray(mask), "T": mask.transpose(2, 0, 1)}[layout]
    labels, n = connected_components(arr, connectivity=conn)
    ref, n_ref = ndi.label(arr, ndi.generate_binary_structure(3, RANK[conn]))
    assert labels.shape == arr.shape and labels.dtype == np.int32
    assert n == n_ref and same_partition(labels, ref)
    assert set(np.unique(labels)) <= set(range(n + 1))


@settings(deadline=None)
@given(mask=masks2, conn=st.sampled_from([4, 8]))
def test_2d_equals_scipy(mask, conn):
    labels, n = connected_components(mask, connectivity=conn)
    ref, n_ref = ndi.label(mask, ndi.generate_binary_structure(2, RANK[conn]))
    assert n == n_ref and same_partition(labels, ref)


def test_default_is_the_full_neighbourhood():
    m = np.zeros((3, 3, 3), bool)
    m[0, 0, 0] = m[1, 1, 1] = True
    assert connected_components(m)[1] == 1
    assert connected_components(m, connectivity=18)[1] == 2
    assert connected_components(m[0] | m[1], connectivity=4)[1] == 2


def test_connectivity_must_fit_the_dimension():
    with pytest.raises(UsageError, match="2-D image takes 4 or 8"):
        connected_components(np.ones((3, 3), bool), connectivity=26)
    with pytest.raises(UsageError, match="3-D image takes 6, 18 or 26"):
        connected_components(np.ones((3, 3, 3), bool), connectivity=8)


def test_large_random_equals_scipy(rng):
    m = rng.random((40, 50, 30)) < 0.3  # many runs, merges across rows, growth of the run arrays
    for conn in (6, 18, 26):
        labels, n = connected_components(m, connectivity=conn)
        ref, n_ref = ndi.label(m, ndi.generate_binary_structure(3, RANK[conn]))
        assert n == n_ref and same_partition(labels, ref)


def test_equals_cc3d(rng):
    cc3d = pytest.importorskip("cc3d")
    m = rng.random((30, 20, 25)) < 0.25
    for conn in (6, 18, 26):
        labels, n = connected_components(m, connectivity=conn)
        ref = cc3d.connected_components(m, connectivity=conn)
        assert n == int(ref.max()) and same_partition(labels, ref)
    m2 = m[:, :, 0]
    for conn in (4, 8):
        labels, n = connected_components(m2, connectivity=conn)
        ref = cc3d.connected_components(m2, connectivity=conn)
        assert n == int(ref.max()) and same_partition(labels, ref)


@settings(deadline=None)
@given(mask=masks3, it=st.integers(0, 3))
def test_dilation_equals_scipy(mask, it):
    got = _dilate(mask.view(np.uint8), it).astype(bool)
    want = mask if it == 0 else ndi.binary_dilation(mask, ndi.generate_binary_structure(3, 2), iterations=it)
    assert np.array_equal(got, want)


@settings(deadline=None)
@given(mask=masks2, it=st.integers(1, 3))
def test_dilation_2d_equals_scipy(mask, it):
    got = _dilate(mask.view(np.uint8), it).astype(bool)
    assert np.array_equal(got, ndi.binary_dilation(mask, ndi.generate_binary_structure(2, 2), iterations=it))
