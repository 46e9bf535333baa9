"""Summary statistics over cases, skipping undefined values and saying how many there were.

Per class and metric (and loss): mean, std (population, ddof=0 as numpy), median, q1, q3
(linear interpolation, numpy's default), min, max, n (values used) and n_null (undefined
values skipped). ``mean_over_classes``: for each metric, the same statistics over cases of
each case's mean over its defined class values. ``worst_cases``: the cases with the worst
mean over classes of one metric (the folder table's short list). ``pooled``: the dataset-level
view, counts summed over cases before any formula (mmsegmentation's IoUMetric, torchmetrics'
macro Jaccard over the whole set).
"""

from __future__ import annotations

import math
from array import array
from collections.abc import Iterable, Sequence
from typing import Any, Optional

import numpy as np

from .classes import class_order
from .model import CaseResult, ClassSummary, ConfusionCounts, Pooled, PooledClass, Stats, Summary, WorstCase, WorstCases


class Values:
    """One value's defined values over cases, in case order, as compact float64 (8 bytes a
    value, not a Python object each), and how many were undefined (None)."""

    __slots__ = ("defined", "n_null")

    def __init__(self, n_null: int = 0):
        self.defined = array("d")
        self.n_null = n_null

    def add(self, value: Optional[float]) -> None:
        if value is None:
            self.n_null += 1
        else:
            self.defined.append(float(value))

    def __len__(self) -> int:
        return len(self.defined) + self.n_null

    def stats(self) -> Stats:
        defined = np.array(self.defined, dtype=np.float64)
        n, n_null = int(defined.size), self.n_null
        if defined.size == 0:
            return Stats(None, None, None, None, None, None, None, n, n_null)
        if defined.size == 1 and math.isfinite(defined[0]):
            # One case (every class of a single pair): the statistics of one value, as numpy
            # gives them (percentile v + 0 * 0 = v, std 0.0), without numpy's ~100 us a call.
            v = float(defined[0])
            m = v + 0.0  # numpy's mean sums from 0.0: -0.0 becomes 0.0 (its percentiles keep -0.0)
            return Stats(mean=m, std=0.0, median=v, q1=v, q3=v, min=v, max=v, n=n, n_null=n_null)
        with np.errstate(invalid="ignore"):  # infinite values (a --convention's): inf - inf is NaN
            q1, med, q3 = np.percentile(defined, [25, 50, 75])
            std = float(defined.std())
        return Stats(
            mean=float(defined.mean()),
            std=std,
            median=float(med),
            q1=float(q1),
            q3=float(q3),
            min=float(defined.min()),
            max=float(defined.max()),
            n=n,
            n_null=n_null,
        )


def stats_many(accs: Sequence[Values]) -> list[Stats]:
    """``[a.stats() for a in accs]``, the same bits, with numpy called once per group of equal
    length instead of once per value: a folder's summary has one per class and metric, and
    numpy's ~70 us a call made 20 overlap metrics cost 1.4 ms per class.

    Rows of one length are stacked (C order), and numpy reduces each row of a 2-D array along
    its contiguous axis as it reduces the row alone (the same pairwise sums, partition and
    interpolation); a row with a non-finite value, and lengths below 2, take Values.stats."""
    out: list[Optional[Stats]] = [None] * len(accs)
    groups: dict[int, list[int]] = {}
    for i, acc in enumerate(accs):
        if len(acc.defined) >= 2:
            groups.setdefault(len(acc.defined), []).append(i)
        else:
            out[i] = acc.stats()
    for n, rows in groups.items():
        grid = np.array([accs[i].defined for i in rows], dtype=np.float64).reshape(len(rows), n)
        finite = [bool(ok) for ok in np.asarray(np.isfinite(grid).all(axis=1))]
        for i in (r for r, ok in zip(rows, finite) if not ok):
            out[i] = accs[i].stats()
        rows = [r for r, ok in zip(rows, finite) if ok]
        if not rows:
            continue
        grid = np.ascontiguousarray(grid[finite])
        q1, med, q3 = np.percentile(grid, [25, 50, 75], axis=1).tolist()
        cols = zip(grid.mean(axis=1).tolist(), grid.std(axis=1).tolist(), med, q1, q3,
                   grid.min(axis=1).tolist(), grid.max(axis=1).tolist())  # fmt: skip
        for i, (mean, std, m, a, b, lo, hi) in zip(rows, cols):
            out[i] = Stats(mean=mean, std=std, median=m, q1=a, q3=b, min=lo, max=hi, n=n, n_null=accs[i].n_null)
    return out  # type: ignore[return-value]


