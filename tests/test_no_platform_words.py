"""The host speaks of no platform (#16): every platform lives in its plugin.

Checked: every file under ``host/`` (Python, templates, static assets, anything else; file
names too) for the platform names ``PLATFORM`` matches, case-insensitive: bigcommerce,
engagement cloud / engagement_cloud / engagement-cloud, dotdigital.

What is allowed, and only this:

- in a Python file, an occurrence inside a **comment** (a ``#`` token) or inside a
  **docstring** (the string that is the first statement of a module, class or function) — the
  prose that explains the host with an example ("BigCommerce's remove_user", say) and that
  nothing renders, logs or compares. Not the docstring of a function decorated as a command
  (``@click.command``, ``@group.command(...)``): click shows it as the command's ``--help``. Any
  other string (an f-string, a message, SQL, a default value), a name, a keyword argument:
  refused;
- in templates, static files and every other file: nothing (they are shown or served);
- ``EXEMPT`` files, each with its reason; an exemption whose file no longer names a platform
  fails too, so the list only shrinks.
"""

from __future__ import annotations

import ast
import io
import re
import tokenize
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
HOST = ROOT / "host"
PLATFORM = re.compile(r"big\s*commerce|engagement[\s_-]*cloud|dot\s*digital", re.IGNORECASE)
EXEMPT = {
    # An applied migration is history: it already ran on the databases it was written for, and
    # editing it would change what a database upgraded from 0002 gets. It fails that platform's
    # waiting webhook events whose record id the platform refuses.
    "host/migrations/versions/0003_hostile_world.py": "a data migration of one platform's waiting events",
}


def _offsets(source: str) -> list[int]:
    """The offset of each line's first character (line 1 at index 1)."""
    starts, total = [0, 0], 0
    for line in source.splitlines(keepends=True):
        total += len(line)
        starts.append(total)
    return starts


def _is_command(node: ast.AST) -> bool:
    """A function decorated with ``command`` / ``group`` (``@click.command("x")``, ``@cli.command()``)."""
    for decorator in getattr(node, "decorator_list", []):
        target = decorator.func if isinstance(decorator, ast.Call) else decorator
        name = target.attr if isinstance(target, ast.Attribute) else getattr(target, "id", "")
        if name in ("command", "group"):
            return True
    return False


def allowed_spans(source: str) -> list[tuple[int, int]]:
    """(start, end) character offsets of the comments and docstrings of a Python source."""
    starts = _offsets(source)
    lines = source.splitlines(keepends=True)
    spans = []
    for token in tokenize.generate_tokens(io.StringIO(source).readline):
        if token.type == tokenize.COMMENT:
            spans.append((starts[token.start[0]] + token.start[1], starts[token.end[0]] + token.end[1]))

    def char_offset(line: int, byte_col: int) -> int:  # ast columns count UTF-8 bytes
        return starts[line] + len(lines[line - 1].encode()[:byte_col].decode())

    for node in ast.walk(ast.parse(source)):
        if _is_command(node):
            continue  # its docstring is the command's --help text
        if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef) and node.body:
            first = node.body[0]
            if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant) and isinstance(first.value.value, str):
                spans.append((char_offset(first.lineno, first.col_offset),
                              char_offset(first.end_lineno, first.end_col_offset)))
    return spans


def violations(text: str, *, python: bool) -> list[tuple[int, str]]:
    """(line number, line) of every platform name outside what ``python`` files may hold."""
    spans = allowed_spans(text) if python else []
    lines = text.splitlines()
    found = []
    for match in PLATFORM.finditer(text):
        if any(start <= match.start() and match.end() <= end for start, end in spans):
            continue
        number = text.count("\n", 0, match.start()) + 1
        found.append((number, lines[number - 1].strip()))
    return found


def host_files() -> list[Path]:
    return sorted(path for path in HOST.rglob("*")
                  if path.is_file() and "__pycache__" not in path.parts and path.suffix != ".pyc")


def test_the_checker_refuses_code_and_allows_only_comments_and_docstrings():
    source = '''"""Module docstring: a BigCommerce store hash."""
# a comment on Engagement Cloud
SOURCE = "bigcommerce"


def explain():
    """dotdigital, in a docstring."""
    note = """not a docstring: engagement_cloud"""
    return f"{SOURCE} and Engagement  Cloud", note  # and a comment: dotdigital


class BigCommerceThing:
    """Docstring of a class."""

    title: str = "Dot Digital"


@cli.command("sync")
def sync_command():
    """Sync a BigCommerce store: click shows this as --help."""
'''
    assert [number for number, _ in violations(source, python=True)] == [3, 8, 9, 12, 15, 20]
    assert violations("<h1>Connect your Engagement Cloud account</h1>\n{# BigCommerce #}", python=False) == [
        (1, "<h1>Connect your Engagement Cloud account</h1>"), (2, "{# BigCommerce #}")]


def test_there_are_files_of_each_kind_to_check():
    suffixes = {path.suffix for path in host_files()}
    assert {".py", ".html", ".css", ".js"} <= suffixes


@pytest.mark.parametrize("path", host_files(), ids=lambda path: str(path.relative_to(ROOT)))
def test_no_platform_is_named_in_the_host(path):
    relative = str(path.relative_to(ROOT))
    assert not PLATFORM.search(relative), f"{relative}: a platform's name in a host file's name"
    if relative in EXEMPT:
        return
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError:  # binary (an image): its bytes, as text
        text = path.read_bytes().decode("latin-1")
        found = violations(text, python=False)
    else:
        found = violations(text, python=path.suffix == ".py")
    assert not found, f"{relative} names a platform outside comments and docstrings:\n" + "\n".join(
        f"  line {number}: {line}" for number, line in found)


@pytest.mark.parametrize("relative", sorted(EXEMPT))
def test_an_exempt_file_still_needs_its_exemption(relative):
    path = ROOT / relative
    assert path.is_file(), f"{relative} is exempt but gone: drop it from EXEMPT"
    assert violations(path.read_text(), python=False), f"{relative} names no platform now: drop it from EXEMPT"
