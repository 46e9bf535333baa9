"""`segloss eval --format markdown` / `--markdown PATH`: a CI job summary with the values
computed here with numpy, the gate's verdict, exit codes and atomic writing."""

from __future__ import annotations

import json

import numpy as np
import pytest
from typer.testing import CliRunner

from segloss_cli.cli import app
from segloss_cli.report.markdown import md_escape
from tests.conftest import write_nifti

RUNNER = CliRunner()


def run(*args):
    return RUNNER.invoke(app, [str(a) for a in args])


def dice(pred, gt, lab):
    return 2 * np.sum((pred == lab) & (gt == lab)) / (np.sum(pred == lab) + np.sum(gt == lab))


@pytest.fixture
def pair(tmp_path):
    gt = np.zeros((12, 10, 4), np.uint8)
    gt[1:6, 1:9, :] = 1
    gt[7:11, 1:9, :] = 2
    pred = gt.copy()
    pred[1, 1:9, :] = 0
    pred[7:9, 1:9, :] = 0
    p, g = write_nifti(tmp_path / "pred.nii.gz", pred), write_nifti(tmp_path / "gt.nii.gz", gt)
    names = tmp_path / "names.json"
    names.write_text(json.dumps({"1": "liver|left", "2": "<b>spleen</b>"}))
    return p, g, names, {lab: dice(pred, gt, lab) for lab in (1, 2)}


def test_pair_markdown_values_and_passing_gate(pair):
    p, g, names, d = pair
    res = run("eval", p, g, "-m", "dice,tp", "--label-names", names, "--require", "dice>=0.5", "-f", "markdown")
    assert res.exit_code == 0, res.stderr
    lines = res.stdout.splitlines()
    assert lines[0] == "### ✅ segloss eval: 1 pair (gt), 2 classes, all 2 requirement checks passed"
    assert "#### Failed checks" not in res.stdout
    head = lines.index("| label | name | status | dice | tp |")
    assert lines[head + 1] == "|---:|---|---|---:|---:|"
    tp = {1: 4 * 8 * 4, 2: 2 * 8 * 4}
    assert lines[head + 2 : head + 5] == [
        f"| 1 | liver\\|left | ok | {d[1]:.4f} | {tp[1]:,} |",
        f"| 2 | &lt;b>spleen&lt;/b> | ok | {d[2]:.4f} | {tp[2]:,} |",
        f"|  | mean over classes |  | {(d[1] + d[2]) / 2:.4f} | {(tp[1] + tp[2]) / 2:.4f} |",
    ]


def test_failed_checks_exit_1_and_the_file_equals_stdout(pair, tmp_path):
    p, g, names, d = pair
    md = tmp_path / "summary.md"
    args = ("eval", p, g, "-m", "dice", "--label-names", names, "--require", "dice>=0.8", "--markdown", md)
    res = run(*args, "-f", "markdown")
    assert res.exit_code == 1
    assert d[1] >= 0.8 > d[2]
    assert res.stdout.startswith("### ❌ segloss eval: 1 pair (gt), 2 classes, 1 of 2 requirement checks failed\n")
    lines = res.stdout.splitlines()
    head = lines.index("#### Failed checks (1 of 2)")
    assert lines[head + 2 : head + 5] == [
        "| requirement | metric | class | required | actual |",
        "|---|---|---|---:|---:|",
        f"| dice>=0.8 | dice | 2 (&lt;b>spleen&lt;/b>) | >= 0.8 | {d[2]:.4f} |",
    ]
    assert md.read_text(encoding="utf-8") == res.stdout
    assert sorted(x.name for x in tmp_path.iterdir() if x.name.startswith("summary")) == ["summary.md"]
    # the table on stdout, the Markdown in the file, the same exit code
    res = run(*args)
    assert res.exit_code == 1 and "┃ label" in res.stdout and md.read_text(encoding="utf-8").startswith("### ❌")


