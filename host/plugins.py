"""One plugin manager for built-in and third-party plugins alike.

Every plugin, built-ins included, is found through the ``connector_host.plugins`` entry-point
group and loaded only when the configuration allows it. ``check_pending`` makes a misspelled
hook implementation fail at start-up instead of silently never being called. Core code goes
through ``PluginHost``'s typed methods, never raw ``pm.hook`` calls.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from functools import cached_property
from importlib.metadata import entry_points
from types import ModuleType
from typing import TYPE_CHECKING, Any

import pluggy

from host import hookspecs
from host.config import ConfigError

if TYPE_CHECKING:
    from host.destinations import Destination
    from host.mapping import Mapper
    from host.sources import Source

ENTRY_POINT_GROUP = "connector_host.plugins"


def available_plugins() -> dict[str, Callable[[], Any]]:
    """Installed plugins by name, each with a loader (nothing is imported yet)."""
    return {ep.name: ep.load for ep in entry_points(group=ENTRY_POINT_GROUP)}


def _collect(hook) -> list:
    found: list = []
    hook(register=found.append)
    return found


class PluginHost:
    """The plugin manager and a typed facade over its hooks.

    What plugins register is collected once, at first use: registration is start-up work.
    """

    def __init__(self, plugin_settings: dict, extra_plugins: Iterable[ModuleType | object] = ()):
        self.pm = pluggy.PluginManager(hookspecs.PROJECT)
        self.pm.add_hookspecs(hookspecs)
        installed = available_plugins()
        enabled = list(plugin_settings.get("enabled") or [])
        disabled = list(plugin_settings.get("disabled") or [])
        unknown = sorted({*enabled, *disabled} - installed.keys())
        if unknown:
            raise ConfigError(
                f"unknown plugin name(s) in [plugins] config: {', '.join(unknown)}; "
                f"installed plugins are: {', '.join(sorted(installed))}"
            )
        for name, load in sorted(installed.items()):
            if (enabled and name not in enabled) or name in disabled:
                self.pm.set_blocked(name)
                continue
            self.pm.register(load(), name=name)
        for plugin in extra_plugins:
            self.pm.register(plugin)
        self.pm.check_pending()

    def plugin_names(self) -> list[str]:
        return sorted(name for name, plugin in self.pm.list_name_plugin() if plugin is not None)

    @cached_property
    def sources(self) -> dict[str, Source]:
        return {source.name: source for source in _collect(self.pm.hook.register_sources)}

    @cached_property
    def destinations(self) -> dict[str, Destination]:
        return {item.name: item for item in _collect(self.pm.hook.register_destinations)}

    @cached_property
    def mappers(self) -> dict[str, Mapper]:
        return {item.destination: item for item in _collect(self.pm.hook.register_mappers)}

    @cached_property
    def enrollers(self) -> list:
        return _collect(self.pm.hook.register_enrollers)

    @cached_property
    def settings_tabs(self) -> list:
        return _collect(self.pm.hook.register_settings_tabs)

    @cached_property
    def blueprints(self) -> list:
        return _collect(self.pm.hook.register_blueprints)

    def source(self, name: str) -> Source:
        try:
            return self.sources[name]
        except KeyError:
            raise ConfigError(f"no enabled source plugin is named {name!r}") from None

    def destination(self, name: str) -> Destination:
        try:
            return self.destinations[name]
        except KeyError:
            raise ConfigError(f"no enabled destination plugin is named {name!r}") from None

    def mapper_for(self, destination: str) -> Mapper:
        try:
            return self.mappers[destination]
        except KeyError:
            raise ConfigError(f"no enabled mapper writes for destination {destination!r}") from None

    def add_commands(self, cli) -> None:
        self.pm.hook.register_commands(cli=cli)

    def connection_ready(self, connection) -> None:
        self.pm.hook.connection_ready(connection=connection)

    def connection_removed(self, connection) -> None:
        self.pm.hook.connection_removed(connection=connection)

    def before_sync_cycle(self, connection, run) -> None:
        self.pm.hook.before_sync_cycle(connection=connection, run=run)

    def after_sync_cycle(self, connection, run) -> None:
        self.pm.hook.after_sync_cycle(connection=connection, run=run)


def get_plugins() -> PluginHost:
    from flask import current_app

    return current_app.extensions["host.plugins"]
