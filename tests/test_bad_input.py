"""Issue 6: every catalogue row of bad input gives exit 2, one line naming the file and the fix,
no traceback, and no output file (an existing output is left untouched).

Each test writes a real bad file to tmp_path and runs the real CLI (`segloss eval`) through
typer's CliRunner; a few run `python -m segloss_cli` in a subprocess to prove the same holds for
the installed entry point (exit code, no traceback, signals).
"""

from __future__ import annotations

import gzip
import json
import os
import shutil
import signal
import subprocess
import sys
import time
import zipfile
from fractions import Fraction
from pathlib import Path

import nibabel as nib
import numpy as np
import pytest
from typer.testing import CliRunner

from segloss_cli.cli import app
from segloss_cli.errors import InputError
from tests.conftest import sigint_default

SHAPE = (6, 7, 5)
SPACING = (1.5, 1.5, 2.0)
SENTINEL = '{"old": "result from an earlier run"}\n'


def affine(spacing=SPACING, origin=(-10.0, 20.0, 5.0), flip_x=False):
    a = np.diag([*spacing, 1.0])
    a[:3, 3] = origin
    if flip_x:
        a[0, 0] = -a[0, 0]
    return a


def labels(shape=SHAPE, seed=0, k=3):
    return np.random.default_rng(seed).integers(0, k, size=shape).astype(np.uint8)


def save_nii(path, arr, aff=None):
    nib.save(nib.Nifti1Image(arr, affine() if aff is None else aff), str(path))
    return Path(path)


@pytest.fixture
def gt(tmp_path):
    return save_nii(tmp_path / "gt.nii.gz", labels())


@pytest.fixture
def pred(tmp_path):
    return save_nii(tmp_path / "pred.nii.gz", labels(seed=1))


def run(*args):
    return CliRunner().invoke(app, [str(a) for a in args])


def assert_fails(tmp_path, pred, gt, *extra, names, fix, code=2):
    """Run `segloss eval`, expect failure; the message names ``names`` and contains ``fix``.

    --json points to an existing file (must be left untouched), --csv to a new path (must not
    appear); no temporary file may remain in the output folder.
    """
    out = tmp_path / "out"
    out.mkdir(exist_ok=True)
    old_json = out / "scores.json"
    old_json.write_text(SENTINEL)
    new_csv = out / "scores.csv"
    result = run("eval", pred, gt, "--json", old_json, "--csv", new_csv, *extra)
    err = result.stderr
    assert result.exit_code == code, (result.exit_code, err, result.stdout)
    assert "Traceback" not in err and "Traceback" not in result.stdout
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    line = lines[0]
    assert line.startswith("segloss: error: "), line
    assert str(names) in line, line
    assert fix in line, line
    assert old_json.read_text() == SENTINEL
    assert not new_csv.exists()
    assert sorted(p.name for p in out.iterdir()) == ["scores.json"]
    return line


# --------------------------------------------------------------------------- geometry


def test_shape_mismatch(tmp_path, gt):
    p = save_nii(tmp_path / "p.nii.gz", labels(shape=(6, 7, 4)))
    line = assert_fails(tmp_path, p, gt, names=p, fix="resample the prediction onto the ground-truth grid")
    assert "(6, 7, 4)" in line and "(6, 7, 5)" in line


def test_broadcastable_shape_is_an_error_never_broadcast(tmp_path):
    g = tmp_path / "gt.npy"
    np.save(g, labels(shape=(4, 6, 7)))
    p = tmp_path / "p.npy"
    np.save(p, labels(shape=(1, 6, 7)))
    line = assert_fails(tmp_path, p, g, names=p, fix="never broadcasts")
    assert "(1, 6, 7)" in line and "(4, 6, 7)" in line


def test_2d_vs_3d(tmp_path):
    g = tmp_path / "gt.npy"
    np.save(g, labels(shape=(6, 7)))
    p = tmp_path / "p.npy"
    np.save(p, labels(shape=(3, 6, 7)))
    line = assert_fails(tmp_path, p, g, names=p, fix="save both as 2-D or both as 3-D")
    assert "3-D" in line and "2-D" in line


def test_spacing_mismatch(tmp_path, gt):
    p = save_nii(tmp_path / "p.nii.gz", labels(seed=1), affine(spacing=(1.5, 1.5, 2.5)))
    line = assert_fails(tmp_path, p, gt, names=p, fix="resample the prediction onto the ground-truth grid")
    assert "spacing mismatch" in line and "2.5" in line


def test_las_vs_ras_same_shape(tmp_path, gt):
    p = save_nii(tmp_path / "p.nii.gz", labels(seed=1), affine(flip_x=True))
    line = assert_fails(tmp_path, p, gt, names=p, fix="reorient the prediction")
    assert "LAS" in line and "RAS" in line


