"""`segloss compare`: regressions per class and metric, exit codes, markdown and JSON output."""

from __future__ import annotations

import json
from pathlib import Path

import nibabel as nib
import numpy as np
import pytest
from typer.testing import CliRunner

from segloss_cli.cli import app
from segloss_cli.compare import compare_results, parse_allowances
from segloss_cli.errors import UsageError
from segloss_cli.report.compare import movers_text, render_markdown

RUNNER = CliRunner()


def write_nifti(path, array):
    nib.save(nib.Nifti1Image(np.asarray(array), np.eye(4)), str(path))
    return Path(path)


def run(*args):
    return RUNNER.invoke(app, [str(a) for a in args])


def dice(pred, gt, lab):
    return 2 * np.sum((pred == lab) & (gt == lab)) / (np.sum(pred == lab) + np.sum(gt == lab))


@pytest.fixture
def results(tmp_path):
    """BASE and NEW results of one GT: NEW loses 4 voxel rows of class 2 and gains FPs in class 1."""
    gt = np.zeros((12, 12, 4), np.uint8)
    gt[1:6, 1:11, :] = 1
    gt[7:11, 1:11, :] = 2
    base_pred = gt.copy()
    base_pred[1, 1:11, :] = 0
    new_pred = base_pred.copy()
    new_pred[7, 1:11, :] = 0  # class 2 loses a row
    new_pred[6, 1:4, :] = 1  # class 1 gains false positives
    g = write_nifti(tmp_path / "gt.nii.gz", gt)
    out = {}
    for name, pred in (("base", base_pred), ("new", new_pred)):
        p = write_nifti(tmp_path / f"{name}_pred.nii.gz", pred)
        out[name] = tmp_path / f"{name}.json"
        res = run("eval", p, g, "--metrics", "dice,iou,fp", "--json", out[name], "--format", "csv")
        assert res.exit_code == 0, res.stderr
        out[f"{name}_dice"] = {lab: dice(pred, gt, lab) for lab in (1, 2)}
        out[f"{name}_fp"] = {lab: int(np.sum((pred == lab) & (gt != lab))) for lab in (1, 2)}
    return out


def test_exit_0_within_allowance_and_1_beyond(results):
    b, n = results["base"], results["new"]
    drop2 = results["base_dice"][2] - results["new_dice"][2]
    assert drop2 > 0
    res = run("compare", b, n, "--max-drop", f"dice={drop2 + 1e-6}")
    assert res.exit_code == 0, res.stdout + res.stderr
    res = run("compare", b, n, "--max-drop", f"dice={drop2 - 1e-6}")
    assert res.exit_code == 1
    assert "REGRESSION" in res.stdout and "1 regression(s)" in res.stdout
    rise1 = results["new_fp"][1] - results["base_fp"][1]
    assert rise1 == 12
    assert run("compare", b, n, "--max-rise", "fp=12").exit_code == 0
    assert run("compare", b, n, "--max-rise", "fp=11.5").exit_code == 1
    assert run("compare", b, n).exit_code == 0  # no allowance: differences only


def test_json_output_values(results):
    res = run("compare", results["base"], results["new"], "--max-drop", "dice=0.01,f1=0.5", "--format", "json")
    assert res.exit_code == 2 and "two allowances" in res.stderr  # f1 is an alias of dice
    res = run(
        "compare", results["base"], results["new"], "--max-drop", "dice=0.01", "--max-rise", "fp=0", "--format", "json"
    )
    assert res.exit_code == 1
    data = json.loads(res.stdout)
    rows = {(r["label"], r["key"]): r for r in data["rows"]}
    for lab in (1, 2):
        r = rows[(str(lab), "dice")]
        assert r["base"] == pytest.approx(results["base_dice"][lab]) and r["new"] == pytest.approx(
            results["new_dice"][lab]
        )
        assert r["delta"] == pytest.approx(results["new_dice"][lab] - results["base_dice"][lab])
    assert rows[("2", "dice")]["status"] == "regression"
    assert rows[("1", "fp")]["status"] == "regression" and rows[("2", "fp")]["status"] == "ok"
    assert rows[("mean", "dice")]["status"] == "info"
    assert data["n_regressions"] == sum(r["status"] == "regression" for r in data["rows"])


