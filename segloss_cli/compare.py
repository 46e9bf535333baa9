"""Regression check between two segloss JSON results (single pairs or folders).

Values compared are the summary means per class (for a single pair, the case value itself),
per metric and loss. An allowance ``--max-drop dice=0.01`` flags a class whose value fell by
more than 0.01; ``--max-rise hd95=1.0`` one whose value rose by more than 1.0. A gated value
that became undefined (null) in NEW, or a class that disappeared from NEW, is a regression
too (unless ``allow_undefined`` for the null case): a gate never passes by losing data.

Per case: the cases of both results are matched by case id (two single-pair results are
matched whatever their ids: a pair's id is its GT file name), and for every class and key the
change NEW - BASE of each case is computed. A row names the cases that moved the most in the
bad direction (a drop for a higher-is-better metric, a rise for a lower-is-better one or a
loss, the allowance's direction when one is given), so a regression of the mean points at
the case that caused it.

Refused (UsageError, exit 2) unless ``force``: folder results that share no case, and
results computed with settings that change the compared numbers (conventions.md: the
empty-mask policy, the class set, the hd95 and NSD definitions, the distance unit, the loss
parameters). Under ``force`` the differences are notes.

Nothing here prints: :func:`compare_results` returns a :class:`Comparison` for report/.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Optional

from .errors import DuplicateKey, InputError, UsageError, unique_keys
from .io.textfile import read_text

# Settings whose difference changes what numbers mean; listed as notes when they differ.
_IGNORED_SETTINGS = ("segloss_version",)
_EPS = 1e-12
# A result file read by compare, merge or rank (65,535 classes of one pair: 460 MB of JSON).
MAX_RESULT_FILE_BYTES = 8 << 30
MOVERS_KEPT = 5  # per row: the cases that moved the most in the bad direction

# Settings that change the numbers of some keys, and which keys: "all" (the class set, the
# empty-mask values), "distance" (every surface metric), "loss" (every loss) or metric names.
# A key absent from one result's settings means that result computed none of its keys, so
# only the "all" settings compare an absent value (regions: absent = no regions).
INCOMPATIBLE_SETTINGS: dict[str, tuple[str, ...]] = {
    "empty_policy": ("all",),
    "empty_values": ("all",),  # per-metric empty values (--empty-value, --convention); absent: none
    "assd_mode": ("all",),  # absent means pooled, so it compares like the "all" settings
    "distance_metric": ("all",),  # absent means euclidean, likewise
    "gt_type": ("all",),  # absent means labels; soft labels change every loss
    "labels": ("all",),
    "regions": ("all",),
    "include_background": ("all",),
    "ignore_label": ("all",),
    "distance_unit": ("distance",),
    "worst_distance_mm": ("distance",),
    "hd_percentile": ("hd95",),
    "hd_mode": ("hd95",),
    "surface": ("distance",),
    "nsd_tolerance_mm": ("nsd",),
    "nsd_tolerance_per_label_mm": ("nsd",),
    "loss_params": ("loss",),
}


@dataclass(frozen=True)
class Allowance:
    key: str  # metric name or loss.NAME
    direction: str  # drop | rise
    amount: float

    def describe(self) -> str:
        return f"{self.direction} <= {self.amount:g}"


@dataclass(frozen=True)
class CaseDelta:
    """One case's change in one class and key: NEW - BASE, and how much worse that is."""

    case: str
    base: Optional[float]
    new: Optional[float]
    worsening: float  # the change in the bad direction (> 0: worse); inf: undefined in NEW only

    @property
    def delta(self) -> Optional[float]:
        if self.base is None or self.new is None:
            return None
        return self.new - self.base


@dataclass(frozen=True)
class Row:
    label: str  # class label as in JSON; "mean" for the mean over classes; "reduced" for a loss value
    name: Optional[str]
    key: str
    base: Optional[float]
    new: Optional[float]
    allowance: Optional[Allowance]
    status: str  # ok | regression | undefined | missing | new_class | info
    # The bad direction of a change: -1 a drop is worse, +1 a rise is worse, None neither
    # (counts, volumes): the largest change either way is shown.
    bad_sign: Optional[int] = None
    movers: tuple[CaseDelta, ...] = ()  # cases that got worse, the most first (MOVERS_KEPT at most)

    @property
    def delta(self) -> Optional[float]:
        if self.base is None or self.new is None:
            return None
        return self.new - self.base

    @property
    def failed(self) -> bool:
        return self.status in ("regression", "undefined", "missing")

    @property
    def worsening(self) -> float:
        """How much worse the class got (for ordering rows; inf: undefined in NEW, -inf: no change known)."""
        return _worsening(self.base, self.new, self.bad_sign)


