"""Read one file into a Volume, or raise InputError with a one-line explanation.

Formats: NIfTI-1/2 (.nii, .nii.gz), NumPy .npy and .npz, read into memory (never mapped: a
mapped file truncated while in use is a SIGBUS, :func:`_read_exact`).
Arrays keep their stored dtype: a label map is never widened to float64.

Every reader checks the size a header declares against what the file can hold *before*
allocating: a 300-byte file whose header claims a 64 GB volume is an error, never an
allocation. A .nii.gz is decompressed here (not by nibabel) so a truncated or corrupt
stream is detected (gzip CRC and length are verified) and memory is bounded by what the
compressed file can possibly expand to.
"""

from __future__ import annotations

import contextlib
import io
import math
import os
import threading
import warnings
import zipfile
import zlib
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Optional

import numpy as np

from ..errors import InputError
from ..model import Volume

SUFFIXES = (".nii.gz", ".nii", ".npy", ".npz", ".png", ".tif", ".tiff", ".jpg", ".jpeg")
IMAGE_KINDS = (".png", ".tif", ".tiff", ".jpg", ".jpeg")  # read by io/images.py
FORMATS = ".nii.gz, .nii, .npy, .npz, .png, .tif"
GZIP_MAGIC = b"\x1f\x8b"
NPY_MAGIC = b"\x93NUMPY"
ZIP_MAGICS = (b"PK\x03\x04", b"PK\x05\x06")
# Deflate cannot expand data more than 1032:1 (RFC 1951: 258 bytes from a 2-bit code at
# best); a gzip/zip member declaring more than this from its compressed size is lying.
DEFLATE_MAX_RATIO = 1032
SLACK_BYTES = 1 << 16
# Folder runs read cases on several threads; the two process-wide switches used below (the
# nibabel logger level, the warnings filters) are flipped under this lock.
_PROCESS_STATE = threading.Lock()


def file_kind(path: str | os.PathLike) -> Optional[str]:
    """The recognised suffix of ``path`` (one of SUFFIXES, lower case) or None.

    JPEG is recognised so that it is refused with its reason, not skipped as unknown."""
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


def sniff(head: bytes) -> Optional[str]:
    """Name the format of a file from its first bytes, or None if unknown."""
    if head.startswith(GZIP_MAGIC):
        return "gzip"
    if head.startswith(NPY_MAGIC):
        return "npy"
    if head.startswith(ZIP_MAGICS):
        return "zip"
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "PNG image"
    if head.startswith(b"\xff\xd8\xff"):
        return "JPEG image"
    if head.startswith((b"II*\x00", b"MM\x00*")):
        return "TIFF image"
    if len(head) >= 132 and head[128:132] == b"DICM":
        return "DICOM file"
    if head.startswith(b"\x89HDF\r\n\x1a\n"):
        return "HDF5 file"
    if head.startswith(b"NRRD"):
        return "NRRD image"
    if head.startswith(b"\x80") and len(head) > 1 and head[1] in (2, 3, 4, 5):
        return "Python pickle"
    if len(head) >= 348 and head[344:348] in (b"n+1\x00", b"ni1\x00"):
        return "nifti1"
    if len(head) >= 8 and head[4:8] == b"n+2\x00":
        return "nifti2"
    text = head[:256]
    if b"ObjectType" in text or b"NDims" in text:
        return "MetaImage (.mha/.mhd)"
    if text and all(32 <= b < 127 or b in (9, 10, 13) for b in text):
        return "text file"
    return None


def shown_name(path: str | os.PathLike) -> str:
    """A path as text that can be printed and written as UTF-8: a name that is not UTF-8
    (decoded by Python with surrogate escapes) shows its bytes escaped, ``case\\xff.nii.gz``."""
    return os.fsencode(path).decode("utf-8", "backslashreplace")


def _check_utf8_name(path: Path) -> None:
    """A file name that is not UTF-8 is refused: case ids and paths go into JSON and CSV as
    UTF-8 text, where such a name has no faithful form (conventions.md, Inputs)."""
    try:
        str(path).encode("utf-8")
    except UnicodeEncodeError:
        raise InputError(
            f"{shown_name(path)}: the file name is not valid UTF-8 (its bytes are shown escaped); rename the file "
            "(case ids and paths are written to JSON and CSV as UTF-8)"
        ) from None


