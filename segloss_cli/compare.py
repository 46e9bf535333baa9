"""Regression check between two segloss JSON results (single pairs or folders).

Values compared are the summary means per class (for a single pair, the case value itself),
per metric and loss. An allowance ``--max-drop dice=0.01`` flags a class whose value fell by
more than 0.01; ``--max-rise hd95=1.0`` one whose value rose by more than 1.0. A gated value
that became undefined (null) in NEW, or a class that disappeared from NEW, is a regression
too (unless ``allow_undefined`` for the null case): a gate never passes by losing data.

Nothing here prints: :func:`compare_results` returns a :class:`Comparison` for report/.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Optional

from .errors import InputError, UsageError

# Settings whose difference changes what numbers mean; listed as notes when they differ.
_IGNORED_SETTINGS = ("segloss_version",)
_EPS = 1e-12


@dataclass(frozen=True)
class Allowance:
    key: str  # metric name or loss.NAME
    direction: str  # drop | rise
    amount: float

    def describe(self) -> str:
        return f"{self.direction} <= {self.amount:g}"


@dataclass(frozen=True)
class Row:
    label: str  # class label as in JSON; "mean" for the mean over classes; "reduced" for a loss value
    name: Optional[str]
    key: str
    base: Optional[float]
    new: Optional[float]
    allowance: Optional[Allowance]
    status: str  # ok | regression | undefined | missing | new_class | info

    @property
    def delta(self) -> Optional[float]:
        if self.base is None or self.new is None:
            return None
        return self.new - self.base

    @property
    def failed(self) -> bool:
        return self.status in ("regression", "undefined", "missing")


@dataclass(frozen=True)
class Comparison:
    base: str
    new: str
    rows: tuple[Row, ...]
    notes: tuple[str, ...] = ()
    allowances: tuple[Allowance, ...] = field(default_factory=tuple)

    @property
    def failures(self) -> tuple[Row, ...]:
        return tuple(r for r in self.rows if r.failed)

    def to_dict(self) -> dict[str, Any]:
        def clean(v):
            return None if v is None or not math.isfinite(v) else v

        return {
            "base": self.base,
            "new": self.new,
            "allowances": [{"key": a.key, "direction": a.direction, "amount": a.amount} for a in self.allowances],
            "n_regressions": len(self.failures),
            "rows": [
                {
                    "label": r.label,
                    "name": r.name,
                    "key": r.key,
                    "base": clean(r.base),
                    "new": clean(r.new),
                    "delta": None if r.delta is None else clean(r.delta),
                    "allowed": None if r.allowance is None else r.allowance.describe(),
                    "status": r.status,
                }
                for r in self.rows
            ],
            "notes": list(self.notes),
        }


class _NotFinite(ValueError):
    pass


def _no_constant(name: str):
    raise _NotFinite(name)  # NaN, Infinity, -Infinity: Python's json accepts them, JSON does not


def _check_numbers(summary: Any, path: Path) -> None:
    """Every statistic a comparison reads is a number or null (a string mean is a tampered file)."""

    def stat_blocks(entry: Any):
        for kind in ("metrics", "losses"):
            block = entry.get(kind, {}) if isinstance(entry, dict) else None
            if not isinstance(block, dict):
                raise InputError(f"summary {kind} must be objects; not a segloss result", path)
            yield from block.items()

    classes = summary.get("classes", {})
    if not isinstance(classes, dict):
        raise InputError("summary classes must be an object; not a segloss result", path)
    entries = [("classes", k, v) for k, v in classes.items()]
    blocks = [(f"class {k}", name, st) for _, k, v in entries for name, st in stat_blocks(v)]
    for where in ("mean_over_classes", "losses"):
        block = summary.get(where) or {}
        if not isinstance(block, dict):
            raise InputError(f"summary {where} must be an object; not a segloss result", path)
        blocks += [(where, name, st) for name, st in block.items()]
    for where, name, st in blocks:
        mean = st.get("mean") if isinstance(st, dict) else "missing"
        if mean is not None and (isinstance(mean, bool) or not isinstance(mean, (int, float))):
            raise InputError(f"{where}, {name}: mean is {mean!r}, not a number or null; not a segloss result", path)


def load_result(path: str | Path) -> dict[str, Any]:
    p = Path(path)
    try:
        data = json.loads(p.read_text(encoding="utf-8"), parse_constant=_no_constant)
    except _NotFinite as exc:
        raise InputError(
            f"holds {exc.args[0]}, which segloss never writes (undefined is null); the file was edited "
            "or is not a segloss result",
            p,
        ) from None
    except RecursionError:
        raise InputError("is nested too deeply to be a segloss result", p) from None
    except FileNotFoundError:
        raise InputError("file not found; give a JSON written by `segloss eval --json`", p) from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InputError(
            f"not a readable JSON file ({type(exc).__name__}); give a JSON written by `segloss eval --json`", p
        ) from None
    except ValueError:  # Python's limit on the digits of an integer
        raise InputError("holds a number too large to parse; not a segloss result", p) from None
    if not isinstance(data, dict) or data.get("schema_version") != 1 or not isinstance(data.get("summary"), dict):
        raise InputError(
            "not a segloss result (schema_version 1 with a summary); write one with `segloss eval ... --json`", p
        )
    _check_numbers(data["summary"], p)
    return data


def _canonical(key: str) -> str:
    key = key.strip()
    if key.lower().startswith("loss."):
        return "loss." + key[5:].strip().lower()
    from .metrics.registry import resolve

    return resolve(key).name


def parse_allowances(items: Sequence[str], direction: str) -> list[Allowance]:
    """``dice=0.01`` items (repeatable or comma-separated) -> Allowances."""
    option = f"--max-{direction}"
    out = []
    for item in items:
        for part in item.split(","):
            part = part.strip()
            if not part:
                continue
            if "=" not in part:
                raise UsageError(f"{option} '{part}': expected NAME=AMOUNT, e.g. {option} dice=0.01")
            name, _, amount = part.partition("=")
            try:
                value = float(amount)
            except ValueError:
                raise UsageError(f"{option} '{part}': '{amount}' is not a number") from None
            if not math.isfinite(value) or value < 0:
                raise UsageError(f"{option} '{part}': the allowance must be a number >= 0")
            out.append(Allowance(_canonical(name), direction, value))
    return out


def _values(data: dict[str, Any]) -> dict[tuple[str, str], Optional[float]]:
    """(label, key) -> summary mean; labels are JSON labels, 'mean' and 'reduced'."""
    summary = data["summary"]
    out: dict[tuple[str, str], Optional[float]] = {}
    for label, entry in summary.get("classes", {}).items():
        for m, st in entry.get("metrics", {}).items():
            out[(label, m)] = st.get("mean")
        for name, st in entry.get("losses", {}).items():
            out[(label, f"loss.{name}")] = st.get("mean")
    for m, st in summary.get("mean_over_classes", {}).items():
        out[("mean", m)] = st.get("mean")
    for name, st in (summary.get("losses") or {}).items():
        out[("reduced", f"loss.{name}")] = st.get("mean")
    return out


def _keys(data: dict[str, Any]) -> set[str]:
    return {key for _, key in _values(data)}


def _names(data: dict[str, Any]) -> dict[str, Optional[str]]:
    return {label: entry.get("name") for label, entry in data["summary"].get("classes", {}).items()}


def _label_order(label: str) -> tuple[int, int, str]:
    if label == "mean":
        return (2, 0, "")
    if label == "reduced":
        return (3, 0, "")
    if label.lstrip("-").isdigit():
        return (0, int(label), "")
    return (1, 0, label)  # a region


def _notes(base: dict[str, Any], new: dict[str, Any]) -> list[str]:
    notes = []
    bs, ns = base.get("settings", {}), new.get("settings", {})
    for key in sorted(set(bs) | set(ns)):
        if key in _IGNORED_SETTINGS or key in ("metrics", "losses"):
            continue
        if bs.get(key) != ns.get(key):
            notes.append(f"setting {key} differs: {json.dumps(bs.get(key))} in BASE, {json.dumps(ns.get(key))} in NEW")
    bc = {c.get("case") for c in base.get("cases", [])}
    nc = {c.get("case") for c in new.get("cases", [])}
    if len(bc) > 1 or len(nc) > 1:
        only_b, only_n = sorted(bc - nc), sorted(nc - bc)
        if only_b:
            notes.append(
                f"{len(only_b)} case(s) only in BASE: {', '.join(only_b[:10])}{' ...' if len(only_b) > 10 else ''}"
            )
        if only_n:
            notes.append(
                f"{len(only_n)} case(s) only in NEW: {', '.join(only_n[:10])}{' ...' if len(only_n) > 10 else ''}"
            )
    return notes


def compare_results(
    base: dict[str, Any],
    new: dict[str, Any],
    allowances: Sequence[Allowance] = (),
    *,
    keys: Optional[Sequence[str]] = None,
    allow_undefined: bool = False,
    base_name: str = "BASE",
    new_name: str = "NEW",
) -> Comparison:
    """Rows for every class and key shown: the gated keys plus ``keys`` (default: the
    terminal table's metrics and every loss present in both results)."""
    bv, nv = _values(base), _values(new)
    shared = _keys(base) & _keys(new)
    by_key: dict[str, Allowance] = {}
    for a in allowances:
        if a.key not in shared:
            where = (
                "either result"
                if a.key not in (_keys(base) | _keys(new))
                else ("NEW" if a.key in _keys(base) else "BASE")
            )
            raise UsageError(f"--max-{a.direction} {a.key}: not in {where}; compare results that both computed it")
        if a.key in by_key:
            raise UsageError(f"{a.key} has two allowances; give one --max-drop or --max-rise per metric")
        by_key[a.key] = a
    if keys is None:
        from .metrics.registry import all_metrics

        specs = all_metrics()
        keys = list(by_key) or [m for m in specs if specs[m].in_table and m in shared]
        keys += sorted(k for k in shared if k.startswith("loss.") and k not in keys)
    else:
        keys = [_canonical(k) for k in keys]
        for k in keys:
            if k not in shared:
                raise UsageError(f"--metrics {k}: not in both results")
        keys += [k for k in by_key if k not in keys]
    names = {**_names(new), **_names(base)}
    rows: list[Row] = []
    labels = sorted({lab for lab, _ in bv} | {lab for lab, _ in nv}, key=_label_order)
    for key in keys:
        allowance = by_key.get(key)
        for label in labels:
            in_b, in_n = (label, key) in bv, (label, key) in nv
            if not in_b and not in_n:
                continue
            b, n = bv.get((label, key)), nv.get((label, key))
            gated = allowance if label != "mean" else None
            rows.append(
                Row(label, names.get(label), key, b, n, gated, _status(in_b, in_n, b, n, gated, allow_undefined))
            )
    return Comparison(base_name, new_name, tuple(rows), tuple(_notes(base, new)), tuple(allowances))


def _status(in_b: bool, in_n: bool, b, n, allowance: Optional[Allowance], allow_undefined: bool) -> str:
    if not in_n:
        return "missing" if allowance is not None else "info"
    if not in_b:
        return "new_class"
    if allowance is None:
        return "info"
    if n is None:
        return "ok" if (b is None or allow_undefined) else "undefined"
    if b is None:
        return "ok"
    tol = _EPS * max(1.0, abs(b))
    if allowance.direction == "drop" and b - n > allowance.amount + tol:
        return "regression"
    if allowance.direction == "rise" and n - b > allowance.amount + tol:
        return "regression"
    return "ok"
