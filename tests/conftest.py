"""Shared test fixtures: where the upstream-made checkpoints live, and a clean environment."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from relaytts.redis_server import RedisServer

REPO_ROOT = Path(__file__).resolve().parents[1]
#: Checkpoints written by upstream GPT-SoVITS code, with reference outputs (../shared beside the repo).
UPSTREAM_DIR = REPO_ROOT.parent / "shared" / "fixtures" / "upstream"


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--allow-skips", action="store_true",
                     help="Let skipped tests (and a missing ../shared) pass: for a quick local run only. Without it "
                          "a skip fails the run, so a green run means every test ran.")


_skipped: list[str] = []


def pytest_sessionstart(session: pytest.Session) -> None:
    if not session.config.getoption("allow_skips") and not UPSTREAM_DIR.is_dir():
        raise pytest.UsageError(f"{UPSTREAM_DIR} is missing: the suite needs ../shared beside the checkout "
                                "(or pass --allow-skips to run what can run without it)")


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    # xfail (a documented difference) is fine; a skip means something was not tested.
    if report.skipped and not hasattr(report, "wasxfail"):
        _skipped.append(report.nodeid)


def pytest_collectreport(report: pytest.CollectReport) -> None:
    if report.skipped:  # a whole module skipped at import (``pytest.skip(allow_module_level=True)``)
        _skipped.append(report.nodeid)


def pytest_terminal_summary(terminalreporter, exitstatus: int, config: pytest.Config) -> None:  # noqa: ANN001
    if _skipped and not config.getoption("allow_skips"):
        terminalreporter.write_sep("=", f"{len(_skipped)} skipped: the run fails (see -ra above for why; "
                                   "install what is missing, or pass --allow-skips locally)", red=True)


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    if _skipped and not session.config.getoption("allow_skips") and session.exitstatus == 0:
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


@pytest.fixture(scope="session")
def upstream_dir() -> Path:
    """The upstream fixture folder; tests that need it skip (with the reason) when it is absent."""
    if not (UPSTREAM_DIR / "reference.npz").is_file():
        pytest.skip(f"upstream fixtures not found at {UPSTREAM_DIR} (../shared is absent in this checkout)")
    return UPSTREAM_DIR


@pytest.fixture(scope="session")
def reference(upstream_dir: Path):
    """The reference arrays computed by upstream's PyTorch code from the fixture files."""
    import numpy as np

    with np.load(upstream_dir / "reference.npz") as data:
        return {k: data[k] for k in data.files}


@pytest.fixture(autouse=True)
def _no_relaytts_env(monkeypatch: pytest.MonkeyPatch) -> None:
    # Settings come from RELAYTTS_* variables; a developer's shell must not leak into tests.
    for name in list(os.environ):
        if name.startswith("RELAYTTS_"):
            monkeypatch.delenv(name)


@pytest.fixture(scope="session")
def fixture_bundle(upstream_dir, tmp_path_factory):
    """A bundle exported from the upstream fixtures (GPT + SoVITS v2), fp32 + int8."""
    from bundle import Bundle, Precision
    from exporter.onnx.bundle_export import export_bundle

    out = tmp_path_factory.mktemp("fixture-bundle") / "v2"
    export_bundle(upstream_dir / "gpt_v2.ckpt", upstream_dir / "sovits_v2.pth", out, (Precision.FP32, Precision.INT8))
    return Bundle.open(out)


@pytest.fixture(scope="session")
def full_size(tmp_path_factory):
    """Full-size random v2 checkpoints in upstream formats and their fp32 bundle: (gpt, sovits, Bundle)."""
    from bundle import Bundle, Precision
    from exporter.onnx.bundle_export import export_bundle
    from exporter.random_weights import write_random_checkpoints

    root = tmp_path_factory.mktemp("full-size")
    gpt, sovits = write_random_checkpoints(root, "v2")
    export_bundle(gpt, sovits, root / "bundle", (Precision.FP32,))
    return gpt, sovits, Bundle.open(root / "bundle")


@pytest.fixture(scope="session")
def hubert_dir(tmp_path_factory):
    """A tiny random HuBERT folder (chinese-hubert-base architecture, 2 layers; see tests/voice_support.py)."""
    pytest.importorskip("transformers")
    from tests.voice_support import write_tiny_hubert

    return write_tiny_hubert(tmp_path_factory.mktemp("hubert") / "chinese-hubert-tiny")


@pytest.fixture(scope="session")
def voice_bundle(upstream_dir, hubert_dir, tmp_path_factory):
    """The upstream fixture checkpoints (GPT + SoVITS v2) exported fp32 WITH a hubert graph: registers voices."""
    from bundle import Bundle, Precision
    from exporter.onnx.bundle_export import export_bundle

    out = tmp_path_factory.mktemp("voice-bundle") / "v2-hubert"
    export_bundle(upstream_dir / "gpt_v2.ckpt", upstream_dir / "sovits_v2.pth", out, (Precision.FP32,),
                  hubert_dir=hubert_dir)
    return Bundle.open(out)


@pytest.fixture(scope="session")
def voice_bundle_pp(upstream_dir, hubert_dir, tmp_path_factory):
    """The upstream fixtures as a v2ProPlus bundle (GPT + SoVITS v2ProPlus + ERes2NetV2 ``sv`` + hubert), fp32.

    Random weights with upstream's real architectures; the sv net is the fixture's reduced-width file
    (split width 4 instead of 24: the 20480-d output and the 1024->2048 downsampling conv keep their size).
    """
    from bundle import Bundle, Precision
    from exporter.onnx.bundle_export import export_bundle

    out = tmp_path_factory.mktemp("voice-bundle-pp") / "v2pp-hubert-sv"
    export_bundle(upstream_dir / "gpt_v2.ckpt", upstream_dir / "sovits_v2proplus.pth", out, (Precision.FP32,),
                  hubert_dir=hubert_dir, sv_path=upstream_dir / "sv_eres2netv2.ckpt")
    return Bundle.open(out)


@pytest.fixture(scope="session")
def speech() -> bytes:
    """A real speech recording (WAV) made with espeak-ng, saying ``tests.voice_support.SPEECH_TEXT``."""
    from tests.voice_support import espeak_available, espeak_wav

    if not espeak_available():
        pytest.skip("espeak-ng is not installed (apt-get install -y espeak-ng): no speech to register")
    return espeak_wav()


@pytest.fixture(scope="session")
def redis_server(tmp_path_factory):
    """A real redis-server process for the session (unit tests of Redis scripts and integration tests)."""
    server = RedisServer.start(workdir=tmp_path_factory.mktemp("redis"))
    yield server
    server.stop()


@pytest.fixture
def redis_url(redis_server) -> str:
    """URL of the session's real Redis, emptied for this test."""
    import redis

    client = redis.Redis.from_url(redis_server.url)
    client.flushall()
    client.close()
    return redis_server.url
