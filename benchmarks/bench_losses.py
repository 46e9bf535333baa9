"""Benchmark: every sum-based loss in one fused pass vs straightforward numpy vs one read.

    python benchmarks/bench_losses.py            # 512 x 512 x 200, 8 classes (1.7 GB float32)
    python benchmarks/bench_losses.py --small    # 128 x 128 x 50, quick

Probabilities are float32, channel-last and Fortran-ordered, as nibabel returns a 4-D NIfTI.
Prints seconds and ratios: segloss / floor (one np.add.reduce over the array; both best of
3), numpy / segloss (numpy once), Lovasz-Softmax separately, and segloss's peak resident memory relative to the
probability array (Linux: VmHWM after resetting it through /proc/self/clear_refs).
"""

from __future__ import annotations

import argparse
import time

import numpy as np

EPS = 1e-7


def make_case(shape, k, seed=0):
    """Softmax-like float32 probabilities (F-ordered, channel-last) and a correlated GT."""
    rng = np.random.default_rng(seed)
    probs = np.empty(shape + (k,), dtype=np.float32, order="F")
    # piecewise-constant GT (boxes of a few dozen voxels), as real label maps are coherent
    ix, iy, iz = (np.arange(n) for n in shape)
    gt = np.empty(shape, dtype=np.uint8, order="F")
    for z in range(shape[2]):
        gt[:, :, z] = ((ix[:, None] // 37) * 3 + (iy[None, :] // 53) * 5 + iz[z] // 29) % k
    for c in range(k):
        ch = probs[..., c]
        for z in range(shape[2]):
            ch[:, :, z] = rng.random(shape[:2], dtype=np.float32)
        ch += 3.0 * (gt == c)  # the true class usually wins
    total = probs.sum(axis=-1, dtype=np.float32)
    for c in range(k):
        probs[..., c] /= total
    del total
    return probs, gt


def segloss_losses(probs, gt, names):
    from segloss_cli.classes import ClassSet
    from segloss_cli.losses import compute_losses
    from segloss_cli.losses.registry import LossParams
    from segloss_cli.model import Prediction, Volume

    k = probs.shape[-1]
    vol = Volume(probs, (1.0, 1.0, 1.0), np.eye(4), "<memory>")
    pred = Prediction("probs", gt, np.moveaxis(probs, -1, 0), vol, channel_axis=3)
    gvol = Volume(gt, (1.0, 1.0, 1.0), np.eye(4), "<memory>")
    classes = ClassSet(tuple(range(k)), tuple(range(1, k)), {})
    return compute_losses(pred, gvol, classes, LossParams(), names=tuple(names))


def numpy_losses(probs, gt):
    """What one writes without segloss: a one-hot mask and each loss's own expression,
    class by class (so memory stays at a few volume-sized temporaries)."""
    k = probs.shape[-1]
    out = {}
    n = gt.size
    g_all = [(gt == c) for c in range(k)]
    per = {
        name: []
        for name in ("dice", "iou", "tversky", "focal_tversky", "bce", "binary_focal", "combo", "log_cosh_dice")
    }
    ce_num = focal_num = 0.0
    gdl_w, gdl_i, gdl_d = [], [], []
    for c in range(k):
        p = probs[..., c]
        g = g_all[c].astype(np.float32)
        # dice
        per["dice"].append(
            1
            - (2 * np.sum(p * g, dtype=np.float64) + 1e-5)
            / (np.sum(p, dtype=np.float64) + np.sum(g, dtype=np.float64) + 1e-5)
        )
        # iou
        inter = np.sum(p * g, dtype=np.float64)
        per["iou"].append(
            1 - (2 * inter + 1e-5) / (2 * (np.sum(p, dtype=np.float64) + np.sum(g, dtype=np.float64) - inter) + 1e-5)
        )
        # generalized dice ingredients
        ng = np.sum(g, dtype=np.float64)
        gdl_w.append(1 / ng**2 if ng else np.inf)
        gdl_i.append(np.sum(p * g, dtype=np.float64))
        gdl_d.append(np.sum(p, dtype=np.float64) + ng)
        # tversky, focal tversky
        tp = np.sum(p * g, dtype=np.float64)
        fp = np.sum(p * (1 - g), dtype=np.float64)
        fn = np.sum((1 - p) * g, dtype=np.float64)
        t = 1 - (tp + 1e-5) / (tp + 0.3 * fp + 0.7 * fn + 1e-5)
        per["tversky"].append(t)
        per["focal_tversky"].append(t**0.75)
        # ce, focal over voxels of class c
        lp = np.log(np.maximum(p, EPS))
        lq = np.log(np.maximum(1 - p, EPS))
        ce_num += -np.sum(lp * g, dtype=np.float64)
        focal_num += -np.sum((1 - p) ** 2 * lp * g, dtype=np.float64)
        per["bce"].append(-np.sum(g * lp + (1 - g) * lq, dtype=np.float64) / n)
        per["binary_focal"].append(
            -np.sum(0.25 * g * (1 - p) ** 2 * lp + 0.75 * (1 - g) * p**2 * lq, dtype=np.float64) / n
        )
        mce = -np.sum(0.5 * g * lp + 0.5 * (1 - g) * lq, dtype=np.float64) / n
        d = 1 - (2 * np.sum(p * g, dtype=np.float64) + 1e-5) / (
            np.sum(p, dtype=np.float64) + np.sum(g, dtype=np.float64) + 1e-5
        )
        per["combo"].append(0.5 * mce - 0.5 * (1 - d))
        per["log_cosh_dice"].append(np.log(np.cosh(d)))
    for name, vals in per.items():
        out[name] = float(np.mean(vals[1:]))
    w = np.array(gdl_w[1:])
    w[np.isinf(w)] = w[np.isfinite(w)].max()
    out["generalized_dice"] = 1 - (2 * np.sum(w * gdl_i[1:]) + 1e-5) / (np.sum(w * gdl_d[1:]) + 1e-5)
    out["ce"] = ce_num / n
    out["focal"] = focal_num / n
    out["dice_ce"] = out["dice"] + out["ce"]
    out["dice_focal"] = out["dice"] + out["focal"]
    return out


def peak_rss_reset():
    try:
        with open("/proc/self/clear_refs", "w") as fh:
            fh.write("5")
        return True
    except OSError:
        return False


def peak_rss_bytes():
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    return 0


def current_rss_bytes():
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    return 0


def best_of(fn, repeat):
    times = []
    result = None
    for _ in range(repeat):
        t0 = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - t0)
    return min(times), result


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--small", action="store_true", help="128 x 128 x 50 instead of 512 x 512 x 200")
    ap.add_argument("--classes", type=int, default=8)
    ap.add_argument("--no-numpy", action="store_true", help="skip the (slow) numpy version")
    ap.add_argument("--no-lovasz", action="store_true")
    args = ap.parse_args()
    shape = (128, 128, 50) if args.small else (512, 512, 200)
    # best of 3 for the one-read floor and every segloss timing (well under a second each on
    # the full volume; the first pass over a freshly built array was up to 30% slower, and the
    # machine is shared); the slow numpy version runs once
    repeat = 3
    import numba

    from segloss_cli.losses.registry import LOSSES

    sum_names = tuple(n for n, s in LOSSES.items() if s.family == "sum")
    groups = {
        "region only (dice, iou, gdl, tversky, focal_tversky, log_cosh_dice)": (
            "dice",
            "iou",
            "generalized_dice",
            "tversky",
            "focal_tversky",
            "log_cosh_dice",
        ),
        "+ ce, focal, dice_ce, dice_focal": ("dice", "ce", "focal", "dice_ce", "dice_focal"),
    }
    # compile (or load the cache) on a tiny case first: timings below are steady state
    tiny_p, tiny_g = make_case((4, 5, 6), args.classes)
    segloss_losses(tiny_p, tiny_g, sum_names + ("lovasz_softmax",))

    probs, gt = make_case(shape, args.classes)
    nbytes = probs.nbytes
    print(
        f"volume {shape} x {args.classes} classes, float32 channel-last F-order: {nbytes / 1e9:.2f} GB; "
        f"numba threads {numba.get_num_threads()}"
    )

    flat = probs.ravel(order="K")
    t_floor, _ = best_of(lambda: np.add.reduce(flat), repeat)
    print(f"floor  np.add.reduce (one read)          {t_floor:8.3f} s   (this and segloss: best of {repeat})")

    base = current_rss_bytes()
    reset = peak_rss_reset()
    t_seg, ours = best_of(lambda: segloss_losses(probs, gt, sum_names), repeat)
    peak = peak_rss_bytes()
    print(f"segloss all {len(sum_names)} sum-based losses, fused    {t_seg:8.3f} s   = {t_seg / t_floor:.2f} x floor")
    if reset:
        print(
            f"        peak RSS {peak / 1e9:.2f} GB = {peak / nbytes:.3f} x the probability array; "
            f"extra during the run {(peak - base) / 1e6:.1f} MB (RSS before {base / 1e9:.2f} GB = probs + GT "
            f"{(nbytes + gt.nbytes) / 1e9:.2f} GB + interpreter)"
        )

    for label, names in groups.items():
        t_g, _ = best_of(lambda names=names: segloss_losses(probs, gt, names), repeat)
        print(f"        {label}: {t_g:.3f} s = {t_g / t_floor:.2f} x floor")
    print(
        "        (probabilities: region losses need no log; ce/focal one log per voxel (its own class);"
        " bce/binary_focal/combo one per voxel and class; float32 logs for float32 input)"
    )

    if not args.no_numpy:
        t_np, ref = best_of(lambda: numpy_losses(probs, gt), 1)
        print(f"numpy  one-hot + per-loss expressions     {t_np:8.3f} s   segloss is {t_np / t_seg:.1f} x faster")
        worst = max(abs(ours[n].value - ref[n]) / max(abs(ref[n]), 1e-12) for n in ref)
        print(
            f"        largest relative difference segloss vs numpy over {len(ref)} losses: {worst:.1e} (numpy sums float32 products)"
        )

    if not args.no_lovasz:
        t_lv, _ = best_of(lambda: segloss_losses(probs, gt, ("lovasz_softmax",)), 1)
        print(
            f"segloss lovasz_softmax ({args.classes - 1} classes)           {t_lv:8.3f} s   = {t_lv / t_floor:.1f} x floor"
        )


if __name__ == "__main__":
    main()
