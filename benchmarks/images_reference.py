"""Local check of segloss's dataset-level (pooled) metrics against torchmetrics (not a test dependency).

Three steps; each tool runs in its own environment, on the same PNG files:
  .venv/bin/python benchmarks/images_reference.py make OUT_DIR            # the VOC-style folders
  /tmp/peers/bin/python benchmarks/images_reference.py torchmetrics OUT_DIR  # torch + torchmetrics
  .venv/bin/python benchmarks/images_reference.py segloss OUT_DIR         # segloss eval, compares, prints

Folders (palette "P" PNGs with VOC's colour map, 21 classes 0..20, a 255 void band around
every object in GT, 21 images of 96x128, seeded):
- ``voc``: classes absent from some images; class 19 absent from every image (PRED and GT),
  class 20 only in a few images. Every class PRED gives somewhere is in some GT.
- ``voc_fp``: the same, plus class 19 predicted in a few pixels of two images but in no GT:
  torchmetrics' macro accuracy and F1 count that class as 0, mmsegmentation and segloss's
  default leave it out of mAcc (its recall is 0/0) and mFscore; ``--convention torchmetrics``
  (``--pooled-means torchmetrics``) averages as torchmetrics does. The script checks that the
  two averages differ in exactly those two keys, and that each equals its numpy oracle.

torchmetrics: MulticlassJaccardIndex(num_classes=21, ignore_index=255, average="macro" and
"none"), MulticlassAccuracy(average="micro" for aAcc, "macro" for mAcc) and
MulticlassF1Score(average="macro", against mDice and mFscore), updated image by image over the
whole folder, then computed once. Its reductions cast the confusion counts to float32
(``confmat.float()``); to compare at 1e-12 they are also run in float64 (the same torchmetrics
code, ``Tensor.float`` returning ``double`` and float64 the default dtype while computing).
Both are reported. segloss: ``segloss eval PRED GT --ignore-label 255 --include-background
--metrics iou,recall --format json``, with and without ``--convention torchmetrics``; its
summary.pooled. A plain numpy confusion matrix
(np.add.at over every valid pixel) is the third opinion. A class in neither PRED nor GT of any
image is no class of segloss's run (no row); torchmetrics' "none" gives it 0 (zero_division)
and its macro average leaves it out, as segloss's means do.
"""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path

import numpy as np

K = 21
IGNORE = 255
N_IMAGES = 21
SHAPE = (96, 128)
ABSENT = 19  # in no image of either folder's GT
RARE = 20  # in a few images only


def make_cases(seed: int, *, false_positive_class: bool):
    """(pred, gt) uint8 label maps: objects of random classes on background, a void band in GT."""
    rng = np.random.default_rng(seed)
    h, w = SHAPE
    cases = []
    for i in range(N_IMAGES):
        gt = np.zeros(SHAPE, np.uint8)
        pool = [c for c in range(1, K) if c not in (ABSENT, RARE)]
        chosen = rng.choice(pool, size=int(rng.integers(2, 7)), replace=False).tolist()
        for c in chosen + ([RARE] if i % 7 == 0 else []):
            y, x = int(rng.integers(2, h - 30)), int(rng.integers(2, w - 40))
            hh, ww = int(rng.integers(10, 28)), int(rng.integers(12, 38))
            gt[y - 2 : y + hh + 2, x - 2 : x + ww + 2] = IGNORE  # the void band VOC draws around objects
            gt[y : y + hh, x : x + ww] = c
        pred = gt.copy()
        pred[pred == IGNORE] = 0
        pred = np.roll(pred, (int(rng.integers(-2, 3)), int(rng.integers(-3, 4))), axis=(0, 1))
        present = [int(c) for c in np.unique(gt) if c != IGNORE]
        noise = rng.random(SHAPE) < 0.04  # confusions among the classes of the image
        pred[noise] = rng.choice(present, size=int(noise.sum()))
        if i % 5 == 0 and len(present) > 1:  # a whole object given the wrong class
            c = present[-1]
            pred[pred == c] = present[0]
        if false_positive_class and i in (3, 11):
            pred[10:14, 10:15] = ABSENT  # predicted, in no GT of the set
        cases.append((pred, gt))
    return cases


def confusion_oracle(cases) -> np.ndarray:
    """K x K counts (rows GT, columns PRED) over every pixel whose GT is not the ignore label."""
    cm = np.zeros((K, K), np.int64)
    for pred, gt in cases:
        keep = gt != IGNORE
        np.add.at(cm, (gt[keep].astype(np.int64), pred[keep].astype(np.int64)), 1)
    return cm


