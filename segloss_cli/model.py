"""Frozen records that cross layers: io -> evaluate -> report.

Nothing here computes; report/ imports only this module.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal, Optional

import numpy as np

# Keys of every summary statistic, in output order (aggregate.py computes them).
STAT_KEYS = ("mean", "std", "median", "q1", "q3", "min", "max", "n", "n_null")

PredKind = Literal["labels", "probs", "logits"]
Status = Literal["ok", "both_empty", "gt_empty", "pred_empty"]


@dataclass(frozen=True)
class Volume:
    """One image as loaded: the array exactly as stored (dtype kept, possibly memory-mapped).

    ``spacing_mm`` follows the spatial array axes; ``None`` when the file has no header
    (numpy inputs without ``--spacing``). ``affine`` is the 4x4 voxel-to-world matrix of a
    NIfTI file, ``None`` for numpy inputs.
    """

    array: np.ndarray
    spacing_mm: Optional[tuple[float, ...]]
    affine: Optional[np.ndarray]
    path: str
    spacing_source: str = "header"  # header | option | none

    def with_array(self, array: np.ndarray) -> "Volume":
        """The same image with another array of the same grid (e.g. labels cast to integers)."""
        return Volume(array, self.spacing_mm, self.affine, self.path, self.spacing_source)


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


@dataclass(frozen=True)
class ClassResult:
    label: int
    name: Optional[str]
    status: Status
    metrics: dict[str, Any]  # name -> float | int | None (None = undefined)


@dataclass(frozen=True)
class LossResult:
    name: str
    value: Optional[float]
    per_class: dict[int, Optional[float]]
    params: dict[str, Any]


@dataclass(frozen=True)
class CaseResult:
    case: str
    pred: str
    gt: str
    spacing_mm: Optional[tuple[float, ...]]
    classes: tuple[ClassResult, ...]
    losses: dict[str, LossResult] = field(default_factory=dict)


@dataclass(frozen=True)
class RunResult:
    """Everything one ``segloss eval`` run produced, ready to render."""

    settings: dict[str, Any]
    cases: tuple[CaseResult, ...]
    summary: Optional[dict[str, Any]] = None
    metric_names: tuple[str, ...] = ()
    loss_names: tuple[str, ...] = ()
    metric_units: dict[str, Optional[str]] = field(default_factory=dict)
    table_metrics: tuple[str, ...] = ()  # columns of the terminal table (a readable subset)
