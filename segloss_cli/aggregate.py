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

from collections.abc import Iterable, Sequence
from typing import Any, Optional

import numpy as np

from .classes import class_order
from .model import CaseResult, ClassSummary, ConfusionCounts, Pooled, PooledClass, Stats, Summary, WorstCase, WorstCases


def stats(values: Iterable[Optional[float]]) -> Stats:
    vals = list(values)
    defined = np.array([float(v) for v in vals if v is not None], dtype=np.float64)
    n, n_null = int(defined.size), len(vals) - int(defined.size)
    if defined.size == 0:
        return Stats(None, None, None, None, None, None, None, n, n_null)
    q1, med, q3 = np.percentile(defined, [25, 50, 75])
    return Stats(
        mean=float(defined.mean()),
        std=float(defined.std()),
        median=float(med),
        q1=float(q1),
        q3=float(q3),
        min=float(defined.min()),
        max=float(defined.max()),
        n=n,
        n_null=n_null,
    )


def _defined_mean(values: Sequence[Optional[float]]) -> Optional[float]:
    defined = [float(v) for v in values if v is not None]
    return float(np.mean(defined)) if defined else None


def summarize(cases: Iterable[CaseResult], metric_names: tuple[str, ...], loss_names: tuple[str, ...]) -> Summary:
    cases = list(cases)
    labels = sorted({row.label for case in cases for row in case.classes}, key=class_order)
    names: dict[Any, Optional[str]] = {}
    per_metric: dict[Any, dict[str, list]] = {lab: {m: [] for m in metric_names} for lab in labels}
    per_loss: dict[Any, dict[str, list]] = {lab: {n: [] for n in loss_names} for lab in labels}
    loss_values: dict[str, list] = {n: [] for n in loss_names}
    class_means: dict[str, list] = {m: [] for m in metric_names}
    for case in cases:
        for row in case.classes:
            names.setdefault(row.label, row.name)
            for m in metric_names:
                per_metric[row.label][m].append(row.metrics.get(m))
        for m in metric_names:
            class_means[m].append(_defined_mean([row.metrics.get(m) for row in case.classes]))
        for n in loss_names:
            res = case.losses.get(n)
            loss_values[n].append(None if res is None else res.value)
            for lab in labels:
                if res is not None and lab in res.per_class:
                    per_loss[lab][n].append(res.per_class[lab])
    classes = tuple(
        ClassSummary(
            label=lab,
            name=names.get(lab),
            metrics={m: stats(per_metric[lab][m]) for m in metric_names},
            losses={n: stats(per_loss[lab][n]) for n in loss_names if per_loss[lab][n]} if loss_names else None,
        )
        for lab in labels
    )
    return Summary(
        n_cases=len(cases),
        classes=classes,
        mean_over_classes={m: stats(class_means[m]) for m in metric_names},
        losses={n: stats(loss_values[n]) for n in loss_names} if loss_names else None,
    )


def worst_cases(cases: Iterable[CaseResult], metric: str, *, higher_is_better: bool = True, k: int = 5) -> WorstCases:
    """The ``k`` cases with the worst class value of ``metric``, worst first.

    Each entry: case, mean over its defined class values, and its worst class (label, name,
    value). Order: cases with a class whose value is undefined although the class is not empty
    in both masks (a missed class under ``--empty-policy nan``) first, then by the worst
    defined class value, then by the mean, then by case id (stable). A case whose classes are
    all empty in both masks is never listed: there is nothing wrong with it.
    """
    sign = 1.0 if higher_is_better else -1.0
    rows = []
    for case in cases:
        if all(row.status == "both_empty" for row in case.classes):
            continue
        defined = [(float(row.metrics[metric]), row) for row in case.classes if row.metrics.get(metric) is not None]
        mean = float(np.mean([v for v, _ in defined])) if defined else None
        failed = [row for row in case.classes if row.metrics.get(metric) is None and row.status != "both_empty"]
        if failed:
            row = min(failed, key=lambda r: class_order(r.label))
            rows.append((0, 0.0, WorstCase(case.case, mean, row.label, row.name, None)))
        elif defined:
            value, row = min(defined, key=lambda vr: (sign * vr[0], class_order(vr[1].label)))
            rows.append((1, sign * value, WorstCase(case.case, mean, row.label, row.name, value)))
    rows.sort(key=lambda r: (r[0], r[1], sign * (r[2].mean if r[2].mean is not None else 0.0), r[2].case))
    return WorstCases(metric, tuple(r[2] for r in rows[:k]))


def _nanmean(values) -> Optional[float]:
    vals = np.asarray(values, dtype=np.float64)
    vals = vals[np.isfinite(vals)]
    return float(vals.mean()) if vals.size else None


def _ratio(num: np.ndarray, den: np.ndarray) -> np.ndarray:
    out = np.full(num.shape, np.nan)
    np.divide(num, den, out=out, where=den != 0)
    return out


def pooled(cases: Sequence[CaseResult], metric_names: Sequence[str], *, empty_policy: str) -> Optional[Pooled]:
    """Dataset-level results: each class's TP/FP/FN summed over the cases (int64, exact), TN
    the rest of all counted voxels, then every count-based metric of ``metric_names`` from
    those counts, and mmsegmentation's aAcc, mIoU, mAcc, mDice, mFscore over the classes.

    None when a case does not carry its counts (a hand-built result).
    """
    from .metrics.overlap import Counts
    from .metrics.registry import all_metrics, apply_empty_rule, class_status

    if any(c.n_voxels is None or any(r.counts is None for r in c.classes) for c in cases):
        return None
    labels = sorted({row.label for case in cases for row in case.classes}, key=class_order)
    names: dict[Any, Optional[str]] = {}
    sums = {lab: np.zeros(3, dtype=np.int64) for lab in labels}
    for case in cases:
        for row in case.classes:
            names.setdefault(row.label, row.name)
            c = row.counts
            sums[row.label] += (c.tp, c.fp, c.fn)  # type: ignore[union-attr]
    n_total = sum(int(c.n_voxels or 0) for c in cases)
    tp, fp, fn = (np.array([sums[lab][i] for lab in labels], dtype=np.int64) for i in range(3))
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
    with np.errstate(invalid="ignore", divide="ignore"):
        fscore = 2 * precision * recall / (precision + recall)
    gt_total = float(np.sum(tpf + fnf))
    dataset = {
        "aAcc": float(np.sum(tpf) / gt_total) if gt_total > 0 else None,
        "mIoU": _nanmean(_ratio(tpf, tpf + fpf + fnf)),
        "mAcc": _nanmean(recall),
        "mDice": _nanmean(_ratio(2 * tpf, 2 * tpf + fpf + fnf)),
        "mFscore": _nanmean(fscore),
    }
    return Pooled(len(cases), tuple(rows), mean_over, dataset)
