"""Local check of the --convention presets against the tools they reproduce (not a test dependency).

Three steps; each tool runs in its own environment, the cases are the same (seeded):
  /tmp/peers/bin/python benchmarks/convention_reference.py peers OUT_DIR        # MONAI, MedPy, nnU-Net,
                                                                               # DeepMind, MetricsReloaded
  SEGM_PY benchmarks/convention_reference.py seg-metrics OUT_DIR                # a venv with seg-metrics 1.2.8
  .venv/bin/python benchmarks/convention_reference.py segloss OUT_DIR           # compares, prints the table
MetricsReloaded is imported from MR_PATH (a checkout of Project-MONAI/MetricsReloaded; default
/tmp/conv_peers/Project-MONAI+MetricsReloaded). DeepMind surface-distance is imported as installed.

Cases: binary 3-D masks 14x13x12, spacing (0.8, 1.5, 3.0) mm, NSD tolerance 2 mm: three random
speckle pairs and three pairs of shifted ellipsoids (non-empty), then both empty, GT empty,
PRED empty. Each tool's value is compared with segloss's under that tool's --convention:
non-empty cases by relative difference, empty cases exactly (a tool's NaN or exception must be
segloss's null, an infinity segloss's inf).
"""

from __future__ import annotations

import json
import math
import os
import sys
import warnings
from pathlib import Path

import numpy as np

SP = (0.8, 1.5, 3.0)
TAU = 2.0
SHAPE = (14, 13, 12)
EMPTY = ("both_empty", "gt_empty", "pred_empty")
# Definitions no option reproduces (conventions.py notes): compared and shown, not failed.
KNOWN: set[tuple[str, str]] = set()


def _ellipsoid(centre, radii):
    idx = np.indices(SHAPE).astype(float)
    return sum(((idx[k] - centre[k]) / radii[k]) ** 2 for k in range(3)) <= 1.0


def cases():
    """(name, pred, gt) binary masks."""
    rng = np.random.default_rng(17)
    out = []
    for i in range(3):
        out.append((f"speckle{i}", rng.random(SHAPE) < 0.35, rng.random(SHAPE) < 0.35))
    for i in range(3):
        c = rng.uniform(4, 8, 3)
        r = rng.uniform(2.5, 4.5, 3)
        shift = rng.uniform(-1.5, 1.5, 3)
        out.append((f"ellipsoid{i}", _ellipsoid(c + shift, r * rng.uniform(0.8, 1.2, 3)), _ellipsoid(c, r)))
    blob = _ellipsoid((6, 6, 5), (3, 3.5, 2.5))
    none = np.zeros(SHAPE, bool)
    out += [("both_empty", none, none), ("gt_empty", blob, none), ("pred_empty", none, blob)]
    return out


def _val(v):
    """A tool's value as JSON: a number, "nan" or "inf"."""
    v = float(v)
    if math.isnan(v):
        return "nan"
    if math.isinf(v):
        return "inf" if v > 0 else "-inf"
    return v


def _safe(f):
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return _val(f())
    except RuntimeError:  # MedPy's "does not contain any binary object"
        return "raise"


# --- the tools -------------------------------------------------------------------------------


def monai_values(p, g):
    import torch
    from monai.metrics import (
        DiceMetric,
        HausdorffDistanceMetric,
        MeanIoU,
        SurfaceDiceMetric,
        SurfaceDistanceMetric,
    )

    def oh(m):
        return torch.as_tensor(np.stack([~m, m])[None].astype(np.float32))

    P, G = oh(p), oh(g)
    fg = dict(include_background=False)
    return {
        "dice": _safe(lambda: DiceMetric(**fg)(P, G).item()),
        "iou": _safe(lambda: MeanIoU(**fg)(P, G).item()),
        "hd": _safe(lambda: HausdorffDistanceMetric(**fg)(P, G, spacing=SP).item()),
        "hd95": _safe(lambda: HausdorffDistanceMetric(**fg, percentile=95)(P, G, spacing=SP).item()),
        "assd": _safe(lambda: SurfaceDistanceMetric(**fg, symmetric=True)(P, G, spacing=SP).item()),
        "asd_pg": _safe(lambda: SurfaceDistanceMetric(**fg)(P, G, spacing=SP).item()),
        "asd_gp": _safe(lambda: SurfaceDistanceMetric(**fg)(G, P, spacing=SP).item()),
        "hd_pg": _safe(lambda: HausdorffDistanceMetric(**fg, directed=True)(P, G, spacing=SP).item()),
        "hd_gp": _safe(lambda: HausdorffDistanceMetric(**fg, directed=True)(G, P, spacing=SP).item()),
        "hd95_pg": _safe(lambda: HausdorffDistanceMetric(**fg, directed=True, percentile=95)(P, G, spacing=SP).item()),
        "nsd": _safe(lambda: SurfaceDiceMetric([TAU], **fg)(P, G, spacing=SP).item()),
    }


