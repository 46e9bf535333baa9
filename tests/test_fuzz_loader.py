"""Fuzzing the loader (issue 6, item 5).

Random and mutated bytes (bit flips, truncations, overwrites, appended garbage) of real small
files, written as .nii / .nii.gz / .npy / .npz: loading either returns a valid volume or raises
segloss's InputError, never anything else, within a time and memory bound. For the compressed
formats the *inner* file is mutated and then re-compressed, so the header fields are fuzzed,
not only the gzip/zip checksums.

Also: every valid file is read exactly as nibabel / numpy read it (values, dtype class,
affine, spacing), so the bounded readers never change what a good file means.
"""

from __future__ import annotations

import gzip
import io
import time
import tracemalloc
import warnings
import zipfile

import nibabel as nib
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from segloss_cli.errors import InputError
from segloss_cli.io.readers import DEFLATE_MAX_RATIO, read_volume

AFFINE = np.array([[-1.2, 0, 0, 30.0], [0, 0.9, 0, -12.0], [0, 0, 2.5, 4.0], [0, 0, 0, 1]])
MEMORY_BOUND = 64 << 20  # bytes allocated while loading a file of a few KB
TIME_BOUND_S = 10.0


def _labels(shape=(5, 6, 4), seed=0):
    return np.random.default_rng(seed).integers(0, 4, size=shape).astype(np.uint8)


def _nifti_bytes(arr, klass=nib.Nifti1Image, slope=None, endian=None) -> bytes:
    header = None
    if endian is not None:
        header = (nib.Nifti1Header if klass is nib.Nifti1Image else nib.Nifti2Header)(endianness=endian)
    img = klass(arr, AFFINE, header=header)
    if slope is not None:
        img.header.set_slope_inter(*slope)
    return img.to_bytes()


def _npy_bytes(arr) -> bytes:
    buf = io.BytesIO()
    np.save(buf, arr)
    return buf.getvalue()


def _npz_bytes(inner: dict[str, bytes], compressed=True) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED if compressed else zipfile.ZIP_STORED) as zf:
        for name, blob in inner.items():
            zf.writestr(name + ".npy", blob)
    return buf.getvalue()


# Inner (uncompressed) seeds per format family.
NIFTI_SEEDS = [
    _nifti_bytes(_labels()),
    _nifti_bytes(_labels((7, 5))),
    _nifti_bytes(_labels().astype(np.int16), slope=(2.0, 1.0)),
    _nifti_bytes(_labels().astype(np.int16), endian=">"),
    _nifti_bytes(_labels().astype(np.float32), klass=nib.Nifti2Image),
    _nifti_bytes(np.random.default_rng(3).random((4, 3, 2, 3)).astype(np.float32)),
]
NPY_SEEDS = [
    _npy_bytes(_labels()),
    _npy_bytes(np.asfortranarray(_labels().astype(np.int32))),
    _npy_bytes(_labels().astype(">i2")),
    _npy_bytes(_labels().astype(np.float32)),
]


def _mutate(data: bytes, ops) -> bytes:
    out = bytearray(data)
    for kind, pos, value in ops:
        if not out:
            break
        i = pos % len(out)
        if kind == "flip":
            out[i] ^= 1 << (value % 8)
        elif kind == "set":
            out[i] = value % 256
        elif kind == "truncate":
            del out[i:]
        elif kind == "insert":
            out[i:i] = bytes([value % 256]) * (1 + value % 7)
        elif kind == "int32":  # plausible header field corruption: a large little-endian int
            out[i : i + 4] = (value * 65537 % 2**32).to_bytes(4, "little")
    return bytes(out)


OPS = st.lists(
    st.tuples(
        st.sampled_from(["flip", "set", "truncate", "insert", "int32"]), st.integers(0, 10**6), st.integers(0, 2**31)
    ),
    min_size=1,
    max_size=6,
)


