"""Per-structure mask folders: a case stored as one binary mask file per class.

TotalSegmentator writes ``segmentations/liver.nii.gz``, ``segmentations/spleen.nii.gz``, ...:
one 0/1 image per structure, the structure named by the file name. Such a folder reads as one
label map whose labels come from a name -> label table: the other side's label table (a
multi-label file's header names, ``--label-names``) when there is one, else the sorted names
of both sides numbered from 1, so PRED and GT agree. Masks must share one grid and be binary;
two masks claiming one voxel are an error (overlapping structures are a multi-label problem).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Optional

import numpy as np

from ..errors import InputError
from ..model import Volume


def mask_files(folder: str | Path) -> dict[str, Path]:
    """structure name -> mask file of a mask folder (image files directly inside, hidden skipped)."""
    from .readers import case_id, file_kind

    p = Path(folder)
    out: dict[str, Path] = {}
    for f in sorted(p.iterdir()):
        if f.name.startswith(".") or not f.is_file() or file_kind(f.name) is None:
            continue
        name = case_id(f.name)
        if name in out:
            raise InputError(f"two masks for structure {name!r} ({out[name].name} and {f.name}); keep one", p)
        out[name] = f
    if not out:
        raise InputError("is a folder with no mask files (.nii.gz, .nii, .npy, .npz, .png, .tif)", p)
    return out


def is_mask_folder(path: str | Path) -> bool:
    p = Path(path)
    if not p.is_dir():
        return False
    try:
        mask_files(p)
    except InputError:
        return False
    return True


def label_table(names: Sequence[str], table: Optional[Mapping[int, str]] = None) -> dict[str, int]:
    """name -> label: from ``table`` (label -> name, any case) when given, else ``names`` sorted from 1."""
    if table:
        by_name = {n.lower(): lab for lab, n in table.items()}
        missing = [n for n in names if n.lower() not in by_name]
        if missing:
            raise InputError(
                f"mask {missing[0]!r} is not a class of the label table ({len(table)} names, e.g. "
                f"{', '.join(list(table.values())[:4])}); name the files as the table does or give @label_names"
            )
        return {n: int(by_name[n.lower()]) for n in names}
    return {n: i + 1 for i, n in enumerate(sorted(set(names)))}


def read_mask_folder(folder: str | Path, labels: Mapping[str, int], *, npz_key=None, spacing_mm=None) -> Volume:
    """The label map of a mask folder: each structure's voxels get ``labels[name]``."""
    from .readers import read_volume

    p = Path(folder)
    files = mask_files(p)
    out: Optional[np.ndarray] = None
    first: Optional[Volume] = None
    top = max(labels.values(), default=1)
    dtype = np.uint8 if top < 256 else np.uint16 if top < 65536 else np.int32
    for name, f in files.items():
        vol = read_volume(f, npz_key=npz_key, spacing_mm=spacing_mm)
        arr = np.asarray(vol.array)
        if first is None:
            first, out = vol, np.zeros(arr.shape, dtype)
        elif arr.shape != first.array.shape or (
            vol.affine is not None and first.affine is not None and not np.allclose(vol.affine, first.affine, atol=1e-4)
        ):
            raise InputError(
                f"mask {f.name} is not on the grid of {files[next(iter(files))].name}; one grid per case", p
            )
        fg = arr != 0
        if not np.isin(arr[fg], (1, True)).all():
            raise InputError(
                f"mask {f.name} is not binary (values other than 0 and 1); a folder against a file (or with "
                "@masks=True), or a sub-folder of a folder of cases, is read as one case of per-structure 0/1 "
                "masks: to score folders of cases give two files or two folders, and @recursive=True when the "
                "cases sit in sub-folders (Cityscapes' city folders)",
                f,
            )
        assert out is not None
        clash = fg & (out != 0)
        if clash.any():
            other = next(n for n, lab in labels.items() if lab == int(out[clash][0]))
            raise InputError(
                f"masks {other!r} and {name!r} overlap in {int(clash.sum()):,} voxels; a label map holds one class "
                "per voxel (score overlapping structures as --pred-type sigmoid channels)",
                p,
            )
        out[fg] = labels[name]
    assert first is not None and out is not None
    return Volume(out, first.spacing_mm, first.affine, str(p), first.spacing_source)
