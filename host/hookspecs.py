"""Every extension point of the host. Each hook is documented in docs/plugin_hooks.md.

Plugins add things by calling ``register(...)`` once per thing, so one plugin may add several
(a source and its settings tab, say). Lifecycle hooks are notifications: every implementation
is called and results are ignored.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

import pluggy

if TYPE_CHECKING:
    import click
    from flask import Blueprint

    from host.destinations import Destination
    from host.enrolments import Enroller
    from host.mapping import Mapper
    from host.models import Connection, SyncRun
    from host.sources import Source
    from host.web.tabs import SettingsTab

PROJECT = "connector_host"
hookspec = pluggy.HookspecMarker(PROJECT)
hookimpl = pluggy.HookimplMarker(PROJECT)


@hookspec
def register_sources(register: Callable[[Source], None]) -> None:
    """Add source connectors: call ``register(source)`` with a ``host.sources.Source`` each."""


@hookspec
def register_destinations(register: Callable[[Destination], None]) -> None:
    """Add destination connectors: call ``register(destination)`` with a ``host.destinations.Destination`` each."""


@hookspec
def register_mappers(register: Callable[[Mapper], None]) -> None:
    """Add mappers: call ``register(mapper)`` with a ``host.mapping.Mapper`` each."""


@hookspec
def register_enrollers(register: Callable[[Enroller], None]) -> None:
    """Add enrollers: call ``register(enroller)`` with a ``host.enrolments.Enroller`` each."""


@hookspec
def register_settings_tabs(register: Callable[[SettingsTab], None]) -> None:
    """Add merchant settings tabs: call ``register(tab)`` with a ``host.web.tabs.SettingsTab`` each."""


@hookspec
def register_blueprints(register: Callable[[Blueprint], None]) -> None:
    """Add web routes (app callbacks, webhook receivers, tab pages): call ``register(blueprint)``."""


@hookspec
def register_commands(cli: click.Group) -> None:
    """Add ``flask --app host`` commands to the click group ``cli``."""


@hookspec
def connection_ready(connection: Connection) -> None:
    """A connection's destination was connected: set up remote state (e.g. register webhooks)."""


@hookspec
def connection_removed(connection: Connection) -> None:
    """A connection is being removed: delete remote state (e.g. webhooks) before secrets are purged."""


@hookspec
def before_sync_cycle(connection: Connection, run: SyncRun) -> None:
    """A sync cycle for ``connection`` is about to start; ``run`` is its ``SyncRun`` row."""


@hookspec
def after_sync_cycle(connection: Connection, run: SyncRun) -> None:
    """A sync cycle ended; ``run.status`` says how, ``run.counts`` what it did."""
