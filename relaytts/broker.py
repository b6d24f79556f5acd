"""What relaytts knows about its Celery broker's layout in Redis (for the backlog metrics).

Every task relaytts sends goes to one of ``QUEUES``. kombu's Redis transport keeps a queue as Redis
lists: the queue's own name for priority 0 and ``{queue}\\x06\\x16{step}`` for the other priority
steps (book segments go at ``BATCH_SEGMENT_PRIORITY``). Producers ``LPUSH`` and consumers ``BRPOP``,
so the oldest message of a list is its last element. Delivered but unacknowledged messages (running,
or prefetched) move to the ``unacked`` hash until the worker acknowledges them.

Every sender stamps its messages with ``ENQUEUED_AT_HEADER`` (``stamp_enqueue_time``) so the age of
the oldest waiting message can be read from the list itself: Celery's own headers carry no send time.
"""

from __future__ import annotations

import json
import time
from typing import Any, Final

from relaytts.jobs import BATCH_QUEUE, INTERACTIVE_QUEUE
from relaytts.voices import VOICES_QUEUE

__all__ = [
    "ENQUEUED_AT_HEADER",
    "QUEUES",
    "UNACKED_KEY",
    "enqueued_at",
    "priority_lists",
    "stamp_enqueue_time",
]

QUEUES: Final = (INTERACTIVE_QUEUE, BATCH_QUEUE, VOICES_QUEUE)
"""Every queue relaytts sends to."""
PRIORITY_STEPS: Final = (0, 3, 6, 9)
"""kombu's default ``priority_steps`` (relaytts does not change them)."""
PRIORITY_SEPARATOR: Final = "\x06\x16"
UNACKED_KEY: Final = "unacked"
"""kombu's hash of delivered, unacknowledged messages (all queues together)."""
ENQUEUED_AT_HEADER: Final = "relaytts_enqueued_at"
"""Message header: the sender's clock (unix seconds) when it published the message."""


def priority_lists(queue: str) -> tuple[str, ...]:
    """The Redis lists that hold ``queue``'s waiting messages, one per priority step."""
    return tuple(queue if step == 0 else f"{queue}{PRIORITY_SEPARATOR}{step}" for step in PRIORITY_STEPS)


def enqueued_at(raw_message: bytes | str | None) -> float | None:
    """The send time stamped on one raw kombu message from a queue list; None when absent or unreadable."""
    if raw_message is None:
        return None
    try:
        value = json.loads(raw_message)["headers"][ENQUEUED_AT_HEADER]
        return float(value)
    except (ValueError, KeyError, TypeError):
        return None  # a message from another producer, or not kombu's JSON envelope


def _stamp(headers: dict[str, Any] | None = None, **_: Any) -> None:  # noqa: ANN401 - Celery signal arguments
    if headers is not None:
        headers.setdefault(ENQUEUED_AT_HEADER, time.time())


def stamp_enqueue_time() -> None:
    """Stamp every task this process publishes with ``ENQUEUED_AT_HEADER`` (idempotent).

    ``before_task_publish`` receives the message headers before kombu serializes them, so one hook
    covers every sender (the gateway's and the book planner's) without touching each ``send_task``.
    """
    from celery import signals

    signals.before_task_publish.connect(_stamp, weak=False, dispatch_uid="relaytts-enqueued-at")
