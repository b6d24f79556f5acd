"""Export and check the SoVITS graphs (prompt extractor, style encoder, vocoder)."""

from __future__ import annotations

import time
import warnings
from pathlib import Path

import numpy as np
import torch

from bundle.session import create_session
from exporter.onnx.sovits_graphs import PromptExtractorGraph, StyleEncoderGraph, VocoderGraph
from exporter.sovits.model import SoVITS

__all__ = [
    "VOCODER_INPUTS",
    "export_prompt_extractor",
    "export_style_encoder",
    "export_vocoder",
    "manifest_sizes",
    "prompt_extractor_parity",
    "style_encoder_parity",
    "vocoder_calibration",
    "vocoder_parity",
    "vocoder_variant_report",
]

OPSET = 17
VOCODER_INPUTS = ["codes", "phones", "ge", "noise", "noise_scale", "speed", "dec_frames"]
#: (tokens, phones, speed, crop) cases: a single token, short, the fixture's size, a long segment, and
#: streaming windows whose generator runs on a crop of the latent (a middle and a right-edge crop).
VOCODER_SHAPES = [
    (1, 1, 1.0, None),
    (8, 5, 1.0, None),
    (40, 26, 1.25, None),
    (150, 80, 1.0, None),
    (60, 30, 1.0, (36, 120)),
    (33, 20, 1.25, (10, 30)),
]
SSL_FRAMES = [2, 3, 101, 500]
SPEC_FRAMES = [1, 2, 50, 600]


def _export(
    graph: torch.nn.Module,
    args: tuple,
    path: Path,
    inputs: list[str],
    outputs: list[str],
    dynamic: dict[str, dict[int, str]],
) -> Path:
    with warnings.catch_warnings(), torch.no_grad():
        warnings.simplefilter("ignore")
        torch.onnx.export(
            graph,
            args,
            str(path),
            dynamo=False,
            opset_version=OPSET,
            input_names=inputs,
            output_names=outputs,
            dynamic_axes=dynamic,
        )
    return path


def export_prompt_extractor(model: SoVITS, path: Path) -> Path:
    graph = PromptExtractorGraph(model)
    return _export(
        graph, graph.example_inputs(), path, ["ssl"], ["codes"], {"ssl": {2: "ssl_frames"}, "codes": {1: "tokens"}}
    )


def _style_inputs(model: SoVITS) -> list[str]:
    return ["spec", "sv_emb"] if model.config.is_pro else ["spec"]


def export_style_encoder(model: SoVITS, path: Path) -> Path:
    graph = StyleEncoderGraph(model)
    return _export(graph, graph.example_inputs(), path, _style_inputs(model), ["ge"], {"spec": {2: "spec_frames"}})


def export_vocoder(model: SoVITS, path: Path) -> Path:
    graph = VocoderGraph(model)
    return _export(
        graph,
        graph.example_inputs(),
        path,
        VOCODER_INPUTS,
        ["wav"],
        {"codes": {1: "tokens"}, "phones": {1: "phones"}, "noise": {2: "noise_frames"}, "wav": {1: "samples"}},
    )


def prompt_extractor_parity(model: SoVITS, session) -> dict[str, float]:
    graph = PromptExtractorGraph(model)
    torch.manual_seed(0)
    equal = total = 0
    for frames in SSL_FRAMES:
        (ssl,) = graph.example_inputs(frames)
        want = graph(ssl).numpy()
        got = session.run(None, {"ssl": ssl.numpy()})[0]
        equal += int((want == got).sum())
        total += want.size
    return {"codes_agreement": equal / total}


def style_encoder_parity(model: SoVITS, session) -> dict[str, float]:
    graph = StyleEncoderGraph(model)
    names = _style_inputs(model)
    torch.manual_seed(0)
    err = 0.0
    for frames in SPEC_FRAMES:
        inputs = graph.example_inputs(frames)
        want = graph(*inputs).numpy()
        got = session.run(None, {n: t.numpy() for n, t in zip(names, inputs, strict=True)})[0]
        err = max(err, float(np.abs(got - want).max()))
    return {"ge_max_abs": err}


