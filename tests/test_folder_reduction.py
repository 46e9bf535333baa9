"""--reduction batch for the losses of a folder (issue 17): every sum over all cases, then the
formula (MONAI batch=True, SMP's default dims). Oracle: the definitions of conventions.md in
numpy over the cases' voxels taken together (cases of different shapes, so this is not the
API's concatenation)."""

from __future__ import annotations

import json

import numpy as np
import pytest
from typer.testing import CliRunner

import segloss_cli as segloss
from segloss_cli.cli import app
from segloss_cli.errors import UsageError

SMOOTH = 1e-5
SHAPES = ((5, 6, 4), (4, 4, 3), (6, 3, 5))


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    top = tmp_path_factory.mktemp("reduction")
    (top / "p").mkdir()
    (top / "g").mkdir()
    rng = np.random.default_rng(11)
    cases = []
    for i, shape in enumerate(SHAPES):
        x = rng.normal(size=(3, *shape))
        p = np.exp(x) / np.exp(x).sum(axis=0)
        g = rng.integers(0, 3, shape)
        if i == 1:
            g[g == 2] = 1  # class 2 absent from one case: its sums add nothing there
        np.save(top / "p" / f"c{i}.npy", p)
        np.save(top / "g" / f"c{i}.npy", g)
        cases.append((p, g))
    return top, cases


def _oracle(cases):
    """dice (classes 1, 2) and ce from the sums over every voxel of every case."""
    spg, sp, sg = np.zeros(3), np.zeros(3), np.zeros(3)
    logp_sum, n = 0.0, 0
    for p, g in cases:
        onehot = np.stack([g == c for c in range(3)])
        spg += (p * onehot).reshape(3, -1).sum(1)
        sp += p.reshape(3, -1).sum(1)
        sg += onehot.reshape(3, -1).sum(1)
        logp_sum += np.log(np.maximum(np.take_along_axis(p, g[None], 0), 1e-7)).sum()
        n += g.size
    dice = 1 - (2 * spg + SMOOTH) / (sp + sg + SMOOTH)
    return {1: dice[1], 2: dice[2]}, float(np.mean(dice[1:])), -logp_sum / n


def test_batch_losses_of_a_folder(folder):
    top, cases = folder
    run = segloss.evaluate_folder(
        top / "p", top / "g", metrics="dice", losses="dice,ce", channel_axis=0, reduction="batch", jobs=2
    )
    per_class, dice, ce = _oracle(cases)
    batch = run.summary.pooled.losses
    assert batch["dice"].value == pytest.approx(dice, rel=1e-12)
    assert batch["dice"].per_class == pytest.approx(per_class, rel=1e-12)
    assert batch["ce"].value == pytest.approx(ce, rel=1e-12)
    assert run.settings["loss_reduction"] == "batch"
    # the case reduction's summary is unchanged beside it: the mean of the cases' own values
    case_means = [
        segloss.score(p, g, metrics="dice", losses="dice", channel_axis=0).losses["dice"].value for p, g in cases
    ]
    assert run.summary.losses["dice"].mean == pytest.approx(np.mean(case_means), rel=1e-12)
    assert abs(np.mean(case_means) - dice) > 1e-3  # the two reductions differ on these cases


def test_cli_batch_json_and_gate(folder):
    top, cases = folder
    _, dice, _ = _oracle(cases)
    args = ["eval", str(top / "p"), str(top / "g"), "-m", "dice", "--losses", "dice", "--channel-axis", "0", "-q"]
    plain = CliRunner().invoke(app, [*args, "--format", "json"])
    assert plain.exit_code == 0, plain.output
    data = json.loads(plain.stdout)
    assert "losses" not in data["summary"]["pooled"] and "loss_reduction" not in data["settings"]
    res = CliRunner().invoke(app, [*args, "--reduction", "batch", "--format", "json"])
    data = json.loads(res.stdout)
    assert data["summary"]["pooled"]["losses"]["dice"]["value"] == pytest.approx(dice, rel=1e-12)
    # loss.dice checks the batch value under --reduction batch
    ok = CliRunner().invoke(app, [*args, "--reduction", "batch", "--require", f"loss.dice<={dice + 1e-9}"])
    fail = CliRunner().invoke(app, [*args, "--reduction", "batch", "--require", f"loss.dice<={dice - 1e-9}"])
    assert (ok.exit_code, fail.exit_code) == (0, 1)


def test_batch_refuses_what_it_cannot_pool(folder):
    top, _ = folder
    args = ["eval", str(top / "p"), str(top / "g"), "-m", "dice", "--channel-axis", "0", "--reduction", "batch"]
    res = CliRunner().invoke(app, [*args, "--losses", "lovasz_softmax"])
    assert res.exit_code == 2 and "lovasz_softmax" in res.output
    res = CliRunner().invoke(app, [*args, "--shard", "1/2"])
    assert res.exit_code == 2 and "shards" in res.output
    with pytest.raises(UsageError, match="reduction must be case or batch"):
        segloss.make_params(reduction="pooled")
