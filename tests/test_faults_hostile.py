"""Issue 20, the items of its third pass: spreadsheet formulas in CSV cells, the summary CSV
streamed, typed validation of result files, outputs through /dev/stdout on a regular file,
very long user values in error lines."""

from __future__ import annotations

import csv
import io
import json

import numpy as np
import pytest
from typer.testing import CliRunner

from segloss_cli.cli import app

runner = CliRunner()


def cli(*args):
    return runner.invoke(app, [str(a) for a in args])


def _folders(tmp_path, ids, classes=(1, 2)):
    for sub in ("p", "g"):
        (tmp_path / sub).mkdir(parents=True, exist_ok=True)
    for cid in ids:
        gt = np.zeros((6, 6, 2), np.uint8)
        gt[1:3, 1:3] = classes[0]
        if len(classes) > 1:
            gt[4:6, 4:6] = classes[1]
        pred = gt.copy()
        pred[1, 1, 0] = 0
        np.save(tmp_path / "p" / f"{cid}.npy", pred)
        np.save(tmp_path / "g" / f"{cid}.npy", gt)
    return tmp_path / "p", tmp_path / "g"


# --- 1. CSV cells a spreadsheet would run as a formula (OWASP "CSV Injection") --------------------

FORMULA_IDS = ["=cmd", "+x", "-y", "@z", "plain"]


def test_text_cells_that_would_start_a_formula_get_a_leading_quote(tmp_path):
    pdir, gdir = _folders(tmp_path, FORMULA_IDS)
    names = tmp_path / "names.json"
    names.write_text(json.dumps({"1": '=HYPERLINK("http://x","a")', "2": "\tcalc"}))
    out = tmp_path / "out"
    out.mkdir()
    res = cli("eval", pdir, gdir, "--metrics", "dice", "--label-names", names, "-q",
              "--csv", out / "c.csv", "--summary-csv", out / "s.csv")  # fmt: skip
    assert res.exit_code == 0, res.output
    rows = list(csv.DictReader(io.StringIO((out / "c.csv").read_text())))
    assert sorted({r["case"] for r in rows}) == sorted(["'=cmd", "'+x", "'-y", "'@z", "plain"])
    assert {r["name"] for r in rows} == {'\'=HYPERLINK("http://x","a")', "'\tcalc"}
    assert all(float(r["dice"]) > 0 for r in rows)  # numbers stay numbers
    summary = list(csv.DictReader(io.StringIO((out / "s.csv").read_text())))
    named = {r["name"] for r in summary if r["label"] in ("1", "2")}
    assert named == {'\'=HYPERLINK("http://x","a")', "'\tcalc"}
    for line in (out / "c.csv").read_text().splitlines()[1:] + (out / "s.csv").read_text().splitlines()[1:]:
        first = next(csv.reader([line]))
        assert not any(cell[:1] in ("=", "+", "@") for cell in first), line


def test_text_cell_leaves_numbers_and_plain_text_alone():
    from segloss_cli.report.csv_ import text_cell

    assert [text_cell(v) for v in ("-1", "-0.5", "+2e-3", "sub-01", "", None, 7)] == [
        "-1", "-0.5", "+2e-3", "sub-01", "", "", "7"
    ]  # fmt: skip
    assert [text_cell(v) for v in ("-2+3", "-1 ", "=1", "\r1", "@SUM(A1)")] == [
        "'-2+3", "'-1 ", "'=1", "'\r1", "'@SUM(A1)"
    ]  # fmt: skip


# --- 2. The summary CSV is streamed, as the JSON -------------------------------------------------


