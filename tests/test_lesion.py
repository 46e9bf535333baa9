"""Lesion-wise (BraTS 2023), detection, autoPET volume and panoptic metrics against plain
numpy/scipy oracles written here from the definitions (conventions.md), independent of the
kernels; the BraTS oracle follows get_LesionWiseScores/get_LesionWiseResults of
github.com/rachitsaluja/BraTS-2023-Metrics step by step (per-lesion dilation, np.isin)."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from segloss_cli.errors import UsageError
from segloss_cli.metrics.lesion import PRESETS, LesionParams, class_lesion_values, panoptic_quality
from tests import naive_surfel

ndi = pytest.importorskip("scipy.ndimage")

FULL = {6: 1, 18: 2, 26: 3, 4: 1, 8: 2}


def structure(ndim, conn):
    return ndi.generate_binary_structure(ndim, ndim if conn is None else FULL[conn])


def oracle_hd95(a, b, spacing, surface="surfel"):
    """conventions.md hd95 on the surface model: surfel (DeepMind's, which the BraTS reference
    uses: tests/naive_surfel.py) or voxel surfaces (face neighbours), max of the directed q95."""
    if surface == "surfel":
        return naive_surfel.metrics(a, b, spacing)["hd95"]
    sa = a & ~ndi.binary_erosion(a, structure=ndi.generate_binary_structure(a.ndim, 1), border_value=0)
    sb = b & ~ndi.binary_erosion(b, structure=ndi.generate_binary_structure(b.ndim, 1), border_value=0)
    da = ndi.distance_transform_edt(~sa, sampling=spacing)
    db = ndi.distance_transform_edt(~sb, sampling=spacing)
    return max(np.percentile(db[sa], 95), np.percentile(da[sb], 95))


def oracle_brats(pred, gt, spacing, dilation, threshold, conn=None, worst=374.0, surface="surfel"):
    st_ = structure(gt.ndim, conn)
    dil = ndi.generate_binary_structure(gt.ndim, 2)
    pred_cc, _ = ndi.label(pred, st_)
    if dilation:
        gd = ndi.binary_dilation(gt, structure=dil, iterations=dilation)
    else:
        gd = gt.copy()
    gd_cc, n = ndi.label(gd, st_)
    lesions = np.where(gt, gd_cc, 0)  # GT combined by dilation
    tp_comps, rows = [], []
    for k in range(1, n + 1):
        les = lesions == k
        reach = ndi.binary_dilation(les, structure=dil, iterations=dilation) if dilation else les
        comps = np.unique(pred_cc[reach])
        comps = comps[comps != 0]
        tp_comps += list(comps)
        pm = np.isin(pred_cc, comps) & (pred_cc > 0)
        dice = 2 * (pm & les).sum() / (pm.sum() + les.sum())
        hd = oracle_hd95(pm, les, spacing, surface) if comps.size else worst
        rows.append((les.sum() * np.prod(spacing), dice, hd, comps.size > 0))
    fp = len(np.setdiff1d(np.unique(pred_cc[pred_cc > 0]), tp_comps))
    kept = [r for r in rows if r[0] > threshold]
    denom = len(kept) + fp
    return {
        "lesion_dice": sum(r[1] for r in kept) / denom if denom else 1.0,
        "lesion_hd95": (sum(r[2] for r in kept) + fp * worst) / denom if denom else 0.0,
        "lesion_tp": sum(r[3] for r in kept),
        "lesion_fn": sum(not r[3] for r in kept),
        "lesion_fp": fp,
    }


def matched_ious(g, gi, p, pi, thr):
    """IoUs of instances gi of g and pi of p matched one-to-one at IoU > thr, greedily by
    decreasing IoU (ties: lower GT, then PRED value)."""
    cands = []
    for i in gi:
        for j in pi:
            inter = np.sum((g == i) & (p == j))
            if inter:
                iou = inter / np.sum((g == i) | (p == j))
                if iou > thr:
                    cands.append((-iou, i, j))
    used_g, used_p, ious = set(), set(), []
    for negiou, i, j in sorted(cands):
        if i not in used_g and j not in used_p:
            used_g.add(i)
            used_p.add(j)
            ious.append(-negiou)
    return ious


def oracle_instances(pred, gt, conn, thr):
    """Detection counts, F1, PQ/SQ/RQ and autoPET volumes (voxels) of components."""
    g, ng = ndi.label(gt, structure(gt.ndim, conn))
    p, npred = ndi.label(pred, structure(gt.ndim, conn))
    ious = matched_ious(g, range(1, ng + 1), p, range(1, npred + 1), thr)
    tp = len(ious)
    fp, fn = npred - tp, ng - tp
    out = {"det_tp": tp, "det_fp": fp, "det_fn": fn, "n_gt_lesions": ng, "n_pred_lesions": npred}
    if ng == 0 and npred == 0:
        out.update(det_f1=1.0, pq=1.0, sq=1.0, rq=1.0)
    else:
        sq = sum(ious) / tp if tp else 0.0
        rq = tp / (tp + fp / 2 + fn / 2)
        out.update(det_f1=2 * tp / (2 * tp + fp + fn), sq=sq, rq=rq, pq=sq * rq)
    out["fp_vox"] = sum(np.sum(p == j) for j in range(1, npred + 1) if not np.any(gt[p == j]))
    out["fn_vox"] = sum(np.sum(g == i) for i in range(1, ng + 1) if not np.any(pred[g == i]))
    return out


def blobs(rng, shape, n, rmax):
    m = np.zeros(shape, bool)
    idx = np.indices(shape)
    for _ in range(n):
        c = rng.uniform(0, np.array(shape))
        r = rng.uniform(0.7, rmax, len(shape))
        m |= sum(((idx[a] - c[a]) / r[a]) ** 2 for a in range(len(shape))) <= 1
    return m


def brats_case(seed, shape=(24, 22, 20)):
    rng = np.random.default_rng(seed)
    gt = blobs(rng, shape, rng.integers(1, 5), 5)
    pred = blobs(rng, shape, rng.integers(0, 3), 4) | (gt & blobs(rng, shape, 3, 7))
    return pred, gt


LESION = ["lesion_dice", "lesion_hd95", "lesion_tp", "lesion_fn", "lesion_fp"]


@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize("preset", sorted(PRESETS))
def test_brats_lesion_metrics_equal_the_oracle(seed, preset):
    pred, gt = brats_case(seed)
    spacing = (1.0, 1.0, 1.0) if seed % 2 == 0 else (0.8, 1.2, 1.5)
    params = LesionParams.preset(preset, volume_threshold_mm3=PRESETS[preset][1] / 5)  # keep some small lesions
    got = class_lesion_values(pred, gt, names=LESION, spacing_mm=spacing, params=params)
    want = oracle_brats(pred, gt, spacing, params.dilation, params.volume_threshold_mm3)
    for k in LESION:
        assert got[k] == pytest.approx(want[k], rel=1e-12, abs=1e-12), k


@pytest.mark.parametrize("dilation", [0, 1, 2])
@pytest.mark.parametrize("conn", [6, 18, 26])
@pytest.mark.parametrize("threshold", [0.0, 30.0])
def test_each_choice_equals_the_oracle(dilation, conn, threshold):
    pred, gt = brats_case(100 + dilation)
    params = LesionParams(dilation=dilation, connectivity=conn, volume_threshold_mm3=threshold)
    got = class_lesion_values(pred, gt, names=LESION, spacing_mm=(1.0, 1.0, 2.0), params=params)
    want = oracle_brats(pred, gt, (1.0, 1.0, 2.0), dilation, threshold, conn)
    for k in LESION:
        assert got[k] == pytest.approx(want[k], rel=1e-12, abs=1e-12), k


def test_lesion_hd95_on_either_surface_model():
    # BraTS's reference takes DeepMind's surfel HD95 (the presets' default); voxel on request
    differ = False
    for seed in (1, 3):
        pred, gt = brats_case(seed)
        spacing = (0.8, 1.2, 1.5)
        values = {}
        for surface in ("surfel", "voxel"):
            params = LesionParams(volume_threshold_mm3=10.0, surface=surface)
            got = class_lesion_values(pred, gt, names=["lesion_hd95"], spacing_mm=spacing, params=params)
            want = oracle_brats(pred, gt, spacing, 3, 10.0, surface=surface)["lesion_hd95"]
            assert got["lesion_hd95"] == pytest.approx(want, rel=1e-12), surface
            values[surface] = got["lesion_hd95"]
        differ |= values["surfel"] != pytest.approx(values["voxel"])
    assert differ
    assert all(str(LesionParams.preset(p).surface) == "surfel" for p in PRESETS)
    assert LesionParams.preset("brats-met", surface="voxel").recorded()["surface"] == "voxel"


def test_the_threshold_drops_small_lesions_and_dilation_merges():
    gt = np.zeros((30, 30, 30), bool)
    gt[2:8, 2:8, 2:8] = True  # 216 voxels
    gt[20:22, 20:22, 20:22] = True  # 8 voxels, missed
    pred = np.zeros_like(gt)
    pred[2:8, 2:8, 2:8] = True
    both = class_lesion_values(
        pred, gt, names=LESION, spacing_mm=(1, 1, 1), params=LesionParams(volume_threshold_mm3=0)
    )
    assert both["lesion_dice"] == 0.5 and both["lesion_fn"] == 1 and both["lesion_hd95"] == 187.0
    big = class_lesion_values(pred, gt, names=LESION, spacing_mm=(1, 1, 1), params=LesionParams(volume_threshold_mm3=8))
    assert big["lesion_dice"] == 1.0 and big["lesion_hd95"] == 0.0 and big["lesion_fn"] == 0
    # two GT cubes 3 voxels apart are one lesion at dilation 2 (their dilations touch), two at 1
    gt2 = np.zeros((20, 10, 10), bool)
    gt2[2:5, 2:5, 2:5] = gt2[8:11, 2:5, 2:5] = True
    for d, n in ((1, 2), (2, 1)):
        got = class_lesion_values(gt2, gt2, names=["lesion_tp"], spacing_mm=(1, 1, 1),
                                  params=LesionParams(dilation=d, volume_threshold_mm3=0))  # fmt: skip
        assert got["lesion_tp"] == n


def test_empty_cases_follow_brats():
    z = np.zeros((6, 6, 6), bool)
    one = z.copy()
    one[1:5, 1:5, 1:5] = True
    names = ["lesion_dice", "lesion_hd95", "det_f1", "pq"]
    p = LesionParams(volume_threshold_mm3=0)
    assert class_lesion_values(z, z, names=names, spacing_mm=(1, 1, 1), params=p) == {
        "lesion_dice": 1.0, "lesion_hd95": 0.0, "det_f1": 1.0, "pq": 1.0}  # fmt: skip
    fp = class_lesion_values(one, z, names=names, spacing_mm=(1, 1, 1), params=p)
    assert fp == {"lesion_dice": 0.0, "lesion_hd95": 374.0, "det_f1": 0.0, "pq": 0.0}
    # every GT lesion below the threshold and nothing predicted: 0/0, BraTS's 1 and 0
    tiny = z.copy()
    tiny[1:4, 1:4, 1:4] = True  # 27 mm^3 <= 50
    small = class_lesion_values(z, tiny, names=names[:2], spacing_mm=(1, 1, 1), params=LesionParams())
    assert small == {"lesion_dice": 1.0, "lesion_hd95": 0.0}


INST = ["det_tp", "det_fp", "det_fn", "det_f1", "pq", "sq", "rq", "n_gt_lesions", "n_pred_lesions"]


@settings(deadline=None, max_examples=60)
@given(
    pred=arrays(np.bool_, (6, 7, 5)),
    gt=arrays(np.bool_, (6, 7, 5)),
    conn=st.sampled_from([6, 18, 26]),
    thr=st.sampled_from([0.0, 0.2, 0.5, 0.7]),
)
def test_detection_and_pq_equal_the_oracle(pred, gt, conn, thr):
    names = INST + ["fp_vol_ml", "fn_vol_ml"]
    params = LesionParams(connectivity=conn, iou_threshold=thr)
    got = class_lesion_values(pred, gt, names=names, spacing_mm=(1.0, 2.0, 0.5), params=params)
    want = oracle_instances(pred, gt, conn, thr)
    for k in INST:
        assert got[k] == pytest.approx(want[k], rel=1e-12, abs=1e-12), k
    assert got["fp_vol_ml"] == pytest.approx(want["fp_vox"] / 1000)
    assert got["fn_vol_ml"] == pytest.approx(want["fn_vox"] / 1000)


@settings(deadline=None, max_examples=40)
@given(
    pred=arrays(np.uint8, (8, 9), elements=st.integers(0, 4)), gt=arrays(np.uint8, (8, 9), elements=st.integers(0, 4))
)
def test_panoptic_quality_of_instance_maps(pred, gt):
    got = panoptic_quality(pred, gt)
    ious, gi, pi = [], [v for v in np.unique(gt) if v], [v for v in np.unique(pred) if v]
    for a in gi:
        for b in pi:
            iou = np.sum((gt == a) & (pred == b)) / np.sum((gt == a) | (pred == b))
            if iou > 0.5:
                ious.append(iou)
    tp = len(ious)
    assert (got["tp"], got["fp"], got["fn"]) == (tp, len(pi) - tp, len(gi) - tp)
    if not gi and not pi:
        assert np.isnan(got["pq"])
        return
    rq = tp / (tp + (len(pi) - tp) / 2 + (len(gi) - tp) / 2)
    sq = sum(ious) / tp if tp else 0.0
    assert got["rq"] == pytest.approx(rq) and got["sq"] == pytest.approx(sq) and got["pq"] == pytest.approx(sq * rq)


def test_params_are_checked():
    with pytest.raises(UsageError, match="lesion_dilation"):
        LesionParams(dilation=-1)
    with pytest.raises(UsageError, match="lesion_connectivity"):
        LesionParams(connectivity=5)
    with pytest.raises(UsageError, match="lesion_preset"):
        LesionParams.preset("brats-2021")
    assert LesionParams.preset("brats-met", dilation=2).recorded()["volume_threshold_mm3"] == 2.0


def test_opt_in_and_gate(tmp_path):
    from typer.testing import CliRunner

    from segloss_cli.cli import app
    from segloss_cli.metrics.registry import select

    from .conftest import write_nifti

    assert not any(m.startswith(("lesion", "det_")) or m in ("pq", "sq", "rq") for m in select(None))
    gt = np.zeros((20, 20, 20), np.uint8)
    gt[2:8, 2:8, 2:8] = 3
    gt[12:18, 12:18, 12:18] = 1
    pred = gt.copy()
    pred[0, 19, 19] = 3  # one small false positive ET component
    write_nifti(tmp_path / "p.nii.gz", pred)
    write_nifti(tmp_path / "g.nii.gz", gt)
    base = ["eval", str(tmp_path / "p.nii.gz"), str(tmp_path / "g.nii.gz"), "--region", "ET=3", "--metrics", "lesion"]
    ok = CliRunner().invoke(app, base + ["--require", "lesion_dice[ET]>=0.5", "--format", "json"])
    assert ok.exit_code == 0, ok.output
    assert '"lesion_dice": 0.5' in ok.output and '"lesion_params"' in ok.output
    bad = CliRunner().invoke(app, base + ["--require", "lesion_dice[ET]>=0.7"])
    assert bad.exit_code == 1


def oracle_pq(pred, gt, thr=0.5):
    """panoptica's PQ of two instance maps (each nonzero value one instance), plain numpy."""
    gi, pi = [v for v in np.unique(gt) if v != 0], [v for v in np.unique(pred) if v != 0]
    ious = matched_ious(gt, gi, pred, pi, thr)
    tp = len(ious)
    fp, fn = len(pi) - tp, len(gi) - tp
    sq = sum(ious) / tp if tp else 0.0
    rq = tp / (tp + fp / 2 + fn / 2) if (gi or pi) else np.nan
    return {"tp": tp, "fp": fp, "fn": fn, "sq": sq, "rq": rq, "pq": sq * rq}