@dataclass(frozen=True)
class Comparison:
    base: str
    new: str
    rows: tuple[Row, ...]
    notes: tuple[str, ...] = ()
    allowances: tuple[Allowance, ...] = field(default_factory=tuple)
    n_shared_cases: int = 0
    only_base: tuple[str, ...] = ()  # case ids only in BASE
    only_new: tuple[str, ...] = ()
    forced: tuple[str, ...] = ()  # what --force let through (incompatible settings, no shared case)

    @property
    def failures(self) -> tuple[Row, ...]:
        return tuple(r for r in self.rows if r.failed)

    @property
    def regressed_cases(self) -> tuple[tuple[str, int], ...]:
        """(case, how many regressions it moved the most in), the most first: the cases behind
        the regressions."""
        counts: dict[str, int] = {}
        for row in self.failures:
            if row.movers:
                counts[row.movers[0].case] = counts.get(row.movers[0].case, 0) + 1
        return tuple(sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])))

    def regressions_only(self) -> Comparison:
        """The same comparison with only the failed rows (``--only-regressions``)."""
        return replace(self, rows=self.failures)

    def to_dict(self) -> dict[str, Any]:
        def clean(v):
            return None if v is None or not math.isfinite(v) else v

        return {
            "base": self.base,
            "new": self.new,
            "allowances": [{"key": a.key, "direction": a.direction, "amount": a.amount} for a in self.allowances],
            "n_regressions": len(self.failures),
            "cases": {
                "n_shared": self.n_shared_cases,
                "only_base": list(self.only_base),
                "only_new": list(self.only_new),
            },
            "regressed_cases": [{"case": c, "n_regressions": n} for c, n in self.regressed_cases],
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
                    "moved_most": [
                        {"case": m.case, "base": clean(m.base), "new": clean(m.new), "delta": clean(m.delta)}
                        for m in r.movers
                    ],
                }
                for r in self.rows
            ],
            "forced": list(self.forced),
            "notes": list(self.notes),
        }


class _NotFinite(ValueError):
    pass


def _no_constant(name: str):
    raise _NotFinite(name)  # NaN, Infinity, -Infinity: Python's json accepts them, JSON does not


class _Invalid(ValueError):
    """A value where a segloss result holds another type or range (load_result says where)."""


# Stat fields: the location statistics lie in the metric's range, std is >= 0, counts are ints.
_LOCATION = ("mean", "median", "q1", "q3", "min", "max")
_MAX_INT = 1 << 63  # no count segloss writes reaches 2**63 (a voxel count of an int64 index)
_RANGE_SLACK = 1e-9  # rounding of a mean or a correlation, never a tampered 1.7


def _parse_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):  # 1e400: Python's json reads inf, which segloss never writes
        raise _NotFinite(f"the number {text[:40]}, beyond a float")
    return value


class _TooBig(ValueError):
    pass


def _parse_int(text: str) -> int:
    if len(text.lstrip("-")) > 19:  # beyond int64 (before int() spends time on 4,000 digits)
        raise _TooBig(f"the integer {text[:20]}... ({len(text)} digits)")
    return int(text)


