"""--convention presets and per-metric empty-case values (issue 17).

Expected values come from the preset table's own text, read here by a plain parser of
"status=value" cells, and for cells a preset leaves alone from conventions.md's rules written
out (worst policy: similarity 1 / 0, distance 0 / the GT field of view's diagonal); never from
segloss's output. The presets' agreement with the tools themselves is checked locally by
benchmarks/convention_reference.py (the tools are not test dependencies).
"""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from scipy import ndimage
from typer.testing import CliRunner

import segloss_cli as segloss
from segloss_cli.api import make_params
from segloss_cli.cli import app
from segloss_cli.conventions import CONVENTIONS, SETTINGS, _available, get
from segloss_cli.errors import UsageError
from segloss_cli.metrics.registry import all_metrics, parse_empty_values

SP = (1.0, 2.0)
SHAPE = (7, 6)
BLOB = np.zeros(SHAPE, np.int64)
BLOB[2:5, 1:4] = 1
NONE = np.zeros(SHAPE, np.int64)
CASES = {"both_empty": (NONE, NONE), "gt_empty": (BLOB, NONE), "pred_empty": (NONE, BLOB)}
DIAGONAL = math.hypot(SHAPE[0] * SP[0], SHAPE[1] * SP[1])
SHORT = {"both": ("both_empty",), "gt": ("gt_empty",), "pred": ("pred_empty",), "one": ("gt_empty", "pred_empty")}


def _cells(text: str) -> dict:
    """The preset table's "both=nan,gt=inf" as {status: float or None}, read independently."""
    out = {}
    for part in text.split(","):
        key, _, value = part.partition("=")
        v = float(value)
        for status in SHORT[key.strip()]:
            out[status] = None if math.isnan(v) else v
    return out


def _plain_rule(metric: str, status: str):
    """conventions.md's value under --empty-policy worst, from the metric's empty rule."""
    rule = all_metrics()[metric].empty_rule
    if rule == "similarity":
        return 1.0 if status == "both_empty" else 0.0
    if rule == "distance":
        return 0.0 if status == "both_empty" else DIAGONAL
    if metric == "cldice":  # conventions.md: both empty 1, one empty null (an empty skeleton)
        return 1.0 if status == "both_empty" else None
    # ratio metrics: the formula's value where its denominator is not 0 (computed from counts)
    p, g = CASES[status]
    tp = int(np.sum((p == 1) & (g == 1)))
    fp = int(np.sum((p == 1) & (g == 0)))
    fn = int(np.sum((p == 0) & (g == 1)))
    tn = p.size - tp - fp - fn
    num, den = {
        "precision": (tp, tp + fp),
        "recall": (tp, tp + fn),
        "fpr": (fp, fp + tn),
        "fnr": (fn, fn + tp),
        "specificity": (tn, tn + fp),
    }[metric]
    return None if den == 0 else num / den


PRESET_METRICS = sorted(
    {(name, m) for name, c in CONVENTIONS.items() for m in c.settings.get("empty_values", {})},
)


@pytest.mark.parametrize("name,metric", PRESET_METRICS)
def test_preset_empty_values_are_the_table(name, metric):
    """Every cell of every preset's empty-value table, in each empty case (others: the plain rule)."""
    if CONVENTIONS[name].settings.get("surface") == "surfel" and "surface" not in _available():
        pytest.skip("surfel surfaces not in this build")
    cells = _cells(CONVENTIONS[name].settings["empty_values"][metric])
    for status, (p, g) in CASES.items():
        res = segloss.score(p, g, labels=[1], metrics=[metric], spacing_mm=SP, convention=name)
        row = res.classes[0]
        assert row.status == status
        want = cells[status] if status in cells else _plain_rule(metric, status)
        got = row.metrics[metric]
        assert (got is None and want is None) or got == want, (name, metric, status, got, want)


