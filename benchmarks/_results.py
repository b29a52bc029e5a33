"""Write one ``## Section`` of benchmarks/RESULTS.md, leaving the other sections alone."""

from __future__ import annotations

import re
from pathlib import Path

RESULTS = Path(__file__).resolve().parent / "RESULTS.md"


#: A section's notes, from this heading to the section's end (dated findings written by
#: hand), are kept when its benchmark writes the section again.
NOTES = "### Notes"


def write_section(title: str, body: str) -> None:
    text = RESULTS.read_text() if RESULTS.exists() else "# Benchmark results\n"
    block = f"## {title}\n\n{body.strip()}\n\n"
    pattern = re.compile(rf"^## {re.escape(title)}\n.*?(?=^## |\Z)", re.S | re.M)

    def new(match: re.Match) -> str:
        old = match.group(0)
        at = old.find(f"\n{NOTES}\n")
        return block + (old[at + 1:].rstrip() + "\n\n" if at >= 0 else "")

    text = pattern.sub(new, text) if pattern.search(text) else \
        text.rstrip() + "\n\n" + block
    RESULTS.write_text(text.rstrip() + "\n")
