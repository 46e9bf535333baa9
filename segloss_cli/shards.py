"""Shards of a folder run, and merging their results into the run they are parts of.

A shard ``K/N`` (1 <= K <= N) holds the case ids whose stable hash falls in it:
``int.from_bytes(sha256(case_id.encode("utf-8")).digest()[:8], "big") % N == K - 1``. The
hash depends only on the id, never on the order of files on disk or on which other cases
exist, so a case added later does not move the others, and any batch scheduler (a SLURM
array, a Kubernetes indexed Job) can run shard K as task K with nothing shared but the
folders. Extra predictions and missing ones are assigned the same way, so each is listed by
exactly one shard.

A shard's JSON is an ordinary result of its cases plus a ``"shard"`` block with what the
summary of the whole run needs and the case JSON does not carry: each case's counted voxels
and per-class TP/FP/FN/TN (the pooled metrics), its distance unit and notes, the settings as
the parameters gave them, and a digest of every case id of the folders. :func:`merge_runs`
rebuilds the CaseResults, checks that the shards are the N parts of one run, and calls
:func:`segloss_cli.evaluate.assemble_run`, so the merged result renders byte-identical to
the unsharded run's.
"""

from __future__ import annotations

import copy
import hashlib
import os
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any, Optional, Union

from . import __version__
from .errors import InputError, UsageError
from .evaluate import EvalParams
from .model import CaseResult, ClassResult, ConfusionCounts, LossResult, PairingSummary, RunResult

if TYPE_CHECKING:  # pragma: no cover
    from .folder import Pairing

SHARD_FORMAT = 1
ASSIGNMENT = "sha256(case id)[:8] mod N"

__all__ = ["ShardSpec", "ShardInfo", "shard_of", "select_shard", "shard_block", "merge_runs"]


def shard_of(case_id: str, count: int) -> int:
    """The shard (1..count) that holds ``case_id``.

    Examples
    --------
    >>> [shard_of(f"case{i:02d}", 3) for i in range(6)]
    [2, 3, 3, 3, 1, 1]
    """
    digest = hashlib.sha256(case_id.encode("utf-8", "surrogatepass")).digest()
    return int.from_bytes(digest[:8], "big") % count + 1


@dataclass(frozen=True)
class ShardSpec:
    """Shard ``index`` of ``count`` (1-based: ``3/64`` is the third of 64)."""

    index: int
    count: int

    def __post_init__(self) -> None:
        if not (isinstance(self.index, int) and isinstance(self.count, int)) or not 1 <= self.index <= self.count:
            raise UsageError(f"@shard must be K/N with 1 <= K <= N (e.g. 3/64), not {self.index}/{self.count}")

    @classmethod
    def parse(cls, value: Union[str, ShardSpec, Sequence[int]]) -> ShardSpec:
        """``"3/64"``, ``(3, 64)`` or a ShardSpec.

        Examples
        --------
        >>> ShardSpec.parse("3/64")
        ShardSpec(index=3, count=64)
        """
        if isinstance(value, ShardSpec):
            return value
        if isinstance(value, str):
            k, sep, n = value.strip().partition("/")
            if not sep or not k.strip().isdigit() or not n.strip().isdigit():
                raise UsageError(f"@shard must be K/N with 1 <= K <= N (e.g. 3/64), not {value!r}")
            return cls(int(k), int(n))
        try:
            k_n = tuple(int(v) for v in value)
        except (TypeError, ValueError):
            raise UsageError(f"@shard must be K/N with 1 <= K <= N (e.g. 3/64), not {value!r}") from None
        if len(k_n) != 2:
            raise UsageError(f"@shard must be K/N with 1 <= K <= N (e.g. 3/64), not {value!r}")
        return cls(*k_n)

    def holds(self, case_id: str) -> bool:
        return shard_of(case_id, self.count) == self.index

    def __str__(self) -> str:
        return f"{self.index}/{self.count}"


@dataclass(frozen=True)
class ShardInfo:
    """What a shard's pairing knows about the whole folder pairing it was cut from."""

    spec: ShardSpec
    n_ids: int  # every case id of the folders: pairs, missing and extra predictions
    ids_digest: str  # sha256 of those ids, sorted, one per line


def ids_digest(ids: Iterable[str]) -> str:
    text = "\n".join(sorted(set(ids)))
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()


def select_shard(pairing: Pairing, spec: ShardSpec) -> Pairing:
    """The part of a folder pairing that shard ``spec`` holds (pairs, missing and extra ids)."""
    every = {p.case for p in pairing.pairs} | set(pairing.missing) | set(pairing.extra)
    info = ShardInfo(spec, len(every), ids_digest(every))
    return replace(
        pairing,
        pairs=tuple(p for p in pairing.pairs if spec.holds(p.case)),
        missing=tuple(c for c in pairing.missing if spec.holds(c)),
        extra=tuple(c for c in pairing.extra if spec.holds(c)),
        shard=info,
    )


