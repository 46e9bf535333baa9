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
    extra = _extra_metric(name, tp, fp, fn, tn)
    if extra is not _MISSING:
        return extra
    return {"tp": tp, "fp": fp, "fn": fn, "tn": tn}[name]


_MISSING = object()


def _extra_metric(name, tp, fp, fn, tn):
    """The opt-in metrics of issue 17, each from its textbook definition (Wikipedia's
    "Confusion matrix" table; Balayla 2020 for the prevalence threshold)."""
    tpr, tnr = _ratio(tp, tp + fn), _ratio(tn, tn + fp)
    ppv, npv = _ratio(tp, tp + fp), _ratio(tn, tn + fn)
    if name == "false_omission_rate":
        return _ratio(fn, fn + tn)
    if name == "informedness":
        return None if tpr is None or tnr is None else tpr + tnr - 1
    if name == "markedness":
        return None if ppv is None or npv is None else ppv + npv - 1
    if name == "fowlkes_mallows":
        return None if ppv is None or tpr is None else math.sqrt(ppv * tpr)
    if name == "lr_plus":
        return None if tpr is None or tnr is None or fp == 0 else tpr / (fp / (fp + tn))
    if name == "lr_minus":
        return None if tpr is None or tnr is None or tnr == 0 else (fn / (fn + tp)) / tnr
    if name == "prevalence_threshold":
        if tpr is None or tnr is None:
            return None
        from decimal import Decimal, getcontext

        getcontext().prec = 60
        a = Decimal(tp) / Decimal(tp + fn)
        b = Decimal(fp) / Decimal(fp + tn)
        if a == b:  # the formula's removable 0/0 (conventions.md: 0.5, undefined at 0 = 0)
            return None if a == 0 else 0.5
        return float(((a * b).sqrt() - b) / (a - b))
    return _MISSING


def mcc_multiclass(pred, gt):
    """Gorodkin's R_K as the correlation of the one-hot codings (MetricsReloaded's form:
    sum_k cov(P_k, G_k) / sqrt(sum_k cov(P_k, P_k) sum_k cov(G_k, G_k))); None when 0/0."""
    pred, gt = np.asarray(pred).ravel(), np.asarray(gt).ravel()
    labels = np.union1d(pred, gt)
    P = (pred[:, None] == labels[None, :]).astype(np.float64)
    G = (gt[:, None] == labels[None, :]).astype(np.float64)
    Pc, Gc = P - P.mean(0), G - G.mean(0)
    cov_pg, cov_pp, cov_gg = float(np.sum(Pc * Gc)), float(np.sum(Pc * Pc)), float(np.sum(Gc * Gc))
    return None if cov_pp * cov_gg == 0 else cov_pg / math.sqrt(cov_pp * cov_gg)
