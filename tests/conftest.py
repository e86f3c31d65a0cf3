"""Fixtures: a fresh app and database per test, isolated environment, no real network.

They come from the plugin test kit, ``host.testing.pytest_plugin``, which pytest loads through
the package's ``pytest11`` entry point (``make install`` installs it), as a plugin author's
tests get them. Here every test, app or not, runs isolated from the shell's HOST_* variables
and without reaching anything but loopback.

The suite runs on SQLite by default and on PostgreSQL when DATABASE_URL names one: it then
creates its own database for the session and drops it at the end.
"""

from __future__ import annotations

import pytest


def pytest_configure(config):
    if not config.pluginmanager.has_plugin("connector_host"):
        raise pytest.UsageError(
            "the connector_host pytest plugin (host.testing.pytest_plugin) is not loaded: "
            "run `make install` (pip install -e '.[test]') so its entry point is registered"
        )


@pytest.fixture(autouse=True)
def guarded(isolated_environment, no_real_network):
    """Every test: no HOST_* variable from the shell, no address but loopback."""
