"""`segloss rank` and segloss_cli.rank: the statistics against scipy.stats (wilcoxon, bootstrap,
rankdata) and plain numpy oracles, on fixed data and on three degraded copies of the sample
prediction."""

from __future__ import annotations

import json
from pathlib import Path

import nibabel as nib
import numpy as np
import pytest
from scipy import stats
from typer.testing import CliRunner

from segloss_cli.cli import app
from segloss_cli.errors import InputError, UsageError
from segloss_cli.model import CaseResult, ClassResult, RunResult
from segloss_cli.rank import (
    bootstrap_indices,
    bootstrap_means,
    holm,
    min_ranks,
    percentile_interval,
    rank_runs,
    slice_overlays,
    wilcoxon,
)

RUNNER = CliRunner()
SAMPLE = Path(__file__).resolve().parent.parent / "sample_data"
LABELS = (26, 27, 67, 68)  # large cortical and subcortical structures of the sample parcellation
RUNS = ("shift", "noise", "drop")


def cli(*args):
    return RUNNER.invoke(app, [str(a) for a in args])


# --- the statistics -----------------------------------------------------------------------------

FIXED = {
    # n <= 50, distinct, no zero: the exact null distribution
    "exact": [0.12, -0.05, 0.31, 0.07, 0.22, -0.11, 0.18, 0.02, 0.27, 0.09, -0.01, 0.15],
    # ties and a zero, n <= 13: scipy's exhaustive permutation test
    "permutation": [0.1, 0.1, -0.2, 0.0, 0.3, 0.3, 0.3, -0.1, 0.2, 0.05],
    # ties and zeros, n > 13: the normal approximation with the tie correction
    "normal": [0.5, -0.5, 0.0, 0.25, 0.25, 0.25, 1.0, -0.75, 0.0, 0.5, 0.5, 1.25, -0.25, 0.75, 0.0, 1.0],
    # n > 50, distinct: normal without ties
    "large": list(np.round(np.sin(np.arange(1, 61) * 1.7) + 0.2, 6)),
}


@pytest.mark.parametrize("kind", sorted(FIXED))
def test_wilcoxon_matches_scipy_default_on_fixed_data(kind):
    d = np.array(FIXED[kind])
    ours, ref = wilcoxon(d), stats.wilcoxon(d)
    assert ours.method == kind if kind != "large" else ours.method == "normal"
    assert ours.statistic == float(ref.statistic)
    assert abs(ours.pvalue - float(ref.pvalue)) <= 1e-12


def test_wilcoxon_matches_scipy_on_random_samples():
    """Each method, ties from rounding, zeros; paired (x, y) as rank_runs calls it."""
    rng = np.random.default_rng(20240611)
    seen = set()
    for k in range(300):
        n = int(rng.integers(2, 70))
        x = rng.normal(0.7, 0.1, n)
        y = x + rng.normal(0.02 * (k % 3), 0.05, n)
        if k % 2:
            x, y = np.round(x, 2), np.round(y, 2)  # ties and zero differences
        if np.all(x == y):
            continue
        ours, ref = wilcoxon(x, y), stats.wilcoxon(x, y)
        seen.add(ours.method)
        assert ours.statistic == float(ref.statistic)
        assert abs(ours.pvalue - float(ref.pvalue)) <= 1e-12, (n, k, ours)
    assert seen == {"exact", "permutation", "normal"}


def test_wilcoxon_of_identical_runs_is_one():
    same = np.full(8, 0.9)
    with np.errstate(invalid="ignore"):  # scipy computes an unused z = 0/0 first
        assert stats.wilcoxon(same, same).pvalue == 1.0  # its permutation path (n <= 13)
    assert wilcoxon(same, same).pvalue == 1.0
    assert wilcoxon(np.zeros(40)).method == "all-zero"  # scipy gives NaN here; we say 1


def _holm_stepdown(p, alpha):
    """Holm's procedure as written: reject the smallest while p_(i) <= alpha / (m - i)."""
    order = np.argsort(p, kind="stable")
    rejected = np.zeros(len(p), dtype=bool)
    for i, j in enumerate(order):
        if p[j] > alpha / (len(p) - i):
            break
        rejected[j] = True
    return rejected


def test_holm_adjusted_p_rejects_what_the_stepdown_procedure_rejects():
    rng = np.random.default_rng(7)
    for _ in range(200):
        p = rng.uniform(0, 0.2, int(rng.integers(1, 8)))
        adjusted = holm(p)
        assert np.all(adjusted >= p) and np.all(adjusted <= 1)
        for alpha in (0.01, 0.05, 0.1):
            assert np.array_equal(adjusted <= alpha, _holm_stepdown(p, alpha))


