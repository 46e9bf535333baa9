"""Issue 20, faults and hostile input: closed and full standard streams, malformed NIfTI headers,
gzip member variants, shapes of score maps, hostile option values, truncated files, file names
that are not UTF-8, and the cost of many classes."""

from __future__ import annotations

import os
import subprocess
import sys

import numpy as np
import pytest
from typer.testing import CliRunner

from segloss_cli.cli import app

runner = CliRunner()
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def cli(*args):
    return runner.invoke(app, [str(a) for a in args])


def segloss(*args, **popen):
    """Run the real entry point (python -m segloss_cli) in a subprocess: streams as a shell gives them."""
    env = {**os.environ, "PYTHONPATH": ROOT}
    return subprocess.run([sys.executable, "-m", "segloss_cli", *map(str, args)], env=env, **popen)


@pytest.fixture
def pair(tmp_path):
    gt = np.zeros((6, 6, 4), np.uint8)
    gt[1:4, 1:4, 1:3] = 1
    pred = gt.copy()
    pred[1, 1, 1] = 0
    np.save(tmp_path / "p.npy", pred)
    np.save(tmp_path / "g.npy", gt)
    return tmp_path / "p.npy", tmp_path / "g.npy"


# --- 1. Standard streams -----------------------------------------------------------------------


def test_stdout_closed_before_start_is_a_broken_pipe(pair):
    res = segloss(
        "eval",
        *pair,
        "--metrics",
        "dice",
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        preexec_fn=lambda: os.close(1),
    )
    assert res.returncode == 141, res.stderr
    assert b"Traceback" not in res.stderr and b"internal error" not in res.stderr


def test_stdout_closed_with_json_to_stdout_is_141(pair):
    res = segloss(
        "eval",
        *pair,
        "--metrics",
        "dice",
        "--format",
        "json",
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        preexec_fn=lambda: os.close(1),
    )
    assert res.returncode == 141, res.stderr


def test_a_file_output_does_not_take_a_closed_stdout_descriptor(tmp_path, pair):
    """With fd 1 closed, the first file opened would get descriptor 1; stdout writes must not land in it."""
    out = tmp_path / "out.json"
    res = segloss(
        "eval",
        *pair,
        "--metrics",
        "dice",
        "--json",
        out,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        preexec_fn=lambda: os.close(1),
    )
    assert res.returncode == 141  # the table still goes to the closed stdout
    import json

    assert json.loads(out.read_text())["schema_version"] == 1


@pytest.mark.skipif(not os.path.exists("/dev/full"), reason="needs /dev/full")
@pytest.mark.parametrize("fmt", ["table", "json", "csv"])
def test_stdout_on_a_full_device_is_one_line_exit_2(pair, fmt):
    with open("/dev/full", "w") as full:
        res = segloss("eval", *pair, "--metrics", "dice", "--format", fmt, stdout=full, stderr=subprocess.PIPE)
    lines = res.stderr.decode().splitlines()
    assert res.returncode == 2, res.stderr
    assert lines == [
        "segloss: error: stdout: cannot write the output: no space left on the device; "
        "free some space or redirect stdout elsewhere"
    ]


@pytest.mark.parametrize("closed", [(2,), (1, 2)])
def test_stderr_closed_while_a_requirement_fails_is_still_exit_1(pair, closed):
    def close():
        for fd in closed:
            os.close(fd)

    args = ("eval", *pair, "--metrics", "dice", "--require", "dice>=0.99")
    if 1 in closed:
        args += ("--json", os.devnull)
    res = segloss(*args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, preexec_fn=close)
    assert res.returncode == (141 if 1 in closed else 1)
    ok = segloss(
        "eval",
        *pair,
        "--metrics",
        "dice",
        "--require",
        "dice>=0.5",
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        preexec_fn=lambda: os.close(2),
    )
    assert ok.returncode == 0


def test_stderr_closed_with_a_usage_error_is_still_exit_2(pair):
    res = segloss(
        "eval",
        *pair,
        "--metrics",
        "nosuchmetric",
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        preexec_fn=lambda: os.close(2),
    )
    assert res.returncode == 2


# --- 2. Malformed NIfTI headers: segloss's words, nibabel's logging silenced ----------------------


def _nifti_blob(klass_name="Nifti1Image"):
    import nibabel as nib

    gt = np.zeros((6, 6, 4), np.uint8)
    gt[1:4, 1:4, 1:3] = 1
    img = getattr(nib, klass_name)(gt, np.eye(4))
    return gt, bytearray(img.to_bytes())


def _edit(blob, at, fmt, value):
    import struct

    out = bytearray(blob)
    struct.pack_into(fmt, out, at, value)
    return bytes(out)


# (name, NIfTI-1 byte offset, struct format, value, expected words)
BAD_HEADERS = [
    ("dim0_8", 40, "<h", 8, "dim[0] = 8: the number of dimensions must be 1 to 7"),
    ("dim0_0", 40, "<h", 0, "dim[0] = 0: the number of dimensions must be 1 to 7"),
    ("dim0_negative", 40, "<h", -3, "dim[0] = -3: the number of dimensions must be 1 to 7"),
    ("negative_dim", 44, "<h", -6, "negative dimension in (6, -6, 4)"),
    ("vox_offset_inside", 108, "<f", 100.0, "vox_offset 100 lies inside the 348-byte header"),
    ("vox_offset_nan", 108, "<f", float("nan"), "vox_offset nan is not a byte offset"),
    ("vox_offset_fraction", 108, "<f", 352.5, "vox_offset 352.5 is not a byte offset"),
    ("vox_offset_past_eof", 108, "<f", 100000.0, "header declares a 6x6x4 uint8 volume"),
    ("datatype_unknown", 70, "<h", 9999, "datatype code 9999 is not a voxel type segloss can read"),
    ("datatype_none", 70, "<h", 0, "datatype code 0 (none) is not a voxel type segloss can read"),
    ("pixdim_zero", 80, "<f", 0.0, "pixdim (0.0, 1.0, 1.0): axis 1 is zero or not finite"),
    ("pixdim_negative", 84, "<f", -2.0, "pixdim (1.0, -2.0, 1.0): axis 2 is negative"),
    ("pixdim_nan", 88, "<f", float("nan"), "pixdim (1.0, 1.0, nan): axis 3 is zero or not finite"),
]


