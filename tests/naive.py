"""Slow, obvious oracles: plain numpy, one class at a time, no cleverness.

Tests compare segloss's kernels and formulas against these (stumpy's tests/naive.py idea).
"""

from __future__ import annotations

import math

import numpy as np


def confusion(pred, gt, label, ignore_label=None):
    valid = np.ones(gt.shape, bool) if ignore_label is None else (gt != ignore_label)
    p = (pred == label) & valid
    g = (gt == label) & valid
    tp = int(np.sum(p & g))
    fp = int(np.sum(p & ~g))
    fn = int(np.sum(~p & g))
    tn = int(np.sum(~p & ~g & valid))
    return tp, fp, fn, tn


def _ratio(a, b):
    return None if b == 0 else a / b


def metric(name, tp, fp, fn, tn, voxel_ml=1e-3):
    """Each overlap metric written out from its textbook definition; None = undefined."""
    n = tp + fp + fn + tn
    if name == "dice":
        return _ratio(2 * tp, 2 * tp + fp + fn)
    if name == "iou":
        return _ratio(tp, tp + fp + fn)
    if name == "precision":
        return _ratio(tp, tp + fp)
    if name == "recall":
        return _ratio(tp, tp + fn)
    if name == "specificity":
        return _ratio(tn, tn + fp)
    if name == "fpr":
        return _ratio(fp, fp + tn)
    if name == "fnr":
        return _ratio(fn, fn + tp)
    if name == "npv":
        return _ratio(tn, tn + fn)
    if name == "fdr":
        return _ratio(fp, fp + tp)
    if name == "accuracy":
        return _ratio(tp + tn, n)
    if name == "balanced_accuracy":
        a, b = _ratio(tp, tp + fn), _ratio(tn, tn + fp)
        return None if a is None or b is None else (a + b) / 2
    if name == "mcc":
        den = (tp + fp) * (tp + fn) * (tn + fp) * (tn + fn)  # Python ints: exact
        return None if den == 0 else (tp * tn - fp * fn) / math.sqrt(den)
    if name == "kappa":
        po = (tp + tn) / n
        pe = ((tp + fp) * (tp + fn) + (fn + tn) * (fp + tn)) / (n * n)
        return None if pe == 1 else (po - pe) / (1 - pe)
    if name == "volume_similarity":
        d = 2 * tp + fp + fn
        return None if d == 0 else 1 - abs(fp - fn) / d
    if name == "rvd":
        return _ratio((tp + fp) - (tp + fn), tp + fn)
    if name == "vol_pred_ml":
        return (tp + fp) * voxel_ml
    if name == "vol_gt_ml":
        return (tp + fn) * voxel_ml
    return {"tp": tp, "fp": fp, "fn": fn, "tn": tn}[name]
