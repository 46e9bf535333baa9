"""Cost per class: a 256x256 uint16 label map with N labels (each a few pixels), one pair.

    python benchmarks/bench_classes.py            # N = 1, 1,000, 4,000
    python benchmarks/bench_classes.py --full     # and N = 16,000, 65,535 (minutes)

Each run is one fresh `segloss eval PRED GT --metrics overlap --format json` process (the
table, the summary and the JSON of N classes), CPU time of the child (user + system) and
its peak memory. Printed: seconds, ms per class above the 1-class baseline measured in the
same run ((t_N - t_1) / N; issue 20 asks for <= 1 ms), and the JSON size.
"""

from __future__ import annotations

import os
import resource
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]


def pair(folder: Path, n: int) -> tuple[Path, Path]:
    rng = np.random.default_rng(0)
    gt = rng.permutation((np.arange(256 * 256) % n + 1).astype(np.uint16)).reshape(256, 256)
    pred = gt.copy()
    noisy = rng.random(gt.shape) < 0.2
    pred[noisy] = rng.integers(1, n + 1, int(noisy.sum()))
    np.save(folder / f"p{n}.npy", pred)
    np.save(folder / f"g{n}.npy", gt)
    return folder / f"p{n}.npy", folder / f"g{n}.npy"


def run(p: Path, g: Path, out: Path) -> tuple[float, int]:
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    with open(out, "w") as fh:
        subprocess.run(
            [sys.executable, "-m", "segloss_cli", "eval", str(p), str(g), "--metrics", "overlap", "--format", "json"],
            stdout=fh,
            stderr=subprocess.DEVNULL,
            env={**os.environ, "PYTHONPATH": str(ROOT)},
            check=False,
        )
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return cpu, after.ru_maxrss


def main() -> None:
    sizes = [1, 1000, 4000] + ([16000, 65535] if "--full" in sys.argv else [])
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        files = {n: pair(folder, n) for n in sizes}
        run(*files[1], folder / "warm.json")  # numba cache warm for this tree
        base = min(run(*files[1], folder / "j1.json")[0] for _ in range(2))
        print(f"N=1 baseline {base:.2f} s CPU")
        for n in sizes[1:]:
            cpu, rss = run(*files[n], folder / f"j{n}.json")
            size = (folder / f"j{n}.json").stat().st_size
            print(
                f"N={n:6d} {cpu:7.2f} s CPU  {(cpu - base) / n * 1e3:6.3f} ms/class  "
                f"peak {rss / 1024:6.0f} MB (largest child so far)  JSON {size / 1e6:6.1f} MB"
            )


if __name__ == "__main__":
    main()