@pytest.mark.parametrize("n, n_resamples, seed", [(12, 999, 0), (40, 500, 3), (7, 2000, 11)])
def test_bootstrap_interval_matches_scipy_percentile(n, n_resamples, seed):
    x = np.random.default_rng(n).beta(5, 2, n)
    lo, hi = percentile_interval(bootstrap_means(x, bootstrap_indices(n, n_resamples, seed)), 0.95)
    ref = stats.bootstrap(
        (x,), np.mean, n_resamples=n_resamples, method="percentile", rng=np.random.default_rng(seed)
    ).confidence_interval
    assert abs(lo - ref.low) <= 1e-12 and abs(hi - ref.high) <= 1e-12


def test_bootstrap_means_leave_undefined_cases_out():
    values = np.array([[0.5, 1.0], [np.nan, np.nan], [0.7, 0.2], [0.1, 0.4]])
    idx = bootstrap_indices(4, 50, 5)
    means = bootstrap_means(values, idx)
    for b in range(50):
        rows = values[idx[b]]
        rows = rows[~np.isnan(rows[:, 0])]
        expected = rows.mean(axis=0) if len(rows) else np.full(2, np.nan)
        np.testing.assert_allclose(means[b], expected, rtol=1e-15, equal_nan=True)


def test_min_ranks_are_scipy_min_ranks():
    rng = np.random.default_rng(2)
    scores = np.round(rng.random((30, 5)), 1)  # ties
    assert np.array_equal(min_ranks(scores, higher_is_better=False), stats.rankdata(scores, method="min", axis=1))
    assert np.array_equal(min_ranks(scores, higher_is_better=True), stats.rankdata(-scores, method="min", axis=1))
    assert min_ranks(np.array([0.2, np.nan, 0.5]), higher_is_better=True).tolist() == [2, 3, 1]


# --- ranking runs built by hand -----------------------------------------------------------------


def hand_run(values: dict[int, list[float | None]], metric: str = "dice", cases=None) -> RunResult:
    n = len(next(iter(values.values())))
    cases = cases or [f"c{i}" for i in range(n)]
    out = []
    for i, case in enumerate(cases):
        rows = tuple(ClassResult(lab, None, "ok", {metric: vals[i]}) for lab, vals in values.items())
        out.append(CaseResult(case, f"{case}_p", f"{case}_g", None, rows))
    return RunResult(settings={"empty_policy": "worst"}, cases=tuple(out), metric_names=(metric,))


def naive_ranking(matrices: dict[tuple[int, str], np.ndarray], names, hib, method, idx):
    """Task ranks, final order and first-place shares from plain loops (scipy's min ranks)."""

    def task_rank(v):
        if method == "aggregate-then-rank":
            s = v.mean(axis=0)
            return stats.rankdata(-s if hib else s, method="min")
        per_case = np.array([stats.rankdata(-row if hib else row, method="min") for row in v])
        return stats.rankdata(per_case.mean(axis=0), method="min")

    ranks = np.array([task_rank(v) for v in matrices.values()])
    final = stats.rankdata(ranks.mean(axis=0), method="min")
    boot = np.array([stats.rankdata(np.mean([task_rank(v[b]) for v in matrices.values()], axis=0), "min") for b in idx])
    return ranks, final, (boot == 1).mean(axis=0)


@pytest.mark.parametrize("method", ["aggregate-then-rank", "rank-then-aggregate"])
def test_rank_runs_against_loops_and_scipy(method):
    rng = np.random.default_rng(9)
    names = ("a", "b", "c")
    base = rng.uniform(0.6, 0.9, (15, 2))
    shifts = {"a": 0.0, "b": -0.03, "c": 0.01}
    runs = {
        n: hand_run(
            {lab: list(np.clip(base[:, k] + shifts[n] + rng.normal(0, 0.03, 15), 0, 1)) for k, lab in enumerate((1, 2))}
        )
        for n in names
    }
    ranking = rank_runs(runs, method=method, n_bootstrap=200, seed=4)
    matrices = {(t.label, t.metric): t.values for t in ranking.tasks}
    idx = bootstrap_indices(15, 200, 4)
    ranks, final, first = naive_ranking(matrices, names, True, method, idx)
    assert [[r.rank for r in t.runs] for t in ranking.tasks] == ranks.tolist()
    assert [f.name for f in ranking.final] == [names[j] for j in np.argsort(final, kind="stable")]
    assert {f.name: f.first_frequency for f in ranking.final} == pytest.approx(dict(zip(names, first)), abs=1e-15)
    for t in ranking.tasks:
        best = names.index(t.best)
        others = [j for j in range(3) if j != best]
        p = [stats.wilcoxon(t.values[:, j], t.values[:, best]).pvalue for j in others]
        got = [t.runs[j] for j in others]
        assert [r.p_value for r in got] == pytest.approx(p, abs=1e-12)
        assert [r.p_holm for r in got] == pytest.approx(
            list(np.minimum(1, np.maximum.accumulate(np.sort(p) * [2, 1]))[np.argsort(np.argsort(p))]), abs=1e-12
        )
        assert t.runs[best].p_value is None


