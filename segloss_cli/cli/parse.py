"""Text of command-line options -> the values the library takes (lists, maps, numbers).

Only parsing lives here, worded in terms of the options; ranges and meanings are checked by
the library's parameter records, whose errors the CLI renders with option names.
"""

from __future__ import annotations

from typing import Optional, Union

from ..errors import UsageError

MAX_LABEL_RANGE = 1 << 16


def parse_labels(text: Optional[str]) -> Optional[tuple[int | str, ...]]:
    """``--labels 1,2,5`` (ranges like ``1-3`` allowed, and class names: ``liver,spleen``) ->
    labels and names (names are resolved against the label names by api.make_params)."""
    if text is None or not text.strip():
        return None
    out: set[int] = set()
    names: list[str] = []
    for part in text.split(","):
        part = part.strip()
        if not part:
            continue
        if part[0].isalpha() or part[0] == "_":
            names.append(part)
            continue
        try:
            if "-" in part[1:]:
                a, b = part.split("-", 1) if not part.startswith("-") else (part, "")
                lo, hi = int(a), int(b)
                if hi < lo:
                    raise ValueError
            else:
                lo = hi = int(part)
        except ValueError:
            raise UsageError(
                f"--labels: '{part}' is not a label or a range like 1-3 (example: --labels 1,2,5)"
            ) from None
        if hi - lo >= MAX_LABEL_RANGE:  # a typo like 1-1000000000 must not build a huge set
            raise UsageError(
                f"--labels: range '{part}' spans more than {MAX_LABEL_RANGE} labels; list the labels present"
            )
        out.update(range(lo, hi + 1))
    return (*sorted(out), *names)  # the range of a label: api.make_params


def parse_regions(items: Optional[list[str]]) -> Optional[dict[str, list[int]]]:
    """``--region WT=1,2,3`` (repeatable; ranges allowed: ``WT=1-3``) -> {name: labels}."""
    if not items:
        return None
    out: dict[str, list[int]] = {}
    for item in items:
        name, sep, rest = item.partition("=")
        name = name.strip()
        if not sep or not name:
            raise UsageError(f"--region '{item}': expected NAME=LABELS, e.g. --region WT=1,2,3")
        labels = parse_labels(rest)
        if not labels or any(isinstance(v, str) for v in labels):
            raise UsageError(f"--region '{item}': list the region's labels as numbers, e.g. --region TC=2,3")
        if name in out:
            raise UsageError(f"--region {name} is given twice")
        out[name] = [int(v) for v in labels]
    return out


def parse_weights(text: Optional[str]) -> Union[None, tuple[float, ...], dict[int, float]]:
    """``--weights 1,2,0.5`` (one per class) or ``--weights 1=2,3=0.5`` (label=weight).

    Returns None, a tuple of floats, or a dict label -> float; resolved per case against
    the class set by ``losses.registry.resolve_weights``.
    """
    if text is None or not text.strip():
        return None
    parts = [p.strip() for p in text.replace(";", ",").split(",") if p.strip()]
    try:
        if any("=" in p for p in parts):
            pairs = [(int(k), float(v)) for k, v in (p.split("=", 1) for p in parts)]
        else:
            return tuple(float(p) for p in parts)
    except ValueError:
        raise UsageError(
            f"--weights: '{text}' is neither numbers nor label=weight pairs "
            "(example: --weights 0.1,1,2 or --weights 1=2,3=0.5)"
        ) from None
    out = dict(pairs)
    if len(out) < len(pairs):
        twice = next(k for k in out if sum(1 for lab, _ in pairs if lab == k) > 1)
        raise UsageError(f"--weights: label {twice} is given twice; give one weight per label")
    return out


def parse_floats(text: Optional[str], option: str) -> Optional[list[float]]:
    """``0.8,0.8,2.5`` (commas or spaces) -> numbers."""
    if text is None:
        return None
    try:
        return [float(v) for v in text.replace(",", " ").split()]
    except ValueError:
        raise UsageError(f"{option}: '{text}' is not a list of numbers (example: {option} 0.8,0.8,2.5)") from None


def parse_nsd_tolerance(text: Optional[str]) -> Optional[dict[Optional[int], float]]:
    """``--nsd-tolerance``: '2', '1=2,3=0.5' or '1.5,3=0.5' -> {None: default, label: mm}."""
    if text is None:
        return None
    out: dict[Optional[int], float] = {}
    for item in text.replace(" ", "").split(","):
        if not item:
            continue
        key, sep, val = item.rpartition("=")
        try:
            mm = float(val)
            label = int(key) if sep else None
        except ValueError:
            raise UsageError(
                f"--nsd-tolerance: '{item}' is neither a number of mm nor label=mm (example: --nsd-tolerance 1.5,3=0.5)"
            ) from None
        if label in out:
            raise UsageError(
                "--nsd-tolerance: give one default tolerance, then label=mm pairs"
                if label is None
                else f"--nsd-tolerance: label {label} given twice"
            )
        out[label] = mm
    return out


def parse_storage_options(items: Optional[list[str]]) -> Optional[dict]:
    """``--storage-option key=value`` (repeatable) -> fsspec keywords. ``true``/``false`` are
    booleans, a whole number is an int, ``{...}``/``[...]`` is JSON (``client_kwargs={...}``);
    any other value stays text (keys and secrets are never turned into numbers by accident
    unless they are all digits)."""
    import json

    if not items:
        return None
    out: dict = {}
    for item in items:
        key, sep, value = item.partition("=")
        key = key.strip()
        if not sep or not key:
            raise UsageError(
                f"--storage-option '{item}': give key=value, e.g. --storage-option endpoint_url=http://127.0.0.1:9000"
            )
        low = value.strip().lower()
        parsed: object = value
        if low in ("true", "false"):
            parsed = low == "true"
        elif value.strip().isdigit():
            parsed = int(value)
        elif value.strip()[:1] in ("{", "["):
            try:
                parsed = json.loads(value)
            except ValueError:
                raise UsageError(f"--storage-option {key}: '{value}' is not valid JSON") from None
        out[key] = parsed
    return out
