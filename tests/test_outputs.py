"""Outputs (issue 20): written through symbolic links, into pipes and devices, never over an
input, and a full disk is one clear line with nothing left behind."""

from __future__ import annotations

import errno
import json
import os
import threading

import numpy as np
import pytest
from typer.testing import CliRunner

from segloss_cli.cli import app

runner = CliRunner()


@pytest.fixture
def pair(tmp_path):
    gt = np.zeros((4, 4, 4), np.uint8)
    gt[1:3, 1:3, 1:3] = 1
    np.save(tmp_path / "g.npy", gt)
    return tmp_path / "g.npy"


def cli(*args):
    return runner.invoke(app, [str(a) for a in args])


def test_a_symlink_output_is_written_through(tmp_path, pair):
    target = tmp_path / "real.json"
    target.write_text("old")
    link = tmp_path / "link.json"
    link.symlink_to(target)
    dangling = tmp_path / "dangling.json"
    dangling.symlink_to(tmp_path / "new_target.json")
    res = cli("eval", pair, pair, "--metrics", "dice", "--json", link, "--csv", dangling)
    assert res.exit_code == 0, res.output
    assert link.is_symlink() and json.loads(target.read_text())["schema_version"] == 1
    assert dangling.is_symlink() and (tmp_path / "new_target.json").read_text().startswith("case,label")


def test_devices_and_fifos_are_written_into_not_replaced(tmp_path, pair):
    res = cli("eval", pair, pair, "--metrics", "dice", "--json", os.devnull)
    assert res.exit_code == 0 and os.path.exists(os.devnull) and not os.path.isfile(os.devnull)
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    got = []

    def read():
        with open(fifo) as fh:
            got.append(fh.read())

    reader = threading.Thread(target=read)
    reader.start()
    res = cli("eval", pair, pair, "--metrics", "dice", "--json", fifo)
    reader.join(timeout=30)
    assert res.exit_code == 0 and json.loads(got[0])["schema_version"] == 1
    assert not fifo.is_file() and fifo.exists()


def test_an_output_inside_an_input_folder_is_refused(tmp_path, pair):
    for sub in ("p", "g"):
        (tmp_path / sub).mkdir()
        np.save(tmp_path / sub / "c1.npy", np.load(pair))
    res = cli("eval", tmp_path / "p", tmp_path / "g", "--csv", tmp_path / "g" / "c2.npy")
    assert res.exit_code == 2 and "inside the input folder" in res.stderr
    req = tmp_path / "req.toml"
    req.write_text('require = ["dice>=0.5"]\n')
    res = cli("eval", pair, pair, "--require-file", req, "--json", req)
    assert res.exit_code == 2 and "one of the inputs" in res.stderr


def test_a_full_disk_is_one_line_and_leaves_nothing(tmp_path, pair, monkeypatch):
    import segloss_cli.io.atomic as atomic

    def full(fd):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(atomic.os, "fsync", full)
    out = tmp_path / "scores.json"
    res = cli("eval", pair, pair, "--metrics", "dice", "--json", out)
    lines = [line for line in res.stderr.splitlines() if line.strip()]
    assert res.exit_code == 2 and len(lines) == 1 and "no space left on the device" in lines[0] and str(out) in lines[0]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["g.npy"]  # no output, no temporary file
