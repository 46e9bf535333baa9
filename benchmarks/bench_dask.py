"""A folder through a Dask LocalCluster against the local worker threads.

    python benchmarks/bench_dask.py [--cases 200] [--shape 128 128 96] [--labels 8] [--workers 2]
                                    [--metrics overlap] [--repeat 3] [--dir DIR]

Generates the cases of benchmarks/bench_batch.py (uint8 label maps, .nii.gz), then times, as
whole commands in fresh processes after one warm-up run of each (numba's cache filled):
  - `segloss eval PRED GT --jobs W` (worker threads),
  - `segloss eval PRED GT --scheduler local:W` (a LocalCluster of W single-threaded worker
    processes, started and torn down by the run; --batch-size auto),
alternating the two, each the best of --repeat. Reports wall time, CPU time (the command and
every process it waited for: Dask's workers included) and cases/s, and checks that both
wrote the same JSON. Target: the Dask run within 1.5x of --jobs W.
"""

from __future__ import annotations

import argparse
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_batch import generate  # noqa: E402


def timed(cmd: list[str]) -> tuple[float, float]:
    """Wall and CPU seconds of one command (children's user + system time)."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t = time.perf_counter()
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)
    wall = time.perf_counter() - t
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--cases", type=int, default=200)
    ap.add_argument("--shape", type=int, nargs=3, default=(128, 128, 96))
    ap.add_argument("--labels", type=int, default=8)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--metrics", default="overlap")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--dir", type=Path, default=None, help="keep the generated cases here (reused when present)")
    args = ap.parse_args()

    root = args.dir or Path(tempfile.mkdtemp(prefix="segloss_bench_dask_"))
    pdir, gdir = generate(root, args.cases, tuple(args.shape), args.labels)
    segloss = [sys.executable, "-m", "segloss_cli", "eval", str(pdir), str(gdir), "--metrics", args.metrics, "-q"]
    out = {"threads": root / "threads.json", "dask": root / "dask.json"}
    modes = {
        "threads": [*segloss, "--jobs", str(args.workers), "--json", str(out["threads"])],
        "dask": [*segloss, "--scheduler", f"local:{args.workers}", "--json", str(out["dask"])],
    }
    for cmd in modes.values():  # warm-up: numba's cache, the OS page cache
        subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)
    best = {name: (float("inf"), float("inf")) for name in modes}
    for _ in range(args.repeat):
        for name, cmd in modes.items():
            wall, cpu = timed(cmd)
            best[name] = (min(best[name][0], wall), min(best[name][1], cpu))
    same = out["threads"].read_bytes() == out["dask"].read_bytes()
    n = args.cases
    print(f"{n} cases of {'x'.join(map(str, args.shape))}, {args.labels} labels, --metrics {args.metrics}, "
          f"{os.cpu_count()} cores, best of {args.repeat}")  # fmt: skip
    print(f"{'run':<34} {'wall s':>7} {'cases/s':>8} {'CPU s':>7}")
    labels = {"threads": f"--jobs {args.workers}", "dask": f"--scheduler local:{args.workers}"}
    for name in modes:
        wall, cpu = best[name]
        print(f"{labels[name]:<34} {wall:7.2f} {n / wall:8.1f} {cpu:7.2f}")
    wall_ratio = best["dask"][0] / best["threads"][0]
    cpu_ratio = best["dask"][1] / best["threads"][1]
    print(f"dask / threads: wall {wall_ratio:.2f}x, CPU {cpu_ratio:.2f}x (target <= 1.5x); JSON identical: {same}")


if __name__ == "__main__":
    main()
