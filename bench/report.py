"""Write one benchmark's section of docs/benchmarks.md, leaving the other sections as they are."""

from __future__ import annotations

from pathlib import Path

DOC = Path(__file__).resolve().parents[1] / "docs" / "benchmarks.md"


def write_section(name: str, text: str) -> None:
    """Replace the section between ``<!-- name:start -->`` and ``<!-- name:end -->``, or append it."""
    start, end = f"<!-- {name}:start -->", f"<!-- {name}:end -->"
    current = DOC.read_text() if DOC.exists() else "# Benchmarks\n"
    section = f"{start}\n{text}\n{end}"
    if start in current and end in current:
        before, rest = current.split(start, 1)
        updated = before + section + rest.split(end, 1)[1]
    else:
        updated = current.rstrip("\n") + "\n\n" + section + "\n"
    DOC.write_text(updated)