def test_the_summary_csv_is_written_in_pieces_not_held_whole(tmp_path):
    from segloss_cli.api import evaluate_folder
    from segloss_cli.report.csv_ import render_summary_csv, write_summary_csv

    labels = tuple(range(1, 601))
    for sub in ("p", "g"):
        (tmp_path / sub).mkdir()
    gt = np.arange(1, 601, dtype=np.uint16).reshape(20, 30)
    for cid in ("a", "b"):
        np.save(tmp_path / "p" / f"{cid}.npy", gt)
        np.save(tmp_path / "g" / f"{cid}.npy", gt)
    run = evaluate_folder(tmp_path / "p", tmp_path / "g", metrics="dice,iou,precision,recall", labels=labels)
    pieces: list[str] = []
    write_summary_csv(run, pieces.append)
    assert "".join(pieces) == render_summary_csv(run)
    assert (
        len(pieces) >= 3 and sum(map(len, pieces)) > 2 << 16 and max(map(len, pieces)) < (1 << 16) + 4096
    )  # ~64 KB each


def test_a_full_disk_while_the_summary_csv_streams_is_one_line_and_no_temporary(tmp_path, monkeypatch):
    import errno

    import segloss_cli.io.atomic as atomic

    pdir, gdir = _folders(tmp_path, ["a", "b"])
    out = tmp_path / "out"
    out.mkdir()
    real = atomic.StreamedOutput.write
    seen = []

    def write(self, text):
        seen.append(self.out)
        if self.out is not None and self.out.name == "s.csv":
            raise atomic._output_error(OSError(errno.ENOSPC, "full"), self.out)
        return real(self, text)

    monkeypatch.setattr(atomic.StreamedOutput, "write", write)
    res = cli("eval", pdir, gdir, "--metrics", "dice", "-q", "--summary-csv", out / "s.csv", "--json", out / "r.json")
    lines = [line for line in res.stderr.splitlines() if line.strip()]
    assert res.exit_code == 2 and len(lines) == 1 and "no space left" in lines[0] and "s.csv" in lines[0], lines
    assert sorted(p.name for p in out.iterdir()) == []  # neither output, no temporary file
    assert any(p is not None and p.name == "s.csv" for p in seen)  # it went through the streamed writer


# --- 3. compare: typed validation of result files -----------------------------------------------


@pytest.fixture
def result(tmp_path):
    pdir, gdir = _folders(tmp_path / "r", ["a", "b"])
    out = tmp_path / "r.json"
    res = cli("eval", pdir, gdir, "--metrics", "dice,hd95", "--spacing", "1", "--json", out, "-q")
    assert res.exit_code == 0, res.output
    return out


def _class1(d):
    return d["summary"]["classes"]["1"]


TAMPERED = {
    "dice mean 1.7": (lambda d: _class1(d)["metrics"]["dice"].update(mean=1.7), "outside dice's range 0 .. 1"),
    "dice max -0.2": (lambda d: _class1(d)["metrics"]["dice"].update(max=-0.2), "outside dice's range"),
    "hd95 mean -1": (lambda d: _class1(d)["metrics"]["hd95"].update(mean=-1), "outside hd95's range"),
    "mean over classes 3": (lambda d: d["summary"]["mean_over_classes"]["dice"].update(mean=3), "outside"),
    "negative std": (lambda d: _class1(d)["metrics"]["dice"].update(std=-1.0), "negative"),
    "n a string": (lambda d: _class1(d)["metrics"]["dice"].update(n="2"), "not a count"),
    "n_cases a float": (lambda d: d["summary"].update(n_cases=2.5), "not a count"),
    "class key abc": (
        lambda d: d["summary"]["classes"].update(abc=d["summary"]["classes"].pop("1")),
        "class key 'abc'",
    ),
    "class key 1.5": (lambda d: d["summary"]["classes"].update({"1.5": d["summary"]["classes"].pop("1")}), "'1.5'"),
    "class key -1": (lambda d: d["summary"]["classes"].update({"-1": d["summary"]["classes"].pop("1")}), "'-1'"),
    "class key 01": (lambda d: d["summary"]["classes"].update({"01": d["summary"]["classes"].pop("1")}), "'01'"),
    "name a list": (lambda d: _class1(d).update(name=["x"]), "not a string or null"),
    "settings a string": (lambda d: d.update(settings="x"), "settings is not an object"),
    "case classes a list": (lambda d: d["cases"][0].update(classes=[]), "classes is a list, not an object"),
    "case value 1.7": (lambda d: d["cases"][0]["classes"]["1"]["metrics"].update(dice=1.7), "outside dice's range"),
    "case key abc": (lambda d: d["cases"][0]["classes"].update(abc={"metrics": {}}), "class key 'abc'"),
    "schema_version true": (lambda d: d.update(schema_version=True), "schema_version 1"),
    "schema_version 1.0": (lambda d: d.update(schema_version=1.0), "schema_version 1"),
}


