"""What every loss formula of one case reads: the sums, the classes, weights, parameters."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Optional

import numpy as np

from .sums import Sums
from .variants import LogSums


@dataclass(frozen=True)
class Ctx:
    sums: Sums  # columns: every class of the case (all K channels)
    idx: np.ndarray  # columns of the reported classes
    w_all: np.ndarray  # class weights per column
    params: dict[str, Any]
    sigmoid: bool  # a single sigmoid channel (binary prediction)
    # The variants' extra sums (losses/variants.py), when an option asks for them: ``log`` with
    # the losses' own log p (label smoothing), ``log_raw`` of the stored values as logits.
    log: Optional[LogSums] = None
    log_raw: Optional[LogSums] = None

    @property
    def w_rep(self) -> np.ndarray:
        return self.w_all[self.idx]

    def mean(self, values: np.ndarray) -> float:
        """A loss's value from its per-class values: the weighted mean, or with
        ``weights_scale`` the mean of w_c L_c over the defined classes (MONAI's weight)."""
        if self.params.get("weights_scale"):
            ok = np.isfinite(values)
            return float(np.mean(self.w_rep[ok] * values[ok])) if ok.any() else float("nan")
        return weighted_mean(values, self.w_rep)

    def absent_zero(self, values: np.ndarray) -> np.ndarray:
        """Per-class region losses with ``absent_zero``: 0 for a class absent from GT (SMP)."""
        if not self.params.get("absent_zero"):
            return values
        return np.where(self.sums.sg[self.idx] > 0, values, 0.0)


def weighted_mean(values: np.ndarray, weights: np.ndarray) -> float:
    """sum w v / sum w over defined (finite) values; NaN when nothing is defined."""
    ok = np.isfinite(values)
    wsum = float(np.sum(weights[ok]))
    if not ok.any() or wsum == 0.0:
        return float("nan")
    return float(np.sum(weights[ok] * values[ok]) / wsum)


def ratio(num: float, den: float) -> float:
    return float(num) / float(den) if den != 0 else float("nan")