def shard_block(run: RunResult, info: ShardInfo, params: EvalParams, *, metrics_chosen: bool = True) -> dict[str, Any]:
    """The ``"shard"`` block of a shard's JSON: what :func:`merge_runs` needs beyond the cases."""
    pairing = None if run.summary is None or run.summary.pairing is None else run.summary.pairing.to_dict()
    cases: dict[str, Any] = {}
    for case in run.cases:
        cases[case.case] = {
            "n_voxels": case.n_voxels,
            "distance_unit": case.distance_unit,
            "notes": list(case.notes),
            "counts": {
                str(row.label): None
                if row.counts is None
                else [row.counts.tp, row.counts.fp, row.counts.fn, row.counts.tn]
                for row in case.classes
            },
        }
    return {
        "format": SHARD_FORMAT,
        "index": info.spec.index,
        "count": info.spec.count,
        "assignment": ASSIGNMENT,
        "n_ids": info.n_ids,
        "ids_digest": info.ids_digest,
        "settings": params.settings(),
        "metrics_chosen": bool(metrics_chosen),
        "pairing": pairing,
        "cases": cases,
    }


# --- merging ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class RecordedParams(EvalParams):
    """Parameters as a shard recorded them: what :func:`assemble_run` reads of a run's
    parameters (metrics, empty-mask policy, settings), without the files' options behind them."""

    recorded: dict[str, Any] = field(default_factory=dict)

    def settings(self) -> dict[str, Any]:
        return copy.deepcopy(self.recorded)


@dataclass
class _Shard:
    path: str
    index: int
    count: int
    block: dict[str, Any]
    data: dict[str, Any]


def _label(text: str) -> int | str:
    from .rank import _json_label

    return _json_label(text)


def _read_shard(path: str) -> _Shard:
    from .compare import load_result

    data = load_result(path)
    block = data.get("shard")
    if not isinstance(block, dict):
        raise InputError(
            'not a shard (no "shard" block); write shards with `segloss eval PRED GT --shard K/N --json ...`', path
        )
    if block.get("format") != SHARD_FORMAT or block.get("assignment") != ASSIGNMENT:
        raise InputError(f"a shard of another format than this segloss {__version__} writes; rescore it", path)
    index, count = block.get("index"), block.get("count")
    if not isinstance(index, int) or not isinstance(count, int) or not 1 <= index <= count:
        raise InputError(f"malformed shard block (index {index!r} of {count!r})", path)
    for key, kind in (("cases", dict), ("settings", dict), ("ids_digest", str), ("n_ids", int)):
        if not isinstance(block.get(key), kind):
            raise InputError(f"malformed shard block ({key!r} missing or not a {kind.__name__})", path)
    if data.get("segloss_version") != __version__:
        raise InputError(
            f"written by segloss {data.get('segloss_version')}, this is {__version__}; "
            "merge with the version that scored the shards (or rescore them)",
            path,
        )
    return _Shard(str(path), index, count, block, data)


def _case(entry: Mapping[str, Any], extra: Mapping[str, Any]) -> CaseResult:
    counts = extra["counts"]
    rows = []
    for label, row in entry["classes"].items():
        tally = counts[label]
        rows.append(
            ClassResult(
                _label(label),
                row["name"],
                row["status"],
                dict(row["metrics"]),
                None if tally is None else ConfusionCounts(*(int(v) for v in tally)),
            )
        )
    losses = {
        name: LossResult(name, res["value"], {_label(k): v for k, v in res["per_class"].items()}, dict(res["params"]))
        for name, res in entry["losses"].items()
    }
    spacing = entry["spacing"]
    return CaseResult(
        case=str(entry["case"]),
        pred=entry["pred"],
        gt=str(entry["gt"]),
        spacing_mm=None if spacing is None else tuple(float(s) for s in spacing),
        classes=tuple(rows),
        losses=losses,
        distance_unit=str(extra["distance_unit"]),
        n_voxels=None if extra["n_voxels"] is None else int(extra["n_voxels"]),
        notes=tuple(str(n) for n in extra["notes"]),
    )


def _merge_pairing(shards: Sequence[_Shard]) -> Optional[PairingSummary]:
    found = [s.block.get("pairing") for s in shards]
    if all(p is None for p in found):
        return None
    parts: list[dict[str, Any]] = [p for p in found if isinstance(p, dict)]
    if len(parts) < len(found):
        raise InputError("some shards record a folder pairing and others do not; merge shards of one run")
    policies = {str(p["missing_policy"]) for p in parts}
    if len(policies) > 1:
        raise InputError(f"shards were paired under different @missing policies ({', '.join(sorted(policies))})")
    return PairingSummary(
        missing_policy=policies.pop(),
        n_pairs=sum(int(p["n_pairs"]) for p in parts),
        missing_predictions=tuple(sorted(str(c) for p in parts for c in p["missing_predictions"])),
        n_missing_scored_as_empty=sum(int(p["n_missing_scored_as_empty"]) for p in parts),
        n_missing_skipped=sum(int(p["n_missing_skipped"]) for p in parts),
        extra_predictions=tuple(sorted(str(c) for p in parts for c in p["extra_predictions"])),
    )


