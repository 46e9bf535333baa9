"""Taxicab and chessboard distances (--distance-metric): the transform against scipy's
distance_transform_cdt (unit spacing) and brute force over every site (any spacing), the
surface metrics against all-pairs distances between the surfaces of naive_distance."""

import json

import numpy as np
import pytest
from scipy import ndimage as ndi
from typer.testing import CliRunner

import segloss
from segloss_cli.cli import app
from segloss_cli.metrics.distance import distance_transform, surface_distances
from tests import naive_distance as naive


def _brute(sites, spacing, metric):
    """min over sites of sum (taxicab) or max (chessboard) of s_a |x_a - y_a|."""
    pts = np.argwhere(sites)
    grid = np.indices(sites.shape).reshape(sites.ndim, -1).T
    d = np.abs(grid[:, None, :] - pts[None, :, :]) * np.asarray(spacing, np.float64)
    per = d.sum(axis=2) if metric == "taxicab" else d.max(axis=2)
    return per.min(axis=1).reshape(sites.shape)


def _pairs(src, dst, spacing, metric):
    """For each surface voxel of src (raster order), the distance to dst's nearest surface voxel."""
    a, b = np.argwhere(naive.surface(src)), np.argwhere(naive.surface(dst))
    d = np.abs(a[:, None, :] - b[None, :, :]) * np.asarray(spacing, np.float64)
    return (d.sum(axis=2) if metric == "taxicab" else d.max(axis=2)).min(axis=1)


@pytest.mark.parametrize("metric", ["taxicab", "chessboard"])
@pytest.mark.parametrize("shape", [(9, 7, 6), (13, 11), (1, 9), (6, 1, 5)])
def test_transform_equals_scipy_cdt_at_unit_spacing(rng, metric, shape):
    sites = rng.random(shape) < 0.06
    sites.flat[rng.integers(sites.size)] = True
    ours = distance_transform(sites, spacing_mm=1.0, metric=metric)
    np.testing.assert_array_equal(ours, ndi.distance_transform_cdt(~sites, metric=metric))


@pytest.mark.parametrize("metric", ["taxicab", "chessboard"])
@pytest.mark.parametrize("order", ["C", "F"])
def test_transform_anisotropic_equals_brute_force(rng, metric, order):
    for shape, spacing in [((8, 6, 5), (0.8, 2.5, 1.7)), ((7, 9), (3.0, 0.1)), ((5, 6, 4), (123.0, 0.5, 7.25))]:
        sites = np.asarray(rng.random(shape) < 0.1, order=order)
        sites.flat[0] = True
        ours = distance_transform(sites, spacing_mm=spacing, metric=metric)
        np.testing.assert_allclose(ours, _brute(sites, spacing, metric), rtol=1e-13, atol=0)


def test_transform_without_sites_is_inf_and_euclidean_is_the_edt():
    empty = np.zeros((3, 4), bool)
    assert np.all(np.isinf(distance_transform(empty, spacing_mm=1.0, metric="chessboard")))
    s = np.zeros((4, 5), bool)
    s[1, 2] = True
    np.testing.assert_allclose(
        distance_transform(s, spacing_mm=(0.5, 2.0), metric="euclidean"),
        ndi.distance_transform_edt(~s, sampling=(0.5, 2.0)),
        rtol=1e-15,
    )


@pytest.mark.parametrize("metric", ["taxicab", "chessboard"])
def test_surface_distances_equal_all_pairs(rng, metric):
    spacing = (0.8, 1.5, 3.0)
    gt = np.zeros((10, 12, 7), np.uint8)
    gt[2:8, 3:10, 1:6] = 1
    gt[4:6, 5:7, 2:4] = 2
    pred = np.roll(gt, (1, -2, 1), axis=(0, 1, 2))
    flip = rng.random(gt.shape) < 0.04
    pred[flip] = 1
    for label in (1, 2):
        sd = surface_distances(pred, gt, [label], spacing_mm=spacing, distance_metric=metric)[0]
        p, g = pred == label, gt == label
        np.testing.assert_allclose(sd.pred_to_gt, _pairs(p, g, spacing, metric), rtol=1e-13, atol=0)
        np.testing.assert_allclose(sd.gt_to_pred, _pairs(g, p, spacing, metric), rtol=1e-13, atol=0)


def test_score_reductions_and_default_unchanged(rng):
    gt = np.zeros((14, 13), np.uint8)
    gt[3:10, 2:9] = 1
    pred = np.zeros_like(gt)
    pred[5:12, 4:12] = 1
    spacing = (1.0, 1.0)
    metrics = "hd,hd95,assd,nsd"
    d_pg = _pairs(pred == 1, gt == 1, spacing, "chessboard")
    d_gp = _pairs(gt == 1, pred == 1, spacing, "chessboard")
    res = segloss.score(pred, gt, spacing_mm=spacing, metrics=metrics, distance_metric="chessboard")
    got = res.row(1).metrics
    both = np.concatenate([d_pg, d_gp])
    assert got["hd"] == max(d_pg.max(), d_gp.max())
    assert got["hd95"] == pytest.approx(max(np.percentile(d_pg, 95), np.percentile(d_gp, 95)), rel=1e-12)
    assert got["assd"] == pytest.approx(both.mean(), rel=1e-12)
    assert got["nsd"] == pytest.approx(np.mean(both <= 1.0), rel=1e-12)
    default = segloss.score(pred, gt, spacing_mm=spacing, metrics=metrics)
    euclid = max(naive.directed(pred == 1, gt == 1, spacing).max(), naive.directed(gt == 1, pred == 1, spacing).max())
    assert default.row(1).metrics["hd"] == pytest.approx(euclid, rel=1e-12)
    assert euclid > got["hd"]  # the chessboard distance is the shorter one here


def test_cli_option_and_bad_value(tmp_path):
    runner = CliRunner()

    gt = np.zeros((9, 9), np.uint8)
    gt[2:6, 2:6] = 1
    pred = np.roll(gt, (2, 1), axis=(0, 1))
    np.save(tmp_path / "p.npy", pred)
    np.save(tmp_path / "g.npy", gt)
    args = ["eval", str(tmp_path / "p.npy"), str(tmp_path / "g.npy"), "--spacing", "1", "--metrics", "hd"]
    r = runner.invoke(app, [*args, "--distance-metric", "taxicab", "--format", "json"])
    assert r.exit_code == 0, r.output
    doc = json.loads(r.stdout)
    assert doc["settings"]["distance_metric"] == "taxicab"
    assert doc["cases"][0]["classes"]["1"]["metrics"]["hd"] == 3.0
    bad = runner.invoke(app, [*args, "--distance-metric", "manhattan"])
    assert bad.exit_code == 2
