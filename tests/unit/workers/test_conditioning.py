"""Voice conditioning on the worker: decoding, the clip checks, and parity with the PyTorch reference."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from bundle import Bundle, Role
from relaytts.errors import BundleError, InvalidArgument
from tests.voice_support import SPEECH_TEXT, wav_bytes
from workers.conditioning import Conditioner, check_clip, decode_clip

TOL = 1e-4


def tone(seconds: float, rate: int = 48000, amplitude: float = 0.3, channels: int = 1) -> np.ndarray:
    t = np.arange(int(seconds * rate)) / rate
    wave = amplitude * np.sin(2 * np.pi * 180 * t) * (0.6 + 0.4 * np.sin(2 * np.pi * 3 * t))
    return np.repeat(wave[:, None], channels, axis=1).astype(np.float32) if channels > 1 else wave.astype(np.float32)


@pytest.mark.parametrize("fmt", ["WAV", "FLAC", "OGG", "MP3"])
def test_every_accepted_container_decodes_to_16k_and_32k_mono(fmt):
    clip = decode_clip(wav_bytes(tone(4.0, channels=2), 48000, fmt))
    assert clip.container == fmt and clip.source_rate == 48000
    assert clip.wav16k.dtype == clip.wav32k.dtype == np.float32
    assert abs(clip.seconds - 4.0) < 0.06  # MP3 adds encoder delay/padding
    assert abs(len(clip.wav32k) - 2 * len(clip.wav16k)) <= 2
    check_clip(clip)


def test_hot_clips_are_scaled_for_the_spectrogram_like_upstream():
    clip = decode_clip(wav_bytes(tone(4.0, amplitude=1.5), 48000, "WAV", "FLOAT"))
    assert np.abs(clip.wav16k).max() > 1.4  # HuBERT's copy is left as decoded (upstream)
    assert np.abs(clip.wav32k).max() == pytest.approx(1.0, abs=0.01)


@pytest.mark.parametrize("data, words", [
    (b"", "empty"),
    (b"RIFF\x00\x00garbage" * 50, "cannot be decoded"),
    (bytes(range(256)) * 40, "cannot be decoded"),
    (wav_bytes(tone(4.0), 48000, "AIFF"), "AIFF file; send WAV, FLAC, OGG or MP3"),
    (wav_bytes(tone(4.0, rate=4000), 4000), "at least 8000 Hz; given 4000"),
    (wav_bytes(np.full(64000, np.nan, np.float32), 16000, "WAV", "FLOAT"), "non-finite"),
])
def test_undecodable_uploads_are_refused_with_the_reason(data, words):
    with pytest.raises(InvalidArgument, match=words):
        decode_clip(data)


def test_mp3_without_libsndfile_support_says_so(monkeypatch):
    import soundfile

    data = wav_bytes(tone(4.0), 48000, "MP3")
    monkeypatch.setattr(soundfile, "available_formats", lambda: {"WAV": "", "FLAC": "", "OGG": ""})
    with pytest.raises(InvalidArgument, match="looks like MP3, which this worker's libsndfile"):
        decode_clip(data)


@pytest.mark.parametrize("samples, words", [
    (tone(2.9), "must be 3-10 s long; given 2.90 s"),
    (tone(10.2), "must be 3-10 s long; given 10.20 s"),
    (np.zeros(4 * 48000, np.float32), "silent"),
    (tone(5.0, amplitude=0.001), "silent"),  # -60 dBFS: hiss, not speech
    (np.concatenate([tone(0.3), np.zeros(4 * 48000, np.float32)]), "silent: 0.30 s above"),
])
def test_clip_checks_name_the_limit_and_the_value(samples, words):
    with pytest.raises(InvalidArgument, match=words):
        check_clip(decode_clip(wav_bytes(samples, 48000)))


def test_bundles_that_cannot_register_voices_say_why(voice_bundle):
    manifest = voice_bundle.manifest
    plain = dataclasses.replace(manifest, files=[f for f in manifest.files if f.role is not Role.HUBERT])
    with pytest.raises(BundleError, match="no hubert graph.*--hubert DIR"):
        Conditioner.check_bundle(Bundle(voice_bundle.root, plain))
    pro = dataclasses.replace(voice_bundle.manifest, model_version="v2ProPlus",
                              sovits=voice_bundle.manifest.sovits | {"needs_sv_emb": 1})
    with pytest.raises(BundleError, match=r"v2ProPlus.*speaker-verification embedding.*no sv graph.*relaytts export "
                                          r"\.\.\. --sv pretrained_eres2netv2w24s4ep4\.ckpt"):
        Conditioner.check_bundle(Bundle(voice_bundle.root, pro))


def test_conditioning_equals_the_pytorch_reference(voice_bundle, hubert_dir, upstream_dir, speech):
    """HuBERT features, prompt tokens and ge from the ORT graphs equal exporter.sovits + transformers (1e-4)."""
    from exporter.onnx.hubert_export import load_hubert
    from exporter.sovits import load_sovits
    from exporter.voice_reference import reference_conditioning
    from workers.frontend import Frontend

    frontend = Frontend()
    conditioner = Conditioner.load(voice_bundle, frontend)
    got = conditioner.condition(speech, SPEECH_TEXT, "en")
    want = reference_conditioning(load_sovits(upstream_dir / "sovits_v2.pth"), load_hubert(hubert_dir).model,
                                  got.clip.wav16k, got.clip.wav32k)
    assert np.abs(conditioner.ssl_features(got.clip.wav16k) - want["ssl"]).max() <= TOL
    clear = want["code_margin"] > 1e-3  # a near-tie may flip between two correct float32 runs
    assert clear.mean() > 0.95
    np.testing.assert_array_equal(got.prompt_tokens[clear], want["prompt_tokens"][clear])
    assert len(got.prompt_tokens) == len(want["prompt_tokens"]) == (len(got.clip.wav16k) + 9600 - 400) // 640
    assert np.abs(got.ge - want["ge"]).max() <= TOL
    segments = frontend.phonemize(SPEECH_TEXT, "en")
    np.testing.assert_array_equal(got.prompt_phones, np.concatenate([s.ids for s in segments]))
    assert got.prompt_bert.shape == (1024, len(got.prompt_phones)) and not got.prompt_bert.any()  # English: zeros
    assert set(got.timings) == {"decode", "frontend", "hubert", "prompt_extractor", "style"}


def test_a_transcript_with_nothing_to_speak_is_refused(voice_bundle, speech):
    from workers.frontend import Frontend

    conditioner = Conditioner.load(voice_bundle, Frontend())
    with pytest.raises(InvalidArgument, match="`transcript` has nothing to speak"):
        conditioner.condition(speech, "?!", "en")


def test_v2proplus_conditioning_equals_the_pytorch_reference(voice_bundle_pp, hubert_dir, upstream_dir, speech):
    """sv embedding and ge of a v2ProPlus voice from the ORT graphs equal ERes2NetV2 + exporter.sovits (1e-4)."""
    from exporter.onnx.hubert_export import load_hubert
    from exporter.sovits import load_sovits
    from exporter.sv import load_sv
    from exporter.voice_reference import reference_conditioning
    from workers.frontend import Frontend

    conditioner = Conditioner.load(voice_bundle_pp, Frontend())
    got = conditioner.condition(speech, SPEECH_TEXT, "en")
    want = reference_conditioning(load_sovits(upstream_dir / "sovits_v2proplus.pth"), load_hubert(hubert_dir).model,
                                  got.clip.wav16k, got.clip.wav32k, sv=load_sv(upstream_dir / "sv_eres2netv2.ckpt"))
    assert got.sv_emb is not None and got.sv_emb.shape == want["sv_emb"].shape
    assert np.abs(got.sv_emb - want["sv_emb"]).max() <= TOL
    assert got.ge.shape == want["ge"].shape == (voice_bundle_pp.manifest.sovits["gin_channels"],)
    assert np.abs(got.ge - want["ge"]).max() <= TOL
    assert set(got.timings) == {"decode", "frontend", "hubert", "prompt_extractor", "sv", "style"}
