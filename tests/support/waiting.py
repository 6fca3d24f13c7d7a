"""Waiting in tests: until a condition holds, with a deadline, never a fixed sleep.

Prefer awaiting an event the code under test offers; these poll state it owns when it
offers none, and fail with the condition's text when the deadline passes.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

POLL_S = 0.01  # short enough not to slow a test, long enough not to spin a core


async def until(pred: Callable[[], object], within: float = 10.0, what: str = "") -> None:
    """Wait until ``pred()`` is true; raise TimeoutError after ``within`` seconds."""
    try:
        async with asyncio.timeout(within):
            # Polls state owned by the code under test, which offers no event to wait on.
            while not pred():  # noqa: ASYNC110
                await asyncio.sleep(POLL_S)
    except TimeoutError:
        raise TimeoutError(f"not true within {within:g} s: {what or pred}") from None


def until_sync(pred: Callable[[], object], within: float = 10.0, what: str = "") -> None:
    """:func:`until` for tests outside an event loop (subprocesses, threads)."""
    deadline = time.monotonic() + within
    while not pred():
        if time.monotonic() > deadline:
            raise TimeoutError(f"not true within {within:g} s: {what or pred}")
        time.sleep(POLL_S)


# How long a test listens to prove that something does NOT arrive, once every message it
# expects has been awaited: absence offers no event, so this is the one fixed wait.
QUIET_S = 0.3


async def quiet(within: float = QUIET_S) -> None:
    """Let the peers run for ``within`` seconds before a check that nothing more came."""
    await asyncio.sleep(within)