def test_markdown_table_for_a_pull_request(results):
    res = run("compare", results["base"], results["new"], "--max-drop", "dice=0.001", "--format", "markdown")
    assert res.exit_code == 1
    lines = res.stdout.splitlines()
    assert lines[0].startswith("### ❌ segloss compare:")
    assert "#### Regressions (2)" in lines  # both classes fell by more than 0.001
    header = lines.index("| class | metric | base | new | change | allowed | result | cases that moved most |")
    assert lines[header + 1] == "|---|---|---:|---:|---:|---|---|---|"
    d2 = results["base_dice"][2], results["new_dice"][2]
    # one pair: its case (the GT file name) is the case that moved
    assert lines[header + 3] == (
        f"| 2 | dice | {d2[0]:.4f} | {d2[1]:.4f} | {d2[1] - d2[0]:+.4f} | drop &lt;= 0.001 | ❌ regression "
        f"| gt {d2[1] - d2[0]:+.4f} |"
    )
    others = lines[lines.index("#### Other rows") :]
    assert [line.split(" | ")[0] for line in others if line.startswith("| ") and "---" not in line][1:] == [
        "| mean over classes"
    ]  # the header, then the one row that is not gated
    ok = run("compare", results["base"], results["base"], "--max-drop", "dice=0", "--format", "markdown")
    assert ok.exit_code == 0 and ok.stdout.startswith("### ✅")


def test_usage_and_input_errors(results, tmp_path):
    b, n = results["base"], results["new"]
    for args, msg in [
        (("--max-drop", "nosuch=1"), "unknown metric 'nosuch'"),
        (("--max-drop", "recall=1"), "not in either result"),
        (("--max-drop", "dice"), "expected NAME=AMOUNT"),
        (("--max-drop", "dice=-1"), ">= 0"),
        (("--max-rise", "loss.dice=1"), "not in either result"),
    ]:
        res = run("compare", b, n, *args)
        assert res.exit_code == 2 and msg in res.stderr, (args, res.stderr)
    junk = tmp_path / "junk.json"
    junk.write_text('{"hello": 1}')
    res = run("compare", b, junk)
    assert res.exit_code == 2 and "not a segloss result" in res.stderr
    res = run("compare", b, tmp_path / "absent.json")
    assert res.exit_code == 2 and "file not found" in res.stderr


def _result(classes, *, settings=None, cases=("c",)):
    """A minimal schema-1 result: classes = {label: {metric: mean}}."""
    return {
        "schema_version": 1,
        "settings": settings or {},
        "cases": [{"case": c} for c in cases],
        "summary": {
            "classes": {
                lab: {"name": None, "metrics": {m: {"mean": v} for m, v in ms.items()}} for lab, ms in classes.items()
            },
            "mean_over_classes": {},
        },
    }


def test_undefined_or_missing_class_in_new_is_a_regression():
    base = _result({"1": {"dice": 0.9}, "2": {"dice": 0.8}})
    new = _result({"1": {"dice": None}})
    allow = parse_allowances(["dice=0.5"], "drop")
    comp = compare_results(base, new, allow)
    assert {(r.label, r.status) for r in comp.rows} == {("1", "undefined"), ("2", "missing")}
    comp = compare_results(base, new, allow, allow_undefined=True)
    assert {(r.label, r.status) for r in comp.rows} == {("1", "ok"), ("2", "missing")}
    # undefined in BASE and defined in NEW is not a regression; a class new in NEW is listed
    comp = compare_results(_result({"1": {"dice": None}}), _result({"1": {"dice": 0.1}, "3": {"dice": 0.5}}), allow)
    assert [(r.label, r.status) for r in comp.rows] == [("1", "ok"), ("3", "new_class")]
    assert not comp.failures


