"""2-D masks at Cityscapes size: scoring a PNG folder vs decoding the PNGs alone, in one run.

    python benchmarks/bench_images.py            # 1,000 pairs of 512x1024, 19 classes + 255
    python benchmarks/bench_images.py --n 200    # a shorter run

The pairs are generated once into a temporary folder (or ``--keep DIR``, reused when it holds
them: blocky regions like street scenes, a void band of 255, a prediction that differs at
region edges and in noisy patches), saved as 8-bit greyscale PNGs as Cityscapes'
*_labelTrainIds.png are. segloss's .pyc files written (as a non-editable ``pip install``
does; see compile_bytecode) and one warm-up run of segloss (numba's cache, the page cache), then
``--rounds`` rounds (default 3), each decode, segloss, decode (the decode side the mean of
the runs just before and after segloss's, so both sides see the same load):

- decode only: every PRED and GT PNG decoded with Pillow (``np.asarray(Image.open(p))``) in
  this process (no interpreter start or import counted; the allocator warmed first, see
  warm_allocator), on one thread and on two (Pillow releases the GIL while it inflates);
- ``segloss eval PRED GT --ignore-label 255 --metrics overlap --jobs 2 -q --json ...`` in a
  fresh process (interpreter start, imports, numba's cache loading and the JSON included).

CPU is user + system time from resource.getrusage (RUSAGE_SELF for the decode, RUSAGE_CHILDREN
for the segloss process). Printed per round and as the median over rounds: segloss CPU /
decode CPU (the figure to read: the machine may be shared, and CPU time is what other load
disturbs least) and segloss wall / two-thread decode wall (both sides on two cores; only
meaningful on an otherwise idle machine, so the load average is printed beside it). Each round
also runs segloss on a folder of one pair: its CPU is the fixed cost of a run (interpreter,
imports, numba's kernels loaded from the cache), and the rest divided by n - 1 is segloss's
CPU per pair, printed against Pillow's per file pair.
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
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


def _cpu(who: int) -> float:
    ru = resource.getrusage(who)
    return ru.ru_utime + ru.ru_stime


def warm_allocator() -> None:
    """Let the decode side run at its best: free one large block first.

    glibc serves an allocation above its mmap threshold (128 KiB at start) with fresh pages
    and returns them on free, so in a fresh process every 512 KiB image buffer page-faults in
    again (decoding 1,000 of these files took 2.1 s CPU instead of 1.5 s). Freeing a block
    larger than the threshold raises it (to that size, the trim threshold to twice it), after
    which the buffers are reused. Without this the baseline depends on what the process did
    before it (generating the pairs in the same run warms it), and the ratio flatters segloss.
    """
    block = np.ones(8 << 20, np.uint8)
    del block


def decode_all(files: list[Path], threads: int) -> tuple[float, float]:
    """(wall s, CPU s) to decode every file with Pillow on ``threads`` threads."""
    from PIL import Image

    def work(chunk):
        for f in chunk:
            with Image.open(f) as img:
                np.asarray(img)

    chunks = [files[i::threads] for i in range(threads)]
    c0, t0 = _cpu(resource.RUSAGE_SELF), time.perf_counter()
    pool = [threading.Thread(target=work, args=(c,)) for c in chunks]
    for t in pool:
        t.start()
    for t in pool:
        t.join()
    return time.perf_counter() - t0, _cpu(resource.RUSAGE_SELF) - c0


def run_segloss(pdir: Path, gdir: Path, out: Path, jobs: int = 2) -> tuple[float, float]:
    """(wall s, CPU s of the child) of one `segloss eval` over the folders."""
    cmd = [sys.executable, "-m", "segloss_cli", "eval", str(pdir), str(gdir), "--ignore-label", "255"]
    cmd += ["--metrics", "overlap", "--jobs", str(jobs), "-q", "--json", str(out)]
    c0, t0 = _cpu(resource.RUSAGE_CHILDREN), time.perf_counter()
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)
    return time.perf_counter() - t0, _cpu(resource.RUSAGE_CHILDREN) - c0


def compile_bytecode() -> None:
    """Write segloss's bytecode (.pyc) as ``pip install`` does when it installs the package.

    An editable install (``pip install -e``) leaves that to the first import, and with
    PYTHONDONTWRITEBYTECODE set (as in some CI images) every process compiles every module
    again, about 0.25 s CPU per run: a cost of the set-up, not of scoring, so it is paid once
    here, before the warm-up run, and said in the output.
    """
    import importlib.util

    spec = importlib.util.find_spec("segloss_cli")  # found, not imported: this process only decodes
    assert spec is not None and spec.origin is not None
    subprocess.run([sys.executable, "-m", "compileall", "-q", str(Path(spec.origin).parent)], check=True)


def _load() -> str:
    try:
        return " ".join(f"{v:.1f}" for v in os.getloadavg())
    except OSError:  # pragma: no cover
        return "?"


def _folder(root: Path, n: int) -> tuple[Path, Path]:
    pdir, gdir = root / "pred", root / "gt"
    if pdir.is_dir() and len(list(pdir.glob("*.png"))) == n and len(list(gdir.glob("*.png"))) == n:
        return pdir, gdir
    t0 = time.perf_counter()
    made = make_pairs(root, n)
    print(f"made {n} pairs in {time.perf_counter() - t0:.0f} s")
    return made


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, default=1000, help="pairs to generate (default 1000)")
    ap.add_argument("--rounds", type=int, default=3, help="rounds of both sides, alternating (default 3)")
    ap.add_argument("--keep", type=Path, help="generate the pairs here (or reuse them) instead of a temporary folder")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = args.keep or Path(tmp)
        pdir, gdir = _folder(root, args.n)
        files = sorted(pdir.iterdir()) + sorted(gdir.iterdir())
        size = sum(f.stat().st_size for f in files)
        print(
            f"{args.n} pairs of 512x1024 uint8 PNG (19 classes + 255), {size / 2**20:.0f} MiB; "
            f"{os.cpu_count()} cores, load average {_load()} (a shared machine: read the CPU ratio); "
            "segloss's bytecode compiled first, as pip install does"
        )
        compile_bytecode()
        warm_allocator()
        run_segloss(pdir, gdir, Path(tmp) / "warm.json")  # numba cache warm, files in the page cache
        one = Path(tmp) / "one"  # a folder of the first pair: segloss's fixed cost (start, imports, kernels)
        for sub, src in (("pred", pdir), ("gt", gdir)):
            (one / sub).mkdir(parents=True)
            (one / sub / files[0].name).symlink_to(src / files[0].name)
        cpu_ratios, wall_ratios, steady = [], [], []
        for r in range(args.rounds):
            # Decode, segloss, decode again in the other order: each segloss run is compared with
            # the mean of the decodes just before and just after it, so a change of load during
            # the round weighs on both sides alike.
            d1_before, d2_before = decode_all(files, 1), decode_all(files, 2)
            s = run_segloss(pdir, gdir, Path(tmp) / "scores.json")
            d2_after, d1_after = decode_all(files, 2), decode_all(files, 1)
            fixed = run_segloss(one / "pred", one / "gt", Path(tmp) / "one.json")
            d1 = [(a + b) / 2 for a, b in zip(d1_before, d1_after)]
            d2 = [(a + b) / 2 for a, b in zip(d2_before, d2_after)]
            cpu_ratios.append(s[1] / d1[1])
            wall_ratios.append(s[0] / d2[0])
            steady.append((s[1] - fixed[1]) / (args.n - 1) / (d1[1] / args.n))  # per pair, past the start
            print(
                f"round {r + 1}: decode 1 thread {d1[0]:5.2f} s wall {d1[1]:5.2f} s CPU | 2 threads {d2[0]:5.2f} s wall "
                f"{d2[1]:5.2f} s CPU | segloss --jobs 2 {s[0]:5.2f} s wall {s[1]:5.2f} s CPU | "
                f"CPU {cpu_ratios[-1]:.2f}x, wall vs 2 threads {wall_ratios[-1]:.2f}x (load {_load()})"
            )
            print(
                f"         segloss on 1 pair (start, imports, kernels loaded): {fixed[1]:.2f} s CPU; per pair past "
                f"it {(s[1] - fixed[1]) / (args.n - 1) * 1e3:.2f} ms CPU vs Pillow's {d1[1] / args.n * 1e3:.2f} ms "
                f"({steady[-1]:.2f}x)"
            )
        print(
            f"median over {args.rounds} rounds: segloss eval --jobs 2 / Pillow decode only = "
            f"{statistics.median(cpu_ratios):.2f}x CPU (goal <= 1.3x), "
            f"{statistics.median(wall_ratios):.2f}x wall vs the two-thread decode; "
            f"per pair past segloss's start {statistics.median(steady):.2f}x CPU"
        )


if __name__ == "__main__":
    main()
