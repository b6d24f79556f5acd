"""``relaytts gateway``: the click command the main CLI registers (``main.add_command(gateway_command)``).

Only click is imported here; the gateway's modules load when the command runs, so ``relaytts --help``
stays fast.
"""

from __future__ import annotations

import logging
import sys

import click

__all__ = ["gateway_command"]


@click.command(name="gateway")
@click.option("--redis-url", help="Redis URL of jobs, streams and the Celery broker [env RELAYTTS_REDIS_URL].")
@click.option("--host", help="Interface to listen on [env RELAYTTS_GATEWAY_HOST; default 127.0.0.1].")
@click.option("--port", type=int, help="gRPC port, 0 = a free one [env RELAYTTS_GATEWAY_PORT; default 50051].")
@click.option("--bundle", help="Bundle directory whose edge files are served [env RELAYTTS_GATEWAY_BUNDLE].")
@click.option("--api-keys-file",
              help='JSON {"key": "tenant"}; without one, open mode [env RELAYTTS_GATEWAY_API_KEYS_FILE].')
@click.option("--tls-cert-file", help="PEM certificate chain: serve TLS [env RELAYTTS_GATEWAY_TLS_CERT_FILE].")
@click.option("--tls-key-file", help="PEM key of --tls-cert-file [env RELAYTTS_GATEWAY_TLS_KEY_FILE].")
@click.option("--tls-client-ca-file",
              help="PEM CA: require client certificates it signed [env RELAYTTS_GATEWAY_TLS_CLIENT_CA_FILE].")
@click.option("--allow-open-mode", is_flag=True, default=None,
              help="Serve without a key file off loopback [env RELAYTTS_GATEWAY_ALLOW_OPEN_MODE].")
@click.option("--check", is_flag=True,
              help="Probe: exit 0 if the gateway on this host's port answers its health check (over TLS when "
                   "it serves TLS, trusting RELAYTTS_EDGE_CA_FILE), else 1.")
def gateway_command(redis_url: str | None, host: str | None, port: int | None, bundle: str | None,
                    api_keys_file: str | None, tls_cert_file: str | None, tls_key_file: str | None,
                    tls_client_ca_file: str | None, allow_open_mode: bool | None, check: bool) -> None:
    """Run the gRPC gateway: validate requests, enqueue jobs, relay their chunks to clients."""
    from orchestrator.server import serve
    from relaytts.errors import RelayError
    from relaytts.redact import install_log_redaction
    from relaytts.settings import load_settings

    if not logging.getLogger().handlers:
        logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    install_log_redaction()  # no Redis password or bearer key reaches a log line
    try:
        settings = load_settings(overrides={
            "redis.url": redis_url, "gateway.host": host, "gateway.port": port, "gateway.bundle": bundle,
            "gateway.api_keys_file": api_keys_file, "gateway.tls_cert_file": tls_cert_file,
            "gateway.tls_key_file": tls_key_file, "gateway.tls_client_ca_file": tls_client_ca_file,
            "gateway.allow_open_mode": allow_open_mode})
        if check:
            sys.exit(_check(settings))
        serve(settings)
    except RelayError as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(1)


def _check(settings) -> int:  # noqa: ANN001 - relaytts.settings.Settings (imported lazily)
    """Container probe: 0 when the local gateway is SERVING (gRPC health), else 1."""
    from relaytts.embedded import gateway_serving

    host = settings.gateway.host
    dial = "127.0.0.1" if host in ("0.0.0.0", "::", "[::]", "") else host
    return 0 if gateway_serving(f"{dial}:{settings.gateway.port}", timeout=3.0, settings=settings) else 1