@pytest.mark.parametrize("suffix", [".nii", ".nii.gz"])
@pytest.mark.parametrize("name,at,fmt,value,words", BAD_HEADERS, ids=[b[0] for b in BAD_HEADERS])
def test_a_malformed_header_is_one_line_in_segloss_words(tmp_path, suffix, name, at, fmt, value, words):
    import gzip

    gt, blob = _nifti_blob()
    good = tmp_path / "good.npy"
    np.save(good, gt)
    bad = tmp_path / f"bad{suffix}"
    raw = _edit(blob, at, fmt, value)
    bad.write_bytes(gzip.compress(raw) if suffix == ".nii.gz" else raw)
    res = cli("eval", bad, good, "--metrics", "dice")  # in-process: a log line would reach res.stderr too
    lines = res.stderr.splitlines()
    assert res.exit_code == 2, res.stderr
    assert len(lines) == 1 and lines[0].startswith(f"segloss: error: {bad}: "), lines  # no nibabel log line
    assert words in lines[0]
    assert "HeaderDataError" not in lines[0] and "too low" not in lines[0]


def test_a_nifti2_header_is_checked_the_same_way(tmp_path):
    gt, blob = _nifti_blob("Nifti2Image")
    bad = tmp_path / "bad.nii"
    bad.write_bytes(_edit(blob, 16, "<q", 9))  # NIfTI-2 dim[0] is an int64 at byte 16
    np.save(tmp_path / "g.npy", gt)
    res = cli("eval", bad, tmp_path / "g.npy", "--metrics", "dice")
    assert res.exit_code == 2 and "dim[0] = 9: the number of dimensions must be 1 to 7" in res.stderr
    bad.write_bytes(_edit(blob, 112, "<d", 0.0))  # pixdim[1] is a float64 at 104 + 8
    res = cli("eval", bad, tmp_path / "g.npy", "--metrics", "dice")
    assert res.exit_code == 2 and "axis 1 is zero or not finite" in res.stderr


def test_a_big_endian_header_is_read_with_its_own_byte_order(tmp_path):
    import nibabel as nib

    gt, _ = _nifti_blob()
    hdr = nib.Nifti1Image(gt.astype(np.int16), np.diag([0.5, 2.0, 3.0, 1.0])).header.as_byteswapped(">")
    hdr["vox_offset"] = 352
    path = tmp_path / "be.nii"
    path.write_bytes(hdr.binaryblock + bytes(4) + gt.astype(">i2").tobytes(order="F"))
    assert path.read_bytes()[:4] == (348).to_bytes(4, "big")
    from segloss_cli.io.readers import read_volume

    vol = read_volume(path)
    assert np.array_equal(np.asarray(vol.array), gt) and tuple(vol.spacing_mm) == (0.5, 2.0, 3.0)


@pytest.mark.parametrize("at,fmt,value", [(0, "<i", 1234), (72, "<h", 7), (76, "<f", 0.0)])
def test_a_header_nibabel_repairs_is_read_without_its_log_lines(tmp_path, at, fmt, value):
    """sizeof_hdr, bitpix and qfac are repaired as nib.load does; its "should be" lines never print."""
    gt, blob = _nifti_blob()
    path = tmp_path / "p.nii"
    path.write_bytes(_edit(blob, at, fmt, value))
    np.save(tmp_path / "g.npy", gt)
    res = segloss("eval", path, tmp_path / "g.npy", "--metrics", "dice", "--format", "json", capture_output=True)
    assert res.returncode == 0 and res.stderr == b"", res.stderr
    import json

    assert json.loads(res.stdout)["cases"][0]["classes"]["1"]["metrics"]["dice"] == 1.0


# --- 3. gzip member variants -----------------------------------------------------------------------


def _members(raw: bytes, cuts) -> bytes:
    import gzip

    bounds = [0, *cuts, len(raw)]
    return b"".join(gzip.compress(raw[a:b], compresslevel=1) for a, b in zip(bounds, bounds[1:]))


@pytest.fixture(params=["isal", "zlib"])
def inflater(request, monkeypatch):
    """Both inflaters segloss may use: ISA-L when installed, the stdlib zlib otherwise."""
    import zlib

    import segloss_cli.io.readers as readers

    if request.param == "isal":
        module = pytest.importorskip("isal.isal_zlib")
    else:
        module = zlib
    monkeypatch.setattr(readers, "_INFLATE", module)
    return module


@pytest.mark.parametrize(
    "layout",
    ["header_split_at_100", "empty_trailing_member", "empty_leading_member", "one_member_per_voxel_slab"],
)
def test_multi_member_gzip_reads_as_the_single_member_file(tmp_path, inflater, layout):
    import gzip

    import nibabel as nib

    from segloss_cli.io.readers import read_volume

    gt, blob = _nifti_blob()
    raw = bytes(blob)
    data = {
        "header_split_at_100": _members(raw, [100]),  # the first member ends inside the header
        "empty_trailing_member": gzip.compress(raw) + gzip.compress(b""),
        "empty_leading_member": gzip.compress(b"") + gzip.compress(raw),
        "one_member_per_voxel_slab": _members(raw, range(1, len(raw), 7)),
    }[layout]
    path = tmp_path / "m.nii.gz"
    path.write_bytes(data)
    assert gzip.decompress(data) == raw  # what `gzip -t` and nibabel accept
    vol = read_volume(path)
    assert np.array_equal(np.asarray(vol.array), gt)
    assert np.array_equal(np.asarray(vol.array), np.asarray(nib.load(str(path)).dataobj))


def test_many_gzip_members_cost_linear_input(tmp_path, monkeypatch):
    """Count the input bytes handed to the inflater: linear in the file, whatever the number of
    members (the loop that passed ``unused_data`` on handed over the rest of the file per member)."""
    import zlib

    import segloss_cli.io.readers as readers

    offered = [0]

    class Counting:
        error = zlib.error

        @staticmethod
        def decompressobj(**kw):
            inner = zlib.decompressobj(**kw)

            class Obj:
                def decompress(self, data, max_length=0):
                    offered[0] += len(data)
                    return inner.decompress(data, max_length)

                def __getattr__(self, name):
                    return getattr(inner, name)

            return Obj()

    monkeypatch.setattr(readers, "_INFLATE", Counting)
    big = np.zeros((40, 40, 10), np.uint8)
    big[5:30, 5:30, 2:8] = 3
    import nibabel as nib

    raw = nib.Nifti1Image(big, np.eye(4)).to_bytes()
    path = tmp_path / "many.nii.gz"
    data = _members(raw, range(1, len(raw)))  # 16,352 members of one byte each
    path.write_bytes(data)
    vol = readers.read_volume(path)
    assert np.array_equal(np.asarray(vol.array), big)
    members = len(raw)
    # Linear: the whole file for the first member, then at most ~2 pieces of 256+ bytes a member
    # (the old loop offered the rest of the file per member: ~members * len(data) / 2 = 2.8 GB).
    assert offered[0] <= 3 * len(data) + 2 * 256 * members, (offered[0], len(data))


