"""Emulator modes: where a reference says UNCONFIRMED, which reading the emulator plays.

The vendors' documentation leaves some behaviours open (``../shared/reference/*.md`` marks them
UNCONFIRMED). An emulator that always picks the lenient reading lets a client pass tests it
would fail on the real service, so each such behaviour is a *mode*: a named field of the
emulator's ``Modes`` dataclass with the readings it can play, the first being the default.
The client must be correct in every mode; the tests run each one.

A mode is chosen, in increasing precedence, by its default, by the environment variable
named by the emulator (``BIGCOMMERCE_EMULATOR_MODES``, ``ENGAGEMENT_CLOUD_EMULATOR_MODES``:
``name=value,name=value``, so a whole suite can be run in one mode), by ``create_app(modes=...)``,
and at run time by ``GET|PATCH /_emulator/modes``.
"""

from __future__ import annotations

import os
import typing
from collections.abc import Callable
from dataclasses import asdict, fields, replace
from typing import Any, TypeVar

from flask import Response, jsonify, make_response, request

M = TypeVar("M")


class ModeError(ValueError):
    """An unknown mode or a value the mode does not allow."""


def choices(modes_class: type, name: str) -> tuple[Any, ...] | None:
    """The values a mode allows (its ``Literal``), or None for a free value (an int, a bool)."""
    hint = typing.get_type_hints(modes_class)[name]
    if typing.get_origin(hint) is typing.Literal:
        return typing.get_args(hint)
    return None


def updated(modes: M, changes: dict[str, Any]) -> M:
    """``modes`` with ``changes`` applied, each checked against its field's type."""
    known = {f.name: f for f in fields(modes)}
    hints = typing.get_type_hints(type(modes))
    checked: dict[str, Any] = {}
    for name, value in changes.items():
        if name not in known:
            raise ModeError(f"unknown mode {name!r}; modes: {', '.join(known)}")
        allowed = choices(type(modes), name)
        if allowed is not None:
            if value not in allowed:
                raise ModeError(f"mode {name} must be one of {', '.join(map(str, allowed))}, not {value!r}")
        elif hints[name] is bool:
            if isinstance(value, str):
                if value.lower() not in ("true", "false", "1", "0", "yes", "no", "on", "off"):
                    raise ModeError(f"mode {name} must be true or false, not {value!r}")
                value = value.lower() in ("true", "1", "yes", "on")
            elif not isinstance(value, bool):
                raise ModeError(f"mode {name} must be true or false, not {value!r}")
        elif hints[name] is int:
            try:
                value = int(value)
            except (TypeError, ValueError):
                raise ModeError(f"mode {name} must be a whole number, not {value!r}") from None
        checked[name] = value
    return replace(modes, **checked)


def parse(text: str) -> dict[str, str]:
    """``"a=b,c=d"`` → ``{"a": "b", "c": "d"}`` (blank → ``{}``)."""
    pairs: dict[str, str] = {}
    for item in filter(None, (part.strip() for part in text.split(","))):
        name, sep, value = item.partition("=")
        if not sep:
            raise ModeError(f"a mode is written name=value, not {item!r}")
        pairs[name.strip()] = value.strip()
    return pairs


def resolve(modes_class: type[M], env_var: str, given: M | dict[str, Any] | None) -> M:
    """Defaults, then the environment, then what ``create_app`` was given."""
    modes = updated(modes_class(), parse(os.environ.get(env_var, "")))
    if given is None:
        return modes
    return updated(modes, given if isinstance(given, dict) else asdict(given))


def describe(modes: Any) -> dict[str, Any]:
    """What ``GET /_emulator/modes`` answers: each mode's value and the values it allows."""
    return {
        f.name: {"value": getattr(modes, f.name), "choices": list(choices(type(modes), f.name) or [])}
        for f in fields(modes)
    }


def control_view(get: Callable[[], Any], put: Callable[[Any], None]) -> Callable[[], Response]:
    """The ``GET|PATCH /_emulator/modes`` view: PATCH ``{"name": value}`` changes modes at run
    time (422 naming the mode for a bad one); both answer ``describe``."""

    def modes_view() -> Response:
        if request.method == "PATCH":
            body = request.get_json(silent=True)
            if not isinstance(body, dict):
                return make_response(jsonify({"error": "send a JSON object of modes"}), 422)
            try:
                put(updated(get(), body))
            except ModeError as error:
                return make_response(jsonify({"error": str(error)}), 422)
        return jsonify(describe(get()))

    return modes_view
