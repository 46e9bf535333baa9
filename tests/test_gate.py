"""The CI gate: requirement syntax, checks against values computed here with numpy, exit codes."""

from __future__ import annotations

import json
from pathlib import Path

import nibabel as nib
import numpy as np
import pytest
from typer.testing import CliRunner

from segloss_cli.aggregate import summarize
from segloss_cli.cli import app
from segloss_cli.errors import InputError, UsageError
from segloss_cli.gate import check, load_requirement_file, parse_requirement
from segloss_cli.io.toml_lite import TomlError, loads_subset
from segloss_cli.model import CaseResult, ClassResult, LossResult, RunResult

RUNNER = CliRunner()


def write_nifti(path, array, spacing=(1.0, 1.0, 1.0)):
    nib.save(nib.Nifti1Image(np.asarray(array), np.diag([*spacing, 1.0])), str(path))
    return Path(path)


@pytest.fixture
def pair(tmp_path):
    """Class 1 (liver) overlaps well, class 2 (spleen) less; class 3 only in PRED."""
    gt = np.zeros((16, 12, 6), np.uint8)
    gt[1:9, 1:10, 1:5] = 1
    gt[10:15, 2:8, 1:5] = 2
    pred = gt.copy()
    pred[1:3, 1:10, 1:5] = 0  # class 1 loses two slabs
    pred[10:15, 2:5, 1:5] = 0  # class 2 loses half
    pred[0, 0, 0] = 3
    p, g = write_nifti(tmp_path / "pred.nii.gz", pred), write_nifti(tmp_path / "gt.nii.gz", gt)
    names = tmp_path / "names.json"
    names.write_text(json.dumps({"1": "liver", "2": "spleen", "3": "tumour"}))
    dice = {
        lab: 2 * np.sum((pred == lab) & (gt == lab)) / (np.sum(pred == lab) + np.sum(gt == lab)) for lab in (1, 2, 3)
    }
    return p, g, names, dice


def run(*args):
    return RUNNER.invoke(app, [str(a) for a in args])


# ------------------------------------------------------------------ syntax


@pytest.mark.parametrize(
    "text, kind, name, selector, op, threshold",
    [
        ("dice>=0.85", "metric", "dice", None, ">=", 0.85),
        ("hd95<=5", "metric", "hd95", None, "<=", 5.0),
        ("dice[liver]>=0.9", "metric", "dice", "liver", ">=", 0.9),
        ("dice[3]>0.9", "metric", "dice", "3", ">", 0.9),
        ("loss.dice<=0.2", "loss", "dice", None, "<=", 0.2),
        ("loss.dice[1]<0.3", "loss", "dice", "1", "<", 0.3),
        ("  iou [ left kidney ] >= 1e-1 ", "metric", "iou", "left kidney", ">=", 0.1),
        ("assd<-0.5", "metric", "assd", None, "<", -0.5),
    ],
)
def test_parse_every_syntax(text, kind, name, selector, op, threshold):
    req = parse_requirement(text)
    assert (req.kind, req.name, req.selector, req.op, req.threshold) == (kind, name, selector, op, threshold)


@pytest.mark.parametrize(
    "text",
    [
        "dice=0.9",
        "dice==0.9",
        "dice=>0.9",
        "dice>=x",
        "dice[]>=0.9",
        ">=0.9",
        "dice>=nan",
        "dice 0.9",
        "dice>=0.9 extra",
    ],
)
def test_bad_syntax_is_a_usage_error(text):
    from segloss_cli.cli._common import cli_options

    with pytest.raises(UsageError, match=r"^require '") as info:
        parse_requirement(text)
    assert info.value.render(cli_options()).startswith("--require '")  # the CLI names its option


def test_operators_hold_exactly_at_the_threshold():
    assert parse_requirement("dice>=0.5").holds(0.5) and not parse_requirement("dice>0.5").holds(0.5)
    assert parse_requirement("hd<=2").holds(2.0) and not parse_requirement("hd<2").holds(2.0)


