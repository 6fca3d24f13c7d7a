"""Offline tools: recordings, replay, evaluation on simulated and real data, plots.

Runs the pure core over files, never a live sensor. May import ``core``, ``wire``,
``config``, the simulator seam :mod:`postured.adapters.sim` and the history database
(:mod:`postured.adapters.history`); nothing in the daemon's
runtime imports it.
"""
