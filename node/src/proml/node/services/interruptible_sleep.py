"""A pause that ends early when the work is told to stop: every loop of the node's two processes waits
with it, so that SIGTERM (or the node's shutdown) is answered at once, not after the interval."""

from __future__ import annotations

import asyncio
import contextlib


async def wait_or_stop(stop: asyncio.Event, seconds: float) -> None:
    """Sleep `seconds`, or less if `stop` is set meanwhile."""
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(stop.wait(), seconds)
