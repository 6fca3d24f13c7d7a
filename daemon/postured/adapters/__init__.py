"""The edges: BLE, MQTT, the simulator, files on disk and systemd (docs/interfaces.md).

Each adapter implements an interface from :mod:`postured.ports` (or a small ``Protocol`` of
its own) and wraps its library's errors into :mod:`postured.errors` with advice. Adapters
may import ``core``, ``wire``, ``ports`` and ``config``; never ``runtime``, ``app`` or
``analysis``. :mod:`postured.adapters.sim` is the one place the daemon imports
``firmware_sim``.
"""