def test_notes_on_settings_and_case_sets():
    base = _result({"1": {"dice": 0.9}}, settings={"empty_policy": "worst", "threshold": 0.5}, cases=("a", "b"))
    new = _result({"1": {"dice": 0.9}}, settings={"empty_policy": "nan", "threshold": 0.4}, cases=("b", "c"))
    with pytest.raises(UsageError, match=r'empty_policy "worst" in BASE, "nan" in NEW.*--force'):
        compare_results(base, new, parse_allowances(["dice=0"], "drop"))
    comp = compare_results(base, new, parse_allowances(["dice=0"], "drop"), force=True)
    assert comp.notes == (
        'setting empty_policy differs: "worst" in BASE, "nan" in NEW',
        "setting threshold differs: 0.5 in BASE, 0.4 in NEW",
        "1 case(s) only in BASE: a",
        "1 case(s) only in NEW: c",
    )
    assert comp.forced == (
        'settings that change the compared numbers differ: empty_policy "worst" in BASE, "nan" in NEW',
    )
    assert not comp.failures
    # a threshold is how the prediction was made, not how it is scored: a note, never a refusal
    comp = compare_results(
        _result({"1": {"dice": 0.9}}, settings={"threshold": 0.5}),
        _result({"1": {"dice": 0.9}}, settings={"threshold": 0.4}),
    )
    assert comp.forced == () and comp.notes == ("setting threshold differs: 0.5 in BASE, 0.4 in NEW",)


def test_allowance_parsing():
    assert [
        (a.key, a.direction, a.amount) for a in parse_allowances(["dice=0.01, jaccard=0.02", "loss.Dice=1"], "drop")
    ] == [("dice", "drop", 0.01), ("iou", "drop", 0.02), ("loss.dice", "drop", 1.0)]
    with pytest.raises(UsageError):
        parse_allowances(["dice=x"], "rise")


def test_folder_results_compare_summary_means(tmp_path):
    def folder(name, shift):
        pdir, gdir = tmp_path / name / "p", tmp_path / name / "g"
        pdir.mkdir(parents=True)
        gdir.mkdir(parents=True)
        vals = []
        for i in range(3):
            gt = np.zeros((10, 10, 3), np.uint8)
            gt[2:8, 2:8, :] = 1
            pred = gt.copy()
            pred[2 : 2 + i + shift, 2:8, :] = 0
            write_nifti(pdir / f"c{i}.nii.gz", pred)
            write_nifti(gdir / f"c{i}.nii.gz", gt)
            vals.append(dice(pred, gt, 1))
        out = tmp_path / f"{name}.json"
        assert run("eval", pdir, gdir, "--metrics", "dice", "-j", "1", "--json", out, "-q").exit_code == 0
        return out, float(np.mean(vals))

    (b, mb), (n, mn) = folder("base", 0), folder("new", 1)
    res = run("compare", b, n, "--max-drop", "dice=0.01", "--format", "json")
    assert res.exit_code == 1
    row = [r for r in json.loads(res.stdout)["rows"] if r["label"] == "1"][0]
    assert row["base"] == pytest.approx(mb) and row["new"] == pytest.approx(mn)
    assert run("compare", b, n, "--max-drop", f"dice={mb - mn + 1e-9}").exit_code == 0


# ------------------------------------------------------------------ per-case deltas


