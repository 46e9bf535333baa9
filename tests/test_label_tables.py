"""Label tables inside files (TotalSegmentator's NIfTI header extension) and the suspicious-input
warnings on labels (an intensity image as GT, shifted label numbers, --labels 0)."""

from __future__ import annotations

import json

import nibabel as nib
import numpy as np
import pytest
from typer.testing import CliRunner

import segloss
from segloss_cli.classes import load_label_table
from segloss_cli.cli import app
from segloss_cli.errors import InputError
from segloss_cli.io.niftiext import caret_label_table, extensions, read_label_names

runner = CliRunner()
AFFINE = np.diag([1.5, 1.5, 2.0, 1.0])
# The first names of TotalSegmentator's "total" task; the rest of its 117 are stand-ins.
NAMES = {1: "spleen", 2: "kidney_right", 3: "kidney_left", 4: "gallbladder", 5: "liver"}
NAMES.update({i: f"structure_{i}" for i in range(6, 118)})


def cli(*args):
    return runner.invoke(app, [str(a) for a in args])


def totalseg_xml(label_map: dict[int, str]) -> bytes:
    """The extension content exactly as TotalSegmentator's add_label_map_to_nifti builds it
    (totalsegmentator/nifti_ext_header.py): Caret XML, one <Label> per entry, CDATA names."""
    colors = [[255, 0, 0], [0, 255, 0], [0, 0, 255], [255, 255, 0], [255, 0, 255], [0, 255, 255], [255, 128, 0]]
    colors += [[255, 0, 128], [128, 255, 128], [0, 128, 255], [128, 128, 128], [185, 170, 155]]
    xmlpre = (
        '<?xml version="1.0" encoding="UTF-8"?> <CaretExtension>  <Date><![CDATA[2013-07-14T05:45:09]]></Date>'
        '   <VolumeInformation Index="0">   <LabelTable>'
    )
    body = ""
    for label_id, label_name in label_map.items():
        rgb = colors[label_id % len(colors)]
        body += (
            f'<Label Key="{label_id}" Red="{rgb[0] / 255}" Green="{rgb[1] / 255}" Blue="{rgb[2] / 255}" '
            f'Alpha="1"><![CDATA[{label_name}]]></Label>\n'
        )
    xmlpost = (
        "  </LabelTable>  <StudyMetaDataLinkSet>  </StudyMetaDataLinkSet>  <VolumeType><![CDATA[Label]]>"
        "</VolumeType>   </VolumeInformation></CaretExtension>"
    )
    return bytes(xmlpre + "\n" + body + "\n" + xmlpost + "\n              ", "utf-8")


def save(path, arr, content: bytes | None = None, code: int = 0):
    img = nib.Nifti1Image(arr, AFFINE)
    if content is not None:
        img.header.extensions.append(nib.nifti1.Nifti1Extension(code, content))
    nib.save(img, str(path))
    return path


def organs(seed=0, shape=(24, 20, 14)):
    """GT with labels 1..5 in blocks, PRED a one-voxel shift with a little noise."""
    rng = np.random.default_rng(seed)
    gt = np.zeros(shape, np.uint8)
    for lab in range(1, 6):
        x = 2 + 4 * (lab - 1)
        gt[x : x + 3, 3:15, 2:11] = lab
    pred = np.roll(gt, 1, axis=1)
    noise = rng.random(shape) < 0.02
    pred[noise] = rng.integers(0, 6, size=int(noise.sum()))
    return pred, gt


def dice(pred, gt, lab):
    p, g = pred == lab, gt == lab
    return 2 * np.sum(p & g) / (p.sum() + g.sum())


@pytest.mark.parametrize("suffix", [".nii.gz", ".nii"])
def test_totalsegmentator_header_names_are_read(tmp_path, suffix):
    pred, _ = organs()
    path = save(tmp_path / f"seg{suffix}", pred, totalseg_xml(NAMES))
    assert read_label_names(path) == NAMES
    table = load_label_table(path)  # --label-names seg.nii.gz reads it too
    assert table.names == NAMES and table.source == f"{path} header extension"
    # Workbench stores the same document under code 30; other extensions carry no names.
    assert read_label_names(save(tmp_path / f"wb{suffix}", pred, totalseg_xml({1: "a b"}), code=30)) == {1: "a b"}
    assert read_label_names(save(tmp_path / f"c{suffix}", pred, b"a comment", code=6)) is None
    assert read_label_names(save(tmp_path / f"plain{suffix}", pred)) is None


def test_extension_chain_parsed_from_raw_bytes():
    """Two extensions after the 348-byte header, each 16-byte aligned: (code, content) in order."""
    hdr = nib.Nifti1Header()
    hdr.extensions.append(nib.nifti1.Nifti1Extension(6, b"first"))
    hdr.extensions.append(nib.nifti1.Nifti1Extension(0, totalseg_xml({7: "liver"})))
    import io

    buf = io.BytesIO()
    hdr.write_to(buf)
    raw = buf.getvalue()
    found = extensions(raw)
    assert [c for c, _ in found] == [6, 0]
    assert found[0][1].rstrip(b"\x00") == b"first"
    assert caret_label_table(found[1][1], "x") == {7: "liver"}
    assert extensions(raw[:200]) == []  # shorter than a header: nothing


