"""XREAD reply shapes (the relay itself runs against real Redis in tests/unit/orchestrator/test_gateway_service.py)."""

from __future__ import annotations

from orchestrator.streams import xread_entries

ENTRIES = [(b"1-0", {b"c": b"x"}), (b"2-0", {b"c": b"y"})]


def test_every_reply_shape_gives_the_entries():
    assert xread_entries([[b"k", ENTRIES]]) == ENTRIES  # RESP2
    assert xread_entries({b"k": [ENTRIES]}) == ENTRIES  # RESP3
    assert xread_entries({b"k": ENTRIES}) == ENTRIES  # RESP3, unified parser
    assert xread_entries(None) == xread_entries([]) == xread_entries({}) == []
