"""`segloss eval` end to end: files on disk -> CLI -> table / JSON / CSV, checked against numpy."""

import csv
import io
import json
import subprocess
import sys

import numpy as np
import pytest
from typer.testing import CliRunner

from segloss_cli.cli import app
from tests import naive
from tests.conftest import write_nifti

runner = CliRunner()


def run(*args):
    return runner.invoke(app, [str(a) for a in args])


@pytest.fixture
def pair(tmp_path, rng):
    gt = np.zeros((12, 10, 8), np.uint8)
    gt[2:8, 2:7, 1:6] = 1
    gt[6:11, 5:9, 3:7] = 2
    gt[0:2, 0:2, 0:2] = 4  # a class the prediction misses entirely
    pred = gt.copy()
    pred[2:4] = 0
    pred[7:10, 1:3, 1:3] = 3  # a class absent from GT
    pred[pred == 4] = 0
    sp = (0.8, 0.9, 2.5)
    return (
        write_nifti(tmp_path / "pred.nii.gz", pred, sp),
        write_nifti(tmp_path / "gt.nii.gz", gt, sp),
        pred,
        gt,
        sp,
    )


def _json(result):
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def test_json_values_match_numpy_oracle(pair):
    p, g, pred, gt, sp = pair
    doc = _json(run("eval", p, g, "--format", "json", "--metrics", "overlap"))
    assert doc["schema_version"] == 1
    case = doc["cases"][0]
    assert list(case["classes"]) == ["1", "2", "3", "4"]  # union of labels, background excluded
    assert case["spacing"] == pytest.approx(sp)
    voxel_ml = np.prod(np.float32(sp).astype(np.float64)) / 1000
    for key, row in case["classes"].items():
        tp, fp, fn, tn = naive.confusion(pred, gt, int(key))
        for name, value in row["metrics"].items():
            want = naive.metric(name, tp, fp, fn, tn, voxel_ml=voxel_ml)
            if row["status"] != "ok" and name in ("dice", "iou", "volume_similarity"):
                continue  # empty-mask rule, tested separately
            if want is None:
                assert value is None, (key, name)
            else:
                assert value == pytest.approx(want, rel=1e-9), (key, name)
    assert case["classes"]["3"]["status"] == "gt_empty"
    assert case["classes"]["4"]["status"] == "pred_empty"
    assert case["classes"]["4"]["metrics"]["dice"] == 0.0
    assert "NaN" not in json.dumps(doc) and "Infinity" not in json.dumps(doc)


def test_csv_columns_and_rows(pair):
    p, g, *_ = pair
    result = run("eval", p, g, "--format", "csv", "--metrics", "dice,recall,tp")
    assert result.exit_code == 0, result.output
    rows = list(csv.reader(io.StringIO(result.stdout)))
    assert rows[0] == ["case", "label", "name", "status", "dice", "recall", "tp"]
    assert [r[1] for r in rows[1:]] == ["1", "2", "3", "4"]
    assert rows[3][3] == "gt_empty" and rows[3][5] == ""  # recall undefined -> empty cell


def test_json_and_csv_files_match_stdout(pair, tmp_path):
    p, g, *_ = pair
    out_json, out_csv = tmp_path / "r.json", tmp_path / "r.csv"
    result = run("eval", p, g, "--format", "json", "--json", out_json, "--csv", out_csv, "--metrics", "overlap")
    assert result.exit_code == 0
    assert json.loads(out_json.read_text()) == json.loads(result.stdout)
    assert out_csv.read_text() == run("eval", p, g, "--format", "csv", "--metrics", "overlap").stdout
    assert not list(tmp_path.glob(".*.tmp"))


def test_table_shows_names_and_status(pair, tmp_path):
    p, g, *_ = pair
    names = tmp_path / "names.json"
    names.write_text(json.dumps({"labels": {"background": 0, "liver": 1, "kidney": 2}}))
    result = run("eval", p, g, "--label-names", names, "--metrics", "dice,iou")
    assert result.exit_code == 0, result.output
    assert "liver" in result.stdout and "kidney" in result.stdout
    assert "pred_empty" in result.stdout


def test_label_names_plain_mapping(pair, tmp_path):
    p, g, *_ = pair
    names = tmp_path / "names.json"
    names.write_text(json.dumps({"1": "liver", "2": "spleen"}))
    doc = _json(run("eval", p, g, "--label-names", names, "--format", "json", "--metrics", "dice"))
    assert doc["cases"][0]["classes"]["2"]["name"] == "spleen"
    assert doc["cases"][0]["classes"]["3"]["name"] is None


