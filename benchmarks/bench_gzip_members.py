"""Reading a .nii.gz made of many gzip members: time per member must not grow with their number.

    python benchmarks/bench_gzip_members.py

A 64x64x40 uint8 label map (163,840 voxels + header) is written as N concatenated gzip
members (N = 10,000, 40,000 and 160,000: the file grows with N, about 20 bytes a member)
and read with segloss's reader, both inflaters (ISA-L when installed, zlib). Printed: CPU
seconds (best of 3), microseconds per member, and the ratio of the per-member time to the
smallest N's (1.0 is linear; the loop that handed ``unused_data`` on copied the rest of the
file per member, quadratic: its ratios are printed too, on the two smaller sizes only).
"""

from __future__ import annotations

import gzip
import time
import zlib

import nibabel as nib
import numpy as np

import segloss_cli.io.readers as readers


def blob(n_members: int) -> bytes:
    a = np.zeros((64, 64, 40), np.uint8)
    a[10:40, 10:40, 5:30] = 2
    raw = nib.Nifti1Image(a, np.eye(4)).to_bytes()
    step = -(-len(raw) // n_members)
    return b"".join(gzip.compress(raw[i : i + step], compresslevel=1) for i in range(0, len(raw), step))


def old_loop(inflate, data: bytes, need: int) -> int:
    """The previous member loop, for comparison (the rest of the file copied per member)."""
    out = 0
    rest = data
    while rest:
        d = inflate.decompressobj(wbits=31)
        out += len(d.decompress(rest))
        rest = d.unused_data
    return out


def best(fn, repeat=3) -> float:
    times = []
    for _ in range(repeat):
        t = time.process_time()
        fn()
        times.append(time.process_time() - t)
    return min(times)


def main() -> None:
    import tempfile
    from pathlib import Path

    modules = [zlib]
    try:
        from isal import isal_zlib

        modules.insert(0, isal_zlib)
    except ImportError:
        pass
    sizes = (10_000, 40_000, 160_000)
    with tempfile.TemporaryDirectory() as tmp:
        files = {}
        for n in sizes:
            files[n] = Path(tmp) / f"m{n}.nii.gz"
            files[n].write_bytes(blob(n))
        for module in modules:
            readers._INFLATE = module
            base = None
            for n in sizes:
                s = best(lambda path=files[n]: readers.read_volume(path))
                per = s / n * 1e6
                base = base or per
                print(
                    f"{module.__name__:15s} N={n:7d} {files[n].stat().st_size / 1e6:5.2f} MB  "
                    f"{s:7.3f} s  {per:6.2f} us/member  ratio {per / base:4.2f}"
                )
            base = None
            for n in sizes[:2]:
                data = files[n].read_bytes()
                s = best(lambda m=module, d=data: old_loop(m, d, 0), repeat=1)
                per = s / n * 1e6
                base = base or per
                print(
                    f"{module.__name__:15s} N={n:7d} old loop  {s:7.3f} s  {per:6.2f} us/member  ratio {per / base:4.2f}"
                )


if __name__ == "__main__":
    main()
