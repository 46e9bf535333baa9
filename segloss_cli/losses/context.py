"""What every loss formula of one case reads: the sums, the classes, weights, parameters."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from .sums import Sums


@dataclass(frozen=True)
class Ctx:
    sums: Sums  # columns: every class of the case (all K channels)
    idx: np.ndarray  # columns of the reported classes
    w_all: np.ndarray  # class weights per column
    params: dict[str, Any]
    sigmoid: bool  # a single sigmoid channel (binary prediction)

    @property
    def w_rep(self) -> np.ndarray:
        return self.w_all[self.idx]


def weighted_mean(values: np.ndarray, weights: np.ndarray) -> float:
    """sum w v / sum w over defined (finite) values; NaN when nothing is defined."""
    ok = np.isfinite(values)
    wsum = float(np.sum(weights[ok]))
    if not ok.any() or wsum == 0.0:
        return float("nan")
    return float(np.sum(weights[ok] * values[ok]) / wsum)


def ratio(num: float, den: float) -> float:
    return float(num) / float(den) if den != 0 else float("nan")