# ------------------------------------------------------------------ single pair through the CLI


def test_pair_pass_and_fail_exit_codes(pair, tmp_path):
    p, g, names, dice = pair
    lo, hi = min(dice[1], dice[2]), max(dice[1], dice[2])
    res = run("eval", p, g, "--labels", "1,2", "--metrics", "dice", "--require", f"dice>={lo - 1e-9}")
    assert res.exit_code == 0, res.stderr
    assert "all 2 requirement checks passed" in res.stderr
    out = tmp_path / "r.json"
    res = run(
        "eval",
        p,
        g,
        "--labels",
        "1,2",
        "--metrics",
        "dice",
        "--label-names",
        names,
        "--require",
        f"dice>={hi - 1e-9}",
        "--require",
        "dice[liver]>=0.99",
        "--json",
        out,
    )
    assert res.exit_code == 1
    err = res.stderr
    assert "2 of 3 requirement checks failed" in err
    assert "dice>=0.99" in err or "dice[liver]>=0.99" in err
    failing = 2 if dice[2] < dice[1] else 1
    assert f"{failing} (" in err and f"{dice[failing]:.4f}" in err and ">= 0.99" in err
    # the run itself succeeded: its results are written for the CI job to keep
    assert json.loads(out.read_text())["cases"][0]["classes"]["1"]["metrics"]["dice"] == pytest.approx(dice[1])


def test_class_by_label_and_by_name_case_insensitive(pair):
    p, g, names, dice = pair
    base = ("eval", p, g, "--metrics", "dice,iou", "--label-names", names)
    assert run(*base, "--require", f"dice[2]>={dice[2] - 1e-9}").exit_code == 0
    assert run(*base, "--require", f"dice[2]>={dice[2] + 1e-9}").exit_code == 1
    assert run(*base, "--require", f"dice[Spleen]>={dice[2] - 1e-9}").exit_code == 0
    assert run(*base, "--require", f"f1[spleen]<{dice[2] + 1e-9}").exit_code == 0  # alias


@pytest.mark.parametrize(
    "expr, message",
    [
        ("nosuch>=1", "unknown metric 'nosuch'"),
        ("hd95_typo<=1", "unknown metric"),
        ("iou>=0.5", "metric iou is not computed; add it to --metrics"),
        ("dice[7]>=0.5", "class 7 is not among the reported classes"),
        ("dice[kidney]>=0.5", "no reported class is named 'kidney'"),
        ("loss.dice<=0.5", "loss dice is not computed"),
    ],
)
def test_unknown_metric_loss_or_class_is_exit_2_and_writes_nothing(pair, tmp_path, expr, message):
    p, g, names, _ = pair
    out = tmp_path / "never.json"
    res = run("eval", p, g, "--metrics", "dice", "--label-names", names, "--require", expr, "--json", out)
    assert res.exit_code == 2
    assert message in res.stderr and res.stderr.count("\n") == 1
    assert not out.exists()


def test_undefined_fails_unless_allowed(pair):
    p, g, names, _ = pair
    # class 3 is only in PRED: gt_empty, so recall (TP/(TP+FN)) is 0/0 = undefined
    args = ("eval", p, g, "--metrics", "dice,recall", "--require", "recall[3]>=0")
    res = run(*args)
    assert res.exit_code == 1
    assert "undefined (null)" in res.stderr
    assert run(*args, "--allow-undefined").exit_code == 0
    # under --empty-policy nan the missed class has an undefined dice as well
    assert run("eval", p, g, "--metrics", "dice", "--empty-policy", "nan", "--require", "dice>=0").exit_code == 1
    assert run("eval", p, g, "--metrics", "dice", "--require", "dice>=0").exit_code == 0