def _check_file(path: Path) -> None:
    _check_utf8_name(path)
    if not path.exists():
        if path.is_symlink():
            raise InputError("is a broken symbolic link; point it at an existing file", path)
        raise InputError("file not found; check the path", path)
    if path.is_dir():
        raise InputError("is a directory, expected a file (give two folders to score a folder)", path)
    if not path.is_file():
        raise InputError("is not a regular file (a device, pipe or socket); give a file path", path)
    if not os.access(path, os.R_OK):
        raise InputError("permission denied; make the file readable (chmod +r) or run as its owner", path)
    if path.stat().st_size == 0:
        raise InputError("empty file (0 bytes); the export or copy failed, re-export it", path)


def _read_head(path: Path, n: int = 1024) -> bytes:
    try:
        with open(path, "rb") as fh:
            return fh.read(n)
    except PermissionError:
        raise InputError("permission denied; make the file readable (chmod +r) or run as its owner", path) from None
    except OSError as exc:
        raise InputError(f"cannot read the file ({exc.strerror or exc}); check the disk and the path", path) from None


def read_volume(
    path: str | os.PathLike,
    *,
    npz_key: Optional[str] = None,
    spacing_mm: Optional[Sequence[float]] = None,
    palette=None,
    storage_options=None,
) -> Volume:
    """Load ``path``; ``spacing_mm`` is used for files without a header (.npy/.npz, images);
    ``palette`` (io.palette.Palette) maps the colours of an RGB mask to labels. A URL
    (``s3://...``) is read through io/remote.py with ``storage_options``."""
    from .remote import is_url, read_volume_url

    if is_url(path):
        return read_volume_url(str(path), storage_options, npz_key=npz_key, spacing_mm=spacing_mm, palette=palette)
    p = Path(path)
    _check_file(p)
    kind = file_kind(p)
    if kind in IMAGE_KINDS:  # PNG/TIFF: the image reader reads the file once, its errors its own
        from .images import read_image

        vol = read_image(p, kind, palette=palette, spacing_mm=spacing_mm)
        return vol.with_array(_numeric(vol.array, p))
    head = _read_head(p)
    if kind is None:
        found = sniff(head)
        what = f" (it looks like a {found})" if found and found not in ("gzip", "zip", "text file") else ""
        raise InputError(
            f"unsupported file type '{p.suffix or p.name}'{what}; segloss reads .nii, .nii.gz, .npy, .npz, .png and .tif"
            " (convert other formats to NIfTI, e.g. with SimpleITK or dcm2niix)",
            p,
        )
    if kind in (".nii", ".nii.gz"):
        return _read_nifti(p, kind, head)
    array = _read_npy(p, head) if kind == ".npy" else _read_npz(p, head, npz_key)
    array = _numeric(array, p)
    if spacing_mm is None:
        return Volume(array, None, None, str(p), spacing_source="none")
    return Volume(array, tuple(float(s) for s in spacing_mm), None, str(p), spacing_source="option")


def as_numpy(obj: Any, role: str) -> np.ndarray:
    """A host numpy array from a numpy array, a torch tensor, or anything with ``__dlpack__``
    or ``__array__`` (cupy and other device arrays are copied to the host)."""
    if isinstance(obj, np.ndarray):
        return obj
    if hasattr(obj, "detach") and hasattr(obj, "cpu"):  # torch: no gradient, on the host
        return np.asarray(obj.detach().cpu().numpy())
    if hasattr(obj, "get") and hasattr(obj, "__cuda_array_interface__"):  # cupy: copy to the host
        return np.asarray(obj.get())
    if hasattr(obj, "__dlpack__"):
        try:
            return np.from_dlpack(obj)
        except (TypeError, RuntimeError, BufferError):
            pass  # a device array numpy cannot import: try __array__
    if hasattr(obj, "__array__") or isinstance(obj, (list, tuple)):
        return np.asarray(obj)
    raise TypeError(
        f"{role} must be an array (numpy, torch, or anything with __array__ or __dlpack__), not {type(obj).__name__}"
    )


