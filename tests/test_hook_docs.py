"""docs/plugin_hooks.md documents every hook, with the arguments and types the hook really takes."""

import ast
import inspect
import re
import typing
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


def typed_signature(name: str) -> str:
    """The hookspec as docs/plugin_hooks.md shows it: ``def name(arg: Type, ...) -> Return: ...``."""
    signature = inspect.signature(getattr(hookspecs, name))
    arguments = ", ".join(f"{p.name}: {p.annotation}" for p in signature.parameters.values())
    return f"def {name}({arguments}) -> {signature.return_annotation}: ..."


def section(name: str) -> str:
    text = DOC.read_text()
    start = re.search(rf"^## {name}\(", text, re.MULTILINE).end()
    following = HEADING.search(text, start)
    return text[start : following.start() if following else len(text)]


def type_checking_names() -> dict:
    """The names hookspecs.py imports under ``if TYPE_CHECKING:``, imported for real."""
    tree = ast.parse(Path(hookspecs.__file__).read_text())
    block = next(
        node for node in tree.body if isinstance(node, ast.If) and ast.unparse(node.test) == "TYPE_CHECKING"
    )
    namespace: dict = {}
    exec(compile(ast.Module(body=block.body, type_ignores=[]), hookspecs.__file__, "exec"), namespace)
    return namespace


@pytest.mark.parametrize("name", sorted(declared_hooks()))
def test_every_hookspec_is_fully_typed_and_its_types_resolve(name):
    function = getattr(hookspecs, name)
    signature = inspect.signature(function)
    assert signature.return_annotation is not inspect.Signature.empty, f"{name} has no return type"
    for parameter in signature.parameters.values():
        assert parameter.annotation is not inspect.Parameter.empty, f"{name}({parameter.name}) has no type"
    hints = typing.get_type_hints(function, localns=type_checking_names())
    assert set(hints) == {*signature.parameters, "return"}


@pytest.mark.parametrize("name", sorted(declared_hooks()))
def test_every_section_shows_the_hooks_typed_signature(name):
    assert typed_signature(name) in section(name)