def stats(values: Iterable[Optional[float]]) -> Stats:
    acc = Values()
    for v in values:
        acc.add(v)
    return acc.stats()


def _defined_mean(values: Sequence[Optional[float]]) -> Optional[float]:
    defined = [float(v) for v in values if v is not None]
    return float(np.mean(defined)) if defined else None


def _means_over_classes(rows: Sequence[Any], metric_names: Sequence[str]) -> list[Optional[float]]:
    """Each metric's :func:`_defined_mean` over the class rows of one case. A metric defined
    in every row takes one row of a (metrics x classes) array, whose mean along its contiguous
    axis is numpy's pairwise mean of that row (the same bits as ``np.mean`` of the row alone);
    a metric with an undefined value (or anything else) takes ``_defined_mean`` itself."""
    table = [[row.metrics.get(m) for row in rows] for m in metric_names]
    if not rows or not table:
        return [_defined_mean(column) for column in table]
    try:
        grid = np.array(table, dtype=np.float64)  # None -> NaN
    except (TypeError, ValueError):
        return [_defined_mean(column) for column in table]
    means = grid.mean(axis=1).tolist()
    return [_defined_mean(column) if mean != mean else mean for column, mean in zip(table, means)]


class RunningSummary:
    """Everything a run's summary needs of its cases, taken one case at a time (in case-id
    order), so a run need not keep its cases: per class and metric (and loss) the values as
    :class:`Values` (the median and quartiles need every value; 8 bytes each), the per-case
    means over classes, TP/FP/FN sums and counted voxels for the pooled view, and the ``k``
    worst cases of ``worst_metric``. The statistics are those of :func:`summarize`,
    :func:`pooled` and :func:`worst_cases` over the same cases, exactly: those functions are
    this class fed with a list.
    """

    def __init__(
        self,
        metric_names: Sequence[str],
        *,
        worst_metric: Optional[str] = None,
        higher_is_better: bool = True,
        k: int = 5,
    ):
        self.metric_names = tuple(metric_names)
        self.n_cases = 0
        self.distance_units: set[str] = set()
        self.loss_names: dict[str, None] = {}  # every loss some case computed, first seen first
        self._names: dict[Any, Optional[str]] = {}
        self._metrics: dict[Any, dict[str, Values]] = {}
        self._class_means = {m: Values() for m in self.metric_names}
        self._losses: dict[str, Values] = {}
        self._per_loss: dict[Any, dict[str, Values]] = {}
        self._sums: dict[Any, list[int]] = {}
        self._n_voxels = 0
        self._counted = True  # every case carries its counts (pooled needs them)
        self._worst_metric = worst_metric
        self._sign = 1.0 if higher_is_better else -1.0
        self._k = k
        self._worst: list[tuple] = []
        self._loss_sums: Any = None  # --reduction batch: the cases' loss sums added so far
        self._loss_sums_missing = False

    def add(self, case: CaseResult) -> None:
        index = self.n_cases
        self.n_cases += 1
        self.distance_units.add(case.distance_unit)
        for row in case.classes:
            lab = row.label
            if lab not in self._metrics:
                self._names[lab] = row.name
                self._metrics[lab] = {m: Values() for m in self.metric_names}
                self._sums[lab] = [0, 0, 0]
            get = row.metrics.get
            for m, acc in self._metrics[lab].items():  # Values.add, inlined: 20 metrics x 19 classes a case
                value = get(m)
                if value is None:
                    acc.n_null += 1
                else:
                    acc.defined.append(float(value))
            if row.counts is None:
                self._counted = False
            else:
                tally = self._sums[lab]
                tally[0] += row.counts.tp
                tally[1] += row.counts.fp
                tally[2] += row.counts.fn
        if case.n_voxels is None:
            self._counted = False
        else:
            self._n_voxels += int(case.n_voxels)
        for m, mean in zip(self.metric_names, _means_over_classes(case.classes, self.metric_names)):
            self._class_means[m].add(mean)
        for name in case.losses:
            if name not in self._losses:
                self._losses[name] = Values(n_null=index)  # undefined in every earlier case
                self.loss_names[name] = None
        for name, acc in self._losses.items():
            res = case.losses.get(name)
            acc.add(None if res is None else res.value)
            if res is not None:
                for lab, value in res.per_class.items():
                    self._per_loss.setdefault(lab, {}).setdefault(name, Values()).add(value)
        if self._worst_metric is not None:
            self._add_worst(case, index)
        if case.loss_sums is not None:
            from .losses.compute import pool_case_sums

            got = case.loss_sums
            self._loss_sums = got if self._loss_sums is None else pool_case_sums([self._loss_sums, got])
        elif case.losses:
            self._loss_sums_missing = True

    def batch_losses(self, params: Any, names: Sequence[str]) -> Optional[dict]:
        """--reduction batch: each loss of the cases' sums added (losses.compute.losses_from_sums);
        None when no case computed a loss or one came without its sums."""
        if self._loss_sums is None or self._loss_sums_missing:
            return None
        from .losses.compute import losses_from_sums

        return losses_from_sums(self._loss_sums, params, tuple(names))

    def _add_worst(self, case: CaseResult, index: int) -> None:
        metric, sign = str(self._worst_metric), self._sign
        if all(row.status == "both_empty" for row in case.classes):
            return
        defined = [(float(row.metrics[metric]), row) for row in case.classes if row.metrics.get(metric) is not None]
        mean = float(np.mean([v for v, _ in defined])) if defined else None
        failed = [row for row in case.classes if row.metrics.get(metric) is None and row.status != "both_empty"]
        if failed:
            row = min(failed, key=lambda r: class_order(r.label))
            entry = (0, 0.0, WorstCase(case.case, mean, row.label, row.name, None))
        elif defined:
            value, row = min(defined, key=lambda vr: (sign * vr[0], class_order(vr[1].label)))
            entry = (1, sign * value, WorstCase(case.case, mean, row.label, row.name, value))
        else:
            return
        w = entry[2]
        # The sort key of the whole list, then arrival: the first k of a stable sort of all cases.
        self._worst.append((entry[0], entry[1], sign * (w.mean if w.mean is not None else 0.0), w.case, index, w))
        if len(self._worst) > 2 * self._k + 16:
            self._trim_worst()

    def _trim_worst(self) -> None:
        self._worst.sort(key=lambda r: r[:5])
        del self._worst[self._k :]

    def labels(self) -> list:
        return sorted(self._metrics, key=class_order)

    def summary(self, loss_names: Sequence[str]) -> Summary:
        """Statistics per class and metric, of each loss per class, of the means over classes,
        and of the losses' values (``loss_names``: the losses to report, in report order)."""
        labels = self.labels()
        computed = iter(stats_many([self._metrics[lab][m] for lab in labels for m in self.metric_names]))
        classes = tuple(
            ClassSummary(
                label=lab,
                name=self._names.get(lab),
                metrics={m: next(computed) for m in self.metric_names},
                losses={
                    n: self._per_loss[lab][n].stats() for n in loss_names if len(self._per_loss.get(lab, {}).get(n, ()))
                }
                if loss_names
                else None,
            )
            for lab in labels
        )
        return Summary(
            n_cases=self.n_cases,
            classes=classes,
            mean_over_classes={m: self._class_means[m].stats() for m in self.metric_names},
            losses={n: self._losses.get(n, Values(n_null=self.n_cases)).stats() for n in loss_names}
            if loss_names
            else None,
        )

    def worst(self) -> Optional[WorstCases]:
        """The worst cases of ``worst_metric`` (None when none was given)."""
        if self._worst_metric is None:
            return None
        self._trim_worst()
        return WorstCases(self._worst_metric, tuple(r[5] for r in self._worst))

    def pooled(
        self, *, empty_policy: str, empty_values: Optional[dict] = None, pooled_means: str = "mmseg"
    ) -> Optional[Pooled]:
        """The pooled view (:func:`pooled`) of the cases so far; None when one lacks its counts.
        ``empty_values``: the per-metric empty-case table (status -> metric -> value);
        ``pooled_means``: the classes of the dataset means (choices.PooledMeans)."""
        if not self._counted:
            return None
        labels = self.labels()
        return _pooled_from(
            labels,
            self._names,
            [self._sums[lab] for lab in labels],
            self._n_voxels,
            self.n_cases,
            self.metric_names,
            empty_policy,
            empty_values,
            pooled_means,
        )