def array_volume(obj: Any, role: str, spacing_mm: Optional[Sequence[float]] = None, palette=None) -> Volume:
    """An in-memory array as a Volume, checked as a .npy file would be (no header: spacing
    from ``spacing_mm`` or none). With a ``palette``, an (H, W, 3|4) uint8 array is a colour
    mask and becomes its labels."""
    name = f"<{role} array>"
    array = _numeric(as_numpy(obj, role), Path(name))
    if palette is not None and array.ndim == 3 and array.shape[-1] in (3, 4) and array.dtype == np.uint8:
        from .palette import colors_to_labels

        array = colors_to_labels(array, palette, path=name)
    if spacing_mm is None:
        return Volume(array, None, None, name, spacing_source="none")
    return Volume(array, tuple(float(s) for s in spacing_mm), None, name, spacing_source="option")


def _numeric(array: np.ndarray, path: Path) -> np.ndarray:
    """A numeric array in native byte order (kernels read native integers and floats only)."""
    dt = array.dtype
    if dt.hasobject:
        raise InputError(
            "holds pickled Python objects; segloss reads numeric arrays only (save with a numeric dtype)", path
        )
    if dt.kind not in "biuf" or dt.fields is not None or dt.subdtype is not None:
        raise InputError(
            f"has data type {dt} (not an integer, float or bool array); save the label map as integers "
            "or the scores as float32",
            path,
        )
    if dt.kind == "f" and dt.itemsize > 8:
        array = array.astype(np.float64)
    elif not dt.isnative:
        array = array.astype(dt.newbyteorder("="))
    return array


def _wrong_format(path: Path, head: bytes, expected: str) -> InputError:
    found = sniff(head)
    hint = {
        "gzip": "it is gzip-compressed; name it .nii.gz if it is a NIfTI file",
        "npy": "it is a NumPy .npy file; rename it to .npy",
        "zip": "it is a zip archive (.npz?); rename it to .npz if it holds NumPy arrays",
        "nifti1": "it is a NIfTI file; rename it to .nii",
        "nifti2": "it is a NIfTI file; rename it to .nii",
    }.get(found or "")
    if hint is None:
        found_text = f"a {found}" if found else "unrecognised data"
        hint = f"it holds {found_text}; convert it to NIfTI (.nii.gz), e.g. with SimpleITK or dcm2niix"
    return InputError(f"is not a valid {expected} file: {hint}", path)


# --------------------------------------------------------------------------- NIfTI


def _nifti_header(head: bytes, path: Path, kind: str):
    """Parse the NIfTI-1/2 header at the start of ``head`` (the decompressed file start)."""
    import nibabel as nib  # lazy: keeps `segloss --help` fast

    fmt = sniff(head)
    if fmt == "nifti1":
        klass, size = nib.Nifti1Header, 348
    elif fmt == "nifti2":
        klass, size = nib.Nifti2Header, 540
    elif len(head) < 348 and fmt is None:
        raise InputError(
            f"is truncated: {len(head)} bytes{' after decompression' if kind == '.nii.gz' else ''}, "
            "shorter than a NIfTI header (348 bytes); re-export or re-copy it",
            path,
        )
    else:
        raise _wrong_format(path, head, "NIfTI")
    if fmt == "nifti1" and head[344:348] == b"ni1\x00":
        raise InputError(
            "holds the header of a NIfTI pair (.hdr/.img), not a single-file NIfTI; convert it to .nii.gz", path
        )
    if len(head) < size:
        raise InputError(f"is truncated inside the NIfTI header ({len(head)} of {size} bytes); re-export it", path)
    endian = _check_raw_header(head, fmt, size, path)
    try:
        # Then nibabel repairs the fields it can (qfac, bitpix, sizeof_hdr) in place, as nib.load
        # does (check=True is this same call); its log lines would break the one-line error
        # contract, so its logger is off while it works (segloss's checks above came first).
        with _nibabel_quiet():
            hdr = klass.from_fileobj(io.BytesIO(head[:size]), endianness=endian, check=False)
            hdr.check_fix()
            shape = tuple(int(n) for n in hdr.get_data_shape())
            dtype = np.dtype(hdr.get_data_dtype())
            offset = int(hdr.get_data_offset())
            slope, inter = hdr.get_slope_inter()
            affine = np.asarray(hdr.get_best_affine(), dtype=np.float64)
            zooms = tuple(float(z) for z in hdr.get_zooms())
    except InputError:
        raise
    except MemoryError:
        raise
    except Exception as exc:  # nibabel raises many types for a bad header
        raise InputError(f"has an invalid NIfTI header ({_reason(exc)}); re-export the image", path) from None
    if not np.all(np.isfinite(affine)):
        raise InputError(
            "has a NIfTI header whose voxel-to-world matrix (qform/sform) is not finite; fix the header", path
        )
    data_bytes = math.prod(shape) * dtype.itemsize
    return hdr, shape, dtype, offset, slope, inter, affine, zooms, data_bytes