def vocoder_parity(model: SoVITS, session) -> dict[str, float]:
    graph = VocoderGraph(model)
    torch.manual_seed(0)
    err = 0.0
    for tokens, phones, speed, crop in VOCODER_SHAPES:
        inputs = graph.example_inputs(tokens, phones, speed, crop)
        want = graph(*inputs).numpy()
        got = session.run(None, {n: t.numpy() for n, t in zip(VOCODER_INPUTS, inputs, strict=True)})[0]
        if got.shape != want.shape:
            return {"wav_max_abs": float("inf")}
        err = max(err, float(np.abs(got - want).max()))
    return {"wav_max_abs": err}


def vocoder_calibration(model: SoVITS, windows: int = 8, tokens: int = 30) -> list[dict[str, np.ndarray]]:
    """Feeds that set the int8 vocoder's activation ranges: random tokens at the streaming window size."""
    graph = VocoderGraph(model)
    torch.manual_seed(7)
    return [
        {n: t.numpy() for n, t in zip(VOCODER_INPUTS, graph.example_inputs(tokens, 20), strict=True)}
        for _ in range(windows)
    ]


#: A vocoder variant below this SNR against fp32 is written but not marked validated.
VARIANT_MIN_SNR_DB = 25.0


def vocoder_variant_report(model: SoVITS, fp32_path: Path, variant_path: Path) -> tuple[dict[str, float], str | None]:
    """Waveform error and SNR of a vocoder variant against the fp32 graph, plus size and speed."""
    graph = VocoderGraph(model)
    base, variant = create_session(fp32_path), create_session(variant_path)
    torch.manual_seed(1)
    inputs = {n: t.numpy() for n, t in zip(VOCODER_INPUTS, graph.example_inputs(100, 60), strict=True)}
    base_s, want = _best_of(base, inputs)
    var_s, got = _best_of(variant, inputs)
    noise_power = float(np.mean((got - want) ** 2))
    snr = 10 * np.log10(float(np.mean(want**2)) / max(noise_power, 1e-20))
    parity = {
        "wav_max_abs": float(np.abs(got - want).max()),
        "wav_mean_abs": float(np.abs(got - want).mean()),
        "snr_db_vs_fp32": float(snr),
        "size_ratio_to_fp32": variant_path.stat().st_size / fp32_path.stat().st_size,
        "speed_ratio_to_fp32": var_s / base_s,
    }
    problem = None if snr >= VARIANT_MIN_SNR_DB else f"audio SNR {snr:.1f} dB vs fp32 (< {VARIANT_MIN_SNR_DB:g} dB)"
    return parity, problem


def _best_of(session, inputs: dict[str, np.ndarray], runs: int = 3) -> tuple[float, np.ndarray]:
    """Fastest of ``runs`` (after one warm-up run) and the output: a shared machine's noise only adds time."""
    out = session.run(None, inputs)[0]
    best = float("inf")
    for _ in range(runs):
        start = time.perf_counter()
        session.run(None, inputs)
        best = min(best, time.perf_counter() - start)
    return best, out


def manifest_sizes(model: SoVITS) -> dict[str, int]:
    """The SoVITS numbers engines and voice conditioning need, for the manifest."""
    cfg = model.config
    return {
        "gin_channels": cfg.gin_channels,
        "latent_channels": cfg.inter_channels,
        "ssl_dim": 768,
        "spec_bins": cfg.spec_channels,
        "needs_sv_emb": int(cfg.is_pro),
        "sv_dim": cfg.sv_dim if cfg.is_pro else 0,
        "n_fft": cfg.filter_length,
        "hop_length": cfg.hop_length,
        "win_length": cfg.win_length,
        "n_symbols": cfg.n_symbols,
    }
