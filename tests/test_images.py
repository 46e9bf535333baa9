"""2-D images: PNG/TIFF masks, palettes and colour masks, pixel units, dataset-level (pooled) metrics."""

from __future__ import annotations

import json

import numpy as np
import pytest
from PIL import Image
from typer.testing import CliRunner

import segloss
from segloss_cli.cli import app
from segloss_cli.errors import InputError
from segloss_cli.io.images import ALPHA_NOTE
from segloss_cli.io.palette import (
    colors_to_labels,
    labels_to_colors,
    load_palette,
    mask_to_onehot,
    onehot_to_mask,
    preset,
    voc_colormap,
)
from segloss_cli.io.readers import read_volume

runner = CliRunner()
VOC = voc_colormap()


def cli(*args):
    res = runner.invoke(app, [str(a) for a in args])
    return res


def save_p(path, labels):
    img = Image.fromarray(labels.astype(np.uint8), mode="P")
    img.putpalette(VOC.reshape(-1).tolist())
    img.save(path)
    return path


def voc_like(rng, n=6, shape=(48, 64), k=21):
    """VOC-style pairs: blobs of random classes, a 255 boundary band around each object in GT."""
    cases = []
    for _ in range(n):
        gt = np.zeros(shape, np.uint8)
        for _ in range(4):
            c = int(rng.integers(1, k))
            y, x = rng.integers(0, shape[0] - 12), rng.integers(0, shape[1] - 16)
            gt[y - 1 : y + 13, x - 1 : x + 17] = 255
            gt[y : y + 12, x : x + 16] = c
        pred = gt.copy()
        pred[pred == 255] = 0
        noise = rng.random(shape) < 0.08
        pred[noise] = rng.integers(0, k, size=int(noise.sum()))
        pred = np.roll(pred, int(rng.integers(-2, 3)), axis=1)
        cases.append((pred, gt))
    return cases


def write_folder(tmp_path, cases, *, rgb=False):
    pdir, gdir = tmp_path / "pred", tmp_path / "gt"
    pdir.mkdir(parents=True, exist_ok=True)
    gdir.mkdir(parents=True, exist_ok=True)
    for i, (pred, gt) in enumerate(cases):
        if rgb:
            Image.fromarray(VOC[pred]).save(pdir / f"img_{i:03d}.png")
        else:
            save_p(pdir / f"img_{i:03d}.png", pred)
        save_p(gdir / f"img_{i:03d}.png", gt)
    return pdir, gdir


def confusion_oracle(cases, k, ignore=255):
    """A plain numpy K x K confusion matrix over every valid pixel of every image."""
    cm = np.zeros((k, k), np.int64)
    for pred, gt in cases:
        keep = gt != ignore
        np.add.at(cm, (gt[keep].astype(np.int64), pred[keep].astype(np.int64)), 1)
    return cm


# ------------------------------------------------------------------ reading


@pytest.mark.parametrize("mode", ["P", "L", "I;16", "1"])
def test_png_modes_read_their_values(tmp_path, mode):
    labels = (np.arange(24).reshape(4, 6) % (2 if mode == "1" else 7)).astype(np.uint8)
    if mode == "P":
        save_p(tmp_path / "m.png", labels)
    elif mode == "I;16":
        Image.fromarray(labels.astype(np.uint16) * 1000).save(tmp_path / "m.png")
        labels = labels.astype(np.uint16) * 1000
    elif mode == "1":
        Image.fromarray(labels.astype(bool)).save(tmp_path / "m.png")
    else:
        Image.fromarray(labels, mode="L").save(tmp_path / "m.png")
    vol = read_volume(tmp_path / "m.png")
    np.testing.assert_array_equal(vol.array.astype(np.int64), labels.astype(np.int64))
    assert vol.spacing_mm is None and vol.spacing_source == "pixel"


