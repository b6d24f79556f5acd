"""Client transport security: which targets are loopback, and no key in plaintext elsewhere."""

from __future__ import annotations

import pytest

from edge_client.client import Client
from edge_client.tls import PlaintextKeyRefused, TransportSecurity, is_loopback_target
from relaytts.errors import InvalidArgument


@pytest.mark.parametrize(
    ("target", "loopback"),
    [
        ("127.0.0.1:50051", True),
        ("localhost:1", True),
        ("[::1]:50051", True),
        ("ipv4:127.0.0.2:5", True),
        ("10.0.0.1:50051", False),
        ("gateway.example:443", False),
        ("dns:///gateway.example:443", False),
        ("0.0.0.0:50051", False),
    ],
)
def test_loopback_targets(target, loopback):
    assert is_loopback_target(target) is loopback


def test_a_key_is_refused_in_plaintext_off_loopback_and_allowed_when_told(tmp_path):
    with pytest.raises(PlaintextKeyRefused, match="refusing to send the API key in plaintext to 10.0.0.1:50051"):
        Client("10.0.0.1:50051", api_key="secret", cache_dir=tmp_path)
    Client("10.0.0.1:50051", cache_dir=tmp_path).close()  # no key: nothing to protect
    Client("127.0.0.1:50051", api_key="secret", cache_dir=tmp_path).close()
    Client(
        "10.0.0.1:50051", api_key="secret", cache_dir=tmp_path, security=TransportSecurity(allow_plaintext_key=True)
    ).close()
    Client("10.0.0.1:50051", api_key="secret", cache_dir=tmp_path, security=TransportSecurity(tls=True)).close()


def test_bad_tls_options_are_one_clear_error(tmp_path):
    with pytest.raises(InvalidArgument, match="cannot read"):
        TransportSecurity(ca_file=str(tmp_path / "absent.pem")).credentials()
    (tmp_path / "x.pem").write_text("not pem")
    with pytest.raises(InvalidArgument, match="not a PEM file"):
        TransportSecurity(ca_file=str(tmp_path / "x.pem")).credentials()
    with pytest.raises(InvalidArgument, match="given together"):
        TransportSecurity(tls=True, client_cert_file="c.pem").credentials()
