"""JSON output, schema_version 1 (conventions.md, "Output"). Never NaN or Infinity."""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Iterator
from dataclasses import replace
from typing import Any, Optional

from ..model import CaseResult, RunResult, Summary

SCHEMA_VERSION = 1


def _clean(value: Any) -> Any:
    """Replace non-finite floats by None (JSON null); recurse into containers."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {str(k): _clean(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_clean(v) for v in value]
    if hasattr(value, "item") and callable(value.item):  # numpy scalar
        return _clean(value.item())
    return value


_ENCODE = json.JSONEncoder(allow_nan=False).encode  # anything unusual: json's own rules
_ESCAPE = json.encoder.encode_basestring_ascii  # json's (C) string escaping, ensure_ascii


def _leaf(value: Any) -> str:
    """A scalar as json writes it (int/float repr, true/false/null, ASCII-escaped strings)."""
    kind = type(value)
    if kind is str:
        return _ESCAPE(value)
    if kind is float:
        if value != value or value in (math.inf, -math.inf):
            raise ValueError(f"Out of range float values are not JSON compliant: {value!r}")
        return float.__repr__(value)
    if kind is int:
        return int.__repr__(value)
    if value is None:
        return "null"
    if value is True:
        return "true"
    if value is False:
        return "false"
    return _ENCODE(value)


def _key(key: Any) -> str:
    # json's rules for a non-string key: its JSON text, then quoted (3 -> "3", True -> "true").
    return _ESCAPE(key) if isinstance(key, str) else _ENCODE(_ENCODE(key))


def indented(value: Any, pad: str = "") -> str:
    """``json.dumps(value, indent=2, allow_nan=False)`` with ``pad`` after every newline: the same
    bytes, built one value at a time.

    json's indenting encoder is pure Python and keeps every token of the document as a string
    object in one list before joining (about 7 bytes of memory per byte of output, 1 GB for a
    case of 16,000 classes); here only each container's lines are held, and scalars go through
    the C encoder.
    """
    if isinstance(value, dict):
        if not value:
            return "{}"
        inner = pad + "  "
        lines = [f"{inner}{_key(k)}: {indented(v, inner)}" for k, v in value.items()]
        return "{\n" + ",\n".join(lines) + "\n" + pad + "}"
    if isinstance(value, (list, tuple)):
        if not value:
            return "[]"
        inner = pad + "  "
        return "[\n" + ",\n".join(inner + indented(v, inner) for v in value) + "\n" + pad + "]"
    return _leaf(value)


def run_dict(run: RunResult) -> dict[str, Any]:
    return _clean(
        {
            "schema_version": SCHEMA_VERSION,
            "segloss_version": run.settings.get("segloss_version"),
            "settings": {k: v for k, v in run.settings.items() if k != "segloss_version"},
            "cases": [c.to_dict() for c in run.cases],
            "summary": None if run.summary is None else run.summary.to_dict(),
        }
    )


def _case_line(case: CaseResult) -> str:
    """One case as compact JSON. A case's values are plain Python numbers with undefined as
    None already, so the C encoder takes the dict as it is; only a case it refuses (a
    non-finite or numpy value somewhere) goes through the recursive cleaning."""
    data = case.to_dict()
    try:
        return json.dumps(data, allow_nan=False)
    except (ValueError, TypeError):
        return json.dumps(_clean(data), allow_nan=False)


def _shard_text(block: dict[str, Any]) -> str:
    """A shard block (segloss_cli.shards) indented like the rest, its cases one line each."""
    parts = []
    for key, value in block.items():
        if key == "cases" and value:
            text = "{\n" + ",\n".join(
                f"      {json.dumps(k)}: {json.dumps(v, allow_nan=False)}" for k, v in value.items()
            )
            text += "\n    }"
        else:
            text = indented(value, "    ")
        parts.append(f"    {json.dumps(key)}: {text}")
    return "{\n" + ",\n".join(parts) + "\n  }"


def render_json(run: RunResult, *, shard: Optional[dict[str, Any]] = None) -> str:
    """The run as JSON: indented; in a folder run each case takes one line.

    Python's json module indents only in pure Python (~10 MB/s), which made the cases of a
    large folder the slowest part of writing results; one compact line per case comes from
    its C encoder and keeps the file greppable by case. A single pair stays fully indented.
    Whitespace only: the document is the same either way. ``shard``: the block a shard's
    result carries for ``segloss merge`` (segloss_cli.shards.shard_block), added last.
    The text of :func:`write_json`, joined.
    """
    parts: list[str] = []
    write_json(run, parts.append, shard=shard)
    return "".join(parts)


class _Entries:
    """A JSON object or array produced one entry at a time: ``entries()`` yields (key, value)
    pairs (``array``: values only). A value may itself be an :class:`_Entries`."""

    __slots__ = ("entries", "array")

    def __init__(self, entries: Callable[[], Iterator[Any]], *, array: bool = False):
        self.entries = entries
        self.array = array


def _stream(value: Any, write: Callable[[str], Any], pad: str) -> None:
    """:func:`indented` of ``value`` through ``write``: an :class:`_Entries` entry by entry (each
    entry cleaned, rendered and written before the next is made), anything else whole."""
    if not isinstance(value, _Entries):
        write(indented(_clean(value), pad))
        return
    inner = pad + "  "
    first = True
    for entry in value.entries():
        write(("[\n" if value.array else "{\n") if first else ",\n")
        first = False
        if value.array:
            write(inner)
            _stream(entry, write, inner)
        else:
            key, item = entry
            write(f"{inner}{_key(str(key))}: ")
            _stream(item, write, inner)
    if first:
        write("[]" if value.array else "{}")
    else:
        write("\n" + pad + ("]" if value.array else "}"))


def _lazy(full: dict[str, Any], key: str, entries: Callable[[], Iterator[Any]]) -> _Entries:
    """``full`` (a to_dict() made without the entries of ``key``) as :class:`_Entries`, with
    ``key``'s entries made one at a time."""
    full[key] = _Entries(entries)
    return _Entries(lambda: iter(full.items()))


