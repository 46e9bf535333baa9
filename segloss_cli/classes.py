"""Which classes a case reports, and what they are called (conventions.md, "Classes")."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Optional, Sequence

import numpy as np

from .errors import InputError, UsageError

BACKGROUND = 0
MAX_LABEL_RANGE = 1 << 16


@dataclass(frozen=True)
class ClassSet:
    all_labels: tuple[int, ...]  # every class of the case (background included)
    reported: tuple[int, ...]  # classes with a row in the output
    names: dict[int, str]

    def name(self, label: int) -> Optional[str]:
        return self.names.get(label)


def parse_labels(text: Optional[str]) -> Optional[tuple[int, ...]]:
    """``--labels 1,2,5`` (ranges like ``1-3`` allowed) -> sorted unique labels."""
    if text is None or not text.strip():
        return None
    out: set[int] = set()
    for part in text.split(","):
        part = part.strip()
        if not part:
            continue
        try:
            if "-" in part[1:]:
                a, b = part.split("-", 1) if not part.startswith("-") else (part, "")
                lo, hi = int(a), int(b)
                if hi < lo:
                    raise ValueError
                if hi - lo >= MAX_LABEL_RANGE:  # a typo like 1-1000000000 must not build a huge set
                    raise UsageError(f"--labels: range '{part}' spans more than {MAX_LABEL_RANGE} labels; list the labels present")
                out.update(range(lo, hi + 1))
            else:
                out.add(int(part))
        except ValueError:
            raise UsageError(f"--labels: '{part}' is not a label or a range like 1-3 (example: --labels 1,2,5)") from None
    if any(v < 0 for v in out):
        raise UsageError("--labels: labels must be >= 0")
    if any(v >= 2**63 for v in out):
        raise UsageError("--labels: labels must be below 2**63")
    return tuple(sorted(out))


def load_label_names(path: Optional[str]) -> dict[int, str]:
    """Names from ``{"1": "liver"}`` or a dataset.json with ``labels`` in either direction."""
    if not path:
        return {}
    p = Path(path)
    try:
        data = json.loads(p.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise InputError("label-names file not found; check --label-names", p) from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InputError(f"--label-names is not valid JSON ({exc}); expected {{\"1\": \"liver\"}} or a dataset.json", p) from None
    if isinstance(data, dict) and isinstance(data.get("labels"), dict):
        data = data["labels"]
    if not isinstance(data, dict):
        raise InputError("--label-names must be a JSON object like {\"1\": \"liver\"} or a dataset.json", p)
    names: dict[int, str] = {}
    for key, value in data.items():
        if isinstance(value, (list, tuple)):
            continue  # nnU-Net region labels ({"tumor": [2, 3]}) name regions, not single labels
        if _is_int(key) and isinstance(value, str):
            names[int(key)] = value
        elif isinstance(key, str) and _is_int(value):
            names[int(value)] = key
        else:
            raise InputError(f"--label-names entry {key!r}: {value!r} maps neither label->name nor name->label", p)
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


def resolve_classes(
    *,
    n_channels: Optional[int],
    present: np.ndarray,
    requested: Optional[Sequence[int]],
    include_background: bool,
    ignore_label: Optional[int],
    names: dict[int, str],
) -> ClassSet:
    """Class set of one case.

    ``n_channels`` is K for score maps (classes 0..K-1; a single sigmoid channel is K = 2)
    and None for label maps, whose classes are the labels ``present`` in PRED or GT.
    """
    if n_channels is not None:
        k = max(n_channels, 2)
        all_labels = tuple(range(k))
        if requested is not None:
            bad = [v for v in requested if v >= k]
            if bad:
                raise UsageError(f"--labels {bad[0]} is outside the prediction's {k} classes (0..{k - 1})")
    else:
        all_labels = tuple(int(v) for v in present if v != ignore_label)
    if requested is not None:
        chosen = tuple(v for v in requested if v != ignore_label)
        all_labels = tuple(sorted(set(all_labels) | set(chosen)))
    else:
        chosen = all_labels
    reported = tuple(v for v in chosen if include_background or v != BACKGROUND)
    return ClassSet(all_labels, reported, names)
