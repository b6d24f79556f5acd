"""The relaytts edge client: stream speech from a gateway and vocode it locally.

    from edge_client import Client

    with Client("127.0.0.1:50051") as client:
        for chunk in client.synthesize("Hello there.", language="en"):
            ...  # chunk.samples (float32), chunk.pcm16 (bytes), chunk.sample_rate

Names load on first use, so ``import edge_client.cli`` (the ``relaytts say`` command) stays cheap.
"""

import importlib as _importlib
import typing as _typing

if _typing.TYPE_CHECKING:
    from edge_client.aio import AsyncClient
    from edge_client.client import Client, DeadlineExceeded, Unauthenticated, Unavailable
    from edge_client.model_cache import ModelInfo
    from edge_client.sinks import RawPcmSink, WavSink
    from edge_client.stitch import PlaybackStats
    from edge_client.vocoder import AudioChunk, Vocoder
    from relaytts.sampling import SamplingParams

__all__ = [
    "AsyncClient",
    "AudioChunk",
    "Client",
    "DeadlineExceeded",
    "ModelInfo",
    "PlaybackStats",
    "RawPcmSink",
    "SamplingParams",
    "Unauthenticated",
    "Unavailable",
    "Vocoder",
    "WavSink",
]

_HOMES = {
    "AsyncClient": "edge_client.aio",
    "AudioChunk": "edge_client.vocoder",
    "Client": "edge_client.client",
    "DeadlineExceeded": "edge_client.client",
    "ModelInfo": "edge_client.model_cache",
    "PlaybackStats": "edge_client.stitch",
    "RawPcmSink": "edge_client.sinks",
    "SamplingParams": "relaytts.sampling",
    "Unauthenticated": "edge_client.client",
    "Unavailable": "edge_client.client",
    "Vocoder": "edge_client.vocoder",
    "WavSink": "edge_client.sinks",
}


def __getattr__(name: str) -> object:
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module 'edge_client' has no attribute {name!r}")
    value = getattr(_importlib.import_module(home), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_HOMES))
