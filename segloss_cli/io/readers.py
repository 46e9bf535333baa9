"""Read one file into a Volume, or raise InputError with a one-line explanation.

Formats: NIfTI-1/2 (.nii memory-mapped, .nii.gz), NumPy .npy (memory-mapped) and .npz.
Arrays keep their stored dtype: a label map is never widened to float64.
"""

from __future__ import annotations

import os
import zipfile
from pathlib import Path
from typing import Optional, Sequence

import numpy as np

from ..errors import InputError
from ..model import Volume

SUFFIXES = (".nii.gz", ".nii", ".npy", ".npz")
GZIP_MAGIC = b"\x1f\x8b"


def file_kind(path: str | os.PathLike) -> Optional[str]:
    """The recognised suffix of ``path`` ('.nii.gz', '.nii', '.npy', '.npz') or None."""
    name = str(path).lower()
    for suffix in SUFFIXES:
        if name.endswith(suffix):
            return suffix
    return None


def case_id(path: str | os.PathLike) -> str:
    """File name without its recognised suffix: the key that pairs PRED and GT files."""
    name = Path(path).name
    kind = file_kind(name)
    return name[: -len(kind)] if kind else name


def _check_file(path: Path) -> None:
    if not path.exists():
        raise InputError("file not found; check the path", path)
    if path.is_dir():
        raise InputError("is a directory, expected a file (give two folders to score a folder)", path)
    if not os.access(path, os.R_OK):
        raise InputError("permission denied; make the file readable (chmod +r)", path)
    if path.stat().st_size == 0:
        raise InputError("empty file (0 bytes); re-export it", path)


def read_volume(
    path: str | os.PathLike,
    *,
    npz_key: Optional[str] = None,
    spacing_mm: Optional[Sequence[float]] = None,
) -> Volume:
    """Load ``path``; ``spacing_mm`` is used for files without a header (.npy/.npz)."""
    p = Path(path)
    _check_file(p)
    kind = file_kind(p)
    if kind is None:
        raise InputError(
            f"unsupported file type '{p.suffix or p.name}'; segloss reads .nii, .nii.gz, .npy and .npz"
            " (convert other formats, e.g. with SimpleITK, to NIfTI)",
            p,
        )
    if kind in (".nii", ".nii.gz"):
        return _read_nifti(p, kind)
    array = _read_npy(p) if kind == ".npy" else _read_npz(p, npz_key)
    if array.dtype == object or array.dtype.kind not in "biuf":
        raise InputError(f"array of dtype {array.dtype} is not numeric; save a numeric array", p)
    if spacing_mm is None:
        return Volume(array, None, None, str(p), spacing_source="none")
    return Volume(array, tuple(float(s) for s in spacing_mm), None, str(p), spacing_source="option")


def _read_nifti(path: Path, kind: str) -> Volume:
    import nibabel as nib  # lazy: keeps `segloss --help` fast

    with open(path, "rb") as fh:
        magic = fh.read(2)
    if kind == ".nii.gz" and magic != GZIP_MAGIC:
        raise InputError("named .gz but is not gzip-compressed; rename it to .nii", path)
    if kind == ".nii" and magic == GZIP_MAGIC:
        raise InputError("is gzip-compressed but named .nii; rename it to .nii.gz", path)
    try:
        img = nib.load(str(path))
    except Exception as exc:  # nibabel raises many types for a bad header
        raise InputError(f"not a readable NIfTI file ({_reason(exc)}); check the file is NIfTI-1/2", path) from exc
    if not isinstance(img, (nib.Nifti1Image, nib.Nifti2Image)):
        raise InputError(f"is a {type(img).__name__}, not NIfTI; convert it to .nii.gz", path)
    try:
        # nibabel opens lazily: reading the data here is what surfaces a truncated file.
        # .nii stays memory-mapped; .nii.gz is decompressed in its stored dtype.
        array = np.asarray(img.dataobj)
    except Exception as exc:
        raise InputError(f"cannot read the image data ({_reason(exc)}); the file is truncated or corrupt, re-export it", path) from exc
    ndim = array.ndim
    zooms = tuple(float(z) for z in img.header.get_zooms()[: min(ndim, 3)])
    return Volume(array, zooms, np.asarray(img.affine, dtype=np.float64), str(path), spacing_source="header")


def _read_npy(path: Path) -> np.ndarray:
    try:
        return np.load(path, mmap_mode="r", allow_pickle=False)
    except ValueError as exc:
        if "allow_pickle" in str(exc) or "Object arrays" in str(exc):
            raise InputError("holds pickled Python objects; segloss reads numeric arrays only (allow_pickle=False)", path) from exc
        raise InputError(f"not a readable .npy file ({_reason(exc)}); the file is truncated or corrupt", path) from exc
    except Exception as exc:
        raise InputError(f"not a readable .npy file ({_reason(exc)})", path) from exc


def _read_npz(path: Path, key: Optional[str]) -> np.ndarray:
    try:
        with np.load(path, allow_pickle=False) as npz:
            keys = list(npz.keys())
            if not keys:
                raise InputError("the .npz archive holds no arrays", path)
            if key is None:
                if len(keys) > 1:
                    raise InputError(f"holds several arrays ({', '.join(keys)}); choose one with --npz-key", path)
                key = keys[0]
            elif key not in keys:
                raise InputError(f"has no array '{key}' (it holds: {', '.join(keys)}); fix --npz-key", path)
            return npz[key]
    except InputError:
        raise
    except ValueError as exc:
        if "allow_pickle" in str(exc) or "Object arrays" in str(exc):
            raise InputError("holds pickled Python objects; segloss reads numeric arrays only (allow_pickle=False)", path) from exc
        raise InputError(f"not a readable .npz file ({_reason(exc)})", path) from exc
    except (zipfile.BadZipFile, OSError, EOFError, KeyError) as exc:
        raise InputError(f"not a readable .npz file ({_reason(exc)}); the file is truncated or corrupt", path) from exc


def _reason(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    first = text[0] if text else ""
    return f"{type(exc).__name__}: {first}"[:200]