@pytest.mark.parametrize("damage", ["truncated", "bad_crc", "trailing_garbage", "truncated_second_member"])
def test_a_damaged_gzip_is_one_line_exit_2(tmp_path, pair, damage):
    import gzip

    _, blob = _nifti_blob()
    raw = bytes(blob)
    one = gzip.compress(raw, compresslevel=0)  # stored blocks: a flipped data byte is only seen by the CRC
    data = {
        "truncated": one[: len(one) - 30],
        "bad_crc": one[:-8] + bytes([one[-8] ^ 1]) + one[-7:],
        "trailing_garbage": one + b"not gzip",
        "truncated_second_member": _members(raw, [200])[:-5],
    }[damage]
    path = tmp_path / "bad.nii.gz"
    path.write_bytes(data)
    np.save(tmp_path / "g.npy", _nifti_blob()[0])
    res = cli("eval", path, tmp_path / "g.npy", "--metrics", "dice")
    lines = res.stderr.splitlines()
    assert res.exit_code == 2 and len(lines) == 1, lines
    assert lines[0].startswith(f"segloss: error: {path}: ") and "gzip" in lines[0]


# --- 8. Score maps and label maps with a trailing singleton axis ----------------------------------


def _tiny_2d(seed=0):
    rng = np.random.default_rng(seed)
    gt = np.zeros((7, 6), np.uint8)
    gt[1:5, 1:3] = 1
    gt[4:, 3:] = 2
    p = rng.random((7, 6, 3)).astype(np.float32) + 2.0 * np.eye(3, dtype=np.float32)[gt]
    return gt, p / p.sum(-1, keepdims=True)


def _nifti(path, array, zooms):
    import nibabel as nib

    img = nib.Nifti1Image(array, np.diag([*zooms[:3], 1.0][:4]) if len(zooms) >= 3 else np.eye(4))
    img.header.set_zooms(tuple(zooms) + (1.0,) * (array.ndim - len(zooms)))
    nib.save(img, str(path))
    return path


def _scores(res):
    import json

    assert res.exit_code == 0, res.stderr
    case = json.loads(res.stdout)["cases"][0]
    return case["classes"], case["losses"]


ARGS = ("--metrics", "dice,iou,hd95,assd", "--losses", "dice,ce,focal", "--format", "json")


@pytest.mark.parametrize("layout", ["nifti_x_y_1_K", "npy_x_y_1_K", "npy_K_x_y_1"])
@pytest.mark.compiled  # bit equality of the NIfTI and .npy paths: compiled kernels only (Python-run ones differ in the last bits)
def test_a_score_map_for_a_gt_stored_x_y_1_scores_as_the_2d_pair(tmp_path, layout):
    gt, p = _tiny_2d()
    np.save(tmp_path / "g2.npy", gt)
    np.save(tmp_path / "p2.npy", p)
    ref = _scores(cli("eval", tmp_path / "p2.npy", tmp_path / "g2.npy", "--spacing", "0.5,2", *ARGS))
    if layout == "nifti_x_y_1_K":
        g = _nifti(tmp_path / "g.nii.gz", gt[..., None], (0.5, 2.0, 3.0))
        pr = _nifti(tmp_path / "p.nii.gz", p[:, :, None, :], (0.5, 2.0, 3.0))
        got = _scores(cli("eval", pr, g, *ARGS))
    else:
        np.save(tmp_path / "g.npy", gt[..., None])
        stored = p[:, :, None, :] if layout == "npy_x_y_1_K" else np.moveaxis(p, -1, 0)[..., None]
        np.save(tmp_path / "p.npy", stored)
        got = _scores(cli("eval", tmp_path / "p.npy", tmp_path / "g.npy", "--spacing", "0.5,2,3", *ARGS))
    assert got == ref
    hard = p.argmax(-1)
    for c in (1, 2):  # an independent check of one number: dice of the argmax
        tp = np.sum((hard == c) & (gt == c))
        assert got[0][str(c)]["metrics"]["dice"] == pytest.approx(2 * tp / (np.sum(hard == c) + np.sum(gt == c)))


@pytest.mark.parametrize("suffix", [".npy", ".nii.gz"])
def test_a_float_label_map_stored_x_y_1_is_a_label_map_not_a_sigmoid_map(tmp_path, suffix):
    gt, _ = _tiny_2d()

    def save(name, a):
        path = tmp_path / f"{name}{suffix}"
        if suffix == ".npy":
            np.save(path, a)
        else:
            _nifti(path, a, (1.0, 1.0, 1.0))
        return path

    g = save("g", gt[..., None])
    ref = _scores(
        cli("eval", save("pi", gt[..., None]), g, *ARGS, "--spacing", "1")
        if suffix == ".npy"
        else cli("eval", save("pi", gt[..., None]), g, *ARGS)
    )
    extra = ("--spacing", "1") if suffix == ".npy" else ()
    got = _scores(cli("eval", save("pf", gt[..., None].astype(np.float32)), g, *ARGS, *extra))
    assert got == ref and set(got[0]) == {"1", "2"}  # classes 1 and 2: read as labels
    # A 0/1 float map with a trailing singleton is a label map too, not a one-channel sigmoid map.
    binary = (gt > 0).astype(np.uint8)[..., None]
    gb = save("gb", binary)
    got = _scores(cli("eval", save("pb", binary.astype(np.float32)), gb, *ARGS, *extra))
    ref = _scores(cli("eval", save("pbi", binary), gb, *ARGS, *extra))
    assert got == ref
    # Values that are not labels: an error that says how to read it as scores, never a silent guess.
    res = cli("eval", save("ps", np.full(binary.shape, 0.3, np.float32)), gb, *ARGS, *extra)
    assert res.exit_code == 2 and "non-integer values" in res.stderr and "--pred-type probs" in res.stderr
    # Said explicitly, the same file is a one-channel sigmoid map.
    res = cli("eval", save("ps", np.full(binary.shape, 0.3, np.float32)), gb, *ARGS, *extra, "--pred-type", "probs")
    assert res.exit_code == 0, res.stderr


