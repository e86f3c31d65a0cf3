"""One plugin manager for built-in and third-party plugins alike.

Every plugin, built-ins included, is found through the ``connector_host.plugins`` entry-point
group and loaded only when the configuration allows it. ``check_pending`` makes a misspelled
hook implementation fail at start-up instead of silently never being called. Core code goes
through ``PluginHost``'s typed methods, never raw ``pm.hook`` calls.

The host trusts plugins no further than it must:

- What plugins register (sources, destinations, mappers, enrollers) is collected at start-up,
  one plugin at a time, so a name two plugins claim stops start-up naming both, instead of one
  silently replacing the other; a source or destination must carry its entry point's name.
- Lifecycle notifications (``connection_ready``, ``connection_removed``, ``before_sync_cycle``,
  ``after_sync_cycle``) call each plugin's implementation on its own: one that raises is
  logged, with its traceback, and the others are still called.

Both call ``HookCaller.get_hookimpls()`` one implementation at a time, in pluggy's own calling
order, rather than the hook itself: pluggy stops a hook call at the first implementation that
raises (a hookwrapper or ``add_hookcall_monitoring`` sees the error, but only after the rest
were skipped), and a single call cannot say which plugin registered what. Calling
implementations one by one cannot honour wrappers, so the host's hooks take none.
"""

from __future__ import annotations

import inspect
import logging
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from functools import cached_property
from importlib.metadata import EntryPoint, entry_points
from types import ModuleType
from typing import TYPE_CHECKING, Any

import pluggy

from host import hookspecs
from host.config import ConfigError
from host.incidents import log_unexpected

if TYPE_CHECKING:
    from host.destinations import Destination
    from host.enrolments import Enroller
    from host.mapping import Mapper
    from host.sources import Source

ENTRY_POINT_GROUP = "connector_host.plugins"
HOOKS = tuple(
    name
    for name, function in inspect.getmembers(hookspecs, inspect.isfunction)
    if hasattr(function, f"{hookspecs.PROJECT}_spec")
)
# register hook → (kind, the attribute naming what it adds, how a message names one)
NAMED_REGISTRATIONS = {
    "register_sources": ("source", "name", "a source named"),
    "register_destinations": ("destination", "name", "a destination named"),
    "register_mappers": ("mapper", "destination", "a mapper for destination"),
    "register_enrollers": ("enroller", "name", "an enroller named"),
}
NAMED_AFTER_ENTRY_POINT = ("source", "destination")  # admins enable them, and settings live, by that name
KINDS = ("source", "destination", "mapper", "enroller")

log = logging.getLogger(__name__)


class PluginError(ConfigError):
    """An installed plugin cannot be used as it is; the message names the plugin(s) and says why."""


@dataclass(frozen=True)
class PluginInfo:
    """What ``flask --app host plugins`` shows of one enabled plugin."""

    name: str
    distribution: str | None  # None: not installed from a distribution (e.g. a test's object)
    version: str  # "unknown" when there is no distribution to ask
    kinds: tuple[str, ...]  # among KINDS, or ("other",)
    hooks: tuple[str, ...]


def available_plugins() -> dict[str, Callable[[], Any]]:
    """Installed plugins by name, each with a loader (nothing is imported yet)."""
    return {ep.name: ep.load for ep in _entry_points()}


def _entry_points() -> dict[str, EntryPoint]:
    return {ep.name: ep for ep in entry_points(group=ENTRY_POINT_GROUP)}


def _call(impl: pluggy.HookImpl, kwargs: dict[str, Any]) -> Any:
    """One implementation, given the arguments it asks for (as pluggy's own call does)."""
    return impl.function(*(kwargs[name] for name in impl.argnames))


def _connection_id(connection: Any) -> Any:
    """The connection's id for a log line, or None: after_sync_cycle may get a row deleted
    under the cycle, which cannot load its id (and must not make the notification raise)."""
    try:
        return getattr(connection, "id", None)
    except Exception:
        return None


