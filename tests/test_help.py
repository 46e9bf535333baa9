"""`segloss eval --help` in panels, as plain text in a pipe; "did you mean" for names."""

from __future__ import annotations

import os
import re
import subprocess
import sys

import numpy as np
import pytest
from typer.testing import CliRunner

from segloss_cli.cli import app
from tests.conftest import write_nifti

PANELS = ["Arguments", "Metrics", "Classes", "Input", "Output", "Folders", "CI gate", "Losses", "Options"]


def _help(*args: str, env_extra: dict[str, str] | None = None) -> str:
    """Help as a pipe sees it: a subprocess whose stdout is not a terminal."""
    env = {**os.environ, **(env_extra or {})}
    out = subprocess.run(
        [sys.executable, "-m", "segloss_cli", *args, "--help"], capture_output=True, text=True, env=env, timeout=60
    )
    assert out.returncode == 0, out.stderr
    return out.stdout


def _sections(text: str) -> dict[str, list[str]]:
    """Heading -> the option names listed under it."""
    sections: dict[str, list[str]] = {}
    current = None
    for line in text.splitlines():
        if re.fullmatch(r"[A-Z][A-Za-z ]*:", line):
            current = line[:-1]
            sections[current] = []
        elif current is not None:
            sections[current] += re.findall(r"^  (?:-\w, )?(--[a-z0-9-]+)", line)
    return sections


@pytest.fixture(scope="module")
def eval_help() -> str:
    return _help("eval")


def test_eval_help_in_panels(eval_help):
    sections = _sections(eval_help)
    assert [s for s in sections if s in PANELS] == PANELS  # each once, in declaration order
    for option, panel in [
        ("--metrics", "Metrics"),
        ("--hd-mode", "Metrics"),
        ("--labels", "Classes"),
        ("--ignore-label", "Classes"),
        ("--spacing", "Input"),
        ("--renormalize", "Input"),  # declared among the losses, shown with the inputs
        ("--format", "Output"),
        ("--markdown", "Output"),
        ("--jobs", "Folders"),
        ("--require", "CI gate"),
        ("--allow-undefined", "CI gate"),
        ("--losses", "Losses"),
        ("--tversky-alpha", "Losses"),  # generated from the loss registry
        ("--help", "Options"),
    ]:
        assert option in sections[panel], (option, panel)


def test_every_eval_option_listed_once(eval_help):
    from typer.main import get_command

    command = get_command(app).commands["eval"]  # type: ignore[attr-defined]
    declared = [o for p in command.params if p.param_type_name == "option" for o in p.opts if o.startswith("--")]
    declared = sorted([*declared, "--help"])  # click adds --help when it formats
    listed = sorted(o for names in _sections(eval_help).values() for o in names)
    assert listed == declared


def test_help_has_no_escape_codes_even_in_ci(eval_help):
    assert "\x1b[" not in eval_help
    # rich would colour a GitHub Actions log; plain sections never do
    ci = _help("eval", env_extra={"GITHUB_ACTIONS": "true", "FORCE_COLOR": "1"})
    assert "\x1b[" not in ci and ci == eval_help
    top = _help()
    assert "\x1b[" not in top and "Commands:" in top and "eval" in top
    # brackets in help texts stay as written (no markup)
    assert "'hd95[liver]<=5'" in eval_help and "[tool.segloss]" in eval_help


def test_compare_help_lists_its_options():
    sections = _sections(_help("compare"))
    assert {"--force", "--only-regressions", "--top", "--max-drop"} <= set(sections["Options"])


@pytest.fixture
def pair(tmp_path):
    gt = np.zeros((8, 8, 2), np.uint8)
    gt[1:4, 1:7, :] = 1
    gt[5:7, 1:7, :] = 2
    p, g = write_nifti(tmp_path / "p.nii.gz", gt), write_nifti(tmp_path / "g.nii.gz", gt)
    names = tmp_path / "names.json"
    names.write_text('{"1": "liver", "2": "spleen"}')
    return p, g, names


@pytest.mark.parametrize(
    "args, message",
    [
        (["--metrics", "dcie"], "segloss: error: unknown metric 'dcie' (did you mean dice?)"),
        (["--losses", "tverski"], "segloss: error: unknown loss 'tverski' (did you mean tversky?)"),
        (["-m", "dice", "--require", "dice[livr]>=0.5"], "no reported class is named 'livr' (did you mean liver?)"),
    ],
)
def test_did_you_mean(pair, args, message):
    p, g, names = pair
    res = CliRunner().invoke(app, ["eval", str(p), str(g), "--label-names", str(names), *args])
    assert res.exit_code == 2 and message in res.stderr
    ok = CliRunner().invoke(app, ["eval", str(p), str(g), "--label-names", str(names), "-m", "dice"])
    assert ok.exit_code == 0
