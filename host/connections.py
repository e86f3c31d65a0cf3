"""A connection's life: installed by a source, connected to a destination, removed.

Source plugins call ``install`` from their app callbacks; the connect page calls ``connect``;
"Remove connection" and the source's uninstall callback call ``remove``.
"""

from __future__ import annotations

import secrets
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from host.models import (
    Connection,
    ConnectionProblem,
    ConnectionSetting,
    DestinationJob,
    Enrolment,
    LedgerEntry,
    StreamCursor,
    WebhookEvent,
    utcnow,
)
from host.plugins import PluginHost


def find(session: Session, source: str, account: str) -> Connection | None:
    return session.scalar(
        select(Connection).where(Connection.source == source, Connection.source_account == account)
    )


def install(
    session: Session,
    *,
    source: str,
    account: str,
    store_name: str,
    store_url: str,
    secrets_: dict[str, Any],
    data: dict[str, Any],
) -> Connection:
    """Create the connection for a store, or refresh its credentials on re-install."""
    connection = find(session, source, account)
    if connection is None:
        connection = Connection(source=source, source_account=account)
        session.add(connection)
    connection.store_name = store_name
    connection.store_url = store_url
    connection.source_secrets = secrets_
    connection.source_data = data
    if connection.webhook_secret is None:
        connection.webhook_secret = {"value": secrets.token_urlsafe(32)}
    session.flush()
    return connection


def connect(
    session: Session, plugins: PluginHost, connection: Connection, destination: str, credentials: dict[str, str]
) -> Connection:
    """Check the credentials with the destination and link its account (replacing any previous one).

    Raises ``ConfigurationError`` with the destination's message when the check fails; nothing changes then.
    """
    account = plugins.destination(destination).check_credentials(credentials)
    if connection.is_connected and (connection.destination, connection.destination_account) != (
        destination,
        account.account,
    ):
        _forget_destination_state(session, connection)
    connection.destination = destination
    connection.destination_account = account.account
    connection.destination_data = account.data
    connection.destination_secrets = account.secrets
    connection.connected_at = utcnow()
    connection.sync_enabled = True
    session.flush()
    plugins.connection_ready(connection)
    return connection


def _forget_destination_state(session: Session, connection: Connection) -> None:
    """A new account knows none of what the old one was sent: start the ledger afresh."""
    for model in (LedgerEntry, StreamCursor, Enrolment, DestinationJob, ConnectionProblem):
        session.execute(delete(model).where(model.connection_id == connection.id))
    session.execute(
        delete(ConnectionSetting).where(
            ConnectionSetting.connection_id == connection.id,
            ConnectionSetting.namespace.in_(["contacts", "automation", "field_mapping"]),
        )
    )


def disconnect(session: Session, connection: Connection) -> None:
    """Unlink the destination account (e.g. to connect production instead of staging)."""
    _forget_destination_state(session, connection)
    connection.destination = None
    connection.destination_account = None
    connection.destination_data = {}
    connection.destination_secrets = None
    connection.connected_at = None
    session.flush()


def remove(session: Session, plugins: PluginHost, connection: Connection) -> None:
    """Stop syncing, let plugins delete remote state (webhooks), then purge tokens and secrets."""
    connection.sync_enabled = False
    session.flush()
    plugins.connection_removed(connection)
    session.execute(delete(WebhookEvent).where(WebhookEvent.connection_id == connection.id))
    session.delete(connection)
    session.flush()
