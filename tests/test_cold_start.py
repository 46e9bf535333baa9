"""Issue 13: cold start. One compiled kernel per real dtype, whatever the file format or memory
layout; `segloss warmup` leaves nothing to compile; a metric not asked for compiles nothing.

Counts compiled specialisations (dispatcher signatures), never times.
"""

from __future__ import annotations

import importlib
import os
import pkgutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import segloss_cli
from segloss_cli import kernels
from segloss_cli.api import score, score_files
from segloss_cli.errors import InputError
from segloss_cli.kernels._jit import ParallelKernel
from tests.conftest import write_nifti

pytestmark = pytest.mark.compiled  # these tests are about compilation itself

ROOT = Path(segloss_cli.__file__).resolve().parent.parent


def _signatures() -> dict[str, set]:
    """Every compiled specialisation of every kernel, by kernel name."""
    out: dict[str, set] = {}
    for info in pkgutil.iter_modules(kernels.__path__):
        mod = importlib.import_module(f"segloss_cli.kernels.{info.name}")
        for name, obj in vars(mod).items():
            if isinstance(obj, ParallelKernel):  # the serial and the parallel twin (or pinned calls to them)
                out[f"{info.name}.{name}"] = set(getattr(obj.serial, "dispatcher", obj.serial).signatures)
                out[f"{info.name}.{name}.parallel"] = set(getattr(obj.parallel, "dispatcher", obj.parallel).signatures)
            elif hasattr(obj, "signatures") and hasattr(obj, "py_func"):
                out[f"{info.name}.{name}"] = set(obj.signatures)
    return out


def _new(before: dict[str, set], after: dict[str, set]) -> dict[str, set]:
    return {k: v - before.get(k, set()) for k, v in after.items() if v - before.get(k, set())}


def _case(dtype) -> tuple[np.ndarray, np.ndarray]:
    from segloss_cli.cli.warmup import _cases

    pred, gt = _cases(np, "int64")[0]
    return np.asfortranarray(pred.astype(dtype)), np.asfortranarray(gt.astype(dtype))  # nibabel's order


def _write(tmp_path: Path, dtype, suffix: str) -> tuple[Path, Path]:
    pred, gt = _case(dtype)
    paths = []
    for role, arr in (("pred", pred), ("gt", gt)):
        path = tmp_path / f"{role}_{np.dtype(dtype).name}{suffix}"
        if suffix == ".npy":
            np.save(path, arr)
        else:
            write_nifti(path, arr, spacing=(0.75, 1.0, 2.5))
        paths.append(path)
    return paths[0], paths[1]


def _score(paths: tuple[Path, Path]):
    spacing = (0.75, 1.0, 2.5) if paths[0].suffix == ".npy" else None
    return score_files(paths[0], paths[1], spacing_mm=spacing, metrics="all")


def test_formats_layouts_and_signedness_share_one_specialisation(tmp_path):
    """.nii.gz (read-only), .nii (a writable memory map), .npy, a C-ordered in-memory array,
    and int16 after uint16: the same values compile no kernel again."""
    first = _score(_write(tmp_path, np.uint16, ".nii.gz"))
    before = _signatures()
    results = [
        _score(_write(tmp_path, np.uint16, ".nii")),
        _score(_write(tmp_path, np.uint16, ".npy")),
        _score(_write(tmp_path, np.int16, ".nii.gz")),
        _score(_write(tmp_path, np.int16, ".nii")),
        _score(_write(tmp_path, np.int16, ".npy")),
    ]
    pred, gt = _case(np.int16)
    results.append(
        score(np.ascontiguousarray(pred), np.ascontiguousarray(gt), spacing_mm=(0.75, 1.0, 2.5), metrics="all")
    )
    assert _new(before, _signatures()) == {}
    want = first.to_dict()["classes"]
    for res in results:
        got = res.to_dict()["classes"]
        assert got.keys() == want.keys()
        for c in want:  # a float sum may round differently in another memory order
            g, w = got[c]["metrics"], want[c]["metrics"]
            assert g.keys() == w.keys() and [k for k in w if w[k] is None] == [k for k in g if g[k] is None]
            assert {k: v for k, v in g.items() if v is not None} == pytest.approx(
                {k: v for k, v in w.items() if v is not None}, rel=1e-12, abs=1e-12
            )


