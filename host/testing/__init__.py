"""Test helpers any plugin may import; the fixtures come with the pytest plugin.

- ``host.testing.pytest_plugin`` (loaded by pytest through the ``pytest11`` entry point
  ``connector_host``): the ``make_app``, ``app``, ``client``, ``runner``, ``no_real_network``
  and ``isolated_environment`` fixtures.
- ``serve(app)``: a WSGI app (a fake of your platform) on a loopback port, as a context manager.
- ``FakeDestination``, ``FakeMapper``, ``FakeDestinationPlugin``: an in-memory destination
  (``fake_dest``) that records what it receives.
- ``install``, ``connect``, ``load_connection``, ``sync``, ``ledger``, ``create_schema``: a
  connection installed, attached to a destination, synced and checked in one call each.
- ``host.testing.source_conformance``: the source conformance suite (``SourceConformance``).
"""

from host.testing.connections import (
    connect,
    create_schema,
    install,
    ledger,
    load_connection,
    sync,
)
from host.testing.destination import FakeDestination, FakeDestinationPlugin, FakeMapper
from host.testing.server import serve

__all__ = [
    "FakeDestination",
    "FakeDestinationPlugin",
    "FakeMapper",
    "connect",
    "create_schema",
    "install",
    "ledger",
    "load_connection",
    "serve",
    "sync",
]