@pytest.mark.parametrize("name", list(TAMPERED))
def test_compare_refuses_a_result_with_values_segloss_never_writes(tmp_path, result, name):
    edit, words = TAMPERED[name]
    doc = json.loads(result.read_text())
    edit(doc)
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps(doc))
    for a, b in ((result, bad), (bad, result)):  # either side
        res = cli("compare", a, b, "--max-drop", "dice=0.01")
        lines = res.stderr.splitlines()
        assert res.exit_code == 2 and len(lines) == 1, res.stderr
        assert lines[0].startswith(f"segloss: error: {bad}: ") and words in lines[0], lines


@pytest.mark.parametrize(
    "literal,words",
    [("1e400", "beyond a float"), ("-1e400", "beyond a float"), ("1" + "0" * 400, "401 digits"),
     ("9" * 4000, "4000 digits")],
)  # fmt: skip
def test_compare_refuses_numbers_beyond_a_float_or_int64(tmp_path, result, literal, words):
    text = result.read_text()
    doc = json.loads(text)
    old = json.dumps(_class1(doc)["metrics"]["dice"]["mean"])
    bad = tmp_path / "bad.json"
    bad.write_text(text.replace(f'"mean": {old}', f'"mean": {literal}', 1))
    res = cli("compare", result, bad)
    assert res.exit_code == 2 and res.stderr.startswith(f"segloss: error: {bad}: ") and words in res.stderr, res.stderr
    assert "internal error" not in res.stderr


def test_compare_accepts_the_runs_own_empty_values_and_regions(tmp_path):
    """Range checks are widened to the run's --empty-value numbers; region names are class keys."""
    pdir, gdir = _folders(tmp_path / "r", ["a", "b"], classes=(1,))
    out = tmp_path / "r.json"
    res = cli("eval", pdir, gdir, "--metrics", "dice", "--labels", "1,2", "--empty-value", "dice:both=-1",
              "--region", "WT=1,2", "--json", out, "-q")  # fmt: skip
    assert res.exit_code == 0, res.output
    doc = json.loads(out.read_text())
    assert doc["summary"]["classes"]["2"]["metrics"]["dice"]["mean"] == -1.0  # both empty: the run's own value
    assert "WT" in doc["summary"]["classes"]
    res = cli("compare", out, out, "--max-drop", "dice=0")
    assert res.exit_code == 0, res.stderr


# --- 4. --json /dev/stdout with stdout redirected to a regular file ---------------------------------


def _segloss(*args, **popen):
    import os
    import subprocess
    import sys

    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    env = {**os.environ, "PYTHONPATH": root}
    return subprocess.run([sys.executable, "-m", "segloss_cli", *map(str, args)], env=env, **popen)


