"""Regions (unions of labels) vs plain labels on a BraTS-sized case, in one run.

    python benchmarks/bench_regions.py

A 240x240x155 uint8 case with labels 1, 2, 3 nested like BraTS (edema around a core around
an enhancing rim), a prediction shifted by two voxels with noise. Timed (CPU, best of 3,
kernels compiled first): the three plain labels vs the three regions WT = 1,2,3, TC = 1,3,
ET = 3, for the overlap metrics and with the surface metrics too (1 mm voxels).
Printed: each time and the ratio regions / labels (issue 10 asks for <= 1.5x).
"""

from __future__ import annotations

import time

import numpy as np

import segloss


def case(shape=(240, 240, 155), seed=0):
    rng = np.random.default_rng(seed)
    zz, yy, xx = np.ogrid[: shape[0], : shape[1], : shape[2]]
    d = (zz - 120) ** 2 / 900 + (yy - 110) ** 2 / 700 + (xx - 80) ** 2 / 500
    gt = np.zeros(shape, np.uint8)
    gt[d < 1.0] = 2
    gt[d < 0.45] = 1
    gt[(d < 0.3) & (d > 0.15)] = 3
    pred = np.roll(gt, 2, axis=0)
    noise = rng.random(shape) < 0.002
    pred[noise] = rng.integers(0, 4, size=int(noise.sum()))
    return np.asfortranarray(pred), np.asfortranarray(gt)


def best(fn, repeat=3):
    out = []
    for _ in range(repeat):
        t0 = time.process_time()
        fn()
        out.append(time.process_time() - t0)
    return min(out)


def main() -> None:
    import tempfile
    from pathlib import Path

    import nibabel as nib

    pred, gt = case()
    regions = {"WT": [1, 2, 3], "TC": [1, 3], "ET": [3]}
    print(f"case {gt.shape} uint8 (F order), labels 1-3, {np.count_nonzero(gt):,} tumour voxels")
    with tempfile.TemporaryDirectory() as tmp:  # what `segloss eval` does: read .nii.gz, then score
        pp, gp = Path(tmp) / "pred.nii.gz", Path(tmp) / "gt.nii.gz"
        nib.save(nib.Nifti1Image(pred, np.eye(4)), str(pp))
        nib.save(nib.Nifti1Image(gt, np.eye(4)), str(gp))
        kw = {"metrics": "overlap"}
        segloss.score_files(pp, gp, labels=[1, 2, 3], **kw)
        segloss.score_files(pp, gp, regions=regions, **kw)
        t_lab = best(lambda: segloss.score_files(pp, gp, labels=[1, 2, 3], **kw))
        t_reg = best(lambda: segloss.score_files(pp, gp, regions=regions, **kw))
        print(f"  files, overlap: labels {t_lab:6.3f} s CPU   regions {t_reg:6.3f} s CPU   ratio {t_reg / t_lab:.2f}x")
    print("  arrays in memory (no decompression):")
    for metrics in ("overlap", "overlap,distance"):
        kw = {"metrics": metrics, "spacing_mm": (1.0, 1.0, 1.0)}
        segloss.score(pred, gt, labels=[1, 2, 3], **kw)  # compile
        segloss.score(pred, gt, regions=regions, **kw)
        t_lab = best(lambda kw=kw: segloss.score(pred, gt, labels=[1, 2, 3], **kw))
        t_reg = best(lambda kw=kw: segloss.score(pred, gt, regions=regions, **kw))
        print(f"  {metrics:16s} labels 1,2,3: {t_lab:6.3f} s CPU   regions WT,TC,ET: {t_reg:6.3f} s CPU   "
              f"ratio {t_reg / t_lab:.2f}x")  # fmt: skip


if __name__ == "__main__":
    main()
