"""Colour masks: a palette maps each label to one RGB colour, and back.

Natural-image datasets ship masks either as label indices (palette "P" PNGs, greyscale) or as
colour images; a palette turns the colours into labels exactly (an unknown colour is an error,
never a guess). Presets: ``voc`` (Pascal VOC: 21 classes and 255 = void/boundary, the colours of
VOCdevkit's labelcolormap) and ``cityscapes`` (the 19 train ids of cityscapesScripts'
labels.py, black = 255 unlabelled).

The same mapping serves the Python API: :func:`colors_to_labels`, :func:`labels_to_colors`,
:func:`mask_to_onehot`, :func:`onehot_to_mask` (the seed's ``mask_to_onehot`` idea).
"""

from __future__ import annotations

import csv
import io
import json
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Optional, Union

import numpy as np

from ..errors import InputError
from .textfile import read_text

VOC_NAMES = (
    "background",
    "aeroplane",
    "bicycle",
    "bird",
    "boat",
    "bottle",
    "bus",
    "car",
    "cat",
    "chair",
    "cow",
    "diningtable",
    "dog",
    "horse",
    "motorbike",
    "person",
    "pottedplant",
    "sheep",
    "sofa",
    "train",
    "tvmonitor",
)
CITYSCAPES = (
    ("road", (128, 64, 128)),
    ("sidewalk", (244, 35, 232)),
    ("building", (70, 70, 70)),
    ("wall", (102, 102, 156)),
    ("fence", (190, 153, 153)),
    ("pole", (153, 153, 153)),
    ("traffic light", (250, 170, 30)),
    ("traffic sign", (220, 220, 0)),
    ("vegetation", (107, 142, 35)),
    ("terrain", (152, 251, 152)),
    ("sky", (70, 130, 180)),
    ("person", (220, 20, 60)),
    ("rider", (255, 0, 0)),
    ("car", (0, 0, 142)),
    ("truck", (0, 0, 70)),
    ("bus", (0, 60, 100)),
    ("train", (0, 80, 100)),
    ("motorcycle", (0, 0, 230)),
    ("bicycle", (119, 11, 32)),
)
PRESETS = ("voc", "cityscapes")


@dataclass(frozen=True)
class Palette:
    """label -> (r, g, b), one colour per label and one label per colour; optional names."""

    colors: Mapping[int, tuple[int, int, int]]
    names: Mapping[int, str]
    source: str = "palette"

    def __post_init__(self) -> None:
        seen: dict[tuple[int, ...], int] = {}
        for label, rgb in self.colors.items():
            if label < 0:
                raise InputError(f"palette label {label} is negative; labels are >= 0", self.source)
            if len(rgb) != 3 or not all(0 <= v <= 255 for v in rgb):
                raise InputError(
                    f"palette colour of label {label} is {list(rgb)}; give [r, g, b] in 0..255", self.source
                )
            if tuple(rgb) in seen:
                raise InputError(
                    f"palette gives colour {tuple(rgb)} to labels {seen[tuple(rgb)]} and {label}; one colour per label",
                    self.source,
                )
            seen[tuple(rgb)] = label

    def _table(self) -> tuple[np.ndarray, np.ndarray]:
        keys = np.array([_key(*rgb) for rgb in self.colors.values()], dtype=np.uint32)
        labels = np.array(list(self.colors), dtype=np.int64)
        order = np.argsort(keys)
        return keys[order], labels[order]


def _key(r: int, g: int, b: int) -> int:
    return (int(r) << 16) | (int(g) << 8) | int(b)


def voc_colormap(n: int = 256) -> np.ndarray:
    """VOCdevkit's label colour map: bits of the label spread over r, g, b from the top bit down."""
    cmap = np.zeros((n, 3), dtype=np.uint8)
    for i in range(n):
        c, rgb = i, [0, 0, 0]
        for j in range(8):
            for ch in range(3):
                rgb[ch] |= ((c >> ch) & 1) << (7 - j)
            c >>= 3
        cmap[i] = rgb
    return cmap