class PluginHost:
    """The plugin manager and a typed facade over its hooks.

    Sources, destinations, mappers and enrollers are collected at start-up (here), so a
    conflict between plugins stops start-up; settings tabs and blueprints at first use.
    """

    def __init__(self, plugin_settings: dict, extra_plugins: Iterable[ModuleType | object] = ()):
        self.pm = pluggy.PluginManager(hookspecs.PROJECT)
        self.pm.add_hookspecs(hookspecs)
        installed = _entry_points()
        enabled = list(plugin_settings.get("enabled") or [])
        disabled = list(plugin_settings.get("disabled") or [])
        unknown = sorted({*enabled, *disabled} - installed.keys())
        if unknown:
            raise ConfigError(
                f"unknown plugin name(s) in [plugins] config: {', '.join(unknown)}; "
                f"installed plugins are: {', '.join(sorted(installed))}"
            )
        self.entry_points: dict[str, EntryPoint] = {}  # the enabled ones, by plugin name
        self.not_enabled: list[str] = []
        for name, entry_point in sorted(installed.items()):
            if (enabled and name not in enabled) or name in disabled:
                self.pm.set_blocked(name)
                self.not_enabled.append(name)
                continue
            self.pm.register(entry_point.load(), name=name)
            self.entry_points[name] = entry_point
        for plugin in extra_plugins:
            self.pm.register(plugin)
        self.pm.check_pending()
        self._refuse_wrappers()
        self._kinds: dict[str, set[str]] = defaultdict(set)  # plugin name → kinds it registered
        self.sources: dict[str, Source] = self._collect_named("register_sources")
        self.destinations: dict[str, Destination] = self._collect_named("register_destinations")
        self.mappers: dict[str, Mapper] = self._collect_named("register_mappers")
        self.enrollers: list[Enroller] = list(self._collect_named("register_enrollers").values())

    # ------------------------------------------------------------------ start-up checks
    def label(self, plugin_name: str) -> str:
        """How messages name a plugin: its entry-point name, or what the object calls itself."""
        if plugin_name in self.entry_points:
            return plugin_name
        plugin = self.pm.get_plugin(plugin_name)
        return getattr(plugin, "__name__", None) or type(plugin).__name__

    def _impls(self, hook_name: str) -> list[pluggy.HookImpl]:
        """The hook's implementations in the order pluggy itself calls them."""
        return list(reversed(getattr(self.pm.hook, hook_name).get_hookimpls()))

    def _refuse_wrappers(self) -> None:
        for hook_name in HOOKS:
            for impl in self._impls(hook_name):
                if impl.hookwrapper or impl.wrapper:
                    raise PluginError(
                        f"plugin {self.label(impl.plugin_name)!r} implements {hook_name} as a wrapper; "
                        "the host calls each plugin's implementation on its own, so its hooks take no wrappers"
                    )

    def _collect(self, hook_name: str) -> list[tuple[str, Any]]:
        """(plugin name, thing) for each ``register(thing)`` call, one plugin at a time."""
        found: list[tuple[str, Any]] = []
        for impl in self._impls(hook_name):
            added: list[Any] = []
            try:
                _call(impl, {"register": added.append})
            except Exception as error:
                raise PluginError(
                    f"plugin {self.label(impl.plugin_name)!r} raised {error.__class__.__name__} in {hook_name} "
                    "(the error above); disable it in [plugins] or fix it"
                ) from error
            found.extend((impl.plugin_name, item) for item in added)
        return found

    def _collect_named(self, hook_name: str) -> dict[str, Any]:
        """What a ``register_*`` hook adds, by name: a name claimed twice, or a source or
        destination not named after its entry point, stops start-up."""
        kind, attribute, called = NAMED_REGISTRATIONS[hook_name]
        claimed: dict[str, tuple[str, Any]] = {}
        for plugin_name, item in self._collect(hook_name):
            label = self.label(plugin_name)
            name = getattr(item, attribute, None)
            if not isinstance(name, str) or not name:
                raise PluginError(
                    f"plugin {label!r} registered a {kind} ({type(item).__qualname__}) without a {attribute}"
                )
            if kind in NAMED_AFTER_ENTRY_POINT and plugin_name in self.entry_points and name != plugin_name:
                raise PluginError(
                    f"plugin {label!r} registers {called} {name!r}, but its entry point is named {plugin_name!r}: "
                    f"a {kind} must be named after its plugin's entry point in the {ENTRY_POINT_GROUP} group "
                    f"(it is the name admins enable and its settings live under)"
                )
            if name in claimed:
                first = self.label(claimed[name][0])
                if first == label and claimed[name][0] == plugin_name:
                    raise PluginError(f"plugin {label!r} registers {called} {name!r} twice")
                one, other = sorted([first, label])
                raise PluginError(
                    f"plugins {one!r} and {other!r} both register {called} {name!r}; "
                    "disable one of them in the [plugins] configuration"
                )
            claimed[name] = (plugin_name, item)
            self._kinds[plugin_name].add(kind)
        return {name: item for name, (_, item) in claimed.items()}

    # ------------------------------------------------------------------ what is enabled
    def plugin_names(self) -> list[str]:
        return sorted(name for name, plugin in self.pm.list_name_plugin() if plugin is not None)

    def describe(self) -> list[PluginInfo]:
        """Every enabled plugin: its distribution and version, the kinds it adds, its hooks."""
        infos = []
        for name, plugin in self.pm.list_name_plugin():
            if plugin is None:
                continue
            entry_point = self.entry_points.get(name)
            dist = entry_point.dist if entry_point is not None else None
            hooks = sorted(caller.name for caller in self.pm.get_hookcallers(plugin) or [])
            infos.append(
                PluginInfo(
                    name=self.label(name),
                    distribution=dist.name if dist is not None else None,
                    version=dist.version if dist is not None else "unknown",
                    kinds=tuple(kind for kind in KINDS if kind in self._kinds[name]) or ("other",),
                    hooks=tuple(hooks),
                )
            )
        return sorted(infos, key=lambda info: info.name)

    @cached_property
    def settings_tabs(self) -> list:
        return [item for _, item in self._collect("register_settings_tabs")]

    @cached_property
    def blueprints(self) -> list:
        return [item for _, item in self._collect("register_blueprints")]

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
        for impl in self._impls("register_commands"):
            try:
                _call(impl, {"cli": cli})
            except Exception as error:
                raise PluginError(
                    f"plugin {self.label(impl.plugin_name)!r} raised {error.__class__.__name__} in "
                    "register_commands (the error above); disable it in [plugins] or fix it"
                ) from error

    # ------------------------------------------------------------------ lifecycle notifications
    def _notify(self, hook_name: str, **kwargs: Any) -> None:
        """Call every plugin's implementation; one that raises is logged and the rest still run.

        The log names the plugin and the hook, with the traceback and a reference; the
        arguments themselves (a connection and its secrets) are never logged, only the
        connection's id."""
        for impl in self._impls(hook_name):
            try:
                _call(impl, kwargs)
            except Exception as error:
                connection_id = _connection_id(kwargs.get("connection"))
                log_unexpected(
                    log,
                    error,
                    "plugin %r failed in %s%s; the host carries on and still calls the other plugins",
                    self.label(impl.plugin_name),
                    hook_name,
                    f" for connection {connection_id}" if connection_id is not None else "",
                )

    def connection_ready(self, connection) -> None:
        self._notify("connection_ready", connection=connection)

    def connection_removed(self, connection) -> None:
        self._notify("connection_removed", connection=connection)

    def before_sync_cycle(self, connection, run) -> None:
        self._notify("before_sync_cycle", connection=connection, run=run)

    def after_sync_cycle(self, connection, run) -> None:
        self._notify("after_sync_cycle", connection=connection, run=run)


def get_plugins() -> PluginHost:
    from flask import current_app

    return current_app.extensions["host.plugins"]
