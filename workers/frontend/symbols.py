"""The GPT-SoVITS v2 phoneme-id table, vendored as ``symbols_v2.tsv`` beside this module.

Real checkpoints were trained with these exact ids, so the table is data, not code: it is read from
the TSV (id, symbol, source lists) once, on first use. Symbols that are not in the table map to
``UNK`` (id 86), as upstream does.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Mapping
from importlib import resources

import numpy as np

__all__ = ["PAD", "PUNCTUATION", "SP2", "SP3", "UNK", "id_of", "ids_of", "symbol_table", "symbols"]

TABLE_FILE = "symbols_v2.tsv"
"""Package-data file holding the table; identical to ``shared/data/gptsovits_symbols.tsv``."""

UNK = "UNK"
PAD = "_"
SP2 = "SP2"
SP3 = "SP3"
PUNCTUATION = ("!", "?", "…", ",", ".", "-")
"""The six punctuation symbols every language's G2P may emit."""


@functools.cache
def symbol_table() -> Mapping[str, int]:
    """Return symbol → id for all 732 v2 symbols (read once from the vendored TSV)."""
    text = resources.files(__package__).joinpath(TABLE_FILE).read_text(encoding="utf-8")
    table: dict[str, int] = {}
    for line in text.splitlines():
        if not line or line.startswith("#") or line.startswith("id\t"):
            continue
        ident, symbol = line.split("\t")[:2]
        table[symbol] = int(ident)
    return table


@functools.cache
def symbols() -> tuple[str, ...]:
    """Return the symbols in id order (``symbols()[i]`` has id ``i``)."""
    table = symbol_table()
    ordered = [""] * len(table)
    for symbol, ident in table.items():
        ordered[ident] = symbol
    return tuple(ordered)


def id_of(symbol: str) -> int:
    """Return the id of ``symbol``, or the id of ``UNK`` when the table lacks it."""
    table = symbol_table()
    return table.get(symbol, table[UNK])


def ids_of(phones: Iterable[str]) -> np.ndarray:
    """Map phone symbols to an int64 id array (unknown symbols become ``UNK``)."""
    table = symbol_table()
    unk = table[UNK]
    return np.fromiter((table.get(p, unk) for p in phones), dtype=np.int64)
