"""The relaytts CLI: commands run, and expected errors are one line with exit status 1."""

from __future__ import annotations

import json

from click.testing import CliRunner

from relaytts.cli import main


def run(*args: str):
    return CliRunner().invoke(main, list(args))


def test_help_lists_the_commands():
    result = run("--help")
    assert result.exit_code == 0
    for command in ("export", "inspect", "bundle", "bench"):
        assert command in result.output


def test_inspect_names_kind_and_version(upstream_dir):
    result = run("inspect", str(upstream_dir / "gpt_v2.ckpt"), str(upstream_dir / "sovits_v2proplus.pth"))
    assert result.exit_code == 0, result.output
    assert "gpt" in result.output and "v2ProPlus" in result.output


def test_inspect_recognises_the_speaker_verification_net(upstream_dir, tmp_path):
    result = run("inspect", str(upstream_dir / "sv_eres2netv2.ckpt"))
    assert result.exit_code == 0, result.output
    assert "ERes2NetV2" in result.output
    junk = tmp_path / "junk.ckpt"
    junk.write_bytes(b"PK" + b"\0" * 64)
    result = run("inspect", str(junk))
    assert result.exit_code == 1 and "error:" in result.output


def test_bad_checkpoint_is_one_line(upstream_dir, tmp_path):
    sovits = str(upstream_dir / "sovits_v2.pth")
    result = run("export", "--gpt", sovits, "--sovits", sovits, "-o", str(tmp_path / "b"))
    assert result.exit_code == 1
    lines = [line for line in result.output.splitlines() if line.startswith("error:")]
    assert len(lines) == 1 and "not a GPT" in lines[0]
    assert "Traceback" not in result.output
    assert not (tmp_path / "b").exists()  # nothing half-written


def test_bad_precision_is_rejected_by_name(upstream_dir, tmp_path):
    result = run("export", "--gpt", "x", "--sovits", "y", "-o", str(tmp_path / "b"), "--precision", "fp32,int4")
    assert result.exit_code == 2 and "--precision" in result.output


def test_export_then_verify_then_edge(upstream_dir, tmp_path):
    out = tmp_path / "bundle"
    result = run("export", "--gpt", str(upstream_dir / "gpt_v2.ckpt"), "--sovits", str(upstream_dir / "sovits_v2.pth"),
                 "-o", str(out), "--precision", "fp32,int8")
    assert result.exit_code == 0, result.output
    assert "greedy_200_agreement" in result.output and "written to" in result.output
    manifest = json.loads((out / "manifest.json").read_text())
    assert {f["precision"] for f in manifest["files"]} == {"fp32", "int8"}

    result = run("bundle", "verify", str(out))
    assert result.exit_code == 0 and "vocoder.onnx" in result.output

    result = run("bundle", "edge", str(out), str(tmp_path / "edge"))
    assert result.exit_code == 0
    edge_files = ["manifest.json", "vocoder.int8.onnx", "vocoder.onnx"]
    assert sorted(p.name for p in (tmp_path / "edge").iterdir()) == edge_files

    (out / "t2s.onnx").write_bytes(b"tampered")
    result = run("bundle", "verify", str(out))
    assert result.exit_code == 1 and result.output.startswith("error:") and "t2s.onnx" in result.output
