"""Label tables stored inside NIfTI files: the header extension TotalSegmentator writes.

TotalSegmentator's multi-label output (``totalsegmentator/nifti_ext_header.py``,
``add_label_map_to_nifti``) appends one NIfTI-1 header extension, code 0, whose content is the
XML of a Caret/Connectome Workbench label volume::

    <?xml version="1.0" encoding="UTF-8"?> <CaretExtension> ... <LabelTable>
    <Label Key="1" Red="1.0" Green="0.0" Blue="0.0" Alpha="1"><![CDATA[spleen]]></Label>
    ... </LabelTable> ... </CaretExtension>

Workbench itself stores the same document under code 30 (NIFTI_ECODE_CARET). This module
reads the extensions from the bytes between the fixed header and the voxel data (nibabel is
not asked: segloss parses only the fixed header with it, see readers.py) and turns such a
label table into ``{label: name}``. Nothing here reads voxel values.
"""

from __future__ import annotations

import os
import struct
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Optional

from ..errors import InputError

CARET_CODES = (0, 30)  # TotalSegmentator writes code 0 ("ignore"), Workbench code 30 ("caret")
# Header extensions of real files are kilobytes; a file declaring more is not read for names.
MAX_EXTENSION_BYTES = 16 << 20


def extensions(raw: bytes) -> list[tuple[int, bytes]]:
    """(code, content) of every header extension in ``raw``, the start of a single-file NIfTI
    (fixed header, extender, extensions). A chain that runs past ``raw`` ends the list: the
    extensions are optional metadata, and a broken file is the image reader's to report."""
    if len(raw) < 352:
        return []
    if struct.unpack("<i", raw[:4])[0] in (348, 540):
        endian = "<"
    elif struct.unpack(">i", raw[:4])[0] in (348, 540):
        endian = ">"
    else:
        return []
    size = struct.unpack(endian + "i", raw[:4])[0]
    if len(raw) < size + 4 or raw[size] == 0:  # extender byte 0: no extensions
        return []
    out = []
    pos = size + 4
    while pos + 8 <= len(raw):
        esize, code = struct.unpack(endian + "ii", raw[pos : pos + 8])
        if esize < 8 or pos + esize > len(raw):
            break
        out.append((code, raw[pos + 8 : pos + esize]))
        pos += esize
    return out


def vox_offset(raw: bytes) -> Optional[int]:
    """Where the voxel data of a single-file NIfTI starts, from its first bytes (None if unknown)."""
    if len(raw) < 4:
        return None
    for endian in "<>":
        size = struct.unpack(endian + "i", raw[:4])[0]
        if size == 348 and len(raw) >= 112:
            return int(struct.unpack(endian + "f", raw[108:112])[0])
        if size == 540 and len(raw) >= 176:
            return int(struct.unpack(endian + "q", raw[168:176])[0])
    return None


def caret_label_table(content: bytes, path) -> Optional[dict[int, str]]:
    """``{label: name}`` of a CaretExtension document, None when ``content`` holds no label
    table; InputError when it holds one that cannot be read."""
    text = content.rstrip(b"\x00 \t\r\n")
    if b"<CaretExtension" not in text or b"<LabelTable" not in text:
        return None

    def bad(why: str) -> InputError:
        return InputError(
            f"has a label table in its NIfTI header extension (TotalSegmentator/Caret XML) that cannot be "
            f"read ({why}); name the classes with @label_names instead",
            path,
        )

    if b"<!DOCTYPE" in text or b"<!ENTITY" in text:
        raise bad("it declares a DOCTYPE or entities, which a label table never needs")
    try:
        root = ET.fromstring(text.decode("utf-8"))
    except UnicodeDecodeError:
        raise bad("not UTF-8 text") from None
    except ET.ParseError as exc:
        raise bad(f"XML error: {exc}") from None
    names: dict[int, str] = {}
    for table in root.iter("LabelTable"):
        for label in table.iter("Label"):
            key = (label.get("Key") or "").strip()
            if not key.isdigit():
                raise bad(f"a Label has Key={label.get('Key')!r}, not a label number >= 0")
            value = int(key)
            if value in names:
                raise bad(f"label {value} is named twice")
            names[value] = (label.text or "").strip()
    return names


