"""The kit's pytest fixtures, loaded in every pytest run once connector-host is installed (the
``pytest11`` entry point ``connector_host``; ``-p no:connector_host`` turns them off).

Fixtures:

- ``make_app``: ``make_app(**config)`` builds a host app for this test: instance folder under
  ``tmp_path``, its own SQLite database (PostgreSQL when ``DATABASE_URL`` names one, see
  ``database_server``), scheduler off, CSRF on, loopback public URL. Keyword arguments override
  configuration sections (merged into the defaults): ``PLUGINS={"my_shop": {"base_url": url}}``,
  ``PLUGINS={"enabled": [...]}``, ``SYNC={"max_attempts": 3}``; ``PLUGIN_MODULES=[obj]``
  registers throwaway plugin objects (``host.testing.FakeDestinationPlugin()``). No tables are
  created: ``host.testing.create_schema(app)`` does it (the ``app`` fixture has them).
- ``app``: ``make_app()`` with the schema created; ``client``: its test client; ``runner``: its
  CLI runner (``runner.invoke(args=["my-command", ...])``).
- ``no_real_network``: only loopback addresses may be connected to, anything else raises.
- ``isolated_environment``: no ``HOST_*`` variable or ``DATABASE_URL`` of your shell leaks in.

``make_app`` uses the last two, so every test that builds an app has them. To guard tests that
build none (a client against a fake), make them autouse in your ``conftest.py``::

    @pytest.fixture(autouse=True)
    def _guards(no_real_network, isolated_environment):
        pass
"""

from __future__ import annotations

import os
import socket
import uuid

import pytest

LOOPBACK_PREFIXES = ("127.", "::1", "localhost")
# Read once, when pytest starts: ``isolated_environment`` removes it from each test's environment.
SERVER_DATABASE_URL = os.environ.get("DATABASE_URL", "")


def _postgres_admin_url(url: str):
    from sqlalchemy.engine import make_url

    parsed = make_url(url)
    if parsed.drivername in ("postgresql", "postgres"):
        parsed = parsed.set(drivername="postgresql+psycopg")
    return parsed


@pytest.fixture(scope="session")
def database_server():
    """A throwaway PostgreSQL database for the session when ``DATABASE_URL`` names a
    PostgreSQL server (dropped at the end), or None for SQLite."""
    if not SERVER_DATABASE_URL.startswith("postgres"):
        yield None
        return
    from sqlalchemy import create_engine, text

    admin_url = _postgres_admin_url(SERVER_DATABASE_URL)
    name = f"connector_host_test_{uuid.uuid4().hex[:10]}"
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield admin_url.set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture
def isolated_environment(monkeypatch):
    """No HOST_* variable or DATABASE_URL from the developer's shell leaks into a test."""
    for name in list(os.environ):
        if name.startswith("HOST_") or name == "DATABASE_URL":
            monkeypatch.delenv(name)


@pytest.fixture
def no_real_network(monkeypatch):
    """Only loopback addresses may be reached; the real services never are."""
    real_connect = socket.socket.connect

    def guarded_connect(self, address):
        host = address[0] if isinstance(address, tuple) else str(address)
        if isinstance(host, str) and not host.startswith(LOOPBACK_PREFIXES) and self.family != socket.AF_UNIX:
            raise RuntimeError(f"tests may not reach {host}: use the emulators on loopback")
        return real_connect(self, address)

    monkeypatch.setattr(socket.socket, "connect", guarded_connect)


@pytest.fixture
def database_url(database_server, tmp_path):
    return database_server or f"sqlite:///{tmp_path / 'host.db'}"


@pytest.fixture
def make_app(tmp_path, database_url, isolated_environment, no_real_network):
    """Build an app with test settings; ``make_app(PLUGINS={...})`` overrides any section."""
    from sqlalchemy import text

    from host import create_app
    from host.models import Base

    made = []

    def factory(**overrides):
        config = {
            "TESTING": True,
            "INSTANCE_PATH": str(tmp_path / "instance"),
            "DATABASE": {"url": database_url},
            "SCHEDULER": {"enabled": False},
            # Tests serve the host on loopback http: the admin's development opt-out allows it
            # (a test of the public URL check passes its own HOST section, without it).
            "HOST": {"public_url": "http://127.0.0.1:5000", "allow_insecure_public_url": True},
            "WTF_CSRF_ENABLED": True,
        }
        config.update(overrides)
        app = create_app(config)
        made.append(app)
        return app

    yield factory
    for app in made:
        database = app.extensions["host.db"]
        database.sessions.remove()
        if database.engine.dialect.name == "postgresql":
            Base.metadata.drop_all(database.engine)
            with database.engine.begin() as connection:
                # and the tables others keep in it: migrations, the schedule, Celery's task states
                connection.execute(text(
                    "DROP TABLE IF EXISTS alembic_version, apscheduler_jobs, celery_taskmeta, celery_tasksetmeta"
                ))
        database.engine.dispose()


@pytest.fixture
def app(make_app):
    """``make_app()`` with the host's tables created."""
    from host.testing.connections import create_schema

    app = make_app()
    create_schema(app)
    return app


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def runner(app):
    return app.test_cli_runner()