def monai_losses():
    """MONAI's losses at their defaults (to_onehot_y for a label GT) on softmax probabilities."""
    import torch
    from monai.losses import DiceCELoss, DiceFocalLoss, DiceLoss, FocalLoss

    out = []
    for probs, gt, weights in loss_cases():
        x = torch.as_tensor(probs[None])
        y = torch.as_tensor(gt[None, None])
        out.append(
            {
                "dice_ce": DiceCELoss(to_onehot_y=True)(x, y).item(),
                "dice_focal": DiceFocalLoss(to_onehot_y=True)(x, y).item(),
                "dice": DiceLoss(to_onehot_y=True, weight=torch.tensor(weights))(x, y).item(),
                "focal": FocalLoss(to_onehot_y=True)(x, y).item(),
                "focal(weight)": FocalLoss(to_onehot_y=True, weight=torch.tensor(weights))(x, y).item(),
            }
        )
    return out


DISTANCE_METRICS = ("chessboard", "taxicab")


def monai_distance_metrics():
    """MONAI's distance_metric="chessboard"/"taxicab" on the non-empty cases (MONAI ignores the
    spacing for these: voxel steps, segloss's distances at spacing 1)."""
    import torch
    from monai.metrics import HausdorffDistanceMetric, SurfaceDiceMetric, SurfaceDistanceMetric

    out = []
    for case, p, g in cases():
        if case in EMPTY:
            continue
        P, G = (torch.as_tensor(np.stack([~m, m])[None].astype(np.float32)) for m in (p, g))
        row = {}
        for dm in DISTANCE_METRICS:
            kw = dict(include_background=False, distance_metric=dm)
            row[f"{dm}/hd"] = HausdorffDistanceMetric(**kw)(P, G).item()
            row[f"{dm}/hd95"] = HausdorffDistanceMetric(**kw, percentile=95)(P, G).item()
            row[f"{dm}/assd"] = SurfaceDistanceMetric(**kw, symmetric=True)(P, G).item()
            row[f"{dm}/asd_pg"] = SurfaceDistanceMetric(**kw)(P, G).item()
            row[f"{dm}/nsd"] = SurfaceDiceMetric([TAU], **kw)(P, G).item()
        out.append(row)
    return out


def soft_cases():
    """(probabilities, soft GT) pairs: the loss cases' probabilities against Dirichlet soft labels."""
    rng = np.random.default_rng(6)
    return [
        (probs, np.moveaxis(rng.dirichlet([0.5, 1.0, 2.0], size=probs.shape[1:]), -1, 0))
        for probs, _, _ in loss_cases()
    ]


def monai_soft_losses():
    """MONAI's losses on soft targets (float GT of the prediction's shape), at their defaults."""
    import torch
    from monai.losses import DiceCELoss, DiceLoss, FocalLoss

    out = []
    for probs, soft in soft_cases():
        x, y = torch.as_tensor(probs[None]), torch.as_tensor(soft[None])
        out.append(
            {"dice": DiceLoss()(x, y).item(), "dice_ce": DiceCELoss()(x, y).item(), "focal": FocalLoss()(x, y).item()}
        )
    return out