def test_a_channel_first_one_channel_map_is_still_a_sigmoid_map(tmp_path):
    """(1, x, y): the PyTorch layout of a binary model's output stays a score map under auto."""
    gt = np.zeros((7, 6), np.uint8)
    gt[2:5, 2:5] = 1
    p = np.where(gt > 0, 0.8, 0.1).astype(np.float32)[None]
    np.save(tmp_path / "g.npy", gt)
    np.save(tmp_path / "p.npy", p)
    classes, losses = _scores(cli("eval", tmp_path / "p.npy", tmp_path / "g.npy", *ARGS, "--spacing", "1"))
    assert classes["1"]["metrics"]["dice"] == 1.0
    assert losses["ce"]["value"] == pytest.approx(-np.mean(np.log(np.where(gt > 0, 0.8, 0.9))), rel=1e-6)


# --- 5. A file truncated while it is read: never SIGBUS ---------------------------------------------


@pytest.mark.parametrize("suffix", [".nii", ".npy"])
def test_a_file_truncated_after_its_size_check_is_one_line_not_sigbus(tmp_path, monkeypatch, suffix):
    """Truncate the file between the header/size checks and the data read. A memory-mapped
    array would die with SIGBUS on first touch; read into memory it is a short read."""
    import segloss_cli.io.readers as readers

    gt = np.zeros((16, 16, 16), np.int16)
    gt[2:9, 2:9, 2:9] = 1
    path = tmp_path / f"p{suffix}"
    if suffix == ".nii":
        import nibabel as nib

        nib.save(nib.Nifti1Image(gt, np.eye(4)), str(path))
    else:
        np.save(path, gt)
    size = path.stat().st_size
    real = readers._read_exact

    def truncating(p, offset, shape, dtype, order):
        os.truncate(p, size - 1000)  # someone shortens the file right after the checks
        return real(p, offset, shape, dtype, order)

    monkeypatch.setattr(readers, "_read_exact", truncating)
    with pytest.raises(readers.InputError, match="reading it gave only"):
        readers.read_volume(path)


def test_a_truncated_file_in_a_subprocess_exits_2(tmp_path):
    gt = np.zeros((16, 16, 16), np.int16)
    gt[2:9, 2:9, 2:9] = 1
    np.save(tmp_path / "g.npy", gt)
    raw = (tmp_path / "g.npy").read_bytes()
    (tmp_path / "p.npy").write_bytes(raw[:-100])
    res = segloss("eval", tmp_path / "p.npy", tmp_path / "g.npy", "--metrics", "dice", capture_output=True)
    assert res.returncode == 2 and res.stderr.decode().count("\n") == 1, res.stderr
    assert b"the file holds only" in res.stderr


# --- 6. File names that are not UTF-8 ------------------------------------------------------------


def _save_bytes_name(folder: bytes, name: bytes, array) -> None:
    os.makedirs(folder, exist_ok=True)
    with open(os.path.join(folder, name), "wb") as fh:
        np.save(fh, array)


@pytest.mark.skipif(sys.platform != "linux", reason="needs a file system that takes any bytes as a name")
def test_a_file_name_that_is_not_utf8_is_one_line_exit_2(tmp_path):
    gt = np.zeros((6, 6, 4), np.uint8)
    gt[1:4, 1:4, 1:3] = 1
    root = os.fsencode(tmp_path)
    for sub in (b"p", b"g"):
        for name in (b"case\xff.npy", b"ok.npy"):
            _save_bytes_name(os.path.join(root, sub), name, gt)
    out = tmp_path / "out.json"
    res = segloss("eval", tmp_path / "p", tmp_path / "g", "--metrics", "dice", "--json", out, capture_output=True)
    lines = res.stderr.decode().splitlines()
    assert res.returncode == 2 and len(lines) == 1, lines
    assert "case\\xff.npy: the file name is not valid UTF-8" in lines[0] and not out.exists()
    single = os.fsdecode(os.path.join(root, b"p", b"case\xff.npy"))
    res = cli("eval", single, tmp_path / "g" / "ok.npy", "--metrics", "dice")
    assert res.exit_code == 2 and "the file name is not valid UTF-8" in res.stderr
    assert "\udcff" not in res.stderr  # shown escaped, printable as UTF-8


# --- 7. Hostile option values ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "args,expected",
    [
        (("--nsd-tolerance", "7=2"), "--nsd-tolerance names label 7, which is not a class of this case (0, 1)"),
        (("--nsd-tolerance", "1=nan"), "tolerance must be a non-negative number of mm"),
        (("--nsd-tolerance", "1=2,1=3"), "label 1 given twice"),
        (("--smooth", "nan"), "must be >= 0 and finite"),
        (("--smooth", "-1"), "must be >= 0 and finite"),
        (("--weights", "1=inf"), "weights must be finite and >= 0"),
        (("--weights", "7=2"), "not a class of this case"),
        (("--ignore-label", str(2**64)), "beyond a 64-bit label"),
        (("--hd-percentile", "nan"), "--hd-percentile must be between 0 and 100"),
        (("--worst-distance", "inf"), "--worst-distance must be a positive number of mm"),
        (("--threshold", "nan"), "--threshold nan must be a probability strictly between 0 and 1"),
        (("--threshold", "2"), "--threshold 2 must be a probability strictly between 0 and 1"),
        (("--focal-gamma", "nan"), "--focal-gamma must be >= 0 and finite"),
        (("--spacing", "1e300"), "--spacing values must lie in 1e-09 .. 1e+09 mm"),  # was NaN offsets: exit 3
        (("--spacing", "1,1,1e-320"), "--spacing values must lie in 1e-09 .. 1e+09 mm"),
    ],
)
def test_hostile_option_values_are_one_line_exit_2(pair, args, expected):
    res = cli("eval", *pair, "--metrics", "dice,nsd", "--spacing", "1", "--losses", "dice,focal", *args)
    assert res.exit_code == 2, res.stderr
    lines = res.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("segloss: error:") and expected in lines[0], lines


def test_a_tolerance_for_a_listed_label_absent_from_both_maps_is_used(pair):
    import json

    res = cli("eval", *pair, "--metrics", "nsd", "--spacing", "1", "--labels", "1,7", "--nsd-tolerance", "7=2",
              "--format", "json")  # fmt: skip
    assert res.exit_code == 0, res.stderr
    doc = json.loads(res.stdout)
    assert doc["settings"]["nsd_tolerance_per_label_mm"] == {"7": 2.0}
    assert doc["cases"][0]["classes"]["7"]["status"] == "both_empty"


# --- 9. The two contract choices ---------------------------------------------------------------------