# Byte layout of the fields checked before nibabel sees a header: (sizeof_hdr, dim, datatype,
# pixdim, vox_offset) as (offset, struct code); NIfTI-1 and NIfTI-2 (nifti1.h, nifti2.h).
_LAYOUT = {
    "nifti1": dict(dim=(40, "8h"), datatype=(70, "h"), pixdim=(76, "8f"), vox_offset=(108, "f")),
    "nifti2": dict(dim=(16, "8q"), datatype=(12, "h"), pixdim=(104, "8d"), vox_offset=(168, "q")),
}


@contextlib.contextmanager
def _nibabel_quiet():
    """nibabel's header-repair logger off ("pixdim[1,2,3] should be non-zero" and the like).

    Not nibabel's LoggingOutputSuppressor: it removes the handlers while iterating over the
    same list and restores none, after which Python's last-resort handler prints every
    message anyway. The logger is disabled for the block, under the process-state lock.
    """
    from nibabel.imageglobals import logger

    with _PROCESS_STATE:
        was = logger.disabled
        logger.disabled = True
        try:
            yield
        finally:
            logger.disabled = was


def _check_raw_header(head: bytes, fmt: str, size: int, path: Path) -> str:
    """segloss's own checks of the raw header fields, before nibabel repairs or rejects them in
    its own words; returns the byte order ('<' or '>').

    The byte order comes from sizeof_hdr (348 / 540 in one order or the other), else from
    dim[0] as nibabel guesses it. Refused, one line each: dim[0] outside 1..7, a negative
    dimension, a datatype code that is not a NIfTI type nibabel reads, a vox_offset that is
    not a whole byte offset past the header, and a zero, negative, NaN or infinite pixdim
    of an axis longer than one voxel (nibabel would silently make it 1 mm or its absolute
    value: volumes and distances would be wrong).
    """
    import struct

    from nibabel.nifti1 import data_type_codes

    layout = _LAYOUT[fmt]

    def field(name: str, order: str):
        at, code = layout[name]
        values = struct.unpack_from(order + code, head, at)
        return values if len(code) > 1 else values[0]

    def bad(why: str) -> InputError:
        return InputError(f"has an invalid NIfTI header ({why}); re-export the image", path)

    orders = [o for o in "<>" if struct.unpack_from(o + "i", head, 0)[0] == size]
    if not orders:
        orders = [o for o in "<>" if 1 <= field("dim", o)[0] <= 7] or ["<"]
    order = orders[0]
    dim = field("dim", order)
    if not 1 <= dim[0] <= 7:
        raise bad(f"dim[0] = {dim[0]}: the number of dimensions must be 1 to 7")
    shape = tuple(int(n) for n in dim[1 : 1 + dim[0]])
    if any(n < 0 for n in shape):
        raise bad(f"negative dimension in {shape}")
    code = int(field("datatype", order))
    try:
        stored: Any = data_type_codes.dtype[code]
        known = np.dtype(stored).kind != "V" or code in (128, 2304)  # RGB24, RGBA32
    except (KeyError, TypeError):
        known = False
    if not known:
        name = f" ({data_type_codes.label[code]})" if code in data_type_codes.value_set() else ""
        raise bad(f"datatype code {code}{name} is not a voxel type segloss can read")
    offset = float(field("vox_offset", order))
    if not (math.isfinite(offset) and offset == int(offset)):
        raise bad(f"vox_offset {offset} is not a byte offset")
    if offset < size:
        # The voxels would start inside the header: its own bytes would be read as voxel values
        # (nibabel reads them so, silently, for vox_offset 0).
        raise InputError(
            f"has an invalid NIfTI header (vox_offset {int(offset)} lies inside the {size}-byte header; a single-file "
            "NIfTI keeps its voxels after it, at 352 or more); re-export the image",
            path,
        )
    pixdim = [float(v) for v in field("pixdim", order)[1 : 1 + min(len(shape), 3)]]
    used = [i for i, n in enumerate(shape[:3]) if n > 1]
    for i in used:
        if not (math.isfinite(pixdim[i]) and pixdim[i] > 0):
            what = "negative" if pixdim[i] < 0 else "zero or not finite"
            raise InputError(
                f"has invalid voxel spacing in its header (pixdim {tuple(pixdim)}: axis {i + 1} is {what}); "
                "fix the header (e.g. nibabel header.set_zooms) and re-save",
                path,
            )
    return order