class _ResultChecker:
    """Typed validation of the parts of a result that compare, merge and rank read: the types
    segloss writes (objects, lists, numbers or null), finite numbers, metric values within the
    metric's range (widened to the run's own --empty-value numbers), labels that are label
    numbers or the run's region names."""

    def __init__(self, data: dict[str, Any]):
        from .metrics.registry import all_metrics

        self.specs = all_metrics()
        settings = data.get("settings", {})
        if not isinstance(settings, dict):
            raise _Invalid("settings is not an object")
        regions = settings.get("regions") or {}
        if not isinstance(regions, dict):
            raise _Invalid("settings.regions is not an object")
        self.regions = set(regions)
        self.empty = settings.get("empty_values") or {}
        if not isinstance(self.empty, dict):
            raise _Invalid("settings.empty_values is not an object")

    # -- values
    @staticmethod
    def number(value: Any, where: str, *, null: bool = True) -> Optional[float]:
        if value is None and null:
            return None
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise _Invalid(f"{where} is {_short(value)}, not a number or null")
        if isinstance(value, int) and not -_MAX_INT < value < _MAX_INT:
            raise _Invalid(f"{where} is an integer of {len(str(abs(value)))} digits, beyond any segloss value")
        if isinstance(value, float) and not math.isfinite(value):
            raise _Invalid(f"{where} is {value}, which segloss never writes (undefined is null)")
        return float(value)

    def bounds(self, metric: str) -> Optional[tuple[float, float]]:
        spec = self.specs.get(metric)
        if spec is None:
            return None
        lo, hi = spec.lo, spec.hi
        row = self.empty.get(metric)
        if isinstance(row, dict):  # the run's own empty-case values are in range by definition
            for v in row.values():
                if not isinstance(v, bool) and isinstance(v, (int, float)) and math.isfinite(v):
                    lo, hi = min(lo, v), max(hi, v)
        return lo, hi

    def metric_value(self, metric: str, value: Any, where: str) -> None:
        v = self.number(value, where)
        bounds = self.bounds(metric)
        if v is None or bounds is None:
            return
        lo, hi = bounds
        if not lo - _RANGE_SLACK * max(1.0, abs(lo)) <= v <= hi + _RANGE_SLACK * max(1.0, abs(hi)):
            shown = f"{lo:g} .. {hi:g}".replace("inf", "infinity")
            raise _Invalid(f"{where} is {v!r}, outside {metric}'s range {shown}")

    def stat(self, st: Any, where: str, metric: Optional[str]) -> None:
        if not isinstance(st, dict):
            raise _Invalid(f"{where} is {_short(st)}, not an object of statistics")
        for key in _LOCATION:
            if key in st:
                if metric is None:
                    self.number(st[key], f"{where}.{key}")
                else:
                    self.metric_value(metric, st[key], f"{where}.{key}")
        if "std" in st:
            std = self.number(st["std"], f"{where}.std")
            if std is not None and std < 0:
                raise _Invalid(f"{where}.std is {std!r}, negative")
        for key in ("n", "n_null"):
            if key in st:
                self.count(st[key], f"{where}.{key}")

    @staticmethod
    def count(n: Any, where: str) -> None:
        if isinstance(n, bool) or not isinstance(n, int) or not 0 <= n < _MAX_INT:
            raise _Invalid(f"{where} is {_short(n)}, not a count")

    def label(self, label: str, where: str) -> None:
        if label.isascii() and label.isdigit() and str(int(label)) == label and int(label) < _MAX_INT:
            return  # a label number as segloss writes it (no sign, no leading zero, no space)
        if label in self.regions:
            return
        raise _Invalid(f"{where} has the class key {_short(label)}, neither a label number nor a region of the run")

    def obj(self, value: Any, where: str) -> dict[str, Any]:
        if value is None:  # an absent block (summary.losses, pooled: null when none)
            return {}
        if not isinstance(value, dict):
            raise _Invalid(f"{where} is {_short(value)}, not an object")
        return value

    # -- blocks
    def summary(self, summary: dict[str, Any]) -> None:
        for label, entry in self.obj(summary.get("classes", {}), "summary.classes").items():
            where = f"summary class {label}"
            self.label(label, "summary.classes")
            entry = self.obj(entry, where)
            self.name(entry.get("name"), f"{where} name")
            for m, st in self.obj(entry.get("metrics", {}), f"{where} metrics").items():
                self.stat(st, f"{where}, {m}", m)
            for n, st in self.obj(entry.get("losses", {}), f"{where} losses").items():
                self.stat(st, f"{where}, loss {n}", None)
        for m, st in self.obj(summary.get("mean_over_classes"), "summary.mean_over_classes").items():
            self.stat(st, f"mean_over_classes, {m}", m)
        for n, st in self.obj(summary.get("losses"), "summary.losses").items():
            self.stat(st, f"summary loss {n}", None)
        if "n_cases" in summary:
            self.count(summary["n_cases"], "summary.n_cases")
        self.obj(summary.get("pooled"), "summary.pooled")

    def name(self, name: Any, where: str) -> None:
        if name is not None and not isinstance(name, str):
            raise _Invalid(f"{where} is {_short(name)}, not a string or null")

    def cases(self, cases: Any) -> None:
        if not isinstance(cases, list):
            raise _Invalid("cases is not a list")
        for case in cases:
            case = self.obj(case, "a case")
            cid = case.get("case")
            if not isinstance(cid, str):
                raise _Invalid(f"a case has the id {_short(cid)}, not a string")
            where = f"case {_short(cid)}"
            for label, entry in self.obj(case.get("classes"), f"{where} classes").items():
                self.label(label, f"{where} classes")
                entry = self.obj(entry, f"{where}, class {label}")
                self.name(entry.get("name"), f"{where}, class {label} name")
                for m, v in self.obj(entry.get("metrics", {}), f"{where}, class {label} metrics").items():
                    self.metric_value(m, v, f"{where}, class {label}, {m}")
            for n, res in self.obj(case.get("losses"), f"{where} losses").items():
                res = self.obj(res, f"{where}, loss {n}")
                self.number(res.get("value"), f"{where}, loss {n} value")
                for label, v in self.obj(res.get("per_class"), f"{where}, loss {n} per_class").items():
                    self.label(label, f"{where}, loss {n} per_class")
                    self.number(v, f"{where}, loss {n}, class {label}")