def test_cli_names_from_pred_header_json_settings_and_labels_by_name(tmp_path):
    pred, gt = organs()
    p = save(tmp_path / "pred.nii.gz", pred, totalseg_xml(NAMES))  # TotalSegmentator's output
    g = save(tmp_path / "gt.nii.gz", gt)  # a reference without a table
    res = cli("eval", p, g, "--metrics", "dice", "--labels", "liver,spleen", "--format", "json")
    assert res.exit_code == 0, res.output
    doc = json.loads(res.stdout)
    classes = doc["cases"][0]["classes"]
    assert {k: v["name"] for k, v in classes.items()} == {"1": "spleen", "5": "liver"}
    for lab in (1, 5):
        assert classes[str(lab)]["metrics"]["dice"] == pytest.approx(dice(pred, gt, lab))
    assert doc["settings"]["label_names_from"] == f"{p} header extension"
    gate = cli("eval", p, g, "--metrics", "dice", "--require", "dice[kidney_left]>=1.01")
    assert gate.exit_code == 1 and "kidney_left" in gate.stderr
    # GT's table comes first; an explicit --label-names wins over both.
    save(g, gt, totalseg_xml({1: "milz"}))
    doc = json.loads(cli("eval", p, g, "--metrics", "dice", "--labels", "1", "--format", "json").stdout)
    assert doc["cases"][0]["classes"]["1"]["name"] == "milz"
    (tmp_path / "names.json").write_text('{"1": "lien"}')
    doc = json.loads(
        cli(
            "eval", p, g, "--metrics", "dice", "--labels", "1", "-f", "json", "--label-names", tmp_path / "names.json"
        ).stdout
    )
    assert doc["cases"][0]["classes"]["1"]["name"] == "lien" and "label_names_from" not in doc["settings"]


def test_no_table_leaves_settings_unchanged(tmp_path):
    pred, gt = organs()
    p, g = save(tmp_path / "p.nii.gz", pred), save(tmp_path / "g.nii.gz", gt)
    doc = json.loads(cli("eval", p, g, "--metrics", "dice", "-f", "json").stdout)
    assert "label_names_from" not in doc["settings"] and doc["cases"][0]["classes"]["1"]["name"] is None
    res = cli("eval", p, g, "--label-names", p)
    assert res.exit_code == 2 and "holds no label table in its NIfTI header extension" in res.stderr


def test_python_api_and_folders_take_header_names(tmp_path):
    pred, gt = organs()
    for sub in ("p", "g"):
        (tmp_path / sub).mkdir()
    save(tmp_path / "p" / "c1.nii.gz", pred, totalseg_xml(NAMES))
    save(tmp_path / "g" / "c1.nii.gz", gt)
    one = segloss.score_files(
        tmp_path / "p" / "c1.nii.gz", tmp_path / "g" / "c1.nii.gz", metrics="dice", labels=["liver"]
    )
    assert [(r.label, r.name) for r in one.classes] == [(5, "liver")]
    run = segloss.evaluate_folder(tmp_path / "p", tmp_path / "g", metrics="dice", jobs=1)
    assert [c.name for c in run.summary.classes] == [NAMES[i] for i in range(1, 6)]
    assert run.settings["label_names_from"].endswith("c1.nii.gz header extension")


@pytest.mark.parametrize(
    "content, why",
    [
        (totalseg_xml({1: "liver"}).replace(b"</LabelTable>", b""), "XML error"),
        (totalseg_xml({1: "liver"}).replace(b'Key="1"', b'Key="one"'), "not a label number"),
        (totalseg_xml({1: "liver"}).replace(b"</Label>\n", b'</Label><Label Key="1">spleen</Label>'), "named twice"),
        (
            b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "b">]><CaretExtension><LabelTable/></CaretExtension>',
            "DOCTYPE",
        ),
    ],
)
def test_malformed_header_table_is_one_clear_line(tmp_path, content, why):
    pred, gt = organs()
    p = save(tmp_path / "p.nii.gz", pred, content)
    g = save(tmp_path / "g.nii.gz", gt)
    with pytest.raises(InputError, match=why):
        read_label_names(p)
    res = cli("eval", p, g, "--metrics", "dice")
    assert res.exit_code == 2
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1 and why in lines[0] and "--label-names" in lines[0] and str(p) in lines[0]
    (tmp_path / "n.json").write_text('{"1": "liver"}')
    assert cli("eval", p, g, "--metrics", "dice", "--label-names", tmp_path / "n.json").exit_code == 0


