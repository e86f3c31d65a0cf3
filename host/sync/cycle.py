"""One sync cycle: every stream in the source's order, page by page, then the contacts, the
queued records and the cursors (``phases``), then the enrolments.

Each page is one transaction (``pages``): profile facts, events, ledger rows and the outbox
are committed together. A stream's cursor moves only after the destination accepted what the
stream fed; a crash at any point therefore re-reads from the last accepted cursor on restart,
and the destination's writes are idempotent by key, so nothing is lost and nothing is
duplicated. A record that fails is marked in the ledger and never holds the cursor back; it is
re-read by id in later cycles until ``max_attempts``.
"""

from __future__ import annotations

import logging
from datetime import timedelta

from flask import current_app
from sqlalchemy import select

from host.enrolments import EnrolmentContext
from host.errors import ConfigurationError, SyncError
from host.models import ContactProfile, utcnow
from host.sources import Stream
from host.sync.collection_writes import (
    MAPPERS,
    QUEUED_KINDS,
    discard_collection,
    finish_collection,
    open_collection,
)
from host.sync.context import Progress, SyncContext, cycle_scope
from host.sync.cursors import cursor_row, full_refresh_due, later
from host.sync.erasure import DELETED_KINDS, erasure_phase, reconcile
from host.sync.ledger import CUSTOMER_CONTACT, SUBSCRIBER_CONTACT
from host.sync.order_facts import facts_missing
from host.sync.pages import PROFILE_KINDS, process_page
from host.sync.phases import Staged, send_everything, write_outbox
from host.sync.removals import settle_gone
from host.sync.unsubscribes import sync_unsubscribes

log = logging.getLogger(__name__)


def run_cycle(
    connection_id: int,
    *,
    trigger: str = "scheduled",
    full: bool = False,
    progress: Progress | None = None,
):
    """Run one cycle now; answer its ``SyncRun`` status, or None when it could not start
    (another cycle holds the connection, or the connection is off or not connected)."""
    with cycle_scope(connection_id, trigger, progress) as context:
        if context is None:
            return None
        sync_unsubscribes(context)  # first: what the streams read is weighed against them
        for stream in context.source.streams():
            if context.should_stop():
                break
            sync_stream(context, stream, full=full)
        if not context.should_stop():
            send_everything(context)
        if not context.should_stop():  # people deleted in the store, after their last orders
            erasure_phase(context)
        if not context.should_stop():  # the contacts phase may be long: look again
            process_enrolments(context)
    return context.run.row()


def _waits_for_contacts(stream: Stream) -> bool:
    """Streams whose records are kept and sent after the contacts phase."""
    return stream.kind in PROFILE_KINDS or stream.kind in QUEUED_KINDS


def sync_stream(context: SyncContext, stream: Stream, *, full: bool = False) -> None:
    context.run.phase(f"reading {stream.name}")
    context.run.stream(stream.name)
    cursor = cursor_row(context.session, context.connection.id, stream.name)
    context.commit()
    whole = (
        full
        or full_refresh_due(cursor, stream, context.now)
        or facts_missing(context.session, context.connection.id, stream)
    )
    deferred = _waits_for_contacts(stream)
    # Written through one writer for the whole read (products): the cursor moves once the
    # writer accepted everything read (``finish_collection``), like a deferred stream's.
    written = stream.kind in MAPPERS and not deferred
    read_up_to = cursor.value
    # A whole read of customers or subscribers is a reconciliation: what it no longer lists was
    # deleted in the store (``erasure.reconcile``).
    seen: set[str] | None = set() if whole and stream.kind in DELETED_KINDS else None
    read_from = utcnow()
    open_collection(context, stream)
    try:
        retry_failed(context, stream)
        accepted_so_far = True
        for page in context.source.read(
            context.connection, stream, since=None if whole else cursor.value
        ):
            accepted = process_page(context, stream, page.records)
            accepted_so_far = accepted_so_far and accepted
            if seen is not None:
                seen.update(str(record[stream.primary_key]) for record in page.records)
            if accepted_so_far and stream.cursor_field:
                for record in page.records:
                    read_up_to = later(read_up_to, record.get(stream.cursor_field))
                if not stream.ordered_by_cursor:  # staged once all was read (below)
                    pass
                elif deferred:
                    context.staged_cursors[stream.name] = Staged(read_up_to, whole=False)
                elif not written:
                    cursor.value = read_up_to
            context.commit()
            context.run.page_done(stream.name)
            if context.should_stop():
                _finish_written(context, stream, cursor, read_up_to, accepted_so_far, whole=False)
                return
        if written:
            _finish_written(context, stream, cursor, read_up_to, accepted_so_far, whole=whole)
        elif accepted_so_far:
            if deferred:
                context.staged_cursors[stream.name] = Staged(read_up_to, whole=whole)
            elif whole:
                cursor.last_full_refresh_at = context.now
                context.commit()
        if seen is not None and accepted_so_far:
            reconcile(context, stream, seen, read_from)
    except ConfigurationError as error:  # raised by the source: e.g. a missing scope
        context.session.rollback()
        context.pause(stream.name, error)
        context.run.error(stream.name, error.message)
    except SyncError as error:  # transient: the cursor stays where the last accepted page left it
        context.session.rollback()
        log.warning(
            "connection %s: %s stopped: %s", context.connection.id, stream.name, error.message
        )
        context.run.error(stream.name, error.message)
    finally:
        discard_collection(context, stream)  # a read that stopped on an error: its answers are lost


