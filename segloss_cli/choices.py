"""The choice enums, declared once: the CLI's options, the library's parameters and the JSON
settings all use them (a member's value is its text, in JSON too).

Kept free of numpy so `segloss --help` can build its options without loading it.
"""

from __future__ import annotations

from enum import Enum
from typing import Any


class Choice(str, Enum):
    """A named option value that is its own text (``PredType.PROBS == "probs"``), in JSON too."""

    def __str__(self) -> str:
        return str(self.value)

    def __format__(self, spec: str) -> str:
        return format(str(self.value), spec)

    @classmethod
    def parse(cls, value: Any, param: str):
        """The member for ``value`` (a member or its text); ValueError naming the choices."""
        try:
            return cls(value)
        except ValueError:
            choices = ", ".join(m.value for m in cls)
            raise ValueError(f"{param} must be one of {choices}, not {value!r}") from None


class PredType(Choice):
    """What PRED holds; ``auto`` decides only where unambiguous (conventions.md, "Inputs")."""

    AUTO = "auto"
    LABELS = "labels"
    PROBS = "probs"
    LOGITS = "logits"
    SIGMOID = "sigmoid"  # multi-label: one independent probability per channel (MONAI sigmoid=True, SMP multilabel)
    SIGMOID_LOGITS = "sigmoid_logits"  # the same before the sigmoid


class GtType(Choice):
    """What GT holds: a label map (default) or soft labels, class probabilities with a class axis
    (io/soft_labels.py)."""

    LABELS = "labels"
    SOFT = "soft"


class EmptyPolicy(Choice):
    """Values of a class that is empty in PRED or GT (conventions.md, "Empty masks")."""

    WORST = "worst"
    NAN = "nan"


class HdMode(Choice):
    """hd95: max of the two directed percentiles (MONAI) or the percentile of both pooled (MedPy)."""

    MAX = "max"
    POOLED = "pooled"


class SurfaceModel(Choice):
    """Surfaces of the distance metrics: boundary voxels (``voxel``) or DeepMind's area-weighted
    voxel-corner surface elements (``surfel``; conventions.md, "Surfel surfaces")."""

    VOXEL = "voxel"
    SURFEL = "surfel"
    # SimpleITK LabelContour(fullyConnected=True), seg-metrics' surface: mask voxels with a
    # background voxel among their 26 neighbours, the image border not counting as background
    CONTOUR26 = "contour26"


class DistanceMetric(Choice):
    """Distance between surface elements: Euclidean (default), taxicab (sum of per-axis mm) or
    chessboard (the largest per-axis mm); MONAI's ``distance_metric``."""

    EUCLIDEAN = "euclidean"
    CHESSBOARD = "chessboard"
    TAXICAB = "taxicab"


class AssdMode(Choice):
    """assd: pooled over both surfaces (MONAI symmetric=True, MetricsReloaded) or the mean of the two
    directed means (MedPy's assd; segloss's masd)."""

    POOLED = "pooled"
    MEAN = "mean"


class PooledMeans(Choice):
    """The classes the dataset-level means (pooled mIoU, mAcc, mDice, mFscore) average over:
    mmsegmentation's IoUMetric (each class whose value is defined; a 0/0 left out, as nanmean)
    or torchmetrics' macro average (each class in some PRED or GT, a 0/0 part counted as 0)."""

    MMSEG = "mmseg"
    TORCHMETRICS = "torchmetrics"


class MissingPolicy(Choice):
    """Folders: a ground truth without a prediction is an error, scored as empty, or skipped."""

    ERROR = "error"
    WORST = "worst"
    SKIP = "skip"


class Aggregate(Choice):
    """What the folder table shows: statistics over cases, the pooled (dataset-level) values, or both."""

    CASES = "cases"
    POOLED = "pooled"
    BOTH = "both"
