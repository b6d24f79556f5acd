"""``relaytts bench system``: what the distributed path costs over running the engines in-process.

Time to first chunk is measured twice on the same bundle, text and seeds: in this process (frontend,
T2S prefill and the first chunk's decode, no network) and through the real system (gRPC request ->
gateway -> Redis -> Celery worker -> Redis Stream -> gateway -> first LatentChunk at the client).
The difference is the distributed overhead. Throughput is measured with concurrent streams.

``with_batch`` adds the question books raise: does live traffic starve while a book runs? Live time to
first chunk is measured again while the ``t2s.batch`` worker is busy with a book (submitted through
``SubmitBook``, sized to outlast the measurement, cancelled afterwards), then once more when the batch
worker is idle again; the busy figure is compared with both idle ones of the same run (so drift on a
shared machine counts on both sides): the target is at most 2x. The book's own progress meanwhile is
reported too.
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
BOOK_MAX_TOKENS = 100
"""Tokens per book segment under load (random demo weights rarely stop earlier): 4 s of audio each."""
BOOK_BUSY_TIMEOUT_SECONDS = 120.0


def _in_process_first_chunk(bundle_dir: Path, runs: int, settings: Settings) -> list[float]:
    import numpy as np

    from bundle import Bundle, Precision, SessionOptions
    from relaytts.sampling import SamplingParams
    from workers.frontend import BertFeaturizer, Frontend
    from workers.frontend.bert_onnx import bert_extractor_from_bundle
    from workers.frontend.zh.g2pw import g2pw_from_bundle
    from workers.t2s import ChunkPolicy, T2SEngine

    bundle = Bundle.open(bundle_dir)
    frontend = Frontend(bert=BertFeaturizer(bert_extractor_from_bundle(bundle)), g2pw=g2pw_from_bundle(bundle))
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


def _book_text(chapters: int = 4, sentences: int = 60) -> str:
    return "\n\n".join(f"Chapter {c}\n\n" + " ".join(f"Sentence {s} of chapter {c} goes on for a while."
                                                   for s in range(sentences)) for c in range(1, chapters + 1))


def _start_book(address: str) -> str:
    """Submit a book that outlasts the measurement; return once the batch worker has started on it."""
    import grpc

    from protos import relaytts_v1_pb2 as pb
    from protos import relaytts_v1_pb2_grpc as pb_grpc
    from relaytts.errors import Unavailable

    header = pb.BookHeader(filename="bench.txt", voice="default", language="en",
                           sampling=pb.SamplingParams(seed=7, max_new_tokens=BOOK_MAX_TOKENS))
    with grpc.insecure_channel(address) as channel:
        stub = pb_grpc.BooksStub(channel)
        job = stub.SubmitBook(iter([pb.SubmitBookRequest(header=header),
                                    pb.SubmitBookRequest(data=_book_text().encode())]), timeout=60)
        deadline = time.monotonic() + BOOK_BUSY_TIMEOUT_SECONDS
        while not stub.GetJob(pb.GetJobRequest(job_id=job.job_id), timeout=10).started_at_unix_seconds:
            if time.monotonic() > deadline:
                raise Unavailable("the batch worker did not start the book (is `books.batch_concurrency` 0?)")
            time.sleep(0.05)
        time.sleep(1.0)  # into the steady state: the batch worker decoding segment after segment
    return job.job_id


def _book_audio(address: str, job_id: str, cancel: bool = False) -> tuple[int, float]:
    """(segments done, audio seconds done) of the book; cancels it when asked."""
    import grpc

    from protos import relaytts_v1_pb2 as pb
    from protos import relaytts_v1_pb2_grpc as pb_grpc

    with grpc.insecure_channel(address) as channel:
        stub = pb_grpc.BooksStub(channel)
        job = stub.GetJob(pb.GetJobRequest(job_id=job_id), timeout=10)
        if cancel:
            stub.CancelJob(pb.CancelJobRequest(job_id=job_id), timeout=10)
    return job.segments_done, job.audio_seconds_done


def _wait_batch_idle(redis_url: str, timeout: float = BOOK_BUSY_TIMEOUT_SECONDS) -> None:
    """Until the cancelled book's queued segment tasks have drained from ``t2s.batch``."""
    import redis

    from relaytts.jobs import BATCH_QUEUE

    client = redis.Redis.from_url(redis_url)
    deadline = time.monotonic() + timeout
    try:
        while any(client.llen(key) for key in client.scan_iter(match=f"{BATCH_QUEUE}*")):
            if time.monotonic() > deadline:
                return
            time.sleep(0.1)
    finally:
        client.close()
    time.sleep(1.0)  # the last task (a cancelled segment) ends


