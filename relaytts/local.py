"""In-process synthesis: the cloud engines and the edge vocoder in one process, no Redis, no network.

This is what ``relaytts synth`` and the engine benchmarks run, and the baseline the distributed
system is measured against. The engines are imported when a synthesizer is built, so importing
this module costs nothing.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from relaytts.errors import InvalidArgument
from relaytts.sampling import SamplingParams

__all__ = ["LocalSynthesizer", "SynthesisReport"]

SEGMENT_GAP_SECONDS = 0.3
"""Silence between text segments (upstream's ``fragment_interval``)."""


@dataclass
class SynthesisReport:
    """Where the time went (seconds)."""

    first_audio: float | None = None
    total: float = 0.0
    audio: float = 0.0
    frontend: float = 0.0
    t2s: float = 0.0
    vocoder: float = 0.0
    segments: int = 0
    tokens: int = 0
    stop_reasons: list[str] = field(default_factory=list)

    @property
    def real_time_factor(self) -> float:
        return self.total / self.audio if self.audio else float("inf")


class LocalSynthesizer:
    """Frontend + T2S engine + streaming vocoder over one bundle."""

    def __init__(self, bundle_dir: str | Path, precision: str = "fp32", threads: int = 0, device: str = "auto") -> None:
        from bundle import Bundle, Precision, SessionOptions
        from edge_client.vocoder import Vocoder
        from workers.frontend import BertFeaturizer, Frontend
        from workers.frontend.bert_onnx import bert_extractor_from_bundle
        from workers.frontend.zh.g2pw import g2pw_from_bundle
        from workers.t2s import T2SEngine

        options = SessionOptions(device=device, intra_op_threads=threads)
        self.bundle = Bundle.open(bundle_dir)
        self.frontend = Frontend(bert=BertFeaturizer(bert_extractor_from_bundle(self.bundle)),
                                 g2pw=g2pw_from_bundle(self.bundle, options))
        self.frontend.warm_up()  # dictionaries load once here, not inside the first request's latency
        self.t2s = T2SEngine.load(self.bundle, Precision(precision), options)
        self.vocoder = Vocoder.load(self.bundle, options=options)
        self._options = options

    def reference_style(self, wav_path: str | Path | None) -> Any:  # noqa: ANN401 - np.ndarray
        """``ge`` for a reference recording, or for a synthetic tone when none is given (see workers.voice)."""
        from workers.voice import reference_voice

        return reference_voice(self.bundle, wav_path, self._options).ge

    def synthesize(
        self, text: str, ge: Any, lang: str = "auto", params: SamplingParams | None = None,  # noqa: ANN401
        noise_scale: float = 0.5, max_new_tokens: int | None = None, report: SynthesisReport | None = None,
        speed: float = 1.0,
    ) -> Iterator[Any]:
        """Yield float32 audio pieces for ``text`` as soon as they exist; fills ``report`` as it goes."""
        report = report if report is not None else SynthesisReport()
        start = time.perf_counter()
        segments = self.frontend.phonemize(text, lang)
        units = [(segment.ids, self.frontend.bert_features(segment)) for segment in segments]
        report.frontend += time.perf_counter() - start
        if not units:
            raise InvalidArgument(f"`text` has nothing to speak: {text[:60]!r}")
        yield from self._speak(units, ge, params, noise_scale, max_new_tokens, report, start, speed)

    def synthesize_phones(
        self, phones: str, ge: Any, params: SamplingParams | None = None, noise_scale: float = 0.5,  # noqa: ANN401
        max_new_tokens: int | None = None, report: SynthesisReport | None = None, speed: float = 1.0,
    ) -> Iterator[Any]:
        """Speak a phoneme sequence given as symbols or ids separated by spaces (one segment, zero BERT)."""
        import numpy as np

        from workers.frontend.symbols import symbol_table

        items = phones.split()
        if not items:
            raise InvalidArgument("`phones` is empty")
        table = symbol_table()
        table_size = len(table)
        unknown = [i for i in items if not i.isdigit() and i not in table]
        if unknown:
            raise InvalidArgument(f"`phones` holds symbols outside the v2 table: {' '.join(unknown[:5])}")
        ids = np.array([int(i) if i.isdigit() else table[i] for i in items], np.int64)
        if ids.max() >= table_size:
            raise InvalidArgument(f"`phones` ids must be below {table_size}; given {int(ids.max())}")
        report = report if report is not None else SynthesisReport()
        units = [(ids, np.zeros((1024, len(ids)), np.float32))]
        yield from self._speak(units, ge, params, noise_scale, max_new_tokens, report, time.perf_counter(), speed)

    def _speak(self, units: list, ge: Any, params: SamplingParams | None, noise_scale: float,  # noqa: ANN401
               max_new_tokens: int | None, report: SynthesisReport, start: float,
               speed: float = 1.0) -> Iterator[Any]:
        import numpy as np

        from workers.t2s import ChunkPolicy

        params = params or SamplingParams()
        rate = self.bundle.manifest.sample_rate
        for index, (ids, bert) in enumerate(units):
            if index:
                gap = np.zeros(int(SEGMENT_GAP_SECONDS * rate), np.float32)
                report.audio += len(gap) / rate
                yield gap
            seg_params = params.for_segment(index, len(ids), max_new_tokens)
            stream = self.vocoder.stream(ids, ge, noise_scale=noise_scale, seed=seg_params.seed or 0, speed=speed)
            chunks = self.t2s.stream(ids, bert, np.zeros(0, np.int64), seg_params, ChunkPolicy())
            while True:
                t0 = time.perf_counter()
                chunk = next(chunks, None)
                report.t2s += time.perf_counter() - t0
                if chunk is None:
                    break
                report.tokens += len(chunk.tokens)
                t0 = time.perf_counter()
                audio = stream.push(chunk.tokens)
                if chunk.final:
                    audio = np.concatenate((audio, stream.finish()))
                    report.stop_reasons.append(str(chunk.stop_reason))
                report.vocoder += time.perf_counter() - t0
                if len(audio):
                    if report.first_audio is None:
                        report.first_audio = time.perf_counter() - start
                    report.audio += len(audio) / rate
                    yield audio
            report.segments += 1
        report.total = time.perf_counter() - start