def _read_nifti(path: Path, kind: str, head: bytes) -> Volume:
    if kind == ".nii.gz":
        if not head.startswith(GZIP_MAGIC):
            raise InputError("is named .gz but is not gzip-compressed; rename it to .nii", path)
        array, affine, zooms = _read_nifti_gz(path)
    else:
        if head.startswith(GZIP_MAGIC):
            raise InputError("is gzip-compressed but named .nii; rename it to .nii.gz", path)
        array, affine, zooms = _read_nifti_plain(path, head)
    array = _numeric(array, path)
    if array.ndim == 5:
        array = _squeeze_5d(array, path)
    zooms = zooms[: min(array.ndim, 3)]
    return Volume(array, zooms, affine, str(path), spacing_source="header")


def _squeeze_5d(array: np.ndarray, path: Path) -> np.ndarray:
    """A 5-D NIfTI (x, y, z, 1, C) holds C values per voxel on NIfTI's vector axis (the 4th is
    time): a channel-last score map once the singleton time axis goes (a view)."""
    if array.shape[3] != 1:
        raise InputError(
            f"is a 5-D NIfTI image {tuple(array.shape)} with {array.shape[3]} time points; segloss reads 5-D "
            "images as (x, y, z, 1, classes) only: save one time point, or the classes as a 4-D (x, y, z, classes) image",
            path,
        )
    return array[:, :, :, 0, :]


def _declared_too_big(path: Path, shape, dtype, need: int, have: int, where: str) -> InputError:
    return InputError(
        f"header declares a {'x'.join(map(str, shape))} {dtype} volume ({_size(need)}) but {where} "
        f"only {_size(have)}; the file is truncated or its header is corrupt, re-export it",
        path,
    )


def _read_nifti_plain(path: Path, head: bytes):
    _, shape, dtype, offset, slope, inter, affine, zooms, data_bytes = _nifti_header(head, path, ".nii")
    size = path.stat().st_size
    if offset + data_bytes > size:
        raise _declared_too_big(path, shape, dtype, offset + data_bytes, size, "the file holds")
    try:
        raw = _read_exact(path, offset, shape, dtype, "F")
    except (MemoryError, InputError):
        raise
    except Exception as exc:
        raise InputError(
            f"cannot read the image data ({_reason(exc)}); the file is corrupt, re-export it", path
        ) from None
    return _scaled(raw, slope, inter, path), affine, zooms


def _read_exact(path: Path, offset: int, shape, dtype: np.dtype, order: str) -> np.ndarray:
    """The array stored at ``offset`` of ``path``, read into memory.

    Never memory-mapped: a mapped file that is truncated (or whose disk goes away) while the
    array is in use kills the process with SIGBUS, which no check before mapping can rule
    out. Read, a file that shrank after its size was checked is a short read: one line, exit 2.
    """
    nbytes = math.prod(shape) * dtype.itemsize
    raw = np.empty(nbytes, np.uint8)
    view = raw.data  # a memoryview of the bytes
    got = 0
    with open(path, "rb") as fh:
        fh.seek(offset)
        while got < nbytes:
            n = fh.readinto(view[got:])
            if not n:
                break
            got += n
    if got < nbytes:
        raise _declared_too_big(path, shape, dtype, offset + nbytes, offset + got, "reading it gave")
    return raw.view(dtype).reshape(shape, order=order)  # type: ignore[call-overload]


def _scaled(raw: np.ndarray, slope, inter, path: Path) -> np.ndarray:
    """Apply the header's scl_slope / scl_inter exactly as nibabel's ArrayProxy does."""
    from nibabel.volumeutils import apply_read_scaling

    try:
        with _PROCESS_STATE, warnings.catch_warnings():
            # Overflow to inf is caught by the NaN/Inf checks of the validation that follows.
            warnings.simplefilter("ignore")
            return apply_read_scaling(raw, slope, inter)
    except MemoryError:
        raise
    except Exception as exc:
        raise InputError(
            f"has invalid intensity scaling (scl_slope/scl_inter: {_reason(exc)}); fix the header", path
        ) from None


