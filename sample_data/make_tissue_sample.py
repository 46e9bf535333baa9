"""Build the probability-map sample (tissue_probs.nii.gz, tissue_gt.nii.gz) deterministically.

Source: the ICBM152 2009a nonlinear symmetric grey- and white-matter probability maps shipped
in the nilearn wheel (nilearn/datasets/data/mni_icbm152_{gm,wm}_tal_nlin_sym_09a_converted
.nii.gz, 1 mm, uint8 0..255 = probability x 255). See NOTICE.md for the MNI licence notice.

Steps (numpy + nibabel only):
1. p_gm, p_wm = value / 255; p_other = 1 - p_gm - p_wm (the maps sum to <= 1; any excess
   is divided out).
2. 3 mm grid: mean over 3 x 3 x 3 blocks (the volume is cropped to a multiple of 3 first),
   then cropped to the bounding box of p_gm + p_wm > 0.05 plus one voxel.
3. GT (tissue_gt.nii.gz, uint8): argmax of (other, GM, WM) on that grid: 0 other, 1 GM, 2 WM.
4. PRED (tissue_probs.nii.gz, float32, x,y,z,3 channel-last): a blurred "model output":
   each class map is averaged over its 3 x 3 x 3 neighbourhood (edges replicated) and
   quantised to multiples of 1/1024 (exact in float32, compresses well) with
   p_other = 1 - p_gm - p_wm, so every voxel sums to exactly 1.

    python sample_data/make_tissue_sample.py /path/to/nilearn-0.14.1-py3-none-any.whl
"""

from __future__ import annotations

import argparse
import gzip
import io
import zipfile
from pathlib import Path

import nibabel as nib
import numpy as np

HERE = Path(__file__).resolve().parent
MEMBER = "nilearn/datasets/data/mni_icbm152_{}_tal_nlin_sym_09a_converted.nii.gz"
BLOCK = 3
Q = 1024


def read_member(wheel: Path, tissue: str) -> nib.Nifti1Image:
    with zipfile.ZipFile(wheel) as zf:
        raw = zf.read(MEMBER.format(tissue))
    fh = nib.FileHolder(fileobj=io.BytesIO(gzip.decompress(raw)))
    return nib.Nifti1Image.from_file_map({"header": fh, "image": fh})


def block_mean(a: np.ndarray, b: int) -> np.ndarray:
    s = tuple(n - n % b for n in a.shape)
    a = a[: s[0], : s[1], : s[2]]
    return a.reshape(s[0] // b, b, s[1] // b, b, s[2] // b, b).mean(axis=(1, 3, 5))


def box3(a: np.ndarray) -> np.ndarray:
    p = np.pad(a, 1, mode="edge")
    out = np.zeros_like(a)
    for dx in range(3):
        for dy in range(3):
            for dz in range(3):
                out += p[dx : dx + a.shape[0], dy : dy + a.shape[1], dz : dz + a.shape[2]]
    return out / 27.0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("wheel", type=Path, help="nilearn-0.14.1-py3-none-any.whl")
    args = ap.parse_args()
    gm_img = read_member(args.wheel, "gm")
    wm_img = read_member(args.wheel, "wm")
    gm = np.asarray(gm_img.dataobj, dtype=np.float64) / 255.0
    wm = np.asarray(wm_img.dataobj, dtype=np.float64) / 255.0
    total = gm + wm
    over = total > 1.0
    gm[over] /= total[over]
    wm[over] /= total[over]

    gm3, wm3 = block_mean(gm, BLOCK), block_mean(wm, BLOCK)
    brain = np.argwhere(gm3 + wm3 > 0.05)
    lo = np.maximum(brain.min(0) - 1, 0)
    hi = np.minimum(brain.max(0) + 2, gm3.shape)
    crop = tuple(slice(a, b) for a, b in zip(lo, hi))
    gm3, wm3 = gm3[crop], wm3[crop]
    other3 = 1.0 - gm3 - wm3
    gt = np.argmax(np.stack([other3, gm3, wm3]), axis=0).astype(np.uint8)

    gm_p = np.round(box3(gm3) * Q)
    wm_p = np.round(box3(wm3) * Q)
    wm_p = np.minimum(wm_p, Q - gm_p)
    probs = np.stack([Q - gm_p - wm_p, gm_p, wm_p], axis=-1) / Q
    assert np.all(probs >= 0) and np.array_equal(probs.sum(-1), np.ones(gt.shape))

    affine = gm_img.affine.copy()
    affine[:3, :3] *= BLOCK
    affine[:3, 3] = gm_img.affine[:3, :3] @ (lo * BLOCK + (BLOCK - 1) / 2.0) + gm_img.affine[:3, 3]
    for name, arr in (("tissue_gt.nii.gz", gt), ("tissue_probs.nii.gz", probs.astype(np.float32))):
        img = nib.Nifti1Image(arr, affine)
        img.header.set_xyzt_units("mm")
        img.header.set_zooms((float(BLOCK),) * 3 + ((1.0,) if arr.ndim == 4 else ()))
        # gzip level 9 with mtime 0: small and byte-for-byte reproducible
        (HERE / name).write_bytes(gzip.compress(img.to_bytes(), compresslevel=9, mtime=0))
        print(f"{name}: shape {arr.shape} {arr.dtype}, {(HERE / name).stat().st_size / 1024:.0f} KB")
    counts = np.bincount(gt.ravel(), minlength=3)
    print(f"GT voxels: other {counts[0]}, GM {counts[1]}, WM {counts[2]}")


if __name__ == "__main__":
    main()
