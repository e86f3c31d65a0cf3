"""docs/plugin_hooks.md documents every hook, with the arguments the hook really takes."""

import inspect
import re
from pathlib import Path

import pytest

from host import hookspecs

DOC = Path(__file__).resolve().parent.parent / "docs" / "plugin_hooks.md"
HEADING = re.compile(r"^## (\w+)\(([^)]*)\)\s*$", re.MULTILINE)


def documented_hooks() -> dict[str, list[str]]:
    return {
        name: [arg.strip() for arg in args.split(",") if arg.strip()]
        for name, args in HEADING.findall(DOC.read_text())
    }


def declared_hooks() -> dict[str, list[str]]:
    return {
        name: list(inspect.signature(function).parameters)
        for name, function in inspect.getmembers(hookspecs, inspect.isfunction)
        if hasattr(function, "connector_host_spec")
    }


def test_there_are_hooks_to_document():
    assert {"register_sources", "register_destinations", "register_mappers", "register_enrollers"} <= set(
        declared_hooks()
    )


@pytest.mark.parametrize("name", sorted(declared_hooks()))
def test_every_hook_is_documented_with_its_arguments(name):
    documented = documented_hooks()
    assert name in documented, f"{name} has no section in docs/plugin_hooks.md"
    assert documented[name] == declared_hooks()[name]


@pytest.mark.parametrize("name", sorted(declared_hooks()))
def test_every_hook_has_a_docstring(name):
    assert inspect.getdoc(getattr(hookspecs, name))


def test_no_section_documents_a_hook_that_does_not_exist():
    assert set(documented_hooks()) <= set(declared_hooks())