def test_rgb_png_needs_a_palette_and_reads_like_the_index_png(tmp_path):
    labels = np.array([[0, 1, 15], [255, 20, 1]], np.uint8)
    Image.fromarray(VOC[labels]).save(tmp_path / "rgb.png")
    Image.fromarray(np.dstack([VOC[labels], np.full(labels.shape, 7, np.uint8)])).save(tmp_path / "rgba.png")
    with pytest.raises(InputError, match=r"colour mask\); pass palette"):
        read_volume(tmp_path / "rgb.png")
    pal = preset("voc")
    for name in ("rgb.png", "rgba.png"):  # alpha is ignored
        np.testing.assert_array_equal(read_volume(tmp_path / name, palette=pal).array, labels)


def test_unknown_colour_is_named_with_its_pixel_count(tmp_path):
    rgb = VOC[np.zeros((3, 4), np.uint8)].copy()
    rgb[0, :3] = (1, 2, 3)
    Image.fromarray(rgb).save(tmp_path / "m.png")
    with pytest.raises(InputError, match=r"colour \(1, 2, 3\) in 3 pixels is not in the palette \(voc, 22 colours\);"):
        read_volume(tmp_path / "m.png", palette=preset("voc"))
    rgb[1, 1] = (4, 5, 6)
    Image.fromarray(rgb).save(tmp_path / "m.png")
    with pytest.raises(
        InputError, match=r"in 3 pixels is not in the palette \(voc, 22 colours; 1 other unknown colour\);"
    ):
        read_volume(tmp_path / "m.png", palette=preset("voc"))


def test_tiff_arrays_and_rgb_tiff(tmp_path):
    import tifffile

    labels = np.arange(30, dtype=np.uint16).reshape(5, 6) % 4
    tifffile.imwrite(tmp_path / "m.tif", labels)
    np.testing.assert_array_equal(read_volume(tmp_path / "m.tif").array, labels)
    tifffile.imwrite(tmp_path / "rgb.tif", VOC[labels.astype(np.uint8)], photometric="rgb")
    np.testing.assert_array_equal(read_volume(tmp_path / "rgb.tif", palette=preset("voc")).array, labels)
    with pytest.raises(InputError, match="colour mask"):
        read_volume(tmp_path / "rgb.tif")


def test_jpeg_is_refused_with_the_reason(tmp_path):
    Image.fromarray(np.zeros((4, 4), np.uint8)).save(tmp_path / "m.jpg")
    with pytest.raises(InputError, match="lossy compression"):
        read_volume(tmp_path / "m.jpg")


def _png_chunk(kind: bytes, body: bytes) -> bytes:
    import struct
    import zlib

    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))


def _png_bytes(img, filters, *, colour=0, depth=8, interlace=0, extra=(), compress=None):
    """A PNG written from the spec (section 9.2): each row filtered with ``filters[row % n]``,
    so every filter type occurs (Pillow's own encoder picks them itself)."""
    import struct
    import zlib

    h, w = img.shape
    x = img.astype(np.int64)
    rows = []
    for r in range(h):
        up = x[r - 1] if r else np.zeros(w, np.int64)
        left = np.concatenate([[0], x[r, :-1]])
        upleft = np.concatenate([[0], up[:-1]])
        p = left + up - upleft
        pa, pb, pc = abs(p - left), abs(p - up), abs(p - upleft)
        paeth = np.where((pa <= pb) & (pa <= pc), left, np.where(pb <= pc, up, upleft))
        f = int(filters[r % len(filters)])
        predicted = [np.zeros(w, np.int64), left, up, (left + up) // 2, paeth][f]
        rows.append(bytes([f]) + ((x[r] - predicted) % 256).astype(np.uint8).tobytes())
    stream = (compress or zlib.compress)(b"".join(rows))
    head = _png_chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, depth, colour, 0, 0, interlace))
    plte = _png_chunk(b"PLTE", bytes(range(256)) * 3) if colour == 3 else b""
    body = b"".join(_png_chunk(k, b) for k, b in extra)
    return b"\x89PNG\r\n\x1a\n" + head + plte + body + _png_chunk(b"IDAT", stream) + _png_chunk(b"IEND", b"")