def _case_value(case: CaseResult) -> _Entries:
    """A case's to_dict(), its classes one at a time."""
    full = replace(case, classes=()).to_dict()
    return _lazy(full, "classes", lambda: ((row.label, row.to_dict()) for row in case.classes))


def _summary_value(summary: Summary) -> _Entries:
    """The summary's to_dict(), its classes (and the pooled view's) one at a time."""
    pooled = summary.pooled
    full = replace(summary, classes=(), pooled=None if pooled is None else replace(pooled, classes=())).to_dict()
    if pooled is not None:
        full["pooled"] = _lazy(full["pooled"], "classes", lambda: ((c.label, c.to_dict()) for c in pooled.classes))
    return _lazy(full, "classes", lambda: ((c.label, c.to_dict()) for c in summary.classes))


def write_json(run: RunResult, write: Callable[[str], Any], *, shard: Optional[dict[str, Any]] = None) -> None:
    """:func:`render_json`'s text (the same bytes), given to ``write`` in pieces: the run is
    rendered one class (and, in a folder, one case) at a time, so memory holds the run and one
    class's text, never the document (65,535 classes: 460 MB of JSON) or a dict copy of it."""
    head = {
        "schema_version": SCHEMA_VERSION,
        "segloss_version": run.settings.get("segloss_version"),
        "settings": {k: v for k, v in run.settings.items() if k != "segloss_version"},
    }
    write("{\n")
    for key, value in head.items():
        write(f"  {json.dumps(key)}: {indented(_clean(value), '  ')},\n")
    write(f"  {json.dumps('cases')}: ")
    if len(run.cases) > 1:  # a folder: one compact line per case
        write("[\n")
        for i, case in enumerate(run.cases):
            write(("    " if i == 0 else ",\n    ") + _case_line(case))
        write("\n  ]")
    else:
        _stream(_Entries(lambda: (_case_value(c) for c in run.cases), array=True), write, "  ")
    write(f",\n  {json.dumps('summary')}: ")
    _stream(None if run.summary is None else _summary_value(run.summary), write, "  ")
    if shard is not None:
        write(f",\n  {json.dumps('shard')}: {_shard_text(shard)}")
    write("\n}\n")
