"""Warm CPU time of segloss workloads, this tree vs a base commit, side by side in one run.

    .venv/bin/python benchmarks/bench_warm_vs.py [--base COMMIT] [--reps N]

Issue 13's guard: the cold-start work (serial twins of the prange kernels, uint8 narrowing,
fewer inlined copies) must leave every warm run no slower. The base commit is checked out
into a temporary git worktree; each workload runs in a fresh process per tree with its own
warm numba cache, alternating base and head, and the best CPU time (user + sys of the work,
after one warm-up call in the same process) is reported with the ratio head / base.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_BASE = "43ebe4d"  # main before issue 13's serial kernels

CHILD = r"""
import resource, sys
import numpy as np
import nibabel as nib
from segloss_cli.api import score

def cpu():
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime

def load(name):
    return np.asarray(nib.load(f"sample_data/{name}").dataobj)

work = sys.argv[1]
if work == "sample 2.7M voxels, default metrics":
    pred, gt = load("dk_pred.nii.gz"), load("dk_gt.nii.gz")
    call = lambda: score(pred, gt, spacing_mm=(1, 1, 1), metrics="dice,iou,hd95,assd,nsd")
elif work == "240x240x155, 39 classes, surfaces":
    rng = np.random.default_rng(0)
    gt = np.zeros((240, 240, 155), np.uint8)
    for k in range(1, 40):
        c = rng.integers(20, 220, 3)
        r = int(rng.integers(5, 25))
        gt[max(0, c[0] - r) : c[0] + r, max(0, c[1] - r) : c[1] + r, max(0, c[2] % 150 - r) : c[2] % 150 + r] = k
    pred = np.roll(gt, 2, axis=0)
    call = lambda: score(pred, gt, spacing_mm=(1, 1, 1), metrics="dice,hd95,assd,nsd")
elif work == "int16 sample, overlap":
    pred, gt = load("dk_pred.nii.gz").astype(np.int16), load("dk_gt.nii.gz").astype(np.int16)
    call = lambda: score(pred, gt, metrics="dice,iou,precision,recall")
elif work == "probabilities, every loss":
    probs, gt = load("tissue_probs.nii.gz"), load("tissue_gt.nii.gz")
    call = lambda: score(probs, gt, spacing_mm=(1, 1, 1), losses="all", metrics="dice")
call()
best = 1e9
for _ in range(int(sys.argv[2])):
    t = cpu()
    call()
    best = min(best, cpu() - t)
print(best)
"""

WORKLOADS = (
    "sample 2.7M voxels, default metrics",
    "240x240x155, 39 classes, surfaces",
    "int16 sample, overlap",
    "probabilities, every loss",
)


def run(tree: Path, cache: Path, work: str, reps: int) -> float:
    env = {k: v for k, v in os.environ.items() if not k.startswith("NUMBA_")}
    env.update(NUMBA_CACHE_DIR=str(cache), PYTHONPATH=str(tree))
    out = subprocess.run(
        [sys.executable, "-c", CHILD, work, str(reps)], env=env, cwd=ROOT, capture_output=True, text=True
    )
    if out.returncode != 0:
        raise SystemExit(f"{work} in {tree} failed: {out.stderr[-800:]}")
    return float(out.stdout.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--base", default=DEFAULT_BASE, help=f"commit to compare with (default {DEFAULT_BASE})")
    ap.add_argument("--reps", type=int, default=5, help="timed calls per process (best is kept)")
    opts = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="segloss_warm_vs_") as t:
        tmp = Path(t)
        base = tmp / "base"
        subprocess.run(["git", "worktree", "add", "-q", "--detach", str(base), opts.base], cwd=ROOT, check=True)
        try:
            print(f"{'workload':<40} {'base s':>8} {'head s':>8} {'head/base':>10}")
            for work in WORKLOADS:
                best = {"base": 1e9, "head": 1e9}
                for _ in range(2):  # alternate the trees: load on the machine hits both alike
                    best["base"] = min(best["base"], run(base, tmp / "cache_base", work, opts.reps))
                    best["head"] = min(best["head"], run(ROOT, tmp / "cache_head", work, opts.reps))
                ratio = best["head"] / best["base"]
                print(f"{work:<40} {best['base']:8.3f} {best['head']:8.3f} {ratio:10.2f}")
        finally:
            subprocess.run(["git", "worktree", "remove", "--force", str(base)], cwd=ROOT, check=False)


if __name__ == "__main__":
    main()
