"""One settings object: defaults, RELAYTTS_* variables, overrides; unknown variables are errors."""

from __future__ import annotations

import pytest

from relaytts.errors import InvalidArgument
from relaytts.jobs import JobStatus, SynthesisJob
from relaytts.settings import Settings, describe_settings, load_settings


def test_defaults_env_then_overrides():
    settings = load_settings({"RELAYTTS_REDIS_URL": "redis://h:1/2", "RELAYTTS_GATEWAY_PORT": "7000",
                              "RELAYTTS_WORKER_THREADS": "2", "PATH": "/bin"},
                             {"gateway.port": 7001, "worker.bundle": None})
    assert settings.redis.url == "redis://h:1/2"
    assert settings.gateway.port == 7001  # a flag beats the environment
    assert settings.worker.threads == 2 and settings.worker.bundle == ""
    assert load_settings({}) == Settings()


def test_unknown_variable_names_the_closest_one():
    with pytest.raises(InvalidArgument, match="unknown setting RELAYTTS_REDIS_ULR; did you mean RELAYTTS_REDIS_URL"):
        load_settings({"RELAYTTS_REDIS_ULR": "redis://x"})


def test_bad_value_names_the_variable():
    with pytest.raises(InvalidArgument, match="RELAYTTS_GATEWAY_PORT.*int.*'abc'"):
        load_settings({"RELAYTTS_GATEWAY_PORT": "abc"})


def test_startup_description_masks_secrets():
    settings = load_settings({"RELAYTTS_EDGE_API_KEY": "s3cret", "RELAYTTS_WORKER_PRECISION": "int8"})
    shown = dict(describe_settings(settings))
    assert shown == {"RELAYTTS_WORKER_PRECISION": "int8", "RELAYTTS_EDGE_API_KEY": "***"}


def test_job_payload_round_trips_as_json():
    job = SynthesisJob(job_id="j1", tenant="t", text="你好 world", sampling={"top_k": 5}, seed=3,
                       cached_voice_hashes=["ab"], enqueued_at=1.5)
    assert SynthesisJob.from_json(job.to_json()) == job
    assert "你好" in job.to_json()  # JSON, readable, not pickle


def test_job_status_maps_to_the_proto_enum():
    from protos import relaytts_v1_pb2 as pb

    assert JobStatus.DONE.to_pb() == pb.JOB_STATUS_DONE
    assert {s for s in JobStatus if s.finished} == {JobStatus.DONE, JobStatus.CANCELLED, JobStatus.FAILED}


def test_settings_survive_the_trip_through_a_child_environment():
    from relaytts.settings import settings_to_env

    settings = load_settings({}, {"gateway.resume_grace_seconds": 0.25, "worker.concurrency": 3,
                                  "redis.url": "redis://127.0.0.1:1/0"})
    assert load_settings(settings_to_env(settings)) == settings
