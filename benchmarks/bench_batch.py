"""Folder scoring: cases per second for --jobs 1 and --jobs N against only reading the files.

    python benchmarks/bench_batch.py [--cases 200] [--shape 128 128 96] [--labels 8] [--jobs N]
                                     [--metrics overlap] [--dir DIR]

Generates CASES pairs of uint8 label maps (blobby labels 0..LABELS-1, the prediction a noisy,
shifted copy) as .nii.gz, then, from one run, times (each the best of --repeat runs):
  - read only: nibabel load + decompress of every PRED and GT file (np.asarray(img.dataobj)),
    serially and with N processes (the floor for --jobs 1 and --jobs N), with the same
    glibc allocator settings segloss uses for folders;
  - `segloss eval PRED_DIR GT_DIR --metrics METRICS --jobs 1` and `--jobs N`, whole command
    wall time in a fresh process (interpreter start, pairing, scoring, JSON rendering), after
    one warm-up run so numba's cache is filled (the compile is a one-off, reported apart);
  - the same command on a 2-case folder: the fixed cost of a run (interpreter, imports,
    loading compiled kernels), so the per-case rate without it can be read off too.
Ratios > 1 mean slower than reading. Target: batch scoring within 1.5x of the read-only time.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import nibabel as nib
import numpy as np


def make_case(rng, shape, n_labels):
    coarse = rng.integers(0, n_labels, tuple(max(1, s // 16) + 1 for s in shape)).astype(np.uint8)
    gt = np.kron(coarse, np.ones((16, 16, 16), np.uint8))[: shape[0], : shape[1], : shape[2]]
    pred = np.roll(gt, (1, -1, 0), axis=(0, 1, 2))
    noise = rng.random(shape) < 0.02
    pred = np.where(noise, (pred + 1) % n_labels, pred).astype(np.uint8)
    return pred, np.ascontiguousarray(gt)


def generate(root: Path, n_cases: int, shape, n_labels: int) -> tuple[Path, Path]:
    pdir, gdir = root / "pred", root / "gt"
    if pdir.is_dir() and len(list(pdir.glob("*.nii.gz"))) == n_cases and len(list(gdir.glob("*.nii.gz"))) == n_cases:
        return pdir, gdir  # reuse a previous --dir
    shutil.rmtree(pdir, ignore_errors=True)
    shutil.rmtree(gdir, ignore_errors=True)
    pdir.mkdir(parents=True)
    gdir.mkdir(parents=True)
    rng = np.random.default_rng(0)
    affine = np.diag([0.8, 0.8, 1.5, 1.0])
    for i in range(n_cases):
        pred, gt = make_case(rng, shape, n_labels)
        nib.save(nib.Nifti1Image(pred, affine), str(pdir / f"case_{i:04d}.nii.gz"))
        nib.save(nib.Nifti1Image(gt, affine), str(gdir / f"case_{i:04d}.nii.gz"))
    return pdir, gdir


def read_pair(paths):
    total = 0
    for p in paths:
        total += int(np.asarray(nib.load(p).dataobj).shape[0])
    return total


def time_read(pairs, jobs: int, repeat: int = 1) -> float:
    best = float("inf")
    for _ in range(repeat):
        t = time.perf_counter()
        if jobs == 1:
            for pair in pairs:
                read_pair(pair)
        else:
            with ProcessPoolExecutor(jobs) as ex:
                list(ex.map(read_pair, pairs, chunksize=1))
        best = min(best, time.perf_counter() - t)
    return best


def time_segloss(pdir, gdir, metrics: str, jobs: int, out: Path, repeat: int = 1) -> float:
    cmd = [
        sys.executable,
        "-m",
        "segloss_cli",
        "eval",
        str(pdir),
        str(gdir),
        "--metrics",
        metrics,
        "--jobs",
        str(jobs),
        "--quiet",
        "--format",
        "json",
    ]
    best = float("inf")
    for _ in range(repeat):
        t = time.perf_counter()
        with open(out, "w") as fh:
            subprocess.run(cmd, check=True, stdout=fh)
        best = min(best, time.perf_counter() - t)
    return best


def same_allocator_as_segloss() -> None:
    """Give the read-only floor the glibc settings the segloss CLI uses in folder mode.

    segloss keeps case-sized buffers in the heap (cli._batch._keep_case_buffers_in_the_heap);
    nibabel reading with glibc's defaults pays page faults for every file and is ~1.8x
    slower here, which would flatter segloss. The read-only processes (and the pool's
    forked workers) use the same settings.
    """
    import ctypes
    import ctypes.util

    try:
        mallopt = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6").mallopt
    except (OSError, AttributeError):
        return
    mallopt(-3, 32 << 20)  # M_MMAP_THRESHOLD
    mallopt(-1, 256 << 20)  # M_TRIM_THRESHOLD


def main():
    same_allocator_as_segloss()
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--cases", type=int, default=200)
    ap.add_argument("--shape", type=int, nargs=3, default=[128, 128, 96])
    ap.add_argument("--labels", type=int, default=8)
    ap.add_argument("--jobs", type=int, default=len(os.sched_getaffinity(0)))
    ap.add_argument("--metrics", default="overlap", help="segloss --metrics value (default: every overlap metric)")
    ap.add_argument("--dir", type=Path, default=None, help="keep the generated cases here (reused when present)")
    ap.add_argument("--repeat", type=int, default=3, help="report the best of this many runs of each timing")
    args = ap.parse_args()

    tmp = None
    root = args.dir
    if root is None:
        tmp = tempfile.TemporaryDirectory(prefix="segloss_bench_")
        root = Path(tmp.name)
    try:
        t = time.perf_counter()
        pdir, gdir = generate(root, args.cases, tuple(args.shape), args.labels)
        t_gen = time.perf_counter() - t
        pairs = [(str(pdir / f.name), str(gdir / f.name)) for f in sorted(pdir.glob("*.nii.gz"))]
        n = len(pairs)

        # Warm-up: fills numba's on-disk cache (a one-off compile) and the OS file cache.
        warm = root / "warm"
        shutil.rmtree(warm, ignore_errors=True)
        (warm / "p").mkdir(parents=True)
        (warm / "g").mkdir(parents=True)
        for pred, gt in pairs[:2]:
            shutil.copy(pred, warm / "p")
            shutil.copy(gt, warm / "g")
        t_warm = time_segloss(warm / "p", warm / "g", args.metrics, 1, root / "warm.json")
        time_read(pairs, 1)

        r = args.repeat
        t_read1 = time_read(pairs, 1, r)
        t_readn = time_read(pairs, args.jobs, r)
        t_fixed = time_segloss(warm / "p", warm / "g", args.metrics, 1, root / "warm.json", r)
        t_seg1 = time_segloss(pdir, gdir, args.metrics, 1, root / "j1.json", r)
        t_segn = time_segloss(pdir, gdir, args.metrics, args.jobs, root / f"j{args.jobs}.json", r)
        same = (root / "j1.json").read_bytes() == (root / f"j{args.jobs}.json").read_bytes()

        def steady(t):  # cases/s once the interpreter and kernels are loaded
            return (n - 2) / max(t - t_fixed, 1e-9)

        print(
            f"{n} cases of {tuple(args.shape)} uint8, {args.labels} labels, .nii.gz; metrics: {args.metrics}; "
            f"{len(os.sched_getaffinity(0))} cores; best of {r} (generated in {t_gen:.1f} s; warm-up run {t_warm:.1f} s)"
        )
        print(f"read only (nibabel), 1 process   {t_read1:7.2f} s  {n / t_read1:7.1f} cases/s")
        print(f"read only (nibabel), {args.jobs} processes {t_readn:7.2f} s  {n / t_readn:7.1f} cases/s")
        print(f"segloss on 2 cases (fixed cost)  {t_fixed:7.2f} s")
        print(
            f"segloss --jobs 1                 {t_seg1:7.2f} s  {n / t_seg1:7.1f} cases/s   "
            f"{t_seg1 / t_read1:5.2f}x read-only (1 process); without the fixed cost {steady(t_seg1):6.1f} cases/s"
        )
        print(
            f"segloss --jobs {args.jobs}                 {t_segn:7.2f} s  {n / t_segn:7.1f} cases/s   "
            f"{t_segn / t_read1:5.2f}x read-only (1 process), {t_segn / t_readn:5.2f}x read-only ({args.jobs} processes); "
            f"without the fixed cost {steady(t_segn):6.1f} cases/s"
        )
        print(f"--jobs 1 and --jobs {args.jobs} JSON outputs identical: {same}")
    finally:
        if tmp is not None:
            tmp.cleanup()


if __name__ == "__main__":
    main()