@pytest.mark.parametrize("name", list(CONVENTIONS))
def test_preset_settings_reach_the_parameters(name):
    conv = CONVENTIONS[name]
    p = make_params(metrics="dice,hd95,assd", convention=name)
    s = conv.settings
    assert str(p.surface.hd_mode) == s.get("hd_mode", "max")
    assert p.surface.hd_percentile == s.get("hd_percentile", 95.0)
    assert str(p.surface.assd_mode) == s.get("assd_mode", "pooled")
    assert str(p.pooled_means) == s.get("pooled_means", "mmseg")
    if "surface" in s and "surface" in _available():
        assert str(p.surface.surface) == s["surface"]
    resolved = p.losses.resolved()
    for key in ("ce_raw", "focal_sigmoid", "weights_scale"):
        assert resolved[key] is bool(s.get(key, False))
    assert set(s) <= set(SETTINGS)
    block = p.settings()["convention"]
    assert block["name"] == name and block["tool"] == conv.tool and block["overridden"] == {}
    assert block["tool_version"]
    assert set(block["settings"]) | set(block.get("pending", ())) == set(s)


def test_explicit_keywords_override_the_preset():
    p = make_params(metrics="hd95", convention="medpy", hd_mode="max", empty_values="hd95:both=7")
    assert str(p.surface.hd_mode) == "max"  # medpy's preset says pooled
    assert p.empty_values["hd95"] == {"both_empty": 7.0, "gt_empty": None, "pred_empty": None}
    block = p.settings()["convention"]
    assert block["overridden"] == {"hd_mode": "max", "empty_values": {"hd95": {"both_empty": 7.0}}}
    assert block["settings"]["hd_mode"] == "pooled"  # what the preset implies, recorded as such


def test_default_is_unchanged():
    """No --convention: no new settings keys, the same values as --convention segloss."""
    plain = segloss.run(BLOB, NONE, labels=[1], metrics="dice,hd,assd,nsd", spacing_mm=SP)
    assert not {"convention", "empty_values", "assd_mode", "pooled_means"} & set(plain.settings)
    same = segloss.run(BLOB, NONE, labels=[1], metrics="dice,hd,assd,nsd", spacing_mm=SP, convention="segloss")
    assert same.cases[0].classes[0].metrics == plain.cases[0].classes[0].metrics
    assert same.settings["convention"]["settings"] == {}
    assert plain.cases[0].classes[0].metrics["hd"] == DIAGONAL


def _run_json(*args):
    res = CliRunner().invoke(app, ["eval", *args, "--format", "json"])
    assert res.exit_code == 0, res.output
    return json.loads(res.stdout)


@pytest.fixture
def pair(tmp_path):
    np.save(tmp_path / "pred.npy", BLOB.astype(np.uint8))
    np.save(tmp_path / "gt.npy", NONE.astype(np.uint8))
    return str(tmp_path / "pred.npy"), str(tmp_path / "gt.npy")


def test_cli_provenance_and_override(pair):
    common = [*pair, "--spacing", "1,2", "--labels", "1", "-m", "dice,hd,hd95"]
    d = _run_json(*common, "--convention", "monai", "--empty-value", "hd:gt=3")
    s = d["settings"]
    block = s["convention"]
    assert (block["name"], block["tool"], block["tool_version"]) == ("monai", "MONAI", "1.6.1")
    assert block["settings"]["empty_values"]["dice"] == {"both_empty": "nan", "gt_empty": "nan", "pred_empty": 0.0}
    assert block["overridden"] == {"empty_values": {"hd": {"gt_empty": 3.0}}}
    assert s["empty_values"]["hd"] == {"both_empty": "nan", "gt_empty": 3.0, "pred_empty": "inf"}
    row = d["cases"][0]["classes"]["1"]
    assert row["status"] == "gt_empty"
    assert row["metrics"] == {"dice": None, "hd": 3.0, "hd95": None}  # MONAI: NaN where GT is empty
    # an explicit option beats the preset; at its default value it is the preset's
    d = _run_json(*common, "--convention", "medpy", "--hd-mode", "max")
    assert d["settings"]["hd_mode"] == "max" and d["settings"]["convention"]["overridden"] == {"hd_mode": "max"}
    assert _run_json(*common, "--convention", "medpy")["settings"]["hd_mode"] == "pooled"


def test_cli_json_has_no_infinity(pair):
    d = _run_json(*pair, "--spacing", "1,2", "--labels", "1", "-m", "hd", "--empty-value", "hd:any=inf")
    assert d["cases"][0]["classes"]["1"]["metrics"]["hd"] is None  # JSON has no inf: null, status gt_empty
    assert d["settings"]["empty_values"] == {"hd": {"both_empty": "inf", "gt_empty": "inf", "pred_empty": "inf"}}
    res = segloss.score(BLOB, NONE, labels=[1], metrics="hd", spacing_mm=SP, empty_values="hd:any=inf")
    assert res.classes[0].metrics["hd"] == math.inf  # the API keeps it


