"""Coverage-guided fuzzing of segloss's file loader with atheris (longer runs than the test suite).

    pip install atheris            # Python 3.11 wheels on PyPI
    python fuzz/fuzz_loader.py -max_total_time=600 -rss_limit_mb=2048 fuzz/corpus

The first input byte picks the file type; for .nii.gz and .npz the remaining bytes are the
*inner* file (compressed here), so the fuzzer mutates headers rather than checksums. Any
exception other than segloss's InputError is a finding; so is exceeding -rss_limit_mb or
-timeout (a header that makes the loader allocate or loop).
"""

from __future__ import annotations

import gzip
import io
import os
import sys
import tempfile
import zipfile

import atheris

with atheris.instrument_imports():
    from segloss_cli.errors import InputError
    from segloss_cli.io.readers import read_volume

KINDS = [".nii", ".nii.gz", ".npy", ".npz", ".nii.gz-raw", ".npz-raw"]
TMP = tempfile.mkdtemp(prefix="segloss-fuzz-")


def _container(kind: str, inner: bytes) -> tuple[str, bytes]:
    if kind == ".nii.gz":
        return ".nii.gz", gzip.compress(inner, compresslevel=1)
    if kind == ".npz":
        buf = io.BytesIO()
        with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
            zf.writestr("arr_0.npy", inner)
        return ".npz", buf.getvalue()
    return kind.replace("-raw", ""), inner


def test_one(data: bytes) -> None:
    if len(data) < 2:
        return
    suffix, blob = _container(KINDS[data[0] % len(KINDS)], data[1:])
    path = os.path.join(TMP, "f" + suffix)
    with open(path, "wb") as fh:
        fh.write(blob)
    try:
        vol = read_volume(path)
    except InputError:
        return
    arr = vol.array
    assert arr.dtype.kind in "biuf" and arr.dtype.isnative, arr.dtype


def _seed_corpus(folder: str) -> None:
    """A few valid files to start from (written once)."""
    import nibabel as nib
    import numpy as np

    os.makedirs(folder, exist_ok=True)
    arr = np.arange(60, dtype=np.uint8).reshape(3, 4, 5) % 4
    nii = nib.Nifti1Image(arr, np.eye(4)).to_bytes()
    npy = io.BytesIO()
    np.save(npy, arr)
    for i, (kind, inner) in enumerate([(0, nii), (1, nii), (2, npy.getvalue()), (3, npy.getvalue())]):
        with open(os.path.join(folder, f"seed{i}"), "wb") as fh:
            fh.write(bytes([kind]) + inner)


if __name__ == "__main__":
    corpus = [a for a in sys.argv[1:] if not a.startswith("-")]
    if corpus and not os.path.exists(corpus[0]):
        _seed_corpus(corpus[0])
    atheris.Setup(sys.argv, test_one)
    atheris.Fuzz()
