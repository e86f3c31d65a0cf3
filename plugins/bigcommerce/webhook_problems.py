"""A failed webhook registration shown on the Store tab, and cleared once registration works.

Without hooks nothing is lost (the periodic sync reads every change), but changes arrive
minutes later instead of seconds, and the usual cause is the host's public URL, which only
the merchant or their admin can fix. So the failure is a ``ConnectionProblem`` the merchant
sees, not just a log line. Two causes, one problem (the latest wins): BigCommerce refused the
hooks (``problem_message``), or the host did not ask because its public URL is not https on
port 443 (``public_url_message``).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import delete, select
from sqlalchemy.orm import Session, object_session

from host.db import get_db
from host.models import Connection, ConnectionProblem

PROBLEM_CODE = "webhooks_not_registered"
PROBLEM_AREA = "webhooks"


def problem_message(destination: str, reason: str) -> str:
    """What the merchant reads: what is slower, what to check, and BigCommerce's own words."""
    return (
        "BigCommerce did not accept this app's webhooks, so store changes reach your account "
        "only with the periodic sync (every few minutes) instead of within seconds; the periodic "
        f"sync still runs meanwhile. Make sure {destination} is reachable from BigCommerce over "
        "https (port 443, a valid certificate): the app tries again every hour, and whenever you "
        f"reconnect. BigCommerce said: {reason}"
    )


def public_url_message(url: str, problem: str) -> str:
    """What the merchant reads when the host's public URL keeps webhooks off (no call was made)."""
    return (
        f"Instant updates are off: this app's public address ({url}) {problem}, but it must be "
        "https on port 443 for BigCommerce to send it store changes. Your store changes still reach "
        "your account with the periodic sync (every few minutes). Please ask whoever runs this app "
        "to set its public URL to an https address on port 443; instant updates start again by "
        "themselves once it is fixed."
    )


@contextmanager
def _session_of(connection: Connection) -> Iterator[Session]:
    """The session the connection lives in (its caller commits), else a transaction of our own."""
    session = object_session(connection)
    if session is not None:
        yield session
        return
    with get_db().transaction() as own:
        yield own


def show(connection: Connection, destination: str, reason: str) -> None:
    """Keep one ``webhooks_not_registered`` problem on the connection, with the latest reason."""
    show_message(connection, problem_message(destination, reason))


def show_message(connection: Connection, message: str) -> None:
    """Keep one ``webhooks_not_registered`` problem on the connection, saying ``message``."""
    with _session_of(connection) as session:
        existing = session.scalar(
            select(ConnectionProblem).where(
                ConnectionProblem.connection_id == connection.id,
                ConnectionProblem.code == PROBLEM_CODE,
            )
        )
        if existing is None:
            session.add(
                ConnectionProblem(
                    connection_id=connection.id,
                    code=PROBLEM_CODE,
                    area=PROBLEM_AREA,
                    message=message,
                )
            )
        else:
            existing.area, existing.message = PROBLEM_AREA, message
        session.flush()


def clear(connection: Connection) -> None:
    """The hooks are registered: the problem, if any, goes."""
    with _session_of(connection) as session:
        session.execute(
            delete(ConnectionProblem).where(
                ConnectionProblem.connection_id == connection.id,
                ConnectionProblem.code == PROBLEM_CODE,
            )
        )