@pytest.mark.skipif(not __import__("os").path.exists("/proc/self/fd"), reason="needs /proc/self/fd")
@pytest.mark.parametrize("mode", ["w", "a"])
def test_json_to_dev_stdout_on_a_regular_file_writes_into_it(tmp_path, mode):
    """`segloss eval ... --json /dev/stdout > out.json`: the shell's file, not a replacement of it."""
    import os

    gt = np.zeros((4, 4, 2), np.uint8)
    gt[1:3, 1:3] = 1
    np.save(tmp_path / "g.npy", gt)
    out = tmp_path / "out.txt"
    out.write_text("before\n")
    inode = out.stat().st_ino
    with open(out, mode) as fh:
        res = _segloss("eval", tmp_path / "g.npy", tmp_path / "g.npy", "--metrics", "dice", "--json", "/dev/stdout",
                       stdout=fh, stderr=__import__("subprocess").PIPE)  # fmt: skip
    assert res.returncode == 0, res.stderr
    assert out.stat().st_ino == inode  # the same file: never unlinked or replaced
    text = out.read_text()
    assert text.startswith("before\n{" if mode == "a" else "{")
    assert text.rstrip().endswith("┘")  # the table printed after the JSON is in the file too
    doc = json.JSONDecoder().raw_decode(text[text.index("{") :])[0]
    assert doc["schema_version"] == 1
    assert sorted(os.listdir(tmp_path)) == ["g.npy", "out.txt"]  # no temporary left


def _is_open(fd: int) -> bool:
    import os

    try:
        os.fstat(fd)
    except OSError:
        return False
    return True


def test_an_output_naming_a_closed_or_read_only_descriptor_is_refused(tmp_path):
    import os

    gt = np.zeros((4, 4, 2), np.uint8)
    gt[1:3, 1:3] = 1
    np.save(tmp_path / "g.npy", gt)
    (tmp_path / "other.txt").write_text("x")
    # A high descriptor number: the kernel hands out the lowest free number, so once this one is
    # closed nothing the run opens meanwhile (an input, a cache file) can take it over, as a low
    # number such as 50 was in one CI run.
    low = os.open(tmp_path / "other.txt", os.O_RDONLY)
    fd = next(n for n in range(900, 1000) if not _is_open(n))
    os.dup2(low, fd)
    os.close(low)
    try:
        res = cli("eval", tmp_path / "g.npy", tmp_path / "g.npy", "--json", f"/dev/fd/{fd}")
        assert res.exit_code == 2 and "open for reading only" in res.stderr, res.stderr
    finally:
        os.close(fd)
    res = cli("eval", tmp_path / "g.npy", tmp_path / "g.npy", "--json", f"/dev/fd/{fd}")
    assert res.exit_code == 2 and "which is not open" in res.stderr, res.stderr


# --- 5. Very long user values in error lines ---------------------------------------------------------


@pytest.mark.parametrize(
    "args",
    [
        ("--metrics", "x" * 100_000),  # segloss's own error
        ("--require", "dice>=" + "9" * 100_000),
        ("--empty-policy", "9" * 100_000),  # typer's (click's) usage error
        ("--bogus" + "9" * 100_000,),
    ],
    ids=["metrics", "require", "click-choice", "click-option"],
)
def test_a_very_long_value_is_cut_in_the_error_line(tmp_path, args):
    gt = np.zeros((4, 4, 2), np.uint8)
    gt[1:3, 1:3] = 1
    np.save(tmp_path / "g.npy", gt)
    res = cli("eval", tmp_path / "g.npy", tmp_path / "g.npy", *args)
    assert res.exit_code == 2
    error = [line for line in res.stderr.splitlines() if "rror" in line]
    assert len(error) == 1 and len(error[0]) < 1000, (len(res.stderr), res.stderr[:300])
    assert "characters left out" in error[0]


def test_one_line_keeps_short_text_and_both_ends_of_a_long_value():
    from segloss_cli.report.text import one_line

    assert one_line("segloss: error: a.nii: bad\nline") == "segloss: error: a.nii: bad\\nline"
    path = "/data/" + "d" * 300 + "/case_001.nii.gz"  # a long CI path is shown whole
    assert one_line(f"segloss: error: {path}: file not found") == f"segloss: error: {path}: file not found"
    long = "x" * 50_000 + "END"
    line = one_line(f"segloss: error: --labels {long}; give numbers")
    assert line.startswith("segloss: error: --labels xxx") and line.endswith("xxEND; give numbers")
    assert "(49,644 characters left out)" in line and len(line) < 500  # "xx...END;" is one word
    assert len(one_line(" ".join(["word"] * 100_000))) < 2100  # many short words: the line is capped


