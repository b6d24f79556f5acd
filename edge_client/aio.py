"""The asyncio edge client: ``Client``'s API as coroutines and async iterators over ``grpc.aio``.

    async with AsyncClient("gateway.example:50051") as client:
        async for chunk in client.synthesize("Hello there.", language="en"):
            await sink.write(chunk)

Everything that is not I/O is shared with the sync client: request building, resume decisions and
error mapping (``edge_client.client``), chunk assembly (``edge_client.stitch``), the vocoder cache
(``edge_client.model_cache``). Vocoder decoding and file hashing run in a worker thread
(``asyncio.to_thread``) so the event loop keeps serving other tasks meanwhile.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import grpc
import grpc.aio

from edge_client.client import (
    DEFAULT_TIMEOUT_SECONDS,
    DeadlineExceeded,
    _ClientBase,
    _Run,
    checked_speed,
    playback_report,
)
from edge_client.model_cache import ModelInfo
from edge_client.vocoder import AudioChunk, Vocoder
from protos import relaytts_v1_pb2 as pb
from protos import relaytts_v1_pb2_grpc as pb_grpc
from relaytts.errors import RelayError
from relaytts.sampling import SamplingParams

__all__ = ["AsyncClient"]

log = logging.getLogger(__name__)


async def _read(call: Any, seconds: float, what: str) -> AsyncIterator[Any]:  # noqa: ANN401
    """Messages of an aio stream; raises ``DeadlineExceeded`` when one takes longer than ``seconds``."""
    while True:
        try:
            message = await asyncio.wait_for(call.read(), seconds)
        except TimeoutError:
            call.cancel()
            raise DeadlineExceeded(f"no {what} from the gateway within {seconds:g} s") from None
        if message is grpc.aio.EOF:
            return
        yield message


async def _initial_metadata(call: Any) -> Any:  # noqa: ANN401
    try:
        return await call.initial_metadata()
    except Exception:  # a call that never got an answer has none
        return None


class AsyncClient(_ClientBase):
    """asyncio client of a relaytts gateway; same arguments and behaviour as ``Client``.

    The channel is opened on first use, inside the running event loop.
    """

    def __init__(self, gateway: str, api_key: str | None = None, cache_dir: str | Path | None = None,
                 timeout: float = DEFAULT_TIMEOUT_SECONDS, **kwargs: Any) -> None:
        super().__init__(gateway, api_key, cache_dir, timeout, **kwargs)
        self._channel: grpc.aio.Channel | None = None
        self._closed = False
        self._synthesis: pb_grpc.SynthesisStub
        self._models: pb_grpc.ModelsStub
        self._lock = asyncio.Lock()

    async def __aenter__(self) -> AsyncClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def close(self) -> None:
        """Close the channel; streams still open are cancelled."""
        self._closed = True
        if self._channel is not None:
            await self._channel.close()
            self._channel = None

    def _open(self) -> None:
        if self._closed:
            raise ValueError("this AsyncClient is closed")
        if self._channel is None:
            options = self._channel_options()
            self._channel = (grpc.aio.secure_channel(self.gateway, self._credentials, options) if self._credentials
                             else grpc.aio.insecure_channel(self.gateway, options))
            self._synthesis = pb_grpc.SynthesisStub(self._channel)
            self._models = pb_grpc.ModelsStub(self._channel)

    async def _unary(self, method: str, request: Any) -> Any:  # noqa: ANN401
        self._open()
        stub = self._models if method == "GetModelInfo" else self._synthesis
        try:
            return await getattr(stub, method)(request, timeout=self.timeout, metadata=self._metadata)
        except grpc.RpcError as exc:
            raise self._error(exc, method) from None

    async def model_info(self) -> ModelInfo:
        """The bundle the gateway serves and its edge files."""
        return ModelInfo.from_pb(await self._unary("GetModelInfo", pb.GetModelInfoRequest()))

    async def ensure_vocoder(self) -> Vocoder:
        """The vocoder matching the served bundle: from the cache when intact, else fetched and verified."""
        return (await self._ensure())[1]

    async def _ensure(self) -> tuple[ModelInfo, Vocoder]:
        info = await self.model_info()
        async with self._lock:
            if self._loaded is not None and self._loaded[0] == info:
                return self._loaded
            bundle = await asyncio.to_thread(self.cache.lookup, info) or await self._download(info)
            self._loaded = (info, await asyncio.to_thread(Vocoder.load, bundle, self.vocoder_precision))
            return self._loaded

    async def _download(self, info: ModelInfo):  # noqa: ANN202 - bundle.Bundle
        with self.cache.begin(info) as download:
            for entry in download.files:
                writer = download.open(entry)
                try:
                    call = self._models.FetchModelFile(pb.FetchModelFileRequest(path=entry.path),
                                                       metadata=self._metadata)
                    async with contextlib.aclosing(_read(call, self.timeout, f"piece of {entry.path}")) as pieces:
                        async for piece in pieces:
                            writer.write(piece)
                except grpc.RpcError as exc:
                    writer.abort()
                    raise self._error(exc, "FetchModelFile") from None
                except BaseException:
                    writer.abort()
                    raise
                await asyncio.to_thread(writer.finish)
            return await asyncio.to_thread(download.commit)

    def synthesize(self, text: str, voice: str = "", language: str = "auto", sampling: SamplingParams | None = None,
                   seed: int | None = None, noise_scale: float | None = None, *,
                   live: bool = False, speed: float = 1.0) -> AsyncIterator[AudioChunk]:
        """Speak ``text`` as an async iterator of AudioChunks (see ``Client.synthesize``)."""
        request = self._request(text, voice, language, sampling, seed, noise_scale)
        return self._stream(request, live, checked_speed(speed))

    async def _stream(self, request: pb.SynthesizeRequest, live: bool, speed: float = 1.0) -> AsyncIterator[AudioChunk]:
        self._open()
        info, vocoder = self._loaded if self._loaded is not None else await self._ensure()
        run: _Run = self._start(request, info, vocoder, live, speed)
        call = None
        try:
            while not run.done:
                method, message = run.next_call()
                if method == "Synthesize":  # a retry (same request id) waits for a gateway to come back
                    call = self._synthesis.Synthesize(message, metadata=self._metadata,
                                                      wait_for_ready=run.failures > 0)
                else:
                    call = self._synthesis.Resume(message, metadata=self._metadata, wait_for_ready=True)
                error: RelayError | None = None
                try:
                    async with contextlib.aclosing(_read(call, self.timeout, "chunk")) as chunks:
                        async for chunk in chunks:
                            pieces = await asyncio.to_thread(run.on_chunk, chunk)
                            self.last_job_id = run.job_id
                            now = time.monotonic()
                            for piece in pieces:
                                run.stats.on_audio(now, piece.seconds)
                                held = time.monotonic()
                                yield piece
                                run.stats.on_consumer(time.monotonic() - held)
                            if run.done:
                                break
                except grpc.RpcError as exc:
                    error = self._error(exc, method)
                except DeadlineExceeded as exc:
                    error = exc
                if not run.done:
                    if not run.job_id:
                        run.adopt_job_id(await _initial_metadata(call))
                        self.last_job_id = run.job_id or self.last_job_id
                    await asyncio.sleep(run.on_drop(error))
        finally:
            if call is not None and not run.done:
                call.cancel()
                if run.job_id:
                    await self._cancel_quietly(run.job_id)
        await self._report_quietly(run)
        self._finished(run)

    async def cancel(self, job_id: str) -> bool:
        """Stop a job; False when it had already ended. Its stream then ends without raising."""
        self._cancelled.add(job_id)
        return (await self._unary("Cancel", pb.CancelRequest(job_id=job_id))).cancelled

    async def _cancel_quietly(self, job_id: str) -> None:
        try:
            await self.cancel(job_id)
        except Exception as exc:  # best effort: the client may be closing
            log.debug("cancelling abandoned job %s failed: %s", job_id, exc)

    async def report_playback(self, job_id: str, *, time_to_first_audio: float, real_time_factor: float,
                              underruns: int = 0, audio_seconds: float = 0.0) -> None:
        """Tell the gateway what the edge measured while playing a job (``synthesize`` does this at the end)."""
        await self._unary("ReportPlayback",
                          playback_report(job_id, time_to_first_audio, real_time_factor, underruns, audio_seconds))

    async def _report_quietly(self, run: _Run) -> None:
        try:
            await self._unary("ReportPlayback", run.playback_report())
        except RelayError as exc:  # a report is never worth failing the audio for
            log.warning("playback report of job %s not delivered: %s", run.job_id, exc)