def test_labels_include_background_and_absent_label(pair):
    p, g, pred, gt, _ = pair
    doc = _json(
        run("eval", p, g, "--labels", "0,2,9", "--include-background", "--format", "json", "--metrics", "dice,tp")
    )
    classes = doc["cases"][0]["classes"]
    assert list(classes) == ["0", "2", "9"]
    assert classes["9"]["status"] == "both_empty" and classes["9"]["metrics"]["dice"] == 1.0
    assert classes["0"]["metrics"]["tp"] == naive.confusion(pred, gt, 0)[0]
    doc = _json(run("eval", p, g, "--labels", "0,2", "--format", "json", "--metrics", "dice"))
    assert list(doc["cases"][0]["classes"]) == ["2"]


def test_ignore_label(tmp_path, rng):
    gt = rng.integers(0, 3, (9, 9, 4)).astype(np.uint8)
    gt[:3] = 255
    pred = rng.integers(0, 3, (9, 9, 4)).astype(np.uint8)
    p = write_nifti(tmp_path / "p.nii.gz", pred)
    g = write_nifti(tmp_path / "g.nii.gz", gt)
    doc = _json(run("eval", p, g, "--ignore-label", "255", "--format", "json", "--metrics", "tp,fp,fn,tn"))
    assert list(doc["cases"][0]["classes"]) == ["1", "2"]
    for key, row in doc["cases"][0]["classes"].items():
        assert tuple(row["metrics"][k] for k in ("tp", "fp", "fn", "tn")) == naive.confusion(pred, gt, int(key), 255)


def test_empty_policy_nan(pair):
    p, g, *_ = pair
    doc = _json(run("eval", p, g, "--empty-policy", "nan", "--format", "json", "--metrics", "dice,precision"))
    classes = doc["cases"][0]["classes"]
    assert classes["4"]["metrics"]["dice"] is None and classes["3"]["metrics"]["dice"] is None
    assert classes["3"]["metrics"]["precision"] == 0.0  # defined: denominator is not 0


def _probs(rng, shape, k):
    x = rng.random((k,) + shape)
    return (x / x.sum(0)).astype(np.float32)


def test_probabilities_channel_last_nifti_and_channel_first_npy(tmp_path, rng):
    shape = (7, 6, 5)
    probs = _probs(rng, shape, 4)
    probs[:, 0, 0, 0] = [0.4, 0.4, 0.1, 0.1]  # tie -> lowest class
    gt = rng.integers(0, 4, shape).astype(np.uint8)
    write_nifti(tmp_path / "g.nii.gz", gt)
    write_nifti(tmp_path / "p.nii.gz", np.moveaxis(probs, 0, -1))
    np.save(tmp_path / "p.npy", probs)
    np.save(tmp_path / "g.npy", gt)
    hard = probs.argmax(0)
    assert hard[0, 0, 0] == 0
    a = _json(run("eval", tmp_path / "p.nii.gz", tmp_path / "g.nii.gz", "--format", "json", "--metrics", "tp,fp,fn"))
    b = _json(run("eval", tmp_path / "p.npy", tmp_path / "g.npy", "--format", "json", "--metrics", "tp,fp,fn"))
    assert list(a["cases"][0]["classes"]) == ["1", "2", "3"]
    for key in ("1", "2", "3"):
        tp, fp, fn, _ = naive.confusion(hard, gt, int(key))
        assert a["cases"][0]["classes"][key]["metrics"] == {"tp": tp, "fp": fp, "fn": fn}
        assert b["cases"][0]["classes"][key]["metrics"] == {"tp": tp, "fp": fp, "fn": fn}


def test_sigmoid_single_channel_threshold(tmp_path, rng):
    p1 = rng.random((8, 8)).astype(np.float32)
    gt = (rng.random((8, 8)) > 0.5).astype(np.uint8)
    np.save(tmp_path / "p.npy", p1[np.newaxis])
    np.save(tmp_path / "g.npy", gt)
    for thr in (0.5, 0.3):
        doc = _json(
            run(
                "eval",
                tmp_path / "p.npy",
                tmp_path / "g.npy",
                "--threshold",
                thr,
                "--format",
                "json",
                "--metrics",
                "tp,fp",
            )
        )
        tp, fp, _, _ = naive.confusion((p1 >= thr).astype(np.uint8), gt, 1)
        assert doc["cases"][0]["classes"]["1"]["metrics"] == {"tp": tp, "fp": fp}


