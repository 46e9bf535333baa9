"""The worst-cases list: the worst class value first, missed classes before that, perfect
(both-empty) cases never listed; and "did you mean" for names."""

from __future__ import annotations

import pytest

from segloss_cli.aggregate import worst_cases
from segloss_cli.errors import UsageError
from segloss_cli.model import CaseResult, ClassResult


def case(cid, *rows):
    return CaseResult(
        cid, "p", "g", None, tuple(ClassResult(lab, None, status, {"dice": v}) for lab, status, v in rows)
    )


def test_order_and_what_is_never_listed():
    cases = [
        case("empty1", (1, "both_empty", 1.0), (2, "both_empty", 1.0)),  # perfect: an empty structure predicted empty
        case("fine", (1, "ok", 0.95), (2, "ok", 0.9)),
        case("one_bad_class", (1, "ok", 0.99), (2, "ok", 0.40)),  # mean 0.695
        case("mediocre", (1, "ok", 0.6), (2, "ok", 0.6)),  # mean 0.6 < 0.695, worst class 0.6 > 0.4
        case("missed", (1, "ok", 0.9), (2, "pred_empty", None)),  # --empty-policy nan: undefined, but a failure
        case("empty2", (1, "both_empty", None)),
    ]
    got = worst_cases(cases, "dice", higher_is_better=True, k=10)
    assert [w.case for w in got.cases] == ["missed", "one_bad_class", "mediocre", "fine"]
    assert got.cases[0].worst_label == 2 and got.cases[0].worst_value is None and got.cases[0].mean == 0.9
    assert (got.cases[1].worst_label, got.cases[1].worst_value) == (2, 0.40)


def test_lower_is_better_metrics_rank_the_largest_first():
    cases = [case("a", (1, "ok", 3.0)), case("b", (1, "ok", 9.0)), case("c", (1, "ok", 1.0))]
    assert [w.case for w in worst_cases(cases, "dice", higher_is_better=False).cases] == ["b", "a", "c"]


def test_did_you_mean():
    from segloss_cli.losses.registry import resolve as loss
    from segloss_cli.metrics.registry import resolve as metric

    with pytest.raises(UsageError, match=r"unknown metric 'dise' \(did you mean dice\?\)"):
        metric("dise")
    with pytest.raises(UsageError, match=r"unknown loss 'tverski' \(did you mean tversky\?\)"):
        loss("tverski")
    with pytest.raises(UsageError, match=r"unknown metric 'zzzz'; run"):
        metric("zzzz")


@pytest.mark.parametrize("width", [60, 80, 120])
def test_tables_fit_the_width_and_never_truncate_a_number(width):
    import json

    from typer.testing import CliRunner

    from segloss_cli.cli import app
    from segloss_cli.report.table import fmt

    runner = CliRunner()
    args = ["eval", "sample_data/dk_pred.nii.gz", "sample_data/dk_gt.nii.gz", "--label-names",
            "sample_data/dk_labels.json", "--labels", "17,35,41,42"]  # fmt: skip
    table = runner.invoke(app, args, env={"COLUMNS": str(width)}).stdout
    doc = json.loads(runner.invoke(app, [*args, "--format", "json"]).stdout)
    assert max(len(line) for line in table.splitlines()) <= width
    for line in table.splitlines():  # only a name may be shortened (the second column)
        cells = line.split("│")
        assert all("…" not in c for i, c in enumerate(cells) if i != 2), line
    units = {"vol_pred_ml": "ml", "vol_gt_ml": "ml", "hd95": "mm", "assd": "mm"}
    for row in doc["cases"][0]["classes"].values():
        for m in ("dice", "iou", "precision", "recall", "volume_similarity", "vol_pred_ml", "hd95", "assd", "nsd"):
            assert fmt(row["metrics"][m], units.get(m)) in table, (m, width)
    assert "mean over classes" in table
