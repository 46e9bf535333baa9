"""Per-structure mask folders (TotalSegmentator's segmentations/ layout) against numpy."""

from __future__ import annotations

import json

import nibabel as nib
import numpy as np
import pytest

from tests.test_label_tables import AFFINE, cli, dice, organs, save, totalseg_xml

NAMES = {1: "liver", 2: "spleen", 3: "kidney_left", 4: "kidney_right", 5: "aorta"}


def mask_folder(path, labels, names=NAMES):
    path.mkdir()
    for lab, name in names.items():
        nib.save(nib.Nifti1Image((labels == lab).astype(np.uint8), AFFINE), str(path / f"{name}.nii.gz"))
    return path


def classes(res):
    assert res.exit_code == 0, res.output
    return json.loads(res.stdout)["cases"][0]["classes"]


def test_two_mask_folders_are_one_case(tmp_path):
    pred, gt = organs(1)
    pdir, gdir = mask_folder(tmp_path / "pred", pred), mask_folder(tmp_path / "gt", gt)
    got = classes(cli("eval", pdir, gdir, "--masks", "--metrics", "dice", "--format", "json"))
    by_name = {row["name"]: row["metrics"]["dice"] for row in got.values()}
    assert by_name == {name: pytest.approx(dice(pred, gt, lab)) for lab, name in NAMES.items()}
    assert sorted(by_name) == [got[k]["name"] for k in sorted(got, key=int)]  # labels from the sorted names


def test_a_multilabel_file_against_a_mask_folder_uses_the_label_table(tmp_path):
    pred, gt = organs(2)
    save(tmp_path / "pred.nii.gz", pred, totalseg_xml(NAMES))  # names from the file's header extension
    gdir = mask_folder(tmp_path / "gt", gt)
    got = classes(cli("eval", tmp_path / "pred.nii.gz", gdir, "--metrics", "dice", "--format", "json"))
    for lab, name in NAMES.items():
        assert got[str(lab)]["name"] == name and got[str(lab)]["metrics"]["dice"] == pytest.approx(dice(pred, gt, lab))


@pytest.mark.parametrize("fault,expected", [("overlap", "overlap in"), ("values", "not binary"),
                                            ("grid", "not on the grid"), ("unknown", "not a class of the label table")])  # fmt: skip
def test_bad_mask_folders(tmp_path, fault, expected):
    pred, gt = organs(3)
    gdir = mask_folder(tmp_path / "gt", gt)
    if fault == "overlap":
        nib.save(nib.Nifti1Image((gt >= 1).astype(np.uint8), AFFINE), str(gdir / "aorta.nii.gz"))
    elif fault == "values":
        nib.save(nib.Nifti1Image((gt == 1).astype(np.uint8) * 3, AFFINE), str(gdir / "liver.nii.gz"))
    elif fault == "grid":
        nib.save(nib.Nifti1Image(np.zeros((5, 5, 5), np.uint8), AFFINE), str(gdir / "aorta.nii.gz"))
    else:
        nib.save(nib.Nifti1Image(np.zeros(gt.shape, np.uint8), AFFINE), str(gdir / "pancreas.nii.gz"))
    save(tmp_path / "pred.nii.gz", pred, totalseg_xml(NAMES))
    res = cli("eval", tmp_path / "pred.nii.gz", gdir, "--metrics", "dice")
    lines = [line for line in res.stderr.splitlines() if line.strip()]
    assert res.exit_code == 2 and expected in res.stderr and len(lines) == 1, res.stderr


def test_folders_of_mask_folders_pair_by_case(tmp_path):
    """A folder of cases where each case is a folder of masks (here, or in segmentations/ as
    TotalSegmentator writes), against a folder of label maps."""
    (tmp_path / "pred").mkdir()
    (tmp_path / "gt").mkdir()
    want = {}
    for i in range(2):
        pred, gt = organs(10 + i)
        where = tmp_path / "pred" / f"case{i}"
        where.mkdir()
        mask_folder(where / "segmentations" if i else where / "m", pred)
        if not i:  # masks directly in the case folder
            for f in (where / "m").iterdir():
                f.rename(where / f.name)
            (where / "m").rmdir()
        save(tmp_path / "gt" / f"case{i}.nii.gz", gt, totalseg_xml(NAMES))
        want[f"case{i}"] = {lab: dice(pred, gt, lab) for lab in NAMES}
    res = cli("eval", tmp_path / "pred", tmp_path / "gt", "--metrics", "dice", "--format", "json", "-j", "1")
    assert res.exit_code == 0, res.output
    for case in json.loads(res.stdout)["cases"]:
        got = {int(k): v["metrics"]["dice"] for k, v in case["classes"].items()}
        assert got == pytest.approx(want[case["case"]])
