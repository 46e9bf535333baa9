"""Local check of the directed distances against MONAI and MedPy (not a test dependency).

Run: /tmp/peers/bin/python benchmarks/directed_reference.py peers OUT.json   (MONAI, MedPy)
     .venv/bin/python benchmarks/directed_reference.py segloss OUT.json       (compares)
Cases: random 12x13x11 masks, spacing (0.8, 1.5, 3.0), seed 0. pg = PRED -> GT.
"""

import json
import sys

import numpy as np

SP = (0.8, 1.5, 3.0)


def cases():
    rng = np.random.default_rng(0)
    for _ in range(5):
        yield rng.random((12, 13, 11)) < 0.4, rng.random((12, 13, 11)) < 0.4


def peers(path):
    import torch
    from medpy.metric.binary import asd
    from monai.metrics import compute_average_surface_distance, compute_hausdorff_distance

    out = []
    for p, g in cases():
        P, G = torch.tensor(p[None, None]), torch.tensor(g[None, None])
        out.append({
            "hd_pg": float(compute_hausdorff_distance(P, G, directed=True, spacing=SP)),
            "hd_gp": float(compute_hausdorff_distance(G, P, directed=True, spacing=SP)),
            "hd95_pg": float(compute_hausdorff_distance(P, G, percentile=95, directed=True, spacing=SP)),
            "hd95_gp": float(compute_hausdorff_distance(G, P, percentile=95, directed=True, spacing=SP)),
            "asd_pg": float(compute_average_surface_distance(P, G, symmetric=False, spacing=SP)),
            "asd_pg_medpy": float(asd(p, g, voxelspacing=SP)),
            "asd_gp_medpy": float(asd(g, p, voxelspacing=SP)),
        })  # fmt: skip
    json.dump(out, open(path, "w"))


def compare(path):
    from segloss_cli.metrics.distance import surface_metrics

    names = ("hd_pg", "hd_gp", "hd95_pg", "hd95_gp", "asd_pg", "asd_gp")
    worst = 0.0
    for (p, g), ref in zip(cases(), json.load(open(path))):
        s = surface_metrics(p.astype(np.uint8), g.astype(np.uint8), [1], spacing_mm=SP, names=names)
        ref = dict(ref, asd_gp=ref["asd_gp_medpy"])
        for n in names:
            rel = abs(s[n][0] - ref[n]) / max(abs(ref[n]), 1e-300)
            worst = max(worst, rel)
        assert s["asd_pg"][0] == ref["asd_pg_medpy"] and s["asd_gp"][0] == ref["asd_gp_medpy"]
    print(f"worst relative difference vs MONAI (float32): {worst:.2e}; MedPy asd: exact")


if __name__ == "__main__":
    (peers if sys.argv[1] == "peers" else compare)(sys.argv[2])
