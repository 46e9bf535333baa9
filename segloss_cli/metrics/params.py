"""Parameters of the surface-distance metrics, checked once when the record is made."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Optional

from ..choices import AssdMode, DistanceMetric, HdMode, SurfaceModel
from ..errors import UsageError


@dataclass(frozen=True)
class SurfaceParams:
    """How surface distances reduce to hd95 and nsd, and the worst distance of an empty class.

    ``hd_percentile``: the percentile of hd95 (key stays hd95). ``hd_mode``: ``max`` of the two
    directed percentiles (MONAI, MetricsReloaded) or ``pooled`` (MedPy). ``nsd_tolerance_mm``:
    the default NSD tolerance; ``nsd_tolerance_per_label``: label -> tolerance in mm.
    ``worst_distance_mm``: the distance of a missed or hallucinated class under the ``worst``
    empty policy (None: the diagonal of the GT field of view). ``surface``: the surface model,
    ``voxel`` (boundary voxels) or ``surfel`` (DeepMind's area-weighted voxel-corner surfels).
    ``distance_metric``: ``euclidean``, ``taxicab`` or ``chessboard`` distances between surface
    elements, each axis's step weighted by its spacing (kernels/cdt.py).
    """

    hd_percentile: float = 95.0
    hd_mode: HdMode = HdMode.MAX
    nsd_tolerance_mm: float = 1.0
    nsd_tolerance_per_label: Mapping[int, float] = field(default_factory=dict)
    worst_distance_mm: Optional[float] = None
    # boundary_iou's band: round(ratio x image diagonal) voxels (the reference's dilation_ratio)
    boundary_iou_ratio: float = 0.02
    # assd: pooled over both surfaces (default) or the mean of the two directed means (MedPy)
    assd_mode: AssdMode = AssdMode.POOLED
    surface: SurfaceModel = SurfaceModel.VOXEL
    distance_metric: DistanceMetric = DistanceMetric.EUCLIDEAN

    def __post_init__(self) -> None:
        try:
            object.__setattr__(self, "hd_mode", HdMode.parse(self.hd_mode, "@hd_mode"))
            object.__setattr__(self, "assd_mode", AssdMode.parse(self.assd_mode, "@assd_mode"))
            object.__setattr__(self, "surface", SurfaceModel.parse(self.surface, "@surface"))
            metric = DistanceMetric.parse(self.distance_metric, "@distance_metric")
            object.__setattr__(self, "distance_metric", metric)
        except ValueError as exc:
            raise UsageError(str(exc)) from None
        p = float(self.hd_percentile)
        if not (math.isfinite(p) and 0 <= p <= 100):
            raise UsageError(f"@hd_percentile must be between 0 and 100, not {self.hd_percentile}")
        object.__setattr__(self, "hd_percentile", p)
        for label, mm in [(None, self.nsd_tolerance_mm), *self.nsd_tolerance_per_label.items()]:
            if not (math.isfinite(mm) and mm >= 0):
                where = "" if label is None else f" of label {label}"
                raise UsageError(
                    f"@nsd_tolerance_mm{where}: tolerance must be a non-negative number of mm, not '{mm:g}'"
                )
        r = float(self.boundary_iou_ratio)
        if not (math.isfinite(r) and 0 < r <= 1):
            raise UsageError(f"@boundary_iou_ratio must be a number in (0, 1], not {self.boundary_iou_ratio}")
        object.__setattr__(self, "boundary_iou_ratio", r)
        w = self.worst_distance_mm
        if w is not None and not (math.isfinite(w) and w > 0):
            raise UsageError(f"@worst_distance_mm must be a positive number of mm, not {w}")

    def nsd_tolerance(self, label: int) -> float:
        return float(self.nsd_tolerance_per_label.get(label, self.nsd_tolerance_mm))
