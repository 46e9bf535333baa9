"""BraTS-like cases: nested ED(2) > NCR(1) > ET(3) blobs, several lesions, small FPs."""

import json
import sys

import nibabel as nib
import numpy as np

rng = np.random.default_rng(int(sys.argv[1]) if len(sys.argv) > 1 else 0)
shape = (72, 64, 48)


def blob(vol, c, r, lab, only=None):
    z = np.indices(shape).astype(float)
    d = sum(((z[i] - c[i]) / r[i]) ** 2 for i in range(3))
    m = d <= 1
    if only is not None:
        m &= np.isin(vol, only)
    vol[m] = lab


def case(gt_seed, spacing):
    r = np.random.default_rng(gt_seed)
    gt = np.zeros(shape, np.uint8)
    pred = np.zeros(shape, np.uint8)
    n = r.integers(2, 5)
    for _ in range(n):
        c = r.uniform(8, np.array(shape) - 8)
        rad = r.uniform(2, 8, 3)
        blob(gt, c, rad, 2)
        blob(gt, c + r.normal(0, 1, 3), rad * 0.6, 1, only=[2])
        blob(gt, c, rad * 0.35, 3, only=[1])
        if r.random() < 0.8:  # detected, shifted and resized
            c2 = c + r.normal(0, 1.5, 3)
            rad2 = rad * r.uniform(0.7, 1.3, 3)
            blob(pred, c2, rad2, 2)
            blob(pred, c2, rad2 * 0.6, 1, only=[2])
            blob(pred, c2, rad2 * 0.35, 3, only=[1])
    for _ in range(r.integers(0, 4)):  # small FPs and small GT lesions
        c = r.uniform(3, np.array(shape) - 3)
        rad = r.uniform(0.8, 2.5, 3)
        blob(pred if r.random() < 0.6 else gt, c, rad, int(r.choice([1, 2, 3])))
    return pred, gt


out = []
for k in range(int(sys.argv[2]) if len(sys.argv) > 2 else 8):
    spacing = (1.0, 1.0, 1.0) if k % 2 == 0 else (0.9, 1.1, 1.5)
    pred, gt = case(1000 + k, spacing)
    aff = np.diag(list(spacing) + [1.0])
    for name, a in (("pred", pred), ("gt", gt)):
        img = nib.Nifti1Image(a, aff)
        img.header.set_zooms(spacing)
        nib.save(img, f"/tmp/lesion_cases/c{k}_{name}.nii.gz")
    out.append(f"c{k}")
print(json.dumps(out))