def _nibabel(path):
    """nibabel's reading of a file, or None where nibabel fails (the oracle for NIfTI)."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            img = nib.load(str(path))
            return np.asarray(img.dataobj), np.asarray(img.affine)
    except Exception:
        return None


def _check_loads_or_input_error(path):
    """The property: a Volume that satisfies segloss's invariants, or InputError.

    The bound on time and memory covers the whole read; the label validation that follows
    (numba kernels, compiled once per dtype) is exercised by test_bad_input.py.
    """
    tracemalloc.start()
    t0 = time.perf_counter()
    try:
        vol = read_volume(path)
    except InputError as exc:
        msg = str(exc)
        assert "\n" not in msg and str(path) in msg
        return "error"
    finally:
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        elapsed = time.perf_counter() - t0
        size = path.stat().st_size
        assert peak <= MEMORY_BOUND + 4 * DEFLATE_MAX_RATIO * size, (peak, size)
        assert elapsed < TIME_BOUND_S
    arr = vol.array
    assert isinstance(arr, np.ndarray)
    assert arr.dtype.kind in "biuf" and arr.dtype.isnative and arr.dtype.fields is None
    assert arr.nbytes <= DEFLATE_MAX_RATIO * path.stat().st_size + (1 << 16)
    if vol.spacing_mm is not None:
        assert all(np.isfinite(s) and s > 0 for s in vol.spacing_mm)
    if vol.affine is not None:
        assert vol.affine.shape == (4, 4) and np.all(np.isfinite(vol.affine))
        ref = _nibabel(path)
        if ref is not None:  # where nibabel also reads the file, both read the same thing
            if arr.size == 0:
                # A zero-length dimension: no voxel either way (nibabel may flatten the shape);
                # segloss then refuses the image ("zero-size dimension", test_bad_input.py).
                assert ref[0].size == 0
            else:
                np.testing.assert_array_equal(arr, ref[0])
            np.testing.assert_array_equal(vol.affine, ref[1])
    return "ok"


FUZZ = settings(
    max_examples=250, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow]
)


@FUZZ
@given(seed=st.sampled_from(range(len(NIFTI_SEEDS))), ops=OPS, compress=st.booleans())
def test_fuzz_nifti(tmp_path, seed, ops, compress):
    inner = _mutate(NIFTI_SEEDS[seed], ops)
    path = tmp_path / ("f.nii.gz" if compress else "f.nii")
    path.write_bytes(gzip.compress(inner, compresslevel=1) if compress else inner)
    if path.stat().st_size:
        _check_loads_or_input_error(path)


@FUZZ
@given(seed=st.sampled_from(range(len(NPY_SEEDS))), ops=OPS, container=st.sampled_from(["npy", "npz", "npz-stored"]))
def test_fuzz_numpy(tmp_path, seed, ops, container):
    inner = _mutate(NPY_SEEDS[seed], ops)
    if container == "npy":
        path = tmp_path / "f.npy"
        path.write_bytes(inner)
    else:
        path = tmp_path / "f.npz"
        path.write_bytes(_npz_bytes({"arr_0": inner}, compressed=container == "npz"))
    if path.stat().st_size:
        _check_loads_or_input_error(path)


@FUZZ
@given(
    ops=OPS, suffix=st.sampled_from([".nii", ".nii.gz", ".npy", ".npz"]), seed=st.sampled_from(range(len(NIFTI_SEEDS)))
)
def test_fuzz_outer_bytes(tmp_path, ops, suffix, seed):
    """Mutations of the stored bytes themselves (gzip/zip framing, CRCs, deflate streams)."""
    if suffix == ".nii":
        blob = NIFTI_SEEDS[seed]
    elif suffix == ".nii.gz":
        blob = gzip.compress(NIFTI_SEEDS[seed])
    elif suffix == ".npy":
        blob = NPY_SEEDS[seed % len(NPY_SEEDS)]
    else:
        blob = _npz_bytes({"arr_0": NPY_SEEDS[seed % len(NPY_SEEDS)]})
    path = tmp_path / f"f{suffix}"
    path.write_bytes(_mutate(blob, ops))
    if path.stat().st_size:
        _check_loads_or_input_error(path)


@FUZZ
@given(
    data=st.binary(min_size=1, max_size=2048),
    suffix=st.sampled_from([".nii", ".nii.gz", ".npy", ".npz"]),
    prefix=st.sampled_from([b"", b"\x1f\x8b", b"\x93NUMPY\x01\x00", b"PK\x03\x04", b"\x5c\x01\x00\x00"]),
)
def test_fuzz_random_bytes(tmp_path, data, suffix, prefix):
    path = tmp_path / f"f{suffix}"
    path.write_bytes(prefix + data)
    _check_loads_or_input_error(path)


def test_gzip_bomb_header_is_refused_before_allocating(tmp_path):
    """A valid gzip of a header declaring 8 GB: refused from the compressed size alone."""
    hdr = nib.Nifti1Header()
    hdr.set_data_shape((2048, 2048, 2048))
    hdr.set_data_dtype(np.uint8)
    hdr["vox_offset"] = 352  # a valid single-file header (nibabel sets this when it saves)
    path = tmp_path / "bomb.nii.gz"
    path.write_bytes(gzip.compress(hdr.binaryblock + bytes(4) + bytes(4096)))
    tracemalloc.start()
    try:
        with pytest.raises(InputError, match="header declares a 2048x2048x2048 uint8 volume"):
            read_volume(path)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 16 << 20


# --------------------------------------------------------------------------- valid files unchanged


VALID_NIFTI = {
    "uint8-3d": dict(arr=_labels()),
    "uint8-2d": dict(arr=_labels((7, 5))),
    "int16-scaled": dict(arr=_labels().astype(np.int16), slope=(2.0, 1.0)),
    "int16-big-endian": dict(arr=_labels().astype(np.int16), endian=">"),
    "float32-nifti2": dict(arr=_labels().astype(np.float32), klass=nib.Nifti2Image),
    "float32-4d": dict(arr=np.random.default_rng(3).random((4, 3, 2, 3)).astype(np.float32)),
    "float64-be-nifti2": dict(arr=np.random.default_rng(4).random((3, 4, 5)), klass=nib.Nifti2Image, endian=">"),
}


@pytest.mark.parametrize("name", sorted(VALID_NIFTI))
@pytest.mark.parametrize("suffix", [".nii", ".nii.gz"])
def test_valid_nifti_read_exactly_as_nibabel(tmp_path, name, suffix):
    blob = _nifti_bytes(**VALID_NIFTI[name])
    path = tmp_path / f"v{suffix}"
    path.write_bytes(gzip.compress(blob) if suffix == ".nii.gz" else blob)
    vol = read_volume(path)
    ref = nib.load(str(path))
    expected = np.asarray(ref.dataobj)
    assert vol.array.shape == expected.shape
    assert vol.array.dtype == expected.dtype.newbyteorder("=")
    assert vol.array.dtype.isnative
    np.testing.assert_array_equal(vol.array, expected)
    np.testing.assert_array_equal(vol.affine, ref.affine)
    assert vol.spacing_mm == tuple(float(z) for z in ref.header.get_zooms()[: min(expected.ndim, 3)])


@pytest.mark.parametrize(
    "arr",
    [
        _labels(),
        np.asfortranarray(_labels().astype(np.int32)),
        _labels().astype(">i2"),
        np.random.default_rng(5).random((2, 3, 4)).astype(np.float32),
    ],
    ids=["uint8", "int32-fortran", "int16-big-endian", "float32"],
)
@pytest.mark.parametrize("suffix", [".npy", ".npz"])
def test_valid_numpy_read_exactly_as_numpy(tmp_path, arr, suffix):
    path = tmp_path / f"v{suffix}"
    if suffix == ".npy":
        np.save(path, arr)
    else:
        np.savez_compressed(path, seg=arr)
    vol = read_volume(path)
    np.testing.assert_array_equal(vol.array, arr)
    assert vol.array.dtype == arr.dtype.newbyteorder("=") and vol.array.dtype.isnative
