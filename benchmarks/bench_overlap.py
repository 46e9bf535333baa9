"""Overlap counts: segloss's one-pass kernel vs straightforward numpy, from one run.

    python benchmarks/bench_overlap.py [--shape 512 512 200] [--classes 8]

Prints seconds and ratios for: segloss confusion (all classes, one pass); numpy per class
((pred == c) & (gt == c) sums, the usual way); numpy joint bincount; and one read of both
arrays (np.add.reduce) as the memory floor. F-ordered uint8 arrays, as nibabel loads them.
"""

import argparse
import time

import numpy as np

from segloss_cli.metrics.overlap import confusion


def best_of(fn, repeat=3):
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t)
    return min(times), out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--shape", type=int, nargs=3, default=[512, 512, 200])
    ap.add_argument("--classes", type=int, default=8)
    args = ap.parse_args()
    rng = np.random.default_rng(0)
    shape = tuple(args.shape)
    # Blobby labels: a coarse random grid upsampled, so runs of equal labels are realistic.
    coarse = rng.integers(0, args.classes, tuple(max(1, s // 16) for s in shape)).astype(np.uint8)
    gt = np.asfortranarray(np.kron(coarse, np.ones((16, 16, 16), np.uint8))[: shape[0], : shape[1], : shape[2]])
    noise = rng.random(gt.shape) < 0.05
    pred = np.asfortranarray(np.where(noise, (gt + 1) % args.classes, gt).astype(np.uint8))
    labels = list(range(1, args.classes))
    confusion(pred[:8, :8, :8], gt[:8, :8, :8], labels)  # compile / load cache outside timing

    t_seg, c = best_of(lambda: confusion(pred, gt, labels))

    def numpy_per_class():
        return [(np.sum((pred == k) & (gt == k)), np.sum(pred == k), np.sum(gt == k)) for k in labels]

    t_np, ref = best_of(numpy_per_class, repeat=1)
    t_bc, _ = best_of(
        lambda: np.bincount(
            pred.ravel(order="K").astype(np.int64) * args.classes + gt.ravel(order="K"), minlength=args.classes**2
        ),
        repeat=1,
    )
    t_floor, _ = best_of(lambda: (np.add.reduce(pred, axis=None), np.add.reduce(gt, axis=None)))
    assert [int(x) for x in c.tp] == [int(r[0]) for r in ref]
    n = gt.size
    print(f"volume {shape} uint8, {args.classes} classes, {n / 1e6:.1f} M voxels")
    print(f"segloss confusion (all classes)   {t_seg:8.3f} s")
    print(f"numpy per class (==, &, sum)      {t_np:8.3f} s   {t_np / t_seg:6.1f}x slower than segloss")
    print(f"numpy joint bincount              {t_bc:8.3f} s   {t_bc / t_seg:6.1f}x slower than segloss")
    print(f"read floor (np.add.reduce x2)     {t_floor:8.3f} s   segloss = {t_seg / t_floor:.2f}x floor")


if __name__ == "__main__":
    main()
