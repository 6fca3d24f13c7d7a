"""The pure detection core: arrays and timestamps in, events out (docs/detection.md).

Signal processing, labelling, the state machine, alert policy, statistics and stretch
choice. No I/O, no asyncio, no clock of its own (times are passed in); imports only numpy,
the standard library, :mod:`postured.errors` and :mod:`postured.config.settings`.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from postured.core.calibration import Calibration
    from postured.core.detector import Detector

__all__ = ["Calibration", "Detector"]

#: Imported on first use, so that the configuration (which declares ``core.config``) and
#: the command line do not load numpy with the package.
_LAZY = {"Calibration": "postured.core.calibration", "Detector": "postured.core.detector"}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