def loss_cases():
    rng = np.random.default_rng(5)
    out = []
    for _ in range(3):
        logits = rng.normal(size=(3, 9, 8, 7))
        probs = np.exp(logits) / np.exp(logits).sum(axis=0, keepdims=True)
        gt = rng.integers(0, 3, size=(9, 8, 7))
        out.append((probs, gt, [0.5, 1.0, 2.0]))
    return out


def medpy_values(p, g):
    from medpy.metric import binary as mb

    sp = dict(voxelspacing=SP)
    return {
        "dice": _safe(lambda: mb.dc(p, g)),
        "iou": _safe(lambda: mb.jc(p, g)),
        "precision": _safe(lambda: mb.precision(p, g)),
        "recall": _safe(lambda: mb.recall(p, g)),
        "specificity": _safe(lambda: mb.specificity(p, g)),
        "hd": _safe(lambda: mb.hd(p, g, **sp)),
        "hd95": _safe(lambda: mb.hd95(p, g, **sp)),
        "assd": _safe(lambda: mb.assd(p, g, **sp)),
        "asd_pg": _safe(lambda: mb.asd(p, g, **sp)),
        "asd_gp": _safe(lambda: mb.asd(g, p, **sp)),
    }


def deepmind_values(p, g):
    import surface_distance as sd

    np.NaN, np.Inf = np.nan, np.inf  # surface-distance 0.1 still names them (removed in numpy 2)
    d = sd.compute_surface_distances(g, p, SP)  # (mask_gt, mask_pred)
    out = {
        "dice": _safe(lambda: sd.compute_dice_coefficient(g, p)),
        "hd": _safe(lambda: sd.compute_robust_hausdorff(d, 100)),
        "hd95": _safe(lambda: sd.compute_robust_hausdorff(d, 95)),
        "nsd": _safe(lambda: sd.compute_surface_dice_at_tolerance(d, TAU)),
    }
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        gp, pg = sd.compute_average_surface_distance(d)
    out["asd_gp"], out["asd_pg"] = _val(gp), _val(pg)
    return out


def metricsreloaded_values(p, g):
    sys.path.insert(0, os.environ.get("MR_PATH", "/tmp/conv_peers/Project-MONAI+MetricsReloaded"))
    from MetricsReloaded.metrics.pairwise_measures import BinaryPairwiseMeasures

    b = BinaryPairwiseMeasures(p.astype(int), g.astype(int), pixdim=SP, dict_args={"nsd": TAU, "hd_perc": 95})
    return {
        "dice": _safe(b.dsc),
        "iou": _safe(b.intersection_over_union),
        "precision": _safe(b.positive_predictive_value),
        "recall": _safe(b.sensitivity),
        "specificity": _safe(b.specificity),
        "hd": _safe(b.measured_hausdorff_distance),
        "hd95": _safe(b.measured_hausdorff_distance_perc),
        "assd": _safe(b.measured_average_distance),
        "masd": _safe(b.measured_masd),
        "nsd": _safe(b.normalised_surface_distance),
        "cldice": _safe(b.centreline_dsc),
    }


def nnunet_values(p, g, tmp: Path):
    import nibabel as nib
    from nnunetv2.evaluation.evaluate_predictions import compute_metrics
    from nnunetv2.imageio.nibabel_reader_writer import NibabelIO

    affine = np.diag([*SP, 1.0])
    nib.save(nib.Nifti1Image(p.astype(np.uint8), affine), tmp / "pred.nii.gz")
    nib.save(nib.Nifti1Image(g.astype(np.uint8), affine), tmp / "gt.nii.gz")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        m = compute_metrics(str(tmp / "gt.nii.gz"), str(tmp / "pred.nii.gz"), NibabelIO(), [1])["metrics"][1]
    return {"dice": _val(m["Dice"]), "iou": _val(m["IoU"])}


def segmetrics_values(p, g):
    import logging

    from seg_metrics.seg_metrics import computeQualityMeasures

    logging.disable(logging.WARNING)
    names = ["dice", "jaccard", "precision", "recall", "fpr", "fnr", "hd", "hd95", "msd"]
    # computeQualityMeasures takes the array as SimpleITK does (z, y, x) and spacing as (x, y, z)
    q = computeQualityMeasures(p.astype(np.uint8), g.astype(np.uint8), np.array(SP[::-1]), metrics_names=names)
    key = {"jaccard": "iou", "msd": "assd"}
    return {key.get(n, n): _val(q[n]) for n in names}


