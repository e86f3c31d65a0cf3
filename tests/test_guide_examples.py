"""The plugin developer guide's examples are true.

Runnable ones run as written, with only what the package ships: each code block after a
``<!-- run: <file> -->`` comment goes into ``<file>`` (blocks naming the same file are joined in
order) in an empty directory, and pytest runs it there. Excerpts whose first line names a file
(``# docs/examples/.../client.py``) are what that file holds, between their ``...`` lines.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

from tests.test_testing_kit import run_pytest

REPOSITORY = Path(__file__).resolve().parents[1]
GUIDE = REPOSITORY / "docs" / "plugin-developer-guide.md"
EXCERPT = re.compile(
    r"^```(?:python|toml|ini)\n# (?P<path>[\w./-]+\.(?:py|toml|cfg))\n(?P<code>.*?)^```", re.M | re.S
)
# Excerpts known to be out of date, outside the sections this check came with: fix the guide,
# then drop the entry (the strict xfail fails as soon as the excerpt is right again).
STALE: dict[str, str] = {}
RUNNABLE = re.compile(r"^<!-- run: (?P<file>[\w./-]+\.py) -->\n```python\n(?P<code>.*?)^```", re.M | re.S)


def runnable_files(text: str) -> dict[str, str]:
    files: dict[str, str] = {}
    for block in RUNNABLE.finditer(text):
        files[block["file"]] = files.get(block["file"], "") + block["code"] + "\n\n"
    return files


def defined_tests(files: dict[str, str]) -> set[str]:
    """The node ids (as the JUnit report names them) of the test functions the files define."""
    tests = set()
    for name, code in files.items():
        if Path(name).name.startswith("test_"):
            module = name.removesuffix(".py").replace("/", ".")
            tests |= {
                f"{module}.{node.name}"
                for node in ast.parse(code).body
                if isinstance(node, ast.FunctionDef) and node.name.startswith("test_")
            }
    return tests


def test_every_runnable_marker_is_followed_by_a_python_block():
    text = GUIDE.read_text()
    markers = len(re.findall(r"^<!-- run", text, re.M))
    assert markers == len(RUNNABLE.findall(text)) >= 3


def test_the_guide_points_at_nothing_the_package_does_not_ship():
    """Helpers of this repository's own tests (``tests.support``, ``tests.sync.fakes``) are not
    installed with the package: the guide names the kit's instead."""
    assert re.findall(r"\btests\.[a-z_]+", GUIDE.read_text()) == []


def test_the_guides_examples_run_as_written(tmp_path):
    files = runnable_files(GUIDE.read_text())
    tests = defined_tests(files)
    assert "conftest.py" in files and len(tests) >= 3
    project = tmp_path / "plugin_project"
    for name, code in files.items():
        (project / name).parent.mkdir(parents=True, exist_ok=True)
        (project / name).write_text(code)

    outcomes = run_pytest(project, {"HOST_SYNC__MAX_ATTEMPTS": "9"})  # the guard keeps it out
    output = outcomes.pop("_output")
    assert outcomes == dict.fromkeys(tests, "passed"), output


def excerpts():
    found = [(block["path"], block["code"]) for block in EXCERPT.finditer(GUIDE.read_text())]
    assert len(found) >= 5
    return [
        pytest.param(
            path, code, id=path,
            marks=[pytest.mark.xfail(reason=STALE[path], strict=True)] if path in STALE else [],
        )
        for path, code in found
    ]


@pytest.mark.parametrize(("path", "code"), excerpts())
def test_an_excerpt_is_what_the_file_it_names_holds(path, code):
    source = (REPOSITORY / path).read_text()
    chunks = re.split(r"^\s*\.\.\.\n", code, flags=re.M)
    for chunk in chunks:
        if chunk.strip():
            assert chunk.strip("\n") in source, f"{path} no longer holds:\n{chunk}"