@pytest.mark.parametrize("dtype", [np.uint8, np.int32])
def test_a_pred_label_only_at_ignored_voxels_is_no_class(dtype):
    import segloss

    gt = np.zeros((6, 6), dtype)
    gt[1:3, 1:3] = 1
    gt[4:, 4:] = 9
    pred = np.where(gt == 9, 0, gt).astype(dtype)
    pred[5, 5] = 3  # label 3 only where GT is ignored: no counted voxel has it
    res = segloss.score(pred, gt, ignore_label=9).to_dict()
    assert list(res["classes"]) == ["1"]
    if dtype == np.int32:  # the general path (a label the one-pass table cannot hold)
        pred[0, 0] = 70_000
        assert list(segloss.score(pred, gt, ignore_label=9).to_dict()["classes"]) == ["1", "70000"]
    assert list(segloss.score(pred, gt, ignore_label=9, labels=[1, 3]).to_dict()["classes"]) == ["1", "3"]


def test_a_loss_value_is_the_weighted_mean_of_the_defined_per_class_values():
    """lovasz_softmax is null for a class absent from GT; value = sum w L / sum w over the others."""
    import segloss

    gt = np.zeros((6, 6), np.uint8)
    gt[1:4, 1:4] = 1
    gt[4:, :3] = 2
    probs = np.full((4, 6, 6), 0.1, np.float32)
    for c in range(3):
        probs[c][gt == c] = 0.7
    probs /= probs.sum(0, keepdims=True)
    res = segloss.score(probs, gt, losses="lovasz_softmax", weights=[1, 2, 3, 4]).losses["lovasz_softmax"]
    per = res.per_class
    assert per[3] is None and per[1] is not None and per[2] is not None
    assert res.value == pytest.approx((2 * per[1] + 3 * per[2]) / (2 + 3), rel=1e-12)


# --- 4. Cost in the number of classes ------------------------------------------------------------------


def _numpy_stats(values):
    """The statistics as numpy computes them for any number of values (the oracle)."""
    d = np.array(values, dtype=np.float64)
    q1, med, q3 = np.percentile(d, [25, 50, 75])
    return tuple(float(x) for x in (d.mean(), d.std(), med, q1, q3, d.min(), d.max()))


def _bits(values):
    import struct

    return tuple(struct.pack("<d", v) for v in values)


@pytest.mark.parametrize("n_values", [1, 2, 3])
def test_the_statistics_of_few_values_are_numpys_to_the_bit(n_values):
    from hypothesis import given
    from hypothesis import strategies as st

    from segloss_cli.aggregate import Values

    metric_values = st.floats(min_value=-1e6, max_value=1e6, allow_nan=False)  # squares must not overflow

    @given(st.lists(metric_values, min_size=n_values, max_size=n_values))
    def check(values):
        acc = Values()
        for v in values:
            acc.add(v)
        s = acc.stats()
        got = (s.mean, s.std, s.median, s.q1, s.q3, s.min, s.max)
        want = _numpy_stats(values)
        assert _bits(got) == _bits(want), (values, got, want)

    check()
    acc = Values()
    acc.add(-0.0)
    s = acc.stats()
    assert _bits((s.mean, s.median)) == _bits((0.0, -0.0))  # numpy's own signs of zero


def test_a_huge_requirements_source_is_refused_before_parsing(tmp_path, pair):
    big = tmp_path / "big.toml"
    big.write_text("require = [" + ",".join(['"dice>=0.5"'] * 500_000) + "]\n")  # 6 MB
    res = cli("eval", *pair, "--metrics", "dice", "--require-file", big)
    assert res.exit_code == 2 and "a requirements file may hold at most 4 MB" in res.stderr, res.stderr
    many = tmp_path / "many.toml"
    many.write_text("require = [" + ",".join(['"dice>=0.5"'] * 10_001) + "]\n")
    res = cli("eval", *pair, "--metrics", "dice", "--require-file", many)
    assert res.exit_code == 2 and "holds 10,001 requirements; segloss checks at most 10,000" in res.stderr
    args = [a for _ in range(10_001) for a in ("--require", "dice>=0.5")]
    res = cli("eval", *pair, "--metrics", "dice", *args)
    assert res.exit_code == 2 and "10,001 requirements; segloss checks at most 10,000" in res.stderr


def test_nibabel_log_lines_never_reach_the_real_stderr(tmp_path):
    """A subprocess sees what a user sees: nibabel's handler writes to the process's stderr,
    which CliRunner does not capture. A zero pixdim printed "pixdim[1,2,3] should be
    non-zero; setting 0 dims to 1" before segloss's own line."""
    gt, blob = _nifti_blob()
    bad = tmp_path / "bad.nii"
    bad.write_bytes(_edit(blob, 80, "<f", 0.0))
    np.save(tmp_path / "g.npy", gt)
    res = segloss("eval", bad, tmp_path / "g.npy", "--metrics", "dice", capture_output=True)
    lines = res.stderr.decode().splitlines()
    assert res.returncode == 2 and len(lines) == 1 and "axis 1 is zero or not finite" in lines[0], lines


def _many_labels(n: int, shape=(40, 40), dtype=np.uint16):
    """A PRED/GT pair whose GT holds labels 1..n (each a few pixels) and PRED 20 % noise."""
    rng = np.random.default_rng(0)
    gt = rng.permutation((np.arange(int(np.prod(shape))) % n + 1).astype(dtype)).reshape(shape)
    pred = gt.copy()
    noisy = rng.random(shape) < 0.2
    pred[noisy] = rng.integers(1, n + 1, int(noisy.sum()))
    return pred, gt


def test_the_json_is_written_one_class_at_a_time():
    """write_json gives the document in pieces of about one class, never the whole text; joined,
    they are json.dumps(indent=2) of the run's dict (the json module as the oracle)."""
    import json

    import segloss
    from segloss_cli.report.json_ import run_dict, write_json

    pred, gt = _many_labels(300)
    run = segloss.run(pred, gt, metrics="overlap")
    pieces: list[str] = []
    write_json(run, pieces.append)
    text = "".join(pieces)
    assert text == json.dumps(run_dict(run), indent=2, allow_nan=False) + "\n"
    assert len(run.cases[0].classes) == 300 and max(map(len, pieces)) < len(text) / 300


def test_the_json_file_and_stdout_are_the_same_streamed_document(tmp_path):
    import json

    pred, gt = _many_labels(300)
    np.save(tmp_path / "p.npy", pred)
    np.save(tmp_path / "g.npy", gt)
    out = tmp_path / "out.json"
    res = cli("eval", tmp_path / "p.npy", tmp_path / "g.npy", "--metrics", "dice", "--json", out, "--format", "json")
    assert res.exit_code == 0, res.stderr
    assert out.read_text() == res.stdout and len(json.loads(res.stdout)["cases"][0]["classes"]) == 300
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []  # no temporary file left


