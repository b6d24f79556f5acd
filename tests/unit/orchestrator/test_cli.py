"""``relaytts gateway`` (the command object the main CLI registers)."""

from __future__ import annotations

from click.testing import CliRunner

from orchestrator.cli import gateway_command


def test_help_names_the_options():
    result = CliRunner().invoke(gateway_command, ["--help"])
    assert result.exit_code == 0
    for option in ("--redis-url", "--host", "--port", "--bundle", "--api-keys-file"):
        assert option in result.output


def test_no_redis_url_is_one_line():
    result = CliRunner().invoke(gateway_command, ["--port", "0"])
    assert result.exit_code == 1
    assert result.output.strip().splitlines() == [
        "error: `RELAYTTS_REDIS_URL` (--redis-url) must be set for the gateway; given ''"]


def test_an_unreachable_redis_is_one_line():
    from relaytts.redis_server import free_port

    result = CliRunner().invoke(gateway_command, ["--port", "0", "--redis-url", f"redis://127.0.0.1:{free_port()}/0"])
    assert result.exit_code == 1
    assert result.output.startswith("error: cannot reach Redis at redis://127.0.0.1:")
    assert "Traceback" not in result.output