def _check_complete(shards: Sequence[_Shard]) -> int:
    counts = {s.count for s in shards}
    if len(counts) > 1:
        raise InputError(
            f"shards of different splits (N = {', '.join(str(n) for n in sorted(counts))}); merge the N shards of one run"
        )
    count = counts.pop()
    seen: dict[int, str] = {}
    for s in shards:
        if s.index in seen:
            raise InputError(
                f"shard {s.index}/{count} given twice ({seen[s.index]} and {s.path}); give each shard once"
            )
        seen[s.index] = s.path
    absent = [k for k in range(1, count + 1) if k not in seen]
    if absent:
        listed = ", ".join(f"{k}/{count}" for k in absent[:10]) + (
            f", ... ({len(absent)} in all)" if len(absent) > 10 else ""
        )
        raise InputError(f"{len(absent)} of {count} shards missing: {listed}; give every shard's JSON")
    return count


def merge_runs(paths: Sequence[Union[str, os.PathLike]]) -> RunResult:
    """The run that shards ``paths`` (the JSON of ``segloss eval ... --shard K/N``) are parts of.

    The result equals the unsharded run's: the same cases (sorted by case id), settings,
    summary, pooled counts and worst cases, so it renders byte-identical JSON. InputError
    (one line) when a shard is missing or given twice, when shards of different splits,
    settings, versions or folders are mixed, or when two shards hold one case.
    """
    from .evaluate import assemble_run
    from .metrics.registry import all_metrics

    if not paths:
        raise UsageError("no shard files given; merge the JSON files of `segloss eval --shard K/N`")
    shards = [_read_shard(str(p)) for p in paths]
    count = _check_complete(shards)
    first = shards[0]
    for s in shards[1:]:
        if s.block["settings"] != first.block["settings"]:
            differ = sorted(
                k
                for k in set(s.block["settings"]) | set(first.block["settings"])
                if s.block["settings"].get(k) != first.block["settings"].get(k)
            )
            raise InputError(
                f"scored with other settings than {first.path} ({', '.join(differ)} differ); "
                "score every shard with the same options",
                s.path,
            )
        if (s.block["ids_digest"], s.block["n_ids"]) != (first.block["ids_digest"], first.block["n_ids"]):
            raise InputError(
                f"cut from other folders than {first.path} (the case ids differ); score every shard on the same folders",
                s.path,
            )
    owner: dict[str, str] = {}
    cases: list[CaseResult] = []
    held: set[str] = set()
    try:
        for s in shards:
            pairing = s.block.get("pairing") or {}
            ids = [str(e["case"]) for e in s.data.get("cases") or []]
            ids += [str(c) for c in pairing.get("missing_predictions") or []]
            ids += [str(c) for c in pairing.get("extra_predictions") or []]
            for cid in set(ids):
                if cid in owner:
                    raise InputError(
                        f"case {cid} is in shards {owner[cid]} and {s.path}; each case must be in one shard"
                    )
                if shard_of(cid, count) != s.index:
                    raise InputError(
                        f"case {cid} does not belong to shard {s.index}/{count}; the file was edited", s.path
                    )
                owner[cid] = s.path
                held.add(cid)
            for entry in s.data.get("cases") or []:
                cid = str(entry["case"])
                if cid not in s.block["cases"]:
                    raise InputError(f"case {cid} has no entry in the shard block", s.path)
                cases.append(_case(entry, s.block["cases"][cid]))
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        if isinstance(exc, InputError):
            raise
        raise InputError(f"malformed case in a shard ({type(exc).__name__}: {exc})") from None
    if len(held) != first.block["n_ids"] or ids_digest(held) != first.block["ids_digest"]:
        raise InputError(
            f"the shards hold {len(held)} of the folders' {first.block['n_ids']} case ids; "
            "a shard was scored on other folders or edited"
        )
    if not cases:
        raise InputError("the shards hold no scored case")
    settings = first.block["settings"]
    specs = all_metrics()
    metrics = tuple(settings.get("metrics") or ())
    unknown = [m for m in metrics if m not in specs]
    if unknown:
        raise InputError(f"shard settings name an unknown metric {unknown[0]!r}", first.path)
    params = RecordedParams(
        metrics=metrics,
        empty_policy=settings.get("empty_policy", "worst"),
        empty_values=settings.get("empty_values") or {},
        pooled_means=settings.get("pooled_means", "mmseg"),
        recorded=settings,
    )
    cases.sort(key=lambda c: c.case)
    return assemble_run(
        tuple(cases),
        params,
        pairing=_merge_pairing(shards),
        metrics_chosen=bool(first.block.get("metrics_chosen", True)),
    )