def test_undefined_values_drop_the_case_for_every_run():
    a = hand_run({1: [0.5, None, 0.7, 0.9]}, "precision")
    b = hand_run({1: [0.4, 0.6, 0.6, 0.8]}, "precision")
    task = rank_runs({"a": a, "b": b}, n_bootstrap=20).tasks[0]
    assert (task.n_cases, task.n_dropped) == (3, 1)
    assert task.by_name()["b"].mean == pytest.approx(np.mean([0.4, 0.6, 0.8]), abs=1e-15)


def test_a_class_one_run_lacks_is_both_empty_there():
    """Run a never predicted class 2 and its GT lacks it (no row); run b hallucinated it."""
    a = hand_run({1: [0.9, 0.8]})
    b_cases = []
    for i, case in enumerate(("c0", "c1")):
        rows = (ClassResult(1, None, "ok", {"dice": 0.7}), ClassResult(2, None, "gt_empty", {"dice": 0.0}))
        b_cases.append(CaseResult(case, "p", "g", None, rows if i == 0 else rows[:1]))
    b = RunResult(settings={"empty_policy": "worst"}, cases=tuple(b_cases), metric_names=("dice",))
    task = rank_runs({"a": a, "b": b}, labels=[2], n_bootstrap=10).tasks[0]
    assert task.values.tolist() == [[1.0, 0.0], [1.0, 1.0]]


def test_runs_on_different_cases_are_an_error():
    a = hand_run({1: [0.9, 0.8]}, cases=["x", "y"])
    b = hand_run({1: [0.9, 0.8]}, cases=["x", "z"])
    with pytest.raises(InputError, match="same cases: run b lacks 1 case"):
        rank_runs({"a": a, "b": b})
    with pytest.raises(UsageError, match="at least two runs"):
        rank_runs({"a": a})
    with pytest.raises(UsageError, match="no better direction"):
        rank_runs({"a": a, "b": a}, metrics="vol_gt_ml")


# --- segloss rank on the sample data ------------------------------------------------------------


