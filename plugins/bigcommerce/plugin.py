"""The bigcommerce plugin's hook implementations."""

from __future__ import annotations

from host.hookspecs import hookimpl
from plugins.bigcommerce import callbacks, webhooks
from plugins.bigcommerce.source import BigCommerceSource

SOURCE_NAME = BigCommerceSource.name


@hookimpl
def register_sources(register):
    register(BigCommerceSource())


@hookimpl
def register_blueprints(register):
    register(callbacks.blueprint)
    register(webhooks.blueprint)


@hookimpl
def connection_ready(connection):
    if getattr(connection, "source", None) == SOURCE_NAME:
        webhooks.on_connection_ready(connection)


@hookimpl
def connection_removed(connection):
    if getattr(connection, "source", None) == SOURCE_NAME:
        webhooks.on_connection_removed(connection)


@hookimpl
def before_sync_cycle(connection, run):
    if getattr(connection, "source", None) == SOURCE_NAME:
        webhooks.retry_if_due(connection)
