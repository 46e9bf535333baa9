"""Frozen records that cross layers: io -> scan -> evaluate -> run -> report.

Nothing here computes beyond turning a record into plain data (``to_dict``, ``to_pandas``);
report/ imports only this module.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal, Optional

import numpy as np

from .choices import Choice, EmptyPolicy, HdMode, MissingPolicy, PredType

__all__ = ["Choice", "EmptyPolicy", "HdMode", "MissingPolicy", "PredType"]  # re-exported: declared in choices.py

if TYPE_CHECKING:  # pragma: no cover
    import pandas

# Keys of every summary statistic, in output order (aggregate.py computes them).
STAT_KEYS = ("mean", "std", "median", "q1", "q3", "min", "max", "n", "n_null")

Status = Literal["ok", "both_empty", "gt_empty", "pred_empty"]


PredKind = Literal["labels", "probs", "logits"]


@dataclass(frozen=True)
class Volume:
    """One image as loaded: the array exactly as stored (dtype kept, possibly memory-mapped).

    ``spacing_mm`` follows the spatial array axes; ``None`` when the file has no header
    (numpy inputs without a spacing). ``affine`` is the 4x4 voxel-to-world matrix of a
    NIfTI file, ``None`` for numpy inputs.
    """

    array: np.ndarray
    spacing_mm: Optional[tuple[float, ...]]
    affine: Optional[np.ndarray]
    path: str
    spacing_source: str = "header"  # header | option | none | pixel
    # Spacing of trailing singleton axes dropped from the array (a 20x20x1 volume read as 2-D):
    # no distance runs along them, but a voxel's volume includes them.
    dropped_spacing_mm: tuple[float, ...] = ()
    # A soft-label GT (io/soft_labels.py): the class probabilities (C, *spatial) whose argmax
    # is ``array``; None for label maps.
    soft: Optional[np.ndarray] = None
    # What the reader noticed and the case should say (a transparent alpha channel): the case's notes.
    notes: tuple[str, ...] = ()

    def with_array(self, array: np.ndarray) -> Volume:
        """The same image with another array of the same grid (e.g. labels cast to integers)."""
        return Volume(
            array,
            self.spacing_mm,
            self.affine,
            self.path,
            self.spacing_source,
            self.dropped_spacing_mm,
            self.soft,
            self.notes,
        )

    @property
    def voxel_spacing_mm(self) -> Optional[tuple[float, ...]]:
        """Every axis's spacing, dropped singleton axes included: what a voxel's volume is made of."""
        return None if self.spacing_mm is None else (*self.spacing_mm, *self.dropped_spacing_mm)


@dataclass(frozen=True)
class Prediction:
    """A loaded prediction in one of three kinds, in a layout every consumer can reuse.

    - ``labels``: ``labels`` is the integer label map (spatial shape), ``scores`` is None.
    - ``probs`` / ``logits``: ``scores`` is a *view* of the stored array with the class axis
      moved first, shape ``(K,) + spatial`` (no copy; strides may be anything), and
      ``labels`` is the hard label map derived from it (argmax, or threshold for K == 1).
      Losses read ``scores``; metrics read ``labels``; nothing is loaded twice.
    """

    kind: PredKind
    labels: np.ndarray
    scores: Optional[np.ndarray]
    volume: Volume
    channel_axis: Optional[int] = None  # axis of the class channel in the stored array

    @property
    def n_channels(self) -> Optional[int]:
        return None if self.scores is None else int(self.scores.shape[0])


@dataclass(frozen=True, slots=True)
class ConfusionCounts:
    """One class's one-vs-rest confusion counts in one case (ignored voxels excluded).

    Kept with every class row so dataset-level (pooled) metrics are sums of these.
    """

    tp: int
    fp: int
    fn: int
    tn: int

    @property
    def n(self) -> int:
        return self.tp + self.fp + self.fn + self.tn


@dataclass(frozen=True, slots=True)  # one per case and class
class ClassResult:
    label: int | str  # a label, or a region's name
    name: Optional[str]
    status: Status
    metrics: dict[str, Any]  # name -> float | int | None (None = undefined)
    counts: Optional[ConfusionCounts] = None

    def to_dict(self) -> dict[str, Any]:
        """The class as in the JSON result (``cases[i]["classes"][label]``)."""
        return {"name": self.name, "status": self.status, "metrics": dict(self.metrics)}


@dataclass(frozen=True)
class LossResult:
    name: str
    value: Optional[float]
    per_class: dict[Any, Optional[float]]  # label -> value (labels only: regions have none)
    params: dict[str, Any]

    def to_dict(self) -> dict[str, Any]:
        """The loss as in the JSON result (``cases[i]["losses"][name]``), labels as strings."""
        return {
            "value": self.value,
            "per_class": {str(k): v for k, v in self.per_class.items()},
            "params": dict(self.params),
        }


@dataclass(frozen=True)
class CaseResult:
    """Every number of one case: a row per reported class, and the losses."""

    case: str
    pred: Optional[str]  # None: the prediction was missing (scored as empty)
    gt: str
    spacing_mm: Optional[tuple[float, ...]]
    classes: tuple[ClassResult, ...]
    losses: dict[str, LossResult] = field(default_factory=dict)
    distance_unit: str = "mm"  # mm | voxel (spacing 1 given for numpy inputs) | pixel (images)
    n_voxels: Optional[int] = None  # voxels counted (ignored ones excluded): pooled TN needs it
    notes: tuple[str, ...] = ()  # suspicious input worth a word (the CLI prints them on stderr)
    # --reduction batch: the case's loss sums (losses.compute.CaseSums), pooled by the summary;
    # None otherwise. Not part of the JSON case.
    loss_sums: Any = field(default=None, compare=False, repr=False)

    def row(self, label: int | str) -> ClassResult:
        """The row of class ``label``; KeyError when the case does not report it."""
        for r in self.classes:
            if r.label == label:
                return r
        raise KeyError(label)

    def to_dict(self) -> dict[str, Any]:
        """The case as in the JSON result (``cases[i]``), labels as strings.

        Undefined values are None; floats stay floats (NaN never occurs: undefined is None).

        Examples
        --------
        >>> import numpy as np
        >>> from segloss_cli import score
        >>> d = score(np.array([[0, 1, 1]]), np.array([[0, 1, 0]]), metrics="dice,precision").to_dict()
        >>> d["classes"]
        {'1': {'name': None, 'status': 'ok', 'metrics': {'dice': 0.6666666666666666, 'precision': 0.5}}}
        """
        return {
            "case": self.case,
            "pred": self.pred,
            "gt": self.gt,
            "spacing": None if self.spacing_mm is None else list(self.spacing_mm),
            "classes": {str(row.label): row.to_dict() for row in self.classes},
            "losses": {name: res.to_dict() for name, res in self.losses.items()},
        }


def case_rows(case: CaseResult, metric_names: tuple[str, ...], loss_names: tuple[str, ...]) -> list[dict[str, Any]]:
    """The CSV's records of one case (:meth:`RunResult.rows`), one per class."""
    out = []
    for row in case.classes:
        rec: dict[str, Any] = {"case": case.case, "label": row.label, "name": row.name, "status": row.status}
        for m in metric_names:
            rec[m] = row.metrics.get(m)
        for name in loss_names:
            res = case.losses.get(name)
            # A loss without per-class values (generalized_dice) shows its value on every
            # row; a row the loss has no value for (a region) shows none.
            rec[f"loss_{name}"] = (
                None if res is None else (res.per_class.get(row.label) if res.per_class else res.value)
            )
        out.append(rec)
    return out