def read_label_names(path: str | os.PathLike) -> Optional[dict[int, str]]:
    """The label names a NIfTI file carries in a header extension, or None (none there, not a
    NIfTI file, or a file the image reader will refuse with its own message)."""
    p = Path(path)
    name = p.name.lower()
    if not name.endswith((".nii", ".nii.gz")):
        return None
    return _names_in(_head(p, gz=name.endswith(".gz")), p)


def _names_in(raw: bytes, where) -> Optional[dict[int, str]]:
    """The label names of the first Caret label table among the header extensions in ``raw``."""
    found = None
    for code, content in extensions(raw):
        if code in CARET_CODES:
            table = caret_label_table(content, where)
            if table is not None and found is None:
                found = table
    return found


def _head(path: Path, *, gz: bool) -> bytes:
    """The bytes of ``path`` (decompressed for .gz) up to its voxel data: header and extensions.

    Only that much is read or inflated (a few kilobytes), never the voxels."""
    try:
        with open(path, "rb") as fh:
            return _head_of(fh, gz=gz)
    except Exception:  # noqa: BLE001 - a broken file is the image reader's to report, with its own message
        return b""


def _head_of(fh, *, gz: bool) -> bytes:
    """:func:`_head` of an open binary file (a local file or an fsspec object)."""
    if not gz:
        first = fh.read(540)
        end = vox_offset(first)
        if end is None or end <= len(first) or end > MAX_EXTENSION_BYTES:
            return first
        return first + fh.read(end - len(first))
    from .readers import _inflater

    d = _inflater().decompressobj(wbits=31)
    out = b""
    target = 540
    while len(out) < target and not d.eof:
        data = d.unconsumed_tail or fh.read(1 << 14)
        if not data:
            break
        out += d.decompress(data, target - len(out))
        if target == 540 and len(out) >= 540:
            end = vox_offset(out)
            if end is None or end <= 352 or end > MAX_EXTENSION_BYTES:
                break
            target = end
    return out


def _wanted(name: str, pattern: Optional[str]) -> bool:
    import fnmatch

    return (
        not name.startswith(".")
        and name.lower().endswith((".nii", ".nii.gz"))
        and (pattern is None or fnmatch.fnmatchcase(name, pattern))
    )


def _url_label_names(url: str, pattern: Optional[str], storage_options) -> Optional[tuple[str, dict[int, str]]]:
    """:func:`first_label_names` of one URL (a file, or a folder's first NIfTI object): only the
    object's header and extensions are read (fsspec reads ahead in blocks, not the voxels)."""
    from .remote import filesystem, is_dir, list_files

    try:
        if is_dir(url, storage_options):
            files = [e for e in list_files(url, "ground-truth", storage_options) if _wanted(e.name, pattern)]
            if not files:
                return None
            url = files[0].url
        elif not _wanted(url.rstrip("/").rsplit("/", 1)[-1], None):
            return None
        fs, path = filesystem(url, storage_options)
        with fs.open(path, "rb") as fh:
            raw = _head_of(fh, gz=url.lower().endswith(".gz"))
    except Exception:  # noqa: BLE001 - a missing or broken object is the run's to report, with its own message
        return None
    names = _names_in(raw, url)
    return (url, names) if names else None


def first_label_names(
    paths, *, pattern: Optional[str] = None, storage_options=None
) -> Optional[tuple[str, dict[int, str]]]:
    """(file, names) of the first of ``paths`` whose NIfTI header extension names labels.

    A folder stands for its first NIfTI file in name order (hidden files skipped, ``pattern``
    applied): cases of one dataset share their label table. A URL (io/remote.py) is read
    through fsspec with ``storage_options``, its header only.
    """
    from .remote import is_url

    for entry in paths:
        if entry is None:
            continue
        if is_url(entry):
            found = _url_label_names(str(entry), pattern, storage_options)
            if found is not None:
                return found
            continue
        p = Path(entry)
        if p.is_dir():
            try:
                files = sorted(f for f in p.iterdir() if _wanted(f.name, pattern) and f.is_file())
            except OSError:
                continue
            if not files:
                continue
            p = files[0]
        elif not p.is_file():
            continue
        names = read_label_names(p)
        if names:
            return str(p), names
    return None
