"""The pure detection core: arrays and timestamps in, events out (docs/detection.md).

Signal processing, labelling, the state machine, alert policy, statistics and stretch
choice. No I/O, no asyncio, no clock of its own (times are passed in); imports only numpy,
the standard library, :mod:`postured.errors` and :mod:`postured.config.settings`.
"""

from postured.core.calibration import Calibration
from postured.core.detector import Detector

__all__ = ["Calibration", "Detector"]
