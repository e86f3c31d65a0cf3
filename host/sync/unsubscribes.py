"""Unsubscribes the other way: read from the destination, recorded once, written back to the store.

At the start of each cycle, before the streams are read, the destination's unsubscribes since
the stream cursor ``UNSUBSCRIBES_CURSOR`` (less ``OVERLAP``; everything on the first read) are
recorded, in one transaction with the cursor: on the contact profile (``unsubscribed_at``, the
latest per email; an unsubscribe no later than the one recorded is the overlap read again and
changes nothing) and as a ledger row of kind ``WRITE_BACK`` waiting to be written back. A crash
before that commit reads them again; after it, the rows wait. So nothing is lost or recorded twice.

The later of the two sides wins (``profiles.unsubscribed_since``): a profile whose store record
opted in at or before the unsubscribe is no longer subscribed, so the contacts phase keeps it
out of the subscribers book, in this cycle and every later one, whatever stale copy the store
still serves; a store subscribe dated after it is honoured, and begins a new subscription (one
new-subscriber enrolment, as for any re-subscribe). An unsubscribe learnt late, older than the
store's subscribe the host already sent, loses: the contact is sent again to the book.

Then each waiting row is written back (``Source.write_unsubscribe``), when the source can
(``can_write_unsubscribes``) and the ``contacts`` setting ``write_back_unsubscribes`` is on;
otherwise the rows keep waiting. Each row is committed with its answer; a write cut short by a
crash is repeated, which the source's write allows (the consent is simply absent). A refusal
fails that row alone (retried after its back-off, then needs attention); a configuration
problem (a permission withdrawn) pauses the write-back; an outage ends it for this cycle.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

from sqlalchemy import or_, select

from host.destinations import Unsubscribe
from host.errors import ConfigurationError, RecordError, SyncError
from host.models import LedgerEntry
from host.sources import NO_SUBSCRIBER, SUBSCRIBED_LATER
from host.sync.cursors import cursor_row, parse_time
from host.sync.ledger import SUBSCRIBER_CONTACT
from host.sync.profiles import load_profiles, unsubscribed_since

if TYPE_CHECKING:
    from host.sync.context import SyncContext

log = logging.getLogger(__name__)

UNSUBSCRIBES_CURSOR = "destination_unsubscribes"  # its row in stream_cursors
WRITE_BACK = "unsubscribe_write_back"  # ledger kind; source id = the email
AREA = "unsubscribes"  # run counts and problems
OVERLAP = timedelta(minutes=15)  # re-read this much before the cursor: late-landing records
WRITE_BACKS_PER_CYCLE = 1000
SETTING = "write_back_unsubscribes"
SUBSCRIBED_AGAIN = "subscribed again in the store after the unsubscribe: the store's subscribe is kept"
NO_SUBSCRIBER_REASON = "no newsletter subscriber with this email in the store"


def write_back_enabled(context: SyncContext) -> bool:
    if not context.contact_settings.get(SETTING, True):
        return False
    try:
        return bool(context.source.can_write_unsubscribes(context.connection))
    except NotImplementedError:
        return False


def sync_unsubscribes(context: SyncContext) -> None:
    """Record the destination's new unsubscribes, then write back the ones waiting."""
    context.run.phase("reading unsubscribes")
    if not _record_new(context):
        return
    if write_back_enabled(context) and AREA not in context.paused:
        write_back(context)


def _record_new(context: SyncContext) -> bool:
    """Read and record; False when the destination cannot tell unsubscribes (nothing to do)."""
    cursor = cursor_row(context.session, context.connection.id, UNSUBSCRIBES_CURSOR)
    context.commit()
    since = parse_time(cursor.value) - OVERLAP if cursor.value else datetime(2000, 1, 1, tzinfo=UTC)
    book_id = context.contact_settings.get("subscribers_book_id")
    try:
        found = context.destination.unsubscribes_since(context.connection, since, book_id=book_id)
    except NotImplementedError:
        return False
    except ConfigurationError as error:
        context.session.rollback()
        context.pause(AREA, error)
        context.run.error(AREA, error.message)
        return True  # paused: the write-back waits for the next cycle too
    except SyncError as error:  # transient: read again next cycle, from the same cursor
        context.session.rollback()
        context.run.error(AREA, error.message)
        return True  # those recorded earlier are still written back
    recorded = record(context, found)
    latest = max((unsubscribe.at for unsubscribe in found), default=None)
    if latest is not None and (cursor.value is None or latest > parse_time(cursor.value)):
        cursor.value = latest.astimezone(UTC).isoformat()
    if recorded:
        context.run.add(AREA, read=recorded)
    context.worked(AREA)
    context.commit()
    return True


