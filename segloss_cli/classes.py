"""Which classes a case reports, and what they are called (conventions.md, "Classes")."""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional

import numpy as np

from .errors import DuplicateKey, InputError, UsageError, unique_keys
from .io.textfile import read_text

BACKGROUND = 0

# Classes a case may report: one per value of a 16-bit label map. A map with more distinct
# labels is an instance map or an intensity image; scoring it took minutes and gigabytes
# (a row, a summary and ~7 KB of JSON per class) before this limit.
MAX_CLASSES = 1 << 16
MAX_LABEL_FILE_BYTES = 64 << 20  # a label file (JSON, CSV) of 65,536 names is a few MB


@dataclass(frozen=True)
class Region:
    """A class that is a union of labels (BraTS whole tumour = 1, 2, 3), scored on the union masks."""

    name: str
    labels: tuple[int, ...]


@dataclass(frozen=True)
class ClassSelection:
    """Which classes a run reports and how they are named (conventions.md, "Classes").

    ``labels``: the classes to report (None: every label present, 0..K-1 for score maps);
    a listed label absent from both maps is still reported. Background (0) only with
    ``include_background``. Voxels whose GT is ``ignore_label`` are left out of every count,
    distance and loss. ``names``: label -> name.
    """

    labels: Optional[tuple[int, ...]] = None
    include_background: bool = False
    ignore_label: Optional[int] = None
    names: Mapping[int, str] = field(default_factory=dict)
    regions: tuple[Region, ...] = ()
    names_from: Optional[str] = None  # where ``names`` came from when no label file was given

    def __post_init__(self) -> None:
        if self.ignore_label is not None and not -(2**63) <= int(self.ignore_label) < 2**63:
            raise UsageError(
                f"@ignore_label {self.ignore_label} is beyond a 64-bit label; labels are integers below 2**63"
            )
        seen = set()
        for region in self.regions:
            try:
                region.name.encode("utf-8")
            except UnicodeEncodeError:  # bytes that are not UTF-8 on the command line (surrogate escapes)
                shown = region.name.encode("utf-8", "backslashreplace").decode("ascii", "backslashreplace")
                raise UsageError(f"@regions: region name '{shown}' is not valid UTF-8 text; rename it") from None
            if _is_int(region.name) or not region.name.strip():
                raise UsageError(f"@regions: region name {region.name!r} must be a name, not a label number")
            if region.name in seen:
                raise UsageError(f"@regions: region {region.name!r} is defined twice")
            if not region.labels or any(v < 0 or v >= 1 << 16 for v in region.labels):
                raise UsageError(
                    f"@regions: region {region.name!r} needs labels in 0..65535, not {list(region.labels)}"
                )
            seen.add(region.name)


@dataclass(frozen=True)
class ClassSet:
    all_labels: tuple[int, ...]  # every class of the case (background included)
    reported: tuple[int, ...]  # labels with a row in the output
    names: dict[int, str]
    regions: tuple[Region, ...] = ()  # rows after the labels'

    def name(self, label: int) -> Optional[str]:
        return self.names.get(label)


@dataclass(frozen=True)
class LabelTable:
    """What a label file says: names of labels, regions (unions of labels) and an ignore label."""

    names: dict[int, str] = field(default_factory=dict)
    regions: tuple[Region, ...] = ()
    ignore_label: Optional[int] = None
    source: Optional[str] = None  # "<file> header extension" for names read from a NIfTI header