def test_a_table_of_many_classes_shows_the_first_200_and_says_where_the_rest_is(tmp_path):
    import json

    from segloss_cli.report.table import MAX_TABLE_CLASSES

    pred, gt = _many_labels(250)
    np.save(tmp_path / "p.npy", pred)
    np.save(tmp_path / "g.npy", gt)
    res = cli("eval", tmp_path / "p.npy", tmp_path / "g.npy", "--metrics", "dice", "--json", tmp_path / "o.json")
    assert res.exit_code == 0, res.stderr
    rows = [line.split("│")[1].strip() for line in res.stdout.splitlines() if line.startswith("│")]
    labels = [r for r in rows if r]
    assert MAX_TABLE_CLASSES == 200 and labels == [str(v) for v in range(1, 201)]
    assert "the first 200 of 250 classes (50 left out; the mean row is over all of them)" in res.stdout
    dice = [c["metrics"]["dice"] for c in json.loads((tmp_path / "o.json").read_text())["cases"][0]["classes"].values()]
    mean_row = next(line for line in res.stdout.splitlines() if "mean over classes" in line)
    assert f"{np.mean(dice):.4f}" in mean_row  # over all 250 classes, not the 200 shown
    folder = cli("eval", tmp_path, tmp_path, "--metrics", "dice", "--pattern", "*.npy")  # two cases, 250 classes
    assert folder.exit_code == 0, folder.stderr
    assert "the first 200 of 250 classes" in folder.stdout and "--summary-csv" in folder.stdout


def test_more_classes_than_a_16_bit_map_holds_is_one_line_exit_2_and_nothing_written(tmp_path):
    """70,000 distinct labels (an instance map): refused after the label scan, before any
    per-class work; it took minutes and gigabytes before (90,000 labels: 4.8 GB, killed at 5 min)."""
    pred, gt = _many_labels(70_000, shape=(280, 250), dtype=np.uint32)
    np.save(tmp_path / "p.npy", pred)
    np.save(tmp_path / "g.npy", gt)
    out = tmp_path / "out.json"
    out.write_text("old")
    res = cli("eval", tmp_path / "p.npy", tmp_path / "g.npy", "--metrics", "dice", "--json", out)
    assert res.exit_code == 2, res.stderr
    lines = res.stderr.splitlines()
    assert len(lines) == 1 and "the case has 70,000 classes" in lines[0] and "at most 65,536 per case" in lines[0]
    assert out.read_text() == "old"
    few = cli("eval", tmp_path / "p.npy", tmp_path / "g.npy", "--metrics", "dice", "--labels", "1,69999", "-q")
    assert few.exit_code == 0, few.stderr  # choosing the classes is the way out


@pytest.mark.parametrize(
    "dtype,ignore,hint",
    [
        (np.uint8, -1, "-1 written as uint8 is stored as 255: pass --ignore-label 255"),
        (np.uint16, -1, "-1 written as uint16 is stored as 65535: pass --ignore-label 65535"),
        (np.uint8, 300, "stored as uint8 (0..255)"),
        (np.int8, 200, "stored as int8 (-128..127)"),
    ],
)
def test_an_ignore_label_the_gt_type_cannot_hold_is_one_line_exit_2(tmp_path, pair, dtype, ignore, hint):
    p, g = pair
    np.save(g, np.load(g).astype(dtype))
    res = cli("eval", p, g, "--metrics", "dice", "--ignore-label", ignore)
    assert res.exit_code == 2, res.stdout
    lines = res.stderr.splitlines()
    assert len(lines) == 1 and f"--ignore-label {ignore} can never occur in GT" in lines[0] and hint in lines[0]


def test_a_negative_ignore_label_in_a_signed_map_leaves_its_voxels_out(tmp_path):
    """--ignore-label -1 on an int16 GT: the voxels where GT is -1 are in no count (oracle: numpy
    on the other voxels); without it, -1 is a negative label (exit 2)."""
    import json

    rng = np.random.default_rng(3)
    gt = rng.integers(-1, 3, (9, 9)).astype(np.int16)
    pred = rng.integers(0, 3, (9, 9)).astype(np.int16)
    np.save(tmp_path / "p.npy", pred)
    np.save(tmp_path / "g.npy", gt)
    res = cli("eval", tmp_path / "p.npy", tmp_path / "g.npy", "--metrics", "tp,fp,fn", "--ignore-label", "-1",
              "--format", "json")  # fmt: skip
    assert res.exit_code == 0, res.stderr
    classes = json.loads(res.stdout)["cases"][0]["classes"]
    keep = gt != -1
    for label in (1, 2):
        p, g = pred[keep] == label, gt[keep] == label
        want = {"tp": int((p & g).sum()), "fp": int((p & ~g).sum()), "fn": int((~p & g).sum())}
        assert classes[str(label)]["metrics"] == want
    assert "-1" not in classes
    res = cli("eval", tmp_path / "p.npy", tmp_path / "g.npy", "--metrics", "dice")
    assert res.exit_code == 2 and "GT has negative labels (min -1)" in res.stderr


# --- 10. Hostile values found in the second pass ---------------------------------------------------


@pytest.mark.parametrize("bar", ["dice<=inf", "dice>=-inf", "hd95<=1e400", "dice>=" + "9" * 400])
def test_a_threshold_beyond_a_float_is_one_line_exit_2(pair, bar):
    """1e400 parses as inf: 'hd95<=1e400' passed every case and 'dice>=1e400' failed every one."""
    res = cli("eval", *pair, "--metrics", "dice,hd95", "--spacing", "1", "--require", bar)
    assert res.exit_code == 2, res.stderr
    assert res.stderr.count("\n") == 1 and "the threshold must be a finite number" in res.stderr


@pytest.mark.parametrize(
    "text,expected",
    [
        ('{"99999999999999999999": "x"}', "names label 99999999999999999999, beyond a 64-bit label"),
        ('{"1": "liver", "1": "spleen"}', "has the key '1' twice; give each label one name"),
        ('{"1": ' + "1" * 5000 + "}", "--label-names holds a number too large to parse"),
    ],
)
def test_a_label_file_that_says_nothing_or_two_things_is_one_line_exit_2(tmp_path, pair, text, expected):
    names = tmp_path / "names.json"
    names.write_text(text)
    res = cli("eval", *pair, "--metrics", "dice", "--label-names", names)
    assert res.exit_code == 2, res.stdout
    assert res.stderr.count("\n") == 1 and expected in res.stderr, res.stderr


