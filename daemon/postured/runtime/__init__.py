"""The running daemon: wires adapters to the detector inside one asyncio TaskGroup.

May import everything below it (``core``, ``wire``, ``ports``, ``config``, ``adapters``,
``dashboard``); must not import ``app`` (the command line) or ``analysis``.
"""
