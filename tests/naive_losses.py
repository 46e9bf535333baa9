"""Slow, obvious numpy versions of every loss (test oracles; written from conventions.md).

Everything works on explicit dense arrays: P, LP (log p), LQ (log(1 - p)) of shape (K, N),
the one-hot G (K, N) and class weights, so each formula reads like the table it comes from.
"""

from __future__ import annotations

import numpy as np

EPS = 1e-7


def activations(scores: np.ndarray, kind: str, renormalize: bool = False):
    """(P, LP, LQ) as float64 (K', N) from a (K, ...) score array; K = 1 is a sigmoid."""
    x = np.asarray(scores, dtype=np.float64).reshape(scores.shape[0], -1)
    if kind == "logits":
        if x.shape[0] == 1:
            z = np.concatenate([-x, x])  # logit of class 0 is -x
            lp = -np.logaddexp(0.0, -z)  # log sigmoid
            lq = -np.logaddexp(0.0, z)
            return np.exp(lp), lp, lq
        m = x.max(axis=0)
        lse = m + np.log(np.exp(x - m).sum(axis=0))
        lp = x - lse
        lq = np.empty_like(x)
        for c in range(x.shape[0]):
            others = np.delete(x, c, axis=0)
            mo = others.max(axis=0)
            lq[c] = mo + np.log(np.exp(others - mo).sum(axis=0)) - lse
        return np.exp(lp), lp, lq
    if x.shape[0] == 1:
        p = np.concatenate([1.0 - x, x])
        q = np.concatenate([x, 1.0 - x])
    else:
        p = x / x.sum(axis=0) if renormalize else x
        q = 1.0 - p
    return p, np.log(np.maximum(p, EPS)), np.log(np.maximum(q, EPS))


def onehot_activations(labels: np.ndarray, all_labels):
    """(P, LP, LQ) of a label map's one-hot encoding over ``all_labels``."""
    lab = np.asarray(labels).reshape(-1)
    p = np.stack([(lab == c).astype(np.float64) for c in all_labels])
    return p, np.log(np.maximum(p, EPS)), np.log(np.maximum(1.0 - p, EPS))


def wmean(values, weights):
    values = np.asarray(values, dtype=np.float64)
    weights = np.asarray(weights, dtype=np.float64)
    ok = np.isfinite(values)
    return float(np.sum(weights[ok] * values[ok]) / np.sum(weights[ok])) if ok.any() else float("nan")


def dice(P, G, idx, w, s_nr=1e-5, s_dr=1e-5, squared=False):
    per = []
    for c in idx:
        p, g = P[c], G[c]
        den = (np.sum(p * p) + np.sum(g * g)) if squared else (np.sum(p) + np.sum(g))
        per.append(1.0 - (2.0 * np.sum(p * g) + s_nr) / (den + s_dr))
    return np.array(per), wmean(per, w)


def iou(P, G, idx, w, s_nr=1e-5, s_dr=1e-5, squared=False):
    per = []
    for c in idx:
        p, g = P[c], G[c]
        inter = np.sum(p * g)
        tot = (np.sum(p * p) + np.sum(g * g)) if squared else (np.sum(p) + np.sum(g))
        per.append(1.0 - (2.0 * inter + s_nr) / (2.0 * (tot - inter) + s_dr))
    return np.array(per), wmean(per, w)


def generalized_dice(P, G, idx, s_nr=1e-5, s_dr=1e-5):
    ws = []
    for c in idx:
        n = np.sum(G[c])
        ws.append(np.inf if n == 0 else 1.0 / n**2)
    ws = np.array(ws)
    finite = ws[np.isfinite(ws)]
    ws[~np.isfinite(ws)] = finite.max() if finite.size else 0.0
    num = sum(2.0 * wc * np.sum(P[c] * G[c]) for wc, c in zip(ws, idx)) + s_nr
    den = sum(wc * (np.sum(P[c]) + np.sum(G[c])) for wc, c in zip(ws, idx)) + s_dr
    return None, 1.0 - num / den


def tversky(P, G, idx, w, a=0.3, b=0.7, s_nr=1e-5, s_dr=1e-5, gamma=None):
    per = []
    for c in idx:
        p, g = P[c], G[c]
        tp = np.sum(p * g)
        fp = np.sum(p * (1 - g))
        fn = np.sum((1 - p) * g)
        t = 1.0 - (tp + s_nr) / (tp + a * fp + b * fn + s_dr)
        per.append(t if gamma is None else t**gamma)
    return np.array(per), wmean(per, w)


def ce(LP, G, idx, w_all):
    y = G.argmax(axis=0)
    per = [(-LP[c][G[c] == 1].mean() if G[c].any() else np.nan) for c in idx]
    wy = np.asarray(w_all)[y]
    value = np.sum(wy * -LP[y, np.arange(y.size)]) / np.sum(wy)
    return np.array(per), float(value)


def focal(P, LP, G, idx, w_all, gamma=2.0):
    y = G.argmax(axis=0)
    term = -((1.0 - P) ** gamma) * LP
    per = [(term[c][G[c] == 1].mean() if G[c].any() else np.nan) for c in idx]
    wy = np.asarray(w_all)[y]
    return np.array(per), float(np.sum(wy * term[y, np.arange(y.size)]) / np.sum(wy))


