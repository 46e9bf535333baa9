"""The HTML report (`--html`, `--plots`) of eval, compare and rank: self-contained, the same
plots as the PNG files, a clear error without matplotlib, and a real page in headless
Chromium (no console error, every image decoded)."""

from __future__ import annotations

import base64
import html.parser
import importlib.util
import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest
from typer.testing import CliRunner

from segloss_cli.cli import app
from tests.test_rank import RUNS, build_sample_runs

RUNNER = CliRunner()
LABELS = "26,27,67,68"


def cli(*args):
    return RUNNER.invoke(app, [str(a) for a in args])


class _Images(html.parser.HTMLParser):
    """Every <img src>, <script>, <link> and any other URL-bearing attribute of a page."""

    def __init__(self):
        super().__init__()
        self.images: list[str] = []
        self.urls: list[str] = []
        self.scripts = 0

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "img":
            self.images.append(a.get("src") or "")
        if tag in ("script", "link", "iframe", "object", "embed"):
            self.scripts += 1
        for key in ("href", "src", "srcset", "data"):
            if key in a and tag != "img":
                self.urls.append(a[key] or "")


def parse(page: str) -> _Images:
    p = _Images()
    p.feed(page)
    return p


@pytest.fixture(scope="module")
def sample_runs(tmp_path_factory):
    return build_sample_runs(tmp_path_factory.mktemp("html_sample"), n_cases=6, size=48)


@pytest.fixture(scope="module")
def folder_report(sample_runs, tmp_path_factory):
    out = tmp_path_factory.mktemp("html_out")
    page, plots = out / "report.html", out / "plots"
    res = cli("eval", sample_runs["noise"], sample_runs["gt"], "-l", LABELS, "--html", page, "--plots", plots, "-q")
    assert res.exit_code == 0, res.stderr
    return page, plots


def test_folder_report_is_self_contained_and_matches_the_png_files(folder_report):
    page, plots = folder_report
    text = page.read_text(encoding="utf-8")
    found = parse(text)
    assert found.scripts == 0 and found.urls == []
    assert "http://" not in text and "https://" not in text
    assert "Content-Security-Policy" in text and "default-src 'none'" in text
    inline = sorted(base64.b64decode(src.split(",", 1)[1]) for src in found.images)
    assert all(src.startswith("data:image/png;base64,") for src in found.images)
    files = sorted(p.read_bytes() for p in plots.iterdir())
    assert inline == files and {p.name for p in plots.iterdir()} == {"distributions.png", "worst_slices.png"}
    assert all(data[:8] == b"\x89PNG\r\n\x1a\n" for data in files)
    for heading in ("Summary (mean ± std over 6 cases)", "Distributions over cases", "Worst cases by dice"):
        assert heading in text


def test_worst_cases_of_the_report_are_the_runs_worst_cases(folder_report, sample_runs, tmp_path):
    page, _ = folder_report
    out = tmp_path / "run.json"
    assert cli("eval", sample_runs["noise"], sample_runs["gt"], "-l", LABELS, "--json", out, "-q").exit_code == 0
    worst = json.loads(out.read_text())["summary"]["worst_cases"]["cases"]
    section = page.read_text(encoding="utf-8").split("Worst cases by dice", 1)[1]
    listed = re.findall(r"<tr><td class=l>(case\d+)</td>", section)
    assert listed == [w["case"] for w in worst]


@pytest.mark.compiled  # large arrays: seconds compiled, minutes as Python
def test_rank_and_compare_reports(sample_runs, tmp_path):
    page = tmp_path / "rank.html"
    res = cli(
        "rank", sample_runs["gt"], *(sample_runs[r] for r in RUNS), "-m", "dice,hd95", "-l", LABELS, "-q",
        "--bootstrap", 100, "--html", page, "--plots", tmp_path / "rank_plots",
    )  # fmt: skip
    assert res.exit_code == 0, res.stderr
    text = page.read_text(encoding="utf-8")
    for heading in (
        "Ranking",
        "Confidence intervals",
        "Rank stability",
        "Per class and metric",
        "Slices of the worst cases",
    ):
        assert f"<h2>{heading}</h2>" in text
    names = {p.name for p in (tmp_path / "rank_plots").iterdir()}
    assert names == {"ci.png", "rank_stability.png", "distributions.png", "worst_slices.png"}
    assert len(parse(text).images) == 4

    base, new = tmp_path / "base.json", tmp_path / "new.json"
    for run, out in (("shift", base), ("noise", new)):
        assert (
            cli("eval", sample_runs[run], sample_runs["gt"], "-l", LABELS, "--json", out, "-q", "-f", "csv").exit_code
            == 0
        )
    page = tmp_path / "compare.html"
    res = cli("compare", base, new, "--max-drop", "dice=0.5", "--html", page, "-q")
    assert res.exit_code == 0, res.stderr
    text = page.read_text(encoding="utf-8")
    assert "Distributions over cases (BASE, NEW)" in text and "no regression beyond the allowances" in text
    assert len(parse(text).images) == 2  # distributions, and the slices of both predictions