def oracle_scores(cm: np.ndarray) -> dict:
    """The dataset-level scores from the confusion matrix, both ways of averaging over classes:
    mmsegmentation's IoUMetric (nanmean: a class whose value is 0/0 left out) and torchmetrics'
    macro average (each class with TP + FP + FN > 0, a 0/0 counted as 0)."""
    tp = np.diag(cm).astype(np.float64)
    fp, fn = cm.sum(axis=0) - tp, cm.sum(axis=1) - tp
    with np.errstate(invalid="ignore", divide="ignore"):
        iou = tp / (tp + fp + fn)
        acc = tp / (tp + fn)
        precision = tp / (tp + fp)
        dice = 2 * tp / (2 * tp + fp + fn)
        fscore = 2 * precision * acc / (precision + acc)
    present = (tp + fp + fn) > 0
    return {
        "iou": [None if math.isnan(v) else float(v) for v in iou],
        "mmseg": {
            "mIoU": float(np.nanmean(iou)),
            "aAcc": float(tp.sum() / cm.sum()),
            "mAcc": float(np.nanmean(acc)),
            "mDice": float(np.nanmean(dice)),
            "mFscore": float(np.nanmean(fscore)),
        },
        "torchmetrics": {
            "mIoU": float(np.mean(iou[present])),
            "aAcc": float(tp.sum() / cm.sum()),
            "mAcc": float(np.mean(np.nan_to_num(acc[present]))),
            "mDice": float(np.mean(dice[present])),
            "mFscore": float(np.mean(np.nan_to_num(dice[present]))),
        },
    }


def step_make(out: Path) -> None:
    from PIL import Image

    from segloss_cli.io.palette import voc_colormap

    cmap = voc_colormap().reshape(-1).tolist()
    for name, fp_class in (("voc", False), ("voc_fp", True)):
        cases = make_cases(11, false_positive_class=fp_class)
        for sub in ("pred", "gt"):
            (out / name / sub).mkdir(parents=True, exist_ok=True)
        for i, (pred, gt) in enumerate(cases):
            for sub, arr in (("pred", pred), ("gt", gt)):
                img = Image.fromarray(arr, mode="P")
                img.putpalette(cmap)
                img.save(out / name / sub / f"img_{i:03d}.png")
        (out / name / "oracle.json").write_text(json.dumps(oracle_scores(confusion_oracle(cases))))
    print(f"wrote {out}/voc and {out}/voc_fp ({N_IMAGES} palette PNG pairs each)")


def _read_folder(folder: Path):
    from PIL import Image

    for p in sorted((folder / "pred").glob("*.png")):
        with Image.open(p) as a, Image.open(folder / "gt" / p.name) as b:
            assert a.mode == "P" and b.mode == "P"
            yield np.asarray(a), np.asarray(b)


def step_torchmetrics(out: Path) -> None:
    # The peers' torchvision is built for another torch: torchmetrics would import it (image
    # metrics) and fail; the classification metrics need none of it.
    import lightning_utilities.core.imports as li

    available = li.RequirementCache.__bool__
    li.RequirementCache.__bool__ = lambda self: "torchvision" not in str(self.requirement) and available(self)
    import torch
    import torchmetrics
    from torchmetrics.classification import MulticlassAccuracy, MulticlassF1Score, MulticlassJaccardIndex

    for name in ("voc", "voc_fp"):
        metrics = {
            "mIoU": MulticlassJaccardIndex(num_classes=K, ignore_index=IGNORE, average="macro"),
            "iou": MulticlassJaccardIndex(num_classes=K, ignore_index=IGNORE, average="none"),
            "aAcc": MulticlassAccuracy(num_classes=K, ignore_index=IGNORE, average="micro"),
            "mAcc": MulticlassAccuracy(num_classes=K, ignore_index=IGNORE, average="macro"),
            "mF1": MulticlassF1Score(num_classes=K, ignore_index=IGNORE, average="macro"),
        }
        for pred, gt in _read_folder(out / name):  # one update per image, as a validation loop
            p, g = torch.from_numpy(pred.astype(np.int64))[None], torch.from_numpy(gt.astype(np.int64))[None]
            for m in metrics.values():
                m.update(p, g)
        got = {}
        for precision in ("float32", "float64"):
            as_float = torch.Tensor.float
            default_dtype = torch.get_default_dtype()
            if precision == "float64":
                torch.Tensor.float = lambda self, *a, **k: self.double()  # type: ignore[method-assign]
                torch.set_default_dtype(torch.float64)  # F1's (1 + beta^2) * tp: int times a Python float
            try:
                for m in metrics.values():
                    m._computed = None  # compute() caches its result
                values = {key: m.compute() for key, m in metrics.items()}
            finally:
                torch.Tensor.float = as_float  # type: ignore[method-assign]
                torch.set_default_dtype(default_dtype)
            got[precision] = {key: v.tolist() for key, v in values.items()}
        got["version"] = torchmetrics.__version__
        (out / name / "torchmetrics.json").write_text(json.dumps(got))
    print(f"torchmetrics {torchmetrics.__version__} (torch {torch.__version__}): wrote {out}/*/torchmetrics.json")


DATASET = ("mIoU", "aAcc", "mAcc", "mDice", "mFscore")
# torchmetrics' metric for each dataset key (MulticlassF1Score is 2TP/(2TP + FP + FN) per class)
TM_KEY = {"mIoU": "mIoU", "aAcc": "aAcc", "mAcc": "mAcc", "mDice": "mF1", "mFscore": "mF1"}


