"""Local check of `--surface surfel` against DeepMind surface-distance itself (not a test dependency).

    git clone https://github.com/google-deepmind/surface-distance /tmp/surfel   (needs numpy, scipy)
    .venv/bin/python benchmarks/surfel_reference.py 60 2

argv: number of cases, seed. Cases: random 2-D (every third) and 3-D masks, 6..40 voxels a
side (2-D up to 90), blobs, openings, dilations and shifts, touching the image border; spacing
1 or anisotropic in [0.5, 2.5]; odd cases Fortran-ordered. The cases go to a .npz that
DeepMind's metrics.py reads in the peers' Python (``PEERS``, default /tmp/peers/bin/python);
prints the largest relative difference per metric. Seen on 2026-12-02: 60 cases, seed 2,
every metric <= 4.6e-16; 150 cases, seed 11: <= 6.3e-16.
"""

import json
import os
import subprocess
import sys

import numpy as np

DEEPMIND = os.environ.get("DEEPMIND", "/tmp/surfel")
PEERS = os.environ.get("PEERS", "/tmp/peers/bin/python")
NPZ = "/tmp/surfel_reference_cases.npz"


def deepmind(path):
    """DeepMind's values of every case (run in the peers' Python)."""
    sys.path.insert(0, DEEPMIND)
    import surface_distance as sd

    data = np.load(path)
    out = []
    for k in range(int(data["n"])):
        p, g, sp = data[f"p{k}"].astype(bool), data[f"g{k}"].astype(bool), tuple(data[f"s{k}"].tolist())
        d = sd.compute_surface_distances(g, p, sp)
        agp, apg = sd.compute_average_surface_distance(d)
        dg, dp, wg, wp = (d[key] for key in ("distances_gt_to_pred", "distances_pred_to_gt", "surfel_areas_gt",
                                              "surfel_areas_pred"))  # fmt: skip
        one = {"distances_gt_to_pred": np.array([0.0]), "surfel_areas_gt": np.array([1.0])}
        other = {"distances_pred_to_gt": np.array([0.0]), "surfel_areas_pred": np.array([1.0])}
        out.append({
            "hd": float(sd.compute_robust_hausdorff(d, 100)),
            "hd95": float(sd.compute_robust_hausdorff(d, 95)),
            "hd90": float(sd.compute_robust_hausdorff(d, 90)),
            "nsd": float(sd.compute_surface_dice_at_tolerance(d, 1.0)),
            "nsd2": float(sd.compute_surface_dice_at_tolerance(d, 2.0)),
            "asd_gp": float(agp),
            "asd_pg": float(apg),
            "masd": float((agp + apg) / 2),
            # one direction: the other replaced by one element at distance 0
            "hd95_pg": float(sd.compute_robust_hausdorff({**d, **one}, 95)),
            "hd95_gp": float(sd.compute_robust_hausdorff({**d, **other}, 95)),
            "hd_pg": float(dp.max()),
            "hd_gp": float(dg.max()),
            "assd": float((np.sum(dg * wg) + np.sum(dp * wp)) / (np.sum(wg) + np.sum(wp))),
        })  # fmt: skip
    print(json.dumps(out))


def cases(n, seed):
    from scipy import ndimage

    rng = np.random.default_rng(seed)
    out = {"n": n}
    for k in range(n):
        nd = 2 if k % 3 == 0 else 3
        shape = tuple(int(v) for v in rng.integers(6, 40 if nd == 3 else 90, nd))
        sp = tuple(np.round(rng.uniform(0.5, 2.5, nd), 3)) if k % 4 else (1.0,) * nd

        def blob(shape=shape):
            m = rng.random(shape) < rng.uniform(0.05, 0.5)
            m = ndimage.binary_opening(m) if rng.random() < 0.5 else m
            m = ndimage.gaussian_filter(m.astype(float), 1.0) > 0.3 if rng.random() < 0.5 else m
            if not m.any():
                m.flat[rng.integers(m.size)] = True
            return m

        g = blob()
        if rng.random() < 0.5:
            p = blob()
        else:
            p = ndimage.binary_dilation(g) if rng.random() < 0.5 else ndimage.shift(g, (1,) * nd, order=0)
        if not p.any():
            p.flat[0] = True
        order = "F" if k % 2 else "C"
        out[f"p{k}"], out[f"g{k}"] = np.asarray(p, order=order), np.asarray(g, order=order)
        out[f"s{k}"] = np.array(sp)
    return out


def compare(n, seed):
    from segloss_cli.metrics.distance import surface_metrics
    from segloss_cli.metrics.params import SurfaceParams

    data = cases(n, seed)
    np.savez(NPZ, **data)
    ref = json.loads(
        subprocess.run([PEERS, __file__, "deepmind", NPZ], capture_output=True, text=True, check=True).stdout
    )
    names = ["hd", "hd95", "nsd", "assd", "masd", "asd_pg", "asd_gp", "hd95_pg", "hd95_gp", "hd_pg", "hd_gp"]
    worst: dict[str, tuple] = {}
    for k in range(n):
        p = data[f"p{k}"].astype(np.uint8, order="K")
        g = data[f"g{k}"].astype(np.uint8, order="K")
        sp = data[f"s{k}"]

        def run(names_, p=p, g=g, sp=sp, **kw):
            return surface_metrics(p, g, [1], spacing_mm=sp, names=names_, params=SurfaceParams(surface="surfel", **kw))

        got = {m: v[0] for m, v in run(names).items()}
        got["hd90"] = run(["hd95"], hd_percentile=90)["hd95"][0]
        got["nsd2"] = run(["nsd"], nsd_tolerance_mm=2.0)["nsd"][0]
        for m, a in got.items():
            b = ref[k][m]
            rel = 0.0 if a == b else abs(a - b) / max(abs(b), 1e-300)
            if rel >= worst.get(m, (-1.0,))[0]:
                worst[m] = (rel, k, a, b)
    print(f"{n} cases, seed {seed}: largest relative difference per metric")
    for m, (rel, k, a, b) in worst.items():
        print(f"  {m}: {rel:.2g} (case {k}: segloss {a!r}, DeepMind {b!r})")
    print(f"overall: {max(v[0] for v in worst.values()):.2g}")


if __name__ == "__main__":
    if sys.argv[1] == "deepmind":
        deepmind(sys.argv[2])
    else:
        compare(int(sys.argv[1]), int(sys.argv[2]))
