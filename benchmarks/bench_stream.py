"""Peak memory of `segloss eval` on a folder: 100 cases against 10,000 (issue 16, item 3).

Without --json (and --format json, --html, a .STAT requirement) a folder run keeps no case:
the per-case outputs are streamed (--csv, --cases-jsonl, --format csv) and the summary is
taken case by case, so peak RSS should not grow with the number of cases. Each mode runs in a
fresh process; its peak RSS is the child's ru_maxrss (os.wait4). The goal: 10,000 cases within
1.2x of 100 cases in every non-JSON mode. --json is measured too, for contrast (it must hold
every case to render the report).

    .venv/bin/python benchmarks/bench_stream.py [--small 100] [--large 10000] [--jobs 2]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

MODES = {
    "table": [],
    "--csv": ["--csv", "{out}/c.csv"],
    "--cases-jsonl": ["--cases-jsonl", "{out}/c.jsonl"],
    "--summary-csv": ["--summary-csv", "{out}/s.csv"],
    "--format csv": ["--format", "csv"],
    "--json (keeps cases)": ["--json", "{out}/r.json"],
}


def make_cases(top: Path, n: int) -> tuple[Path, Path]:
    """n pairs of 8x8x8 label maps (.npy, 3 classes, a few voxels changed per case)."""
    pdir, gdir = top / f"pred{n}", top / f"gt{n}"
    pdir.mkdir()
    gdir.mkdir()
    rng = np.random.default_rng(0)
    gt = np.zeros((8, 8, 8), np.uint8)
    gt[1:5, 1:6, 1:7] = 1
    gt[5:8, 2:7, 2:6] = 2
    for i in range(n):
        pred = gt.copy()
        idx = tuple(rng.integers(0, 8, 6) for _ in range(3))
        pred[idx] = rng.integers(0, 3, 6)
        np.save(pdir / f"case{i:05d}.npy", pred)
        np.save(gdir / f"case{i:05d}.npy", gt)
    return pdir, gdir


def peak_rss_mib(cmd: list[str]) -> tuple[float, float]:
    """(peak RSS of the child in MiB, wall seconds)."""
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    err = proc.stderr.read().decode() if proc.stderr else ""
    if proc.returncode != 0:
        raise SystemExit(f"failed ({proc.returncode}): {' '.join(cmd)}\n{err}")
    return usage.ru_maxrss / 1024, time.perf_counter() - start  # ru_maxrss is in KiB on Linux


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--small", type=int, default=100)
    ap.add_argument("--large", type=int, default=10_000)
    ap.add_argument("--jobs", type=int, default=2)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        top = Path(tmp)
        t0 = time.perf_counter()
        folders = {n: make_cases(top, n) for n in (args.small, args.large)}
        print(f"made {args.small} + {args.large} cases (8x8x8 .npy) in {time.perf_counter() - t0:.1f} s")
        base = [sys.executable, "-m", "segloss_cli", "eval"]
        opts = ["--spacing", "1", "-q", "-j", str(args.jobs)]
        peak_rss_mib([*base, *map(str, folders[args.small]), *opts])  # warm numba's cache
        print(f"{'mode':22} {args.small:>8} cases {args.large:>8} cases   ratio   cases/s (large)")
        worst = 0.0
        for mode, extra in MODES.items():
            rss = {}
            for n, (pdir, gdir) in folders.items():
                out = top / f"out-{n}"
                out.mkdir(exist_ok=True)
                cmd = [*base, str(pdir), str(gdir), *opts, *(e.format(out=out) for e in extra)]
                rss[n] = peak_rss_mib(cmd)
            ratio = rss[args.large][0] / rss[args.small][0]
            rate = args.large / rss[args.large][1]
            print(
                f"{mode:22} {rss[args.small][0]:8.1f} MiB {rss[args.large][0]:8.1f} MiB   {ratio:5.2f}x   {rate:7.0f}"
            )
            if "json" not in mode:
                worst = max(worst, ratio)
        print(f"largest ratio in the non-JSON modes: {worst:.2f}x (goal: <= 1.20x)")


if __name__ == "__main__":
    main()
