"""The gateway dies before the first chunk: the client may not have learnt the job id, but its Synthesize
carries an idempotency key, so its retry on the restarted gateway re-attaches to the same job (or resumes
it by id): one job, and the audio of an undisturbed run."""

from __future__ import annotations

import os
import signal
import threading
import time

import numpy as np

from edge_client import Client
from tests.chaos.conftest import (
    TEXT,
    job_chunks,
    job_keys,
    new_job,
    params,
    record,
    speak,
    unfinished_jobs,
    wait_for,
)


def worker_child(system) -> int:  # noqa: ANN001
    from tests.chaos.conftest import descendants

    (child,) = descendants(system.child("worker").process.pid)
    return child


def test_gateway_killed_before_the_first_chunk_one_job_same_audio(system, tmp_path):
    with Client(system.gateway_address, cache_dir=tmp_path / "edge") as client:
        reference = speak(client, seed=9)
        known = job_keys(system)
        worker = worker_child(system)
        drill: dict[str, object] = {}

        def kill_gateway() -> None:
            try:
                drill["job"] = wait_for(lambda: new_job(system, known), "the job to be created", 60)
                system.kill("gateway")  # no chunk yet: the worker is frozen
                killed = time.monotonic()
                system.respawn("gateway")
                drill["back"] = time.monotonic() - killed
            finally:
                os.kill(worker, signal.SIGCONT)

        os.kill(worker, signal.SIGSTOP)
        killer = threading.Thread(target=kill_gateway, daemon=True)
        killer.start()
        try:
            audio = np.concatenate([c.samples for c in client.synthesize(TEXT, sampling=params(9), seed=9)])
        finally:
            killer.join(90)
        assert "back" in drill, drill
        fresh = {k for k in job_keys(system) - known if k.count(b":") == 2}  # job hashes, not their streams
        assert fresh == {f"relaytts:job:{drill['job']}".encode()}, "a second job was started"
        assert client.last_job_id == drill["job"]
        assert job_chunks(system, str(drill["job"]))[0].seq == 1
        np.testing.assert_allclose(audio, reference, atol=1e-5)
        assert unfinished_jobs(system) == {}
        record(
            "gateway SIGKILL before the first chunk",
            f"{drill['back']:.1f} s until a new gateway served",
            "a pause; the same job continued (idempotency key / Resume)",
            "none: one job, identical audio",
        )
