"""The cost of reading a folder through a URL (issue 16, item 4): the same cases from the local
folder, as file:// URLs, and from an S3 bucket served by a moto server on 127.0.0.1.

Each object is copied into a temporary file and read by the local readers (io/remote.py), so
the difference is fsspec's per-object cost (a listing, a HEAD, a GET). moto on loopback has no
network latency: a real bucket adds its round trips per object. Needs s3fs and moto[server].

    .venv/bin/python benchmarks/bench_remote.py [--cases 200] [--jobs 2]
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np


def make_cases(top: Path, n: int) -> tuple[Path, Path]:
    pdir, gdir = top / "pred", top / "gt"
    pdir.mkdir()
    gdir.mkdir()
    rng = np.random.default_rng(0)
    gt = np.zeros((16, 16, 16), np.uint8)
    gt[2:9, 2:12, 3:13] = 1
    gt[9:15, 4:12, 4:10] = 2
    for i in range(n):
        pred = gt.copy()
        idx = tuple(rng.integers(0, 16, 20) for _ in range(3))
        pred[idx] = rng.integers(0, 3, 20)
        np.save(pdir / f"case{i:04d}.npy", pred)
        np.save(gdir / f"case{i:04d}.npy", gt)
    return pdir, gdir


def best_of(cmd: list[str], repeat: int = 3) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)
        times.append(time.perf_counter() - start)
    return min(times)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--cases", type=int, default=200)
    ap.add_argument("--jobs", type=int, default=2)
    args = ap.parse_args()
    import boto3
    import s3fs
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    endpoint = f"http://{host}:{port}"
    creds = {"aws_access_key_id": "testing", "aws_secret_access_key": "testing", "region_name": "us-east-1"}
    boto3.client("s3", endpoint_url=endpoint, **creds).create_bucket(Bucket="bench")
    fs = s3fs.S3FileSystem(endpoint_url=endpoint, key="testing", secret="testing")
    with tempfile.TemporaryDirectory() as tmp:
        pdir, gdir = make_cases(Path(tmp), args.cases)
        for sub, folder in (("pred", pdir), ("gt", gdir)):
            fs.put(str(folder) + "/", f"bench/{sub}/", recursive=True)
        base = [sys.executable, "-m", "segloss_cli", "eval"]
        opts = ["--spacing", "1", "-q", "-j", str(args.jobs), "--metrics", "dice,hd95"]
        s3opts = [f"--storage-option=endpoint_url={endpoint}", "--storage-option=key=testing"]
        s3opts += ["--storage-option=secret=testing"]
        runs = {
            "local folder": [*base, str(pdir), str(gdir), *opts],
            "file:// URLs": [*base, pdir.as_uri(), gdir.as_uri(), *opts],
            "s3:// (moto, loopback)": [*base, "s3://bench/pred", "s3://bench/gt", *opts, *s3opts],
        }
        subprocess.run(runs["local folder"], check=True, stdout=subprocess.DEVNULL)  # warm numba's cache
        print(f"{args.cases} cases of 16^3 .npy pairs, --jobs {args.jobs}, best of 3")
        base_t = None
        for name, cmd in runs.items():
            t = best_of(cmd)
            base_t = base_t or t
            print(f"{name:24} {t:6.2f} s  {args.cases / t:7.1f} cases/s  {t / base_t:5.2f}x")
    server.stop()


if __name__ == "__main__":
    main()
