"""Configuration: config/default.toml, then the file named by HOST_CONFIG, then HOST_* variables.

Sections become upper-case Flask config keys (``[sync]`` → ``app.config["SYNC"]``), so
``test_config`` can override any of them the same way.
"""

from __future__ import annotations

import copy
import os
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from flask import current_app

DEFAULT_CONFIG = Path(__file__).resolve().parent.parent / "config" / "default.toml"
ENV_PREFIX = "HOST_"


class ConfigError(RuntimeError):
    """The configuration cannot be used; the message says which setting and why."""


def deep_merge(base: dict, override: Mapping) -> dict:
    """Return ``base`` updated by ``override``, merging nested tables instead of replacing them."""
    merged = copy.deepcopy(base)
    for key, value in override.items():
        if isinstance(value, Mapping) and isinstance(merged.get(key), dict):
            merged[key] = deep_merge(merged[key], value)
        else:
            merged[key] = copy.deepcopy(value)
    return merged


def _parse_env_value(raw: str) -> Any:
    """Read ``true``, ``5`` or ``["a"]`` as TOML values; anything else stays a string."""
    try:
        return tomllib.loads(f"value = {raw}")["value"]
    except tomllib.TOMLDecodeError:
        return raw


def _from_environment(environ: Mapping[str, str]) -> dict:
    overrides: dict = {}
    for name, raw in environ.items():
        if not name.startswith(ENV_PREFIX) or name == "HOST_CONFIG":
            continue
        path = [part.lower() for part in name[len(ENV_PREFIX):].split("__")]
        table = overrides
        for part in path[:-1]:
            table = table.setdefault(part, {})
        table[path[-1]] = _parse_env_value(raw)
    if environ.get("DATABASE_URL"):
        overrides.setdefault("database", {})["url"] = environ["DATABASE_URL"]
    return overrides


def resolve_env_references(value: Any, environ: Mapping[str, str]) -> Any:
    """Replace ``{ env = "NAME" }`` tables with the variable's value, so secrets stay out of files."""
    if isinstance(value, dict):
        if set(value) == {"env"}:
            name = value["env"]
            if name not in environ:
                raise ConfigError(f"configuration refers to environment variable {name}, which is not set")
            return environ[name]
        return {key: resolve_env_references(item, environ) for key, item in value.items()}
    return value


def load_settings(environ: Mapping[str, str] | None = None) -> dict:
    """Merge the three layers of settings into one nested dict (lower-case sections)."""
    environ = os.environ if environ is None else environ
    with DEFAULT_CONFIG.open("rb") as handle:
        settings = tomllib.load(handle)
    extra = environ.get("HOST_CONFIG")
    if extra:
        try:
            with open(extra, "rb") as handle:
                settings = deep_merge(settings, tomllib.load(handle))
        except OSError as error:
            raise ConfigError(f"HOST_CONFIG names {extra}, which cannot be read: {error}") from error
        except tomllib.TOMLDecodeError as error:
            raise ConfigError(f"HOST_CONFIG file {extra} is not valid TOML: {error}") from error
    settings = deep_merge(settings, _from_environment(environ))
    return resolve_env_references(settings, environ)


def plugin_config(name: str) -> dict:
    """The ``[plugins.<name>]`` table of the running app (empty when absent)."""
    section = current_app.config["PLUGINS"].get(name, {})
    return section if isinstance(section, dict) else {}