def _segloss_pooled(folder: Path, *extra: str) -> dict:
    cmd = [sys.executable, "-m", "segloss_cli", "eval", str(folder / "pred"), str(folder / "gt")]
    cmd += ["--ignore-label", "255", "--include-background", "--metrics", "iou,recall", "--format", "json", *extra]
    res = subprocess.run(cmd, capture_output=True, text=True, check=True)
    pooled = json.loads(res.stdout)["summary"]["pooled"]
    out = {key: pooled[key] for key in DATASET}
    out["iou"] = {int(lab): row["metrics"]["iou"] for lab, row in pooled["classes"].items()}
    return out


def step_segloss(out: Path) -> None:
    worst = 0.0
    for name in ("voc", "voc_fp"):
        folder = out / name
        mm = _segloss_pooled(folder)  # the default: mmsegmentation's means
        tmc = _segloss_pooled(folder, "--convention", "torchmetrics")
        oracle = json.loads((folder / "oracle.json").read_text())
        tm = json.loads((folder / "torchmetrics.json").read_text())
        print(f"\n{name}: {len(mm['iou'])} classes reported by segloss: {sorted(mm['iou'])}")
        print(f"  {'value':9s} {'segloss':>19s} {'oracle (mmseg)':>19s} {'--conv torchmetr.':>19s} "
              f"{'torchmetrics f64':>19s} {'|conv - tm64|':>13s} {'|conv - tm32|':>13s}")  # fmt: skip
        rows = [(key, mm[key], oracle["mmseg"][key], tmc[key], tm["float64"][TM_KEY[key]], tm["float32"][TM_KEY[key]])
                for key in DATASET]  # fmt: skip
        rows += [
            (f"iou[{c}]", v, oracle["iou"][c], tmc["iou"][c], tm["float64"]["iou"][c], tm["float32"]["iou"][c])
            for c, v in sorted(mm["iou"].items())
        ]
        for key, seg, orc, conv, t64, t32 in rows:
            # segloss = the numpy oracle (the same sums; a mean may differ in its last bit: numpy's
            # nanmean adds in another order), both ways of averaging
            assert abs(seg - orc) <= 2e-16 * abs(orc), f"{name} {key}: segloss {seg!r} != numpy oracle {orc!r}"
            if key in DATASET:
                o_tm = oracle["torchmetrics"][key]
                assert abs(conv - o_tm) <= 2e-16 * abs(o_tm), f"{name} {key}: {conv!r} != torchmetrics' rule {o_tm!r}"
            d64, d32 = abs(conv - t64), abs(conv - t32)
            worst = max(worst, d64)
            note = "  (the averages differ: below)" if abs(seg - conv) > 2e-16 else ""
            print(f"  {key:9s} {seg:19.16f} {orc:19.16f} {conv:19.16f} {t64:19.16f} {d64:13.3e} {d32:13.3e}{note}")
        for c in (c for c in range(K) if c not in mm["iou"]):  # in no PRED or GT: no row; torchmetrics a 0
            print(
                f"  iou[{c}]: no segloss row (class in no image); torchmetrics 'none' gives {tm['float64']['iou'][c]}"
            )
        differ = [key for key in DATASET if abs(mm[key] - tmc[key]) > 2e-16]
        if name == "voc":
            assert not differ, differ  # every class PRED gives is in some GT: the two averages agree
        else:
            # class 19 is predicted in no GT: torchmetrics counts its 0/0 recall and its F1 as 0,
            # mmsegmentation (and segloss's default) leave it out of mAcc and mFscore
            assert differ == ["mAcc", "mFscore"], differ
            n_mm, n_tm = len(oracle_recalls(folder)), len(mm["iou"])
            print(
                f"  default (mmseg) mAcc averages the {n_mm} classes with GT pixels, --convention torchmetrics all "
                f"{n_tm} (class {ABSENT} as 0): {mm['mAcc']:.16f} vs {tmc['mAcc']:.16f}; mFscore "
                f"{mm['mFscore']:.16f} vs {tmc['mFscore']:.16f}"
            )
    print(
        f"\nmax |segloss --convention torchmetrics - torchmetrics (float64 reductions)| = {worst:.3e} "
        f"(torchmetrics {tm['version']})"
    )
    assert worst <= 1e-12, worst


def oracle_recalls(folder: Path) -> dict[int, float]:
    cases = list(_read_folder(folder))
    cm = confusion_oracle(cases)
    tp, support = np.diag(cm), cm.sum(axis=1)
    return {c: float(tp[c] / support[c]) for c in range(K) if support[c] > 0}


def main() -> None:
    if len(sys.argv) != 3 or sys.argv[1] not in ("make", "torchmetrics", "segloss"):
        sys.exit(__doc__)
    out = Path(sys.argv[2])
    {"make": step_make, "torchmetrics": step_torchmetrics, "segloss": step_segloss}[sys.argv[1]](out)


if __name__ == "__main__":
    main()
