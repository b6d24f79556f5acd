"""``relaytts bench system``: what the distributed path costs over running the engines in-process.

Time to first chunk is measured twice on the same bundle, text and seeds: in this process (frontend,
T2S prefill and the first chunk's decode, no network) and through the real system (gRPC request ->
gateway -> Redis -> Celery worker -> Redis Stream -> gateway -> first LatentChunk at the client).
The difference is the distributed overhead. Throughput is measured with concurrent streams.
"""

from __future__ import annotations

import statistics
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from relaytts.settings import Settings

__all__ = ["bench_system"]

TEXT = "The quick brown fox jumps over the lazy dog."
FIRST_CHUNK_TOKENS = 8


def _in_process_first_chunk(bundle_dir: Path, runs: int, settings: Settings) -> list[float]:
    import numpy as np

    from bundle import Bundle, Precision, SessionOptions
    from relaytts.sampling import SamplingParams
    from workers.frontend import BertFeaturizer, Frontend
    from workers.frontend.bert_onnx import bert_extractor_from_bundle
    from workers.t2s import ChunkPolicy, T2SEngine

    bundle = Bundle.open(bundle_dir)
    frontend = Frontend(bert=BertFeaturizer(bert_extractor_from_bundle(bundle)))
    frontend.warm_up()
    options = SessionOptions(intra_op_threads=settings.worker.threads)
    engine = T2SEngine.load(bundle, Precision(settings.worker.precision), options)
    policy = ChunkPolicy(settings.worker.first_chunk_tokens, settings.worker.chunk_tokens)
    times = []
    for i in range(runs + 1):
        start = time.perf_counter()
        segment = frontend.phonemize(TEXT, "en")[0]
        bert = frontend.bert_features(segment)
        stream = engine.stream(segment.ids, bert, np.zeros(0, np.int64), SamplingParams(seed=i), policy)
        next(stream)
        stream.close()
        if i:  # the first run warms ONNX Runtime up
            times.append(time.perf_counter() - start)
    return times


def _distributed_first_chunk(address: str, runs: int, seed_base: int) -> list[float]:
    import grpc

    from protos import relaytts_v1_pb2 as pb
    from protos import relaytts_v1_pb2_grpc as pb_grpc

    times = []
    with grpc.insecure_channel(address) as channel:
        stub = pb_grpc.SynthesisStub(channel)
        for i in range(runs + 1):
            request = pb.SynthesizeRequest(text=TEXT, language="en",
                                           sampling=pb.SamplingParams(seed=seed_base + i, max_new_tokens=30))
            start = time.perf_counter()
            call = stub.Synthesize(request, timeout=60)
            next(call)
            elapsed = time.perf_counter() - start
            for _ in call:  # let the job finish so runs do not overlap
                pass
            if i:
                times.append(elapsed)
    return times


def _throughput(address: str, streams: int) -> tuple[float, int, float]:
    import grpc

    from protos import relaytts_v1_pb2 as pb
    from protos import relaytts_v1_pb2_grpc as pb_grpc

    def one(i: int) -> int:
        with grpc.insecure_channel(address) as channel:
            call = pb_grpc.SynthesisStub(channel).Synthesize(
                pb.SynthesizeRequest(text=TEXT, language="en", sampling=pb.SamplingParams(seed=500 + i,
                                                                                            max_new_tokens=100)),
                timeout=300)
            return sum(len(chunk.tokens) for chunk in call)

    start = time.perf_counter()
    with ThreadPoolExecutor(streams) as pool:
        tokens = sum(pool.map(one, range(streams)))
    wall = time.perf_counter() - start
    return wall, tokens, tokens / 25 / wall


def bench_system(settings: Settings, run_dir: Path, runs: int = 20, streams: int = 8) -> list[list[object]]:
    """Rows: metric, value, reference, difference or ratio, target, verdict."""
    from relaytts.embedded import EmbeddedSystem

    local = _in_process_first_chunk(Path(settings.worker.bundle), runs, settings)
    with EmbeddedSystem(settings, run_dir).start() as system:
        remote = _distributed_first_chunk(system.gateway_address, runs, 1000)
        wall, tokens, audio_per_second = _throughput(system.gateway_address, streams)
    local_p50, remote_p50 = statistics.median(local) * 1000, statistics.median(remote) * 1000
    local_p95 = statistics.quantiles(local, n=20)[-1] * 1000
    remote_p95 = statistics.quantiles(remote, n=20)[-1] * 1000
    overhead = remote_p50 - local_p50
    return [
        ["time to first chunk p50 (ms): system vs in-process", round(remote_p50, 1), round(local_p50, 1),
         f"{overhead:+.1f} ms", "<= +20 ms", "met" if overhead <= 20 else f"missed by {overhead - 20:.1f} ms"],
        ["time to first chunk p95 (ms): system vs in-process", round(remote_p95, 1), round(local_p95, 1),
         f"{remote_p95 - local_p95:+.1f} ms", "", ""],
        [f"throughput, {streams} concurrent streams: tokens/s", round(tokens / wall, 1), "", "", "", ""],
        [f"throughput, {streams} concurrent streams: audio s per s", round(audio_per_second, 2), "", "", "", ""],
    ]
