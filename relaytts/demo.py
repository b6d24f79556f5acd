"""``relaytts demo``: one sentence through the real system, and where its milliseconds went."""

from __future__ import annotations

import time
from pathlib import Path

from relaytts.sampling import SamplingParams
from relaytts.settings import Settings

__all__ = ["run_demo"]

DEMO_MAX_TOKENS_PER_SEGMENT = 150
"""Random weights rarely choose EOS; 150 tokens (6 s) per segment keeps the demo short."""


def run_demo(settings: Settings, run_dir: Path, text: str, out: Path, seed: int = 1) -> str:
    """Start the embedded system, speak ``text`` through the gateway into ``out``; returns the report."""
    import numpy as np
    import redis
    import soundfile

    from edge_client import Client
    from protos import relaytts_v1_pb2 as pb
    from relaytts import keys
    from relaytts.embedded import EmbeddedSystem
    from relaytts.jobs import CHUNK_FIELD

    with EmbeddedSystem(settings, run_dir).start() as system:
        with Client(system.gateway_address, cache_dir=run_dir / "edge-cache") as client:
            fetch_start = time.perf_counter()
            client.ensure_vocoder()
            fetch_s = time.perf_counter() - fetch_start
            start = time.perf_counter()
            first_audio = None
            pieces = []
            for chunk in client.synthesize(text, sampling=SamplingParams(max_new_tokens=DEMO_MAX_TOKENS_PER_SEGMENT),
                                           seed=seed):
                if first_audio is None:
                    first_audio = time.perf_counter() - start
                pieces.append(chunk.samples)
            total = time.perf_counter() - start
            job_id = client.last_job_id
            rate = client.model_info().sample_rate_hz
        store = redis.Redis.from_url(system.settings.redis.url)
        job = {k.decode(): v.decode() for k, v in store.hgetall(keys.job_key(job_id)).items()}
        chunks = [pb.LatentChunk.FromString(fields[CHUNK_FIELD])
                  for _, fields in store.xrange(keys.job_stream_key(job_id))]
        store.close()
    audio = np.concatenate(pieces) if pieces else np.zeros(0, np.float32)
    soundfile.write(str(out), audio, rate, subtype="PCM_16")
    first = chunks[0].timings if chunks else pb.ServerTimings()
    server_ms = {name: getattr(first, f"{name}_us") / 1000 for name in ("queue_wait", "frontend", "prefill", "decode")}
    accounted = sum(server_ms.values())
    tokens = sum(len(c.tokens) for c in chunks)
    lines = [
        f"wrote {out}: {len(audio) / rate:.2f} s of audio, job {job_id} ({job.get('status', '?')}), "
        f"{tokens} tokens in {len(chunks)} chunks",
        f"vocoder fetched and verified from the gateway in {fetch_s * 1000:.0f} ms (cached for next time)",
        f"time to first audio {first_audio * 1000:.0f} ms:" if first_audio else "no audio",
        f"  queue wait (gateway -> Redis -> Celery worker)  {server_ms['queue_wait']:8.1f} ms",
        f"  text frontend                                   {server_ms['frontend']:8.1f} ms",
        f"  T2S prefill                                     {server_ms['prefill']:8.1f} ms",
        f"  T2S decode of the first chunk                   {server_ms['decode']:8.1f} ms",
        f"  relay + network + edge vocoder (the rest)       {(first_audio or 0) * 1000 - accounted:8.1f} ms",
        f"whole utterance {total * 1000:.0f} ms for {len(audio) / rate:.2f} s of audio "
        f"(real-time factor {total / max(len(audio) / rate, 1e-9):.2f})",
    ]
    return "\n".join(lines)