def test_origin_shift_beyond_tolerance(tmp_path, gt):
    p = save_nii(tmp_path / "p.nii.gz", labels(seed=1), affine(origin=(-10.0, 20.0, 5.5)))
    line = assert_fails(tmp_path, p, gt, names=p, fix="not on the same grid")
    assert "origin mismatch" in line and "0.5" in line


def test_affines_equal_up_to_float_rounding_are_accepted(tmp_path, gt):
    # float32 rounding of an origin like 123.456 is ~1e-5 mm: the same grid.
    a = affine(origin=(-10.0 + 3e-6, 20.0 - 2e-6, 5.0 + 1e-6))
    p = save_nii(tmp_path / "p.nii.gz", labels(seed=1), a)
    out = tmp_path / "s.json"
    result = run("eval", p, gt, "--json", out, "--metrics", "dice")
    assert result.exit_code == 0, result.stderr
    assert json.loads(out.read_text())["cases"][0]["classes"]["1"]["metrics"]["dice"] is not None


# --------------------------------------------------------------------------- label values


def test_non_integer_label_map(tmp_path, gt):
    # A label map resampled with linear interpolation: fractions between labels.
    arr = labels(seed=1).astype(np.float32)
    arr[1, 2, 3] = 1.5
    p = save_nii(tmp_path / "p.nii.gz", arr)
    line = assert_fails(tmp_path, p, gt, names=p, fix="nearest-neighbour interpolation")
    assert "non-integer" in line


def test_non_integer_ground_truth_says_gt_must_be_labels(tmp_path, pred):
    arr = labels().astype(np.float32) * 0.5
    g = save_nii(tmp_path / "g.nii.gz", arr)
    assert_fails(tmp_path, pred, g, names=g, fix="PRED comes first, GT second")


def test_negative_labels(tmp_path, gt):
    arr = labels(seed=1).astype(np.int16)
    arr[0, 0, 0] = -1
    p = save_nii(tmp_path / "p.nii.gz", arr)
    line = assert_fails(tmp_path, p, gt, names=p, fix="labels must be >= 0")
    assert "min -1" in line


@pytest.mark.parametrize("bad", [np.nan, np.inf])
def test_nan_inf_in_labels(tmp_path, gt, bad):
    arr = labels(seed=1).astype(np.float32)
    arr[2, 2, 2] = bad
    p = save_nii(tmp_path / "p.nii.gz", arr)
    assert_fails(tmp_path, p, gt, names=p, fix="NaN/Inf")


def probs(shape=SHAPE, k=3, seed=2):
    x = np.random.default_rng(seed).random((*shape, k)).astype(np.float32) + 0.1
    return x / x.sum(axis=-1, keepdims=True)


def test_nan_in_probabilities(tmp_path, gt):
    x = probs()
    x[1, 1, 1, 0] = np.nan
    p = save_nii(tmp_path / "p.nii.gz", x)
    line = assert_fails(tmp_path, p, gt, names=p, fix="fix the model output")
    assert "NaN/Inf" in line


def test_probabilities_outside_0_1_suggest_logits(tmp_path, gt):
    x = (probs() - 0.5) * 8
    p = save_nii(tmp_path / "p.nii.gz", x)
    line = assert_fails(tmp_path, p, gt, names=p, fix="--pred-type logits")
    assert "outside [0, 1]" in line


def test_channel_sums_off_one(tmp_path, gt):
    x = probs() * 0.8
    p = save_nii(tmp_path / "p.nii.gz", x)
    line = assert_fails(tmp_path, p, gt, names=p, fix="--renormalize")
    assert "sum to 1" in line


def test_ambiguous_channel_axis(tmp_path):
    g = tmp_path / "gt.npy"
    np.save(g, labels(shape=(3, 3, 3)))
    p = tmp_path / "p.npy"
    np.save(p, probs(shape=(3, 3, 3), k=3))
    assert_fails(tmp_path, p, g, "--spacing", "1", names=p, fix="--channel-axis")


def test_channel_count_not_matching_classes(tmp_path):
    g = save_nii(tmp_path / "g.nii.gz", labels(k=4))  # labels 0..3
    p = save_nii(tmp_path / "p.nii.gz", probs(k=3))  # channels 0..2
    line = assert_fails(tmp_path, p, g, names=g, fix="one channel per label")
    assert "label 3" in line


def test_labels_outside_the_prediction_classes(tmp_path, gt):
    p = save_nii(tmp_path / "p.nii.gz", probs(k=3))
    result = run("eval", p, gt, "--labels", "1,5", "--json", tmp_path / "s.json")
    assert result.exit_code == 2
    assert result.stderr.strip() == "segloss: error: --labels 5 is outside the prediction's 3 classes (0..2)"
    assert not (tmp_path / "s.json").exists()