def peers(out_dir: Path):
    import tempfile

    tmp = Path(tempfile.mkdtemp())
    result: dict = {"monai": [], "medpy": [], "deepmind": [], "metricsreloaded": [], "nnunet": []}
    for _, p, g in cases():
        result["monai"].append(monai_values(p, g))
        result["medpy"].append(medpy_values(p, g))
        result["deepmind"].append(deepmind_values(p, g))
        result["metricsreloaded"].append(metricsreloaded_values(p, g))
        result["nnunet"].append(nnunet_values(p, g, tmp))
    result["monai_losses"] = monai_losses()
    result["monai_distance_metrics"] = monai_distance_metrics()
    result["monai_soft_losses"] = monai_soft_losses()
    (out_dir / "peers.json").write_text(json.dumps(result))


def segmetrics(out_dir: Path):
    (out_dir / "seg-metrics.json").write_text(
        json.dumps({"seg-metrics": [segmetrics_values(p, g) for _, p, g in cases()]})
    )


# --- the comparison --------------------------------------------------------------------------


def _agree_empty(ref, mine) -> bool:
    if ref in ("nan", "raise"):
        return mine is None
    if ref in ("inf", "-inf"):
        return mine is not None and mine == float(ref)
    return mine is not None and float(mine) == float(ref)