def test_logits(tmp_path, rng):
    logits = (rng.normal(size=(3, 6, 6, 4)) * 50).astype(np.float32)
    gt = rng.integers(0, 3, (6, 6, 4)).astype(np.uint8)
    np.save(tmp_path / "p.npy", logits)
    np.save(tmp_path / "g.npy", gt)
    doc = _json(
        run(
            "eval",
            tmp_path / "p.npy",
            tmp_path / "g.npy",
            "--pred-type",
            "logits",
            "--format",
            "json",
            "--metrics",
            "tp",
        )
    )
    hard = logits.argmax(0)
    assert doc["cases"][0]["classes"]["2"]["metrics"]["tp"] == naive.confusion(hard, gt, 2)[0]
    result = run("eval", tmp_path / "p.npy", tmp_path / "g.npy", "--format", "json")
    assert result.exit_code == 2 and "--pred-type logits" in result.stderr


def test_float_label_map_with_integral_values_accepted(tmp_path, rng):
    gt = rng.integers(0, 3, (5, 5, 5)).astype(np.uint8)
    p = write_nifti(tmp_path / "p.nii.gz", gt.astype(np.float32))
    g = write_nifti(tmp_path / "g.nii.gz", gt)
    doc = _json(run("eval", p, g, "--format", "json", "--metrics", "dice"))
    assert all(r["metrics"]["dice"] == 1.0 for r in doc["cases"][0]["classes"].values())


@pytest.mark.parametrize(
    "change,needle",
    [
        ({"shape": (12, 10, 7)}, "shape mismatch"),
        ({"spacing": (0.8, 0.9, 3.0)}, "spacing mismatch"),
        ({"flip": True}, "orientation mismatch"),
        ({"shift": 5.0}, "origin mismatch"),
    ],
)
def test_geometry_mismatch_is_a_clear_error(pair, tmp_path, change, needle):
    _, g, pred, _, sp = pair
    affine = np.diag(list(change.get("spacing", sp)) + [1.0])
    if change.get("flip"):
        affine[0, 0] = -affine[0, 0]
    if "shift" in change:
        affine[:3, 3] = change["shift"]
    arr = np.zeros(change.get("shape", pred.shape), np.uint8)
    bad = write_nifti(tmp_path / "bad.nii.gz", arr, change.get("spacing", sp), affine=affine)
    result = run("eval", bad, g)
    assert result.exit_code == 2
    assert needle in result.stderr and "bad.nii.gz" in result.stderr
    assert "Traceback" not in result.output


def test_version_and_python_m():
    out = subprocess.run([sys.executable, "-m", "segloss_cli", "--version"], capture_output=True, text=True)
    assert out.returncode == 0 and out.stdout.startswith("segloss ")


