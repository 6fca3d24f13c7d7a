"""posture-reminder: a BLE posture sensor daemon that publishes alerts over MQTT."""

from __future__ import annotations

# The one place the version is written: pyproject.toml reads it from here
# ([tool.setuptools.dynamic]), so `postured --version` needs no package metadata lookup,
# which would cost the command line a good part of its start-up.
__version__ = "0.1.0"