@pytest.mark.parametrize("thr", [0.5, 0.2])
def test_panoptic_quality_of_3d_instance_maps_with_any_values(rng, thr):
    """Instances of any integer value: small ones read as stored, negative or huge ones renumbered
    (the background stays 0); Fortran layout as nibabel gives."""
    gt = np.zeros((12, 10, 8), np.int32)
    pred = np.zeros((12, 10, 8), np.int64)
    for v, (lo, hi) in zip((3, 200, 7), ((0, 4), (4, 9), (9, 12))):
        gt[lo:hi, 1:7, 1:6] = v
    for v, (lo, hi) in zip((-1, 10**7, 5, 12), ((0, 4), (5, 9), (9, 11), (11, 12))):
        pred[lo:hi, 2:8, 1:6] = v
    pred[rng.random(pred.shape) < 0.05] = 0
    gt, pred = np.asfortranarray(gt), np.asfortranarray(pred)
    got = panoptic_quality(pred, gt, iou_threshold=thr)
    want = oracle_pq(pred, gt, thr)
    assert (got["tp"], got["fp"], got["fn"]) == (want["tp"], want["fp"], want["fn"]) and want["tp"] >= 1
    for k in ("pq", "sq", "rq"):
        assert got[k] == pytest.approx(want[k], rel=1e-12), k
    empty = panoptic_quality(np.zeros((3, 3), np.uint8), np.zeros((3, 3), np.uint8))
    assert np.isnan(empty["pq"]) and empty["tp"] == empty["fp"] == empty["fn"] == 0