def test_require_file_toml(pair, tmp_path):
    p, g, names, dice = pair
    f = tmp_path / "bar.toml"
    f.write_text(
        f"# quality bar\nrequire = [\n  \"dice[1]>={dice[1] - 1e-9}\",  # liver\n  'dice[2] >= {dice[2] + 1e-9}',\n]\n"
    )
    res = run("eval", p, g, "--metrics", "dice", "--require-file", f, "--require", "dice[3]>=0")
    assert res.exit_code == 1
    assert "1 of 3 requirement checks failed" in res.stderr
    py = tmp_path / "pyproject.toml"
    py.write_text(f'[project]\nname = "x"\n\n[tool.segloss]\nrequire = ["dice[1]>={dice[1] - 1e-9}"]\n')
    assert run("eval", p, g, "--metrics", "dice", "--require-file", py).exit_code == 0
    bad = tmp_path / "bad.toml"
    bad.write_text('require = ["dice>=0.5"\n')
    res = run("eval", p, g, "--require-file", bad)
    assert res.exit_code == 2 and "not valid TOML" in res.stderr
    none = tmp_path / "none.toml"
    none.write_text("threshold = 1\n")
    res = run("eval", p, g, "--require-file", none)
    assert res.exit_code == 2 and "no requirement list" in res.stderr
    res = run("eval", p, g, "--require-file", tmp_path / "absent.toml")
    assert res.exit_code == 2 and "not found" in res.stderr


def test_require_file_value_types(tmp_path):
    f = tmp_path / "r.toml"
    f.write_text("require = [1, 2]\n")
    with pytest.raises(InputError, match="list of strings"):
        load_requirement_file(f)


# ------------------------------------------------------------------ folders: the summary mean


def test_folder_requirements_use_the_summary_mean(tmp_path):
    pdir, gdir = tmp_path / "p", tmp_path / "g"
    pdir.mkdir()
    gdir.mkdir()
    dices = []
    for i in range(4):
        gt = np.zeros((10, 10, 4), np.uint8)
        gt[2:8, 2:8, :] = 1
        pred = gt.copy()
        pred[2 : 2 + i, 2:8, :] = 0  # i rows missed
        write_nifti(pdir / f"c{i}.nii.gz", pred)
        write_nifti(gdir / f"c{i}.nii.gz", gt)
        dices.append(2 * np.sum((pred == 1) & (gt == 1)) / (np.sum(pred == 1) + np.sum(gt == 1)))
    mean = float(np.mean(dices))
    base = ("eval", pdir, gdir, "--metrics", "dice", "-j", "1")
    assert run(*base, "--require", f"dice>={mean - 1e-9}").exit_code == 0
    res = run(*base, "--require", f"dice>={mean + 1e-9}")
    assert res.exit_code == 1 and f"{mean:.4f}" in res.stderr
    # the worst case is below the bar but the mean is what a folder gate checks
    assert min(dices) < mean - 0.05


# ------------------------------------------------------------------ losses (hand-built run)


def _run_with_losses(values):
    cases = []
    for i, (reduced, per1, per2) in enumerate(values):
        rows = (ClassResult(1, "liver", "ok", {"dice": 0.9}), ClassResult(2, "spleen", "ok", {"dice": 0.8}))
        losses = {
            "dice": LossResult("dice", reduced, {1: per1, 2: per2}, {}),
            "generalized_dice": LossResult("generalized_dice", reduced, {}, {}),
        }
        cases.append(CaseResult(f"c{i}", "p", "g", (1.0, 1.0, 1.0), rows, losses))
    names = ("dice", "generalized_dice")
    return RunResult(
        settings={},
        cases=tuple(cases),
        summary=summarize(cases, ("dice",), names),
        metric_names=("dice",),
        loss_names=names,
    )


