"""The gRPC gateway: auth, validation, job creation, Celery enqueue and the Redis-stream relay.

``build_server(settings)`` -> ``(server, port)`` for tests and embedding; ``serve(settings)`` runs it
until SIGINT/SIGTERM. Submodules load on first use, so importing the package (the CLI does) is cheap.
"""

from __future__ import annotations

from typing import Any

__all__ = ["GatewayDeps", "build_server", "serve", "stop_server"]


def __getattr__(name: str) -> Any:  # noqa: ANN401
    if name in __all__:
        from orchestrator import server

        return getattr(server, name)
    raise AttributeError(f"module 'orchestrator' has no attribute {name!r}")