def test_float_labels_beyond_exact_integers(tmp_path, gt):
    arr = labels(seed=1).astype(np.float32)
    arr[0, 0, 0] = 1e30  # integral as a float, but no integer type holds it exactly
    p = save_nii(tmp_path / "p.nii.gz", arr)
    assert_fails(tmp_path, p, gt, names=p, fix="save label maps as integers")


@pytest.mark.parametrize("value", ["nan", "2", "0", "-0.5"])
def test_threshold_outside_0_1_for_a_sigmoid_map(tmp_path, gt, value):
    p = save_nii(tmp_path / "p.nii.gz", np.full(SHAPE, 0.9, np.float32))
    result = run("eval", p, gt, "--pred-type", "probs", "--threshold", value, "--json", tmp_path / "s.json")
    assert result.exit_code == 2
    assert "must be a probability strictly between 0 and 1" in result.stderr and "Traceback" not in result.stderr
    assert not (tmp_path / "s.json").exists()


@pytest.mark.parametrize(
    "text,expected", [("0-1000000000", "spans more than 65536 labels"), ("1,99999999999999999999", "below 2**63")]
)
def test_labels_option_that_would_exhaust_memory(gt, pred, text, expected):
    result = run("eval", pred, gt, "--labels", text)
    assert result.exit_code == 2 and expected in result.stderr


@pytest.mark.parametrize("which", ["pred", "gt"])
def test_zero_size_dimension(tmp_path, which):
    shape = (4, 0, 5)
    good = tmp_path / "good.npy"
    np.save(good, labels(shape=(4, 3, 5)))
    bad = tmp_path / "bad.npy"
    np.save(bad, np.zeros(shape, np.uint8))
    p, g = (bad, good) if which == "pred" else (good, bad)
    line = assert_fails(tmp_path, p, g, names=bad, fix="the image is empty")
    assert "(4, 0, 5)" in line


def test_invalid_header_spacing(tmp_path, gt):
    # nibabel would silently repair pixdim 0 to 1 mm; segloss refuses (volumes, distances).
    p = save_nii(tmp_path / "p.nii", labels(seed=1))
    raw = bytearray(p.read_bytes())
    with open(p, "rb") as fh:
        hdr = nib.Nifti1Header.from_fileobj(fh)
    hdr["pixdim"][2] = 0.0
    raw[:348] = hdr.binaryblock
    p.write_bytes(bytes(raw))
    line = assert_fails(tmp_path, p, gt, names=p, fix="fix the header")
    assert "axis 2 is zero" in line


# --------------------------------------------------------------------------- broken files


