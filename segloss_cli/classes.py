"""Which classes a case reports, and what they are called (conventions.md, "Classes")."""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional

import numpy as np

from .errors import InputError, UsageError

BACKGROUND = 0


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


@dataclass(frozen=True)
class ClassSet:
    all_labels: tuple[int, ...]  # every class of the case (background included)
    reported: tuple[int, ...]  # classes with a row in the output
    names: dict[int, str]

    def name(self, label: int) -> Optional[str]:
        return self.names.get(label)


def load_label_names(path: Optional[str | os.PathLike]) -> dict[int, str]:
    """Names from a JSON file: ``{"1": "liver"}`` or a dataset.json with ``labels`` in either direction."""
    if not path:
        return {}
    p = Path(path)
    try:
        data = json.loads(p.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise InputError("label-names file not found; check @label_names", p) from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InputError(
            f'@label_names is not valid JSON ({exc}); expected {{"1": "liver"}} or a dataset.json', p
        ) from None
    return label_names_from(data, p)


def label_names_from(data: object, path=None) -> dict[int, str]:
    """Names from a parsed label table: ``{label: name}``, ``{name: label}`` or a dataset.json dict."""
    p = path
    if isinstance(data, dict) and isinstance(data.get("labels"), dict):
        data = data["labels"]
    if not isinstance(data, dict):
        raise InputError('@label_names must be a JSON object like {"1": "liver"} or a dataset.json', p)
    names: dict[int, str] = {}
    for key, value in data.items():
        if isinstance(value, (list, tuple)):
            continue  # nnU-Net region labels ({"tumor": [2, 3]}) name regions, not single labels
        if _is_int(key) and isinstance(value, str):
            names[int(key)] = value
        elif isinstance(key, str) and _is_int(value):
            names[int(value)] = key
        else:
            raise InputError(f"@label_names entry {key!r}: {value!r} maps neither label->name nor name->label", p)
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
    else:
        chosen = all_labels
    reported = tuple(v for v in chosen if selection.include_background or v != BACKGROUND)
    return ClassSet(all_labels, reported, dict(selection.names))
