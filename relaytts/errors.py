"""The one error family of relaytts.

Every expected failure is a ``RelayError``. Each class carries the gRPC status code the gateway
answers with (as the code's name, so this module stays stdlib-only) and a stable ``reason`` that
doubles as the ``reason`` label of the error counter. The CLI prints ``str(error)`` as one line.

    RelayError                      INTERNAL
    ├── InvalidArgument             INVALID_ARGUMENT
    │   └── CheckpointError         INVALID_ARGUMENT   unreadable / wrong-kind checkpoint file
    │       └── UnsupportedModelVersion                v1, v3, v4 ... named in the message
    ├── NotFound                    NOT_FOUND
    │   └── VoiceNotFound
    ├── PermissionDenied            PERMISSION_DENIED
    │   └── Unauthenticated         UNAUTHENTICATED     missing or unknown API key
    ├── Overloaded                  RESOURCE_EXHAUSTED
    ├── Unavailable                 UNAVAILABLE         Redis/broker/gateway unreachable, stream not resumable
    │   ├── QueueTimeout                                no chunk within the gateway's queue timeout
    │   └── DeadlineExceeded        DEADLINE_EXCEEDED   no answer within the client's timeout
    ├── BundleError                 FAILED_PRECONDITION  bad or tampered model bundle
    │   └── BundleMismatch                               edge and cloud graphs do not belong together
    └── JobCancelled                CANCELLED
"""

from __future__ import annotations

__all__ = [
    "BundleError",
    "BundleMismatch",
    "CheckpointError",
    "DeadlineExceeded",
    "InvalidArgument",
    "JobCancelled",
    "NotFound",
    "Overloaded",
    "PermissionDenied",
    "QueueTimeout",
    "RelayError",
    "Unauthenticated",
    "Unavailable",
    "UnsupportedModelVersion",
    "VoiceNotFound",
]


class RelayError(Exception):
    """Base of every expected relaytts failure."""

    code: str = "INTERNAL"
    reason: str = "internal"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class InvalidArgument(RelayError):
    code = "INVALID_ARGUMENT"
    reason = "invalid_argument"


class CheckpointError(InvalidArgument):
    """A checkpoint file that cannot be read as what it was given as."""

    reason = "bad_checkpoint"

    def __init__(self, path: object, problem: str) -> None:
        super().__init__(f"{path}: {problem}")
        self.path = path
        self.problem = problem


class UnsupportedModelVersion(CheckpointError):
    reason = "unsupported_model_version"


class NotFound(RelayError):
    code = "NOT_FOUND"
    reason = "not_found"


class VoiceNotFound(NotFound):
    reason = "voice_not_found"


class PermissionDenied(RelayError):
    code = "PERMISSION_DENIED"
    reason = "permission_denied"


class Unauthenticated(PermissionDenied):
    code = "UNAUTHENTICATED"
    reason = "unauthenticated"


class Overloaded(RelayError):
    code = "RESOURCE_EXHAUSTED"
    reason = "overloaded"


class Unavailable(RelayError):
    code = "UNAVAILABLE"
    reason = "unavailable"


class QueueTimeout(Unavailable):
    reason = "queue_timeout"


class DeadlineExceeded(Unavailable):
    code = "DEADLINE_EXCEEDED"
    reason = "deadline_exceeded"


class BundleError(RelayError):
    code = "FAILED_PRECONDITION"
    reason = "bad_bundle"


class BundleMismatch(BundleError):
    reason = "bundle_mismatch"


class JobCancelled(RelayError):
    code = "CANCELLED"
    reason = "cancelled"