def _cases_result(per_case, *, settings=None, names=None, folder=True, losses=None):
    """A schema-1 result from per-case values {case: {label: {metric: value}}}; the summary
    means are computed here (numpy, defined values only), as `segloss eval` documents them."""
    labels = sorted({lab for c in per_case.values() for lab in c}, key=int)
    metrics = sorted({m for c in per_case.values() for row in c.values() for m in row})

    def mean(values):
        defined = [v for v in values if v is not None]
        return float(np.mean(defined)) if defined else None

    classes = {
        lab: {
            "name": (names or {}).get(lab),
            "metrics": {m: {"mean": mean([c[lab].get(m) for c in per_case.values() if lab in c])} for m in metrics},
        }
        for lab in labels
    }
    over = {m: {"mean": mean([mean([row.get(m) for row in c.values()]) for c in per_case.values()])} for m in metrics}
    cases = []
    for cid, c in per_case.items():
        case_losses = {}
        for name, per_class in ((losses or {}).get(cid) or {}).items():
            case_losses[name] = {"value": mean(list(per_class.values())), "per_class": per_class, "params": {}}
        cases.append(
            {
                "case": cid,
                "classes": {lab: {"name": None, "status": "ok", "metrics": row} for lab, row in c.items()},
                "losses": case_losses,
            }
        )
    summary = {"n_cases": len(cases), "classes": classes, "mean_over_classes": over}
    if losses:
        for lab in labels:
            classes[lab]["losses"] = {
                name: {"mean": mean([losses[cid][name][lab] for cid in per_case])}
                for name in next(iter(losses.values()))
            }
        summary["losses"] = {
            name: {"mean": mean([mean(list(losses[cid][name].values())) for cid in per_case])}
            for name in next(iter(losses.values()))
        }
    if folder:
        summary["pairing"] = {"n_pairs": len(cases)}
    return {"schema_version": 1, "settings": settings or {}, "cases": cases, "summary": summary}


def _brain(n_classes=82, n_cases=10, shifted="c07", drop_classes=41, seed=3):
    """Dice of n_classes in n_cases: NEW equals BASE up to noise of +-0.002, except that the
    shifted case drops to 0.5 in the first drop_classes classes."""
    rng = np.random.default_rng(seed)
    ids = [f"c{i:02d}" for i in range(n_cases)]
    base = rng.uniform(0.85, 0.95, (n_cases, n_classes))
    new = base + rng.uniform(-0.002, 0.002, base.shape)
    new[ids.index(shifted), :drop_classes] = 0.5
    as_cases = lambda arr: {  # noqa: E731
        cid: {str(k + 1): {"dice": float(arr[i, k])} for k in range(n_classes)} for i, cid in enumerate(ids)
    }
    return ids, base, new, _cases_result(as_cases(base)), _cases_result(as_cases(new))


def test_regressions_name_the_case_that_caused_them():
    ids, base, new, b, n = _brain()
    comp = compare_results(b, n, parse_allowances(["dice=0.01"], "drop"))
    drop = base.mean(axis=0) - new.mean(axis=0)  # per class, from the arrays
    assert {int(r.label) for r in comp.failures} == {k + 1 for k in np.flatnonzero(drop > 0.01)} == set(range(1, 42))
    assert comp.regressed_cases == (("c07", 41),)
    for row in comp.failures:
        k = int(row.label) - 1
        top = row.movers[0]
        assert top.case == "c07"
        assert top.delta == pytest.approx(0.5 - base[ids.index("c07"), k])
        # the other movers are the cases whose dice fell, the largest fall first
        fell = [(base[i, k] - new[i, k], cid) for i, cid in enumerate(ids) if new[i, k] < base[i, k]]
        assert [m.case for m in row.movers] == [cid for _, cid in sorted(fell, reverse=True)][:5]
    text = render_markdown(comp)
    assert "Regressions come from (the case that moved most): c07 (41 of 41)." in text