def test_edt_runs_one_strided_specialisation():
    """The axis-1 pass on a transposed view and the axis-0 pass share the 'A' code."""
    from segloss_cli.kernels import edt
    from segloss_cli.metrics.distance import euclidean_distance_transform

    sites = np.zeros((5, 6, 7), bool)
    sites[1, 2, 3] = True
    a = euclidean_distance_transform(sites, spacing_mm=(1.0, 2.0, 3.0))
    b = euclidean_distance_transform(np.asfortranarray(sites), spacing_mm=(1.0, 2.0, 3.0))
    np.testing.assert_array_equal(a, b)
    assert a[1, 2, 3] == 0 and a[0, 2, 3] == 1.0 and a[1, 2, 4] == 3.0
    assert len(edt._pass_axis0.serial.signatures) == 1
    assert edt._pass_axis0.serial.signatures[0][0].layout == "A"


@pytest.mark.parametrize("dtype", [np.int8, np.int16])
def test_signed_maps_read_unsigned_still_reject_negative_labels(dtype):
    """The unsigned view is taken only for values >= 0: a negative label is still an error,
    in a map of one width and against a map of another width."""
    gt = np.zeros((4, 5, 6), dtype)
    gt[1:3, 1:3, 1:3] = 1
    pred = gt.copy()
    pred[0, 0, 0] = -1
    with pytest.raises(InputError, match="negative labels"):
        score(pred, gt, metrics="dice")
    with pytest.raises(InputError, match="negative labels"):
        score(pred, gt.astype(np.uint16 if dtype == np.int8 else np.uint8), metrics="dice")
    with pytest.raises(InputError, match="negative labels"):
        score(gt, pred, metrics="dice")


def test_negative_ignore_label_keeps_the_signed_map():
    gt = np.zeros((4, 5, 6), np.int16)
    gt[1:3, 1:3, 1:3] = 1
    gt[0, 0, :] = -1
    pred = np.where(gt < 0, 0, gt).astype(np.int16)
    res = score(pred, gt, metrics="dice,tp,fp", ignore_label=-1)
    row = res.row(1)
    assert row.metrics["dice"] == 1.0 and row.counts.tp == 8 and row.counts.fp == 0


def _env(cache: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("NUMBA_")}
    return {**env, "NUMBA_CACHE_DIR": str(cache), "NUMBA_DEBUG_CACHE": "1", "PYTHONPATH": str(ROOT)}


def _cli(args: list[str], cache: Path, cwd: Path, **env: str) -> str:
    out = subprocess.run(
        [sys.executable, "-m", "segloss_cli", *args],
        env={**_env(cache), **env},
        capture_output=True,
        text=True,
        timeout=900,
        cwd=cwd,
    )
    assert out.returncode == 0, out.stderr[-2000:]
    return out.stdout  # numba's cache log goes to stdout


@pytest.mark.subprocess
def test_after_warmup_a_fresh_process_compiles_nothing(tmp_path):
    cache = tmp_path / "cache"
    log = _cli(["warmup", "--dtypes", "uint16"], cache, tmp_path)
    assert "data saved" in log  # it compiled into this fresh cache
    for paths in (_write(tmp_path, np.int16, ".nii.gz"), _write(tmp_path, np.uint16, ".nii")):
        log = _cli(["eval", str(paths[0]), str(paths[1]), "--metrics", "all"], cache, tmp_path)
        assert "data loaded" in log
        assert "data saved" not in log and "index saved" not in log, log[-3000:]
    p, g = _write(tmp_path, np.int16, ".npy")
    log = _cli(["eval", str(p), str(g), "--spacing", "0.75,1,2.5"], cache, tmp_path)
    assert "data loaded" in log and "saved" not in log
    # surfel surfaces, and the parallel kernels that inputs of 4M voxels or more run
    p, g = _write(tmp_path, np.uint16, ".nii.gz")
    log = _cli(["eval", str(p), str(g), "--metrics", "hd95,nsd,assd", "--surface", "surfel"], cache, tmp_path)
    assert "data loaded" in log and "saved" not in log, log[-3000:]
    log = _cli(["eval", str(p), str(g), "--metrics", "all"], cache, tmp_path, SEGLOSS_KERNEL_VARIANT="parallel")
    assert "data loaded" in log and "saved" not in log, log[-3000:]


@pytest.mark.subprocess
def test_only_the_requested_metric_compiles(tmp_path):
    """`--metrics dice` on a fresh cache compiles the label scan and nothing for distances."""
    cache = tmp_path / "cache"
    p, g = _write(tmp_path, np.uint8, ".nii.gz")
    log = _cli(["eval", str(p), str(g), "--metrics", "dice"], cache, tmp_path)
    saved = [Path(line.split("'")[1]).name for line in log.splitlines() if "data saved" in line]
    assert [s for s in saved if s.startswith("confusion.")]  # the label scan compiled here
    assert not [s for s in saved if s.startswith(("surface", "edt.", "loss_"))], saved