def test_a_file_name_too_long_or_a_link_loop_is_one_line_exit_2(tmp_path):
    gt = np.zeros((4, 4, 2), np.uint8)
    gt[1:3, 1:3] = 1
    np.save(tmp_path / "g.npy", gt)
    long = tmp_path / ("x" * 300 + ".npy")
    res = cli("eval", long, tmp_path / "g.npy")
    assert res.exit_code == 2 and "the file name is too long" in res.stderr, res.stderr
    res = cli("eval", tmp_path / "g.npy", tmp_path / "g.npy", "--json", tmp_path / ("y" * 300 + ".json"))
    assert res.exit_code == 2 and "the file name is too long" in res.stderr, res.stderr
    (tmp_path / "a.json").symlink_to(tmp_path / "b.json")
    (tmp_path / "b.json").symlink_to(tmp_path / "a.json")
    res = cli("eval", tmp_path / "g.npy", tmp_path / "g.npy", "--json", tmp_path / "a.json")
    assert res.exit_code == 2 and "too many levels of symbolic links" in res.stderr, res.stderr
    res = cli("eval", tmp_path / "g.npy", tmp_path / "g.npy", "--json", tmp_path / "g.npy" / "r.json")
    assert res.exit_code == 2 and "g.npy is a file, not a folder" in res.stderr, res.stderr  # was "does not exist"


# --- 6. Found hunting: parameters with a digit, regions, a signal during the renames, a real full disk


@pytest.mark.parametrize(
    "args,words",
    [
        (("--lesion-volume-threshold", "inf"), "segloss: error: --lesion-volume-threshold must be"),
        (("--region", "A=99999"), "segloss: error: --region: region 'A' needs labels in 0..65535"),
    ],
)
def test_library_parameters_are_named_as_their_options(tmp_path, args, words):
    """``@lesion_volume_threshold_mm3`` (a digit in the name) and ``@regions`` were printed raw."""
    gt = np.zeros((4, 4, 2), np.uint8)
    gt[1:3, 1:3] = 1
    np.save(tmp_path / "g.npy", gt)
    res = cli("eval", tmp_path / "g.npy", tmp_path / "g.npy", *args)
    assert res.exit_code == 2 and res.stderr.startswith(words) and "@" not in res.stderr, res.stderr


def test_a_sigterm_during_the_renames_puts_every_output_in_place_and_says_so(tmp_path, monkeypatch):
    import os
    import signal

    import segloss_cli.io.atomic as atomic
    from segloss_cli.cli._common import install_sigterm

    pdir, gdir = _folders(tmp_path, ["a", "b"])
    out = tmp_path / "out"
    out.mkdir()
    (out / "r.json").write_text("old")
    real = os.replace
    calls = []

    def replace(src, dst):
        calls.append(dst)
        if len(calls) == 1:  # the first rename: SIGTERM reaches a worker thread while the others are pending
            signal.pthread_kill(worker.ident, signal.SIGTERM)
            time.sleep(0.05)  # its C handler has run: Python would run the handler at the next chance
        return real(src, dst)

    import threading
    import time

    old_handler = signal.getsignal(signal.SIGTERM)
    install_sigterm()
    monkeypatch.setattr(atomic.os, "replace", replace)
    # A thread that does not hold the signal (a worker pool's, in a folder run): the kernel gives
    # a process-directed SIGTERM to it while the committing thread holds it; sent to it directly.
    stop = threading.Event()
    worker = threading.Thread(target=stop.wait, daemon=True)
    worker.start()
    try:
        res = cli("eval", pdir, gdir, "--metrics", "dice", "-q", "--json", out / "r.json", "--csv", out / "c.csv",
                  "--summary-csv", out / "s.csv", "--markdown", out / "m.md")  # fmt: skip
    finally:
        stop.set()
        signal.signal(signal.SIGTERM, old_handler)
    assert res.exit_code == 143, res.output
    assert sorted(p.name for p in out.iterdir()) == ["c.csv", "m.md", "r.json", "s.csv"]  # all new, no temporary
    assert json.loads((out / "r.json").read_text())["schema_version"] == 1
    line = res.stderr.strip()
    assert line.startswith("segloss: terminated; output already complete: ") and line.count(str(out)) == 4, line