def _short(value: Any, limit: int = 60) -> str:
    """A value as an error shows it: its repr, at most ``limit`` characters."""
    if isinstance(value, (list, dict)):
        return f"a{'n object' if isinstance(value, dict) else ' list'}"
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 5] + "...'"


def check_result(data: dict[str, Any], path: Path) -> None:
    """Refuse (InputError, exit 2) a result whose values are not what segloss writes."""
    try:
        checker = _ResultChecker(data)
        checker.summary(data["summary"])
        checker.cases(data.get("cases", []))
    except _Invalid as exc:
        raise InputError(
            f"{exc}; segloss never writes that: the file was edited or is not a segloss result", path
        ) from None


def load_result(path: str | Path) -> dict[str, Any]:
    p = Path(path)
    try:
        # utf-8-sig: a byte-order mark (a file saved by a Windows editor) is no reason to refuse it
        text = read_text(p, MAX_RESULT_FILE_BYTES, "result file")
        data = json.loads(
            text,
            parse_constant=_no_constant,
            parse_float=_parse_float,
            parse_int=_parse_int,
            object_pairs_hook=unique_keys,
        )
    except InputError:  # read_text's (a ValueError too, which the clause below would take)
        raise
    except DuplicateKey as exc:
        raise InputError(
            f"has the key {exc.args[0]!r} twice in one object (which one counts is ambiguous); segloss never "
            "writes that: the file was edited or is not a segloss result",
            p,
        ) from None
    except _NotFinite as exc:
        raise InputError(
            f"holds {exc.args[0]}, which segloss never writes (undefined is null); the file was edited "
            "or is not a segloss result",
            p,
        ) from None
    except _TooBig as exc:
        raise InputError(
            f"holds {exc.args[0]}, beyond any value segloss writes; the file was edited or is not a segloss result", p
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
    version = data.get("schema_version") if isinstance(data, dict) else None
    if type(version) is not int or version != 1 or not isinstance(data.get("summary"), dict):
        raise InputError(
            "not a segloss result (schema_version 1 with a summary); write one with `segloss eval ... --json`", p
        )
    check_result(data, p)
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


# --- cases ---------------------------------------------------------------------------------------


def _number(value: Any, where: str, source: str) -> Optional[float]:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise InputError(f"{where} is {value!r}, not a number or null; not a segloss result", source)
    return float(value)


def _case_values(case: Any, source: str) -> dict[tuple[str, str], Optional[float]]:
    """(label, key) -> the case's value, as _values keys the summary: per class, the mean over
    the case's defined class values ("mean"), a loss's reduced value ("reduced")."""
    if not isinstance(case, dict):
        raise InputError("a case is not an object; not a segloss result", source)
    cid = case.get("case")
    out: dict[tuple[str, str], Optional[float]] = {}
    classes = case.get("classes") or {}
    losses = case.get("losses") or {}
    if not isinstance(classes, dict) or not isinstance(losses, dict):
        raise InputError(f"case {cid}: classes and losses must be objects; not a segloss result", source)
    per_metric: dict[str, list[float]] = {}
    for label, entry in classes.items():
        metrics = entry.get("metrics") if isinstance(entry, dict) else None
        if not isinstance(metrics, dict):
            raise InputError(f"case {cid}, class {label}: metrics must be an object; not a segloss result", source)
        for m, v in metrics.items():
            value = _number(v, f"case {cid}, class {label}, {m}", source)
            out[(label, m)] = value
            if value is not None:
                per_metric.setdefault(m, []).append(value)
            else:
                per_metric.setdefault(m, [])
    for m, values in per_metric.items():
        out[("mean", m)] = sum(values) / len(values) if values else None
    for name, res in losses.items():
        if not isinstance(res, dict) or not isinstance(res.get("per_class") or {}, dict):
            raise InputError(f"case {cid}, loss {name}: not an object with per_class; not a segloss result", source)
        out[("reduced", f"loss.{name}")] = _number(res.get("value"), f"case {cid}, loss {name}", source)
        for label, v in (res.get("per_class") or {}).items():
            out[(label, f"loss.{name}")] = _number(v, f"case {cid}, loss {name}, class {label}", source)
    return out


def _cases(data: dict[str, Any], source: str) -> list[dict[str, Any]]:
    cases = data.get("cases", [])
    if not isinstance(cases, list):
        raise InputError("cases must be a list; not a segloss result", source)
    for c in cases:
        if not isinstance(c, dict) or not isinstance(c.get("case"), str):
            raise InputError("a case without a string case id; not a segloss result", source)
    return cases


def _is_pair(data: dict[str, Any], cases: list[dict[str, Any]]) -> bool:
    """A single-pair result (a folder result, even of one case, records its pairing)."""
    return len(cases) == 1 and "pairing" not in data["summary"]


def _shorten(ids: Sequence[str], limit: int = 10) -> str:
    return ", ".join(ids[:limit]) + (f" ... ({len(ids)} in all)" if len(ids) > limit else "")


def _matched_cases(
    base: dict[str, Any], new: dict[str, Any], base_name: str, new_name: str
) -> tuple[list[tuple[str, dict[str, Any], dict[str, Any]]], list[str], list[str]]:
    """(id, BASE case, NEW case) of the cases both hold, and the ids only in BASE / only in NEW."""
    bc, nc = _cases(base, base_name), _cases(new, new_name)
    if _is_pair(base, bc) and _is_pair(new, nc):
        b, n = bc[0], nc[0]
        cid = n["case"] if b["case"] == n["case"] else f"{b['case']} -> {n['case']}"
        return [(cid, b, n)], [], []
    bmap, nmap = {c["case"]: c for c in bc}, {c["case"]: c for c in nc}
    shared = [(cid, bmap[cid], nmap[cid]) for cid in sorted(bmap.keys() & nmap.keys())]
    return shared, sorted(bmap.keys() - nmap.keys()), sorted(nmap.keys() - bmap.keys())


def _worsening(base: Optional[float], new: Optional[float], bad_sign: Optional[int]) -> float:
    if base is None:
        return -math.inf  # nothing to be worse than
    if new is None:
        return math.inf  # a value lost
    delta = new - base
    return abs(delta) if bad_sign is None else bad_sign * delta


def _bad_sign(key: str, allowance: Optional[Allowance]) -> Optional[int]:
    if allowance is not None:
        return -1 if allowance.direction == "drop" else 1
    if key.startswith("loss."):
        return 1  # a loss is lower-is-better
    from .metrics.registry import all_metrics

    spec = all_metrics().get(key)
    if spec is None or spec.higher_is_better is None:
        return None
    return -1 if spec.higher_is_better else 1


def _movers(
    matched: Sequence[tuple[str, Mapping[tuple[str, str], Optional[float]], Mapping[tuple[str, str], Optional[float]]]],
    label: str,
    key: str,
    bad_sign: Optional[int],
) -> tuple[CaseDelta, ...]:
    out = []
    for cid, bv, nv in matched:
        if (label, key) not in bv or (label, key) not in nv:
            continue  # the class is in neither PRED nor GT of that case in one of the runs
        b, n = bv[(label, key)], nv[(label, key)]
        w = _worsening(b, n, bad_sign)
        if w > _EPS * max(1.0, abs(b or 0.0)):
            out.append(CaseDelta(cid, b, n, w))
    out.sort(key=lambda d: (-d.worsening, d.case))
    return tuple(out[:MOVERS_KEPT])


# --- settings ------------------------------------------------------------------------------------


def _scope_applies(scope: tuple[str, ...], keys: Iterable[str]) -> bool:
    from .metrics.registry import all_metrics

    specs = all_metrics()
    for k in keys:
        if "all" in scope or k in scope:
            return True
        if "loss" in scope and k.startswith("loss."):
            return True
        if "distance" in scope and k in specs and specs[k].family == "surface":
            return True
    return False


def _setting_differences(key: str, b: Any, n: Any) -> list[str]:
    """``name BASE-value in BASE, NEW-value in NEW``; a dict setting by its differing entries."""
    if isinstance(b, dict) and isinstance(n, dict):
        return [
            f"{key}.{k} {json.dumps(b.get(k))} in BASE, {json.dumps(n.get(k))} in NEW"
            for k in sorted(set(b) | set(n))
            if b.get(k) != n.get(k)
        ]
    return [f"{key} {json.dumps(b)} in BASE, {json.dumps(n)} in NEW"]


def incompatible_settings(base: dict[str, Any], new: dict[str, Any], keys: Iterable[str]) -> list[str]:
    """The settings whose difference changes the numbers of ``keys`` (described), else []."""
    bs, ns = base.get("settings") or {}, new.get("settings") or {}
    if not isinstance(bs, dict) or not isinstance(ns, dict):
        return []
    keys = list(keys)
    # `surface` is recorded only when not "voxel": a result that computed distances (it records
    # hd_mode) without it used voxel surfaces.
    bs, ns = ({"surface": "voxel", **s} if "hd_mode" in s else s for s in (bs, ns))
    out: list[str] = []
    for name, scope in INCOMPATIBLE_SETTINGS.items():
        if "all" not in scope and (name not in bs or name not in ns):
            continue
        b, n = bs.get(name), ns.get(name)
        if b != n and _scope_applies(scope, keys):
            out += _setting_differences(name, b, n)
    return out


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


# --- the comparison ------------------------------------------------------------------------------


def compare_results(
    base: dict[str, Any],
    new: dict[str, Any],
    allowances: Sequence[Allowance] = (),
    *,
    keys: Optional[Sequence[str]] = None,
    allow_undefined: bool = False,
    force: bool = False,
    base_name: str = "BASE",
    new_name: str = "NEW",
) -> Comparison:
    """Rows for every class and key shown: the gated keys plus ``keys`` (default: the
    terminal table's metrics and every loss present in both results), each with the cases
    that moved the most.

    Raises UsageError for folder results without a shared case and for results computed
    with settings that change the compared numbers, unless ``force``.
    """
    from .selection import did_you_mean

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
            hint = did_you_mean(a.key, shared) if where == "either result" else ""
            raise UsageError(
                f"--max-{a.direction} {a.key}: not in {where}{hint}; compare results that both computed it"
            )
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
                raise UsageError(f"--metrics {k}: not in both results{did_you_mean(k, shared)}")
        keys += [k for k in by_key if k not in keys]

    matched, only_base, only_new = _matched_cases(base, new, base_name, new_name)
    forced: list[str] = []
    if not matched and (base.get("cases") or new.get("cases")):
        bc = sorted(c["case"] for c in _cases(base, base_name))
        nc = sorted(c["case"] for c in _cases(new, new_name))
        what = (
            f"BASE and NEW share no case (BASE: {_shorten(bc) or 'none'}; NEW: {_shorten(nc) or 'none'}): "
            "they are results of different data"
        )
        if not force:
            raise UsageError(f"{what}; compare results of the same cases, or pass --force to compare anyway")
        forced.append(what)
    conflicts = incompatible_settings(base, new, keys)
    if conflicts:
        what = "settings that change the compared numbers differ: " + "; ".join(conflicts)
        if not force:
            raise UsageError(
                f"BASE and NEW were computed differently ({'; '.join(conflicts)}); their numbers do not compare. "
                "Rescore one with the other's settings, or pass --force to compare anyway"
            )
        forced.append(what)
    per_case = [(cid, _case_values(b, base_name), _case_values(n, new_name)) for cid, b, n in matched]

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
            sign = _bad_sign(key, allowance)
            rows.append(
                Row(
                    label,
                    names.get(label),
                    key,
                    b,
                    n,
                    gated,
                    _status(in_b, in_n, b, n, gated, allow_undefined),
                    sign,
                    _movers(per_case, label, key, sign) if in_b and in_n else (),
                )
            )
    return Comparison(
        base_name,
        new_name,
        tuple(rows),
        tuple(_notes(base, new)),
        tuple(allowances),
        n_shared_cases=len(matched),
        only_base=tuple(only_base),
        only_new=tuple(only_new),
        forced=tuple(forced),
    )


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
