"""Gate expressions over classes (mean(dice)) and over cases (dice.min, dice[1].p05)."""

from __future__ import annotations

import numpy as np
import pytest
from typer.testing import CliRunner

from segloss_cli.api import _score_arrays, make_params
from segloss_cli.cli import app
from segloss_cli.errors import UsageError
from segloss_cli.evaluate import assemble_run
from segloss_cli.gate import check, parse_requirement

GT = np.zeros((6, 6), np.uint8)
GT[1:5, 1:3] = 1
GT[1:5, 3:5] = 2


def _run():
    preds = [GT.copy(), np.where(GT == 2, 0, GT), GT.copy()]
    preds[2][1, 1] = 0
    params = make_params(metrics="dice")
    cases = tuple(_score_arrays(p, GT, params, f"c{i}") for i, p in enumerate(preds))
    # numpy oracle: dice per case and class
    dice = np.array(
        [[2 * np.sum((p == c) & (GT == c)) / (np.sum(p == c) + np.sum(GT == c)) for c in (1, 2)] for p in preds]
    )
    return assemble_run(cases, params), dice


def test_aggregates_over_classes_and_statistics_over_cases_equal_numpy():
    run, dice = _run()
    means = dice.mean(axis=0)
    (c,) = check(run, ["mean(dice)>=0"])
    assert c.actual == pytest.approx(means.mean()) and c.label is None and c.key == "mean(dice)"
    assert check(run, ["min(dice)>=0"])[0].actual == pytest.approx(means.min())
    assert check(run, ["median(dice)>=0"])[0].actual == pytest.approx(np.median(means))
    per_class_min = [c.actual for c in check(run, ["dice.min>=0"])]
    assert per_class_min == pytest.approx(dice.min(axis=0).tolist())
    assert check(run, ["dice[1].p05>=0"])[0].actual == pytest.approx(np.percentile(dice[:, 0], 5))
    assert check(run, ["dice[2].q1>=0"])[0].actual == pytest.approx(np.percentile(dice[:, 1], 25))
    assert check(run, ["mean(dice.min)>=0"])[0].actual == pytest.approx(dice.min(axis=0).mean())


def test_a_per_case_gate_names_the_failing_cases():
    run, _ = _run()
    failed = [c for c in check(run, ["dice.min>=0.5"]) if not c.passed]
    assert [(c.label, c.failing_cases) for c in failed] == [("2", ("c1",))]


@pytest.mark.parametrize(
    "text,expected",
    [
        ("avg(dice)>=0.8", "unknown aggregate avg"),
        ("mean(dice[1])>=0.8", "aggregates a metric over its classes"),
        ("dice.p500>=0.8", "unknown statistic .p500"),
        ("dice.worst>=0.8", "unknown statistic .worst"),
        ("loss.dice.min<=0.2", "applies to metrics"),
        ("mean(dice>=0.8", r"expected metric\[class\] OP value"),
    ],
)
def test_bad_aggregates_are_usage_errors(text, expected):
    with pytest.raises(UsageError, match=expected):
        parse_requirement(text)


def test_cli_exit_codes(tmp_path):
    runner = CliRunner()
    for i, pred in enumerate([GT, np.where(GT == 2, 0, GT)]):
        (tmp_path / "p").mkdir(exist_ok=True)
        (tmp_path / "g").mkdir(exist_ok=True)
        np.save(tmp_path / "p" / f"c{i}.npy", pred)
        np.save(tmp_path / "g" / f"c{i}.npy", GT)
    base = ["eval", str(tmp_path / "p"), str(tmp_path / "g"), "--metrics", "dice", "-q"]
    assert runner.invoke(app, [*base, "--require", "mean(dice)>=0.7"]).exit_code == 0
    res = runner.invoke(app, [*base, "--require", "dice.min>=0.5"])
    assert res.exit_code == 1 and "cases missing it: c1" in res.stderr
    assert runner.invoke(app, [*base, "--require", "avg(dice)>=0.7"]).exit_code == 2
