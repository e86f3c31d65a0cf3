"""Write one benchmark's section of docs/benchmarks.md (or another doc), leaving the other sections as they are."""

from __future__ import annotations

from pathlib import Path

DOC = Path(__file__).resolve().parents[1] / "docs" / "benchmarks.md"


def write_section(name: str, text: str, doc: Path = DOC, title: str = "Benchmarks") -> None:
    """Replace the section between ``<!-- name:start -->`` and ``<!-- name:end -->`` of ``doc``
    (docs/benchmarks.md unless told), or append it (under ``# title`` in a new file)."""
    start, end = f"<!-- {name}:start -->", f"<!-- {name}:end -->"
    current = doc.read_text() if doc.exists() else f"# {title}\n"
    section = f"{start}\n{text}\n{end}"
    if start in current and end in current:
        before, rest = current.split(start, 1)
        updated = before + section + rest.split(end, 1)[1]
    else:
        updated = current.rstrip("\n") + "\n\n" + section + "\n"
    doc.write_text(updated)