def test_a_really_full_file_system_is_one_line_and_leaves_nothing(tmp_path):
    """A 16 KB tmpfs (needs root and mount): the JSON of 1,000 classes does not fit."""
    import os
    import subprocess

    small = tmp_path / "small"
    small.mkdir()
    if os.geteuid() != 0 or subprocess.run(["mount", "-t", "tmpfs", "-o", "size=16k", "tmpfs", str(small)],
                                           capture_output=True).returncode:  # fmt: skip
        pytest.skip("needs root and mount -t tmpfs")
    try:
        gt = (np.arange(40 * 25) % 1000 + 1).astype(np.uint16).reshape(40, 25)
        np.save(tmp_path / "g.npy", gt)
        res = cli("eval", tmp_path / "g.npy", tmp_path / "g.npy", "--metrics", "dice", "-q", "--json", small / "r.json")
        lines = [line for line in res.stderr.splitlines() if line.startswith("segloss: error")]
        assert res.exit_code == 2 and len(lines) == 1, res.stderr
        assert lines[0] == f"segloss: error: {small / 'r.json'}: cannot write the output: no space left on the device; " \
            "free some space or write elsewhere"  # fmt: skip
        assert os.listdir(small) == []
    finally:
        subprocess.run(["umount", str(small)], capture_output=True)


def test_an_emoji_code_in_a_class_name_or_case_id_is_printed_as_written(tmp_path):
    """rich read ``:skull:`` as an emoji code: a class name or case id was silently reformatted."""
    pdir, gdir = _folders(tmp_path, [":fire:", "b"])
    names = tmp_path / "names.json"
    names.write_text(json.dumps({"1": ":skull: liver", "2": ":warning:"}))
    res = cli("eval", pdir, gdir, "--metrics", "dice", "--label-names", names, "--require", "dice>=0.999")
    assert res.exit_code == 1, res.output
    assert ":fire:" in res.stdout and ":skull: liver" in res.stdout and ":warning:" in res.stdout
    assert ":skull: liver" in res.stderr  # the failed-check table
    assert "\N{SKULL}" not in res.output and "\N{FIRE}" not in res.output


def test_a_lone_surrogate_in_a_label_name_or_region_is_one_line_exit_2(tmp_path):
    r"""JSON's "\ud800" decodes to a string no output can encode (exit 3 when printed); a region
    name with bytes that are not UTF-8 on the command line likewise."""
    gt = np.zeros((4, 4, 2), np.uint8)
    gt[1:3, 1:3] = 1
    np.save(tmp_path / "g.npy", gt)
    names = tmp_path / "names.json"
    names.write_text('{"1": "a\\ud800b"}')
    res = cli("eval", tmp_path / "g.npy", tmp_path / "g.npy", "--metrics", "dice", "--label-names", names)
    assert res.exit_code == 2 and "unpaired UTF-16 surrogate" in res.stderr and "a\\ud800b" in res.stderr, res.stderr
    res = cli("eval", tmp_path / "g.npy", tmp_path / "g.npy", "--metrics", "dice", "--region", "A\udcff=1")
    assert res.exit_code == 2 and "region name 'A\\udcff' is not valid UTF-8" in res.stderr, res.stderr
