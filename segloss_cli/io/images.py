"""2-D image masks: PNG (Pillow) and TIFF (tifffile) -> Volume; JPEG refused.

- PNG: palette ("P") images give their indices (the labels VOC and others store), greyscale
  8/16-bit and 1-bit give their values; RGB/RGBA colour masks need a palette (io/palette.py)
  and an unknown colour is an error. An alpha channel is ignored; one that is not opaque
  everywhere gets a note (ALPHA_NOTE).
- TIFF: the array as stored (any dtype and shape tifffile reads: a label map, a stack, a
  float score map); RGB photometry is a colour mask as for PNG.
- JPEG: refused; lossy compression changes pixel values, so a label map cannot survive it.

Images carry no physical spacing (a PNG's dpi is not a voxel size): unless a spacing is given,
a 2-D image's spacing source is ``pixel``, distances come in pixels and volumes are undefined.
"""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import numpy as np

from ..errors import InputError
from ..model import Volume
from .palette import Palette, colors_to_labels

IMAGE_SUFFIXES = (".png", ".tif", ".tiff")
LOSSY_SUFFIXES = (".jpg", ".jpeg")
_INDEX_MODES = {
    "P": None,
    "PA": "P",
    "L": None,
    "LA": "L",
    "1": None,
    "I;16": None,
    "I;16B": None,
    "I;16L": None,
    "I": None,
    "F": None,
}
_COLOUR_MODES = ("RGB", "RGBA", "RGBX")
ALPHA_NOTE = (
    "a mask's alpha channel is transparent in places; segloss ignores alpha, so a transparent pixel keeps "
    "the label of its colour or index (give such pixels a label of their own and --ignore-label it to leave them out)"
)


def read_image(path: Path, kind: str, *, palette: Optional[Palette], spacing_mm) -> Volume:
    if kind in LOSSY_SUFFIXES:
        raise InputError(
            "JPEG masks are refused: lossy compression changes pixel values, so labels are destroyed "
            "(a class 3 pixel can read back as 2 or 4); save masks as PNG",
            path,
        )
    notes: list[str] = []
    if kind == ".png":
        array = _read_png(path, palette, notes)
    else:
        array = _read_tiff(path, palette)
    if spacing_mm is not None:
        spacing, source = tuple(float(s) for s in spacing_mm), "option"
    else:
        spacing, source = None, "pixel" if array.ndim == 2 else "none"
    return Volume(array, spacing, None, str(path), spacing_source=source, notes=tuple(notes))


def _read_png(path: Path, palette: Optional[Palette], notes: list[str]) -> np.ndarray:
    from PIL import Image, UnidentifiedImageError

    from .png import decode_png

    try:
        data: Optional[bytes] = path.read_bytes()
    except OSError:
        data = None  # Pillow's open below says why
    fast = None if data is None else decode_png(data, Image.MAX_IMAGE_PIXELS)
    if fast is not None:  # a well-formed 8-bit greyscale or palette PNG (io/png.py)
        return fast
    try:
        with Image.open(path) as img:
            if img.format != "PNG":
                raise InputError(f"is named .png but holds a {img.format} image; save the mask as PNG", path)
            mode = img.mode
            if "A" in mode and not _opaque(img):
                notes.append(ALPHA_NOTE)
            if mode in _COLOUR_MODES:
                rgb = np.asarray(img.convert("RGB") if mode != "RGB" else img)
                return _colour(rgb, palette, path, f"an {mode} colour PNG")
            if mode not in _INDEX_MODES:
                raise InputError(
                    f"PNG mode {mode} is not a mask; save label indices (greyscale or palette PNG) or RGB colours", path
                )
            band = _INDEX_MODES[mode]
            if band is not None:  # an alpha channel beside the labels: keep the labels
                img = img.getchannel(0)
            array = np.asarray(img)
    except InputError:
        raise
    except UnidentifiedImageError:
        raise InputError("not a readable PNG (truncated or corrupt); re-export it", path) from None
    except (OSError, SyntaxError, ValueError) as exc:
        raise InputError(f"not a readable PNG ({type(exc).__name__}: {str(exc)[:120]}); re-export it", path) from None
    return np.ascontiguousarray(array)


def _opaque(img) -> bool:
    """Whether the alpha channel of ``img`` (LA, PA, RGBA: 8-bit in Pillow) is 255 everywhere."""
    return tuple(img.getchannel("A").getextrema()) == (255, 255)


def _read_tiff(path: Path, palette: Optional[Palette]) -> np.ndarray:
    import tifffile

    try:
        with tifffile.TiffFile(path) as tif:
            page = tif.pages[0]
            photometric = getattr(page, "photometric", None)
            array = tif.asarray()
    except (tifffile.TiffFileError, OSError, ValueError, IndexError) as exc:
        raise InputError(
            f"cannot decode the TIFF ({type(exc).__name__}: {str(exc)[:120]}); re-export it", path
        ) from None
    if photometric is not None and int(photometric) == 2 and array.ndim >= 3 and array.shape[-1] in (3, 4):  # RGB
        return _colour(array, palette, path, "an RGB TIFF")
    if not array.dtype.isnative:
        array = array.astype(array.dtype.newbyteorder("="))
    return array


def _colour(rgb: np.ndarray, palette: Optional[Palette], path: Path, what: str) -> np.ndarray:
    if palette is None:
        raise InputError(
            f"is {what} (a colour mask); pass @palette (a JSON/CSV of label -> [r, g, b], or voc, "
            "cityscapes) to map colours to labels, or save label indices (a palette or greyscale PNG)",
            path,
        )
    return colors_to_labels(rgb, palette, path=str(path))