def bce(LP, LQ, G, idx, w):
    per = [-np.mean(G[c] * LP[c] + (1 - G[c]) * LQ[c]) for c in idx]
    return np.array(per), wmean(per, w)


def binary_focal(P, LP, LQ, G, idx, w, a=0.25, gamma=2.0):
    per = [-np.mean(a * G[c] * (1 - P[c]) ** gamma * LP[c] + (1 - a) * (1 - G[c]) * P[c] ** gamma * LQ[c]) for c in idx]
    return np.array(per), wmean(per, w)


def combo(P, LP, LQ, G, idx, w, a=0.5, b=0.5, s_nr=1e-5, s_dr=1e-5, squared=False):
    d, _ = dice(P, G, idx, w, s_nr, s_dr, squared)
    per = []
    for n, c in enumerate(idx):
        mce = -np.mean(a * G[c] * LP[c] + (1 - a) * (1 - G[c]) * LQ[c])
        per.append(b * mce - (1 - b) * (1 - d[n]))
    return np.array(per), wmean(per, w)


def lovasz_grad(gt_sorted):
    """Berman et al.'s lovasz_grad, in numpy."""
    gts = gt_sorted.sum()
    intersection = gts - np.cumsum(gt_sorted)
    union = gts + np.cumsum(1.0 - gt_sorted)
    jaccard = 1.0 - intersection / union
    if gt_sorted.size > 1:
        jaccard[1:] = jaccard[1:] - jaccard[:-1].copy()
    return jaccard


def lovasz_flat(errors, g):
    order = np.argsort(-errors, kind="stable")
    return float(np.dot(errors[order], lovasz_grad(g[order].astype(np.float64))))


def lovasz_softmax(P, G, idx, w):
    per = [(lovasz_flat(np.abs(G[c] - P[c]), G[c]) if G[c].any() else np.nan) for c in idx]
    return np.array(per), wmean(per, w)


def lovasz_hinge(LP, LQ, G, idx, w):
    per = []
    for c in idx:
        z = LP[c] - LQ[c]
        signs = 2.0 * G[c] - 1.0
        per.append(lovasz_flat(np.maximum(1.0 - z * signs, 0.0), G[c]))
    return np.array(per), wmean(per, w)


def all_losses(P, LP, LQ, G, idx, w_all, params, sigmoid=False):
    """{name: (per_class array over idx or None, value)} for every loss, default parameters
    overridden by ``params`` (the registry's parameter names)."""
    p = {
        "smooth_nr": 1e-5,
        "smooth_dr": 1e-5,
        "squared": False,
        "tversky_alpha": 0.3,
        "tversky_beta": 0.7,
        "focal_tversky_gamma": 0.75,
        "focal_gamma": 2.0,
        "focal_alpha": 0.25,
        "combo_alpha": 0.5,
        "combo_beta": 0.5,
        "lambda_dice": 1.0,
        "lambda_ce": 1.0,
        "lambda_focal": 1.0,
        **params,
    }
    w = np.asarray(w_all)[idx]
    sm = dict(s_nr=p["smooth_nr"], s_dr=p["smooth_dr"])
    out = {
        "dice": dice(P, G, idx, w, squared=p["squared"], **sm),
        "iou": iou(P, G, idx, w, squared=p["squared"], **sm),
        "generalized_dice": generalized_dice(P, G, idx, **sm),
        "tversky": tversky(P, G, idx, w, p["tversky_alpha"], p["tversky_beta"], **sm),
        "focal_tversky": tversky(
            P, G, idx, w, p["tversky_alpha"], p["tversky_beta"], gamma=p["focal_tversky_gamma"], **sm
        ),
        "ce": ce(LP, G, idx, w_all),
        "bce": bce(LP, LQ, G, idx, w),
        "focal": focal(P, LP, G, idx, w_all, p["focal_gamma"]),
        "binary_focal": binary_focal(P, LP, LQ, G, idx, w, p["focal_alpha"], p["focal_gamma"]),
        "lovasz_softmax": lovasz_softmax(P, G, idx, w),
        "lovasz_hinge": lovasz_hinge(LP, LQ, G, idx, w),
        "combo": combo(P, LP, LQ, G, idx, w, p["combo_alpha"], p["combo_beta"], squared=p["squared"], **sm),
    }
    d_per, d_val = out["dice"]
    c_per, c_val = out["bce"] if sigmoid else out["ce"]
    out["dice_ce"] = (
        p["lambda_dice"] * d_per + p["lambda_ce"] * c_per,
        p["lambda_dice"] * d_val + p["lambda_ce"] * c_val,
    )
    f_per, f_val = out["focal"]
    out["dice_focal"] = (
        p["lambda_dice"] * d_per + p["lambda_focal"] * f_per,
        p["lambda_dice"] * d_val + p["lambda_focal"] * f_val,
    )
    lc = np.log(np.cosh(d_per))
    out["log_cosh_dice"] = (lc, wmean(lc, w))
    return out
