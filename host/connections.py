"""A connection's life: installed by a source, connected to a destination, removed.

Source plugins call ``install`` from their app callbacks; the connect page calls ``connect``;
"Remove connection" and the source's uninstall callback call ``remove``.

Each may happen while a cycle or the fast lane runs: the connection row changes at once, the
work stops at its next page boundary, and the old account's sync state is forgotten by whoever
holds the connection's lease (``host.sync.forget`` explains how).
"""

from __future__ import annotations

import secrets
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from host.models import Connection, ConnectionSetting, WebhookEvent, utcnow
from host.plugins import PluginHost
from host.sync.forget import forget_account_state, forget_when_free


def find(session: Session, source: str, account: str) -> Connection | None:
    return session.scalar(
        select(Connection).where(Connection.source == source, Connection.source_account == account)
    )


def find_by_account(session: Session, account: str, source: str | None = None) -> Connection:
    """The connection of ``account`` (from ``source`` when given), for commands an admin types.

    Two sources may each have a store with the same account id: without ``source`` that is refused
    (``LookupError`` naming the sources) rather than one picked silently. ``LookupError``'s message
    says what is wrong in an admin's words."""
    query = select(Connection).where(Connection.source_account == account).order_by(Connection.source)
    found = list(session.scalars(query))
    if source is not None:
        chosen = [connection for connection in found if connection.source == source]
        if chosen:
            return chosen[0]
        others = ", ".join(connection.source for connection in found)
        raise LookupError(
            f"no connection for store {account} from source {source}"
            + (f" (it has one from: {others})" if others else "")
        )
    if not found:
        raise LookupError(f"no connection for store {account}")
    if len(found) > 1:
        names = ", ".join(connection.source for connection in found)
        raise LookupError(
            f"store {account} has connections from more than one source ({names}): "
            "choose one with --source NAME"
        )
    return found[0]


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
    was_connected = connection.is_connected
    another = was_connected and (connection.destination, connection.destination_account) != (
        destination,
        account.account,
    )
    if another:
        _forget_choices(session, connection)
    connection.destination = destination
    connection.destination_account = account.account
    connection.destination_data = account.data
    connection.destination_secrets = account.secrets
    connection.connected_at = utcnow()  # a running cycle sees it and stops at its next page
    connection.sync_enabled = True
    session.flush()
    if another:  # it knows none of what the old one was sent
        forget_account_state(session, connection)
    elif not was_connected:  # a disconnect's forgetting may still wait for a cycle that stopped
        forget_when_free(session, connection)
    plugins.connection_ready(connection)
    return connection


def _forget_choices(session: Session, connection: Connection) -> None:
    """The merchant's choices for the old account (its books, programs, data fields) go at once:
    the engine only reads them, and the new account's are chosen afresh."""
    session.execute(
        delete(ConnectionSetting).where(
            ConnectionSetting.connection_id == connection.id,
            ConnectionSetting.namespace.in_(["contacts", "automation", "field_mapping"]),
        )
    )


def disconnect(session: Session, connection: Connection) -> None:
    """Unlink the destination account (e.g. to connect production instead of staging). A running
    cycle stops at its next page boundary and forgets the account's sync state as it ends."""
    _forget_choices(session, connection)
    connection.destination = None
    connection.destination_account = None
    connection.destination_data = {}
    connection.destination_secrets = None
    connection.connected_at = None
    session.flush()
    forget_account_state(session, connection)


def remove(session: Session, plugins: PluginHost, connection: Connection) -> None:
    """Stop syncing, let plugins delete remote state (webhooks), then purge tokens and secrets.

    The row goes at once, its state with it (``ON DELETE CASCADE``): a running cycle finds it
    gone at its next page boundary, or meets the missing rows sooner, and stops."""
    connection.sync_enabled = False
    session.flush()
    plugins.connection_removed(connection)
    session.execute(delete(WebhookEvent).where(WebhookEvent.connection_id == connection.id))
    session.delete(connection)
    session.flush()
