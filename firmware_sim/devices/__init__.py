"""Simulated sensors of other makers, each speaking its own documented protocol.

Sans-I/O like the rest of ``firmware_sim``: bytes in, bytes out; the BlueZ double serves
them. Each module imports only :mod:`postured.wire` and :mod:`postured.errors`.
"""
