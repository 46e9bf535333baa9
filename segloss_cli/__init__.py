"""segloss: evaluate segmentations: every loss and metric, per class."""

__version__ = "0.1.0"
