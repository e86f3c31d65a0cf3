"""Changes of connection while work runs: disconnect, reconnect and remove beside a running cycle.

The rule: **what a destination account was sent (ledger, cursors, enrolments, jobs, problems,
runs) is only ever deleted by whoever holds the connection's lease.** A cycle or the fast lane
keeps ORM objects of those rows for a whole page; deleting them under it is what made the
Store tab show ``StaleDataError`` after a disconnect during a sync, and rows it wrote after such
a deletion would have made a new account look synced.

So a disconnect or a reconnect to another account, in the web request:

1. changes the connection row at once (unlinks or relinks the account, a new ``connected_at``)
   and forgets the merchant's choices for the old account (books, programs, mapping: the
   engine only reads those);
2. marks the account's state to be forgotten (``STATE_NAMESPACE``: a durable mark, so a crash of
   the cycle that should act on it loses nothing), and forgets it at once when no cycle holds
   the connection (``claim_if_free``: the lease stays free, and none can be taken, until the
   request's transaction ends);
3. otherwise leaves it to the holder. ``SyncContext.should_stop`` compares the connection with
   what the cycle started with (account, ``connected_at``, row present, Data sync on), so the
   work stops at the next page boundary: each page is one transaction, written whole. Before it
   lets the lease go, ``cycle_scope`` forgets the marked state, and the next holder does if that
   process died first.

Remove connection deletes the row at once (its state goes by ``ON DELETE CASCADE``): a running
cycle then meets missing rows, which it treats as the stop they are, not as an error.
"""

from __future__ import annotations

import logging

from sqlalchemy import delete
from sqlalchemy.orm import Session

from host.models import (
    Connection,
    ConnectionProblem,
    DestinationJob,
    Enrolment,
    LedgerEntry,
    StreamCursor,
    SyncRun,
    WholeReadMark,
    utcnow,
)
from host.settings import get_settings, save_settings
from host.sync.lock import claim_if_free

log = logging.getLogger(__name__)

STATE_NAMESPACE = "sync_state"  # host-internal: {"forget_pending": bool}
PER_ACCOUNT_STATE = (LedgerEntry, StreamCursor, WholeReadMark, Enrolment, DestinationJob)


def forget_account_state(session: Session, connection: Connection) -> None:
    """Forget what the previous account was sent, once no cycle is running: the lease is free and
    kept free by this transaction, or the caller holds it. Otherwise the running cycle will."""
    save_settings(session, connection, STATE_NAMESPACE, {"forget_pending": True})
    connection.last_sync_at = None  # shown at once; the new account is not synced yet
    # Its full sync starts as soon as an account is connected, not an interval after the old
    # account's last cycle (a disconnected connection is not synced: the request waits for it).
    connection.sync_requested_at = utcnow()
    session.flush()
    if not forget_when_free(session, connection):
        log.info("connection %s: a sync is running; it forgets the old account as it stops", connection.id)


def forget_when_free(session: Session, connection: Connection) -> bool:
    """Forget the marked state now if no cycle holds the connection; answer whether it could."""
    if not claim_if_free(session, connection.id):
        return False
    forget_if_pending(session, connection)
    return True


def forget_if_pending(session: Session, connection: Connection) -> bool:
    """With the lease held (or claimed): delete the marked state; answer whether there was any."""
    if not get_settings(session, connection, STATE_NAMESPACE).get("forget_pending"):
        return False
    for model in PER_ACCOUNT_STATE:
        session.execute(delete(model).where(model.connection_id == connection.id))
    # Problems and runs from before the current account was linked (all of them when none is):
    # what the current account shows (e.g. its webhooks registration) stays.
    since = connection.connected_at
    problems = delete(ConnectionProblem).where(ConnectionProblem.connection_id == connection.id)
    runs = delete(SyncRun).where(SyncRun.connection_id == connection.id, SyncRun.status != "running")
    if since is not None:
        problems = problems.where(ConnectionProblem.created_at < since)
        runs = runs.where(SyncRun.started_at < since)
    session.execute(problems)
    session.execute(runs)
    connection.last_sync_at = None  # the next cycle is the account's first (full) sync
    save_settings(session, connection, STATE_NAMESPACE, {"forget_pending": False})
    session.flush()
    log.info("connection %s: the previous account's sync state was forgotten", connection.id)
    return True
