"""The pure detection core: arrays and timestamps in, events out (docs/detection.md)."""

from postured.core.calibration import Calibration
from postured.core.detector import Detector

__all__ = ["Calibration", "Detector"]