def preset(name: str) -> Palette:
    if name == "voc":
        cmap = voc_colormap()
        colors: dict[int, tuple[int, int, int]] = {}
        for i in (*range(len(VOC_NAMES)), 255):
            r, g, b = (int(v) for v in cmap[i])
            colors[i] = (r, g, b)
        names = {**dict(enumerate(VOC_NAMES)), 255: "void"}
        return Palette(colors, names, "voc")
    if name == "cityscapes":
        colors = dict(enumerate(rgb for _, rgb in CITYSCAPES))
        colors[255] = (0, 0, 0)  # void/unlabelled pixels are black in Cityscapes colour images
        names = {**{i: n for i, (n, _) in enumerate(CITYSCAPES)}, 255: "unlabeled"}
        return Palette(colors, names, "cityscapes")
    raise InputError(f"unknown palette preset '{name}'; presets are {', '.join(PRESETS)}, or give a JSON/CSV file")


def load_palette(spec: Union[str, os.PathLike, Mapping[Any, Any], Palette, None]) -> Optional[Palette]:
    """A palette from a preset name, a file or a mapping.

    Files: JSON ``{"1": [128, 0, 0], ...}`` (or ``{"1": {"color": [..], "name": ".."}}``), or CSV
    with columns ``label, r, g, b`` and an optional ``name`` (a header row is optional).
    """
    if spec is None or isinstance(spec, Palette):
        return spec
    if isinstance(spec, Mapping):
        return _from_mapping(spec, "palette")
    text = str(spec)
    if text.lower() in PRESETS and not Path(text).exists():
        return preset(text.lower())
    path = Path(text)
    try:
        raw = read_text(path, 16 << 20, "palette file")
    except FileNotFoundError:
        raise InputError(
            f"palette file not found; give a JSON or CSV file or a preset ({', '.join(PRESETS)}); check @palette", path
        ) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"cannot read the palette file ({type(exc).__name__})", path) from None
    if path.suffix.lower() == ".json" or raw.lstrip().startswith("{"):
        try:
            data = json.loads(raw)
        except json.JSONDecodeError as exc:
            raise InputError(
                f'palette is not valid JSON ({exc.msg}); expected {{"1": [128, 0, 0], ...}}', path
            ) from None
        if not isinstance(data, dict):
            raise InputError('palette JSON must be an object like {"1": [128, 0, 0]}', path)
        return _from_mapping(data, str(path))
    return _from_csv(raw, str(path))


def _from_mapping(data: Mapping[Any, Any], source: str) -> Palette:
    colors: dict[int, tuple[int, int, int]] = {}
    names: dict[int, str] = {}
    for key, value in data.items():
        try:
            label = int(key)
        except (TypeError, ValueError):
            raise InputError(f"palette key {key!r} is not a label (an integer)", source) from None
        if isinstance(value, Mapping):
            if isinstance(value.get("name"), str):
                names[label] = value["name"]
            value = value.get("color", value.get("colour"))
        colors[label] = _rgb(value, label, source)
    if not colors:
        raise InputError("palette is empty; give label -> [r, g, b] entries", source)
    return Palette(colors, names, source)


def _rgb(value: Any, label: int, source: str) -> tuple[int, int, int]:
    if not isinstance(value, Sequence) or isinstance(value, str) or len(value) != 3:
        raise InputError(f"palette colour of label {label} is {value!r}; give [r, g, b]", source)
    try:
        rgb = tuple(int(v) for v in value)
    except (TypeError, ValueError):
        raise InputError(f"palette colour of label {label} is {value!r}; give three integers 0..255", source) from None
    if any(float(v) != int(v) for v in value):
        raise InputError(f"palette colour of label {label} is {value!r}; give three integers 0..255", source)
    return rgb  # type: ignore[return-value]


def _from_csv(raw: str, source: str) -> Palette:
    rows = [r for r in csv.reader(io.StringIO(raw)) if r and any(c.strip() for c in r)]
    if rows and not rows[0][0].strip().lstrip("-").isdigit():
        header = [c.strip().lower() for c in rows[0]]
        rows = rows[1:]
        cols = {name: header.index(name) for name in ("label", "r", "g", "b", "name") if name in header}
        if not {"label", "r", "g", "b"} <= set(cols):
            raise InputError("palette CSV header must name label, r, g, b (and optionally name)", source)
    else:
        cols = {"label": 0, "r": 1, "g": 2, "b": 3, "name": 4}
    data: dict[Any, Any] = {}
    for n, row in enumerate(rows, start=2 if "label" in cols else 1):
        try:
            cells = [row[cols[k]].strip() for k in ("label", "r", "g", "b")]
        except IndexError:
            raise InputError(f"palette CSV row {n} has {len(row)} cells; expected label, r, g, b", source) from None
        entry: dict[str, Any] = {"color": cells[1:]}
        if "name" in cols and cols["name"] < len(row) and row[cols["name"]].strip():
            entry["name"] = row[cols["name"]].strip()
        if cells[0] in data:
            raise InputError(f"palette CSV gives label {cells[0]} twice", source)
        data[cells[0]] = entry
    return _from_mapping(data, source)


