"""--surface contour26 (seg-metrics' surfaces: SimpleITK LabelContour(fullyConnected=True))
against scipy: the contour is the mask minus its erosion by the 3x3(x3) cube with the outside
of the image counted as mask, the distances all pairs between the two contours."""

import numpy as np
import pytest
from scipy import ndimage as ndi

import segloss
from segloss_cli.metrics.distance import surface_distances


def _contour(m):
    return m & ~ndi.binary_erosion(m, structure=np.ones((3,) * m.ndim, bool), border_value=1)


def _pairs(a, b, spacing):
    pa, pb = np.argwhere(_contour(a)) * np.asarray(spacing), np.argwhere(_contour(b)) * np.asarray(spacing)
    return np.sqrt(((pa[:, None, :] - pb[None, :, :]) ** 2).sum(axis=2)).min(axis=1)


@pytest.mark.parametrize(
    "shape, spacing", [((9, 11, 8), (0.8, 1.5, 3.0)), ((13, 12), (0.7, 2.0)), ((1, 10, 9), (2.0, 1.0, 0.5))]
)
def test_contour_distances_equal_scipy_all_pairs(rng, shape, spacing):
    for _ in range(3):
        gt = (ndi.gaussian_filter(rng.random(shape), 1.0) > 0.5).astype(np.uint8)
        gt[(slice(0, 3),) * len(shape)] = 2  # a second label touching the image corner
        pred = np.where(rng.random(shape) < 0.08, 1 - np.minimum(gt, 1), gt).astype(np.uint8)
        for label in (1, 2):
            p, g = pred == label, gt == label
            if not (p.any() and g.any()):
                continue
            sd = surface_distances(pred, gt, [label], spacing_mm=spacing, surface="contour26")[0]
            np.testing.assert_allclose(sd.pred_to_gt, _pairs(p, g, spacing), rtol=1e-12)
            np.testing.assert_allclose(sd.gt_to_pred, _pairs(g, p, spacing), rtol=1e-12)


def test_seg_metrics_convention_uses_it():
    gt = np.zeros((10, 9, 8), np.uint8)
    gt[2:8, 1:7, 2:7] = 1
    pred = np.roll(gt, 1, axis=1)
    sp = (0.8, 1.5, 3.0)
    both = np.concatenate([_pairs(pred == 1, gt == 1, sp), _pairs(gt == 1, pred == 1, sp)])
    got = segloss.score(pred, gt, spacing_mm=sp, metrics="hd95,assd", convention="seg-metrics").row(1).metrics
    assert got["hd95"] == pytest.approx(np.percentile(both, 95), rel=1e-12)  # pooled, as seg-metrics
    assert got["assd"] == pytest.approx(both.mean(), rel=1e-12)