def test_truncated_nii_gz(tmp_path, gt, pred):
    raw = pred.read_bytes()
    p = tmp_path / "cut.nii.gz"
    p.write_bytes(raw[: len(raw) * 2 // 3])
    line = assert_fails(tmp_path, p, gt, names=p, fix="re-export or re-copy it")
    assert "truncated" in line


def test_bit_flip_in_nii_gz_is_caught_by_crc(tmp_path, gt):
    # Stored (uncompressed) deflate blocks: a flipped bit changes one voxel silently unless
    # the gzip CRC is checked. segloss reads to the end of the stream, so it is.
    arr = labels(seed=1)
    raw = nib.Nifti1Image(arr, affine()).to_bytes()
    blob = bytearray(gzip.compress(raw, compresslevel=0))
    blob[len(blob) - 20] ^= 0x01
    p = tmp_path / "flip.nii.gz"
    p.write_bytes(bytes(blob))
    line = assert_fails(tmp_path, p, gt, names=p, fix="re-export or re-copy it")
    assert "CRC" in line


def test_truncated_nii(tmp_path, gt):
    p = save_nii(tmp_path / "p.nii", labels(seed=1))
    raw = p.read_bytes()
    p.write_bytes(raw[:-40])
    line = assert_fails(tmp_path, p, gt, names=p, fix="re-export it")
    assert "truncated" in line


def test_gz_name_on_a_file_that_is_not_gzip(tmp_path, gt):
    p = save_nii(tmp_path / "p.nii", labels(seed=1))
    q = tmp_path / "p.nii.gz"
    shutil.copy(p, q)
    assert_fails(tmp_path, q, gt, names=q, fix="rename it to .nii")


def test_gzip_named_nii(tmp_path, gt, pred):
    q = tmp_path / "p.nii"
    shutil.copy(pred, q)
    assert_fails(tmp_path, q, gt, names=q, fix="rename it to .nii.gz")


WRONG_TYPES = {
    "png": ("scan.nii", b"\x89PNG\r\n\x1a\n" + bytes(500), "PNG image"),
    "text": ("scan.nii", b"patient,label\n1,2\n" * 40, "text file"),
    "dicom": ("scan.nii", bytes(128) + b"DICM" + bytes(500), "DICOM file"),
    "mha": ("scan.mha", b"ObjectType = Image\nNDims = 3\nDimSize = 4 4 4\n", "unsupported file type '.mha'"),
    "bmp-suffix": ("scan.bmp", b"BM" + bytes(500), "unsupported file type '.bmp'"),
}


@pytest.mark.parametrize("kind", sorted(WRONG_TYPES))
def test_wrong_file_type(tmp_path, gt, kind):
    name, content, found = WRONG_TYPES[kind]
    p = tmp_path / name
    p.write_bytes(content)
    line = assert_fails(tmp_path, p, gt, names=p, fix="to NIfTI")
    assert found in line


def test_corrupt_png(tmp_path, gt):
    """PNG is read since 2-D masks are (issue 11): a corrupt one is one line, re-export it."""
    p = tmp_path / "scan.png"
    p.write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(500))
    line = assert_fails(tmp_path, p, gt, names=p, fix="re-export it")
    assert "not a readable PNG" in line and line.count(str(p)) == 1


def test_npy_and_npz_swapped(tmp_path, gt):
    p = tmp_path / "p.npy"
    with open(p, "wb") as fh:
        np.savez(fh, a=labels(seed=1))
    assert_fails(tmp_path, p, gt, names=p, fix="rename it to .npz")


def test_empty_file(tmp_path, gt):
    p = tmp_path / "p.nii.gz"
    p.write_bytes(b"")
    line = assert_fails(tmp_path, p, gt, names=p, fix="re-export it")
    assert "0 bytes" in line


def _huge_nifti_header(shape=(2048, 2048, 2048), dtype=np.float32) -> bytes:
    hdr = nib.Nifti1Header()
    hdr.set_data_shape(shape)
    hdr.set_data_dtype(dtype)
    hdr.set_data_offset(352)
    return hdr.binaryblock + bytes(4) + bytes(200)


def _huge_npy() -> bytes:
    text = "{'descr': '<f8', 'fortran_order': False, 'shape': (40000, 40000, 500), }"
    header = text.ljust(117) + "\n"
    return b"\x93NUMPY\x01\x00" + len(header).to_bytes(2, "little") + header.encode() + bytes(160)


@pytest.mark.parametrize("suffix", [".nii", ".nii.gz", ".npy", ".npz"])
def test_header_declares_a_volume_the_file_cannot_hold(tmp_path, gt, suffix):
    p = tmp_path / f"huge{suffix}"
    if suffix == ".nii":
        p.write_bytes(_huge_nifti_header())
    elif suffix == ".nii.gz":
        p.write_bytes(gzip.compress(_huge_nifti_header()))
    elif suffix == ".npy":
        p.write_bytes(_huge_npy())
    else:
        with zipfile.ZipFile(p, "w", zipfile.ZIP_DEFLATED) as zf:
            zf.writestr("arr_0.npy", _huge_npy())
    line = assert_fails(tmp_path, p, gt, "--spacing", "1", names=p, fix="truncated or its header is corrupt")
    assert "header declares" in line


def test_huge_header_never_allocates(tmp_path):
    """In a subprocess limited to 1 GiB of address space, a 32 GiB header is a clean error."""
    files = []
    for suffix, blob in [
        (".nii", _huge_nifti_header()),
        (".nii.gz", gzip.compress(_huge_nifti_header())),
        (".npy", _huge_npy()),
    ]:
        f = tmp_path / f"huge{suffix}"
        f.write_bytes(blob)
        files.append(str(f))
    code = (
        "import resource, sys\n"
        "resource.setrlimit(resource.RLIMIT_AS, (1 << 30, 1 << 30))\n"
        "from segloss_cli.io.readers import read_volume\n"
        "from segloss_cli.errors import InputError\n"
        "for f in sys.argv[1:]:\n"
        "    try:\n"
        "        read_volume(f)\n"
        "        print('LOADED', f)\n"
        "    except InputError as e:\n"
        "        print('INPUTERROR', e)\n"
    )
    env = {**os.environ, "OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
    r = subprocess.run([sys.executable, "-c", code, *files], capture_output=True, text=True, timeout=60, env=env)
    assert r.returncode == 0, r.stderr
    lines = r.stdout.strip().splitlines()
    assert len(lines) == 3 and all(line.startswith("INPUTERROR") and "header declares" in line for line in lines), (
        r.stdout
    )


def test_pickled_object_npy(tmp_path):
    g = tmp_path / "gt.npy"
    np.save(g, labels())
    p = tmp_path / "p.npy"
    np.save(p, np.array([{"label": 1}, None], dtype=object), allow_pickle=True)
    line = assert_fails(tmp_path, p, g, names=p, fix="save a numeric array")
    assert "pickled" in line


def test_npz_with_several_arrays(tmp_path):
    g = tmp_path / "gt.npy"
    np.save(g, labels())
    p = tmp_path / "p.npz"
    np.savez(p, seg=labels(seed=1), probs=probs())
    line = assert_fails(tmp_path, p, g, names=p, fix="--npz-key")
    assert "seg" in line and "probs" in line
    ok = run("eval", p, g, "--npz-key", "seg", "--metrics", "dice")
    assert ok.exit_code == 0, ok.stderr


def test_distance_metrics_on_numpy_without_spacing(tmp_path):
    g = tmp_path / "gt.npy"
    np.save(g, labels())
    p = tmp_path / "p.npy"
    np.save(p, labels(seed=1))
    line = assert_fails(tmp_path, p, g, "--metrics", "dice,hd95", names=g, fix="--spacing 1")
    assert "distance metrics need voxel spacing" in line
    ok = run("eval", p, g, "--metrics", "dice,hd95", "--spacing", "1", "--format", "json")
    assert ok.exit_code == 0, ok.stderr


# --------------------------------------------------------------------------- paths


def test_missing_path(tmp_path, gt):
    p = tmp_path / "nope.nii.gz"
    assert_fails(tmp_path, p, gt, names=p, fix="check the path")


def test_directory_where_a_file_is_expected(tmp_path, pred):
    d = tmp_path / "gtdir"
    d.mkdir()
    # One file and one folder: folder mode needs two folders.
    assert_fails(tmp_path, pred, d, names=d, fix="give two files or two folders")


def test_directory_where_a_file_is_expected_by_the_loader(tmp_path):
    from segloss_cli.errors import InputError
    from segloss_cli.io.readers import read_volume

    with pytest.raises(InputError, match="is a directory, expected a file"):
        read_volume(tmp_path)


# --------------------------------------------------------------------------- folders


def _folder(root, name, files):
    d = root / name
    d.mkdir()
    for i, f in enumerate(files):
        save_nii(d / f, labels(seed=i))
    return d


def test_folder_mode_with_no_pairs(tmp_path):
    p = _folder(tmp_path, "preds", ["a.nii.gz", "b.nii.gz"])
    g = _folder(tmp_path, "gts", ["c.nii.gz", "d.nii.gz"])
    line = assert_fails(tmp_path, p, g, "--missing", "skip", names=p, fix="check the folders")
    assert "no case pairs" in line


def test_folder_mode_with_an_empty_folder(tmp_path):
    p = _folder(tmp_path, "preds", [])
    g = _folder(tmp_path, "gts", ["a.nii.gz"])
    assert_fails(tmp_path, p, g, names=p, fix="check the folder")


def test_folder_mode_with_unmatched_ids(tmp_path):
    p = _folder(tmp_path, "preds", ["case1.nii.gz", "case2.nii.gz", "extra.nii.gz"])
    g = _folder(tmp_path, "gts", ["case1.nii.gz", "case2.nii.gz", "case3.nii.gz"])
    line = assert_fails(tmp_path, p, g, names="case3", fix="--missing worst")
    assert "without a prediction: case3" in line and "without a ground truth: extra" in line


def test_folder_mode_with_duplicate_ids(tmp_path):
    p = _folder(tmp_path, "preds", ["case1.nii.gz", "case1.nii", "case2.nii.gz"])
    g = _folder(tmp_path, "gts", ["case1.nii.gz", "case2.nii.gz"])
    line = assert_fails(tmp_path, p, g, names=p, fix="keep one file per case")
    assert "duplicate case id" in line and "case1" in line


def test_folder_mode_bad_file_inside_names_it(tmp_path):
    p = _folder(tmp_path, "preds", ["case1.nii.gz", "case2.nii.gz"])
    g = _folder(tmp_path, "gts", ["case1.nii.gz", "case2.nii.gz"])
    bad = p / "case2.nii.gz"
    bad.write_bytes(bad.read_bytes()[:100])
    line = assert_fails(tmp_path, p, g, names=bad, fix="re-export or re-copy it")
    assert "truncated" in line


def test_permission_denied(tmp_path, gt, pred, monkeypatch):
    p = tmp_path / "locked.nii.gz"
    shutil.copy(pred, p)
    p.chmod(0)
    if os.geteuid() == 0:
        # root reads any file; make the access check answer as it would for a user.
        from segloss_cli.io import readers

        real = os.access
        monkeypatch.setattr(readers.os, "access", lambda f, m, **kw: False if Path(f) == p else real(f, m, **kw))
    assert_fails(tmp_path, p, gt, names=p, fix="make the file readable")


def test_output_folder_missing(tmp_path, gt, pred):
    out = tmp_path / "no_such_dir" / "s.json"
    result = run("eval", pred, gt, "--json", out)
    assert result.exit_code == 2
    assert "does not exist; create it first" in result.stderr and str(out) in result.stderr
    assert not out.parent.exists()


def test_output_folder_not_writable(tmp_path, gt, pred, monkeypatch):
    d = tmp_path / "ro"
    d.mkdir()
    d.chmod(0o555)
    out = d / "s.json"
    if os.geteuid() == 0:
        from segloss_cli.io import atomic

        real = os.access
        monkeypatch.setattr(atomic.os, "access", lambda f, m, **kw: False if Path(f) == d else real(f, m, **kw))
    result = run("eval", pred, gt, "--json", out)
    assert result.exit_code == 2, result.stderr
    assert "is not writable; choose another output path" in result.stderr and str(out) in result.stderr
    assert not out.exists()
    d.chmod(0o755)


def test_output_path_is_a_directory(tmp_path, gt, pred):
    result = run("eval", pred, gt, "--csv", tmp_path)
    assert result.exit_code == 2
    assert "is a directory; give a file path" in result.stderr


@pytest.mark.parametrize("which", ["pred", "gt"])
def test_output_path_equal_to_an_input(tmp_path, gt, pred, which):
    target = pred if which == "pred" else gt
    before = target.read_bytes()
    result = run("eval", pred, gt, "--json", target)
    assert result.exit_code == 2
    assert "output path is one of the inputs" in result.stderr and str(target) in result.stderr
    assert target.read_bytes() == before


def test_output_path_equal_to_an_input_through_a_symlink(tmp_path, gt, pred):
    link = tmp_path / "link.json"
    link.symlink_to(gt)
    before = gt.read_bytes()
    result = run("eval", pred, gt, "--csv", link)
    assert result.exit_code == 2 and "output path is one of the inputs" in result.stderr
    assert gt.read_bytes() == before


# --------------------------------------------------------------------------- exit codes, atomicity


def test_success_writes_both_outputs_with_normal_permissions(tmp_path, gt, pred):
    j, c = tmp_path / "s.json", tmp_path / "s.csv"
    result = run("eval", pred, gt, "--json", j, "--csv", c, "--metrics", "dice")
    assert result.exit_code == 0, result.stderr
    assert json.loads(j.read_text())["schema_version"] == 1
    assert c.read_text().startswith("case,")
    umask = os.umask(0)
    os.umask(umask)
    assert (j.stat().st_mode & 0o777) == (0o666 & ~umask)
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(".")) == []


@pytest.mark.parametrize(
    "exc_name,code,word", [("KeyboardInterrupt", 130, "interrupted"), ("Terminated", 143, "terminated")]
)
def test_interrupt_while_writing_leaves_no_temp_file(tmp_path, gt, pred, monkeypatch, exc_name, code, word):
    """Ctrl-C / SIGTERM arriving during the write: temp files removed, old outputs untouched."""
    from segloss_cli.cli._common import Terminated
    from segloss_cli.io import atomic

    exc = KeyboardInterrupt if exc_name == "KeyboardInterrupt" else Terminated
    calls = []

    def interrupted_fsync(fd):
        calls.append(fd)
        if len(calls) == 2:  # the second output: the first temp file is already complete
            raise exc()

    monkeypatch.setattr(atomic.os, "fsync", interrupted_fsync)
    out = tmp_path / "out"
    out.mkdir()
    old = out / "s.json"
    old.write_text(SENTINEL)
    result = run("eval", pred, gt, "--json", old, "--csv", out / "s.csv", "--metrics", "dice")
    assert result.exit_code == code
    assert result.stderr.strip() == f"segloss: {word}; nothing written"
    assert old.read_text() == SENTINEL
    assert sorted(p.name for p in out.iterdir()) == ["s.json"]


def test_internal_error_is_short_and_nonzero(tmp_path, gt, pred, monkeypatch):
    from segloss_cli import evaluate

    def boom(*a, **k):
        raise RuntimeError("kernel exploded\nsecond line")

    monkeypatch.setattr(evaluate, "evaluate_pair", boom)
    result = run("eval", pred, gt, "--json", tmp_path / "s.json")
    assert result.exit_code == 3
    assert result.stderr.strip() == (
        "segloss: internal error: RuntimeError: kernel exploded (rerun with --debug and report it)"
    )
    assert not (tmp_path / "s.json").exists()
    debug = run("--debug", "eval", pred, gt)
    assert debug.exit_code == 3 and "Traceback" in debug.stderr and "kernel exploded" in debug.stderr


def test_debug_shows_traceback_for_input_errors(tmp_path, gt):
    p = tmp_path / "p.nii.gz"
    p.write_bytes(b"")
    plain = run("eval", p, gt)
    debug = run("--debug", "eval", p, gt)
    assert plain.exit_code == debug.exit_code == 2
    assert "Traceback" not in plain.stderr
    assert "Traceback" in debug.stderr and debug.stderr.strip().endswith(plain.stderr.strip())


def test_typer_usage_errors_exit_2(gt, pred):
    assert run("eval", pred, gt, "--no-such-option").exit_code == 2
    assert run("eval", pred).exit_code == 2
    assert run("eval", pred, gt, "--pred-type", "bogus").exit_code == 2
    assert run("eval", pred, gt, "--threshold", "abc").exit_code == 2


# --------------------------------------------------------------------------- real processes


def _cli(*args, **kw):
    return subprocess.run(
        [sys.executable, "-m", "segloss_cli", *map(str, args)], capture_output=True, text=True, timeout=120, **kw
    )


def test_subprocess_bad_inputs_exit_2_without_traceback(tmp_path, gt):
    cut = tmp_path / "cut.nii.gz"
    cut.write_bytes(gzip.compress(_huge_nifti_header())[:40])
    huge = tmp_path / "huge.nii"
    huge.write_bytes(_huge_nifti_header())
    out = tmp_path / "s.json"
    for bad in (cut, huge, tmp_path / "missing.nii"):
        r = _cli("eval", bad, gt, "--json", out)
        assert r.returncode == 2, r.stderr
        assert "Traceback" not in r.stderr and r.stderr.count("\n") == 1 and str(bad) in r.stderr
        assert not out.exists()
    r = _cli("eval", gt, gt, "--bogus")
    assert r.returncode == 2 and "Traceback" not in r.stderr


@pytest.mark.skipif(not hasattr(os, "mkfifo") or not sys.platform.startswith("linux"), reason="needs a FIFO and /proc")
@pytest.mark.parametrize("sig,code,word", [(signal.SIGTERM, 143, "terminated"), (signal.SIGINT, 130, "interrupted")])
def test_subprocess_signal_exit_code_and_nothing_written(tmp_path, gt, pred, sig, code, word):
    """A run blocked reading --label-names from a FIFO receives the signal: 143 / 130, one line."""
    fifo = tmp_path / "names.json"
    os.mkfifo(fifo)
    out = tmp_path / "s.json"
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "segloss_cli",
            "eval",
            str(pred),
            str(gt),
            "--label-names",
            str(fifo),
            "--json",
            str(out),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        preexec_fn=sigint_default,
    )
    # Opening the write end succeeds only once segloss has opened the read end: from then on
    # it is blocked reading, inside the command, with its handlers installed.
    deadline = time.monotonic() + 60
    writer = None
    while writer is None and time.monotonic() < deadline and proc.poll() is None:
        try:
            writer = os.open(fifo, os.O_WRONLY | os.O_NONBLOCK)
        except OSError:
            time.sleep(0.02)
    assert writer is not None, proc.communicate()
    # The reader returns from open() and then blocks in read(). A signal that lands between the
    # two is noted by Python but handled only at its next check, after read() returns (never:
    # nothing is written), so the signal is sent once the reader sits in read().
    wchan = Path(f"/proc/{proc.pid}/wchan")
    until = time.monotonic() + 10
    while time.monotonic() < until and proc.poll() is None and "pipe" not in wchan.read_text():
        time.sleep(0.01)
    proc.send_signal(sig)
    stdout, stderr = proc.communicate(timeout=60)
    os.close(writer)
    assert proc.returncode == code, stderr
    assert stderr.strip() == f"segloss: {word}; nothing written"
    assert not out.exists() and [p.name for p in tmp_path.iterdir() if p.name.endswith(".tmp")] == []


