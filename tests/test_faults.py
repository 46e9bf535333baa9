"""Issue 20, faults and hostile input: closed and full standard streams, malformed NIfTI headers,
gzip member variants, shapes of score maps, hostile option values, truncated files, file names
that are not UTF-8, and the cost of many classes."""

from __future__ import annotations

import os
import subprocess
import sys

import numpy as np
import pytest
from typer.testing import CliRunner

from segloss_cli.cli import app

runner = CliRunner()
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def cli(*args):
    return runner.invoke(app, [str(a) for a in args])


def segloss(*args, **popen):
    """Run the real entry point (python -m segloss_cli) in a subprocess: streams as a shell gives them."""
    env = {**os.environ, "PYTHONPATH": ROOT}
    return subprocess.run([sys.executable, "-m", "segloss_cli", *map(str, args)], env=env, **popen)


@pytest.fixture
def pair(tmp_path):
    gt = np.zeros((6, 6, 4), np.uint8)
    gt[1:4, 1:4, 1:3] = 1
    pred = gt.copy()
    pred[1, 1, 1] = 0
    np.save(tmp_path / "p.npy", pred)
    np.save(tmp_path / "g.npy", gt)
    return tmp_path / "p.npy", tmp_path / "g.npy"


# --- 1. Standard streams -----------------------------------------------------------------------


def test_stdout_closed_before_start_is_a_broken_pipe(pair):
    res = segloss(
        "eval",
        *pair,
        "--metrics",
        "dice",
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        preexec_fn=lambda: os.close(1),
    )
    assert res.returncode == 141, res.stderr
    assert b"Traceback" not in res.stderr and b"internal error" not in res.stderr


def test_stdout_closed_with_json_to_stdout_is_141(pair):
    res = segloss(
        "eval",
        *pair,
        "--metrics",
        "dice",
        "--format",
        "json",
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        preexec_fn=lambda: os.close(1),
    )
    assert res.returncode == 141, res.stderr


def test_a_file_output_does_not_take_a_closed_stdout_descriptor(tmp_path, pair):
    """With fd 1 closed, the first file opened would get descriptor 1; stdout writes must not land in it."""
    out = tmp_path / "out.json"
    res = segloss(
        "eval",
        *pair,
        "--metrics",
        "dice",
        "--json",
        out,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        preexec_fn=lambda: os.close(1),
    )
    assert res.returncode == 141  # the table still goes to the closed stdout
    import json

    assert json.loads(out.read_text())["schema_version"] == 1


@pytest.mark.skipif(not os.path.exists("/dev/full"), reason="needs /dev/full")
@pytest.mark.parametrize("fmt", ["table", "json", "csv"])
def test_stdout_on_a_full_device_is_one_line_exit_2(pair, fmt):
    with open("/dev/full", "w") as full:
        res = segloss("eval", *pair, "--metrics", "dice", "--format", fmt, stdout=full, stderr=subprocess.PIPE)
    lines = res.stderr.decode().splitlines()
    assert res.returncode == 2, res.stderr
    assert lines == [
        "segloss: error: stdout: cannot write the output: no space left on the device; "
        "free some space or redirect stdout elsewhere"
    ]


@pytest.mark.parametrize("closed", [(2,), (1, 2)])
def test_stderr_closed_while_a_requirement_fails_is_still_exit_1(pair, closed):
    def close():
        for fd in closed:
            os.close(fd)

    args = ("eval", *pair, "--metrics", "dice", "--require", "dice>=0.99")
    if 1 in closed:
        args += ("--json", os.devnull)
    res = segloss(*args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, preexec_fn=close)
    assert res.returncode == (141 if 1 in closed else 1)
    ok = segloss(
        "eval",
        *pair,
        "--metrics",
        "dice",
        "--require",
        "dice>=0.5",
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        preexec_fn=lambda: os.close(2),
    )
    assert ok.returncode == 0


def test_stderr_closed_with_a_usage_error_is_still_exit_2(pair):
    res = segloss(
        "eval",
        *pair,
        "--metrics",
        "nosuchmetric",
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        preexec_fn=lambda: os.close(2),
    )
    assert res.returncode == 2
