"""Database engine and sessions: SQLite in the instance folder by default, PostgreSQL by URL."""

from __future__ import annotations

from contextlib import contextmanager
from pathlib import Path

from flask import Flask, current_app
from sqlalchemy import create_engine, event
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session, scoped_session, sessionmaker


def normalise_url(url: str, instance_path: str) -> str:
    """Fill the SQLite default and pick the psycopg 3 driver for bare PostgreSQL URLs."""
    if not url:
        return f"sqlite:///{Path(instance_path) / 'host.db'}"
    for bare in ("postgres://", "postgresql://"):
        if url.startswith(bare):
            return "postgresql+psycopg://" + url[len(bare):]
    return url


def make_engine(url: str) -> Engine:
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 30})

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_connection, _record):
            # WAL lets the pages read while a sync writes; foreign keys are off by default in SQLite.
            cursor = dbapi_connection.cursor()
            if ":memory:" not in url:
                cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute("PRAGMA busy_timeout=30000")
            cursor.close()

        return engine
    return create_engine(url, pool_pre_ping=True, pool_size=10, max_overflow=10)


class Database:
    """One engine and one thread-scoped session registry per app."""

    def __init__(self, url: str):
        self.url = url
        self.engine = make_engine(url)
        self.sessions = scoped_session(sessionmaker(self.engine, expire_on_commit=False))

    @property
    def session(self) -> Session:
        return self.sessions()

    @contextmanager
    def transaction(self):
        """A fresh session committed on success and rolled back on error (for workers and threads)."""
        session = sessionmaker(self.engine, expire_on_commit=False)()
        try:
            yield session
            session.commit()
        except BaseException:
            session.rollback()
            raise
        finally:
            session.close()


def init_app(app: Flask) -> Database:
    database = Database(normalise_url(app.config["DATABASE"].get("url", ""), app.instance_path))
    app.extensions["host.db"] = database
    app.teardown_appcontext(lambda _exc: database.sessions.remove())
    return database


def get_db() -> Database:
    return current_app.extensions["host.db"]


def db_session() -> Session:
    """The current thread's session for the running app."""
    return get_db().session
