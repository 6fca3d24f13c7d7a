"""Simulated devices of each kind the daemon can read: their GATT behaviour and bytes."""
