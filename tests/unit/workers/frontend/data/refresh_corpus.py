"""Re-take the snapshot entries of the frontend corpus after a deliberate frontend change.

    python tests/unit/workers/frontend/data/refresh_corpus.py [--check]

Entries marked ``"checked": "hand"`` were worked out by hand from the rules in
``docs/frontend.md`` and are never rewritten: the script stops if the frontend disagrees with one.
``"checked": "upstream"`` entries hold upstream GPT-SoVITS's own output and are never rewritten either.
``"checked": "snapshot"`` entries are rewritten from the current frontend (review the diff!).
``--check`` only reports differences.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

HERE = Path(__file__).parent
FILES = ("zh.jsonl", "en.jsonl", "ja.jsonl")


def read(path: Path) -> tuple[dict, list[dict]]:
    """Return (header, entries) of one corpus file."""
    lines = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    return lines[0], lines[1:]


def write(path: Path, header: dict, entries: list[dict]) -> None:
    """Write one corpus file: header line, then one entry per line."""
    body = [json.dumps(header, ensure_ascii=False)] + [json.dumps(e, ensure_ascii=False) for e in entries]
    path.write_text("\n".join(body) + "\n", encoding="utf-8")


def phonemize_entry(frontend, entry: dict) -> list[dict]:  # noqa: ANN001 - workers.frontend.Frontend
    """The segments the frontend gives for one entry, in corpus form."""
    return [
        {"norm": s.norm_text, "symbols": " ".join(s.symbols)} for s in frontend.phonemize(entry["text"], entry["lang"])
    ]


def main(check: bool) -> int:
    """Refresh (or with ``check`` only compare) every corpus file; return the number of differences."""
    from workers.frontend import Frontend

    frontend = Frontend()
    differences = 0
    for name in FILES:
        header, entries = read(HERE / name)
        for entry in entries:
            got = phonemize_entry(frontend, entry)
            if [g["symbols"] for g in got] == [s["symbols"] for s in entry["segments"]] and got == entry["segments"]:
                continue
            differences += 1
            print(f"{name}: {entry['text']!r}\n  had {entry['segments']}\n  got {got}")
            if entry["checked"] in ("hand", "upstream"):
                print(f"  ^ {entry['checked']}-checked entry: fix the frontend (or re-check it against upstream)")
                continue
            if not check:
                entry["segments"] = got
        if not check:
            write(HERE / name, header, entries)
    return differences


if __name__ == "__main__":
    sys.exit(1 if main("--check" in sys.argv) and "--check" in sys.argv else 0)
