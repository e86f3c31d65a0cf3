"""A connected fake store per test: ``world.sync()`` runs one cycle inside the app."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

import pytest
from sqlalchemy import select

from host.db import get_db
from host.models import Connection, Enrolment, EnrolmentCall, LedgerEntry
from host.settings import save_settings
from host.sync import run_cycle
from host.sync.cursors import parse_time
from host.testing import connect, create_schema
from tests.sync.fakes import CONNECTED_AT, FakePlugin

PROGRAMS = {
    "new_customer_program_id": "P-customer",
    "new_subscriber_program_id": "P-subscriber",
    "first_order_program_id": "P-first-order",
}


@dataclass
class World:
    app: object
    plugin: FakePlugin
    connection_id: int

    @property
    def store(self):
        return self.plugin.source

    @property
    def destination(self):
        return self.plugin.destination

    def sync(self, **kwargs):
        with self.app.app_context():
            return run_cycle(self.connection_id, **kwargs)

    def save(self, namespace: str, values: dict) -> None:
        with self.app.app_context(), get_db().transaction() as session:
            save_settings(session, session.get(Connection, self.connection_id), namespace, values)

    def update_connection(self, **values) -> None:
        with self.app.app_context(), get_db().transaction() as session:
            connection = session.get(Connection, self.connection_id)
            for key, value in values.items():
                setattr(connection, key, value)

    def query(self, statement):
        with self.app.app_context(), get_db().transaction() as session:
            return list(session.scalars(statement))

    def ledger(self, kind: str, source_id: str) -> LedgerEntry | None:
        rows = self.query(
            select(LedgerEntry).where(LedgerEntry.kind == kind, LedgerEntry.source_id == source_id)
        )
        return rows[0] if rows else None

    def query_last_sync(self):
        return self.query(select(Connection.last_sync_at))[0]

    def enrolments(self) -> list[Enrolment]:
        return self.query(select(Enrolment).order_by(Enrolment.id))

    def time_passes(self, *, minutes: float) -> None:
        """Move the enrolments' clock: what waited ``minutes`` is due, calls are older."""
        delta = timedelta(minutes=minutes)
        with self.app.app_context(), get_db().transaction() as session:
            for row in session.scalars(select(Enrolment)):
                row.due_at = row.due_at and row.due_at - delta
                row.sent_at = row.sent_at and row.sent_at - delta
                row.created_at = row.created_at - delta
                row.expires_at = row.expires_at and row.expires_at - delta
            for call in session.scalars(select(EnrolmentCall)):
                call.made_at = call.made_at - delta


@pytest.fixture
def world(make_app):
    return make_world(make_app)


def make_world(make_app) -> World:
    """A fake store connected to a fake destination, books and programs chosen (also used by
    the Store tab's tests)."""
    plugin = FakePlugin()
    app = make_app(
        PLUGIN_MODULES=[plugin], PLUGINS={"enabled": ["enrolments"]}, SYNC={"max_attempts": 3, "enrolment_interval_seconds": 0}
    )
    create_schema(app)
    connection_id = connect(  # installed and connected as the pages do (host.testing)
        app,
        "fake_store",
        "store-1",
        destination="fake_dest",
        credentials={"password": "secret"},
        contacts={"customers_book_id": "B-customers", "subscribers_book_id": "B-subscribers"},
        automation=PROGRAMS,
        connected_at=parse_time(CONNECTED_AT),
    )
    return World(app, plugin, connection_id)
