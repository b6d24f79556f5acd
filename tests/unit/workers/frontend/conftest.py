"""Fixtures for the text-frontend tests: one Frontend per session (its dictionaries load once)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

DATA = Path(__file__).parent / "data"


def corpus(lang: str) -> list[dict]:
    """The entries (header line skipped) of ``data/<lang>.jsonl``."""
    lines = (DATA / f"{lang}.jsonl").read_text(encoding="utf-8").splitlines()
    return [json.loads(line) for line in lines[1:] if line.strip()]


@pytest.fixture(scope="session")
def frontend():
    from workers.frontend import Frontend

    return Frontend()
