"""Configuration: the TOML file read once into frozen, slotted dataclasses (docs/service.md).

``loader`` reads and validates the file, ``settings`` and ``sensors`` hold the typed
sections. Pure apart from reading the file it is given; must not import adapters, the
runtime or entry points.
"""
