"""Entry points: the ``postured`` command line, the demo, the embedded broker, logging set-up.

The top of the dependency graph: these modules may import any other room; nothing in
``postured`` imports them.
"""