def _finish_written(context, stream, cursor, read_up_to, accepted: bool, *, whole: bool) -> None:
    """A stream written through one writer: wait for its answers, then move its cursor."""
    if not finish_collection(context, stream) or not accepted:
        return
    if stream.cursor_field:
        cursor.value = later(cursor.value, read_up_to)
    if whole:
        cursor.last_full_refresh_at = context.now
    context.commit()


def retry_failed(context: SyncContext, stream: Stream) -> None:
    """Re-read by id the records of this stream that failed in earlier cycles; the ones the
    store no longer has are deleted there (``removals.settle_gone``). Then send the removals
    still waiting for a stream written page by page."""
    ids = context.ledger.retry_ids(stream.name)
    if ids:
        seen: set[str] = set()
        context.retrying = True
        try:
            for page in context.source.read(context.connection, stream, ids=ids):
                seen.update(str(record[stream.primary_key]) for record in page.records)
                process_page(context, stream, page.records)
                context.commit()
        finally:
            context.retrying = False
        settle_gone(context, stream, set(ids) - seen, removable=stream.kind in MAPPERS)
        context.commit()
    send_removals(context, stream)


def send_removals(context: SyncContext, stream: Stream) -> None:
    """Send the removals waiting in the outbox of a stream written page by page (products);
    queued streams (orders) send theirs after the contacts (``phases.send_queued``). A
    configuration problem pauses the area and the removals keep waiting for the next run."""
    if stream.kind not in MAPPERS or stream.kind in QUEUED_KINDS or stream.name in context.paused:
        return
    write_outbox(context, stream)


def sync_config() -> dict:
    return current_app.config.get("SYNC", {})


def process_enrolments(context: SyncContext) -> None:
    context.run.phase("enrolling")
    ledger, session, connection_id = context.ledger, context.session, context.connection.id

    def contact_id(email: str) -> str | None:
        return ledger.destination_id(SUBSCRIBER_CONTACT, email) or ledger.destination_id(
            CUSTOMER_CONTACT, email
        )

    def first_order_id(email: str) -> str | None:
        profile = session.scalar(
            select(ContactProfile).where(
                ContactProfile.connection_id == connection_id, ContactProfile.email == email
            )
        )
        return (
            str(profile.first_order["id"]) if profile is not None and profile.first_order else None
        )

    enrolment_context = EnrolmentContext(
        session=session,
        connection=context.connection,
        destination=context.destination,
        now=utcnow(),  # not the cycle's start: a backfill may have taken hours
        max_attempts=context.max_attempts,
        contact_id=contact_id,
        first_order_id=first_order_id,
        interval=timedelta(seconds=float(sync_config().get("enrolment_interval_seconds", 240))),
    )
    try:
        for enroller in context.enrollers:
            counts = enroller.process(enrolment_context)
            context.run.add("enrolments", **{state: count for state, count in counts.items()})
            if counts.get("active"):
                context.worked("enrolments")  # a problem shown for enrolments is over
        context.commit()
    except ConfigurationError as error:  # e.g. the credentials: the enrolments wait meanwhile
        context.session.rollback()
        context.pause("enrolments", error)
        context.run.error("enrolments", error.message)
    except SyncError as error:
        context.session.rollback()
        context.run.error("enrolments", error.message)
    context.run.page_done("enrolments")