def test_html_without_matplotlib_is_one_clear_error(sample_runs, tmp_path, monkeypatch):
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "matplotlib" else real(name, *a))
    page = tmp_path / "r.html"
    res = cli(
        "eval", sample_runs["noise"], sample_runs["gt"], "-l", "27", "--html", page, "--json", tmp_path / "r.json"
    )
    assert res.exit_code == 2
    assert res.stderr.strip() == (
        "segloss: error: --html needs matplotlib, which is not installed; pip install 'segloss[report]'"
    )
    assert list(tmp_path.iterdir()) == []  # checked before any work: nothing written


def test_plots_must_be_a_folder(sample_runs, tmp_path):
    a_file = tmp_path / "plots"
    a_file.write_text("x")
    res = cli("eval", sample_runs["noise"], sample_runs["gt"], "-l", "27", "--plots", a_file)
    assert res.exit_code == 2 and "--plots" in res.stderr and "is a file" in res.stderr


# --- a real browser -----------------------------------------------------------------------------

CHROMIUM = next((shutil.which(n) for n in ("chromium", "chromium-browser", "google-chrome") if shutil.which(n)), None)

# Added to a copy of the page (its policy extended to allow this one inline script): after
# load, write into the DOM how many images there are, which did not decode, and any error.
PROBE = """<script>
window.__errors = [];
window.addEventListener("error", e => window.__errors.push(String(e.message || e.target && e.target.src)), true);
for (const level of ["error", "warn"]) {
  const orig = console[level];
  console[level] = (...args) => { window.__errors.push(level + ": " + args.join(" ")); orig.apply(console, args); };
}
window.addEventListener("load", () => {
  const imgs = [...document.images];
  const broken = imgs.filter(i => !i.complete || i.naturalWidth === 0).map(i => i.alt);
  const out = document.createElement("pre");
  out.id = "probe";
  out.textContent = JSON.stringify({images: imgs.length, broken: broken, errors: window.__errors});
  document.body.appendChild(out);
});
</script>"""


def _browser(page: Path, *flags: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [
            CHROMIUM,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--enable-logging=stderr",
            "--v=0",
            *flags,
            page.as_uri(),
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.mark.skipif(CHROMIUM is None, reason="no chromium on this machine (.ci/run installs Debian's package as root)")
def test_report_loads_in_headless_chromium_without_errors(folder_report, tmp_path):
    page, _ = folder_report
    text = page.read_text(encoding="utf-8")
    probed = tmp_path / "probed.html"
    policy = "default-src 'none'; img-src data:; style-src 'unsafe-inline'"
    assert policy in text
    probed.write_text(
        text.replace(policy, policy + "; script-src 'unsafe-inline'").replace("</body>", PROBE + "</body>"),
        encoding="utf-8",
    )
    res = _browser(probed, "--virtual-time-budget=5000", "--dump-dom")
    found = re.search(r'<pre id="probe">(.*?)</pre>', res.stdout, re.S)
    assert found, f"chromium returned no page (exit {res.returncode}): {res.stderr[-2000:]}"
    probe = json.loads(html.unescape(found.group(1)))
    assert probe == {"images": 2, "broken": [], "errors": []}
    console = [ln for ln in res.stderr.splitlines() if ":CONSOLE" in ln]
    assert console == []  # nothing the page did reached the console (a blocked load would)

    shot = tmp_path / "shot.png"
    _browser(page, "--hide-scrollbars", "--window-size=1100,1400", f"--screenshot={shot}")
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
