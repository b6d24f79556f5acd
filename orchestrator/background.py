"""Redis writes that must outlive the RPC that started them (a cut stream's cancel, an abandoned
registration): run as tasks of their own, kept referenced, awaited when the gateway stops."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable

__all__ = ["BackgroundWrites", "finish_or_cancel"]

log = logging.getLogger(__name__)


class BackgroundWrites:
    """``start(work)`` from a handler that is being cancelled; ``await wait_closed()`` after ``server.stop``."""

    def __init__(self) -> None:
        self.tasks: set[asyncio.Task] = set()

    def start(self, work: Awaitable[object]) -> None:
        task = asyncio.ensure_future(work)
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)
        task.add_done_callback(_log_failure)

    async def wait_closed(self, timeout: float = 5.0) -> None:
        await finish_or_cancel(set(self.tasks), timeout)


async def finish_or_cancel(tasks: set[asyncio.Task], timeout: float) -> None:
    """Let ``tasks`` finish within ``timeout``; cancel the rest and let them unwind while the loop still runs
    (a Redis call left suspended when the loop closes cannot clean up its connection)."""
    if not tasks:
        return
    _, pending = await asyncio.wait(tasks, timeout=timeout)
    for task in pending:
        task.cancel()
    if pending:
        await asyncio.wait(pending, timeout=1.0)


def _log_failure(task: asyncio.Task) -> None:
    if not task.cancelled() and task.exception() is not None:
        log.error("background Redis write failed: %r", task.exception())
