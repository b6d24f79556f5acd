"""Worker host lost: SIGKILL of the Celery *parent* mid-stream (OOM kill, node loss, pod eviction).

The child running the job is frozen first (SIGSTOP), so the drill does not depend on what the child does
without its parent (Celery's prefork children are sent SIGKILL when their parent dies; a child that lived
on would find its next publish refused by the epoch fence): the lease lapses, a gateway's reaper fences
the epoch and requeues the job, a live worker continues it from the resume point, and the client's stream
goes on to the same audio as an undisturbed run.
"""

from __future__ import annotations

import contextlib
import os
import signal
import threading
import time

import numpy as np

from edge_client import Client
from protos import relaytts_v1_pb2 as pb
from relaytts import keys
from tests.chaos.conftest import (
    TEXT,
    alive,
    job_chunks,
    job_keys,
    new_job,
    params,
    record,
    speak,
    store,
    unfinished_jobs,
    wait_for,
)

RECOVERY_DEADLINE_SECONDS = 10.0
"""Issue 15's target: from the kill to the first chunk of the new epoch."""


def test_worker_parent_sigkill_mid_stream_resumes_within_seconds_to_identical_audio(system, tmp_path):
    with Client(system.gateway_address, cache_dir=tmp_path / "edge") as client:
        reference = speak(client, seed=5)
        spare = system.spawn_worker("spare")  # the live worker on "another host"
        known = job_keys(system)
        drill: dict[str, object] = {}

        def kill_the_owner() -> None:
            job = wait_for(lambda: new_job(system, known), "the job to be created", 60)
            with store(system) as r:
                wait_for(lambda: r.xlen(keys.job_stream_key(job)) >= 1, "the first chunk", 60)
                holder = wait_for(lambda: r.hget(keys.job_key(job), "worker"), "the job's worker", 10)
            child = int(holder.decode().rsplit(":", 1)[1])
            workers = {c.process.pid for c in system.children}
            if child in workers:  # a batching worker decodes in its own process (threads + a decode process)
                parent = child
            else:  # a prefork child: freeze it mid-job, so only a requeue can finish the job
                parent = int(open(f"/proc/{child}/stat").read().rsplit(")", 1)[1].split()[1])
                assert parent in workers, f"job holder {child} is not under a worker this test started"
                os.kill(child, signal.SIGSTOP)
            os.kill(parent, signal.SIGKILL)
            killed = time.monotonic()
            drill.update(job=job, child=child, parent=parent, chunks_at_kill=len(job_chunks(system, job)))
            first_epoch = job_chunks(system, job)[0].epoch
            wait_for(
                lambda: job_chunks(system, job)[-1].epoch > first_epoch,
                "a chunk of a new epoch",
                RECOVERY_DEADLINE_SECONDS,
            )
            drill["recovered"] = time.monotonic() - killed
            with contextlib.suppress(ProcessLookupError):  # an orphan that lived on wakes up fenced
                os.kill(child, signal.SIGCONT)

        killer = threading.Thread(target=kill_the_owner, daemon=True)
        killer.start()
        try:
            audio = np.concatenate([c.samples for c in client.synthesize(TEXT, sampling=params(5), seed=5)])
        finally:
            killer.join(60)
        assert not killer.is_alive() and "recovered" in drill, drill
        job = str(drill["job"])
        wait_for(lambda: not alive(int(drill["child"])), "the lost worker's child to exit", 30)
        chunks = job_chunks(system, job)
        assert [c.seq for c in chunks] == list(range(1, len(chunks) + 1))
        assert chunks[-1].final and chunks[-1].status == pb.JOB_STATUS_DONE
        assert len({c.epoch for c in chunks}) == 2  # the lost delivery and the requeued one
        assert len(audio) == len(reference)
        np.testing.assert_allclose(audio, reference, atol=1e-5)
        assert unfinished_jobs(system) == {}
        with store(system) as r:
            assert int(r.hget(keys.job_key(job), "reaped")) == 1
        record(
            "worker parent SIGKILL mid-stream (child frozen)",
            f"{drill['recovered']:.1f} s to the next chunk",
            "a pause, then the same stream went on (new epoch, segment restarted seamlessly)",
            "none: audio identical to an undisturbed run",
        )
        system.stop_child(spare)
        system.respawn("worker")
