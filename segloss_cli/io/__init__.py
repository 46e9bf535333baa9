"""Files -> Volume / Prediction. nibabel lives only here."""

from .atomic import write_atomic
from .readers import read_volume
from .prediction import load_gt, load_prediction

__all__ = ["read_volume", "load_gt", "load_prediction", "write_atomic"]
