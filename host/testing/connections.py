"""Connections for a test: install a source account, attach a destination, choose settings.

A merchant does this through the pages (install callback, Connect, Store tab); a test does it in
one call, through the same functions the pages use (``host.connections.install`` and
``host.connections.connect``, so ``check_credentials`` and ``connection_ready`` run as in
production), then saves the merchant's choices in the settings namespaces the sync reads
(``host.settings``: ``contacts``, ``automation``, ``field_mapping``).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from host import connections
from host.db import get_db
from host.models import Base, Connection
from host.settings import save_settings


def create_schema(app) -> None:
    """Create the host's tables in the app's database (what ``flask --app host db upgrade``
    does for a deployment)."""
    with app.app_context():
        Base.metadata.create_all(get_db().engine)


def install(
    app,
    source: str,
    account: str,
    *,
    store_name: str | None = None,
    store_url: str | None = None,
    secrets: Mapping[str, Any] | None = None,
    data: Mapping[str, Any] | None = None,
) -> int:
    """Install ``account`` of ``source`` as the source's install callback would (or refresh it);
    answer the connection id."""
    with app.app_context(), get_db().transaction() as session:
        return _install(session, source, account, store_name=store_name, store_url=store_url,
                        secrets=secrets, data=data).id


def _install(
    session,
    source: str,
    account: str,
    *,
    store_name: str | None = None,
    store_url: str | None = None,
    secrets: Mapping[str, Any] | None = None,
    data: Mapping[str, Any] | None = None,
) -> Connection:
    return connections.install(
        session,
        source=source,
        account=account,
        store_name=store_name if store_name is not None else account,
        store_url=store_url if store_url is not None else f"https://{account}.example.test",
        secrets_=dict(secrets or {}),
        data=dict(data or {}),
    )


def connect(
    app,
    source: str,
    account: str,
    *,
    destination: str = "fake_dest",
    credentials: Mapping[str, str] | None = None,
    contacts: Mapping[str, Any] | None = None,
    automation: Mapping[str, Any] | None = None,
    field_mapping: Mapping[str, Any] | None = None,
    connected_at: datetime | None = None,
) -> int:
    """Attach ``destination`` to the connection of ``account`` (installed first with
    ``install``'s defaults when it does not exist yet); answer the connection id.

    ``credentials`` go to the destination's ``check_credentials`` as the Connect page's form
    would (``FakeDestination`` accepts any). ``contacts``, ``automation`` and ``field_mapping``
    are saved in those settings namespaces, e.g. ``contacts={"customers_book_id": "B-1",
    "subscribers_book_id": "B-2"}``: without books chosen no contact is sent. ``connected_at``
    backdates the connection (records created before it start no enrolment programs).
    """
    with app.app_context(), get_db().transaction() as session:
        connection = connections.find(session, source, account) or _install(session, source, account)
        plugins = app.extensions["host.plugins"]
        connections.connect(session, plugins, connection, destination, dict(credentials or {}))
        if connected_at is not None:
            connection.connected_at = connected_at
        for namespace, values in (
            ("contacts", contacts),
            ("automation", automation),
            ("field_mapping", field_mapping),
        ):
            if values is not None:
                save_settings(session, connection, namespace, dict(values))
        return connection.id


def load_connection(app, connection_id: int) -> Connection | None:
    """The connection row as it is now (detached: read it, change it through a session)."""
    with app.app_context(), get_db().transaction() as session:
        return session.get(Connection, connection_id)


def sync(app, connection_id: int, *, full: bool = False):
    """Run one sync cycle of the connection now, as the scheduler would; answer its ``SyncRun``
    (``.status``: ``finished``, ``partial`` or ``failed``), or None when it could not start."""
    from host.sync import run_cycle

    with app.app_context():
        return run_cycle(connection_id, full=full)


def ledger(app, connection_id: int) -> dict[tuple[str, str], tuple[str, str | None]]:
    """What the host knows it sent: ``{(kind, source id): (state, reason)}`` from the ledger,
    e.g. ``{("customer_contact", "ada@example.com"): ("synced", None)}``; states are
    ``synced``, ``pending``, ``excluded`` and ``failed`` (with the destination's reason)."""
    from sqlalchemy import select

    from host.models import LedgerEntry

    with app.app_context(), get_db().transaction() as session:
        rows = session.scalars(select(LedgerEntry).where(LedgerEntry.connection_id == connection_id))
        return {(row.kind, row.source_id): (row.state, row.reason) for row in rows}