def test_sigmoid_channels_score_their_thresholded_masks():
    """--pred-type sigmoid with regions: channel c's lesion metrics are those of p_c >= 0.5
    against its region's GT mask, ignored voxels outside both (scipy oracles)."""
    import segloss

    rng = np.random.default_rng(11)
    shape = (24, 22, 20)
    gt = np.where(blobs(rng, shape, 3, 5), 2, 0).astype(np.uint8)
    gt[(gt == 2) & blobs(rng, shape, 4, 4)] = 1
    gt[0, :, :3] = 5  # ignored
    regions = {"WT": [1, 2], "TC": [1]}
    masks = np.stack([np.isin(gt, r) for r in regions.values()]).astype(np.float32)
    fp = np.stack([blobs(rng, shape, 2, 2) for _ in regions]).astype(np.float32)
    probs = np.clip(0.55 * masks + 0.3 * rng.random(masks.shape) + 0.6 * fp - 0.1, 0, 1).astype(np.float32)
    names = ["lesion_dice", "lesion_tp", "lesion_fn", "lesion_fp", "det_f1", "pq", "n_pred_lesions", "fp_vol_ml"]
    res = segloss.score(probs, gt, pred_type="sigmoid", regions=regions, ignore_label=5, spacing_mm=1.0,
                        metrics=",".join(names), losses=[], lesion_volume_threshold_mm3=5.0)  # fmt: skip
    keep = gt != 5
    for c, (name, members) in enumerate(regions.items()):
        p, g = (probs[c] >= 0.5) & keep, np.isin(gt, members)
        want = {**oracle_brats(p, g, (1.0, 1.0, 1.0), 3, 5.0), **oracle_instances(p, g, None, 0.5)}
        row = res.row(name).metrics
        assert row["lesion_fp"] >= 1 and row["lesion_tp"] >= 1
        for k in names[:-1]:
            assert row[k] == pytest.approx(want[k], rel=1e-12, abs=1e-12), (name, k)
        assert row["fp_vol_ml"] == pytest.approx(want["fp_vox"] / 1000)
