"""Fixtures: a fresh app and database per test, isolated environment, no real network.

The suite runs on SQLite by default and on PostgreSQL when DATABASE_URL names one: it then
creates its own database for the session and drops it at the end.
"""

from __future__ import annotations

import os
import socket
import uuid

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from host import create_app
from host.db import get_db
from host.models import Base

SERVER_DATABASE_URL = os.environ.get("DATABASE_URL", "")
LOOPBACK_PREFIXES = ("127.", "::1", "localhost")


def _postgres_admin_url(url: str):
    parsed = make_url(url)
    if parsed.drivername in ("postgresql", "postgres"):
        parsed = parsed.set(drivername="postgresql+psycopg")
    return parsed


@pytest.fixture(scope="session")
def database_server():
    """A throwaway PostgreSQL database for the session, or None for SQLite."""
    if not SERVER_DATABASE_URL.startswith("postgres"):
        yield None
        return
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


@pytest.fixture(autouse=True)
def isolated_environment(monkeypatch):
    """No HOST_* variable or DATABASE_URL from the developer's shell leaks into a test."""
    for name in list(os.environ):
        if name.startswith("HOST_") or name == "DATABASE_URL":
            monkeypatch.delenv(name)


@pytest.fixture(autouse=True)
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
def make_app(tmp_path, database_url):
    """Build an app with test settings; ``make_app(PLUGINS={...})`` overrides any section."""
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
                connection.execute(text("DROP TABLE IF EXISTS alembic_version, apscheduler_jobs"))
        database.engine.dispose()


@pytest.fixture
def app(make_app):
    app = make_app()
    with app.app_context():
        Base.metadata.create_all(get_db().engine)
    return app


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def runner(app):
    return app.test_cli_runner()