# --- summary over cases ------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)  # a run holds one per class and metric: 88 bytes, not 350
class Stats:
    """Statistics of one value over cases, undefined values skipped and counted (n_null)."""

    mean: Optional[float]
    std: Optional[float]
    median: Optional[float]
    q1: Optional[float]
    q3: Optional[float]
    min: Optional[float]
    max: Optional[float]
    n: int
    n_null: int

    def to_dict(self) -> dict[str, Any]:
        return {k: getattr(self, k) for k in STAT_KEYS}


@dataclass(frozen=True)
class ClassSummary:
    label: int | str
    name: Optional[str]
    metrics: dict[str, Stats]
    losses: Optional[dict[str, Stats]] = None  # None: the run computed no loss

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"name": self.name, "metrics": {m: s.to_dict() for m, s in self.metrics.items()}}
        if self.losses is not None:
            out["losses"] = {n: s.to_dict() for n, s in self.losses.items()}
        return out


@dataclass(frozen=True)
class WorstCase:
    case: str
    mean: Optional[float]  # mean over the case's defined class values
    worst_label: Optional[int | str] = None
    worst_name: Optional[str] = None
    worst_value: Optional[float] = None

    def to_dict(self) -> dict[str, Any]:
        worst = None
        if self.worst_label is not None:
            worst = {"label": str(self.worst_label), "name": self.worst_name, "value": self.worst_value}
        return {"case": self.case, "mean": self.mean, "worst_class": worst}


@dataclass(frozen=True)
class WorstCases:
    metric: str
    cases: tuple[WorstCase, ...]

    def to_dict(self) -> dict[str, Any]:
        return {"metric": self.metric, "cases": [c.to_dict() for c in self.cases]}


@dataclass(frozen=True)
class PairingSummary:
    """What pairing two folders did (folder runs only)."""

    missing_policy: str
    n_pairs: int
    missing_predictions: tuple[str, ...]
    n_missing_scored_as_empty: int
    n_missing_skipped: int
    extra_predictions: tuple[str, ...]

    def to_dict(self) -> dict[str, Any]:
        return {
            "missing_policy": str(self.missing_policy),
            "n_pairs": self.n_pairs,
            "missing_predictions": list(self.missing_predictions),
            "n_missing_scored_as_empty": self.n_missing_scored_as_empty,
            "n_missing_skipped": self.n_missing_skipped,
            "extra_predictions": list(self.extra_predictions),
        }