def build_sample_runs(root: Path, n_cases: int = 8, size: int = 64) -> dict[str, Path]:
    """GT crops of the sample parcellation, and three folders degrading the sample prediction:
    shifted by a voxel or two (shift), 15% of voxels set to background (noise), a quarter of
    the labels dropped (drop)."""
    img = nib.load(str(SAMPLE / "dk_gt.nii.gz"))
    gt_all = np.asarray(img.dataobj)
    pred_all = np.asarray(nib.load(str(SAMPLE / "dk_pred.nii.gz")).dataobj)
    rng = np.random.default_rng(3)
    dirs = {name: root / name for name in ("gt", *RUNS)}
    for d in dirs.values():
        d.mkdir(parents=True, exist_ok=True)
    centre = np.array([70, 58, 83])
    for k in range(n_cases):
        lo = np.clip(centre - size // 2 + rng.integers(-12, 13, 3), 0, np.array(gt_all.shape) - size)
        box = tuple(slice(int(a), int(a) + size) for a in lo)
        gt, pred = gt_all[box], pred_all[box]
        noisy = pred.copy()
        noisy[rng.random(pred.shape) < 0.15] = 0
        dropped = pred.copy()
        labels = [v for v in np.unique(pred) if v]
        dropped[np.isin(dropped, rng.choice(labels, len(labels) // 4, replace=False))] = 0
        arrays = {"gt": gt, "shift": np.roll(pred, 1 + k % 2, axis=k % 3), "noise": noisy, "drop": dropped}
        for name, arr in arrays.items():
            nib.save(nib.Nifti1Image(np.ascontiguousarray(arr), img.affine), str(dirs[name] / f"case{k:02d}.nii.gz"))
    return dirs


def dice_oracle(pred: np.ndarray, gt: np.ndarray, label: int) -> float:
    p, g = pred == label, gt == label
    if not p.any() and not g.any():
        return 1.0  # both empty, --empty-policy worst
    return 2.0 * np.sum(p & g) / (np.sum(p) + np.sum(g))


@pytest.fixture(scope="module")
def sample_runs(tmp_path_factory):
    return build_sample_runs(tmp_path_factory.mktemp("rank_sample"))


def oracle_values(dirs: dict[str, Path]) -> dict[int, np.ndarray]:
    """label -> (cases, runs) dice computed from the files with numpy."""
    files = sorted(p.name for p in dirs["gt"].iterdir())
    out = {}
    for lab in LABELS:
        rows = []
        for f in files:
            gt = np.asarray(nib.load(str(dirs["gt"] / f)).dataobj)
            rows.append([dice_oracle(np.asarray(nib.load(str(dirs[r] / f)).dataobj), gt, lab) for r in RUNS])
        out[lab] = np.array(rows)
    return out


def test_rank_cli_on_three_degraded_sample_folders_matches_scipy(sample_runs, tmp_path):
    out = tmp_path / "rank.json"
    labels = ",".join(map(str, LABELS))
    args = ["rank", sample_runs["gt"], *(sample_runs[r] for r in RUNS), "--metrics", "dice", "--labels", labels]
    res = cli(*args, "--json", out, "--bootstrap", 500, "--seed", 1, "-q")
    assert res.exit_code == 0, res.stderr
    data = json.loads(out.read_text())
    values = oracle_values(sample_runs)

    # Order: mean dice per class (aggregate-then-rank), min ranks, mean over classes, ranked.
    task_ranks = np.array([stats.rankdata(-values[lab].mean(axis=0), method="min") for lab in LABELS])
    final = stats.rankdata(task_ranks.mean(axis=0), method="min")
    order = [RUNS[j] for j in np.argsort(final, kind="stable")]
    assert [f["name"] for f in data["final"]] == order
    assert [f["rank"] for f in data["final"]] == sorted(final.astype(int).tolist())
    assert len(set(order)) == 3 and final.tolist() != [1, 1, 1]

    # The printed table lists the runs in that order.
    lines = [ln for ln in res.stdout.splitlines() if ln.startswith("│") and any(f" {r} " in ln for r in RUNS)]
    assert [next(r for r in RUNS if f" {r} " in ln) for ln in lines[:3]] == order

    idx = np.random.default_rng(1).integers(0, len(values[LABELS[0]]), (500, len(values[LABELS[0]])))
    for task in data["tasks"]:
        v = values[int(task["label"])]
        best = RUNS.index(task["best"])
        assert best == int(np.argmax(v.mean(axis=0)))
        others = [j for j in range(3) if j != best]
        p = np.array([stats.wilcoxon(v[:, j], v[:, best]).pvalue for j in others])
        runs = {r["name"]: r for r in task["runs"]}
        for j, pj in zip(others, p):
            assert abs(runs[RUNS[j]]["p_value"] - pj) <= 1e-12
        holm_p = np.minimum(1, np.maximum.accumulate(np.sort(p) * [2, 1]))[np.argsort(np.argsort(p))]
        for j, hj in zip(others, holm_p):
            assert abs(runs[RUNS[j]]["p_holm"] - hj) <= 1e-12
        for j, name in enumerate(RUNS):
            ci = stats.bootstrap(
                (v[:, j],), np.mean, n_resamples=500, method="percentile", rng=np.random.default_rng(1)
            ).confidence_interval
            assert runs[name]["ci"] == pytest.approx([ci.low, ci.high], abs=1e-12)
            assert runs[name]["mean"] == pytest.approx(v[:, j].mean(), abs=1e-12)
        boot_first = np.mean([stats.rankdata(-v[b].mean(axis=0), method="min")[best] == 1 for b in idx])
        assert runs[RUNS[best]]["first_frequency"] == pytest.approx(boot_first, abs=1e-15)


@pytest.mark.compiled  # large arrays: seconds compiled, minutes as Python
def test_rank_from_result_jsons_equals_rank_from_folders(sample_runs, tmp_path):
    common = ["--metrics", "dice,hd95", "--labels", "26,27"]
    jsons = []
    for r in RUNS:
        jsons.append(tmp_path / f"{r}.json")
        res = cli("eval", sample_runs[r], sample_runs["gt"], *common, "--json", jsons[-1], "-q", "--format", "csv")
        assert res.exit_code == 0, res.stderr
    a, b = tmp_path / "folders.json", tmp_path / "results.json"
    assert cli("rank", sample_runs["gt"], *(sample_runs[r] for r in RUNS), *common, "--json", a, "-q").exit_code == 0
    res = cli("rank", *jsons, "--metrics", "dice,hd95", "--json", b, "-q", "--format", "markdown")
    assert res.exit_code == 0, res.stderr
    da, db = json.loads(a.read_text()), json.loads(b.read_text())
    assert da["final"] == db["final"] and da["tasks"] == db["tasks"]
    assert res.stdout.startswith("### segloss rank: 3 runs on 8 cases")


def test_rank_csv_rows(sample_runs):
    res = cli(
        "rank",
        sample_runs["gt"],
        sample_runs["noise"],
        sample_runs["drop"],
        "-m",
        "dice",
        "-l",
        "27",
        "-f",
        "csv",
        "-q",
        "--bootstrap",
        50,
    )
    assert res.exit_code == 0, res.stderr
    rows = [ln.split(",") for ln in res.stdout.splitlines()]
    assert rows[0][:6] == ["kind", "label", "name", "metric", "run", "rank"]
    assert [r[0] for r in rows[1:]] == ["final", "final", "task", "task"]
    assert {r[4] for r in rows[1:]} == {"noise", "drop"}


def test_rank_missing_prediction_is_an_error_or_scored_worst(sample_runs, tmp_path):
    partial = tmp_path / "partial"
    partial.mkdir()
    for f in sorted(sample_runs["noise"].iterdir())[1:]:
        (partial / f.name).write_bytes(f.read_bytes())
    args = ["rank", sample_runs["gt"], sample_runs["noise"], partial, "-m", "dice", "-l", "27", "-q", "--bootstrap", 20]
    res = cli(*args)
    assert res.exit_code == 2 and "without a prediction" in res.stderr
    out = tmp_path / "r.json"
    assert cli(*args, "--missing", "worst", "--json", out).exit_code == 0
    task = json.loads(out.read_text())["tasks"][0]
    assert task["n_cases"] == 8 and task["best"] == "noise"
    res = cli(*args, "--missing", "skip")
    assert res.exit_code == 2 and "--missing skip" in res.stderr


@pytest.mark.parametrize(
    "extra, message",
    [
        (["--metrics", "vol_gt_ml"], "--metrics: vol_gt_ml has no better direction"),
        (["--name", "a"], "--name given 1 times for 2 runs"),
        (["--method", "best-of"], "Invalid value for '--method'"),
        (["--bootstrap", "0"], "Invalid value for '--bootstrap'"),
    ],
)
def test_rank_usage_errors_exit_2(sample_runs, extra, message):
    res = cli("rank", sample_runs["gt"], sample_runs["noise"], sample_runs["drop"], "-q", *extra)
    assert res.exit_code == 2
    assert message in res.stderr


def test_rank_needs_two_runs(sample_runs):
    res = cli("rank", sample_runs["gt"], sample_runs["noise"])
    assert res.exit_code == 2 and "at least two runs" in res.stderr


# --- the slices of the report -------------------------------------------------------------------


def test_slice_overlay_is_the_slice_with_most_wrong_voxels(tmp_path):
    gt = np.zeros((20, 16, 10), np.uint8)
    gt[4:14, 3:12, 2:8] = 1
    pred = gt.copy()
    pred[4:9, 3:12, 5] = 0  # most errors on slice 5 of the coarse axis (2)
    pred[10, 3:6, 3] = 0
    spacing = (0.8, 0.8, 3.0)
    affine = np.diag([*spacing, 1.0])
    nib.save(nib.Nifti1Image(gt, affine), str(tmp_path / "g.nii.gz"))
    nib.save(nib.Nifti1Image(pred, affine), str(tmp_path / "p.nii.gz"))
    (ov,) = slice_overlays([("c", str(tmp_path / "g.nii.gz"), {"run": str(tmp_path / "p.nii.gz")})], [1], margin=2)
    wrong = (pred != gt).sum(axis=(0, 1))
    assert (ov.axis, ov.index, ov.n_wrong) == (2, int(np.argmax(wrong)), int(wrong.max()))
    assert ov.gt.shape == (10 + 4, 9 + 4)  # the class's box plus the margin
    crop = gt[2:16, 1:14, ov.index]
    edges = np.zeros(crop.shape, bool)
    for i in range(crop.shape[0]):
        for j in range(crop.shape[1]):
            near = [
                crop[a, b]
                for a, b in ((i - 1, j), (i + 1, j), (i, j - 1), (i, j + 1))
                if 0 <= a < crop.shape[0] and 0 <= b < crop.shape[1]
            ]
            edges[i, j] = crop[i, j] == 1 and any(v != crop[i, j] for v in near)
    assert np.array_equal(ov.gt, crop) and np.array_equal(ov.gt_edges, edges)
    (missing,) = slice_overlays([("c", str(tmp_path / "nope.nii.gz"), {"run": None})], [1])
    assert missing.gt is None and "not found" in missing.note
