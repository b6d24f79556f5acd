"""Request validation: every message names the field, the limit and the value given."""

from __future__ import annotations

import pytest

from orchestrator.synthesis import validate_request
from protos import relaytts_v1_pb2 as pb
from relaytts.errors import BundleMismatch, InvalidArgument, VoiceNotFound
from relaytts.settings import GatewaySettings

LIMITS = GatewaySettings(max_text_chars=5000)
IDS = ("full0123456789ab", "edge0123456789ab")


def check(**fields):
    return validate_request(pb.SynthesizeRequest(**({"text": "Hello."} | fields)), LIMITS, IDS)


def test_a_minimal_request_gets_the_defaults():
    job = check()
    assert job["language"] == "auto" and job["voice"] == "" and job["noise_scale"] == 0.5
    assert job["sampling"] == {} and job["cached_voice_hashes"] == []
    assert 0 <= job["seed"] < 2**31


def test_only_the_sampling_fields_set_travel_and_the_seed_is_the_jobs():
    job = check(sampling=pb.SamplingParams(top_k=1, max_new_tokens=100, seed=7), voice="default", language="zh")
    assert job["sampling"] == {"top_k": 1, "max_new_tokens": 100}
    assert job["seed"] == 7 and job["voice"] == "default" and job["language"] == "zh"


def test_oversized_text_names_the_limit_and_the_length():
    with pytest.raises(InvalidArgument, match=r"^`text` must be at most 5000 characters; given 7312$"):
        check(text="x" * 7312)


@pytest.mark.parametrize(("fields", "error", "message"), [
    ({"text": ""}, InvalidArgument, "`text` must be non-empty after stripping whitespace; given ''"),
    ({"text": " \n\t"}, InvalidArgument, "`text` must be non-empty"),
    ({"text": "…!? —。"}, InvalidArgument, "`text` has nothing to speak (no letter or digit); given '…!? —。'"),
    ({"language": "de"}, InvalidArgument, "`language` must be one of auto, zh, en, ja; given 'de'"),
    ({"voice": "bob"}, VoiceNotFound, "`voice` must be `default` or a registered voice id (32 hex characters); "
                                      "given 'bob'"),
    ({"sampling": pb.SamplingParams(top_p=0)}, InvalidArgument, "`top_p` must be in (0, 1]; given 0.0"),
    ({"sampling": pb.SamplingParams(repetition_penalty=0.5)}, InvalidArgument, "`repetition_penalty`"),
    ({"sampling": pb.SamplingParams(max_new_tokens=5000)}, InvalidArgument, "`max_new_tokens` must be in [1, 1500]"),
    ({"sampling": pb.SamplingParams(seed=2**63)}, InvalidArgument, "`seed` must be in [0, 2^63)"),
    ({"noise_scale": float("nan")}, InvalidArgument, "`noise_scale` must be in [0, 2]; given nan"),
    ({"cached_voice_hashes": ["h"] * 300}, InvalidArgument, "`cached_voice_hashes` must hold at most 256"),
    ({"bundle_id": "other"}, BundleMismatch, "`bundle_id` must be the served bundle full0123456789ab"),
])
def test_bad_fields_are_named(fields, error, message):
    with pytest.raises(error) as caught:
        check(**fields)
    assert message in caught.value.message
    assert type(caught.value) is error


def test_either_served_bundle_id_passes_and_none_is_checked_without_a_bundle():
    for bundle_id in ("", *IDS):
        check(bundle_id=bundle_id)
    validate_request(pb.SynthesizeRequest(text="hi", bundle_id="anything"), LIMITS, ())


def test_error_codes_are_the_contracts():
    assert InvalidArgument.code == "INVALID_ARGUMENT" and VoiceNotFound.code == "NOT_FOUND"
    assert BundleMismatch.code == "FAILED_PRECONDITION"