def test_markdown_stays_short_for_many_classes():
    ids, base, new, b, n = _brain()
    comp = compare_results(b, n, parse_allowances(["dice=0.01"], "drop"))
    lines = render_markdown(comp, top=10).splitlines()
    start, end = lines.index("<details><summary>32 more rows</summary>"), lines.index("</details>")
    visible = [x for x in lines[:start] + lines[end:] if x.startswith("| ") and not x.startswith("| class ")]
    hidden = [x for x in lines[start:end] if x.startswith("| ") and not x.startswith("| class ")]
    assert len(visible) == 41 + 10 and len(hidden) == 32  # 82 classes and the mean row: 83 rows
    # the ten other rows shown are those that fell the most: the mean over classes, then nine classes
    drop = base.mean(axis=0) - new.mean(axis=0)
    mean_drop = base.mean(axis=1).mean() - new.mean(axis=1).mean()
    others = sorted([(drop[k], str(k + 1)) for k in range(41, 82)] + [(mean_drop, "mean over classes")], reverse=True)
    shown = [x.split(" | ")[0][2:] for x in visible[41:]]
    assert shown == [name for _, name in others[:10]]
    assert sum(1 for x in lines if x.startswith("| 1 |") or x.startswith("| 82 |")) == 2
    only = render_markdown(comp.regressions_only(), top=10)
    assert "<details>" not in only and only.count("| dice |") == 41
    assert "<details><summary>42 more rows</summary>" in render_markdown(comp, top=0)


def test_direction_of_a_change_and_undefined_cases():
    base = {"a": {"1": {"hd95": 2.0, "tp": 10, "dice": 0.8}}, "b": {"1": {"hd95": 3.0, "tp": 10, "dice": 0.8}}}
    new = {"a": {"1": {"hd95": 1.0, "tp": 4, "dice": None}}, "b": {"1": {"hd95": 7.5, "tp": 13, "dice": 0.7}}}
    loss_b = {"a": {"dice": {"1": 0.2}}, "b": {"dice": {"1": 0.3}}}
    loss_n = {"a": {"dice": {"1": 0.25}}, "b": {"dice": {"1": 0.1}}}
    comp = compare_results(
        _cases_result(base, losses=loss_b), _cases_result(new, losses=loss_n), keys=["hd95", "tp", "dice", "loss.dice"]
    )
    rows = {(r.label, r.key): r for r in comp.rows}
    # hd95 is lower-is-better: only case b rose (+4.5); a fell and did not get worse
    assert [(m.case, m.delta) for m in rows[("1", "hd95")].movers] == [("b", 4.5)]
    # tp has no direction: the largest change either way first
    assert [(m.case, m.delta) for m in rows[("1", "tp")].movers] == [("a", -6.0), ("b", 3.0)]
    # a value lost in NEW is the worst change, before any fall
    dice = rows[("1", "dice")].movers
    assert [(m.case, m.new) for m in dice] == [("a", None), ("b", 0.7)] and dice[0].worsening == float("inf")
    assert movers_text(rows[("1", "dice")], 2) == "a undefined in NEW, b -0.1000"
    # a loss is lower-is-better: a rise is worse, per class and for the reduced value
    assert [(m.case, round(m.delta, 12)) for m in rows[("1", "loss.dice")].movers] == [("a", 0.05)]
    assert [m.case for m in rows[("reduced", "loss.dice")].movers] == ["a"]
    # an allowance's direction decides what is worse
    comp = compare_results(_cases_result(base), _cases_result(new), parse_allowances(["tp=1"], "drop"))
    tp = [r for r in comp.rows if r.key == "tp" and r.label == "1"][0]
    assert tp.status == "regression" and [(m.case, m.delta) for m in tp.movers] == [("a", -6.0)]