def _inflater():
    """The deflate implementation: ISA-L (python-isal) when installed, else the stdlib zlib.

    ISA-L inflates 3-5x faster than zlib with the same API and the same checks (gzip CRC-32
    and length at each member's end); decompression is most of the time of scoring a folder
    of .nii.gz label maps, so it is a dependency, with zlib as the fallback where no isal
    wheel exists.
    """
    global _INFLATE
    if _INFLATE is None:
        try:
            from isal import isal_zlib as module
        except ImportError:  # pragma: no cover - isal is a dependency; the fallback is for exotic platforms
            module = zlib
        _INFLATE = module
    return _INFLATE


_INFLATE = None


def _gunzip_checked(data: bytes, need: int) -> bytes | bytearray:
    """The first ``need`` decompressed bytes of a whole gzip file, every member's CRC checked.

    One inflate call per member instead of Python-level read loops; output beyond ``need`` is
    decompressed in bounded pieces and dropped (it is only read so that the CRC-32 and length
    in each member's trailer are verified: a flipped bit must not pass as plausible voxels).
    A single-member file (the usual case) returns the inflater's own buffer, with no copy.
    Raises EOFError for a truncated stream and OSError for corrupt data (a failed CRC-32
    check says so, whichever inflater found it) or trailing bytes that are not gzip.
    """
    inflate = _inflater()
    try:
        return _gunzip_members(inflate, data, need)
    except inflate.error as exc:
        raise _inflate_error(exc) from None


def _gunzip_head(data: bytes, n: int) -> bytes:
    """The first ``n`` decompressed bytes of a gzip file (fewer if its stream is shorter).

    Only the start of the stream is inflated, from the bytes already read for the whole
    file, across as many members as it takes (a first member may end inside the header);
    nothing is checked to the end here (``_gunzip_checked`` does that). The input is offered
    in growing pieces so the inflater never copies the rest of the file aside.
    """
    inflate = _inflater()
    try:
        return bytes(_gunzip_members(inflate, data, n, to_end=False))
    except inflate.error as exc:
        raise _inflate_error(exc) from None


def _inflate_error(exc: Exception) -> OSError:
    """The inflater's error as an OSError; a failed CRC-32 check says so by name."""
    text = str(exc)
    if "check" in text.lower():  # zlib: "incorrect data check"; ISA-L: "Incorrect checksum found"
        return OSError(f"CRC check failed ({text})")
    return OSError(text)


_TRUNCATED = "Compressed file ended before the end-of-stream marker was reached"


def _gunzip_members(inflate, data: bytes, need: int, *, to_end: bool = True) -> bytes | bytearray:
    """The first ``need`` bytes of the members of ``data``, in order; with ``to_end`` every
    member is inflated to its end (CRC-32 and length checked), else inflating stops at ``need``.

    The first member gets the whole input in one call (the usual single-member file: its
    output buffer is returned uncopied). Later members (concatenated files, empty members,
    60,000 tiny ones) are inflated by :func:`_inflate_member` from a position in a view of
    the input, each call offered a bounded piece: the time is linear in the file, where
    taking ``unused_data`` (a copy of everything after the member) per member was quadratic.
    """
    view = memoryview(data)
    total = len(data)
    out: bytes | bytearray = b""
    pos = 0
    if to_end:
        d = inflate.decompressobj(wbits=31)  # gzip wrapper: checks CRC-32 and ISIZE at eof
        out = d.decompress(data, need) if need > 0 else b""
        tail = d.unconsumed_tail
        while not d.eof:
            # Past ``need``: decompress in bounded pieces and drop them. Output may still be
            # pending inside the inflater when all input is consumed, so loop until eof or no progress.
            piece = d.decompress(tail, 1 << 20)
            tail = d.unconsumed_tail
            if not d.eof and not piece and not tail:
                raise EOFError(_TRUNCATED)
        pos = total - len(d.unused_data)
    while pos < total and (to_end or len(out) < need):
        if bytes(view[pos : pos + 2]) != GZIP_MAGIC:
            if pos == 0:
                raise OSError("not a gzip stream")
            raise OSError("trailing bytes after the gzip stream")
        if not isinstance(out, bytearray):
            out = bytearray(out)
        pos = _inflate_member(inflate.decompressobj(wbits=31), view, pos, need, out, to_end=to_end)
    return out


