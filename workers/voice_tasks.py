"""The worker task ``relaytts.register_voice(task_json)``: condition one clip, store the voice atomically.

It implements docs/protocol.md §5.2. A delivery claims the registration (``CLAIM_REGISTRATION``: a
decided one is left alone, so a redelivery after the commit does nothing), reads the clip (the upload
the gateway parked in the registration hash, or for ``stored_audio`` the voice's own clip), runs
``Conditioner.condition`` and writes the whole voice plus the ``done`` entry in one Lua script. Until
that script runs nothing of the voice exists: a worker killed mid-conditioning leaves nothing behind,
and Celery redelivers the task (late ack, reject on worker lost), whose next delivery starts again.

A clip or transcript the worker refuses (``RelayError``), and an unexpected failure, decide the
registration as failed with the gRPC code and message the gateway answers with. A Redis failure is
retried with backoff, like ``relaytts.synthesize``. A registration delivered ``MAX_DELIVERIES`` times
(a clip that kills its worker every time) is failed instead of run again.
"""

from __future__ import annotations

import logging
import time
from typing import TYPE_CHECKING, Final

import redis

from relaytts import keys
from relaytts.errors import RelayError, VoiceNotFound
from relaytts.voices import (
    AUDIO_FIELD,
    CLAIM_REGISTRATION,
    REGISTER_VOICE_TASK,
    VoiceTask,
    voice_not_found_message,
)
from workers.metrics import worker_metrics
from workers.tasks import REDIS_RETRIES, redis_retry
from workers.voice_store import commit_voice, decide_registration, record_fields

if TYPE_CHECKING:
    from celery import Task

    from relaytts.settings import Settings
    from workers.app import Runtime, WorkerApp
    from workers.conditioning import Conditioner

__all__ = ["MAX_DELIVERIES", "RegistrationRun", "conditioner_for", "register"]

log = logging.getLogger(__name__)

MAX_DELIVERIES: Final = 3
"""Deliveries a registration may start; the next one fails it instead of conditioning again."""

_conditioners: dict[int, tuple[Runtime, Conditioner]] = {}


def conditioner_for(runtime: Runtime, settings: Settings) -> Conditioner:
    """This process's conditioner: the hubert, prompt extractor and style encoder sessions, built on first use
    (after the fork, like every session) and kept; ``BundleError`` for a bundle that cannot register voices."""
    from bundle import SessionOptions
    from workers.conditioning import Conditioner

    held = _conditioners.get(id(runtime))
    if held is not None and held[0] is runtime:
        return held[1]
    Conditioner.check_bundle(runtime.bundle)
    options = SessionOptions(device=settings.worker.device, intra_op_threads=settings.worker.threads)
    started = time.perf_counter()
    conditioner = Conditioner.load(runtime.bundle, runtime.frontend, options)
    log.info("voice conditioning sessions loaded in %.1f s", time.perf_counter() - started)
    _conditioners[id(runtime)] = (runtime, conditioner)
    return conditioner


class RegistrationRun:
    """One delivery of one registration (``run()``)."""

    def __init__(self, task: VoiceTask, runtime: Runtime, settings: Settings) -> None:
        self.task = task
        self.runtime = runtime
        self.settings = settings
        self.ttl = settings.redis.stream_ttl_seconds

    def run(self) -> None:
        task, client = self.task, self.runtime.redis
        delivery = int(client.eval(CLAIM_REGISTRATION, 2, keys.voice_registration_result_key(task.registration_id),
                                   keys.voice_registration_key(task.registration_id)))
        if delivery == 0:
            log.info("registration %s already decided; delivery does nothing", task.registration_id)
            return
        if delivery < 0:
            self._fail("UNAVAILABLE", "the registration expired before a worker took it; register the voice again")
            return
        if delivery > 1:
            worker_metrics().count_error("redelivered")
            log.warning("registration %s: delivery %d conditions the clip again", task.registration_id, delivery)
        if delivery > MAX_DELIVERIES:
            self._fail("INTERNAL", f"the worker was lost {delivery - 1} times conditioning this clip; not trying again")
            return
        try:
            self._condition_and_commit()
        except (redis.ConnectionError, redis.TimeoutError):
            raise  # nothing can be written: the task retries (see register)
        except RelayError as exc:
            log.warning("registration %s (voice %s) refused: %s", task.registration_id, task.voice_id, exc)
            worker_metrics().count_error(exc)
            self._fail(exc.code, exc.message)
        except Exception as exc:
            log.exception("registration %s failed unexpectedly", task.registration_id)
            worker_metrics().count_error(exc)
            self._fail("INTERNAL", f"internal error: {type(exc).__name__}: {exc}")

    def _condition_and_commit(self) -> None:
        task, runtime = self.task, self.runtime
        audio = self._audio()
        started = time.perf_counter()
        conditioning = conditioner_for(runtime, self.settings).condition(audio, task.transcript, task.language)
        worker_metrics().observe_stage("voice_conditioning", time.perf_counter() - started)
        fields = record_fields(task, conditioning, runtime.bundle.manifest, audio)
        outcome = commit_voice(runtime.redis, task, fields, self.ttl)
        stages = ", ".join(f"{k} {v * 1000:.0f} ms" for k, v in conditioning.timings.items())
        if outcome == 1:
            log.info("voice %s (tenant %s) %s in %.0f ms: %.2f s clip, %d prompt tokens (%s)", task.voice_id,
                     task.tenant, "registered" if task.mode == "create" else "recomputed",
                     (time.perf_counter() - started) * 1000, conditioning.clip.seconds,
                     len(conditioning.prompt_tokens), stages)
        elif outcome == 0:
            log.info("registration %s was decided meanwhile (abandoned by the gateway?); voice %s not written",
                     task.registration_id, task.voice_id)
        else:
            log.info("voice %s was deleted while it was recomputed; nothing written", task.voice_id)

    def _audio(self) -> bytes:
        task, client = self.task, self.runtime.redis
        if task.stored_audio:
            audio = client.hget(keys.voice_key(task.tenant, task.voice_id), AUDIO_FIELD)
            if audio is None:
                raise VoiceNotFound(voice_not_found_message(task.voice_id))
            return audio
        audio = client.hget(keys.voice_registration_key(task.registration_id), AUDIO_FIELD)
        if audio is None:
            raise RelayError("the uploaded clip is missing from the registration (expired?); register again")
        return audio

    def _fail(self, code: str, message: str) -> None:
        decide_registration(self.runtime.redis, self.task.registration_id, self.ttl, code, message)


def register(app: WorkerApp) -> Task:
    """Register ``relaytts.register_voice`` on ``app``."""

    @app.task(name=REGISTER_VOICE_TASK, bind=True, acks_late=True, reject_on_worker_lost=True, ignore_result=True,
              max_retries=REDIS_RETRIES)
    def register_voice(task: Task, task_json: str) -> None:
        """Condition one clip (a ``VoiceTask`` as JSON) and store the voice, or record why not."""
        payload = VoiceTask.from_json(task_json)
        try:
            RegistrationRun(payload, app.runtime, app.settings).run()
        except (redis.ConnectionError, redis.TimeoutError) as exc:
            raise redis_retry(task, exc, f"registration {payload.registration_id}") from exc

    return register_voice