def summarize(cases: Iterable[CaseResult], metric_names: tuple[str, ...], loss_names: tuple[str, ...]) -> Summary:
    acc = RunningSummary(metric_names)
    for case in cases:
        acc.add(case)
    return acc.summary(loss_names)


def worst_cases(cases: Iterable[CaseResult], metric: str, *, higher_is_better: bool = True, k: int = 5) -> WorstCases:
    """The ``k`` cases with the worst class value of ``metric``, worst first.

    Each entry: case, mean over its defined class values, and its worst class (label, name,
    value). Order: cases with a class whose value is undefined although the class is not empty
    in both masks (a missed class under ``--empty-policy nan``) first, then by the worst
    defined class value, then by the mean, then by case id (stable). A case whose classes are
    all empty in both masks is never listed: there is nothing wrong with it.
    """
    acc = RunningSummary((), worst_metric=metric, higher_is_better=higher_is_better, k=k)
    for case in cases:
        acc.add(case)
    return acc.worst()  # type: ignore[return-value]


def _nanmean(values) -> Optional[float]:
    vals = np.asarray(values, dtype=np.float64)
    vals = vals[np.isfinite(vals)]
    return float(vals.mean()) if vals.size else None


def _ratio(num: np.ndarray, den: np.ndarray) -> np.ndarray:
    out = np.full(num.shape, np.nan)
    np.divide(num, den, out=out, where=den != 0)
    return out


