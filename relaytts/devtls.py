"""A development CA and certificates for ``relaytts up --tls`` and the tests (never for production).

``ensure_dev_tls(directory)`` writes, once, a private CA (``ca.pem``), a gateway certificate for
``localhost``, ``127.0.0.1`` and ``::1`` (``server.pem``, ``server-key.pem``) and a client certificate
for mutual TLS (``client.pem``, ``client-key.pem``); later calls reuse them while they are valid.
Private keys are written mode 0600. Production certificates come from a real CA (cert-manager in
``deploy/k8s``). ``cryptography`` is imported here only: the runtime packages never need it.
"""

from __future__ import annotations

import datetime
import ipaddress
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

from relaytts.errors import InvalidArgument

__all__ = ["DevTls", "ensure_dev_tls"]

VALID_DAYS: Final = 365
RENEW_BEFORE_DAYS: Final = 7
"""Certificates expiring sooner than this are written anew."""
DEFAULT_NAMES: Final = ("localhost", "127.0.0.1", "::1")


@dataclass(frozen=True)
class DevTls:
    """Paths of the development CA and the certificates it signed."""

    directory: Path

    @property
    def ca(self) -> Path:
        return self.directory / "ca.pem"

    @property
    def server_cert(self) -> Path:
        return self.directory / "server.pem"

    @property
    def server_key(self) -> Path:
        return self.directory / "server-key.pem"

    @property
    def client_cert(self) -> Path:
        return self.directory / "client.pem"

    @property
    def client_key(self) -> Path:
        return self.directory / "client-key.pem"


def _crypto() -> Any:  # noqa: ANN401 - the cryptography modules
    try:
        from cryptography import x509
        from cryptography.hazmat.primitives import hashes, serialization
        from cryptography.hazmat.primitives.asymmetric import ec
        from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
    except ImportError:
        raise InvalidArgument(
            "a development CA needs the `cryptography` package: pip install cryptography "
            "(or give the gateway real certificates with RELAYTTS_GATEWAY_TLS_CERT_FILE/KEY_FILE)"
        ) from None
    return x509, hashes, serialization, ec, ExtendedKeyUsageOID, NameOID


def _write_private(path: Path, data: bytes) -> None:
    # Created 0600 from the start: a key must never exist world-readable, not even for a moment.
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as out:
        out.write(data)
    os.chmod(path, 0o600)  # an existing file keeps its old mode through O_CREAT


def _still_valid(paths: DevTls, names: tuple[str, ...]) -> bool:
    x509 = _crypto()[0]
    files = (paths.ca, paths.server_cert, paths.server_key, paths.client_cert, paths.client_key)
    if not all(p.is_file() for p in files):
        return False
    try:
        cert = x509.load_pem_x509_certificate(paths.server_cert.read_bytes())
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except (ValueError, x509.ExtensionNotFound):
        return False
    have = {str(n) for n in san.get_values_for_type(x509.DNSName)}
    have |= {str(n) for n in san.get_values_for_type(x509.IPAddress)}
    renew_at = datetime.datetime.now(datetime.UTC) + datetime.timedelta(days=RENEW_BEFORE_DAYS)
    return set(names) <= have and cert.not_valid_after_utc > renew_at


def ensure_dev_tls(directory: str | Path, names: tuple[str, ...] = DEFAULT_NAMES) -> DevTls:
    """The development CA and certificates in ``directory``, written when missing, expiring or lacking a name."""
    paths = DevTls(Path(directory))
    if _still_valid(paths, names):
        return paths
    x509, hashes, serialization, ec, eku, name_oid = _crypto()
    paths.directory.mkdir(parents=True, exist_ok=True)
    now = datetime.datetime.now(datetime.UTC)

    def pem_key(key: Any) -> bytes:  # noqa: ANN401
        return key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )

    def builder(subject: str, issuer: str, public_key: Any) -> Any:  # noqa: ANN401
        return (
            x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(name_oid.COMMON_NAME, subject)]))
            .issuer_name(x509.Name([x509.NameAttribute(name_oid.COMMON_NAME, issuer)]))
            .public_key(public_key)
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + datetime.timedelta(days=VALID_DAYS))
        )

    ca_name = "relaytts development CA"
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_cert = (
        builder(ca_name, ca_name, ca_key.public_key())
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(False, False, False, False, False, True, True, False, False), critical=True
        )  # keyCertSign + cRLSign only
        .sign(ca_key, hashes.SHA256())
    )
    sans: list[Any] = []
    for name in names:
        try:
            sans.append(x509.IPAddress(ipaddress.ip_address(name)))
        except ValueError:
            sans.append(x509.DNSName(name))

    def leaf(subject: str, usage: Any, san: list[Any] | None) -> tuple[bytes, bytes]:  # noqa: ANN401
        key = ec.generate_private_key(ec.SECP256R1())
        b = builder(subject, ca_name, key.public_key()).add_extension(
            x509.BasicConstraints(ca=False, path_length=None), critical=True
        )
        b = b.add_extension(x509.ExtendedKeyUsage([usage]), critical=False)
        if san:
            b = b.add_extension(x509.SubjectAlternativeName(san), critical=False)
        cert = b.sign(ca_key, hashes.SHA256())
        return cert.public_bytes(serialization.Encoding.PEM), pem_key(key)

    server_pem, server_key = leaf("relaytts gateway (development)", eku.SERVER_AUTH, sans)
    client_pem, client_key = leaf("relaytts edge (development)", eku.CLIENT_AUTH, None)
    # The CA key is not kept: nothing else is ever signed with it, so it cannot leak.
    paths.ca.write_bytes(ca_cert.public_bytes(serialization.Encoding.PEM))
    paths.server_cert.write_bytes(server_pem)
    _write_private(paths.server_key, server_key)
    paths.client_cert.write_bytes(client_pem)
    _write_private(paths.client_key, client_key)
    return paths