@pytest.mark.parametrize(
    "text,error",
    [
        ("dice:foo=1", "unknown status 'foo'"),
        ("dice", "is not METRIC:STATUS=VALUE"),
        ("dice:both", "is not status=value"),
        ("dice:both=abc", "is not a number"),
        ("dice:gt=worst", "for distance metrics only"),
        ("tp:gt=1", "is a count"),
        ("dcie:gt=1", "did you mean dice"),
    ],
)
def test_bad_empty_values(pair, text, error):
    res = CliRunner().invoke(app, ["eval", *pair, "--spacing", "1,2", "--empty-value", text])
    assert res.exit_code == 2
    assert error in res.output and "--empty-value" in res.output


def test_unknown_convention(pair):
    res = CliRunner().invoke(app, ["eval", *pair, "--spacing", "1,2", "--convention", "monia"])
    assert res.exit_code == 2 and "did you mean monai" in res.output
    with pytest.raises(UsageError, match="convention: unknown convention"):
        get("nope")


def test_empty_values_syntax():
    t = parse_empty_values(["dice:both=1,gt=0;hd:one=inf", "hd:gt=worst", "iou:any=skip"])
    assert t["dice"] == {"both_empty": 1.0, "gt_empty": 0.0}
    assert t["hd"] == {"gt_empty": "worst", "pred_empty": math.inf}
    assert t["iou"] == dict.fromkeys(("both_empty", "gt_empty", "pred_empty"))
    group = parse_empty_values("directed:both=0")  # a group names its metrics
    assert set(group) == {"hd_pg", "hd_gp", "hd95_pg", "hd95_gp", "asd_pg", "asd_gp"}
    assert parse_empty_values({"f1": {"pred": 0.5}}) == {"dice": {"pred_empty": 0.5}}  # aliases


def test_worst_and_skip_values_in_the_summary():
    """'worst' is the diagonal; a skipped (nan) value is left out of the mean and counted in n_null."""
    gt = np.stack([NONE, BLOB])  # two cases as a folder would give them, scored one by one
    res = [
        segloss.run(BLOB, g, labels=[1], metrics="dice,hd", spacing_mm=SP, empty_values="hd:gt=worst;dice:gt=skip")
        for g in gt
    ]
    first = res[0].cases[0].classes[0].metrics
    assert first == {"dice": None, "hd": DIAGONAL}
    stats = res[0].summary.classes[0].metrics["dice"]
    assert (stats.n, stats.n_null, stats.mean) == (0, 1, None)


def test_assd_mode_mean_is_the_mean_of_the_directed_means():
    rng = np.random.default_rng(3)
    p, g = (rng.random((9, 8)) < 0.4).astype(np.int64), (rng.random((9, 8)) < 0.4).astype(np.int64)

    def surface(m):
        m = m.astype(bool)
        return m & ~ndimage.binary_erosion(m, structure=ndimage.generate_binary_structure(2, 1), border_value=0)

    sp_, sg = surface(p), surface(g)
    d_pg = ndimage.distance_transform_edt(~sg, sampling=SP)[sp_]
    d_gp = ndimage.distance_transform_edt(~sp_, sampling=SP)[sg]
    mean = segloss.score(p, g, labels=[1], metrics="assd", spacing_mm=SP, assd_mode="mean").classes[0].metrics
    pooled = segloss.score(p, g, labels=[1], metrics="assd", spacing_mm=SP).classes[0].metrics
    assert mean["assd"] == pytest.approx((d_pg.mean() + d_gp.mean()) / 2, rel=1e-12)
    assert pooled["assd"] == pytest.approx(np.concatenate([d_pg, d_gp]).mean(), rel=1e-12)
    with pytest.raises(UsageError, match="assd_mode must be one of"):
        make_params(assd_mode="median")


def test_readme_table_is_the_presets():
    from pathlib import Path

    from segloss_cli.conventions import markdown_table

    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text()
    assert markdown_table() in readme
