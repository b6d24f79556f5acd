"""Upstream's own phoneme ids for a public corpus (``../shared/fixtures/frontend``), checked exactly.

Every sentence is one segment in language mode all_zh / all_ja / en, as the fixture's README says. The
test reads the records and their expectations from the fixture alone, so any set made by the same
generator runs unchanged. Sentences whose golden depends on upstream's stubbed part-of-speech tagger
(``pos_dependent``) are reported in the summary and not asserted. A sentence we knowingly read differently
must be listed, with its reason, in docs/frontend.md's table of known differences.
"""

from __future__ import annotations

import json
from collections import defaultdict

import pytest

from tests.conftest import REPO_ROOT

GOLDENS = REPO_ROOT.parent / "shared" / "fixtures" / "frontend" / "goldens.jsonl"
DOCS = REPO_ROOT / "docs" / "frontend.md"

pytestmark = pytest.mark.skipif(not GOLDENS.exists(), reason=f"upstream frontend goldens absent: {GOLDENS}")


def _records() -> list[dict]:
    if not GOLDENS.exists():
        return []
    return [json.loads(line) for line in GOLDENS.read_text(encoding="utf-8").splitlines() if line.strip()]


RECORDS = _records()
#: Sentences whose golden was made with upstream's POS tagger stubbed: reported in the summary, not asserted.
CHECKED = [r for r in RECORDS if not r.get("pos_dependent")]


def _ids(frontend, record: dict) -> list[int]:
    try:
        seg = frontend.phonemize_sentence(record["text"], record["lang"])
    except Exception as exc:  # a crash is a mismatch, reported with its cause
        return [f"crash: {exc!r}"]  # type: ignore[list-item]
    return [] if seg is None else [int(i) for i in seg.ids]


def _documented_differences() -> set[str]:
    """Sentences docs/frontend.md names as known differences (a table row holding the sentence)."""
    if not DOCS.exists():
        return set()
    return {r["text"] for r in RECORDS if f"| {r['text']} |" in DOCS.read_text(encoding="utf-8")}


@pytest.mark.parametrize("record", CHECKED, ids=[f"{r['lang']}-{i:03d}" for i, r in enumerate(CHECKED)])
def test_sentence_ids_equal_upstream(frontend, record: dict) -> None:
    got = _ids(frontend, record)
    if got != record["ids"] and record["text"] in _documented_differences():
        pytest.xfail("a documented difference (docs/frontend.md)")
    from workers.frontend import symbols

    names = symbols.symbols()
    got_phones = [names[i] if isinstance(i, int) else i for i in got]
    ours, theirs = " ".join(map(str, got_phones)), " ".join(record["phones"])
    assert got == record["ids"], f"\n ours:     {ours}\n upstream: {theirs}"


def test_match_rate_per_language(frontend, capsys) -> None:
    """Prints the exact-match rate per language (pos-dependent sentences counted apart)."""
    totals: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    for record in RECORDS:
        key = record["lang"] + (" (pos-dependent)" if record.get("pos_dependent") else "")
        totals[key][0] += _ids(frontend, record) == record["ids"]
        totals[key][1] += 1
    with capsys.disabled():
        print("\nupstream frontend goldens, exact id match:")
        for key, (ok, n) in sorted(totals.items()):
            print(f"  {key:<20} {ok:>4}/{n:<4} {100 * ok / n:5.1f} %")
    assert totals, "no golden records were read"