def test_cache_key_names_the_version_and_the_sources():
    from segloss_cli.kernels._jit import cache_key

    key = cache_key()
    assert key.startswith(segloss_cli.__version__ + "-") and len(key.split("-")[-1]) == 16


def _variant_cases():
    """API calls that between them run every prange kernel: label maps of one and of mixed
    widths, labels beyond the lookup table, far objects, an ignore label, regions, surfels, a
    2-D image, probabilities and logits with every loss, sigmoid channels."""
    from segloss_cli.cli.warmup import _cases

    spacing = (0.8, 0.9, 2.5)
    calls = []
    # Few dtypes: each new one compiles the prange kernels again (about 10 s each). Maps wider
    # than uint8 with labels below 256 are scored as uint8 after their scan.
    for pred, gt in _cases(np, "uint8"):
        calls.append((pred, gt, dict(spacing_mm=spacing, metrics="all")))
    big_p, big_g = _cases(np, "int32")[2]  # label 70000: beyond the lookup table (general path)
    calls.append((big_p, big_g, dict(spacing_mm=spacing, metrics="dice")))  # surfaces: the same code on uint8
    pred, gt16 = _cases(np, "uint16")[0]
    calls.append((pred.astype(np.uint8), gt16, dict(spacing_mm=spacing, metrics="all")))  # mixed widths
    pred, gt = pred.astype(np.uint8), gt16.astype(np.uint8)
    ign = gt.copy()
    ign[:, :, 0] = 9
    calls.append((pred, ign, dict(spacing_mm=spacing, metrics="all", ignore_label=9)))
    two = {"A": [1, 2], "B": [2, 3]}
    calls.append((pred, gt, dict(spacing_mm=spacing, metrics="dice,hd95,nsd", regions=two)))
    calls.append((pred, gt, dict(spacing_mm=spacing, metrics="hd95,nsd,assd", surface="surfel")))
    calls.append((pred, gt16, dict(spacing_mm=spacing, metrics="dice,hd95", regions=two)))  # mixed-width pair table
    calls.append((pred.astype(np.float32), gt, dict(spacing_mm=spacing, pred_type="labels", losses="all")))
    p2, g2 = np.ascontiguousarray(pred[:, :, 5]), np.ascontiguousarray(gt[:, :, 5])  # a strided view compiles 'A' code
    calls.append((p2, g2, dict(spacing_mm=(1.0, 1.0), metrics="all")))
    rng = np.random.default_rng(3)
    logits = rng.normal(size=(4,) + gt.shape).astype(np.float32)
    probs = np.exp(logits) / np.exp(logits).sum(axis=0, keepdims=True)
    calls.append((probs, gt, dict(spacing_mm=spacing, losses="all")))
    calls.append((logits, gt, dict(spacing_mm=spacing, pred_type="logits", losses="all", ignore_label=3)))
    sig = 1 / (1 + np.exp(-logits[:3]))
    regions = {"W": [1, 2, 3], "T": [2, 3], "E": [3]}
    calls.append((sig, gt, dict(spacing_mm=spacing, pred_type="sigmoid", regions=regions)))
    return calls


def test_serial_and_parallel_kernels_give_the_same_bits():
    """Small inputs run the serial twin of every prange kernel, large ones the parallel
    version (kernels._jit.PARALLEL_MIN_ITEMS): both must give the same numbers, bit for bit
    (fixed chunks, merged in order), and the same result documents."""
    import json

    from segloss_cli.kernels._jit import kernel_variant

    for pred, gt, params in _variant_cases():
        docs = []
        for variant in ("serial", "parallel"):
            with kernel_variant(variant):
                docs.append(json.dumps(score(pred, gt, **params).to_dict(), sort_keys=True))
        assert docs[0] == docs[1], params
    from segloss_cli.metrics.distance import euclidean_distance_transform

    sites = _variant_cases()[0][1] == 2
    edts = []
    for variant in ("serial", "parallel"):
        with kernel_variant(variant):
            edts.append(euclidean_distance_transform(sites, spacing_mm=(0.8, 0.9, 2.5)))
    np.testing.assert_array_equal(edts[0], edts[1])
    # These cases reach every prange kernel (nothing else in the suite is big enough to run
    # the parallel versions): a kernel added without a case here fails this.
    sigs = _signatures()
    unused = {"edt.gather_sqrt.parallel"}  # the dense-EDT baseline of benchmarks/bench_surface_real.py
    assert [k for k, v in sigs.items() if k.endswith(".parallel") and not v and k not in unused] == []