def bench_system(settings: Settings, run_dir: Path, runs: int = 20, streams: int = 8,
                 with_batch: bool = False) -> list[list[object]]:
    """Rows: metric, value, reference, difference or ratio, target, verdict."""
    from relaytts.embedded import EmbeddedSystem

    local = _in_process_first_chunk(Path(settings.worker.bundle), runs, settings)
    busy: list[float] = []
    with EmbeddedSystem(settings, run_dir).start() as system:
        remote = _distributed_first_chunk(system.gateway_address, runs, 1000)
        wall, tokens, audio_per_second = _throughput(system.gateway_address, streams)
        if with_batch:
            book = _start_book(system.gateway_address)
            before = _book_audio(system.gateway_address, book)
            started = time.perf_counter()
            busy = _distributed_first_chunk(system.gateway_address, runs, 2000)
            elapsed = time.perf_counter() - started
            after = _book_audio(system.gateway_address, book, cancel=True)
            _wait_batch_idle(system.settings.redis.url)
            idle_again = _distributed_first_chunk(system.gateway_address, runs, 3000)
    local_p50, remote_p50 = statistics.median(local) * 1000, statistics.median(remote) * 1000
    local_p95 = statistics.quantiles(local, n=20)[-1] * 1000
    remote_p95 = statistics.quantiles(remote, n=20)[-1] * 1000
    overhead = remote_p50 - local_p50
    rows: list[list[object]] = [
        ["time to first chunk p50 (ms): system vs in-process", round(remote_p50, 1), round(local_p50, 1),
         f"{overhead:+.1f} ms", "<= +20 ms", "met" if overhead <= 20 else f"missed by {overhead - 20:.1f} ms"],
        ["time to first chunk p95 (ms): system vs in-process", round(remote_p95, 1), round(local_p95, 1),
         f"{remote_p95 - local_p95:+.1f} ms", "", ""],
        [f"throughput, {streams} concurrent streams: tokens/s", round(tokens / wall, 1), "", "", "", ""],
        [f"throughput, {streams} concurrent streams: audio s per s", round(audio_per_second, 2), "", "", "", ""],
    ]
    if with_batch:
        rows += _batch_rows(remote + idle_again, busy, after[0] - before[0], (after[1] - before[1]) / elapsed,
                            settings.books.batch_nice)
    return rows


def _batch_rows(idle: list[float], busy: list[float], segments: int, book_speed: float,
                nice: int) -> list[list[object]]:
    idle_p50, busy_p50 = statistics.median(idle) * 1000, statistics.median(busy) * 1000
    idle_p95 = statistics.quantiles(idle, n=20)[-1] * 1000
    busy_p95 = statistics.quantiles(busy, n=20)[-1] * 1000
    ratio = busy_p50 / idle_p50
    return [
        [f"time to first chunk p50 (ms): a book running (batch nice {nice}) vs idle (before and after)",
         round(busy_p50, 1),
         round(idle_p50, 1), f"x{ratio:.2f}", "<= x2", "met" if ratio <= 2 else "missed"],
        ["time to first chunk p95 (ms): a book running vs idle", round(busy_p95, 1), round(idle_p95, 1),
         f"x{busy_p95 / idle_p95:.2f}", "", ""],
        ["book meanwhile: segments done / audio s per s", segments, round(book_speed, 2), "", "", ""],
    ]
