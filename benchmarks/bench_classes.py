"""Cost per class: a 256x256 uint16 label map with N labels (each a few pixels), one pair.

    python benchmarks/bench_classes.py            # N = 1, 1,000, 4,000
    python benchmarks/bench_classes.py --full     # and N = 16,000, 65,535 (minutes)
    python benchmarks/bench_classes.py 1000 16000 # these N only

Each run is one fresh `segloss eval PRED GT --metrics overlap` process, CPU time of the child
(user + system) and its own peak RSS (wait4), in two modes: `--format json` on stdout, and
the table on stdout (/dev/null) with `--json FILE`. Printed: seconds, ms per class above the
1-class baseline measured in the same run ((t_N - t_1) / N; issue 20 asks for <= 1 ms), peak
RSS and the JSON size.
"""

from __future__ import annotations

import os
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


def run(p: Path, g: Path, out: Path, *extra: str) -> tuple[float, int]:
    """CPU seconds (user + system) and peak RSS (KiB) of one `segloss eval` child: its own
    rusage from wait4, not the running maximum over every child RUSAGE_CHILDREN gives."""
    cmd = [sys.executable, "-m", "segloss_cli", "eval", str(p), str(g), "--metrics", "overlap", *extra]
    with open(out if not extra else os.devnull, "w") as fh:
        if not extra:
            cmd += ["--format", "json"]
        child = subprocess.Popen(cmd, stdout=fh, stderr=subprocess.DEVNULL, env={**os.environ, "PYTHONPATH": str(ROOT)})
        _, _, usage = os.wait4(child.pid, 0)
    return usage.ru_utime + usage.ru_stime, usage.ru_maxrss


MODES = {
    "stdout": (),  # --format json on stdout (the figure of issue 20)
    "file": ("--json", "{out}", "--quiet"),  # table on stdout (to /dev/null), JSON to a file
}


def main() -> None:
    sizes = [1, 1000, 4000] + ([16000, 65535] if "--full" in sys.argv else [])
    sizes = [int(a) for a in sys.argv[1:] if a.isdigit()] or sizes
    sizes = sorted({1, *sizes})
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        files = {n: pair(folder, n) for n in sizes}
        run(*files[1], folder / "warm.json")  # numba cache warm for this tree
        for mode, extra in MODES.items():
            out = folder / "j1.json"
            args = [a.format(out=out) for a in extra]
            base = min(run(*files[1], out, *args)[0] for _ in range(2))
            print(f"{mode}: N=1 baseline {base:.2f} s CPU")
            for n in sizes[1:]:
                out = folder / f"j{n}.json"
                args = [a.format(out=out) for a in extra]
                cpu, rss = run(*files[n], out, *args)
                size = out.stat().st_size
                print(
                    f"{mode}: N={n:6d} {cpu:7.2f} s CPU  {(cpu - base) / n * 1e3:6.3f} ms/class  "
                    f"peak RSS {rss / 1024:6.0f} MB  JSON {size / 1e6:6.1f} MB",
                    flush=True,
                )


if __name__ == "__main__":
    main()
