"""The Voices servicer's cheap checks: field validation, the worker's error codes, bundles that cannot register."""

from __future__ import annotations

import pytest

from orchestrator.metrics import GatewayMetrics
from orchestrator.models import EdgeFiles
from orchestrator.voices import (
    VoiceSender,
    VoicesServicer,
    error_for,
    validate_language,
    validate_name,
    validate_transcript,
)
from protos import relaytts_v1_pb2 as pb
from relaytts.errors import BundleError, InvalidArgument, RelayError, Unavailable, VoiceNotFound
from relaytts.settings import GatewaySettings
from relaytts.voices import VoiceTask


def test_fields_are_checked_with_the_limit_and_the_value():
    assert validate_language("") == "auto" and validate_language("ja") == "ja"
    with pytest.raises(InvalidArgument, match="`language` must be one of auto, zh, en, ja; given 'yue'"):
        validate_language("yue")
    assert validate_transcript("  Hello.  ") == "Hello."
    with pytest.raises(InvalidArgument, match="`transcript` must be non-empty"):
        validate_transcript(" \n")
    with pytest.raises(InvalidArgument, match="`transcript` must be at most 1000 characters; given 1001"):
        validate_transcript("a" * 1001)
    with pytest.raises(InvalidArgument, match="`name` must be at most 128 characters; given 129"):
        validate_name("n" * 129)


def test_worker_outcome_codes_become_the_same_error_classes():
    assert type(error_for("INVALID_ARGUMENT", "bad clip")) is InvalidArgument
    assert type(error_for("NOT_FOUND", "gone")) is VoiceNotFound
    assert type(error_for("FAILED_PRECONDITION", "v2Pro")) is BundleError
    assert type(error_for("UNAVAILABLE", "expired")) is Unavailable
    unknown = error_for("INTERNAL", "")
    assert type(unknown) is RelayError and unknown.code == "INTERNAL" and "no reason" in unknown.message


async def _never(task) -> None:  # noqa: ANN001
    raise AssertionError("nothing may be enqueued")


@pytest.mark.parametrize("version", ["v2Pro", "v2ProPlus"])
def test_a_gateway_serving_a_pro_bundle_checks_the_upload_size(version):
    # Pro bundles register voices now (with their sv graph); a worker refuses one exported without --sv.
    edge = EdgeFiles(bundle_id="b", edge_bundle_id="e", info=pb.ModelInfo(bundle_id="b", model_version=version),
                     manifest_bytes=b"{}", paths={})
    servicer = VoicesServicer(GatewaySettings(), store=None, enqueue=_never, metrics=GatewayMetrics(), edge=edge)
    assert not hasattr(servicer, "_check_bundle_registers")
    with pytest.raises(InvalidArgument, match="`audio` must be at most 16777216 bytes; given 16777217"):
        servicer._check_size(16777217)


def test_the_sender_names_the_task_and_queue():
    sent = {}

    class App:
        def send_task(self, name, **kwargs):
            sent.update(kwargs, name=name)

    task = VoiceTask("r" * 32, "t", "v" * 32, "create", "en", "Hi.", "n")
    VoiceSender(App())._send(task)
    assert sent["name"] == "relaytts.register_voice" and sent["queue"] == "voices" and sent["task_id"] == "r" * 32
    assert VoiceTask.from_json(sent["args"][0]) == task and sent["serializer"] == "json"