def pooled(
    cases: Sequence[CaseResult], metric_names: Sequence[str], *, empty_policy: str, pooled_means: str = "mmseg"
) -> Optional[Pooled]:
    """Dataset-level results: each class's TP/FP/FN summed over the cases (int64, exact), TN
    the rest of all counted voxels, then every count-based metric of ``metric_names`` from
    those counts, and aAcc, mIoU, mAcc, mDice, mFscore over the classes, averaged as
    ``pooled_means`` says (mmsegmentation's, or torchmetrics' macro average).

    None when a case does not carry its counts (a hand-built result).
    """
    acc = RunningSummary(metric_names)
    for case in cases:
        acc.add(case)
    return acc.pooled(empty_policy=empty_policy, pooled_means=pooled_means)


def _pooled_from(
    labels: Sequence[Any],
    names: dict[Any, Optional[str]],
    sums: Sequence[Sequence[int]],
    n_total: int,
    n_cases: int,
    metric_names: Sequence[str],
    empty_policy: str,
    empty_values: Optional[dict] = None,
    pooled_means: str = "mmseg",
) -> Pooled:
    """The pooled view from each label's (TP, FP, FN) sums and the counted voxels of the run."""
    from .metrics.overlap import Counts
    from .metrics.registry import all_metrics, apply_empty_rule, apply_empty_values, class_status

    tp, fp, fn = (np.array([s[i] for s in sums], dtype=np.int64).reshape(-1) for i in range(3))
    tn = n_total - tp - fp - fn
    keys = np.array([lab if isinstance(lab, int) else -1 for lab in labels], dtype=np.int64)  # -1: a region
    counts = Counts(keys, tp, fp, fn, tn, n_total, None)
    specs = all_metrics()
    confusion = [m for m in metric_names if specs[m].family == "confusion"]
    values = {m: np.asarray(specs[m].compute(counts)) for m in confusion}  # type: ignore[misc]
    rows = []
    for i, lab in enumerate(labels):
        status = class_status(int(tp[i] + fp[i]), int(tp[i] + fn[i]))
        metrics = {m: apply_empty_rule(specs[m], values[m][i], status, empty_policy, None) for m in confusion}
        if empty_values and status != "ok":
            apply_empty_values(metrics, status, empty_values, None)
        rows.append(
            PooledClass(
                lab,
                names.get(lab),
                status,
                ConfusionCounts(int(tp[i]), int(fp[i]), int(fn[i]), int(tn[i])),
                metrics,
            )
        )
    mean_over = {m: _defined_mean([r.metrics[m] for r in rows]) for m in confusion}
    tpf, fpf, fnf = (x.astype(np.float64) for x in (tp, fp, fn))
    precision, recall = _ratio(tpf, tpf + fpf), _ratio(tpf, tpf + fnf)
    dice = _ratio(2 * tpf, 2 * tpf + fpf + fnf)
    if pooled_means == "torchmetrics":
        # torchmetrics' macro average (_adjust_weights_safe_divide): weight 1 for each class with
        # TP + FP + FN > 0 (in some PRED or GT), 0/0 counted as 0 (_safe_divide). A class only
        # predicted then adds a 0 recall to mAcc, and F1 = 2TP/(2TP + FP + FN), so mFscore = mDice.
        present = (tp + fp + fn) > 0
        recall = np.where(present, np.nan_to_num(recall, nan=0.0), np.nan)
        fscore = dice
    else:
        with np.errstate(invalid="ignore", divide="ignore"):
            fscore = 2 * precision * recall / (precision + recall)
    gt_total = float(np.sum(tpf + fnf))
    dataset = {
        "aAcc": float(np.sum(tpf) / gt_total) if gt_total > 0 else None,
        "mIoU": _nanmean(_ratio(tpf, tpf + fpf + fnf)),
        "mAcc": _nanmean(recall),
        "mDice": _nanmean(dice),
        "mFscore": _nanmean(fscore),
    }
    return Pooled(n_cases, tuple(rows), mean_over, dataset)