def test_loss_requirements_reduced_and_per_class():
    run_ = _run_with_losses([(0.25, 0.1, 0.3), (0.5, None, 0.5)])
    reqs = [parse_requirement(t) for t in ("loss.dice<=0.375", "loss.dice[liver]<0.2", "loss.dice[2]<=0.35")]
    checks = check(run_, reqs)
    assert [(c.key, c.label, c.actual, c.passed) for c in checks] == [
        ("loss.dice", None, 0.375, True),
        ("loss.dice", "1", pytest.approx(0.1), False),  # undefined in one case: fails (issue 20), mean 0.1
        ("loss.dice", "2", pytest.approx(0.4), False),
    ]
    with pytest.raises(UsageError, match="no per-class value"):
        check(run_, [parse_requirement("loss.generalized_dice[1]<=1")])
    with pytest.raises(UsageError, match="loss focal is not computed"):
        check(run_, [parse_requirement("loss.focal<=1")])


def test_loss_requirement_on_a_probability_map_against_numpy(tmp_path):
    """loss.dice is MONAI-style soft Dice per class (background excluded), reduced by the mean."""
    rng = np.random.default_rng(3)
    gt = np.zeros((10, 8, 4), np.uint8)
    gt[1:6, 1:7, :] = 1
    gt[6:9, 2:6, :] = 2
    logits = rng.normal(size=(3, *gt.shape)) + 3.0 * np.stack([gt == k for k in range(3)])
    probs = np.exp(logits) / np.exp(logits).sum(axis=0, keepdims=True)
    np.save(tmp_path / "probs.npy", probs.astype(np.float32))
    np.save(tmp_path / "gt.npy", gt)
    p32 = probs.astype(np.float32).astype(np.float64)
    per = [1 - (2 * np.sum(p32[c] * (gt == c)) + 1e-5) / (np.sum(p32[c]) + np.sum(gt == c) + 1e-5) for c in (1, 2)]
    value = float(np.mean(per))
    base = (
        "eval",
        tmp_path / "probs.npy",
        tmp_path / "gt.npy",
        "--spacing",
        "1",
        "--metrics",
        "dice",
        "--losses",
        "dice",
    )
    assert run(*base, "--require", f"loss.dice<={value + 1e-6}").exit_code == 0
    res = run(*base, "--require", f"loss.dice<={value - 1e-6}", "--require", f"loss.dice[2]<={per[1] + 1e-6}")
    assert res.exit_code == 1 and "1 of 2 requirement checks failed" in res.stderr and "(reduced)" in res.stderr
    res = run(*base, "--require", "loss.nosuch<=1")
    assert res.exit_code == 2 and "unknown loss 'nosuch'" in res.stderr
    res = run(*base, "--require", "loss.focal<=1")
    assert res.exit_code == 2 and "loss focal is not computed" in res.stderr


def test_undefined_loss_value_fails_unless_allowed():
    run_ = _run_with_losses([(None, None, None)])
    req = [parse_requirement("loss.dice<=1")]
    assert [c.passed for c in check(run_, req)] == [False]
    assert [c.passed for c in check(run_, req, allow_undefined=True)] == [True]


# ------------------------------------------------------------------ the TOML subset parser (Python 3.10)

TOML_DOCS = [
    'require = ["dice>=0.85", "hd95<=5"]\n',
    '# comment\nrequire = [\n  \'dice[liver]>=0.9\', # trailing comment\n  "a \\"quoted\\" \\u00e9",\n]\n',
    '[tool.segloss]\nrequire = ["x"]\nflag = true\nn = 1_000\nf = -2.5e-3\n\n[other]\n"quoted key" = "v#not a comment"\na.b = [1, [2, 3]]\n',
    "empty = []\n[t]\n",
]


@pytest.mark.parametrize("doc", TOML_DOCS)
def test_toml_subset_agrees_with_tomllib(doc):
    tomllib = pytest.importorskip("tomllib")
    assert loads_subset(doc) == tomllib.loads(doc)


@pytest.mark.parametrize(
    "doc",
    ['a = """x"""\n', "a = {b = 1}\n", "[[t]]\n", 'a = "x\n', "a = 1\na = 2\n", "a = [1, 2\n", "a = 1979-05-27\n"],
)
def test_toml_subset_rejects_what_it_does_not_read(doc):
    with pytest.raises(TomlError):
        loads_subset(doc)
