"""Run the BraTS 2023 reference on /tmp/lesion_cases; print JSON. argv: challenge, mode (deepmind|voxel)."""

import json
import sys
import warnings

warnings.simplefilter("ignore")
sys.path.insert(0, "/tmp/brats")
import metrics as M  # noqa: E402  (the reference, from the path above)
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

# pandas 1.5 (the pinned 1.3.4 has no wheel for this Python) fails on replace() over the column
# of component arrays; the reference means the numeric columns (hd95 inf -> 374).
_replace = pd.DataFrame.replace


def _numeric_replace(self, to_replace=None, value=None, **kw):
    obj = [c for c in self.columns if self[c].dtype == object]
    if not obj or kw.get("inplace"):
        return _replace(self, to_replace, value, **kw)
    out = self.copy()
    num = [c for c in self.columns if c not in obj]
    out[num] = _replace(self[num], to_replace, value, **kw)
    return out


pd.DataFrame.replace = _numeric_replace
challenge, mode = sys.argv[1], sys.argv[2]
if mode == "voxel":  # segloss's conventions hd95 (voxel surfaces, max of directed q95, linear)
    import scipy.ndimage as ndi

    def csd(a, b, sp):
        return {"a": np.asarray(a).astype(bool), "b": np.asarray(b).astype(bool), "sp": sp}

    def rh(sd, pct):
        a, b, sp = sd["a"], sd["b"], sd["sp"]
        if not a.any() or not b.any():
            return np.inf
        sa = a & ~ndi.binary_erosion(a, border_value=0)
        sb = b & ~ndi.binary_erosion(b, border_value=0)
        da = ndi.distance_transform_edt(~sa, sampling=sp)
        db = ndi.distance_transform_edt(~sb, sampling=sp)
        return max(np.percentile(db[sa], pct), np.percentile(da[sb], pct))

    M.surface_distance.compute_surface_distances = csd
    M.surface_distance.compute_robust_hausdorff = rh
res = {}
for k in sys.argv[3].split(","):
    df = M.get_LesionWiseResults(
        f"/tmp/lesion_cases/{k}_pred.nii.gz", f"/tmp/lesion_cases/{k}_gt.nii.gz", challenge
    ).set_index("Labels")
    res[k] = {
        lab: {
            c: float(df.loc[lab, c])
            for c in ("LesionWise_Score_Dice", "LesionWise_Score_HD95", "Num_TP", "Num_FP", "Num_FN")
        }
        for lab in ("WT", "TC", "ET")
    }
print(json.dumps(res))