def _inflate_member(d, view: memoryview, pos: int, need: int, out: bytearray, *, to_end: bool = True) -> int:
    """Inflate the member at ``view[pos:]`` with ``d``; append to ``out`` while it is shorter
    than ``need``, drop the rest; return the position after the member (without ``to_end``,
    stop as soon as ``out`` holds ``need`` bytes: the position returned is then meaningless).

    Each call is offered at most ``piece`` input bytes (256, doubling up to 1 MiB), so what
    the inflater copies aside (the input left after a member's end) is bounded by about twice
    the member's own size: linear in the file whatever the number of members.
    """
    total = len(view)
    piece = 256
    while True:
        if pos >= total:
            raise EOFError(_TRUNCATED)
        chunk = view[pos : pos + piece]
        feed: Any = chunk
        while True:
            got = d.decompress(feed, 1 << 20)
            room = need - len(out)
            if room > 0:
                out += got[:room]
            if not to_end and len(out) >= need:
                return total
            if d.eof:
                return pos + len(chunk) - len(d.unused_data)
            feed = d.unconsumed_tail
            if not feed:
                break
        pos += len(chunk)
        piece = min(piece * 2, 1 << 20)


def _read_nifti_gz(path: Path):
    try:
        data = path.read_bytes()
        head = _gunzip_head(data, 1024)
    except (OSError, EOFError, zlib.error) as exc:
        raise InputError(
            f"is a truncated or corrupt gzip file ({_reason(exc)}); re-export or re-copy it", path
        ) from None
    _, shape, dtype, offset, slope, inter, affine, zooms, data_bytes = _nifti_header(head, path, ".nii.gz")
    need = offset + data_bytes
    compressed = len(data)
    bound = DEFLATE_MAX_RATIO * compressed + SLACK_BYTES
    if need > bound:
        raise _declared_too_big(path, shape, dtype, need, bound, f"{_size(compressed)} of gzip data can expand to")
    try:
        buf = _gunzip_checked(data, need)
    except InputError:
        raise
    except (OSError, EOFError, zlib.error) as exc:
        raise InputError(
            f"is a truncated or corrupt gzip file ({_reason(exc)}); re-export or re-copy it", path
        ) from None
    if len(buf) < need:
        raise _declared_too_big(path, shape, dtype, need, len(buf), "the decompressed file holds")
    raw = np.frombuffer(buf, dtype=dtype, count=math.prod(shape), offset=offset).reshape(shape, order="F")
    return _scaled(raw, slope, inter, path), affine, zooms


# --------------------------------------------------------------------------- NumPy


NPY_MAX_HEADER = 100_000


def _npy_header(fh, path: Path, where: str, available: int):
    """(shape, fortran_order, dtype, data offset) from an open .npy stream, or InputError.

    The header length is checked against ``available`` bytes before it is read: numpy reads a
    declared length first and checks it after, so a flipped bit could ask for gigabytes.
    """
    fmt = np.lib.format

    def bad(why: str) -> InputError:
        return InputError(f"{where}has an invalid .npy header ({why}); the file is truncated or corrupt", path)

    prefix = fh.read(10)
    if len(prefix) < 10 or not prefix.startswith(NPY_MAGIC):
        raise bad("no .npy magic string")
    version = (prefix[6], prefix[7])
    if version == (1, 0):
        length, start = int.from_bytes(prefix[8:10], "little"), 10
    elif version in ((2, 0), (3, 0)):
        prefix += fh.read(2)
        length, start = int.from_bytes(prefix[8:12], "little"), 12
    else:
        raise bad(f"unknown format version {version[0]}.{version[1]}")
    if length > NPY_MAX_HEADER or start + length > available:
        raise bad(f"declares a {length}-byte header in {available} bytes")
    body = fh.read(length)
    try:
        bio = io.BytesIO(prefix + body)
        fmt.read_magic(bio)
        if version == (1, 0):
            shape, fortran, dtype = fmt.read_array_header_1_0(bio, max_header_size=NPY_MAX_HEADER)
        else:
            shape, fortran, dtype = fmt.read_array_header_2_0(bio, max_header_size=NPY_MAX_HEADER)
    except MemoryError:
        raise
    except Exception as exc:
        raise bad(_reason(exc)) from None
    if dtype.hasobject:
        raise InputError(
            f"{where}holds pickled Python objects (dtype {dtype}); segloss never unpickles, save a numeric array",
            path,
        )
    return tuple(int(n) for n in shape), bool(fortran), dtype, start + length