def test_unrelated_results_are_refused_unless_forced():
    b = _cases_result({"a": {"1": {"dice": 0.9}}, "b": {"1": {"dice": 0.8}}})
    n = _cases_result({"x": {"1": {"dice": 0.2}}, "y": {"1": {"dice": 0.1}}})
    allow = parse_allowances(["dice=0.01"], "drop")
    with pytest.raises(UsageError, match=r"BASE and NEW share no case \(BASE: a, b; NEW: x, y\).*--force"):
        compare_results(b, n, allow)
    comp = compare_results(b, n, allow, force=True)
    assert len(comp.failures) == 1 and comp.n_shared_cases == 0 and comp.failures[0].movers == ()
    assert comp.forced[0].startswith("BASE and NEW share no case")
    assert comp.to_dict()["cases"] == {"n_shared": 0, "only_base": ["a", "b"], "only_new": ["x", "y"]}
    # two single pairs are compared whatever their case ids (a pair's id is its GT file name)
    pb = _cases_result({"gt_a": {"1": {"dice": 0.9}}}, folder=False)
    pn = _cases_result({"gt_b": {"1": {"dice": 0.7}}}, folder=False)
    comp = compare_results(pb, pn, allow)
    assert comp.n_shared_cases == 1 and not comp.forced
    assert [(m.case, round(m.delta, 12)) for m in comp.failures[0].movers] == [("gt_a -> gt_b", -0.2)]
    # a folder of one case is a folder: matched by id
    with pytest.raises(UsageError, match="share no case"):
        compare_results(_cases_result({"gt_a": {"1": {"dice": 0.9}}}), pn, allow)


@pytest.mark.parametrize(
    "setting, base_value, new_value, keys, refused",
    [
        ("hd_percentile", 95.0, 99.0, ["hd95"], True),
        ("hd_percentile", 95.0, 99.0, ["dice"], False),  # dice does not depend on it
        ("hd_mode", "max", "pooled", ["hd95"], True),
        ("nsd_tolerance_mm", 1.0, 2.0, ["nsd"], True),
        ("nsd_tolerance_per_label_mm", {}, {"1": 2.0}, ["nsd"], True),
        ("distance_unit", "mm", "voxel", ["assd"], True),
        ("worst_distance_mm", None, 100.0, ["hd95"], True),
        ("empty_policy", "worst", "nan", ["dice"], True),
        ("labels", None, ["1"], ["dice"], True),
        ("include_background", False, True, ["dice"], True),
        ("ignore_label", None, 255, ["dice"], True),
        ("regions", None, {"WT": [1, 2]}, ["dice"], True),
        ("loss_params", {"tversky_alpha": 0.3}, {"tversky_alpha": 0.4}, ["loss.dice"], True),
        ("loss_params", {"tversky_alpha": 0.3}, {"tversky_alpha": 0.4}, ["dice"], False),
        ("threshold", 0.5, 0.4, ["dice"], False),
    ],
)
def test_incompatible_settings(setting, base_value, new_value, keys, refused):
    values = {"dice": 0.8, "hd95": 2.0, "nsd": 0.9, "assd": 1.0}
    losses = {"a": {"dice": {"1": 0.2}}}

    def result(value):
        settings = {} if value is None and setting == "regions" else {setting: value}
        return _cases_result({"a": {"1": values}}, settings=settings, losses=losses)

    b, n = result(base_value), result(new_value)
    if refused:
        with pytest.raises(UsageError, match=rf"computed differently \({setting}[ .].*--force"):
            compare_results(b, n, keys=keys)
        assert compare_results(b, n, keys=keys, force=True).forced
    else:
        assert compare_results(b, n, keys=keys).forced == ()


@pytest.fixture
def folders(tmp_path):
    """Three cases, two classes; NEW shifts case c1's prediction by two rows, OTHER holds other ids."""
    gt = np.zeros((12, 10, 3), np.uint8)
    gt[1:6, 1:9, :] = 1
    gt[6:11, 1:9, :] = 2
    out = {"base_dice": {}, "new_dice": {}}
    for name in ("base", "new", "other", "gt", "other_gt"):
        (tmp_path / name).mkdir()
    for i in range(3):
        base = gt.copy()
        base[1 + i, 1:9, :] = 0  # a different small error per case
        new = np.roll(base, 2, axis=0) if i == 1 else base
        cid = f"c{i}"
        write_nifti(tmp_path / "gt" / f"{cid}.nii.gz", gt)
        write_nifti(tmp_path / "base" / f"{cid}.nii.gz", base)
        write_nifti(tmp_path / "new" / f"{cid}.nii.gz", new)
        write_nifti(tmp_path / "other_gt" / f"x{i}.nii.gz", gt)
        write_nifti(tmp_path / "other" / f"x{i}.nii.gz", new)
        out["base_dice"][cid] = {lab: dice(base, gt, lab) for lab in (1, 2)}
        out["new_dice"][cid] = {lab: dice(new, gt, lab) for lab in (1, 2)}
    for name, pred, g, extra in (
        ("base", "base", "gt", ()),
        ("new", "new", "gt", ()),
        ("other", "other", "other_gt", ()),
        ("new99", "new", "gt", ("--hd-percentile", "99")),
    ):
        out[name] = tmp_path / f"{name}.json"
        args = ("eval", tmp_path / pred, tmp_path / g, "-m", "dice,hd95", "-j", "1", "-q", "--json", out[name], *extra)
        res = run(*args, "--format", "json")
        assert res.exit_code == 0, res.stderr
    return out


