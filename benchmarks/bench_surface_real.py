"""Surface-distance metrics on realistic predictions: segloss vs its previous path vs scipy.

Two CT-sized cases (512 x 512 x 200 uint8, spacing 0.8 x 0.8 x 2.5 mm, Fortran order like a
NIfTI array), all five surface metrics (hd, hd95, assd, masd, nsd at 1 mm) for every class:

- ``noisy``: 7 organ-like classes, several touching the border of the field of view; PRED is
  argmax(softmax(3.5 * onehot(GT) + 1.5 * smoothed noise)) over background and the 7 classes
  (per class Gaussian-smoothed noise, sigma 4 x 4 x 1.5 voxels, scaled to std 0.7; mean Dice
  ~0.88). Predicted surfaces are ragged and every class's PRED | GT box is the whole volume.
- ``totalseg``: 45 structures filling a body-shaped field of view (TotalSegmentator-like);
  PRED is GT resampled through a smooth random displacement (up to ~4 mm) plus a one-voxel
  jitter, so surfaces are ragged but stay near each other.

Sides, each in a fresh process loading the volumes from .npy: ``segloss`` (this code, after a
warm-up call that loads its compiled kernels), ``previous`` (the path before
kernels/surface_search.py: per class two dense EDTs over the PRED | GT box, rebuilt here from
the same kernels) and ``scipy`` (per class: crop to the box plus one voxel, erosion, two
distance_transform_edt with sampling). Printed: CPU time (process_time, all threads), wall
time, peak RSS over the loaded volumes, and the largest relative difference of the results.

    python benchmarks/bench_surface_real.py                   # both cases, all three sides
    python benchmarks/bench_surface_real.py --case noisy --skip scipy
    python benchmarks/bench_surface_real.py --repeat 3        # best of 3 segloss runs
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

import numpy as np

NAMES = ("hd", "hd95", "assd", "masd", "nsd")
TAU_MM = 1.0
SPACING = (float(np.float32(0.8)), float(np.float32(0.8)), 2.5)
SHAPE = (512, 512, 200)

# (centre as fractions of the field of view, radii in mm); several cross the border.
ORGANS = [
    ((0.30, 0.45, 0.50), (120.0, 95.0, 260.0)),
    ((0.75, 0.40, 0.55), (70.0, 60.0, 200.0)),
    ((0.33, 0.85, 0.40), (55.0, 45.0, 120.0)),
    ((0.75, 0.80, 0.42), (50.0, 45.0, 120.0)),
    ((0.55, 0.55, 0.85), (90.0, 30.0, 60.0)),
    ((0.95, 0.15, 0.60), (80.0, 70.0, 150.0)),
    ((0.50, 0.60, 0.50), (20.0, 20.0, 400.0)),
]


def _blob(out, label, centre, radii, rng, wobble=0.1):
    """Paint an ellipsoid (voxel units) with a smooth random outline, within its box only."""
    lo = np.maximum(np.floor(centre - radii * (1 + wobble) - 1).astype(int), 0)
    hi = np.minimum(np.ceil(centre + radii * (1 + wobble) + 2).astype(int), out.shape)
    ax = [((np.arange(lo[a], hi[a]) - centre[a]) / radii[a]).astype(np.float32) for a in range(3)]
    x, y, z = np.meshgrid(*ax, indexing="ij", sparse=True)
    r = np.sqrt(x * x + y * y + z * z)
    inv = 1 / np.maximum(r, 1e-6)
    outline = 1.0
    for _ in range(4):
        w = rng.normal(size=3)
        outline = outline + wobble / 4 * np.sin(
            2 * (w[0] * x * inv + w[1] * y * inv + w[2] * z * inv) + rng.uniform(0, 6.3)
        )
    out[lo[0] : hi[0], lo[1] : hi[1], lo[2] : hi[2]][r <= outline] = label


def _smooth_noise(rng, shape, sigma_vox, factor=2):
    """Gaussian-smoothed white noise (std 1), made at 1/factor resolution and interpolated."""
    from scipy import ndimage as ndi

    coarse = tuple(-(-n // factor) for n in shape)
    n = ndi.gaussian_filter(
        rng.standard_normal(coarse, dtype=np.float32), [s / factor for s in sigma_vox], truncate=3.0
    )
    n /= n.std()
    up = ndi.zoom(n, factor, order=1, grid_mode=True, mode="nearest")
    return up[: shape[0], : shape[1], : shape[2]]


def make_noisy(seed=0):
    rng = np.random.default_rng(seed)
    gt = np.zeros(SHAPE, np.uint8, order="F")
    size = np.asarray(SHAPE, float)
    for label, (frac, radii) in enumerate(ORGANS, start=1):
        _blob(gt, label, np.asarray(frac) * size, np.asarray(radii) / np.asarray(SPACING), rng)
    best = np.full(SHAPE, -np.inf, np.float32, order="F")
    pred = np.zeros(SHAPE, np.uint8, order="F")
    for c in range(len(ORGANS) + 1):
        logit = 1.5 * 0.7 * _smooth_noise(rng, SHAPE, (4.0, 4.0, 1.5))
        logit += 3.5 * (gt == c)
        m = logit > best
        best[m] = logit[m]
        pred[m] = c
    return pred, gt, list(range(1, len(ORGANS) + 1))


def make_totalseg(n_structures=45, seed=1):
    """Structures as weighted nearest-seed cells inside a body, cut where a seed's reach ends."""
    from scipy import ndimage as ndi

    rng = np.random.default_rng(seed)
    f = 2  # cells at half resolution, then upsampled
    cshape = tuple(n // f for n in SHAPE)
    sp = np.asarray(SPACING) * f
    grid = np.meshgrid(*[(np.arange(n) + 0.5) * s for n, s in zip(cshape, sp)], indexing="ij", sparse=True)
    size_mm = np.asarray(cshape) * sp
    body = ((grid[0] - size_mm[0] / 2) / (0.47 * size_mm[0])) ** 2 + (
        (grid[1] - size_mm[1] / 2) / (0.40 * size_mm[1])
    ) ** 2 <= 1
    body = np.broadcast_to(body, cshape)
    best = np.full(cshape, np.inf, np.float32)
    label = np.zeros(cshape, np.uint8)
    for k in range(1, n_structures + 1):
        while True:
            c = rng.uniform(0.1, 0.9, 3) * size_mm
            if body[tuple((c / sp).astype(int))]:
                break
        r = rng.uniform(25.0, 70.0, 3) * np.array([1.0, 1.0, 2.0])
        d = ((grid[0] - c[0]) / r[0]) ** 2 + ((grid[1] - c[1]) / r[1]) ** 2 + ((grid[2] - c[2]) / r[2]) ** 2
        m = (d < best) & (d <= 1.0) & body
        best[m] = d[m]
        label[m] = k
    gt = np.asfortranarray(label.repeat(f, 0).repeat(f, 1).repeat(f, 2))
    # PRED: GT read through a smooth displacement (mm) and a one-voxel jitter.
    coords = np.indices(SHAPE, dtype=np.float32)
    for a in range(3):
        smooth = 4.0 / SPACING[a] * np.tanh(_smooth_noise(rng, SHAPE, (40.0, 40.0, 12.0)))
        jitter = 0.8 * _smooth_noise(rng, SHAPE, (1.0, 1.0, 0.5))
        coords[a] += smooth + jitter
    pred = np.asfortranarray(ndi.map_coordinates(gt, coords, order=0, mode="nearest"))
    return pred, gt, list(range(1, n_structures + 1))


CASES = {"noisy": make_noisy, "totalseg": make_totalseg}


# --- the three sides ------------------------------------------------------------------------------


def _reduce(sds):
    from segloss_cli.metrics import distance as D

    out = {n: [] for n in NAMES}
    for sd in sds:
        if sd is None:
            for n in NAMES:
                out[n].append(np.nan)
            continue
        out["hd"].append(D.hausdorff(sd))
        out["hd95"].append(D.hausdorff_percentile(sd, 95.0, "max"))
        out["assd"].append(D.assd(sd))
        out["masd"].append(D.masd(sd))
        out["nsd"].append(D.nsd(sd, TAU_MM))
    return {n: np.asarray(v) for n, v in out.items()}


def segloss_side(pred, gt, labels):
    from segloss_cli.metrics.distance import surface_distances

    return _reduce(surface_distances(pred, gt, labels, spacing_mm=SPACING))


def previous_side(pred, gt, labels):
    """The dense path as it was before kernels/surface_search.py (same kernels, same order)."""
    from segloss_cli.kernels import confusion as KC
    from segloss_cli.kernels import edt as E
    from segloss_cli.kernels import surface as KS
    from segloss_cli.kernels._jit import n_chunks
    from segloss_cli.kernels.layout import as_kernel_3d, spatial_order
    from segloss_cli.metrics.distance import SurfaceDistances

    want = np.asarray(labels, np.int64)
    sorted_labels, lut, use_lut = KC.class_lookup(want)
    order = spatial_order(gt)
    s0, s1, s2 = (float(SPACING[a]) for a in order)
    g3, p3 = as_kernel_3d(gt, order), as_kernel_3d(pred, order)
    lo, hi = KS.class_boxes(
        p3, g3, lut, sorted_labels, use_lut, np.int64(0), False, n_chunks(g3.shape[0] * g3.shape[1])
    )
    res = {}
    for idx, label in enumerate(sorted_labels):
        if np.any(lo[0, idx] > hi[0, idx]) or np.any(lo[1, idx] > hi[1, idx]):
            res[int(label)] = None
            continue
        box_lo = np.minimum(lo[0, idx], lo[1, idx])
        box = np.maximum(hi[0, idx], hi[1, idx]) - box_lo + 1
        codes, row_p, row_g = KS.surface_codes(
            p3, g3, np.int64(label), np.int64(0), False, box_lo[0], box_lo[1], box_lo[2], box[0], box[1], box[2], True
        )
        chunks = n_chunks(int(max(box[0] * box[1], box[0] * box[2], box[1] * box[2])))
        f = np.empty(codes.shape, np.float64)
        E.edt_squared(codes, KS.GT_BIT, f, s0, s1, s2, chunks, qbit=KS.PRED_BIT)
        d_pg = E.gather_sqrt(codes, KS.PRED_BIT, f, row_p)
        E.edt_squared(codes, KS.PRED_BIT, f, s0, s1, s2, chunks, qbit=KS.GT_BIT)
        d_gp = E.gather_sqrt(codes, KS.GT_BIT, f, row_g)
        res[int(label)] = SurfaceDistances(d_pg, d_gp)
    return _reduce([res[int(v)] for v in want])


def scipy_side(pred, gt, labels):
    from scipy import ndimage as ndi

    out = {n: [] for n in NAMES}
    for c in labels:
        p, g = pred == c, gt == c
        if not p.any() or not g.any():
            for n in NAMES:
                out[n].append(np.nan)
            continue
        idx = np.argwhere(p | g)
        box = tuple(slice(a, b) for a, b in zip(np.maximum(idx.min(axis=0) - 1, 0), idx.max(axis=0) + 2))
        pc, gc = p[box], g[box]
        sp_ = pc & ~ndi.binary_erosion(pc, border_value=0)
        sg = gc & ~ndi.binary_erosion(gc, border_value=0)
        d_pg = ndi.distance_transform_edt(~sg, sampling=SPACING)[sp_]
        d_gp = ndi.distance_transform_edt(~sp_, sampling=SPACING)[sg]
        both = np.concatenate([d_pg, d_gp])
        out["hd"].append(both.max())
        out["hd95"].append(max(np.percentile(d_pg, 95), np.percentile(d_gp, 95)))
        out["assd"].append(both.mean())
        out["masd"].append((d_pg.mean() + d_gp.mean()) / 2)
        out["nsd"].append(np.mean(both.astype(np.float32) <= np.float32(TAU_MM)))
    return {n: np.asarray(v) for n, v in out.items()}


SIDES = {"segloss": segloss_side, "previous": previous_side, "scipy": scipy_side}


def _status(key):
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith(key + ":"):
                return int(line.split()[1]) * 1024
    return 0


def worker(side, folder, repeat):
    pred = np.load(os.path.join(folder, "pred.npy"))
    gt = np.load(os.path.join(folder, "gt.npy"))
    labels = json.load(open(os.path.join(folder, "meta.json")))["labels"]
    fn = SIDES[side]
    paths: dict = {}
    if side != "scipy":
        # Load the compiled kernels: a crop, and one with classes filling it (shared pass).
        fn(pred[:40, :40, :20].copy(order="F"), gt[:40, :40, :20].copy(order="F"), labels)
        t = np.asfortranarray(np.indices((24, 20, 10)).sum(axis=0) % 3).astype(np.uint8)
        fn(t, np.roll(t, 1, axis=0), [1, 2])
    if side == "segloss":
        from segloss_cli.kernels import surface_search as SS

        inner = SS.directed_squared

        def counted(*a, **k):
            r = inner(*a, **k)
            paths[r[1]] = paths.get(r[1], 0) + 1
            return r

        SS.directed_squared = counted
    base = _status("VmRSS")
    best = None
    for _ in range(repeat):
        paths.clear()
        t0, c0 = time.perf_counter(), time.process_time()
        res = fn(pred, gt, labels)
        w, c = time.perf_counter() - t0, time.process_time() - c0
        if best is None or c < best[1]:
            best = (w, c)
    np.savez(os.path.join(folder, f"{side}.npz"), **res)
    print(json.dumps({"wall": best[0], "cpu": best[1], "peak": _status("VmHWM"), "base": base, "paths": paths}))


def run_worker(side, folder, repeat):
    out = subprocess.run(
        [sys.executable, __file__, "--worker", side, folder, "--repeat", str(repeat)],
        check=True,
        capture_output=True,
        text=True,
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--case", choices=[*CASES, "all"], default="all")
    ap.add_argument("--skip", action="append", default=[], choices=list(SIDES), help="leave a side out")
    ap.add_argument("--repeat", type=int, default=1, help="segloss runs; the best CPU time is reported")
    ap.add_argument("--worker", nargs=2, metavar=("SIDE", "DIR"), help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.worker:
        return worker(args.worker[0], args.worker[1], max(1, args.repeat))
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    cases = list(CASES) if args.case == "all" else [args.case]
    sides = [s for s in SIDES if s not in args.skip]
    print(f"{os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f}; CPU = process_time of the side's process")
    for name in cases:
        t0 = time.perf_counter()
        pred, gt, labels = CASES[name]()
        dice = [
            2
            * np.count_nonzero((pred == c) & (gt == c))
            / max(1, np.count_nonzero(pred == c) + np.count_nonzero(gt == c))
            for c in labels
        ]
        print(
            f"\n{name}: {SHAPE[0]}x{SHAPE[1]}x{SHAPE[2]} uint8 (F order), spacing {SPACING} mm, {len(labels)} classes, "
            f"mean Dice {np.mean(dice):.3f}, {np.count_nonzero(gt) / gt.size:.0%} of voxels labelled "
            f"(made in {time.perf_counter() - t0:.0f} s)"
        )
        with tempfile.TemporaryDirectory() as folder:
            np.save(os.path.join(folder, "pred.npy"), pred)
            np.save(os.path.join(folder, "gt.npy"), gt)
            json.dump({"labels": labels}, open(os.path.join(folder, "meta.json"), "w"))
            del pred, gt
            got = {s: run_worker(s, folder, args.repeat if s == "segloss" else 1) for s in sides}
            vals = {s: np.load(os.path.join(folder, f"{s}.npz")) for s in sides}
        mb = lambda v: f"{v / 2**20:,.0f} MB"  # noqa: E731
        for s in sides:
            r = got[s]
            extra = f"  paths {r['paths']}" if r["paths"] else ""
            print(
                f"  {s:8s} {r['cpu']:7.2f} s CPU {r['wall']:7.2f} s wall   peak +{mb(r['peak'] - r['base'])} over the volumes{extra}"
            )
        if "segloss" in got:
            for s in sides[1:]:
                d = max(
                    float(np.nanmax(np.abs(vals["segloss"][n] - vals[s][n]) / np.maximum(np.abs(vals[s][n]), 1e-12)))
                    for n in NAMES
                )
                print(
                    f"  segloss vs {s}: {got[s]['cpu'] / got['segloss']['cpu']:.1f}x CPU, max relative difference {d:.1e}"
                )


if __name__ == "__main__":
    main()