def test_a_byte_order_mark_is_no_reason_to_refuse_a_label_or_requirements_file(tmp_path, pair):
    names = tmp_path / "names.json"
    names.write_bytes(b'\xef\xbb\xbf{"1": "liver"}')
    req = tmp_path / "req.toml"
    req.write_bytes(b'\xef\xbb\xbfrequire = ["dice>=0.5"]\n')
    res = cli("eval", *pair, "--metrics", "dice", "--label-names", names, "--require-file", req, "--format", "json")
    assert res.exit_code == 0, res.stderr
    import json

    assert json.loads(res.stdout)["cases"][0]["classes"]["1"]["name"] == "liver"


def test_a_result_file_with_a_key_twice_is_refused_and_a_bom_is_read(tmp_path, pair):
    out = tmp_path / "base.json"
    assert cli("eval", *pair, "--metrics", "dice", "--json", out, "-q").exit_code == 0
    text = out.read_text()
    dup = tmp_path / "dup.json"  # a second "summary" that Python's json would silently take
    dup.write_text(text.rstrip()[:-1] + ', "summary": {"n_cases": 1, "classes": {}, "mean_over_classes": {}}}\n')
    res = cli("compare", out, dup)
    assert res.exit_code == 2 and "has the key 'summary' twice in one object" in res.stderr, res.stderr
    bom = tmp_path / "bom.json"
    bom.write_bytes(b"\xef\xbb\xbf" + text.encode())
    res = cli("compare", out, bom)
    assert res.exit_code == 0, res.stderr


def test_plots_into_an_input_folder_are_refused(tmp_path):
    """The PNG plots would be read as prediction cases by the next run of the same command."""
    pytest.importorskip("matplotlib")
    for d in ("p", "g"):
        (tmp_path / d).mkdir()
        np.save(tmp_path / d / "c1.npy", np.eye(4, dtype=np.uint8))
    res = cli("eval", tmp_path / "p", tmp_path / "g", "--metrics", "dice", "--plots", tmp_path / "p")
    assert res.exit_code == 2 and "is the input folder" in res.stderr, res.stderr
    assert sorted(os.listdir(tmp_path / "p")) == ["c1.npy"]


def test_control_characters_in_names_and_options_are_shown_escaped(tmp_path, pair):
    """An escape sequence in a class name (from a label file or a NIfTI header) or in an option
    reached the terminal as is (\\x1b[2J clears it), and a newline split a table row or an
    error line in two."""
    names = tmp_path / "names.json"
    names.write_text('{"1": "a\\nb\\u001b[2Jc\\u202e"}')
    res = cli("eval", *pair, "--metrics", "dice", "--label-names", names)
    assert res.exit_code == 0, res.stderr
    assert "\x1b" not in res.stdout and "\u202e" not in res.stdout
    assert "a\\nb\\x1b[2Jc\\u202e" in res.stdout
    res = cli("eval", *pair, "--metrics", "dice", "--require", "dice>=0.5\n\x1b[2J")
    assert res.exit_code == 2 and res.stderr.count("\n") == 1 and "\x1b" not in res.stderr
    assert "dice>=0.5\\n\\x1b[2J" in res.stderr


def test_the_failed_check_table_of_many_classes_shows_the_first_200(tmp_path):
    """'dice>=0.99' over 16,000 classes printed a 13,000-line table on stderr."""
    pred, gt = _many_labels(250)
    np.save(tmp_path / "p.npy", pred)
    np.save(tmp_path / "g.npy", gt)
    md = tmp_path / "gate.md"
    res = cli("eval", tmp_path / "p.npy", tmp_path / "g.npy", "--metrics", "dice", "--require", "dice>=1.0",
              "--markdown", md, "-q")  # fmt: skip
    assert res.exit_code == 1, res.stderr
    rows = [line for line in res.stderr.splitlines() if line.startswith("│ dice>=1.0")]
    n_failed = md.read_text().count("| dice>=1.0 |")
    assert n_failed > 200 and len(rows) == 200
    assert f"the first 200 of {n_failed} failed checks; --markdown FILE lists every one\n" in res.stderr


@pytest.mark.skipif(not os.path.exists("/dev/stdout"), reason="needs /dev/stdout")
def test_json_to_dev_stdout_on_a_pipe_is_written_into_the_pipe(pair):
    """/dev/stdout -> /proc/self/fd/1 -> 'pipe:[N]', a name that exists nowhere: the temporary
    file was made beside it (FileNotFoundError, exit 3)."""
    import json

    res = segloss("eval", *pair, "--metrics", "dice", "-q", "--json", "/dev/stdout", "--format", "csv",
                  capture_output=True)  # fmt: skip
    assert res.returncode == 0, res.stderr
    out = res.stdout.decode()
    assert json.loads(out[out.index("{") : out.rindex("}") + 1])["cases"][0]["classes"]["1"]["metrics"]["dice"] > 0
    assert out.startswith("{") and "case,label,name,status,dice" in out  # the file first, then stdout's CSV


def test_a_dollar_in_a_class_name_or_case_id_is_literal_text_in_the_plots(tmp_path):
    """matplotlib reads $...$ as mathtext: a label file naming a class '$\\undefinedcmd{$' (or a
    case file so named) made the HTML report raise ValueError (exit 3)."""
    pytest.importorskip("matplotlib")
    for d in ("p", "g"):
        (tmp_path / d).mkdir()
    rng = np.random.default_rng(0)
    for case in ("c1", "$\\bad{"):
        gt = np.zeros((12, 12), np.uint8)
        gt[2:8, 2:8], gt[8:11, 8:11] = 1, 2
        pred = np.where(rng.random(gt.shape) < 0.1, 0, gt).astype(np.uint8)
        np.save(tmp_path / "p" / f"{case}.npy", pred)
        np.save(tmp_path / "g" / f"{case}.npy", gt)
    names = tmp_path / "names.json"
    names.write_text('{"1": "$\\\\undefinedcmd{$", "2": "x$^$y"}')
    html = tmp_path / "r.html"
    res = cli("eval", tmp_path / "p", tmp_path / "g", "--metrics", "dice", "--label-names", names, "--html", html,
              "--plots", tmp_path / "plots", "-q")  # fmt: skip
    assert res.exit_code == 0, res.stderr
    assert html.stat().st_size > 0 and sorted(os.listdir(tmp_path / "plots"))