def test_nothing_written_on_a_usage_error(pair, tmp_path):
    p, g, _, _ = pair
    md, js = tmp_path / "s.md", tmp_path / "s.json"
    res = run("eval", p, g, "-m", "dice", "--require", "dcie>=0.5", "--markdown", md, "--json", js)
    assert res.exit_code == 2 and "did you mean dice?" in res.stderr
    res = run("eval", p, g, "-m", "dice", "--require", "dice[nosuch]>=0.5", "--markdown", md)
    assert res.exit_code == 2 and "no reported class is named 'nosuch'" in res.stderr
    assert not md.exists() and not js.exists()
    res = run("eval", p, g, "-m", "dice", "--markdown", js, "--json", js)
    assert res.exit_code == 2 and "must be different files" in res.stderr


def test_folder_markdown_mean_std_and_worst_cases(tmp_path):
    pdir, gdir = tmp_path / "p", tmp_path / "g"
    pdir.mkdir()
    gdir.mkdir()
    values = {}
    for i in range(4):
        gt = np.zeros((10, 10, 3), np.uint8)
        gt[2:8, 2:8, :] = 1
        pred = gt.copy()
        pred[2 : 2 + i, 2:8, :] = 0  # case i loses i rows
        write_nifti(pdir / f"c{i}.nii.gz", pred)
        write_nifti(gdir / f"c{i}.nii.gz", gt)
        values[f"c{i}"] = dice(pred, gt, 1)
    res = run("eval", pdir, gdir, "-m", "dice", "-j", "1", "-q", "-f", "markdown", "--require", "dice.min>=0.8")
    assert res.exit_code == 1
    lines = res.stdout.splitlines()
    assert lines[0] == "### ❌ segloss eval: 4 cases, 1 class, 1 of 1 requirement checks failed"
    v = np.array(list(values.values()))
    failing = [c for c, x in values.items() if x < 0.8]
    assert (
        failing
        and f"| dice.min>=0.8 | dice.min | 1 | >= 0.8 | {v.min():.4f}; cases missing it: {', '.join(failing)} |"
        in lines
    )
    head = lines.index("| label | name | cases | dice |")
    assert lines[head + 2] == f"| 1 |  | 4 | {v.mean():.4f} ± {v.std():.4f} |"
    worst = lines.index("| case | mean dice | worst class | dice |")
    order = sorted(values, key=values.get)
    assert [row.split(" | ")[0][2:] for row in lines[worst + 2 : worst + 6]] == order
    assert lines[worst + 2] == f"| {order[0]} | {values[order[0]]:.4f} | 1 | {values[order[0]]:.4f} |"


def test_many_classes_collapse_under_the_mean_row(tmp_path):
    gt = np.zeros((30, 6, 2), np.uint8)
    for lab in range(1, 26):
        gt[lab, :, :] = lab
    pred = gt.copy()
    pred[1, :3, :] = 0
    p, g = write_nifti(tmp_path / "p.nii.gz", pred), write_nifti(tmp_path / "g.nii.gz", gt)
    res = run("eval", p, g, "-m", "dice", "-f", "markdown")
    assert res.exit_code == 0
    lines = res.stdout.splitlines()
    assert lines[0] == "### segloss eval: 1 pair (g), 25 classes, no requirements checked"
    start, end = lines.index("<details><summary>all 25 classes</summary>"), lines.index("</details>")
    mean = (dice(pred, gt, 1) + 24) / 25
    assert lines[start - 2] == f"|  | mean over classes |  | {mean:.4f} |"  # shown above the collapsed table
    assert len([x for x in lines[start:end] if x.startswith("| ") and not x.startswith("| label")]) == 26


@pytest.mark.parametrize(
    "text, escaped",
    [
        ("a|b", "a\\|b"),
        ("<script>x</script>", "&lt;script>x&lt;/script>"),
        ("volume_similarity", "volume_similarity"),
        ("_em_ *b* [l](u) `c` ~s~", "\\_em\\_ \\*b\\* \\[l\\](u) \\`c\\` \\~s\\~"),
        ("a\nb & c\\d", "a b &amp; c\\\\d"),
    ],
)
def test_md_escape(text, escaped):
    assert md_escape(text) == escaped
