"""3-D skeletons (Lee et al. 1994, kernels/skeleton3d.py) and 3-D clDice: skeletons that
skimage 0.26's skeletonize gave for small masks, and properties checked with scipy (inside the
mask, the same 26-connected components and 6-connected holes, unchanged when thinned again)."""

import numpy as np
import pytest
from scipy import ndimage as ndi

import segloss
from segloss_cli.kernels.skeleton3d import skeletonize_3d


def _masks():
    idx = np.indices((6, 7, 9))
    box = np.zeros((6, 7, 9), bool)
    box[1:5, 1:6, 1:8] = True
    tube = np.zeros((6, 7, 9), bool)
    tube[1:5, 2:5, :] = True
    tube[2:4, 3, 2:7] = False  # a hollow inside
    ell = ((idx[0] - 2.5) / 2.6) ** 2 + ((idx[1] - 3) / 3.1) ** 2 + ((idx[2] - 4) / 4.2) ** 2 <= 1
    return {"box": box, "tube": tube, "ellipsoid": ell}


# skimage.morphology.skeletonize(mask) (0.26, Lee's method for 3-D), as voxel coordinates
SKIMAGE = {
    "box": [[2, 3, 3], [2, 3, 4], [2, 3, 5]],
    "ellipsoid": [[2, 3, 4], [3, 3, 4]],
    "tube": [
        [1, 3, 2], [1, 3, 3], [1, 3, 4], [1, 3, 5], [1, 3, 6], [2, 2, 2], [2, 2, 3], [2, 2, 4], [2, 2, 5],
        [2, 2, 6], [2, 3, 1], [2, 3, 7], [2, 4, 2], [2, 4, 3], [2, 4, 4], [2, 4, 5], [2, 4, 6], [3, 2, 2],
        [3, 2, 3], [3, 2, 4], [3, 2, 5], [3, 2, 6], [3, 3, 1], [3, 3, 7], [3, 4, 2], [3, 4, 3], [3, 4, 4],
        [3, 4, 5], [3, 4, 6], [4, 3, 2], [4, 3, 3], [4, 3, 4], [4, 3, 5], [4, 3, 6],
    ],
}  # fmt: skip


@pytest.mark.parametrize("name", sorted(SKIMAGE))
def test_equals_skimage(name):
    assert np.argwhere(skeletonize_3d(_masks()[name])).tolist() == SKIMAGE[name]


def _components(m, structure):
    return ndi.label(m, structure=structure)[1]


def test_topology_kept_on_random_masks(rng):
    full = np.ones((3, 3, 3), bool)
    for _ in range(6):
        m = ndi.binary_opening(ndi.gaussian_filter((rng.random((9, 11, 8)) < 0.4).astype(float), 1.0) > 0.45)
        s = skeletonize_3d(m)
        assert not np.any(s & ~m)
        assert _components(s, full) == _components(m, full)
        holes = ndi.generate_binary_structure(3, 1)
        assert _components(np.pad(~s, 1, constant_values=True), holes) == _components(
            np.pad(~m, 1, constant_values=True), holes
        )
        np.testing.assert_array_equal(skeletonize_3d(s), s)  # a skeleton is already thin


def test_cldice_3d_from_the_skeletons():
    m = _masks()
    p, g = m["ellipsoid"], m["box"]
    sp, sg = np.zeros_like(p), np.zeros_like(g)
    sp[tuple(np.array(SKIMAGE["ellipsoid"]).T)] = True
    sg[tuple(np.array(SKIMAGE["box"]).T)] = True
    tprec, tsens = np.sum(sp & g) / np.sum(sp), np.sum(sg & p) / np.sum(sg)
    got = segloss.score(p.astype(np.uint8), g.astype(np.uint8), metrics="cldice").classes[0].metrics["cldice"]
    assert got == pytest.approx(2 * tprec * tsens / (tprec + tsens), rel=1e-12)
