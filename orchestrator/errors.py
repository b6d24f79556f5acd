"""Gateway-only members of the ``RelayError`` family (candidates for ``relaytts/errors.py``).

    RelayError                      (relaytts.errors)
    ├── Unauthenticated             UNAUTHENTICATED   missing or unknown API key
    └── Unavailable                 UNAVAILABLE       Redis or the broker cannot be reached
        └── QueueTimeout                              no chunk within ``queue_timeout_seconds``

They carry a gRPC code name and a ``reason`` exactly like the shared classes, so the error
interceptor maps and counts them the same way.
"""

from __future__ import annotations

from relaytts.errors import RelayError

__all__ = ["QueueTimeout", "Unauthenticated", "Unavailable"]


class Unauthenticated(RelayError):
    code = "UNAUTHENTICATED"
    reason = "unauthenticated"


class Unavailable(RelayError):
    code = "UNAVAILABLE"
    reason = "unavailable"


class QueueTimeout(Unavailable):
    reason = "queue_timeout"
