"""How the edge client reaches the gateway securely: TLS credentials, and never a bearer key in clear.

``TransportSecurity`` is what the client was told (``tls``, ``ca_file``, ``server_name``, a client
certificate for mutual TLS, ``allow_plaintext_key``); ``credentials()`` builds the channel
credentials and ``check_key_transport`` refuses, before any connection is made, to send an API key
over plaintext to anything but a loopback address: on a network the key would be readable by anyone
on the path, and a gateway key names a tenant's whole library.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import grpc

from relaytts.errors import InvalidArgument, PermissionDenied

__all__ = ["PlaintextKeyRefused", "TransportSecurity", "gateway_host", "is_loopback_target"]


class PlaintextKeyRefused(PermissionDenied):
    """The client would have sent its API key without TLS to a non-loopback gateway."""

    reason = "plaintext_key_refused"


def gateway_host(target: str) -> str:
    """The host part of a ``host:port`` / ``[v6]:port`` / ``dns:///host:port`` / ``ipv4:host:port`` target."""
    if "///" in target:
        target = target.split("///", 1)[1]
    elif target.startswith(("ipv4:", "ipv6:", "dns:")):
        target = target.split(":", 1)[1]
    if target.startswith("["):
        return target[1 : target.find("]")]
    if target.count(":") == 1:
        return target.split(":", 1)[0]
    return target  # no port, or a bare IPv6 address


def is_loopback_target(target: str) -> bool:
    """True when ``target`` names this machine: ``localhost``, 127.0.0.0/8 or ::1 (or a unix socket)."""
    if target.startswith(("unix:", "unix-abstract:")):
        return True
    host = gateway_host(target).lower()
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _read(path: str, what: str) -> bytes:
    try:
        data = Path(path).expanduser().read_bytes()
    except OSError as exc:
        raise InvalidArgument(f"`{what}` {path}: cannot read ({exc.strerror})") from None
    if b"-----BEGIN " not in data:
        raise InvalidArgument(f"`{what}` {path}: not a PEM file")
    return data


@dataclass(frozen=True)
class TransportSecurity:
    """TLS options of a client; ``tls`` is implied by any of the files."""

    tls: bool = False
    ca_file: str = ""
    server_name: str = ""
    client_cert_file: str = ""
    client_key_file: str = ""
    allow_plaintext_key: bool = False

    @property
    def secure(self) -> bool:
        return bool(self.tls or self.ca_file or self.client_cert_file)

    def credentials(self) -> grpc.ChannelCredentials | None:
        """Channel credentials (None: plaintext); a client certificate without its key is an error."""
        if not self.secure:
            if self.server_name:
                raise InvalidArgument("`server_name` is a TLS option; pass --tls (and --ca-file) too")
            return None
        if bool(self.client_cert_file) != bool(self.client_key_file):
            raise InvalidArgument("`client_cert_file` and `client_key_file` must be given together; given only one")
        roots = _read(self.ca_file, "ca_file") if self.ca_file else None  # None: the system's roots
        key = _read(self.client_key_file, "client_key_file") if self.client_key_file else None
        chain = _read(self.client_cert_file, "client_cert_file") if self.client_cert_file else None
        return grpc.ssl_channel_credentials(root_certificates=roots, private_key=key, certificate_chain=chain)

    def channel_options(self) -> list[tuple[str, Any]]:
        """``grpc.ssl_target_name_override`` when the certificate's name differs from the host dialled."""
        return [("grpc.ssl_target_name_override", self.server_name)] if self.server_name and self.secure else []

    def check_key_transport(self, target: str, has_key: bool, secure: bool) -> None:
        """Raise ``PlaintextKeyRefused`` for an API key on a plaintext channel to a non-loopback target."""
        if has_key and not secure and not self.allow_plaintext_key and not is_loopback_target(target):
            raise PlaintextKeyRefused(
                f"refusing to send the API key in plaintext to {target} (not a loopback address): use --tls "
                "(with --ca-file for a private CA) or RELAYTTS_EDGE_TLS=1; on a trusted private network only, "
                "--allow-plaintext-key"
            )
