"""Enqueue jobs by task name (docs/protocol.md §1.4). The gateway never imports ``workers``.

The Celery app here only *sends*: JSON serializer, the same Redis broker URL as the workers, no
result backend. ``send_task`` is blocking (kombu publishes synchronously), so it runs in a small
thread pool and the event loop keeps relaying other streams meanwhile.
"""

from __future__ import annotations

import asyncio
import logging
from concurrent.futures import ThreadPoolExecutor
from typing import Final

from celery import Celery

from relaytts.broker import stamp_enqueue_time
from relaytts.errors import Unavailable
from relaytts.jobs import INTERACTIVE_QUEUE, SYNTHESIZE_TASK, VISIBILITY_TIMEOUT_SECONDS, SynthesisJob

__all__ = ["CeleryEnqueuer", "make_celery_app"]

log = logging.getLogger(__name__)

SEND_THREADS: Final = 4
"""Threads publishing to the broker at once (kombu's producer pool is shared between them)."""
PUBLISH_RETRY: Final = {"max_retries": 2, "interval_start": 0.0, "interval_step": 0.5, "interval_max": 1.0}
"""Broker publish retries: about 1.5 s in all, then the request fails with UNAVAILABLE."""


def make_celery_app(broker_url: str) -> Celery:
    """A send-only Celery app on ``broker_url`` (JSON only, never pickle: tenant text is in the payload)."""
    app = Celery("relaytts-gateway", broker=broker_url, set_as_current=False)
    app.conf.update(
        task_serializer="json",
        accept_content=["json"],
        result_backend=None,
        task_ignore_result=True,
        task_publish_retry=True,
        task_publish_retry_policy=PUBLISH_RETRY,
        broker_connection_timeout=5.0,
        # every app on the broker must agree, or the shortest visibility timeout wins
        broker_transport_options={"visibility_timeout": VISIBILITY_TIMEOUT_SECONDS},
        task_send_sent_event=True,  # lets celery-exporter / Flower see queued tasks
    )
    stamp_enqueue_time()  # the queue-age metric reads the send time off the oldest message
    return app


class CeleryEnqueuer:
    """``await enqueue(job)`` sends ``relaytts.synthesize(job_json)`` to ``t2s.interactive``."""

    def __init__(self, app: Celery) -> None:
        self.app = app
        self._executor = ThreadPoolExecutor(max_workers=SEND_THREADS, thread_name_prefix="relaytts-send")

    @classmethod
    def from_url(cls, broker_url: str) -> CeleryEnqueuer:
        return cls(make_celery_app(broker_url))

    def _send(self, job: SynthesisJob) -> None:
        self.app.send_task(SYNTHESIZE_TASK, args=[job.to_json()], queue=INTERACTIVE_QUEUE, serializer="json",
                           task_id=job.job_id)

    async def enqueue(self, job: SynthesisJob) -> None:
        loop = asyncio.get_running_loop()
        try:
            await loop.run_in_executor(self._executor, self._send, job)
        except Exception as exc:  # kombu/redis connection errors come in many classes
            log.warning("could not enqueue job %s: %s: %s", job.job_id, type(exc).__name__, exc)
            raise Unavailable(f"could not enqueue the job: the broker is unreachable ({type(exc).__name__})") from exc

    def close(self) -> None:
        self._executor.shutdown(wait=False, cancel_futures=True)
        self.app.close()
