"""Offline tools: recordings, replay, evaluation on simulated and real data, plots.

Runs the pure core over files, never a live sensor. May import ``core``, ``wire``,
``config`` and the simulator seam :mod:`postured.adapters.sim`; nothing in the daemon's
runtime imports it.
"""
