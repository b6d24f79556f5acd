"""Keep secrets out of messages and logs: Redis URL passwords and bearer keys.

``mask_url`` is for the places that print a URL on purpose (start-up lines, "cannot reach Redis at
..."). ``install_log_redaction`` is the net under them: called by each process's CLI, it rewrites any
log record whose text carries ``scheme://user:password@`` or ``Bearer <key>``, so a library that logs
a URL or a header (Celery, kombu, redis-py) cannot leak one.
"""

from __future__ import annotations

import logging
import re
from typing import Final

__all__ = ["RedactingFilter", "install_log_redaction", "mask_url", "redact"]

MASK: Final = "***"
#: ``scheme://[user]:password@``: the password is everything up to the last ``@`` of the authority.
_URL_PASSWORD: Final = re.compile(r"(?P<head>[A-Za-z][A-Za-z0-9+.-]*://[^:/@\s]*:)[^@/\s]+@")
_BEARER: Final = re.compile(r"(?P<head>\b[Bb]earer\s+)[^\s'\",)]+")


def mask_url(url: str) -> str:
    """``redis://user:secret@host:6379/0`` -> ``redis://user:***@host:6379/0``; other text unchanged."""
    return _URL_PASSWORD.sub(rf"\g<head>{MASK}@", url)


def redact(text: str) -> str:
    """``text`` with URL passwords and bearer keys replaced by ``***``."""
    return _BEARER.sub(rf"\g<head>{MASK}", mask_url(text))


class RedactingFilter(logging.Filter):
    """Rewrites a record's message (arguments applied) when it carries a secret; never drops a record."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a bad format string: leave it to the handler to report
            return True
        clean = redact(message)
        if clean != message:
            record.msg, record.args = clean, None
        if record.exc_text:
            record.exc_text = redact(record.exc_text)
        return True


_installed = False


def install_log_redaction() -> None:
    """Redact every log record this process creates from now on (idempotent).

    A record factory, not a handler filter: Celery replaces the root logger's handlers when its
    worker starts, and forked pool children inherit the factory with everything else.
    """
    global _installed
    if _installed:
        return
    _installed = True
    make_record = logging.getLogRecordFactory()
    redacting = RedactingFilter()

    def factory(*args: object, **kwargs: object) -> logging.LogRecord:
        record = make_record(*args, **kwargs)
        redacting.filter(record)
        return record

    logging.setLogRecordFactory(factory)