def test_png_fast_path_gives_pillows_array_for_every_filter(tmp_path, rng):
    """io/png.py decodes 8-bit greyscale and palette PNGs itself: the array is the one encoded
    and the one Pillow gives (values, dtype, read-only), for all five filter types."""
    import io

    from segloss_cli.io.png import decode_png

    for trial in range(40):
        h, w = (int(v) for v in rng.integers(1, 30, 2))
        if trial % 2:
            img = rng.integers(0, 256, (h, w)).astype(np.uint8)  # noise: every Paeth branch
        else:
            img = np.repeat(rng.integers(0, 5, (h, 1)) * 50, w, axis=1).astype(np.uint8)  # runs
            img[:, w // 2 :] = 7
        filters = rng.integers(0, 5, int(rng.integers(1, 6)))
        data = _png_bytes(img, filters, colour=3 if trial % 3 == 0 else 0)
        got = decode_png(data, None)
        want = np.asarray(Image.open(io.BytesIO(data)))
        assert got is not None and got.dtype == want.dtype == np.uint8 and not got.flags.writeable
        np.testing.assert_array_equal(got, img)
        np.testing.assert_array_equal(want, img)
    (tmp_path / "m.png").write_bytes(_png_bytes(img, [4, 1, 3]))
    np.testing.assert_array_equal(read_volume(tmp_path / "m.png").array, img)


def test_png_fast_path_leaves_other_files_to_pillow(tmp_path, rng):
    """Anything but a sound 8-bit greyscale/palette PNG goes to Pillow: same arrays, same errors."""
    import zlib

    from segloss_cli.io.png import decode_png

    img = rng.integers(0, 9, (6, 7)).astype(np.uint8)
    good = _png_bytes(img, [0, 1, 2, 3, 4])
    assert decode_png(good, None) is not None
    assert decode_png(good, 41) is None  # over the pixel limit: Pillow warns or refuses
    bad_crc = bytearray(good)
    bad_crc[-20] ^= 1  # inside the IDAT's CRC
    declined = {
        "crc": bytes(bad_crc),
        "truncated": good[:-30],
        "interlaced": _png_bytes(img, [0], interlace=1),
        "16-bit": _png_bytes(img, [0], depth=16),
        "grey+alpha": _png_bytes(img, [0], colour=4),
        "animated": _png_bytes(img, [0], extra=[(b"acTL", b"\0\0\0\1\0\0\0\0")]),
        "short stream": _png_bytes(img, [0], compress=lambda b: zlib.compress(b[:-1])),
    }
    rows = b"".join(b"\x05" + row.tobytes() for row in img)
    declined["filter type 5"] = good[: good.index(b"IDAT") - 4] + _png_chunk(b"IDAT", zlib.compress(rows))
    declined["filter type 5"] += _png_chunk(b"IEND", b"")
    assert len(rows) == img.size + img.shape[0]  # the right length: only the filter byte is wrong
    for name, data in declined.items():
        assert decode_png(data, None) is None, name
    (tmp_path / "t.png").write_bytes(declined["truncated"])
    with pytest.raises(InputError, match="not a readable PNG"):
        read_volume(tmp_path / "t.png")
    sixteen = (img.astype(np.uint16) * 1000).astype(np.uint16)
    Image.fromarray(sixteen).save(tmp_path / "s.png")  # Pillow's path, as before
    np.testing.assert_array_equal(read_volume(tmp_path / "s.png").array, sixteen)


def test_palette_files_json_csv_and_their_errors(tmp_path):
    (tmp_path / "p.json").write_text(json.dumps({"0": [0, 0, 0], "1": {"color": [255, 0, 0], "name": "lesion"}}))
    (tmp_path / "p.csv").write_text("label,r,g,b,name\n0,0,0,0,bg\n1,255,0,0,lesion\n")
    (tmp_path / "bare.csv").write_text("0,0,0,0\n1,255,0,0\n")
    for name in ("p.json", "p.csv", "bare.csv"):
        pal = load_palette(tmp_path / name)
        assert dict(pal.colors) == {0: (0, 0, 0), 1: (255, 0, 0)}
    assert load_palette(tmp_path / "p.csv").names == {0: "bg", 1: "lesion"}
    bad = {
        "dup.json": json.dumps({"0": [1, 2, 3], "1": [1, 2, 3]}),
        "range.json": json.dumps({"0": [0, 0, 300]}),
        "short.csv": "0,1,2\n",
        "broken.json": '{"0": [0, 0',
    }
    for name, text in bad.items():
        (tmp_path / name).write_text(text)
        with pytest.raises(InputError):
            load_palette(tmp_path / name)
    with pytest.raises(InputError, match=r"or a preset \(voc, cityscapes\)"):
        load_palette("pascal")


def test_palette_api_round_trips():
    pal = preset("cityscapes")
    labels = np.array([[0, 1, 18], [255, 13, 0]])
    rgb = labels_to_colors(labels, pal)
    assert tuple(rgb[0, 0]) == (128, 64, 128) and tuple(rgb[1, 0]) == (0, 0, 0)
    np.testing.assert_array_equal(colors_to_labels(rgb, pal), labels)
    onehot = mask_to_onehot(rgb, pal)
    assert onehot.shape == (2, 3, 20) and onehot.sum() == 6
    np.testing.assert_array_equal(onehot_to_mask(onehot, pal), rgb)


# ------------------------------------------------------------------ dataset-level (pooled) metrics


def test_pooled_voc_folder_equals_a_numpy_confusion_matrix(tmp_path, rng):
    k = 21
    cases = voc_like(rng)
    pdir, gdir = write_folder(tmp_path, cases)
    res = cli(
        "eval",
        pdir,
        gdir,
        "--ignore-label",
        "255",
        "--include-background",
        "--labels",
        f"0-{k - 1}",
        "--metrics",
        "iou,dice,recall,accuracy",
        "--format",
        "json",
        "--jobs",
        "2",
    )
    assert res.exit_code == 0, res.output
    pooled = json.loads(res.stdout)["summary"]["pooled"]
    cm = confusion_oracle(cases, k)
    tp = np.diag(cm).astype(float)
    fp, fn = cm.sum(axis=0) - tp, cm.sum(axis=1) - tp
    present = (tp + fp + fn) > 0
    iou = np.where(present, tp / np.where(present, tp + fp + fn, 1), np.nan)
    acc = np.where(cm.sum(axis=1) > 0, tp / np.maximum(cm.sum(axis=1), 1), np.nan)
    for c in range(k):
        row = pooled["classes"][str(c)]
        assert row["counts"]["tp"] == tp[c] and row["counts"]["fp"] == fp[c] and row["counts"]["fn"] == fn[c]
        assert row["counts"]["tn"] == cm.sum() - tp[c] - fp[c] - fn[c]
        if present[c]:
            assert row["metrics"]["iou"] == iou[c]
    assert pooled["mIoU"] == pytest.approx(np.nanmean(iou), rel=1e-15, abs=0)
    assert pooled["aAcc"] == pytest.approx(tp.sum() / cm.sum(), rel=1e-15, abs=0)
    assert pooled["mAcc"] == pytest.approx(np.nanmean(acc), rel=1e-15, abs=0)
    assert pooled["n_cases"] == len(cases)


def _oracle_means(cm, rule):
    """mIoU, aAcc, mAcc, mDice, mFscore of a confusion matrix, averaged over classes as
    mmsegmentation (nanmean of defined values) or torchmetrics' macro average (classes with
    TP + FP + FN > 0, a 0/0 counted as 0) does -- written from their definitions."""
    out = {"aAcc": np.trace(cm) / cm.sum()}
    per_class = {"mIoU": [], "mAcc": [], "mDice": [], "mFscore": []}
    for c in range(cm.shape[0]):
        tp, fp, fn = int(cm[c, c]), int(cm[:, c].sum() - cm[c, c]), int(cm[c, :].sum() - cm[c, c])
        if tp + fp + fn == 0:
            continue  # in no PRED and no GT: left out by both
        recall = tp / (tp + fn) if tp + fn else None
        precision = tp / (tp + fp) if tp + fp else None
        dice = 2 * tp / (2 * tp + fp + fn)
        if rule == "mmseg":
            f = (
                None
                if recall is None or precision is None or precision + recall == 0
                else 2 * precision * recall / (precision + recall)
            )
            values = {"mIoU": tp / (tp + fp + fn), "mAcc": recall, "mDice": dice, "mFscore": f}
        else:
            values = {"mIoU": tp / (tp + fp + fn), "mAcc": recall or 0.0, "mDice": dice, "mFscore": dice}
        for key, v in values.items():
            if v is not None:
                per_class[key].append(v)
    out.update({key: sum(v) / len(v) for key, v in per_class.items()})
    return out


@pytest.mark.parametrize("rule", ["mmseg", "torchmetrics"])
def test_pooled_means_both_rules_equal_their_oracle(tmp_path, rng, rule):
    k = 21
    cases = voc_like(rng, n=4)
    for pred, gt in cases:  # classes 18 and 19 nowhere, then placed by hand
        pred[(pred == 18) | (pred == 19)] = 0
        gt[(gt == 18) | (gt == 19)] = 0
    cases[0][0][0:3, 0:3] = 19  # predicted, in no GT
    cases[1][1][20:26, 30:40] = 18  # in GT, never predicted
    pdir, gdir = write_folder(tmp_path, cases)
    args = ["--ignore-label", "255", "--include-background", "--metrics", "iou", "--format", "json"]
    res = cli("eval", pdir, gdir, *args, "--pooled-means", rule)
    assert res.exit_code == 0, res.output
    doc = json.loads(res.stdout)
    want = _oracle_means(confusion_oracle(cases, k), rule)
    for key, value in want.items():
        assert doc["summary"]["pooled"][key] == pytest.approx(value, rel=1e-15, abs=0), key
    assert doc["settings"].get("pooled_means") == (None if rule == "mmseg" else "torchmetrics")
    table = cli("eval", pdir, gdir, *args[:-2], "--aggregate", "pooled", "--pooled-means", rule).stdout
    assert ("dataset (pooled): " if rule == "mmseg" else "dataset (pooled, torchmetrics means): ") in table
    if rule == "torchmetrics":  # the preset sets the same; the rules differ here only in mAcc and mFscore
        preset = json.loads(cli("eval", pdir, gdir, *args, "--convention", "torchmetrics").stdout)
        assert preset["summary"]["pooled"] == doc["summary"]["pooled"]
        assert preset["settings"]["convention"]["settings"] == {"pooled_means": "torchmetrics"}
        other = _oracle_means(confusion_oracle(cases, k), "mmseg")
        assert [key for key in want if want[key] != pytest.approx(other[key], rel=1e-12)] == ["mAcc", "mFscore"]


def test_rgb_masks_with_a_palette_give_the_index_pngs_numbers(tmp_path, rng):
    cases = voc_like(rng, n=3)
    pdir, gdir = write_folder(tmp_path / "idx", cases)
    rdir, _ = write_folder(tmp_path / "rgb", cases, rgb=True)
    common = ("--ignore-label", "255", "--metrics", "dice,iou,hd95", "--format", "json")
    a = cli("eval", pdir, gdir, *common)
    b = cli("eval", rdir, gdir, *common, "--palette", "voc")
    assert a.exit_code == 0 and b.exit_code == 0, b.output
    da, db = json.loads(a.stdout), json.loads(b.stdout)

    def numbers(doc):  # the palette also names the classes: compare everything but names
        rows = [(c["case"], lab, r["status"], r["metrics"]) for c in doc["cases"] for lab, r in c["classes"].items()]
        pooled = {lab: (r["counts"], r["metrics"]) for lab, r in doc["summary"]["pooled"]["classes"].items()}
        return rows, pooled, doc["summary"]["pooled"]["mIoU"]

    assert numbers(da) == numbers(db)
    assert db["cases"][0]["classes"]["1"]["name"] == "aeroplane"
    assert da["settings"]["distance_unit"] == "pixel"


def test_pixel_units_and_undefined_volumes(tmp_path):
    gt = np.zeros((20, 30), np.uint8)
    gt[5:15, 5:15] = 1
    save_p(tmp_path / "g.png", gt)
    save_p(tmp_path / "p.png", np.roll(gt, 3, axis=1))
    res = cli("eval", tmp_path / "p.png", tmp_path / "g.png", "--format", "json", "--metrics", "hd,vol_gt_ml")
    doc = json.loads(res.stdout)
    assert doc["settings"]["distance_unit"] == "pixel" and doc["cases"][0]["spacing"] is None
    assert doc["cases"][0]["classes"]["1"]["metrics"] == {"hd": 3.0, "vol_gt_ml": None}
    table = cli("eval", tmp_path / "p.png", tmp_path / "g.png", "--metrics", "hd95")
    assert "hd95 (pixel)" in table.stdout
    mm = cli("eval", tmp_path / "p.png", tmp_path / "g.png", "--format", "json", "--metrics", "hd", "--spacing", "0.5")
    assert json.loads(mm.stdout)["cases"][0]["classes"]["1"]["metrics"]["hd"] == 1.5


def test_pooled_gate_and_table(tmp_path, rng):
    cases = voc_like(rng, n=3)
    pdir, gdir = write_folder(tmp_path, cases)
    base = ("eval", pdir, gdir, "--ignore-label", "255", "--metrics", "iou", "--palette", "voc")
    doc = json.loads(cli(*base, "--format", "json").stdout)
    miou = doc["summary"]["pooled"]["mIoU"]
    assert cli(*base, "--require", f"pooled.mIoU>={miou - 1e-9}").exit_code == 0
    failed = cli(*base, "--require", f"pooled.miou>={miou + 1e-9}")
    assert failed.exit_code == 1 and "pooled.mIoU" in failed.stderr and "(dataset)" in failed.stderr
    some = next(iter(doc["summary"]["pooled"]["classes"]))
    value = doc["summary"]["pooled"]["classes"][some]["metrics"]["iou"]
    assert cli(*base, "--require", f"pooled.iou[{some}]>{value}").exit_code == 1
    bad = cli(*base, "--require", "pooled.hd95<=3")
    assert bad.exit_code == 2 and "not computed" in bad.stderr
    table = cli(*base, "--aggregate", "pooled").stdout
    assert "pooled over 3 cases" in table and "mIoU" in table and "mean ± std" not in table
    assert "summary of 3 cases" in cli(*base, "--aggregate", "both").stdout


def test_summary_csv_has_the_pooled_rows(tmp_path, rng):
    pdir, gdir = write_folder(tmp_path, voc_like(rng, n=2))
    out = tmp_path / "s.csv"
    assert (
        cli("eval", pdir, gdir, "--ignore-label", "255", "--metrics", "iou", "--summary-csv", out, "-q").exit_code == 0
    )
    rows = [line.split(",") for line in out.read_text().splitlines()]
    pooled = [r for r in rows if r[2] == "pooled"]
    assert {r[3] for r in pooled} >= {"iou", "aAcc", "mIoU", "mAcc", "mDice", "mFscore"}
    assert all(r[11] == "2" for r in pooled)


def test_the_255_hint_and_bad_image_inputs(tmp_path):
    gt = np.zeros((8, 8), np.uint8)
    gt[2:6, 2:6] = 1
    gt[1, :] = 255
    save_p(tmp_path / "g.png", gt)
    save_p(tmp_path / "p.png", np.where(gt == 255, 0, gt))
    res = cli("eval", tmp_path / "p.png", tmp_path / "g.png", "--metrics", "dice")
    assert res.exit_code == 0 and "pass --ignore-label 255" in res.stderr
    assert (
        "pass --ignore-label" not in cli("eval", tmp_path / "p.png", tmp_path / "g.png", "--ignore-label", "255").stderr
    )
    Image.fromarray(VOC[np.where(gt == 255, 0, gt)]).save(tmp_path / "rgb.png")
    Image.fromarray(np.zeros((8, 8), np.uint8)).save(tmp_path / "p.jpg")
    (tmp_path / "bad.json").write_text("[1, 2]")
    probs = np.stack([np.full(gt.shape, 0.5, np.float32)] * 2)
    np.save(tmp_path / "probs.npy", probs)
    cases = [
        ((tmp_path / "rgb.png", tmp_path / "g.png"), "pass --palette"),
        ((tmp_path / "p.jpg", tmp_path / "g.png"), "lossy"),
        (
            (tmp_path / "rgb.png", tmp_path / "g.png", "--palette", tmp_path / "bad.json"),
            "palette JSON must be an object",
        ),
        ((tmp_path / "probs.npy", tmp_path / "g.png"), "if 255 marks void pixels, pass --ignore-label 255"),
    ]
    for args, expected in cases:
        out = tmp_path / "never.json"
        res = cli("eval", *args, "--json", out)
        lines = [line for line in res.stderr.splitlines() if line.strip()]
        assert res.exit_code == 2 and expected in res.stderr and len(lines) == 1, res.stderr
        assert not out.exists()


def test_api_palette_and_pooled():
    gt = np.array([[0, 1, 1, 2], [0, 1, 2, 2]], np.uint8)
    rgb = labels_to_colors(np.array([[0, 1, 1, 1], [0, 1, 2, 2]]), preset("voc"))
    res = segloss.run(rgb, gt, palette="voc", metrics="iou")
    assert [r.name for r in res.cases[0].classes] == ["aeroplane", "bicycle"]
    pooled = res.summary.pooled
    assert pooled.by_label()[1].metrics["iou"] == 3 / 4 and pooled.dataset["mIoU"] == pytest.approx((3 / 4 + 2 / 3) / 2)


def test_a_transparent_alpha_channel_gets_a_note_and_changes_no_number(tmp_path):
    gt = np.zeros((8, 8), np.uint8)
    gt[2:6, 2:6] = 1
    save_p(tmp_path / "g.png", gt)
    rgba = np.concatenate([VOC[gt], np.full((8, 8, 1), 255, np.uint8)], axis=-1)
    Image.fromarray(rgba, mode="RGBA").save(tmp_path / "opaque.png")
    rgba[0, 0, 3] = 0
    Image.fromarray(rgba, mode="RGBA").save(tmp_path / "rgba.png")
    la = np.stack([gt, np.full(gt.shape, 255, np.uint8)], axis=-1)
    la[3, 3, 1] = 10
    Image.fromarray(la, mode="LA").save(tmp_path / "la.png")
    opaque = segloss.run(tmp_path / "opaque.png", tmp_path / "g.png", metrics="dice", palette="voc")
    assert not any("alpha" in n for n in opaque.cases[0].notes)
    for pred, extra in (("rgba.png", {"palette": "voc"}), ("la.png", {})):
        res = segloss.run(tmp_path / pred, tmp_path / "g.png", metrics="dice", **extra)
        assert [n for n in res.cases[0].notes if "alpha" in n] == [ALPHA_NOTE], pred
        assert res.cases[0].row(1).metrics["dice"] == 1.0  # alpha ignored: the labels as stored
    res = cli("eval", tmp_path / "la.png", tmp_path / "la.png", "--metrics", "dice")
    assert res.exit_code == 0 and res.stderr.count("alpha channel is transparent") == 1, res.stderr


def test_cityscapes_city_folders_pair_by_file_name_with_recursive(tmp_path, rng):
    cases = voc_like(rng, n=4, k=19)
    cities = ["aachen", "aachen", "bremen", "zurich"]
    flat_p, flat_g = tmp_path / "flat_pred", tmp_path / "flat_gt"
    for i, ((pred, gt), city) in enumerate(zip(cases, cities)):
        stem = f"{city}_{i:06d}_000019"
        for folder, arr, name in (
            (tmp_path / "pred" / city, pred, f"{stem}_leftImg8bit.png"),
            (tmp_path / "gtFine" / "val" / city, gt, f"{stem}_gtFine_labelTrainIds.png"),
            (flat_p, pred, f"{stem}.png"),
            (flat_g, gt, f"{stem}.png"),
        ):
            folder.mkdir(parents=True, exist_ok=True)
            save_p(folder / name, arr)
    (tmp_path / "gtFine" / "val" / ".cache").mkdir()  # hidden: skipped
    save_p(tmp_path / "gtFine" / "val" / ".cache" / "x_gtFine_labelTrainIds.png", cases[0][1])
    common = ["--ignore-label", "255", "--metrics", "iou", "--format", "json"]
    suffixes = ["--pred-suffix", "_leftImg8bit", "--gt-suffix", "_gtFine_labelTrainIds"]
    want = json.loads(cli("eval", flat_p, flat_g, *common).stdout)
    for pred_dir in (tmp_path / "pred", flat_p):  # nested or flat predictions
        extra = suffixes if pred_dir != flat_p else suffixes[2:]
        res = cli("eval", pred_dir, tmp_path / "gtFine" / "val", "--recursive", *common, *extra)
        assert res.exit_code == 0, res.output
        got = json.loads(res.stdout)
        assert [c["case"] for c in got["cases"]] == [c["case"] for c in want["cases"]]
        assert [c["classes"] for c in got["cases"]] == [c["classes"] for c in want["cases"]]
        assert got["summary"]["pooled"] == want["summary"]["pooled"]
    # without --recursive the city folders are taken for mask cases: the error says what to do
    res = cli("eval", flat_p, tmp_path / "gtFine" / "val", *common)
    assert res.exit_code == 2 and "pass --recursive" in res.stderr, res.stderr
    # one file name in two cities is a duplicate id, listed with its folders
    save_p(tmp_path / "gtFine" / "val" / "zurich" / "aachen_000000_000019_gtFine_labelTrainIds.png", cases[0][1])
    res = cli("eval", tmp_path / "pred", tmp_path / "gtFine" / "val", "--recursive", *common, *suffixes)
    assert res.exit_code == 2 and "zurich/aachen_000000_000019_gtFine_labelTrainIds.png" in res.stderr
    res = cli("eval", flat_p / "aachen_000000_000019.png", flat_g / "aachen_000000_000019.png", "--recursive")
    assert res.exit_code == 2 and "--recursive applies to folders" in res.stderr
    # rank pairs the same way: a flat prediction folder against the nested GT, twice
    (tmp_path / "gtFine" / "val" / "zurich" / "aachen_000000_000019_gtFine_labelTrainIds.png").unlink()
    res = cli("rank", tmp_path / "gtFine" / "val", flat_p, flat_p, "--recursive", "--gt-suffix",
              "_gtFine_labelTrainIds", "--ignore-label", "255", "--metrics", "iou", "-q", "--format", "json",
              "--name", "a", "--name", "b")  # fmt: skip
    assert res.exit_code == 0, res.output
    assert json.loads(res.stdout)["n_cases"] == len(cases)
