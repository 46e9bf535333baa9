"""PRED and GT must describe the same voxel grid; anything else is an error, never a guess."""

from __future__ import annotations

import numpy as np

from ..errors import InputError
from ..model import Volume

AFFINE_TOL_MM = 1e-4


def _within(a, b, tol: float = AFFINE_TOL_MM) -> bool:
    """|a - b| <= tol everywhere (False for NaN): np.allclose(rtol=0) without its overhead,
    which is called twice for every case of a folder."""
    return bool(np.max(np.abs(np.subtract(a, b, dtype=np.float64))) <= tol)


def _fmt(values) -> str:
    return "(" + ", ".join(f"{v:.6g}" for v in values) + ")"


def axcodes(affine: np.ndarray) -> str:
    import nibabel as nib

    return "".join(c or "?" for c in nib.aff2axcodes(affine))


def check_same_grid(pred: Volume, pred_shape: tuple[int, ...], gt: Volume) -> None:
    """Raise InputError naming both values when shape, spacing or affine differ."""
    gt_shape = tuple(gt.array.shape)
    if len(pred_shape) != len(gt_shape):
        raise InputError(
            f"dimension mismatch: PRED is {len(pred_shape)}-D {tuple(pred_shape)}, GT is {len(gt_shape)}-D {gt_shape} "
            f"({gt.path}); save both as 2-D or both as 3-D on the same grid",
            pred.path,
        )
    if tuple(pred_shape) != gt_shape:
        raise InputError(
            f"shape mismatch: PRED {tuple(pred_shape)} vs GT {gt_shape} ({gt.path}); "
            "resample the prediction onto the ground-truth grid (shapes must match exactly; segloss never broadcasts)",
            pred.path,
        )
    if pred.spacing_mm is not None and gt.spacing_mm is not None:
        if len(pred.spacing_mm) != len(gt.spacing_mm) or not _within(pred.spacing_mm, gt.spacing_mm):
            raise InputError(
                f"spacing mismatch: PRED {_fmt(pred.spacing_mm)} mm vs GT {_fmt(gt.spacing_mm)} mm ({gt.path}); "
                "resample the prediction onto the ground-truth grid",
                pred.path,
            )
    if pred.affine is not None and gt.affine is not None:
        if not _within(pred.affine, gt.affine):
            pc, gc = axcodes(pred.affine), axcodes(gt.affine)
            if pc != gc:
                raise InputError(
                    f"orientation mismatch: PRED is {pc}, GT is {gc} ({gt.path}); reorient the prediction "
                    "(e.g. nibabel.as_closest_canonical on both) so voxels line up",
                    pred.path,
                )
            shift = np.abs(pred.affine[:3, 3] - gt.affine[:3, 3]).max()
            if shift > AFFINE_TOL_MM:
                raise InputError(
                    f"origin mismatch: PRED origin {_fmt(pred.affine[:3, 3])} vs GT {_fmt(gt.affine[:3, 3])} mm "
                    f"(differs by {shift:.4g} mm, tolerance {AFFINE_TOL_MM} mm) ({gt.path}); the images are not on the same grid",
                    pred.path,
                )
            raise InputError(
                f"affine mismatch: PRED and GT voxel-to-world matrices differ by up to "
                f"{np.abs(pred.affine - gt.affine).max():.4g} (tolerance {AFFINE_TOL_MM} mm) ({gt.path}); "
                "resample the prediction onto the ground-truth grid",
                pred.path,
            )