def load_label_table(path: Optional[str | os.PathLike]) -> LabelTable:
    """A label file: JSON ``{"1": "liver"}``, an nnU-Net/MSD dataset.json (``labels`` in either
    direction; list values are regions, an ``ignore`` entry is the ignore label), or a CSV with
    a label column (``id``, ``label``, ``index`` or ``value``) and a name column (``name`` or
    ``label``), e.g. an atlas table ``id,label,hemisphere,structure``; or a NIfTI file whose
    header extension holds a label table (TotalSegmentator's multi-label output)."""
    if not path:
        return LabelTable()
    p = Path(path)
    if p.name.lower().endswith((".nii", ".nii.gz")):
        return _table_from_nifti(p)
    try:
        text = read_text(p, MAX_LABEL_FILE_BYTES, "label-names file")
    except FileNotFoundError:
        raise InputError("label-names file not found; check @label_names", p) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"cannot read the label-names file ({type(exc).__name__})", p) from None
    if p.suffix.lower() in (".csv", ".tsv") or not text.lstrip().startswith(("{", "[")):
        return LabelTable(_names_from_csv(text, p))
    try:
        data = json.loads(text, object_pairs_hook=unique_keys)
    except DuplicateKey as exc:
        raise InputError(f"@label_names has the key {exc.args[0]!r} twice; give each label one name", p) from None
    except json.JSONDecodeError as exc:
        raise InputError(
            f'@label_names is not valid JSON ({exc}); expected {{"1": "liver"}} or a dataset.json', p
        ) from None
    except (RecursionError, ValueError) as exc:  # nesting or a number beyond what a label can be
        why = "is nested too deeply" if isinstance(exc, RecursionError) else "holds a number too large to parse"
        raise InputError(f'@label_names {why}; expected {{"1": "liver"}} or a dataset.json', p) from None
    return label_table_from(data, p)


def _table_from_nifti(path: Path) -> LabelTable:
    from .io.niftiext import read_label_names

    if not path.is_file():
        raise InputError("label-names file not found; check @label_names", path)
    names = read_label_names(path)
    if not names:
        raise InputError(
            "holds no label table in its NIfTI header extension (TotalSegmentator's); give @label_names "
            'as JSON {"1": "liver"}, a dataset.json or a CSV label table',
            path,
        )
    return LabelTable(names, source=f"{path} header extension")


def header_label_table(paths, *, pattern: Optional[str] = None, storage_options=None) -> Optional[LabelTable]:
    """The label table of the first of ``paths`` (files or folders, GT first; URLs read with
    ``storage_options``) whose NIfTI header extension names labels (TotalSegmentator), or None."""
    from .io.niftiext import first_label_names

    found = first_label_names(paths, pattern=pattern, storage_options=storage_options)
    if found is None:
        return None
    where, names = found
    return LabelTable(names, source=f"{where} header extension")


def load_label_names(path: Optional[str | os.PathLike]) -> dict[int, str]:
    """Label names of a label file (see :func:`load_label_table`)."""
    return load_label_table(path).names


def label_table_from(data: object, path=None) -> LabelTable:
    """The label table of parsed JSON: ``{label: name}``, ``{name: label}``, ``{name: [labels]}``
    (a region) or a dataset.json dict (its ``labels``)."""
    p = path
    if isinstance(data, dict) and isinstance(data.get("labels"), dict):
        data = data["labels"]
    if not isinstance(data, dict):
        raise InputError('@label_names must be a JSON object like {"1": "liver"} or a dataset.json', p)
    names: dict[int, str] = {}
    regions: list[Region] = []
    ignore: Optional[int] = None
    for key, value in data.items():
        if isinstance(value, (list, tuple)):  # nnU-Net v2 region: {"tumor_core": [2, 3]}
            if not value or not all(_is_int(v) and int(v) >= 0 for v in value):
                raise InputError(f"@label_names region {key!r}: {value!r} must list labels >= 0", p)
            regions.append(Region(str(key), tuple(sorted({int(v) for v in value}))))
        elif isinstance(key, str) and key.lower() == "ignore" and _is_int(value):
            ignore = int(value)  # nnU-Net's ignore label: excluded, not a class
        elif _is_int(key) and isinstance(value, str):
            names[int(key)] = value
        elif isinstance(key, str) and _is_int(value):
            names[int(value)] = key
        else:
            raise InputError(f"@label_names entry {key!r}: {value!r} maps neither label->name nor name->label", p)
    for text in (*names.values(), *(r.name for r in regions)):
        try:
            text.encode("utf-8")
        except UnicodeEncodeError:  # JSON's "\ud800": no text any output can hold (it was exit 3 on printing)
            shown = text.encode("utf-8", "backslashreplace").decode("ascii", "backslashreplace")
            raise InputError(
                f"@label_names name '{shown}' holds an unpaired UTF-16 surrogate, which is not text; fix the file", p
            ) from None
    big = [v for v in (*names, *(v for r in regions for v in r.labels)) if not -(2**63) <= v < 2**63]
    if big:  # no label map can hold it: a name for it names nothing
        shown = str(big[0]) if len(str(big[0])) <= 30 else f"{str(big[0])[:12]}... ({len(str(big[0]))} digits)"
        raise InputError(f"@label_names names label {shown}, beyond a 64-bit label; labels are integers below 2**63", p)
    return LabelTable(names, tuple(regions), ignore)