@pytest.mark.skipif(not os.path.exists("/dev/zero"), reason="needs /dev/zero")
@pytest.mark.parametrize("option", ["--require-file", "--label-names", "--palette", "compare"])
def test_an_input_text_file_that_never_ends_is_one_line_exit_2(tmp_path, pair, option):
    """/dev/zero (or a pipe fed by `yes`) as a requirements, label, palette or result file was
    read until memory ran out; now the first chunk (a NUL byte) or the size limit stops it."""
    if option == "compare":
        out = tmp_path / "r.json"
        assert cli("eval", *pair, "--metrics", "dice", "--json", out, "-q").exit_code == 0
        res = cli("compare", "/dev/zero", out)
    else:
        res = cli("eval", *pair, "--metrics", "dice", option, "/dev/zero")
    assert res.exit_code == 2 and res.stderr.count("\n") == 1, res.stderr
    assert "holds NUL bytes: it is not a text file" in res.stderr


def test_a_requirements_pipe_longer_than_the_limit_is_refused_after_the_limit(tmp_path, pair):
    fifo = tmp_path / "req.fifo"
    os.mkfifo(fifo)
    feeder = subprocess.Popen(["sh", "-c", f"yes 'x' > {fifo}"], stderr=subprocess.DEVNULL)
    try:
        res = cli("eval", *pair, "--metrics", "dice", "--require-file", fifo)
    finally:
        feeder.kill()
        feeder.wait()
    assert res.exit_code == 2 and "is larger than 4 MB (or a stream that does not end)" in res.stderr, res.stderr


class _FullDisk:
    """A text file on a disk that fills after 1,000 bytes: write, and close (its flush), raise ENOSPC."""

    def __init__(self, real):
        self.real, self.n, self.closed = real, 0, False

    def _full(self):
        import errno

        return OSError(errno.ENOSPC, "No space left on device")

    def write(self, text):
        self.n += len(text)
        if self.n > 1000:
            raise self._full()
        return self.real.write(text)

    def flush(self):
        self.real.flush()

    def fileno(self):
        return self.real.fileno()

    def close(self):
        self.closed = True
        self.real.close()
        if self.n > 1000:
            raise self._full()


def test_a_disk_filling_while_the_json_streams_is_one_line_and_no_temporary_file(tmp_path, monkeypatch):
    """The JSON goes into its temporary file as it is made; the disk filling midway raised again
    when the temporary file was closed for removal (exit 3, the file left behind)."""
    from segloss_cli.io import atomic

    init = atomic.StreamedOutput.__init__

    def on_a_full_disk(self, path):
        init(self, path)
        self.file = _FullDisk(self.file)

    monkeypatch.setattr(atomic.StreamedOutput, "__init__", on_a_full_disk)
    pred, gt = _many_labels(300)
    (tmp_path / "in").mkdir()
    np.save(tmp_path / "in" / "p.npy", pred)
    np.save(tmp_path / "in" / "g.npy", gt)
    out = tmp_path / "out.json"
    out.write_text("old")
    res = cli("eval", tmp_path / "in" / "p.npy", tmp_path / "in" / "g.npy", "--metrics", "dice", "--json", out, "-q")
    assert res.exit_code == 2, res.stderr
    lines = res.stderr.splitlines()
    assert len(lines) == 1 and "cannot write the output: no space left on the device" in lines[0], lines
    assert out.read_text() == "old" and sorted(os.listdir(tmp_path)) == ["in", "out.json"]


def test_a_header_spacing_beyond_any_voxel_is_one_line_exit_2(tmp_path):
    nib = pytest.importorskip("nibabel")
    gt = np.zeros((6, 6, 4), np.uint8)
    gt[1:4, 1:4, 1:3] = 1
    nib.save(nib.Nifti1Image(gt, np.diag([1e30, 1, 1, 1])), tmp_path / "g.nii.gz")
    res = cli("eval", tmp_path / "g.nii.gz", tmp_path / "g.nii.gz", "--metrics", "dice,hd95")
    assert res.exit_code == 2 and res.stderr.count("\n") == 1, res.stderr
    assert "outside 1e-09 .. 1e+09 mm" in res.stderr


def test_a_lesion_dilation_beyond_int64_is_one_line_exit_2(pair):
    res = cli("eval", *pair, "--metrics", "lesion", "--spacing", "1", "--lesion-dilation", str(10**20))
    assert res.exit_code == 2, res.stderr  # it reached numba as an object: TypingError, exit 3
    assert "--lesion-dilation must be at most 10,000" in res.stderr


def test_the_summary_statistics_of_many_classes_at_once_are_each_ones_to_the_bit():
    """aggregate.stats_many (one numpy call per group of equal length, ~3 us a value instead of
    ~70 us: 20 metrics cost 1.4 ms per class of a folder summary) against Values.stats row by
    row: lengths 0..6 and 1,000 (numpy's pairwise sums recurse there), nulls, -0.0, infinities."""
    import struct

    from segloss_cli.aggregate import Values, stats_many

    def bits(s):
        fields = (s.mean, s.std, s.median, s.q1, s.q3, s.min, s.max, s.n, s.n_null)
        return tuple(struct.pack("<d", x) if isinstance(x, float) else x for x in fields)

    rng = np.random.default_rng(7)
    accs = []
    for i in range(600):
        acc = Values(n_null=int(rng.integers(0, 3)))
        n = 1000 if i % 50 == 0 else int(rng.integers(0, 7))
        for x in rng.normal(size=n) * 10.0 ** rng.integers(-3, 4):
            acc.add(float(x))
        if i % 37 == 0:
            acc.add(float("inf") if i % 2 else -0.0)
        accs.append(acc)
    assert [bits(s) for s in stats_many(accs)] == [bits(a.stats()) for a in accs]


def test_the_markdown_summary_of_many_classes_shows_the_first_200(tmp_path):
    """A GitHub job summary holds at most 1 MiB; 16,000 classes made a 2.9 MB Markdown file."""
    pred, gt = _many_labels(250)
    np.save(tmp_path / "p.npy", pred)
    np.save(tmp_path / "g.npy", gt)
    md = tmp_path / "s.md"
    res = cli("eval", tmp_path / "p.npy", tmp_path / "g.npy", "--metrics", "dice", "--markdown", md, "-q")
    assert res.exit_code == 0, res.stderr
    text = md.read_text()
    assert "the first 200 of 250 classes" in text and "50 more classes in the JSON and CSV outputs." in text
    assert "| 200 |" in text and "| 201 |" not in text