def test_cli_names_the_regressed_case(folders):
    res = run("compare", folders["base"], folders["new"], "--max-drop", "dice=0.01", "--format", "json")
    assert res.exit_code == 1
    data = json.loads(res.stdout)
    bd, nd = folders["base_dice"], folders["new_dice"]
    for lab in (1, 2):
        row = [r for r in data["rows"] if r["label"] == str(lab) and r["key"] == "dice"][0]
        assert row["status"] == "regression"
        assert row["moved_most"] == [
            {"case": "c1", "base": pytest.approx(bd["c1"][lab]), "new": pytest.approx(nd["c1"][lab]),
             "delta": pytest.approx(nd["c1"][lab] - bd["c1"][lab])}
        ]  # fmt: skip
    assert data["regressed_cases"] == [{"case": "c1", "n_regressions": 2}]
    assert data["cases"] == {"n_shared": 3, "only_base": [], "only_new": []}
    res = run("compare", folders["base"], folders["new"], "--max-drop", "dice=0.01")
    assert res.exit_code == 1
    assert "regressions come from (the case that moved most): c1 (2 of 2)" in res.stdout
    # only the regressions, same exit code; none beyond a wide allowance: exit 0, no rows
    res = run("compare", folders["base"], folders["new"], "--max-drop", "dice=0.01", "--only-regressions", "-f", "json")
    assert res.exit_code == 1 and {r["status"] for r in json.loads(res.stdout)["rows"]} == {"regression"}
    res = run("compare", folders["base"], folders["new"], "--max-drop", "dice=0.9", "--only-regressions", "-f", "json")
    assert res.exit_code == 0 and json.loads(res.stdout)["rows"] == []


def test_cli_refuses_unrelated_or_incompatible_results(folders):
    res = run("compare", folders["base"], folders["other"], "--max-drop", "dice=0.01")
    assert res.exit_code == 2
    assert res.stderr.strip() == (
        "segloss: error: BASE and NEW share no case (BASE: c0, c1, c2; NEW: x0, x1, x2): they are results of "
        "different data; compare results of the same cases, or pass --force to compare anyway"
    )
    res = run("compare", folders["base"], folders["other"], "--max-drop", "dice=0.01", "--force")
    assert res.exit_code == 1  # the same regressions by label, now asked for
    assert "segloss: warning: compared under --force: BASE and NEW share no case" in res.stderr
    res = run("compare", folders["base"], folders["new99"], "--max-rise", "hd95=1")
    assert res.exit_code == 2
    assert "computed differently (hd_percentile 95.0 in BASE, 99.0 in NEW)" in res.stderr and "--force" in res.stderr
    res = run("compare", folders["base"], folders["new99"], "--max-drop", "dice=1")
    assert res.exit_code == 0  # dice does not depend on the hd95 percentile: a note only
    assert "setting hd_percentile differs" in res.stderr
    res = run("compare", folders["base"], folders["new"], "--max-drop", "dcie=1")
    assert res.exit_code == 2 and "did you mean dice?" in res.stderr
    assert run("compare", folders["base"], folders["new"], "--top", "-1").exit_code == 2
