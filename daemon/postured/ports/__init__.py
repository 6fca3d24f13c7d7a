"""The small interfaces between the runtime and its edges: sample sources and event sinks.

Only ``Protocol`` classes, the value types they carry and in-memory fakes belong here.
Depends on :mod:`postured.core` and :mod:`postured.wire` only; adapters implement these
interfaces, the runtime consumes them.
"""