def label_names_from(data: object, path=None) -> dict[int, str]:
    """Label names of parsed JSON (see :func:`label_table_from`)."""
    return label_table_from(data, path).names


_ID_COLUMNS = ("id", "label", "index", "value", "label_id", "labelvalue")
_NAME_COLUMNS = ("name", "label", "label_name", "structure_name", "abbreviation")


def _names_from_csv(text: str, path: Path) -> dict[int, str]:
    import csv
    import io

    dialect = "excel-tab" if "\t" in text.splitlines()[0] else "excel"
    rows = [r for r in csv.reader(io.StringIO(text), dialect=dialect) if any(c.strip() for c in r)]
    if not rows:
        raise InputError("label-names CSV is empty", path)
    header = [c.strip().lower() for c in rows[0]]
    id_col = next((header.index(c) for c in _ID_COLUMNS if c in header), None)
    name_col = next((header.index(c) for c in _NAME_COLUMNS if c in header and header.index(c) != id_col), None)
    if id_col is None or name_col is None:
        raise InputError(
            f"label-names CSV header {rows[0]} needs a label column (id, label, index) and a name column "
            "(name, label); e.g. id,label,...",
            path,
        )
    names: dict[int, str] = {}
    for n, row in enumerate(rows[1:], start=2):
        if max(id_col, name_col) >= len(row) or not _is_int(row[id_col].strip()):
            raise InputError(f"label-names CSV row {n} has no integer label in column {rows[0][id_col]!r}", path)
        names[int(row[id_col])] = row[name_col].strip()
    return names


def _is_int(v) -> bool:
    if isinstance(v, bool):
        return False
    if isinstance(v, int):
        return True
    if isinstance(v, str):
        try:
            int(v)
            return True
        except ValueError:
            return False
    return False


def resolve_classes(n_channels: Optional[int], present: np.ndarray, selection: ClassSelection) -> ClassSet:
    """Class set of one case.

    ``n_channels`` is K for score maps (classes 0..K-1; a single sigmoid channel is K = 2)
    and None for label maps, whose classes are the labels ``present`` in PRED or GT.
    """
    requested, ignore_label = selection.labels, selection.ignore_label
    if n_channels is not None:
        k = max(n_channels, 2)
        all_labels = tuple(range(k))
        if requested is not None:
            bad = [v for v in requested if v >= k]
            if bad:
                raise UsageError(f"@labels {bad[0]} is outside the prediction's {k} classes (0..{k - 1})")
    else:
        all_labels = tuple(int(v) for v in present if v != ignore_label)
    if requested is not None:
        chosen = tuple(v for v in requested if v != ignore_label)
        all_labels = tuple(sorted(set(all_labels) | set(chosen)))
    elif selection.regions:
        chosen = ()  # regions were asked for: they are the classes (nnU-Net's region evaluation); --labels adds labels
    else:
        # A score map keeps the ignore label's channel (CE needs all K), never as a reported class.
        chosen = tuple(v for v in all_labels if v != ignore_label)
    reported = tuple(v for v in chosen if selection.include_background or v != BACKGROUND)
    if len(reported) + len(selection.regions) > MAX_CLASSES:
        raise UsageError(
            f"the case has {len(reported) + len(selection.regions):,} classes (labels in PRED or GT); segloss scores "
            f"at most {MAX_CLASSES:,} per case (every value of a 16-bit label map): more distinct labels is an instance "
            "map or an intensity image, not a label map; check the inputs, or choose the classes with @labels"
        )
    return ClassSet(all_labels, reported, dict(selection.names), selection.regions)


def class_order(label: int | str) -> tuple[int, int | str]:
    """Sort key of class keys: labels by value, then regions by name."""
    return (0, label) if isinstance(label, int) else (1, label)
