"""What the HTML report adds to a folder run: `segloss eval` with and without `--html`.

    python benchmarks/bench_report.py [--cases 200] [--shape 64 64 32] [--labels 5] [--repeat 3] [--dir DIR]

Generates CASES pairs of small uint8 label maps (.nii.gz; blobby labels, the prediction a
shifted copy with 2% label noise), runs `segloss eval PRED GT --quiet --format json --jobs 1`
once to fill numba's cache, then times the same command with and without `--html` (every
default metric, the folder's per-class distributions and the overlays of the 5 worst cases).

Measured in CPU time (user + system of the child process, from os.wait4), not wall time:
the development machine is shared. Each figure is the best of --repeat runs. Target: the
report adds at most 20% (ratio <= 1.20).
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import nibabel as nib
import numpy as np


def make_case(rng, shape, n_labels):
    coarse = rng.integers(0, n_labels, tuple(max(1, s // 8) + 1 for s in shape)).astype(np.uint8)
    gt = np.kron(coarse, np.ones((8, 8, 8), np.uint8))[: shape[0], : shape[1], : shape[2]]
    pred = np.roll(gt, (1, -1, 0), axis=(0, 1, 2))
    noise = rng.random(shape) < 0.02
    pred = np.where(noise, (pred + 1) % n_labels, pred).astype(np.uint8)
    return pred, np.ascontiguousarray(gt)


def generate(root: Path, n_cases: int, shape, n_labels: int) -> tuple[Path, Path]:
    pdir, gdir = root / "pred", root / "gt"
    if pdir.is_dir() and len(list(pdir.glob("*.nii.gz"))) == n_cases and len(list(gdir.glob("*.nii.gz"))) == n_cases:
        return pdir, gdir  # reuse a previous --dir
    for d in (pdir, gdir):
        shutil.rmtree(d, ignore_errors=True)
        d.mkdir(parents=True)
    rng = np.random.default_rng(0)
    affine = np.diag([0.8, 0.8, 1.5, 1.0])
    for i in range(n_cases):
        pred, gt = make_case(rng, shape, n_labels)
        nib.save(nib.Nifti1Image(pred, affine), str(pdir / f"case_{i:04d}.nii.gz"))
        nib.save(nib.Nifti1Image(gt, affine), str(gdir / f"case_{i:04d}.nii.gz"))
    return pdir, gdir


def cpu_seconds(cmd: list[str]) -> float:
    """User + system CPU time of one child process (and its threads)."""
    with open(os.devnull, "wb") as devnull:
        proc = subprocess.Popen(cmd, stdout=devnull)
        _, status, usage = os.wait4(proc.pid, 0)
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"command failed: {' '.join(cmd)}")
    return usage.ru_utime + usage.ru_stime


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--cases", type=int, default=200)
    ap.add_argument("--shape", type=int, nargs=3, default=[64, 64, 32])
    ap.add_argument("--labels", type=int, default=5)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--dir", type=Path, default=None, help="keep the generated cases here (reused when present)")
    args = ap.parse_args()

    tmp = None
    root = args.dir
    if root is None:
        tmp = tempfile.TemporaryDirectory(prefix="segloss_bench_report_")
        root = Path(tmp.name)
    try:
        pdir, gdir = generate(root, args.cases, tuple(args.shape), args.labels)
        base = [sys.executable, "-m", "segloss_cli", "eval", str(pdir), str(gdir), "--quiet", "--format", "json"]
        base += ["--jobs", "1"]
        with_html = [*base, "--html", str(root / "report.html")]
        cpu_seconds(with_html)  # warm-up: numba's cache, matplotlib's font cache, the OS file cache
        plain = min(cpu_seconds(base) for _ in range(args.repeat))
        report = min(cpu_seconds(with_html) for _ in range(args.repeat))
        size = (root / "report.html").stat().st_size
        print(
            f"{args.cases} cases of {tuple(args.shape)} uint8, {args.labels} labels, .nii.gz, every default metric, "
            f"--jobs 1; CPU time, best of {args.repeat}"
        )
        print(f"segloss eval                 {plain:7.2f} s")
        print(f"segloss eval --html          {report:7.2f} s   (report {size / 1e3:.0f} kB)")
        print(f"ratio                        {report / plain:7.3f}   (target <= 1.20)")
    finally:
        if tmp is not None:
            tmp.cleanup()


if __name__ == "__main__":
    main()
