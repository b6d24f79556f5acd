"""Secrets never reach a log line: Redis URL passwords and bearer keys are masked."""

from __future__ import annotations

import logging

from relaytts.redact import install_log_redaction, mask_url, redact


def test_url_passwords_are_masked_and_other_text_kept():
    assert mask_url("redis://:s3cr%40t@10.0.0.2:6379/0") == "redis://:***@10.0.0.2:6379/0"
    assert mask_url("rediss://default:pw@redis:6380/1") == "rediss://default:***@redis:6380/1"
    assert mask_url("redis://127.0.0.1:6379/0") == "redis://127.0.0.1:6379/0"
    assert (
        redact("cannot reach redis://u:p@h:1/0 with Bearer abc.def-1")
        == "cannot reach redis://u:***@h:1/0 with Bearer ***"
    )


def test_installed_redaction_rewrites_records_from_any_logger(caplog):
    install_log_redaction()
    with caplog.at_level(logging.INFO):
        logging.getLogger("kombu.some.library").info("connecting to %s", "redis://:hunter2@redis:6379/0")
        logging.getLogger("x").warning("header authorization: Bearer %s", "key-0123456789")
    text = caplog.text
    assert "hunter2" not in text and "key-0123456789" not in text
    assert "redis://:***@redis:6379/0" in text
