"""Database engine and sessions: SQLite in the instance folder by default, PostgreSQL by URL.

The pool is sized from ``[database]`` (``pool_size``, ``max_overflow``, ``pool_timeout``): a web
request holds at most one connection at a time, so the pool bounds how many requests touch the
database at once and the rest wait ``pool_timeout`` seconds for a turn. SQLite files hold
personal data: they are created readable by their owner only (0600).
"""

from __future__ import annotations

import os
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson
from flask import Flask, current_app
from sqlalchemy import create_engine, event
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.orm import Session, scoped_session, sessionmaker


def normalise_url(url: str, instance_path: str) -> str:
    """Fill the SQLite default and pick the psycopg 3 driver for bare PostgreSQL URLs."""
    if not url:
        return f"sqlite:///{Path(instance_path) / 'host.db'}"
    for bare in ("postgres://", "postgresql://"):
        if url.startswith(bare):
            return "postgresql+psycopg://" + url[len(bare):]
    return url


@dataclass(frozen=True)
class PoolSettings:
    """``[database] pool_size``, ``max_overflow``, ``pool_timeout`` (seconds)."""

    size: int = 10
    max_overflow: int = 20
    timeout: float = 10.0

    @classmethod
    def from_config(cls, section: dict[str, Any]) -> PoolSettings:
        default = cls()
        return cls(
            size=max(1, int(section.get("pool_size", default.size))),
            max_overflow=max(0, int(section.get("max_overflow", default.max_overflow))),
            timeout=max(0.1, float(section.get("pool_timeout", default.timeout))),
        )

    def engine_options(self) -> dict[str, Any]:
        return {"pool_size": self.size, "max_overflow": self.max_overflow, "pool_timeout": self.timeout}


def sqlite_file(url: str) -> Path | None:
    """The database file of a SQLite URL (None for in-memory databases and other dialects)."""
    if not url.startswith("sqlite"):
        return None
    database = make_url(url).database
    if not database or database == ":memory:" or database.startswith("file:"):
        return None
    return Path(database)


def create_private_file(path: Path) -> None:
    """Create ``path`` readable and writable by its owner only, or narrow an existing one to that.

    SQLite gives its ``-wal`` and ``-shm`` files the database file's mode, so they follow."""
    path.parent.mkdir(parents=True, exist_ok=True)
    descriptor = os.open(path, os.O_CREAT | os.O_RDWR, 0o600)
    try:
        if os.fstat(descriptor).st_mode & 0o077:
            os.fchmod(descriptor, 0o600)
    finally:
        os.close(descriptor)
    for suffix in ("-wal", "-shm", "-journal"):
        companion = path.with_name(path.name + suffix)
        if companion.exists() and companion.stat().st_mode & 0o077:
            companion.chmod(0o600)


SQLITE_SYNCHRONOUS = ("OFF", "NORMAL", "FULL", "EXTRA")


def make_engine(url: str, pool: PoolSettings | None = None, sqlite_synchronous: str = "NORMAL") -> Engine:
    pool = pool or PoolSettings()
    synchronous = sqlite_synchronous.upper()
    if synchronous not in SQLITE_SYNCHRONOUS:
        raise ValueError(f"[database] sqlite_synchronous must be one of {', '.join(SQLITE_SYNCHRONOUS)}")
    if url.startswith("sqlite"):
        options: dict[str, Any] = {}
        path = sqlite_file(url)
        if path is not None:
            create_private_file(path)
            options = pool.engine_options()  # a file database gets a QueuePool; memory ones do not
        engine = create_engine(
            url, connect_args={"check_same_thread": False, "timeout": 30}, **JSON_CODEC, **options
        )

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_connection, _record):
            # WAL lets the pages read while a sync writes; foreign keys are off by default in SQLite.
            cursor = dbapi_connection.cursor()
            if ":memory:" not in url:
                cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute("PRAGMA busy_timeout=30000")
            cursor.execute(f"PRAGMA synchronous={synchronous}")
            cursor.close()

        return engine
    return create_engine(url, pool_pre_ping=True, **JSON_CODEC, **pool.engine_options())


def _json_text(value: Any) -> str:
    return orjson.dumps(value, option=orjson.OPT_NON_STR_KEYS).decode()


# JSON columns (profiles, outbox payloads, run counts) are written and read for every record of
# a sync: orjson does it several times faster than the json module, with the same values back.
JSON_CODEC: dict[str, Any] = {"json_serializer": _json_text, "json_deserializer": orjson.loads}


class Database:
    """One engine and one thread-scoped session registry per app."""

    def __init__(self, url: str, pool: PoolSettings | None = None, sqlite_synchronous: str = "NORMAL"):
        self.url = url
        self.engine = make_engine(url, pool, sqlite_synchronous)
        self.make_session = sessionmaker(self.engine, expire_on_commit=False)
        self.sessions = scoped_session(self.make_session)

    @property
    def session(self) -> Session:
        return self.sessions()

    @contextmanager
    def transaction(self):
        """A fresh session committed on success and rolled back on error (for workers and threads)."""
        session = self.make_session()
        try:
            yield session
            session.commit()
        except BaseException:
            session.rollback()
            raise
        finally:
            session.close()


def init_app(app: Flask) -> Database:
    section = app.config["DATABASE"]
    database = Database(
        normalise_url(section.get("url", ""), app.instance_path),
        PoolSettings.from_config(section),
        str(section.get("sqlite_synchronous", "NORMAL")),
    )
    app.extensions["host.db"] = database
    app.teardown_appcontext(lambda _exc: database.sessions.remove())
    return database


def get_db() -> Database:
    return current_app.extensions["host.db"]


def db_session() -> Session:
    """The current thread's session for the running app."""
    return get_db().session