def compare(out_dir: Path) -> int:
    import segloss_cli as segloss
    from segloss_cli.conventions import _available

    refs: dict = {}
    for name in ("peers.json", "seg-metrics.json"):
        if (out_dir / name).exists():
            refs.update(json.loads((out_dir / name).read_text()))
    surfel = "surface" in _available()
    rows, bad = [], []
    for tool in ("monai", "nnunet", "medpy", "deepmind", "metricsreloaded", "seg-metrics"):
        if tool not in refs:
            rows.append((tool, "not run", "", "", ""))
            continue
        worst, n_values, agree, n_empty, known = 0.0, 0, 0, 0, 0.0
        names = sorted({k for r in refs[tool] for k in r})
        for (case, p, g), ref in zip(cases(), refs[tool]):
            metrics = [m for m in ref]
            res = segloss.score(
                p.astype(np.uint8),
                g.astype(np.uint8),
                labels=[1],
                metrics=metrics,
                spacing_mm=SP,
                nsd_tolerance_mm=TAU,
                convention=tool,
            )
            mine = res.classes[0].metrics
            for m in metrics:
                if case in EMPTY:
                    n_empty += 1
                    if _agree_empty(ref[m], mine[m]):
                        agree += 1
                    else:
                        bad.append(f"{tool} {case} {m}: tool {ref[m]}, segloss {mine[m]}")
                    continue
                if tool == "deepmind" and m not in ("dice",) and not surfel:
                    continue  # surfel surfaces: not in this build
                n_values += 1
                r = ref[m]
                if r == "nan" and mine[m] is None:
                    continue  # undefined in both (e.g. an empty skeleton of a non-empty mask)
                if isinstance(r, str) or mine[m] is None:
                    bad.append(f"{tool} {case} {m}: tool {r}, segloss {mine[m]}")
                    continue
                rel = abs(mine[m] - r) / abs(r) if r != 0 else abs(mine[m])
                if (tool, m) in KNOWN:
                    n_values -= 1
                    known = max(known, rel)
                    continue
                worst = max(worst, rel)
                if rel > 1e-6:
                    bad.append(f"{tool} {case} {m}: tool {r}, segloss {mine[m]} (rel {rel:.1e})")
        text = f"{n_values} values, max rel {worst:.1e}"
        if known:
            text += (
                "; not reproduced: " + ", ".join(m for t, m in sorted(KNOWN) if t == tool) + f" (max rel {known:.1e})"
            )
        rows.append((tool, len(refs[tool]), ",".join(names), text, f"{agree}/{n_empty}"))
    if "monai_losses" in refs:
        worst, n = 0.0, 0
        for (probs, gt, w), ref in zip(loss_cases(), refs["monai_losses"]):
            common = dict(metrics=(), include_background=True, convention="monai", channel_axis=0)
            got = segloss.score(probs, gt, losses=["dice_ce", "dice_focal"], **common).losses
            got_w = segloss.score(probs, gt, losses=["dice"], weights=w, **common).losses
            focal = segloss.score(probs, gt, losses=["focal"], **common).losses["focal"].value
            focal_w = segloss.score(probs, gt, losses=["focal"], weights=w, **common).losses["focal"].value
            for name, value in (("dice_ce", got["dice_ce"].value), ("dice_focal", got["dice_focal"].value),
                                ("dice", got_w["dice"].value), ("focal", focal),
                                ("focal(weight)", focal_w)):  # fmt: skip
                if name not in ref:
                    continue
                rel = abs(value - ref[name]) / abs(ref[name])
                worst, n = max(worst, rel), n + 1
                if rel > 1e-6:
                    bad.append(f"monai loss {name}: tool {ref[name]}, segloss {value} (rel {rel:.1e})")
        rows.append(
            (
                "monai losses",
                len(refs["monai_losses"]),
                "dice_ce,dice_focal,dice(weight),focal,focal(weight)",
                f"{n} values, max rel {worst:.1e}",
                "-",
            )
        )
    if "monai_soft_losses" in refs:
        worst, n = 0.0, 0
        for (probs, soft), ref in zip(soft_cases(), refs["monai_soft_losses"]):
            got = segloss.score(probs, soft, losses=list(ref), metrics=(), include_background=True, convention="monai",
                                gt_type="soft", pred_type="probs").losses  # fmt: skip
            for name, r in ref.items():
                rel = abs(got[name].value - r) / abs(r)
                worst, n = max(worst, rel), n + 1
                if rel > 1e-6:
                    bad.append(f"monai soft {name}: tool {r}, segloss {got[name].value} (rel {rel:.1e})")
        rows.append(("monai soft labels", len(refs["monai_soft_losses"]), "DiceLoss, DiceCELoss, FocalLoss (--gt-type soft)",
                     f"{n} values, max rel {worst:.1e}", "-"))  # fmt: skip
    if "monai_distance_metrics" in refs:
        worst, n = 0.0, 0
        nonempty = [(p, g) for case, p, g in cases() if case not in EMPTY]
        for (p, g), ref in zip(nonempty, refs["monai_distance_metrics"]):
            for dm in DISTANCE_METRICS:
                names = [k.split("/")[1] for k in ref if k.startswith(dm + "/")]
                got = segloss.score(p.astype(np.uint8), g.astype(np.uint8), labels=[1], metrics=names, spacing_mm=1.0,
                                    nsd_tolerance_mm=TAU, convention="monai", distance_metric=dm)  # fmt: skip
                for m in names:
                    r, mine = ref[f"{dm}/{m}"], got.classes[0].metrics[m]
                    rel = abs(mine - r) / abs(r) if r != 0 else abs(mine)
                    worst, n = max(worst, rel), n + 1
                    if rel > 1e-6:
                        bad.append(f"monai {dm} {m}: tool {r}, segloss {mine} (rel {rel:.1e})")
        rows.append(
            (
                "monai distance_metric",
                len(nonempty),
                "chessboard, taxicab: hd,hd95,assd,asd_pg,nsd (spacing 1)",
                f"{n} values, max rel {worst:.1e}",
                "-",
            )
        )
    print("| tool | cases | metrics | non-empty cases | empty-case cells equal |")
    print("|---|---|---|---|---|")
    for row in rows:
        print("| " + " | ".join(str(c) for c in row) + " |")
    if not surfel:
        print("deepmind: surfel surfaces not in this build; only dice and the empty cases compared")
    for line in bad:
        print("MISMATCH", line)
    return 1 if bad else 0


if __name__ == "__main__":
    step, out = sys.argv[1], Path(sys.argv[2])
    out.mkdir(parents=True, exist_ok=True)
    if step == "peers":
        peers(out)
    elif step == "seg-metrics":
        segmetrics(out)
    else:
        sys.exit(compare(out))
