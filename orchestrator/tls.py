"""Transport security of the gateway: TLS (optionally mutual) and the refusal of open mode off loopback.

``add_port(server, settings, address)`` is the one place the gateway's port is added: ``add_secure_port`` when
``gateway.tls_cert_file`` is set (client certificates required when ``gateway.tls_client_ca_file``
is), else ``add_insecure_port``. ``check_open_mode`` fails closed: a gateway with no API key file
serves every caller as one tenant, so it starts only on a loopback interface unless
``gateway.allow_open_mode`` says that is intended.
"""

from __future__ import annotations

import ipaddress
from pathlib import Path

import grpc

from relaytts.errors import InvalidArgument
from relaytts.settings import GatewaySettings

__all__ = ["add_port", "check_open_mode", "is_loopback", "server_credentials"]


def is_loopback(host: str) -> bool:
    """True for ``localhost`` and loopback addresses (``127.0.0.0/8``, ``::1``); False for ``0.0.0.0``, names."""
    host = host.strip().strip("[]")
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False  # a host name other than localhost may resolve anywhere


def _read_pem(path: str, setting: str) -> bytes:
    try:
        data = Path(path).read_bytes()
    except OSError as exc:
        raise InvalidArgument(f"`{setting}` {path}: cannot read ({exc.strerror})") from None
    if b"-----BEGIN " not in data:
        raise InvalidArgument(f"`{setting}` {path}: not a PEM file")
    return data


def server_credentials(settings: GatewaySettings) -> grpc.ServerCredentials | None:
    """The gateway's TLS credentials, or None for plaintext; a half-configured pair is an error."""
    if bool(settings.tls_cert_file) != bool(settings.tls_key_file):
        raise InvalidArgument(
            "`RELAYTTS_GATEWAY_TLS_CERT_FILE` and `RELAYTTS_GATEWAY_TLS_KEY_FILE` must be set together; given only one"
        )
    if not settings.tls_cert_file:
        if settings.tls_client_ca_file:
            raise InvalidArgument(
                "`RELAYTTS_GATEWAY_TLS_CLIENT_CA_FILE` needs TLS: set the gateway's certificate and key too"
            )
        return None
    chain = _read_pem(settings.tls_cert_file, "RELAYTTS_GATEWAY_TLS_CERT_FILE")
    key = _read_pem(settings.tls_key_file, "RELAYTTS_GATEWAY_TLS_KEY_FILE")
    client_ca = (
        _read_pem(settings.tls_client_ca_file, "RELAYTTS_GATEWAY_TLS_CLIENT_CA_FILE")
        if settings.tls_client_ca_file
        else None
    )
    return grpc.ssl_server_credentials(
        [(key, chain)], root_certificates=client_ca, require_client_auth=client_ca is not None
    )


def check_open_mode(settings: GatewaySettings, open_mode: bool) -> None:
    """Refuse open mode (no API key file) on a non-loopback interface unless ``allow_open_mode``."""
    if open_mode and not is_loopback(settings.host) and not settings.allow_open_mode:
        raise InvalidArgument(
            f"refusing open mode on {settings.host}: without an API key file every caller on the network is "
            "served; set RELAYTTS_GATEWAY_API_KEYS_FILE, listen on 127.0.0.1, or set "
            "RELAYTTS_GATEWAY_ALLOW_OPEN_MODE=1 if this is intended"
        )


def add_port(server: grpc.aio.Server, settings: GatewaySettings, address: str) -> int:
    """``add_secure_port`` with the configured certificates, else ``add_insecure_port``; the bound port.

    A listening failure stays grpc's ``RuntimeError`` for the caller to word.
    """
    credentials = server_credentials(settings)
    if credentials is None:
        return server.add_insecure_port(address)
    return server.add_secure_port(address, credentials)
