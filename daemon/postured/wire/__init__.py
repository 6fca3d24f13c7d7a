"""The sensor's wire format: packet codec and stream reassembly (docs/protocol.md).

Pure: bytes and integers in, samples and typed results out. Shared by the daemon and by
``firmware_sim``, which may import only this package and :mod:`postured.errors` from
``postured``. Must not import anything else from ``postured``, nor do any I/O.
"""
