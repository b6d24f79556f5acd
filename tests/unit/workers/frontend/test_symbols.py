from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from workers.frontend import symbols

SHARED_TABLE = Path(__file__).resolve().parents[5] / "shared" / "data" / "gptsovits_symbols.tsv"
VENDORED = Path(symbols.__file__).with_name(symbols.TABLE_FILE)


def test_vendored_table_is_identical_to_the_shared_one() -> None:
    if not SHARED_TABLE.is_file():
        pytest.skip(f"shared symbol table not found at {SHARED_TABLE} (../shared is absent in this checkout)")
    assert VENDORED.read_bytes() == SHARED_TABLE.read_bytes()


def test_table_has_the_v2_ids_real_models_use() -> None:
    table = symbols.symbol_table()
    assert len(table) == 732
    expected = {"!": 0, ",": 1, "-": 2, ".": 3, "?": 4, "AA": 5, "EE": 33, "OO": 66, "SP": 77, "SP2": 78,
                "SP3": 79, "UNK": 86, "_": 95, "a1": 97, "i2": 167, "n": 227, "…": 321, "[": 322, "]": 323,
                "Ya": 353, "Yz": 731}  # fmt: skip
    assert {k: table[k] for k in expected} == expected
    assert symbols.symbols()[167] == "i2"


def test_unknown_symbols_become_unk() -> None:
    ids = symbols.ids_of(["a1", "#", "not-a-symbol"])
    assert ids.dtype == np.int64
    assert ids.tolist() == [97, 86, 86]
