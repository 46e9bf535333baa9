"""Cold-start figures of issue 13, in CPU seconds (user + sys of the child processes).

    .venv/bin/python benchmarks/bench_cold.py [--skip-warmup]

Each figure runs `segloss` in a fresh process with its own empty NUMBA_CACHE_DIR under a
temporary folder (the caches of other runs are not touched):

- the README's first command with an empty cache, and warm (second run, same cache);
- a second input format (.nii after .nii.gz) and a second label dtype (int16 after uint8):
  the extra CPU over a warm run of the same command;
- `segloss warmup` (default dtypes), then the README command and an int16 .nii in fresh
  processes: their CPU, and whether they compiled anything (NUMBA_DEBUG_CACHE "saved").

CPU time, not wall: the machine is shared, and compilation is single-threaded work.
"""

from __future__ import annotations

import argparse
import os
import resource
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SAMPLE = ROOT / "sample_data"
README = [
    "eval",
    str(SAMPLE / "dk_pred.nii.gz"),
    str(SAMPLE / "dk_gt.nii.gz"),
    "--label-names",
    str(SAMPLE / "dk_labels.json"),
]


def _children_cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


def run(args: list[str], cache: Path) -> tuple[float, bool]:
    """(CPU seconds of `segloss ARGS`, whether it compiled anything)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("NUMBA_")}
    env.update(NUMBA_CACHE_DIR=str(cache), NUMBA_DEBUG_CACHE="1", PYTHONPATH=str(ROOT))
    t0 = _children_cpu()
    out = subprocess.run(
        [sys.executable, "-m", "segloss_cli", *args], env=env, capture_output=True, text=True, cwd=ROOT
    )
    cpu = _children_cpu() - t0
    if out.returncode != 0:
        raise SystemExit(f"segloss {' '.join(args)} failed: {out.stderr[-500:]}")
    return cpu, "data saved" in out.stdout


def _variants(tmp: Path) -> dict[str, tuple[Path, Path]]:
    import nibabel as nib
    import numpy as np

    out: dict[str, tuple[Path, Path]] = {}
    for name, dtype, suffix in (
        ("nii", "uint8", ".nii"),
        ("int16", "int16", ".nii.gz"),
        ("int16_nii", "int16", ".nii"),
    ):
        paths = []
        for role in ("pred", "gt"):
            img = nib.load(str(SAMPLE / f"dk_{role}.nii.gz"))
            arr = np.asarray(img.dataobj).astype(dtype)
            new = nib.Nifti1Image(arr, img.affine, img.header)
            new.set_data_dtype(dtype)
            path = tmp / f"{role}_{name}{suffix}"
            nib.save(new, str(path))
            paths.append(path)
        out[name] = (paths[0], paths[1])
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--skip-warmup", action="store_true", help="leave out the `segloss warmup` figures")
    opts = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="segloss_bench_cold_") as t:
        tmp = Path(t)
        files = _variants(tmp)
        nii = ["eval", str(files["nii"][0]), str(files["nii"][1])]
        i16 = ["eval", str(files["int16"][0]), str(files["int16"][1])]
        i16nii = ["eval", str(files["int16_nii"][0]), str(files["int16_nii"][1])]

        cache = tmp / "cache1"
        cold, _ = run(README, cache)
        warm, _ = run(README, cache)
        print(f"README first command, empty cache      {cold:6.2f} s CPU   (target <= 6)")
        print(f"README first command, warm             {warm:6.2f} s CPU")
        nii_first, _ = run(nii, cache)
        nii_warm, _ = run(nii, cache)
        print(
            f".nii after .nii.gz (uint8), extra       {nii_first - nii_warm:6.2f} s CPU   (target <= 3; warm {nii_warm:.2f})"
        )
        i16_first, _ = run(i16, cache)
        i16_warm, _ = run(i16, cache)
        print(
            f"int16 after uint8 (.nii.gz), extra      {i16_first - i16_warm:6.2f} s CPU   (target <= 3; warm {i16_warm:.2f})"
        )
        i16nii_first, _ = run(i16nii, cache)
        i16nii_warm, _ = run(i16nii, cache)
        print(
            f".nii after .nii.gz (int16), extra       {i16nii_first - i16nii_warm:6.2f} s CPU   (warm {i16nii_warm:.2f})"
        )

        if not opts.skip_warmup:
            cache = tmp / "cache2"
            w, _ = run(["warmup"], cache)
            print(f"segloss warmup (default dtypes)        {w:6.2f} s CPU   (once, e.g. in a CI cache step)")
            for label, args in (("README command", README), ("int16 .nii", i16nii)):
                cpu, compiled = run(args, cache)
                print(f"after warmup: {label:<24} {cpu:6.2f} s CPU   compiled: {'yes' if compiled else 'nothing'}")


if __name__ == "__main__":
    main()
