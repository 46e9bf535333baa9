"""2-D masks at Cityscapes size: scoring a PNG folder vs decoding the PNGs alone, in one run.

    python benchmarks/bench_images.py            # 1,000 pairs of 512x1024, 19 classes + 255
    python benchmarks/bench_images.py --n 200    # a shorter run

The pairs are generated once into a temporary folder (blocky regions like street scenes, a
void band of 255, a prediction that differs at region edges and in noisy patches), saved as
8-bit greyscale PNGs as Cityscapes' *_labelTrainIds.png are. Then, in this order:

1. decode only: every PRED and GT PNG decoded with Pillow (``np.asarray(Image.open(p))``),
   one thread and two threads (Pillow releases the GIL while it inflates), CPU and wall time;
2. ``segloss eval PRED GT --ignore-label 255 --metrics overlap --jobs 2 -q --json ...`` in a
   fresh process (imports and a warm numba cache included), CPU and wall time.

Printed: each time and the ratio segloss / decode-only (wall with two threads on both sides,
and CPU). CPU time is what to read on a shared machine.
"""

from __future__ import annotations

import argparse
import os
import resource
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np


def make_pairs(folder: Path, n: int, shape=(512, 1024), k: int = 19, seed: int = 0) -> tuple[Path, Path]:
    from PIL import Image

    rng = np.random.default_rng(seed)
    pdir, gdir = folder / "pred", folder / "gt"
    pdir.mkdir(parents=True, exist_ok=True)
    gdir.mkdir(parents=True, exist_ok=True)
    h, w = shape
    rows, cols = np.arange(h)[:, None], np.arange(w)[None, :]

    def ragged(labels: np.ndarray, amplitude: int) -> np.ndarray:
        # Region boundaries that wander: each row and column shifted by a random walk.
        dx = np.clip(np.cumsum(rng.integers(-1, 2, size=h)), -amplitude, amplitude)[:, None]
        dy = np.clip(np.cumsum(rng.integers(-1, 2, size=w)), -amplitude, amplitude)[None, :]
        return labels[np.clip(rows + dy, 0, h - 1), np.clip(cols + dx, 0, w - 1)]

    for i in range(n):
        # Street-scene-like regions: a coarse random grid of classes, upsampled, ragged edges.
        coarse = rng.integers(0, k, size=(h // 32, w // 32), dtype=np.uint8)
        base = np.repeat(np.repeat(coarse, 32, axis=0), 32, axis=1)
        gt = ragged(base, 12)
        pred = ragged(gt, 4)  # the model: boundaries off by a few pixels, one wrong patch
        patch = rng.integers(0, h - 64), rng.integers(0, w - 64)
        pred[patch[0] : patch[0] + 64, patch[1] : patch[1] + 64] = rng.integers(0, k)
        edges = np.zeros(shape, bool)  # the void band Cityscapes draws between objects
        edges[:, 1:] |= gt[:, 1:] != gt[:, :-1]
        edges[1:, :] |= gt[1:, :] != gt[:-1, :]
        gt[edges] = 255
        Image.fromarray(gt, mode="L").save(gdir / f"city_{i:05d}.png")
        Image.fromarray(pred, mode="L").save(pdir / f"city_{i:05d}.png")
    return pdir, gdir


def decode_all(files: list[Path], threads: int) -> tuple[float, float]:
    """(wall s, CPU s) to decode every file with Pillow on ``threads`` threads."""
    from PIL import Image

    def work(chunk):
        for f in chunk:
            with Image.open(f) as img:
                np.asarray(img)

    chunks = [files[i::threads] for i in range(threads)]
    c0, t0 = time.process_time(), time.perf_counter()
    pool = [threading.Thread(target=work, args=(c,)) for c in chunks]
    for t in pool:
        t.start()
    for t in pool:
        t.join()
    return time.perf_counter() - t0, time.process_time() - c0


def run_segloss(pdir: Path, gdir: Path, out: Path) -> tuple[float, float]:
    """(wall s, CPU s of the child) of one `segloss eval` over the folders."""
    cmd = [
        sys.executable,
        "-m",
        "segloss_cli",
        "eval",
        str(pdir),
        str(gdir),
        "--ignore-label",
        "255",
        "--metrics",
        "overlap",
        "--jobs",
        "2",
        "-q",
        "--json",
        str(out),
    ]
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)
    wall = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, default=1000, help="pairs to generate (default 1000)")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        t0 = time.perf_counter()
        pdir, gdir = make_pairs(folder, args.n)
        files = sorted(pdir.iterdir()) + sorted(gdir.iterdir())
        size = sum(f.stat().st_size for f in files)
        print(
            f"{args.n} pairs of 512x1024 uint8 PNG (19 classes + 255), {size / 2**20:.0f} MiB, "
            f"made in {time.perf_counter() - t0:.0f} s; {os.cpu_count()} cores"
        )
        run_segloss(pdir, gdir, folder / "warm.json")  # numba cache warm, files in the page cache
        d1 = decode_all(files, 1)
        d2 = decode_all(files, 2)
        s = run_segloss(pdir, gdir, folder / "scores.json")
        print(f"  decode only, 1 thread : {d1[0]:6.2f} s wall {d1[1]:6.2f} s CPU")
        print(f"  decode only, 2 threads: {d2[0]:6.2f} s wall {d2[1]:6.2f} s CPU")
        print(f"  segloss eval --jobs 2 : {s[0]:6.2f} s wall {s[1]:6.2f} s CPU (fresh process, imports included)")
        print(
            f"  ratio segloss --jobs 2 / decode: {s[0] / d1[0]:.2f}x wall vs decoding on one thread, "
            f"{s[0] / d2[0]:.2f}x vs two threads; {s[1] / d1[1]:.2f}x CPU"
        )


if __name__ == "__main__":
    main()