# --- suspicious-input warnings -------------------------------------------------------------------


def warnings_of(res) -> list[str]:
    return [line for line in res.stderr.splitlines() if line.startswith("segloss: warning:")]


def test_intensity_image_as_gt_is_warned_and_numbers_unchanged(tmp_path):
    rng = np.random.default_rng(3)
    image = rng.integers(0, 1200, size=(16, 16, 8)).astype(np.int16)  # an MR-like intensity image
    labels = (image > 600).astype(np.uint8)
    np.save(tmp_path / "img.npy", image)
    np.save(tmp_path / "lab.npy", labels)
    res = cli("eval", tmp_path / "lab.npy", tmp_path / "img.npy", "--metrics", "dice", "--labels", "1", "-f", "json")
    assert res.exit_code == 0, res.output
    (note,) = warnings_of(res)
    assert f"GT has {len(np.unique(image))} distinct values" in note and "intensity image" in note
    assert json.loads(res.stdout)["cases"][0]["classes"]["1"]["metrics"]["dice"] == pytest.approx(
        dice(labels, image, 1)
    )
    np.save(tmp_path / "imgf.npy", image.astype(np.float32))
    floats = cli("eval", tmp_path / "lab.npy", tmp_path / "imgf.npy", "--metrics", "dice", "--labels", "1")
    assert "stored as float32" in warnings_of(floats)[0]
    quiet = cli("eval", tmp_path / "lab.npy", tmp_path / "lab.npy", "--metrics", "dice")
    assert quiet.exit_code == 0 and warnings_of(quiet) == []


@pytest.mark.parametrize("shift_background", [False, True])
def test_shifted_pred_labels_are_warned(tmp_path, shift_background):
    pred, gt = organs()
    shifted = np.where(pred > 0, pred + 1, 1 if shift_background else 0).astype(np.uint8)
    np.save(tmp_path / "p.npy", shifted)
    np.save(tmp_path / "g.npy", gt)
    res = cli("eval", tmp_path / "p.npy", tmp_path / "g.npy", "--metrics", "dice", "-f", "json")
    assert res.exit_code == 0, res.output
    (note,) = warnings_of(res)
    assert "every PRED label is a GT label +1" in note and "remap" in note
    classes = json.loads(res.stdout)["cases"][0]["classes"]
    for lab in range(1, 7):
        assert classes[str(lab)]["metrics"]["dice"] == pytest.approx(dice(shifted, gt, lab))


def test_binary_mask_saved_as_255_is_warned_but_good_or_partial_predictions_are_not(tmp_path):
    pred, gt = organs()
    binary = (gt > 0).astype(np.uint8)
    np.save(tmp_path / "g.npy", binary)
    np.save(tmp_path / "p255.npy", ((pred > 0) * 255).astype(np.uint8))
    (note,) = warnings_of(cli("eval", tmp_path / "p255.npy", tmp_path / "g.npy", "--metrics", "dice"))
    assert "GT label +254" in note
    np.save(tmp_path / "g5.npy", gt)
    np.save(tmp_path / "good.npy", pred)  # a fair prediction
    np.save(tmp_path / "part.npy", np.where(pred == 5, 0, pred))  # a worse one, labels a subset of GT's
    np.save(tmp_path / "bad.npy", np.where(pred > 0, 6 - pred, 0).astype(np.uint8))  # labels permuted, not shifted
    for name in ("good", "part", "bad"):
        res = cli("eval", tmp_path / f"{name}.npy", tmp_path / "g5.npy", "--metrics", "dice")
        assert res.exit_code == 0 and warnings_of(res) == [], (name, res.stderr)


def test_labels_0_without_include_background_is_warned(tmp_path):
    pred, gt = organs()
    np.save(tmp_path / "p.npy", pred)
    np.save(tmp_path / "g.npy", gt)
    res = cli("eval", tmp_path / "p.npy", tmp_path / "g.npy", "--metrics", "dice", "--labels", "0,1", "-f", "json")
    (note,) = warnings_of(res)
    assert "--labels lists 0" in note and "--include-background" in note
    assert list(json.loads(res.stdout)["cases"][0]["classes"]) == ["1"]
    ok = cli("eval", tmp_path / "p.npy", tmp_path / "g.npy", "--labels", "0,1", "--include-background", "-m", "dice")
    assert warnings_of(ok) == []
    probs = np.moveaxis(np.eye(6, dtype=np.float32)[pred], -1, 0)  # a score map gets the warning too
    np.save(tmp_path / "probs.npy", probs)
    res = cli(
        "eval", tmp_path / "probs.npy", tmp_path / "g.npy", "--metrics", "dice", "--labels", "0", "--losses", "none"
    )
    assert any("--labels lists 0" in n for n in warnings_of(res))
    with_api = segloss.score(pred, gt, labels=[0, 2], metrics="dice")
    assert any("include_background" in n for n in with_api.notes)
