"""The TLS flags every edge subcommand shares (``say``, ``voices ...``, ``book ...``), declared once.

``tls_options`` adds ``--tls --ca-file --server-name --client-cert --client-key --allow-plaintext-key``
and hands the command an ``edge_tls`` argument: settings overrides (``"edge.tls"`` -> value) for
``load_settings``, None where a flag was not given, so ``RELAYTTS_EDGE_*`` still applies.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Callable
from typing import Any, TypeVar

import click

__all__ = ["tls_options"]

F = TypeVar("F", bound=Callable[..., Any])

_PEM = click.Path(dir_okay=False)


def tls_options(func: F) -> F:
    """Add the TLS flags to a click command; it receives them as ``edge_tls`` (a dict of overrides)."""

    @click.option(
        "--tls",
        "tls",
        is_flag=True,
        default=None,
        help="Dial the gateway over TLS [env RELAYTTS_EDGE_TLS; implied by --ca-file].",
    )
    @click.option(
        "--ca-file",
        type=_PEM,
        default=None,
        help="PEM CA that signed the gateway's certificate [env RELAYTTS_EDGE_CA_FILE].",
    )
    @click.option(
        "--server-name",
        default=None,
        help="Name in the gateway's certificate, if not the host dialled [env RELAYTTS_EDGE_SERVER_NAME].",
    )
    @click.option(
        "--client-cert",
        type=_PEM,
        default=None,
        help="PEM client certificate for mutual TLS [env RELAYTTS_EDGE_CLIENT_CERT_FILE].",
    )
    @click.option(
        "--client-key", type=_PEM, default=None, help="PEM key of --client-cert [env RELAYTTS_EDGE_CLIENT_KEY_FILE]."
    )
    @click.option(
        "--allow-plaintext-key",
        is_flag=True,
        default=None,
        help="Send the API key without TLS to a non-loopback gateway (trusted networks only) "
        "[env RELAYTTS_EDGE_ALLOW_PLAINTEXT_KEY].",
    )
    @functools.wraps(func)
    def wrapper(
        *args: Any,  # noqa: ANN401
        tls: bool | None,
        ca_file: str | None,
        server_name: str | None,
        client_cert: str | None,
        client_key: str | None,
        allow_plaintext_key: bool | None,
        **kwargs: Any,
    ) -> Any:  # noqa: ANN401
        # gRPC core logs a failed TLS handshake to stderr itself; the command prints that failure as its one
        # error line, so core's duplicate is kept out unless the user asked for gRPC's logs.
        os.environ.setdefault("GRPC_VERBOSITY", "ERROR")
        edge_tls = {
            "edge.tls": tls,
            "edge.ca_file": ca_file,
            "edge.server_name": server_name,
            "edge.client_cert_file": client_cert,
            "edge.client_key_file": client_key,
            "edge.allow_plaintext_key": allow_plaintext_key,
        }
        return func(*args, edge_tls=edge_tls, **kwargs)

    return wrapper  # type: ignore[return-value]