@pytest.mark.parametrize("fmt", ["table", "json"])
def test_subprocess_stdout_closed_early_exits_141_quietly(gt, pred, fmt):
    """`segloss eval ... | head`: the reader went away; 141 (128 + SIGPIPE), never 1 (a failed gate)."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "segloss_cli", "eval", str(pred), str(gt), "--format", fmt],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    proc.stdout.close()  # closed long before segloss has anything to print
    _, stderr = proc.communicate(timeout=120)
    assert proc.returncode == 141, stderr
    assert stderr == b""


# --------------------------------------------------------------------------- numeric safety


# Counts exact beyond 2**31 voxels with broadcast views: tests/test_confusion.py::
# test_counts_exact_beyond_2_31_voxels (the confusion kernel's own suite) covers it.


def test_mcc_and_kappa_without_overflow():
    """Counts near 2**40: the MCC numerator and denominator overflow int64; float64 is exact enough."""
    from segloss_cli.metrics.overlap import Counts, _kappa, _mcc

    tp, fp, fn, tn = 3 * 2**40 + 7, 2**39 + 11, 2**38 + 5, 2**42 + 3
    c = Counts(np.array([1]), *(np.array([v], np.int64) for v in (tp, fp, fn, tn)), n=tp + fp + fn + tn, voxel_ml=None)
    num = Fraction(tp * tn - fp * fn)
    den2 = Fraction((tp + fp) * (tp + fn) * (tn + fp) * (tn + fn))
    exact = float(num) / float(den2) ** 0.5
    assert (tp + fp) * (tp + fn) * (tn + fp) * (tn + fn) > 2**63  # int64 would overflow
    assert abs(float(_mcc(c)[0]) - exact) <= 1e-12 * abs(exact)
    n = tp + fp + fn + tn
    po = Fraction(tp + tn, n)
    pe = Fraction((tp + fp) * (tp + fn) + (fn + tn) * (fp + tn), n * n)
    assert abs(float(_kappa(c)[0]) - float((po - pe) / (1 - pe))) <= 1e-12


def _no_nan(text):
    def reject(token):
        raise AssertionError(f"JSON contains {token}")

    return json.loads(text, parse_constant=reject)


@pytest.mark.parametrize("policy", ["worst", "nan"])
def test_json_never_contains_nan_or_infinity(tmp_path, policy):
    """Empty classes and numpy input without spacing make many values undefined: null, never NaN."""
    g = tmp_path / "gt.npy"
    p = tmp_path / "p.npy"
    gt_arr = np.zeros((5, 6, 7), np.uint8)
    gt_arr[1:3, 1:3, 1:3] = 1
    pr_arr = np.zeros_like(gt_arr)
    pr_arr[0, 0, 0] = 2
    np.save(g, gt_arr)
    np.save(p, pr_arr)
    out = tmp_path / "s.json"
    result = run(
        "eval",
        p,
        g,
        "--labels",
        "1,2,3",
        "--empty-policy",
        policy,
        "--format",
        "json",
        "--json",
        out,
        "--metrics",
        "overlap",
    )
    assert result.exit_code == 0, result.stderr
    for text in (result.stdout, out.read_text()):
        data = _no_nan(text)
        cls = data["cases"][0]["classes"]
        assert cls["3"]["status"] == "both_empty" and cls["1"]["status"] == "pred_empty"
        assert cls["1"]["metrics"]["precision"] is None  # 0/0
        assert cls["1"]["metrics"]["vol_gt_ml"] is None  # no spacing


@pytest.fixture(params=["isal", "zlib"])
def inflater(request, monkeypatch):
    """Run a test with ISA-L (the dependency) and with the stdlib zlib fallback."""
    import zlib

    from segloss_cli.io import readers

    if request.param == "isal":
        isal_zlib = pytest.importorskip("isal.isal_zlib")
        monkeypatch.setattr(readers, "_INFLATE", isal_zlib)
    else:
        monkeypatch.setattr(readers, "_INFLATE", zlib)
    return request.param


def _big_labels():
    # Large enough that a corrupt byte near the end lies beyond what reading the header
    # decompresses (gzip.open reads ahead 128 KiB), so the full-stream check must catch it.
    return np.random.default_rng(3).integers(0, 4, (80, 80, 60)).astype(np.uint8)


def test_bit_flip_deep_in_nii_gz_is_caught_by_either_inflater(tmp_path, gt, inflater):
    from segloss_cli.io.readers import read_volume

    raw = nib.Nifti1Image(_big_labels(), affine()).to_bytes()
    blob = bytearray(gzip.compress(raw, compresslevel=0))
    blob[len(blob) - 20] ^= 0x01
    p = tmp_path / "flip.nii.gz"
    p.write_bytes(bytes(blob))
    with pytest.raises(InputError, match="CRC check failed"):
        read_volume(p)


def test_truncated_and_multimember_nii_gz_with_either_inflater(tmp_path, inflater):
    from segloss_cli.io.readers import read_volume

    arr = _big_labels()
    raw = nib.Nifti1Image(arr, affine()).to_bytes()
    whole = gzip.compress(raw)
    cut = tmp_path / "cut.nii.gz"
    cut.write_bytes(whole[: len(whole) - 50])
    with pytest.raises(InputError, match="truncated or corrupt"):
        read_volume(cut)
    # gzip members concatenated (as `cat a.gz b.gz` makes) are one valid stream.
    half = len(raw) // 2
    multi = tmp_path / "multi.nii.gz"
    multi.write_bytes(gzip.compress(raw[:half]) + gzip.compress(raw[half:]))
    got = read_volume(multi).array
    assert got.dtype == arr.dtype
    np.testing.assert_array_equal(got, arr)