def record(context: SyncContext, unsubscribes: list[Unsubscribe]) -> int:
    """Keep the latest unsubscribe per email not recorded yet; answer how many were new."""
    latest: dict[str, Unsubscribe] = {}
    for unsubscribe in unsubscribes:
        email = unsubscribe.email.strip().lower()
        if email and (email not in latest or unsubscribe.at > latest[email].at):
            latest[email] = unsubscribe
    if not latest:
        return 0
    profiles = load_profiles(context.session, context.connection.id, latest)
    rows = context.ledger.entries(WRITE_BACK, latest)
    contacts = context.ledger.entries(SUBSCRIBER_CONTACT, latest)
    new = 0
    for email, unsubscribe in latest.items():
        profile = profiles[email]
        if profile.unsubscribed_at is not None and unsubscribe.at <= profile.unsubscribed_at:
            continue  # the overlap read again: recorded already
        new += 1
        profile.unsubscribed_at = unsubscribe.at
        if profile.subscribed and unsubscribed_since(profile, profile.subscriber):
            profile.subscribed = False
            profile.dirty = True  # the contacts phase takes it out of the subscribers book
        elif profile.subscribed and email in contacts:
            # The store's subscribe is the later one and stands: the contact goes back into the
            # book the destination took it out of (sent again at the contacts phase).
            contacts[email].payload_hash = None
            profile.dirty = True
        row = context.ledger.entry(rows, WRITE_BACK, email)
        row.state, row.reason, row.attempts, row.next_attempt_at = "pending", None, 0, None
        row.payload_hash = None
    context.session.flush()
    return new


def _waiting(context: SyncContext) -> list[LedgerEntry]:
    return list(
        context.session.scalars(
            select(LedgerEntry)
            .where(
                LedgerEntry.connection_id == context.connection.id,
                LedgerEntry.kind == WRITE_BACK,
                or_(LedgerEntry.state == "pending", context.ledger.retry_due()),
            )
            .order_by(LedgerEntry.id)
            .limit(WRITE_BACKS_PER_CYCLE)
        )
    )


def write_back(context: SyncContext) -> None:
    """Write each waiting unsubscribe back to the store, one committed answer at a time."""
    context.run.phase("writing unsubscribes back")
    rows = _waiting(context)
    if not rows:
        return
    profiles = load_profiles(context.session, context.connection.id, [row.source_id for row in rows])
    for row in rows:
        moment = profiles[row.source_id].unsubscribed_at
        if moment is None:  # cannot happen (recorded together); nothing to write
            context.ledger.record_excluded(row, NO_SUBSCRIBER_REASON)
            continue
        context.session.commit()  # never hold a write transaction while the store works
        try:
            outcome = context.source.write_unsubscribe(context.connection, row.source_id, moment)
        except RecordError as error:
            context.ledger.record_failure(row, None, error.message)
            context.run.add(AREA, failed=1)
            context.commit()
            continue
        except ConfigurationError as error:
            context.session.rollback()
            context.pause(AREA, error)
            context.run.error(AREA, error.message)
            return
        except SyncError as error:
            context.session.rollback()
            context.run.error(AREA, error.message)
            return
        if outcome == SUBSCRIBED_LATER:
            context.ledger.record_excluded(row, SUBSCRIBED_AGAIN)
            context.run.add(AREA, excluded=1)
        elif outcome == NO_SUBSCRIBER:
            context.ledger.record_excluded(row, NO_SUBSCRIBER_REASON)
            context.run.add(AREA, excluded=1)
        else:
            row.state, row.reason, row.attempts, row.next_attempt_at = "synced", None, 0, None
            context.run.add(AREA, sent=1)
        context.worked(AREA)
        context.commit()
        if context.should_stop():
            return
