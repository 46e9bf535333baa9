"""The HTML report of a run, a comparison or a ranking: one self-contained file.

Plots are PNGs drawn with matplotlib (imported here only, lazily: the optional extra
``segloss[report]``) and inlined as ``data:`` URIs; the page loads nothing else (its content
security policy allows only inline images and styles) and runs no script. Each renderer
returns a :class:`Report`: the page and the same plots as PNG bytes (``--plots DIR``).

Nothing is computed here beyond drawing: values come from the records (``RunResult``,
``Comparison``, ``Ranking``, ``SliceOverlay``), and box plots draw their own quartiles.
"""

from __future__ import annotations

import base64
import html
import io
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Optional

import numpy as np

from ..model import RunResult
from .summary import mean_std
from .table import NULL, _header, fmt

if TYPE_CHECKING:  # pragma: no cover
    from ..compare import Comparison
    from ..rank import Ranking, SliceOverlay

MAX_CLASSES = 24  # classes drawn per distribution plot (the worst by their mean)
MAX_METRICS = 6
MAX_HEATMAP_TASKS = 40
DPI = 80
# Run colours (colour-blind safe, Okabe-Ito); GT and PRED borders of the overlays.
COLOURS = ("#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#F0E442", "#000000")
GT_EDGE = np.array([0.0, 0.85, 0.2])
PRED_EDGE = np.array([1.0, 0.0, 0.85])

_CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:24px auto;max-width:1200px;
color:#1b1b1b;padding:0 16px}
h1{font-size:1.5em;margin-bottom:4px}h2{font-size:1.15em;margin-top:28px;border-bottom:1px solid #ddd}
.meta{color:#555;font-size:.9em}
table{border-collapse:collapse;font-size:.88em;margin:8px 0}
th,td{border:1px solid #ddd;padding:3px 8px;text-align:right;white-space:nowrap}
th{background:#f3f3f3}td.l,th.l{text-align:left}
tr.best td{background:#eef7ee}tr.bad td{background:#fbeaea}
img{max-width:100%;height:auto;display:block;margin:8px 0}.wide{overflow-x:auto}
.note{color:#7a4b00;font-size:.88em}
"""
_CSP = "default-src 'none'; img-src data:; style-src 'unsafe-inline'"


@dataclass(frozen=True)
class Report:
    """A rendered report: the page, and each plot as PNG bytes by file name."""

    html: str
    images: dict[str, bytes] = field(default_factory=dict)


# --- drawing ------------------------------------------------------------------------------------


def _figure(width: float, height: float):
    from matplotlib.figure import Figure  # lazy: matplotlib is the optional `report` extra

    return Figure(figsize=(width, height), dpi=DPI)


def _png(fig) -> bytes:
    """The figure as PNG, every text literal: a class name, case id or run name with a ``$``
    is never read as mathtext (``$\\x{$`` made matplotlib raise ValueError: exit 3)."""
    from matplotlib import rc_context
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.text import Text

    FigureCanvasAgg(fig)
    for text in fig.findobj(Text):
        text.set_parse_math(False)
    buf = io.BytesIO()
    with rc_context({"text.parse_math": False}):  # tick labels made while drawing
        fig.savefig(buf, format="png", dpi=DPI)
    return buf.getvalue()


def _ranked_metrics(run: RunResult) -> list[str]:
    from ..metrics.registry import all_metrics

    specs = all_metrics()
    chosen = [m for m in (run.table_metrics or run.metric_names) if specs[m].higher_is_better is not None]
    return chosen[:MAX_METRICS]


def _case_values(run: RunResult, label: Any, metric: str) -> np.ndarray:
    vals = [row.metrics.get(metric) for case in run.cases for row in case.classes if row.label == label]
    return np.array([float(v) for v in vals if v is not None], dtype=np.float64)


def _shown_classes(run: RunResult, metric: Optional[str]) -> tuple[list[tuple[Any, Optional[str]]], int]:
    """(classes to draw, how many there are): all, or the MAX_CLASSES worst by their mean."""
    summary = run.summary
    if summary is None:
        return [], 0
    entries = list(summary.classes)
    if len(entries) > MAX_CLASSES and metric is not None:
        from ..metrics.registry import all_metrics

        sign = 1.0 if all_metrics()[metric].higher_is_better else -1.0

        def key(e):
            st = e.metrics.get(metric)
            return (st is not None and st.mean is not None, sign * (st.mean if st and st.mean is not None else 0.0))

        entries = sorted(sorted(entries, key=key)[:MAX_CLASSES], key=lambda e: e.label)
    return [(e.label, e.name) for e in entries], len(summary.classes)


def _class_tick(label: Any, name: Optional[str]) -> str:
    return f"{label} {name[:14]}" if name else str(label)


def distributions_png(runs: Mapping[str, RunResult], metrics: Sequence[str]) -> tuple[bytes, str]:
    """Per metric, per class: a box (quartiles, whiskers to 1.5 IQR) and one point per case,
    runs side by side. Returns (PNG, a caption)."""
    first = next(iter(runs.values()))
    classes, n_all = _shown_classes(first, metrics[0] if metrics else None)
    n_runs = len(runs)
    panel = min(16.0, max(4.0, 0.42 * len(classes) * max(1, n_runs) ** 0.6 + 1.5))
    ncols = 2 if panel <= 6.0 and len(metrics) > 1 else 1  # few classes: two metrics a row
    nrows = -(-len(metrics) // ncols)
    named = any(nm for _, nm in classes)
    row = 2.3 if named else 1.9
    height = row * nrows + 0.2
    fig = _figure(panel * ncols + 0.4, height)
    grid = fig.subplots(nrows, ncols, squeeze=False)
    for ax in grid.ravel()[len(metrics) :]:
        ax.set_axis_off()
    axes = grid.ravel()[: len(metrics)]
    jitter = np.random.default_rng(0)  # fixed, so the same run draws the same picture
    step = 0.8 / n_runs
    for ax, metric in zip(axes, metrics):
        unit = first.metric_units.get(metric)
        for r, (name, run) in enumerate(runs.items()):
            colour = COLOURS[r % len(COLOURS)]
            data, pos = [], []
            for i, (label, _) in enumerate(classes):
                vals = _case_values(run, label, metric)
                if vals.size:
                    data.append(vals)
                    pos.append(i + (r - (n_runs - 1) / 2) * step)
            if not data:
                continue
            ax.boxplot(
                data,
                positions=pos,
                widths=step * 0.8,
                showfliers=False,
                patch_artist=True,
                boxprops={"facecolor": "none", "edgecolor": colour},
                medianprops={"color": colour},
                whiskerprops={"color": colour},
                capprops={"color": colour},
                manage_ticks=False,
            )
            xs = np.concatenate(
                [np.full(v.size, p) + jitter.uniform(-0.3, 0.3, v.size) * step for v, p in zip(data, pos)]
            )
            ys = np.concatenate(data)
            ax.plot(xs, ys, "o", ms=2.5, alpha=0.5, mew=0, color=colour, label=name if n_runs > 1 else None)
        ax.set_ylabel(f"{metric} ({unit})" if unit else metric, fontsize=8)
        ax.set_xticks(range(len(classes)))
        ax.set_xticklabels([_class_tick(lab, nm) for lab, nm in classes], fontsize=7, rotation=30, ha="right")
        ax.tick_params(axis="y", labelsize=7)
        ax.set_xlim(-0.6, len(classes) - 0.4)
        ax.grid(axis="y", alpha=0.3)
    if n_runs > 1:
        axes[0].legend(fontsize=7, loc="best", markerscale=3)
    below = 0.95 if named else 0.55  # inches under the last row for its tick labels
    fig.subplots_adjust(
        left=0.07, right=0.99, top=1 - 0.1 / height, bottom=below / height, hspace=below / (row - below), wspace=0.18
    )
    caption = "one point per case"
    if n_all > len(classes):
        caption += f"; the {len(classes)} classes with the worst mean {metrics[0]} of {n_all}"
    return _png(fig), caption


def _overlay_rgb(ov: SliceOverlay, pred_name: Optional[str]) -> np.ndarray:
    """GT labels as light colours, GT borders green, PRED borders magenta."""
    from matplotlib import colormaps

    gt = ov.gt
    assert gt is not None and ov.gt_edges is not None
    palette = np.asarray(colormaps["tab20"](np.arange(20)))[:, :3]
    rgb = np.ones(gt.shape + (3,))
    inside = gt > 0
    rgb[inside] = 0.55 + 0.45 * palette[gt[inside] % len(palette)]
    rgb[ov.gt_edges] = GT_EDGE
    if pred_name is not None and pred_name in ov.pred_edges:
        rgb[ov.pred_edges[pred_name]] = PRED_EDGE
    return rgb


def overlays_png(
    overlays: Sequence[SliceOverlay], names: Sequence[str], values: Mapping[tuple[str, str], str]
) -> Optional[bytes]:
    """Rows of cases, a column per run: the slice with the most wrong voxels. ``values``:
    (case id, run name) -> the text shown under its title (its value)."""
    shown = [ov for ov in overlays if ov.gt is not None]
    if not shown:
        return None
    cols = len(names)
    if cols == 1:  # one run: cases side by side, wrapping after five
        ncols, nrows = min(5, len(shown)), -(-len(shown) // 5)
        cells = [(ov, names[0]) for ov in shown]
    else:
        ncols, nrows = cols, len(shown)
        cells = [(ov, n) for ov in shown for n in names]
    fig = _figure(2.6 * ncols, 2.8 * nrows)
    axes = fig.subplots(nrows, ncols, squeeze=False)
    for ax in axes.ravel():
        ax.set_axis_off()
    for (ov, name), ax in zip(cells, axes.ravel()):
        ax.imshow(_overlay_rgb(ov, name), interpolation="nearest")
        where = "" if ov.axis is None else f", axis {ov.axis} slice {ov.index}"
        title = f"{ov.case}{where}" if cols == 1 else f"{name}: {ov.case}{where}"
        extra = values.get((ov.case, name))
        ax.set_title(title + (f"\n{extra}" if extra else ""), fontsize=7)
    fig.subplots_adjust(left=0.01, right=0.99, top=0.9, bottom=0.02, wspace=0.05, hspace=0.35)
    return _png(fig)


def ci_png(ranking: Ranking) -> bytes:
    """Per metric: each run's mean with its bootstrap interval, per class."""
    metrics = list(ranking.metrics)[:MAX_METRICS]
    names = ranking.names
    per_metric = {m: [t for t in ranking.tasks if t.metric == m][:MAX_CLASSES] for m in metrics}
    rows = max(len(v) for v in per_metric.values())
    fig = _figure(4.2 * len(metrics) + 1.2, 0.32 * rows * max(1.0, len(names) / 3) + 1.4)
    axes = fig.subplots(1, len(metrics), squeeze=False)[0]
    step = 0.7 / len(names)
    for ax, metric in zip(axes, metrics):
        tasks = per_metric[metric]
        for r, name in enumerate(names):
            y = np.arange(len(tasks)) + (r - (len(names) - 1) / 2) * step
            stats = [t.by_name()[name] for t in tasks]
            mean = np.array([np.nan if s.mean is None else s.mean for s in stats])
            lo = np.array([np.nan if s.ci_low is None else s.ci_low for s in stats])
            hi = np.array([np.nan if s.ci_high is None else s.ci_high for s in stats])
            err = np.vstack([np.clip(mean - lo, 0, None), np.clip(hi - mean, 0, None)])
            ax.errorbar(mean, y, xerr=err, fmt="o", ms=3, lw=1, capsize=2, color=COLOURS[r % len(COLOURS)], label=name)
        ax.set_yticks(range(len(tasks)))
        ax.set_yticklabels([_class_tick(t.label, t.class_name) for t in tasks], fontsize=7)
        ax.invert_yaxis()
        unit = tasks[0].unit if tasks else None
        better = "higher" if tasks and tasks[0].higher_is_better else "lower"
        ax.set_title(f"{metric}{f' ({unit})' if unit else ''}, {better} is better", fontsize=8)
        ax.tick_params(axis="x", labelsize=7)
        ax.grid(axis="x", alpha=0.3)
    axes[0].legend(fontsize=7, loc="best")
    fig.subplots_adjust(left=0.12, right=0.99, top=0.9, bottom=0.08, wspace=0.45)
    return _png(fig)


def stability_png(ranking: Ranking) -> bytes:
    """Left: the share of bootstrap resamples giving each run each final rank. Right: per
    task, the share of resamples ranking each run first."""
    names = ranking.names
    tasks = list(ranking.tasks)[:MAX_HEATMAP_TASKS]
    fig = _figure(11.0, max(2.6, 0.22 * len(tasks) + 1.4))
    left, right = fig.subplots(1, 2, gridspec_kw={"width_ratios": [1.0, 1.2]})
    order = [f.name for f in ranking.final]
    freqs = {f.name: f.rank_frequencies for f in ranking.final}
    shade = [f"{0.15 + 0.7 * k / max(1, len(names) - 1):.2f}" for k in range(len(names))]
    for y, name in enumerate(order):
        start = 0.0
        for k, share in enumerate(freqs[name]):
            if share > 0:
                left.barh(y, share, left=start, color=shade[k], edgecolor="white")
                if share >= 0.08:
                    colour = "white" if k < len(names) / 2 else "black"
                    left.text(start + share / 2, y, f"#{k + 1}", ha="center", va="center", fontsize=7, color=colour)
            start += share
    left.set_yticks(range(len(order)))
    left.set_yticklabels(order, fontsize=8)
    left.invert_yaxis()
    left.set_xlim(0, 1)
    left.set_xlabel(f"share of {ranking.n_bootstrap} resamples at each final rank", fontsize=8)
    left.tick_params(axis="x", labelsize=7)
    grid = np.array([[t.by_name()[n].first_frequency for n in names] for t in tasks])
    right.imshow(grid, aspect="auto", cmap="Greens", vmin=0, vmax=1, interpolation="nearest")
    right.set_xticks(range(len(names)))
    right.set_xticklabels(names, fontsize=7, rotation=30)
    right.set_yticks(range(len(tasks)))
    right.set_yticklabels([f"{_class_tick(t.label, t.class_name)} {t.metric}" for t in tasks], fontsize=6)
    right.set_title("share of resamples ranking the run first, per task", fontsize=8)
    fig.subplots_adjust(left=0.1, right=0.99, top=0.9, bottom=0.2, wspace=0.6)
    return _png(fig)


# --- page ---------------------------------------------------------------------------------------


def _e(value: Any) -> str:
    return html.escape(str(value), quote=True)


def _img(png: bytes, alt: str) -> str:
    return f'<img alt="{_e(alt)}" src="data:image/png;base64,{base64.b64encode(png).decode("ascii")}">'


def _table(head: Sequence[str], rows: Sequence[Sequence[Any]], *, left: int = 2, classes: Sequence[str] = ()) -> str:
    def cells(tag: str, values: Sequence[Any]) -> str:
        return "".join(f"<{tag}{' class=l' if i < left else ''}>{_e(v)}</{tag}>" for i, v in enumerate(values))

    body = "".join(
        f"<tr{f' class={classes[i]}' if i < len(classes) and classes[i] else ''}>{cells('td', r)}</tr>"
        for i, r in enumerate(rows)
    )
    return f"<div class=wide><table><thead><tr>{cells('th', head)}</tr></thead><tbody>{body}</tbody></table></div>"


def _page(title: str, meta: str, sections: Sequence[str]) -> str:
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        f'<meta http-equiv="Content-Security-Policy" content="{_CSP}">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{_e(title)}</title><style>{_CSS}</style></head><body>"
        f'<h1>{_e(title)}</h1><p class="meta">{_e(meta)}</p>' + "".join(sections) + "</body></html>\n"
    )


def _section(title: str, *parts: str) -> str:
    return f"<h2>{_e(title)}</h2>" + "".join(parts)


def _meta(run: RunResult) -> str:
    s = run.settings
    bits = [f"segloss {s.get('segloss_version', '')}", f"empty policy {s.get('empty_policy', 'worst')}"]
    if s.get("distance_unit"):
        bits.append(f"distances in {s['distance_unit']}")
    return "; ".join(bits)


def _summary_rows(run: RunResult, metrics: Sequence[str]) -> tuple[list[str], list[list[str]]]:
    head = ["label", "name"] + [_header(m, run.metric_units.get(m), run.settings) for m in metrics]
    rows: list[list[str]] = []
    if len(run.cases) == 1:
        for row in run.cases[0].classes:
            rows.append(
                [str(row.label), row.name or ""] + [fmt(row.metrics.get(m), run.metric_units.get(m)) for m in metrics]
            )
        return head, rows
    summary = run.summary
    if summary is None:
        return head, rows
    for entry in summary.classes:
        rows.append(
            [str(entry.label), entry.name or ""]
            + [mean_std(entry.metrics.get(m), run.metric_units.get(m)) for m in metrics]
        )
    over = summary.mean_over_classes
    if over:
        rows.append(["", "mean over classes"] + [mean_std(over.get(m), run.metric_units.get(m)) for m in metrics])
    return head, rows


def _worst_rows(run: RunResult, name: str = "run") -> tuple[Optional[str], list[list[str]], dict[tuple[str, str], str]]:
    worst = run.summary.worst_cases if run.summary is not None else None
    if worst is None:
        return None, [], {}
    unit = run.metric_units.get(worst.metric)
    rows, captions = [], {}
    for w in worst.cases:
        cls = (
            ""
            if w.worst_label is None
            else (f"{w.worst_label} ({w.worst_name})" if w.worst_name else str(w.worst_label))
        )
        rows.append([w.case, fmt(w.mean, unit), cls, fmt(w.worst_value, unit)])
        captions[(w.case, name)] = f"mean {worst.metric} {fmt(w.mean, unit)}"
    return worst.metric, rows, captions


def _overlay_section(
    overlays: Sequence[SliceOverlay],
    names: Sequence[str],
    captions: Mapping[tuple[str, str], str],
    images: dict[str, bytes],
) -> str:
    if not overlays:
        return ""
    parts = [
        '<p class="meta">The slice with the most wrong voxels of each case, cropped to its classes: GT labels '
        "shaded, GT borders green, PRED borders magenta.</p>"
    ]
    png = overlays_png(overlays, names, captions)
    if png is not None:
        images["worst_slices.png"] = png
        parts.append(_img(png, "slices of the worst cases"))
    parts += [f'<p class="note">{_e(ov.case)}: no slice ({_e(ov.note)})</p>' for ov in overlays if ov.note]
    return _section("Slices of the worst cases", *parts)


def render_run(run: RunResult, *, overlays: Sequence[SliceOverlay] = (), title: str = "segloss eval") -> Report:
    """The report of one run (a pair or a folder): summary table, distributions over cases,
    worst cases, and their slices when ``overlays`` are given."""
    images: dict[str, bytes] = {}
    metrics = list(run.table_metrics or run.metric_names)
    n = len(run.cases)
    head, rows = _summary_rows(run, metrics)
    what = "values of the case" if n == 1 else f"mean ± std over {n} cases"
    sections = [_section(f"Summary ({what})", _table(head, rows))]
    ranked = _ranked_metrics(run)
    if ranked and run.summary is not None:
        png, caption = distributions_png({"run": run}, ranked)
        images["distributions.png"] = png
        sections.append(
            _section("Distributions over cases", f'<p class="meta">{_e(caption)}</p>', _img(png, "distributions"))
        )
    metric, worst_rows, captions = _worst_rows(run)
    if metric is not None and n > 1:
        unit = run.metric_units.get(metric)
        sections.append(
            _section(
                f"Worst cases by {metric}",
                _table(
                    ["case", f"mean {metric}", "worst class", _header(metric, unit, run.settings)], worst_rows, left=1
                ),
            )
        )
    sections.append(_overlay_section(overlays, ["run"], captions, images))
    label = f"{title}: {n} case{'s' if n != 1 else ''}"
    return Report(_page(label, _meta(run), sections), images)


def render_comparison(
    comparison: Comparison, base: RunResult, new: RunResult, *, overlays: Sequence[SliceOverlay] = ()
) -> Report:
    """The report of `segloss compare`: the rows with their verdicts, BASE and NEW
    distributions side by side, NEW's worst cases and their slices (both predictions)."""
    from .compare import _STATUS_TEXT, _class, _delta, headline

    images: dict[str, bytes] = {}
    rows = [
        [
            _class(r),
            r.key,
            fmt(r.base),
            fmt(r.new),
            _delta(r.delta),
            "" if r.allowance is None else r.allowance.describe(),
            _STATUS_TEXT[r.status],
        ]
        for r in comparison.rows
    ]
    marks = ["bad" if r.failed else "" for r in comparison.rows]
    sections = [
        _section(
            headline(comparison),
            _table(["class", "metric", "base", "new", "change", "allowed", "result"], rows, classes=marks),
            *(f'<p class="note">note: {_e(n)}</p>' for n in comparison.notes),
        )
    ]
    runs = {"BASE": base, "NEW": new}
    ranked = [m for m in _ranked_metrics(new) if m in base.metric_names]
    if ranked and new.summary is not None:
        png, caption = distributions_png(runs, ranked)
        images["distributions.png"] = png
        sections.append(
            _section(
                "Distributions over cases (BASE, NEW)", f'<p class="meta">{_e(caption)}</p>', _img(png, "distributions")
            )
        )
    metric, worst_rows, captions = _worst_rows(new, "NEW")
    if metric is not None and len(new.cases) > 1:
        sections.append(
            _section(
                f"Worst cases of NEW by {metric}",
                _table(["case", f"mean {metric}", "worst class", metric], worst_rows, left=1),
            )
        )
    sections.append(_overlay_section(overlays, ["BASE", "NEW"], captions, images))
    title = f"segloss compare: {comparison.new} vs {comparison.base}"
    return Report(_page(title, _meta(new), sections), images)


def render_ranking(ranking: Ranking, runs: Mapping[str, RunResult], *, overlays: Sequence[SliceOverlay] = ()) -> Report:
    """The report of `segloss rank`: the final ranking, per-task statistics, the interval and
    rank-stability plots, distributions per run, the worst cases and their slices."""
    from .rank import class_title, fmt_p, headline

    images: dict[str, bytes] = {}
    names = ranking.names
    final_rows = [
        [str(f.rank), f.name, f"{f.mean_rank:.2f}", f"{100 * f.first_frequency:.0f}%"]
        + [f"{100 * v:.0f}%" for v in f.rank_frequencies]
        for f in ranking.final
    ]
    head = ["rank", "run", "mean task rank", "first"] + [f"rank {k + 1}" for k in range(len(names))]
    sections = [
        _section(
            "Ranking",
            f'<p class="meta">{_e(headline(ranking))}. Final rank: the mean over classes and metrics of each run\'s '
            f"rank, ranked again; shares: of {ranking.n_bootstrap} bootstrap resamples of the cases (seed "
            f"{ranking.seed}).</p>",
            _table(head, final_rows, left=0, classes=["best" if f.rank == 1 else "" for f in ranking.final]),
            *(f'<p class="note">note: {_e(n)}</p>' for n in ranking.notes),
        )
    ]
    level = f"{100 * ranking.confidence:g}%"
    task_rows, marks = [], []
    for t in ranking.tasks:
        for r in t.runs:
            interval = NULL if r.ci_low is None else f"[{fmt(r.ci_low, t.unit)}, {fmt(r.ci_high, t.unit)}]"
            task_rows.append(
                [
                    class_title(t),
                    t.metric,
                    r.name,
                    str(r.rank),
                    fmt(r.mean, t.unit),
                    interval,
                    fmt_p(r.p_value),
                    fmt_p(r.p_holm) + (" *" if r.significant else ""),
                    f"{100 * r.first_frequency:.0f}%",
                ]
            )
            marks.append("best" if r.name == t.best else "")
    ci = ci_png(ranking)
    images["ci.png"] = ci
    sections.append(_section("Confidence intervals", _img(ci, "confidence intervals")))
    stability = stability_png(ranking)
    images["rank_stability.png"] = stability
    sections.append(_section("Rank stability", _img(stability, "rank stability")))
    sections.append(
        _section(
            "Per class and metric",
            f'<p class="meta">mean with its {level} bootstrap percentile interval; paired two-sided Wilcoxon '
            f"signed-rank test against the best run of the row group, Holm-adjusted (* below {ranking.alpha:g}).</p>",
            _table(
                ["class", "metric", "run", "rank", "mean", f"{level} CI", "p", "p (Holm)", "first"],
                task_rows,
                left=3,
                classes=marks,
            ),
        )
    )
    metrics = [m for m in ranking.metrics][:MAX_METRICS]
    first = runs[names[0]]
    if first.summary is not None:
        png, caption = distributions_png(runs, metrics)
        images["distributions.png"] = png
        sections.append(
            _section("Distributions over cases", f'<p class="meta">{_e(caption)}</p>', _img(png, "distributions"))
        )
    if ranking.worst_cases:
        metric = ranking.worst_metric or ""
        unit = first.metric_units.get(metric)
        rows = [[w.case] + [fmt(v, unit) for v in w.values] for w in ranking.worst_cases]
        sections.append(
            _section(
                f"Worst cases by {metric} (mean over classes, averaged over runs)",
                _table(["case", *names], rows, left=1),
            )
        )
    captions = {
        (w.case, n): f"mean {ranking.worst_metric} {fmt(v, first.metric_units.get(ranking.worst_metric or ''))}"
        for w in ranking.worst_cases
        for n, v in zip(names, w.values)
    }
    sections.append(_overlay_section(overlays, list(names), captions, images))
    return Report(_page("segloss rank", f"segloss {ranking_version(runs)}", sections), images)


def ranking_version(runs: Mapping[str, RunResult]) -> str:
    versions = sorted({str(r.settings.get("segloss_version", "")) for r in runs.values()})
    return ", ".join(v for v in versions if v)