def colors_to_labels(rgb: np.ndarray, palette: Palette, *, path: Optional[str] = None) -> np.ndarray:
    """An (..., 3) or (..., 4) uint8 colour image -> label map (alpha ignored); InputError on an
    unknown colour, naming it and how many pixels have it.

    Examples
    --------
    >>> pal = preset("voc")
    >>> colors_to_labels(labels_to_colors(np.array([[0, 15], [255, 1]]), pal), pal)
    array([[  0,  15],
           [255,   1]], dtype=uint8)
    """
    rgb = np.asarray(rgb)
    if rgb.ndim < 3 or rgb.shape[-1] not in (3, 4):
        raise InputError(f"a colour mask has shape (..., 3) or (..., 4), not {rgb.shape}", path)
    if rgb.dtype != np.uint8:
        raise InputError(f"a colour mask has 8-bit channels, not {rgb.dtype}", path)
    keys = (rgb[..., 0].astype(np.uint32) << 16) | (rgb[..., 1].astype(np.uint32) << 8) | rgb[..., 2]
    table, labels = palette._table()
    idx = np.searchsorted(table, keys)
    idx[idx == table.size] = 0
    known = table[idx] == keys
    if not known.all():
        bad, counts = np.unique(keys[~known], return_counts=True)
        worst = int(bad[np.argmax(counts)])
        colour = ((worst >> 16) & 255, (worst >> 8) & 255, worst & 255)
        n_pixels, others = int(counts.max()), bad.size - 1
        also = f"; {others:,} other unknown colour{'s' if others > 1 else ''}" if others else ""
        raise InputError(
            f"colour {colour} in {n_pixels:,} pixel{'s' if n_pixels > 1 else ''} is not in the palette "
            f"({palette.source}, {len(palette.colors)} colours{also}); fix the mask or add the colour "
            "to the palette (a resized colour mask blends colours: resize masks with nearest-neighbour)",
            path,
        )
    dtype = np.uint8 if labels.max(initial=0) <= 255 else np.min_scalar_type(int(labels.max()))
    return labels.astype(dtype)[idx]


def labels_to_colors(labels: np.ndarray, palette: Palette) -> np.ndarray:
    """Label map -> (..., 3) uint8 colour image; KeyError-like InputError for a label without a colour."""
    labels = np.asarray(labels)
    lut_labels = np.array(sorted(palette.colors), dtype=np.int64)
    lut = np.array([palette.colors[int(v)] for v in lut_labels], dtype=np.uint8)
    idx = np.searchsorted(lut_labels, labels)
    idx[idx == lut_labels.size] = 0
    missing = lut_labels[idx] != labels
    if missing.any():
        raise InputError(f"label {int(labels[missing].flat[0])} has no colour in the palette ({palette.source})")
    return lut[idx]


def mask_to_onehot(mask: np.ndarray, palette: Palette) -> np.ndarray:
    """A colour mask (H, W, 3) -> one-hot (H, W, K) over the palette's labels in sorted order."""
    labels = colors_to_labels(mask, palette)
    order = np.array(sorted(palette.colors), dtype=np.int64)
    return (labels[..., None] == order).astype(np.uint8)


def onehot_to_mask(onehot: np.ndarray, palette: Palette) -> np.ndarray:
    """One-hot or scores (H, W, K) over the palette's labels in sorted order -> colour mask (argmax)."""
    order = np.array(sorted(palette.colors), dtype=np.int64)
    onehot = np.asarray(onehot)
    if onehot.shape[-1] != order.size:
        raise InputError(f"one-hot has {onehot.shape[-1]} channels but the palette {order.size} labels")
    return labels_to_colors(order[np.argmax(onehot, axis=-1)], palette)
