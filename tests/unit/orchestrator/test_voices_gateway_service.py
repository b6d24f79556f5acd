"""The Voices service's side of docs/protocol.md §5 against a real Redis; the test stands in for the worker
(a unit test of the gateway: real-process voice registration is in tests/integration/test_voices.py).

The gateway runs in-process (``tests.unit.orchestrator.test_gateway_service.Gateway``). Where a worker would run,
the test reads the Celery message the gateway put on the ``voices`` list and writes what §5.2 says.
"""

from __future__ import annotations

import base64
import json
import threading
from dataclasses import replace

import grpc
import pytest
import redis

from protos import relaytts_v1_pb2 as pb
from protos import relaytts_v1_pb2_grpc as pb_grpc
from relaytts import keys
from relaytts.settings import GatewaySettings, MetricsSettings, RedisSettings, Settings
from relaytts.voices import COMMIT_VOICE, VOICES_QUEUE, VoiceTask
from tests.unit.orchestrator.test_gateway_service import Gateway, wait_for


@pytest.fixture
def gateway(redis_url):
    settings = Settings(redis=RedisSettings(url=redis_url, stream_ttl_seconds=600),
                        gateway=replace(GatewaySettings(host="127.0.0.1", port=0), queue_timeout_seconds=1.0),
                        metrics=MetricsSettings(gateway_port=0))
    running = Gateway(settings)
    yield running, pb_grpc.VoicesStub(running.channel)
    running.stop()


@pytest.fixture
def r(redis_url):
    client = redis.Redis.from_url(redis_url)
    yield client
    client.close()


def queued_tasks(r: redis.Redis) -> list[VoiceTask]:
    out = []
    for raw in r.lrange(VOICES_QUEUE, 0, -1):
        envelope = json.loads(raw)
        assert envelope["headers"]["task"] == "relaytts.register_voice"
        args, _kwargs, _embed = json.loads(base64.b64decode(envelope["body"]))
        out.append(VoiceTask.from_json(args[0]))
    return out


def register(stub, audio: bytes = b"RIFF" + b"\0" * 5000, **kwargs):
    requests = [pb.RegisterVoiceRequest(metadata=pb.VoiceMetadata(transcript="Hello there.", language="en")),
                pb.RegisterVoiceRequest(audio=audio)]
    return stub.RegisterVoice(iter(requests), timeout=30, **kwargs)


def late_commit(r: redis.Redis, task: VoiceTask) -> int:
    """A worker that finishes after the gateway stopped waiting (COMMIT_VOICE with a minimal record)."""
    return int(r.eval(COMMIT_VOICE, 4, keys.voice_registration_result_key(task.registration_id),
                      keys.voice_key(task.tenant, task.voice_id), keys.tenant_voices_key(task.tenant),
                      keys.voice_registration_key(task.registration_id), 600, "create", task.voice_id, 1.0,
                      "voice_id", task.voice_id))


def test_a_registration_nobody_conditions_is_abandoned_and_a_late_worker_writes_nothing(gateway, r):
    _, stub = gateway
    with pytest.raises(grpc.RpcError) as caught:
        register(stub)
    assert caught.value.code() == grpc.StatusCode.UNAVAILABLE
    assert "no worker conditioned the clip within 1 s" in caught.value.details()
    (task,) = queued_tasks(r)  # JSON by name on `voices`; the clip itself waits in Redis, not in the message
    assert task.mode == "create" and task.tenant == "local" and task.transcript == "Hello there."
    outcome = r.xrange(keys.voice_registration_result_key(task.registration_id))
    assert [fields[b"status"] for _, fields in outcome] == [b"abandoned"]
    assert late_commit(r, task) == 0
    assert not r.exists(keys.voice_key("local", task.voice_id)) and not r.zcard(keys.tenant_voices_key("local"))


def test_the_worker_outcome_is_the_answer(gateway, r):
    _, stub = gateway
    answers = {}
    caller = threading.Thread(target=lambda: answers.setdefault("error", _code(lambda: register(stub))))
    caller.start()
    (task,) = wait_for(lambda: queued_tasks(r), "the registration task")
    assert r.hget(keys.voice_registration_key(task.registration_id), "audio") == b"RIFF" + b"\0" * 5000
    r.xadd(keys.voice_registration_result_key(task.registration_id),
           {"status": "failed", "code": "INVALID_ARGUMENT", "error": "`audio` is silent: 0.00 s above -50 dBFS"})
    caller.join(10)
    assert answers["error"] == (grpc.StatusCode.INVALID_ARGUMENT, "`audio` is silent: 0.00 s above -50 dBFS")


def test_a_caller_that_goes_away_abandons_its_registration(gateway, r):
    _, stub = gateway
    call = stub.RegisterVoice.future(iter([
        pb.RegisterVoiceRequest(metadata=pb.VoiceMetadata(transcript="Hello there.")),
        pb.RegisterVoiceRequest(audio=b"RIFF" + b"\0" * 100)]), timeout=30)
    (task,) = wait_for(lambda: queued_tasks(r), "the registration task")
    call.cancel()
    wait_for(lambda: r.exists(keys.voice_registration_result_key(task.registration_id)), "the abandon")
    assert late_commit(r, task) == 0 and not r.exists(keys.voice_key("local", task.voice_id))


def _code(call) -> tuple[grpc.StatusCode, str]:
    try:
        call()
    except grpc.RpcError as exc:
        return exc.code(), exc.details()
    return grpc.StatusCode.OK, ""