def test_help_does_not_import_numba():
    code = (
        "import sys\n"
        "from segloss_cli.cli import app\n"
        "try:\n    app(['--help'])\nexcept SystemExit:\n    pass\n"
        "try:\n    app(['eval', '--help'])\nexcept SystemExit:\n    pass\n"
        "assert 'numba' not in sys.modules, 'numba imported by --help'\n"
        "assert 'numpy' not in sys.modules, 'numpy imported by --help'\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert "PRED" in out.stdout


def test_cli_skips_numbas_scipy_blas_probe_but_library_use_keeps_it(tmp_path):
    """The command does not pay for importing scipy.linalg (numba's BLAS probe); importing
    segloss as a library leaves numba's probe alone."""
    pytest.importorskip("scipy.linalg")  # the probe only costs anything where scipy is installed
    gt = np.zeros((6, 7, 8), np.uint8)
    gt[1:4, 2:5, 3:6] = 1
    write_nifti(tmp_path / "g.nii.gz", gt)
    cli = (
        "import sys\n"
        "from segloss_cli.cli import main\n"
        f"sys.argv = ['segloss', 'eval', {str(tmp_path / 'g.nii.gz')!r}, {str(tmp_path / 'g.nii.gz')!r}, '--format', 'json']\n"
        "try:\n    main()\nexcept SystemExit as e:\n    assert not e.code, e.code\n"
        "assert 'numba.np.arraymath' in sys.modules\n"
        "print('scipy.linalg' in sys.modules)\n"
    )
    out = subprocess.run([sys.executable, "-c", cli], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip().splitlines()[-1] == "False"
    library = (
        "import sys, numpy as np\n"
        "from segloss_cli.metrics.overlap import confusion\n"
        "confusion(np.zeros((2, 2, 2), np.uint8), np.zeros((2, 2, 2), np.uint8), [0])\n"
        "print('scipy.linalg' in sys.modules)\n"
    )
    out = subprocess.run([sys.executable, "-c", library], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "True"


def test_metrics_listing_reads_registry():
    from segloss_cli.metrics.registry import all_metrics

    result = run("metrics", "--json")
    assert result.exit_code == 0
    rows = json.loads(result.stdout)
    assert [r["name"] for r in rows] == list(all_metrics())
    table = run("metrics")
    assert "dice" in table.stdout and "2TP/(2TP+FP+FN)" in table.stdout


def test_summary_csv_kinds_for_metrics_and_losses(tmp_path, rng):
    probs = _probs(rng, (6, 5, 4), 3)
    gt = rng.integers(0, 3, (6, 5, 4)).astype(np.uint8)
    np.save(tmp_path / "p.npy", probs)
    np.save(tmp_path / "g.npy", gt)
    out = tmp_path / "s.csv"
    result = run(
        "eval",
        tmp_path / "p.npy",
        tmp_path / "g.npy",
        "--metrics",
        "dice",
        "--losses",
        "dice",
        "--summary-csv",
        out,
        "--format",
        "json",
    )
    assert result.exit_code == 0, result.output
    rows = list(csv.DictReader(io.StringIO(out.read_text())))
    kinds = {(r["label"], r["kind"], r["key"]) for r in rows}
    assert {("1", "metric", "dice"), ("2", "metric", "dice"), ("1", "loss", "dice"), ("all", "loss", "dice")} <= kinds
    doc = json.loads(result.stdout)
    loss_row = next(r for r in rows if r["label"] == "all" and r["kind"] == "loss")
    assert float(loss_row["mean"]) == doc["cases"][0]["losses"]["dice"]["value"]


def test_table_header_names_the_hd_percentile_used(pair):
    p, g, *_ = pair
    default = run("eval", p, g, "--metrics", "hd95")
    assert default.exit_code == 0, default.output
    assert "hd95 (mm)" in default.stdout
    other = run("eval", p, g, "--metrics", "hd95", "--hd-percentile", "90")
    assert other.exit_code == 0, other.output
    assert "hd95 = p90 (mm)" in other.stdout


def test_background_only_pair_says_why_nothing_is_reported(tmp_path):
    z = np.zeros((4, 5, 6), np.uint8)
    p = write_nifti(tmp_path / "p.nii.gz", z)
    g = write_nifti(tmp_path / "g.nii.gz", z)
    result = run("eval", p, g, "--format", "json", "--metrics", "dice")
    assert result.exit_code == 0
    assert json.loads(result.stdout)["cases"][0]["classes"] == {}
    assert "no class to report" in result.stderr and "--labels" in result.stderr
    listed = _json(run("eval", p, g, "--labels", "1", "--format", "json", "--metrics", "dice"))
    assert listed["cases"][0]["classes"]["1"] == {"name": None, "status": "both_empty", "metrics": {"dice": 1.0}}


def test_spacing_option_on_nifti_must_agree_with_header(pair):
    p, g, *_ = pair  # header spacing (0.8, 0.9, 2.5)
    same = run("eval", p, g, "--metrics", "dice", "--spacing", "0.8,0.9,2.5", "--format", "json")
    assert same.exit_code == 0, same.output
    other = run("eval", p, g, "--metrics", "dice", "--spacing", "1")
    assert other.exit_code == 2
    assert "disagrees with the header spacing" in other.stderr and "gt.nii.gz" in other.stderr
    assert "Traceback" not in other.output


def test_spacing_one_on_numpy_reports_voxel_units(tmp_path):
    g = np.zeros((12, 12), np.uint8)
    g[3:8, 3:8] = 1
    np.save(tmp_path / "g.npy", g)
    np.save(tmp_path / "p.npy", np.roll(g, 2, axis=0))
    doc = _json(
        run("eval", tmp_path / "p.npy", tmp_path / "g.npy", "--spacing", "1", "--metrics", "hd", "--format", "json")
    )
    assert doc["settings"]["distance_unit"] == "voxel"
    assert doc["cases"][0]["classes"]["1"]["metrics"]["hd"] == 2.0
    table = run("eval", tmp_path / "p.npy", tmp_path / "g.npy", "--spacing", "1", "--metrics", "hd")
    assert "hd (voxel)" in table.stdout
    mm = _json(
        run("eval", tmp_path / "p.npy", tmp_path / "g.npy", "--spacing", "0.5", "--metrics", "hd", "--format", "json")
    )
    assert mm["settings"]["distance_unit"] == "mm" and mm["cases"][0]["classes"]["1"]["metrics"]["hd"] == 1.0
