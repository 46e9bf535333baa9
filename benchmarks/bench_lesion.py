"""Lesion-wise metrics vs voxel-level metrics on a BraTS-sized case, in one run.

    python benchmarks/bench_lesion.py

A 240x240x155 uint8 case (Fortran order, as nibabel gives) with labels 1, 2, 3 nested like
BraTS in three tumours of different sizes, one missed, a prediction shifted by a voxel with a
few small false-positive blobs. Regions WT = 1,2,3, TC = 1,3, ET = 3 at 1 mm voxels. Timed
(CPU time of the process, kernels compiled first, the two sides alternated in one run so
that load from other processes falls on both): the default (voxel-level) metrics, overlap
and surface, vs --metrics lesion (connected components, BraTS lesion-wise Dice and HD95,
detection, PQ, autoPET volumes). Printed: each side's best time and the ratio lesion / voxel
of the best times and the median of the per-round ratios (issue 18 asks for <= 3x).
"""

from __future__ import annotations

import time

import numpy as np

import segloss

REGIONS = {"WT": [1, 2, 3], "TC": [1, 3], "ET": [3]}


def case(shape=(240, 240, 155), seed=0):
    rng = np.random.default_rng(seed)
    zz, yy, xx = np.ogrid[: shape[0], : shape[1], : shape[2]]
    gt = np.zeros(shape, np.uint8)
    pred = np.zeros(shape, np.uint8)
    for c, r, found in (((120, 110, 80), 30, True), ((60, 170, 100), 12, True), ((180, 60, 40), 6, False)):
        for arr, shift in ((gt, 0), (pred, 1)):
            if arr is pred and not found:
                continue
            d = ((zz - c[0] - shift) ** 2 + (yy - c[1]) ** 2 + (xx - c[2]) ** 2) / r**2
            arr[d < 1.0] = 2
            arr[d < 0.45] = 1
            arr[(d < 0.3) & (d > 0.15)] = 3
    for _ in range(8):  # small false positives
        c = rng.integers(5, np.array(shape) - 5)
        pred[c[0] - 1 : c[0] + 1, c[1] - 1 : c[1] + 2, c[2] : c[2] + 2] = rng.integers(1, 4)
    return np.asfortranarray(pred), np.asfortranarray(gt)


def cpu(fn):
    t0 = time.process_time()
    fn()
    return time.process_time() - t0


def main():
    pred, gt = case()

    def voxel():
        return segloss.score(pred, gt, spacing_mm=1.0, regions=REGIONS, losses=[])

    def lesion():
        return segloss.score(pred, gt, spacing_mm=1.0, regions=REGIONS, metrics="lesion", losses=[])

    voxel(), lesion()  # compile / load the kernels
    r = lesion()
    for c in r.classes:
        m = c.metrics
        print(f"{c.label}: lesion_dice {m['lesion_dice']:.4f} lesion_hd95 {m['lesion_hd95']:.2f} "
              f"tp/fn/fp {m['lesion_tp']}/{m['lesion_fn']}/{m['lesion_fp']} pq {m['pq']:.4f}")  # fmt: skip
    rounds = [(cpu(voxel), cpu(lesion)) for _ in range(7)]  # alternated
    tv, tl = min(v for v, _ in rounds), min(t for _, t in rounds)
    print(f"voxel-level metrics (default): {tv:.3f} s CPU (best of {len(rounds)})")
    print(f"lesion metrics (--metrics lesion): {tl:.3f} s CPU (best of {len(rounds)})")
    median = float(np.median([t / v for v, t in rounds]))
    print(f"ratio lesion / voxel: {tl / tv:.2f} of the best times, {median:.2f} median per round (issue 18: <= 3)")


if __name__ == "__main__":
    main()
