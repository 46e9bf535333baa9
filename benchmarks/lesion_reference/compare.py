import json
import subprocess
import sys

import nibabel as nib
import numpy as np

from segloss_cli.metrics.lesion import LesionParams, lesion_metrics

pre = {
    "BraTS-GLI": "brats-gli",
    "BraTS-MEN": "brats-men",
    "BraTS-MET": "brats-met",
    "BraTS-PED": "brats-ped",
    "BraTS-SSA": "brats-ssa",
}
challenge, mode, cases = sys.argv[1], sys.argv[2], sys.argv[3]
ref = json.loads(
    subprocess.run(
        ["/tmp/brats_venv/bin/python", "/tmp/brats/run_reference.py", challenge, mode, cases],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
)
# mode deepmind: the presets' own surfel HD95 (the reference's); mode voxel: segloss's voxel surfaces
params = LesionParams.preset(pre[challenge], surface="voxel" if mode == "voxel" else None)
worst = 0.0
for k in cases.split(","):
    p = nib.load(f"/tmp/lesion_cases/{k}_pred.nii.gz")
    g = nib.load(f"/tmp/lesion_cases/{k}_gt.nii.gz")
    sp = g.header.get_zooms()
    got = lesion_metrics(
        np.asarray(p.dataobj),
        np.asarray(g.dataobj),
        [[1, 2, 3], [1, 3], [3]],
        names=["lesion_dice", "lesion_hd95", "lesion_tp", "lesion_fp", "lesion_fn"],
        spacing_mm=sp,
        params=params,
    )
    for i, lab in enumerate(("WT", "TC", "ET")):
        r = ref[k][lab]
        mine = (
            got["lesion_dice"][i],
            got["lesion_hd95"][i],
            got["lesion_tp"][i],
            got["lesion_fp"][i],
            got["lesion_fn"][i],
        )
        theirs = (r["LesionWise_Score_Dice"], r["LesionWise_Score_HD95"], r["Num_TP"], r["Num_FP"], r["Num_FN"])
        d = max(abs(a - b) for a, b in zip(mine, theirs))
        worst = max(worst, d)
        print(
            k,
            lab,
            "segloss",
            tuple(round(x, 6) for x in mine),
            "ref",
            tuple(round(x, 6) for x in theirs),
            "OK" if d < 1e-9 else "DIFF",
        )
print("max abs diff", worst)
