"""A small v2ProPlus bundle from random weights (the demo's), `relaytts synth` on it, and the flag messages."""

from __future__ import annotations

import dataclasses
import shutil

import numpy as np
import pytest
import soundfile
from click.testing import CliRunner

from bundle import Bundle, Role
from bundle.manifest import MANIFEST_NAME
from relaytts.cli import main
from relaytts.errors import BundleError, InvalidArgument


@pytest.fixture(scope="module")
def demo_pp(tmp_path_factory):
    from exporter.demo_bundle import build_demo_bundle

    return build_demo_bundle(tmp_path_factory.mktemp("demo") / "demo-v2ProPlus", version="v2ProPlus")


def test_the_demo_builds_a_v2proplus_bundle_with_an_sv_graph(demo_pp):
    manifest = demo_pp.manifest
    assert manifest.model_version == "v2ProPlus" and manifest.sovits["needs_sv_emb"] == 1
    sv = manifest.file(Role.SV)
    assert sv.validated and sv.parity["sv_emb_max_abs"] <= 1e-4
    assert manifest.sources["sv"]["file"] == "sv.ckpt"


def test_synth_on_a_v2proplus_bundle_writes_audio(demo_pp, tmp_path):
    ref = tmp_path / "ref.wav"
    t = np.arange(4 * 24000) / 24000
    soundfile.write(
        ref, (0.3 * np.sin(2 * np.pi * 180 * t) * (1 + np.sin(2 * np.pi * 3 * t)) / 2).astype(np.float32), 24000
    )
    for extra in ([], ["--ref-audio", str(ref)]):
        out = tmp_path / f"out{len(extra)}.wav"
        result = CliRunner().invoke(
            main,
            [
                "synth",
                "--bundle",
                str(demo_pp.root),
                "--text",
                "Hello there.",
                "--lang",
                "en",
                "--max-tokens",
                "20",
                "-o",
                str(out),
                *extra,
            ],
        )
        assert result.exit_code == 0, result.output
        audio, rate = soundfile.read(out, dtype="float32")
        assert rate == 32000 and len(audio) > 0 and np.isfinite(audio).all()


def test_a_pro_bundle_without_sv_names_the_flag(demo_pp, tmp_path):
    from workers.conditioning import Conditioner
    from workers.frontend import Frontend
    from workers.voice import reference_voice

    copy = tmp_path / "no-sv"
    shutil.copytree(demo_pp.root, copy)
    manifest = dataclasses.replace(demo_pp.manifest, files=[f for f in demo_pp.manifest.files if f.role is not Role.SV])
    (copy / MANIFEST_NAME).write_text(manifest.to_json())
    bundle = Bundle.open(copy)
    flag = r"relaytts export \.\.\. --sv pretrained_eres2netv2w24s4ep4\.ckpt"
    with pytest.raises(BundleError, match=f"v2ProPlus.*no sv graph.*{flag}"):
        reference_voice(bundle)
    with pytest.raises(BundleError, match=flag):
        Conditioner.load(bundle, Frontend())
    result = CliRunner().invoke(main, ["synth", "--bundle", str(copy), "--text", "Hi.", "-o", str(tmp_path / "x.wav")])
    assert result.exit_code == 1 and "--sv pretrained_eres2netv2w24s4ep4.ckpt" in result.output


def test_export_refuses_sv_for_a_v2_sovits_in_one_line(upstream_dir, tmp_path):
    result = CliRunner().invoke(
        main,
        [
            "export",
            "--gpt",
            str(upstream_dir / "gpt_v2.ckpt"),
            "--sovits",
            str(upstream_dir / "sovits_v2.pth"),
            "--sv",
            str(upstream_dir / "sv_eres2netv2.ckpt"),
            "-o",
            str(tmp_path / "b"),
        ],
    )
    assert result.exit_code == 1
    assert "--sv is only for v2Pro / v2ProPlus" in result.output


def test_the_demo_does_not_reuse_a_bundle_of_another_version(demo_pp):
    from exporter.demo_bundle import build_demo_bundle

    with pytest.raises(InvalidArgument, match="holds a v2ProPlus demo bundle, not v2"):
        build_demo_bundle(demo_pp.root, version="v2")