def _read_npy(path: Path, head: bytes) -> np.ndarray:
    if not head.startswith(NPY_MAGIC):
        raise _wrong_format(path, head, ".npy")
    try:
        with open(path, "rb") as fh:
            shape, fortran, dtype, offset = _npy_header(fh, path, "", path.stat().st_size)
    except OSError as exc:
        raise InputError(f"cannot read the file ({exc.strerror or exc})", path) from None
    need = offset + math.prod(shape) * dtype.itemsize
    size = path.stat().st_size
    if need > size:
        raise _declared_too_big(path, shape, dtype, need, size, "the file holds")
    try:
        return _read_exact(path, offset, shape, dtype, "F" if fortran else "C")
    except (MemoryError, InputError):
        raise
    except Exception as exc:
        raise InputError(f"not a readable .npy file ({_reason(exc)}); the file is corrupt", path) from None


def _read_npz(path: Path, head: bytes, key: Optional[str]) -> np.ndarray:
    if not head.startswith(ZIP_MAGICS):
        raise _wrong_format(path, head, ".npz")
    try:
        with zipfile.ZipFile(path) as zf:
            members = {
                info.filename[:-4] if info.filename.endswith(".npy") else info.filename: info for info in zf.infolist()
            }
            key = _npz_choose(list(members), key, path)
            info = members[key]
            where = f"array '{key}' "
            if info.compress_type not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED):
                raise InputError(
                    f"{where}uses an unsupported zip compression; save it with numpy.savez or savez_compressed", path
                )
            bound = (
                info.compress_size
                if info.compress_type == zipfile.ZIP_STORED
                else (DEFLATE_MAX_RATIO * info.compress_size + SLACK_BYTES)
            )
            have = min(info.file_size, bound)
            with zf.open(info) as fh:
                shape, fortran, dtype, offset = _npy_header(fh, path, where, have)
                need = offset + math.prod(shape) * dtype.itemsize
                if need > have:
                    raise _declared_too_big(path, shape, dtype, need, have, f"{where}in the archive holds")
            with zf.open(info) as fh:
                array = np.lib.format.read_array(fh, allow_pickle=False)
                while fh.read(1 << 20):  # to the end of the member, so zipfile checks its CRC-32
                    pass
            return array
    except InputError:
        raise
    except MemoryError:
        raise
    except Exception as exc:  # BadZipFile, CRC errors, zlib errors, short reads
        raise InputError(
            f"not a readable .npz file ({_reason(exc)}); the file is truncated or corrupt, re-save it", path
        ) from None


# nnU-Net's --save_probabilities writes np.savez_compressed(case.npz, probabilities=...).
NNUNET_NPZ_KEY = "probabilities"


def _npz_choose(keys: list[str], key: Optional[str], path: Path) -> str:
    """The member to read: ``key``, else the only one, else nnU-Net's ``probabilities``."""
    if not keys:
        raise InputError("the .npz archive holds no arrays; save one with numpy.savez", path)
    if key is None:
        if len(keys) == 1:
            return keys[0]
        if NNUNET_NPZ_KEY in keys:
            return NNUNET_NPZ_KEY
        raise InputError(f"holds several arrays ({', '.join(keys)}); choose one with @npz_key", path)
    if key not in keys:
        raise InputError(f"has no array '{key}' (it holds: {', '.join(keys)}); fix @npz_key", path)
    return key


def npz_member_used(path: str | os.PathLike, key: Optional[str]) -> Optional[str]:
    """The name of the array :func:`read_volume` reads from the .npz ``path`` (its zip
    directory only; None when it cannot tell)."""
    try:
        with zipfile.ZipFile(path) as zf:
            names = [n[:-4] if n.endswith(".npy") else n for n in zf.namelist()]
        return _npz_choose(names, key, Path(path))
    except Exception:  # noqa: BLE001 - the reader has already said what is wrong with the file
        return None


def _size(n: int) -> str:
    for unit, scale in (("TB", 1 << 40), ("GB", 1 << 30), ("MB", 1 << 20), ("KB", 1 << 10)):
        if n >= scale:
            return f"{n / scale:.3g} {unit}"
    return f"{n} bytes"


def _reason(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    first = text[0] if text else ""
    return f"{type(exc).__name__}: {first}"[:200]