@dataclass(frozen=True)
class PooledClass:
    """One class over the whole run: its confusion counts summed over cases, and every
    count-based metric computed from them (the empty-mask rule applied to the pooled status)."""

    label: int | str
    name: Optional[str]
    status: Status
    counts: ConfusionCounts
    metrics: dict[str, Any]

    def to_dict(self) -> dict[str, Any]:
        c = self.counts
        return {
            "name": self.name,
            "status": self.status,
            "counts": {"tp": c.tp, "fp": c.fp, "fn": c.fn, "tn": c.tn},
            "metrics": dict(self.metrics),
        }


# Dataset-level scores as mmsegmentation's IoUMetric reports them, over the reported classes.
DATASET_KEYS = ("aAcc", "mIoU", "mAcc", "mDice", "mFscore")


@dataclass(frozen=True)
class Pooled:
    """Dataset-level (pooled) results: counts accumulated over all cases, then the formulas.

    ``dataset``: aAcc = sum TP / sum |G| over the classes, and the means over classes (classes
    whose value is 0/0 left out, as nanmean) of IoU, accuracy (recall), Dice and F1 (from the
    pooled precision and recall) -- mmsegmentation's aAcc, mIoU, mAcc, mDice, mFscore.
    """

    n_cases: int
    classes: tuple[PooledClass, ...]
    mean_over_classes: dict[str, Optional[float]]
    dataset: dict[str, Optional[float]]
    # --reduction batch: each loss of the sums of every case (LossResult); None otherwise
    losses: Optional[dict[str, LossResult]] = None

    def by_label(self) -> dict[int | str, PooledClass]:
        return {c.label: c for c in self.classes}

    def to_dict(self) -> dict[str, Any]:
        out = {
            "n_cases": self.n_cases,
            "classes": {str(c.label): c.to_dict() for c in self.classes},
            "mean_over_classes": dict(self.mean_over_classes),
            **self.dataset,
        }
        if self.losses is not None:
            out["losses"] = {name: res.to_dict() for name, res in self.losses.items()}
        return out


@dataclass(frozen=True)
class Summary:
    """Per class and metric (and loss) statistics over the cases of a run."""

    n_cases: int
    classes: tuple[ClassSummary, ...]  # sorted by label
    mean_over_classes: dict[str, Stats]
    losses: Optional[dict[str, Stats]] = None  # reduced loss values; None: no loss computed
    pairing: Optional[PairingSummary] = None
    worst_cases: Optional[WorstCases] = None
    pooled: Optional[Pooled] = None

    def by_label(self) -> dict[int | str, ClassSummary]:
        return {c.label: c for c in self.classes}

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "n_cases": self.n_cases,
            "classes": {str(c.label): c.to_dict() for c in self.classes},
            "mean_over_classes": {m: s.to_dict() for m, s in self.mean_over_classes.items()},
        }
        if self.losses is not None:
            out["losses"] = {n: s.to_dict() for n, s in self.losses.items()}
        if self.pairing is not None:
            out["pairing"] = self.pairing.to_dict()
        if self.worst_cases is not None:
            out["worst_cases"] = self.worst_cases.to_dict()
        if self.pooled is not None:
            out["pooled"] = self.pooled.to_dict()
        return out


@dataclass(frozen=True)
class RunResult:
    """Everything one run produced (a pair or a folder), ready to check and render."""

    settings: dict[str, Any]
    cases: tuple[CaseResult, ...]
    summary: Optional[Summary] = None
    metric_names: tuple[str, ...] = ()
    loss_names: tuple[str, ...] = ()
    metric_units: dict[str, Optional[str]] = field(default_factory=dict)
    table_metrics: tuple[str, ...] = ()  # columns of the terminal table (a readable subset)

    def rows(self) -> list[dict[str, Any]]:
        """One record per case and class: the CSV's rows, with None for undefined values."""
        return [rec for case in self.cases for rec in case_rows(case, self.metric_names, self.loss_names)]

    def to_pandas(self) -> pandas.DataFrame:
        """The per-case, per-class rows as a pandas DataFrame (columns as in the CSV).

        pandas is optional and imported only here; undefined values are NaN.

        Examples
        --------
        >>> import numpy as np
        >>> from segloss_cli import run
        >>> frame = run(np.array([[0, 1, 2]]), np.array([[0, 1, 1]]), metrics="dice,tp").to_pandas()
        >>> frame[["label", "status", "dice", "tp"]].to_dict("records")
        [{'label': 1, 'status': 'ok', 'dice': 0.6666666666666666, 'tp': 1}, {'label': 2, 'status': 'gt_empty', 'dice': 0.0, 'tp': 0}]
        """
        try:
            import pandas as pd
        except ImportError:  # pragma: no cover - depends on the environment
            raise ImportError("RunResult.to_pandas needs pandas: pip install pandas") from None
        columns = ["case", "label", "name", "status", *self.metric_names, *(f"loss_{n}" for n in self.loss_names)]
        frame = pd.DataFrame.from_records(self.rows(), columns=columns)
        for col in columns[4:]:
            frame[col] = pd.to_numeric(frame[col])  # None -> NaN; counts stay integers
        return frame
