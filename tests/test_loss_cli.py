"""`segloss losses` and the loss options of `segloss eval`, end to end through the CLI."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from segloss_cli.cli import app
from segloss_cli.losses.registry import LOSSES, PARAMS

from . import naive_losses as naive

runner = CliRunner()
F32_LOG_REL = 2.0**-23  # loss values from float32 probabilities (see kernels/loss_sums.py)
SAMPLE = Path(__file__).resolve().parents[1] / "sample_data"


def softmax(x):
    e = np.exp(x - x.max(0))
    return e / e.sum(0)


@pytest.fixture
def case(tmp_path):
    rng = np.random.default_rng(21)
    gt = rng.integers(0, 3, size=(10, 11, 12)).astype(np.uint8)
    probs = softmax(rng.normal(0, 2, size=(3, 10, 11, 12))).astype(np.float32)
    np.save(tmp_path / "probs.npy", probs)
    np.save(tmp_path / "gt.npy", gt)
    return tmp_path, probs, gt


def invoke(*args):
    return runner.invoke(app, [str(a) for a in args])


def eval_json(tmp_path, *extra, pred="probs.npy"):
    res = invoke("eval", tmp_path / pred, tmp_path / "gt.npy", "--metrics", "dice", "--format", "json", *extra)
    assert res.exit_code == 0, res.output
    return json.loads(res.stdout)


def test_losses_listing_shows_every_loss_and_parameter():
    res = invoke("losses", "--json")
    assert res.exit_code == 0
    rows = {r["name"]: r for r in json.loads(res.stdout)}
    assert set(rows) == set(LOSSES)
    for name, spec in LOSSES.items():
        assert rows[name]["formula"] == spec.formula
        assert set(rows[name]["params"]) == set(spec.params)
        assert rows[name]["per_class"] == spec.decomposes
    table = invoke("losses")
    assert table.exit_code == 0
    for name in LOSSES:
        assert name in table.stdout
    assert "[g log p" in table.stdout  # formulas are printed literally, not eaten as markup


def test_eval_help_lists_every_loss_option_and_lovasz_memory():
    res = invoke("eval", "--help")
    assert res.exit_code == 0
    text = " ".join(res.stdout.split())
    for spec in PARAMS.values():
        assert spec.option in text
    assert "--renormalize" in text and "--smooth" in text
    assert "9 bytes per voxel" in text


def test_default_losses_for_probabilities_and_json_shape(case):
    tmp_path, probs, gt = case
    doc = eval_json(tmp_path)
    losses = doc["cases"][0]["losses"]
    assert set(losses) == {n for n, s in LOSSES.items() if s.default}
    assert doc["settings"]["losses"] == [n for n in LOSSES if LOSSES[n].default]
    dice = losses["dice"]
    assert set(dice) == {"value", "per_class", "params"}
    assert set(dice["per_class"]) == {"1", "2"}
    assert dice["params"] == {
        "smooth_nr": 1e-5,
        "smooth_dr": 1e-5,
        "squared": False,
        "weights": {"0": 1.0, "1": 1.0, "2": 1.0},
    }
    assert losses["generalized_dice"]["per_class"] == {}
    # the value is the oracle's
    P, LP, LQ = naive.activations(probs, "probs")
    G = np.stack([(gt.ravel() == c).astype(float) for c in range(3)])
    want = naive.all_losses(P, LP, LQ, G, [1, 2], np.ones(3), {})
    for name, res in losses.items():
        assert res["value"] == pytest.approx(want[name][1], rel=1e-6), name


def test_label_map_prediction_has_no_losses_unless_asked(case):
    tmp_path, probs, gt = case
    np.save(tmp_path / "labels.npy", probs.argmax(0).astype(np.uint8))
    doc = eval_json(tmp_path, pred="labels.npy")
    assert doc["cases"][0]["losses"] == {}
    doc = eval_json(tmp_path, "--losses", "dice,ce", pred="labels.npy")
    assert set(doc["cases"][0]["losses"]) == {"dice", "ce"}
    assert 1 - doc["cases"][0]["losses"]["dice"]["per_class"]["1"] == pytest.approx(
        doc["cases"][0]["classes"]["1"]["metrics"]["dice"], abs=1e-5
    )  # smoothing 1e-5


def test_options_are_recorded_in_params(case):
    tmp_path, _, _ = case
    doc = eval_json(
        tmp_path,
        "--losses",
        "all",
        "--smooth",
        "0.5",
        "--squared",
        "--weights",
        "2=3",
        "--tversky-alpha",
        "0.4",
        "--tversky-beta",
        "0.6",
        "--focal-tversky-gamma",
        "1.5",
        "--focal-gamma",
        "1",
        "--focal-alpha",
        "0.5",
        "--combo-alpha",
        "0.3",
        "--combo-beta",
        "0.7",
        "--lambda-dice",
        "2",
        "--lambda-ce",
        "0.5",
        "--lambda-focal",
        "3",
    )
    losses = doc["cases"][0]["losses"]
    assert set(losses) == set(LOSSES)
    given = {
        "smooth_nr": 0.5,
        "smooth_dr": 0.5,
        "squared": True,
        "weights": {"0": 1.0, "1": 1.0, "2": 3.0},
        "tversky_alpha": 0.4,
        "tversky_beta": 0.6,
        "focal_tversky_gamma": 1.5,
        "focal_gamma": 1.0,
        "focal_alpha": 0.5,
        "combo_alpha": 0.3,
        "combo_beta": 0.7,
        "lambda_dice": 2.0,
        "lambda_ce": 0.5,
        "lambda_focal": 3.0,
    }
    for name, spec in LOSSES.items():
        for key in spec.params:
            assert losses[name]["params"][key] == given[key], (name, key)
    assert doc["settings"]["loss_params"]["smooth_nr"] == 0.5
    d = losses["dice"]["per_class"]
    assert losses["dice"]["value"] == pytest.approx((d["1"] * 1 + d["2"] * 3) / 4)
    assert losses["dice_ce"]["value"] == pytest.approx(2 * losses["dice"]["value"] + 0.5 * losses["ce"]["value"])


@pytest.mark.parametrize("name", list(LOSSES))
def test_each_loss_alone(case, name):
    """Every registry entry: selectable alone, value in its range, params as declared."""
    tmp_path, _, _ = case
    doc = eval_json(tmp_path, "--losses", name)
    losses = doc["cases"][0]["losses"]
    assert list(losses) == [name]
    spec = LOSSES[name]
    res = losses[name]
    assert spec.lo <= res["value"] <= spec.hi
    assert set(spec.params) <= set(res["params"])
    assert bool(res["per_class"]) == spec.decomposes


def test_csv_has_loss_columns(case):
    tmp_path, _, _ = case
    res = invoke(
        "eval",
        tmp_path / "probs.npy",
        tmp_path / "gt.npy",
        "--metrics",
        "dice",
        "--losses",
        "dice,gdl",
        "--format",
        "csv",
    )
    assert res.exit_code == 0, res.output
    rows = list(csv.DictReader(io.StringIO(res.stdout)))
    assert list(rows[0])[-2:] == ["loss_dice", "loss_generalized_dice"]
    assert rows[0]["loss_generalized_dice"] == rows[1]["loss_generalized_dice"]  # one value, repeated per row
    assert float(rows[0]["loss_dice"]) != float(rows[1]["loss_dice"])


def test_table_shows_losses_per_class_and_reduced(case):
    tmp_path, _, _ = case
    res = invoke("eval", tmp_path / "probs.npy", tmp_path / "gt.npy", "--metrics", "dice", "--losses", "dice,ce")
    assert res.exit_code == 0, res.output
    assert "losses" in res.stdout and "reduced" in res.stdout and "ce" in res.stdout


@pytest.mark.parametrize(
    "args,message",
    [
        (["--losses", "dcie"], "unknown loss 'dcie' (did you mean dice?); run `segloss losses`"),
        (["--weights", "1,2"], "--weights has 2 values but the case has 3 classes"),
        (["--weights", "9=1"], "--weights names label 9"),
        (["--weights", "a"], "--weights: 'a' is neither numbers nor label=weight pairs"),
        (["--tversky-alpha", "2"], "--tversky-alpha must be between 0 and 1"),
        (["--smooth", "-1"], "--smooth-nr must be >= 0"),
    ],
)
def test_bad_loss_options_exit_2_with_one_line(case, args, message):
    tmp_path, _, _ = case
    res = invoke("eval", tmp_path / "probs.npy", tmp_path / "gt.npy", "--metrics", "dice", *args)
    assert res.exit_code == 2
    assert message in res.stderr
    assert len(res.stderr.strip().splitlines()) == 1


def test_probability_validation_and_renormalize(case):
    tmp_path, probs, gt = case
    np.save(tmp_path / "big.npy", probs * 3)
    res = invoke("eval", tmp_path / "big.npy", tmp_path / "gt.npy", "--pred-type", "probs", "--metrics", "dice")
    assert res.exit_code == 2 and "--pred-type logits" in res.stderr
    np.save(tmp_path / "off.npy", probs * 0.9)
    res = invoke("eval", tmp_path / "off.npy", tmp_path / "gt.npy", "--metrics", "dice")
    assert res.exit_code == 2 and "--renormalize" in res.stderr
    scaled = eval_json(tmp_path, "--renormalize", pred="off.npy")["cases"][0]["losses"]
    plain = eval_json(tmp_path)["cases"][0]["losses"]
    for name in plain:
        assert scaled[name]["value"] == pytest.approx(plain[name]["value"], rel=1e-5), name


def test_sample_tissue_probabilities_match_oracle():
    """The shipped real probability map: every loss equals the numpy oracle."""
    import nibabel as nib

    probs = np.asarray(nib.load(SAMPLE / "tissue_probs.nii.gz").dataobj)
    gt = np.asarray(nib.load(SAMPLE / "tissue_gt.nii.gz").dataobj)
    assert probs.shape == gt.shape + (3,) and probs.dtype == np.float32
    res = invoke(
        "eval",
        SAMPLE / "tissue_probs.nii.gz",
        SAMPLE / "tissue_gt.nii.gz",
        "--losses",
        "all",
        "--metrics",
        "none",
        "--format",
        "json",
    )
    assert res.exit_code == 0, res.output
    losses = json.loads(res.stdout)["cases"][0]["losses"]
    P, LP, LQ = naive.activations(np.moveaxis(probs, -1, 0), "probs")
    G = np.stack([(gt.ravel() == c).astype(float) for c in range(3)])
    want = naive.all_losses(P, LP, LQ, G, [1, 2], np.ones(3), {})
    for name, spec in LOSSES.items():
        # float32 probabilities take the float32 log: each log term is within 8.1e-8 of the
        # exact value (< 1 ulp, tests/test_vmath.py), and every log sum adds terms of one
        # sign, so a log-based loss is within 2^-23 relative; the others are float64 sums
        rel = F32_LOG_REL if spec.uses_log else 1e-9
        assert losses[name]["value"] == pytest.approx(want[name][1], rel=rel), name
