"""The local web dashboard: MQTT topics in, a live page out (docs/dashboard.md).

A feature of its own beside the runtime: ``model`` and ``payloads`` are pure, ``server``
(aiohttp) and ``mqtt_bus`` are its edges, ``cli`` its ``postured dashboard`` command. It may
import ``core``, ``wire``, ``ports``, ``config`` and ``adapters``; never ``runtime`` or
``app``.
"""
