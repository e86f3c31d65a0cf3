"""One sync cycle: every stream in the source's order, page by page, then the contacts, the
queued records and the cursors (``phases``), then the enrolments.

Each page is one transaction (``pages``): profile facts, events, ledger rows and the outbox
are committed together, with how far the stream's read got (``reads``): a crash, or the end
of a slice of a cycle cut into slices, goes on from there. A stream's cursor moves only after
the destination accepted what the stream fed, and the destination's writes are idempotent by
key, so nothing is lost and nothing is duplicated. A record that fails is marked in the
ledger and never holds the cursor back; it is re-read by id in later cycles until
``max_attempts``.
"""

from __future__ import annotations

import logging
import time
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
from host.sync.order_facts import facts_missing, mark_facts_read
from host.sync.pages import process_page
from host.sync.phases import send_everything, waits_for_contacts, write_outbox
from host.sync.reads import ReadState, continue_since, drop_marks, keep_marks, kept_marks
from host.sync.removals import settle_gone
from host.sync.runs import CONTINUED
from host.sync.unsubscribes import sync_unsubscribes

log = logging.getLogger(__name__)


def run_cycle(
    connection_id: int,
    *,
    trigger: str = "scheduled",
    full: bool = False,
    progress: Progress | None = None,
    slice_seconds: float | None = None,
):
    """Run one cycle now; answer its ``SyncRun`` status, or None when it could not start
    (another cycle holds the connection, or the connection is off or not connected).

    With ``slice_seconds`` the run is one slice of the cycle: it stops at the first page or
    batch boundary after that time (status ``sliced``), and a run triggered ``continued`` goes
    on from there."""
    with cycle_scope(connection_id, trigger, progress) as context:
        if context is None:
            return None
        context.continuing = trigger == CONTINUED
        if slice_seconds:
            context.deadline = time.monotonic() + slice_seconds
        sync_unsubscribes(context)  # first: what the streams read is weighed against them
        for stream in context.source.streams():
            if context.should_stop() or context.slice_over():
                break
            sync_stream(context, stream, full=full)
        if not (context.should_stop() or context.slice_over()):
            send_everything(context)
        # People deleted in the store, after their last orders; then the enrolments (the
        # contacts phase may be long: look again).
        for phase in (erasure_phase, process_enrolments):
            if not (context.should_stop() or context.slice_over()):
                phase(context)
    return context.run.row()


def sync_stream(context: SyncContext, stream: Stream, *, full: bool = False) -> None:
    context.run.phase(f"reading {stream.name}")
    context.run.stream(stream.name)
    cursor = cursor_row(context.session, context.connection.id, stream.name)
    context.commit()
    state = ReadState.of(cursor)
    if state is not None and state.complete and context.continuing:
        return  # read to its end by an earlier slice of this cycle: it waits to be accepted
    state, since = _read_plan(context, stream, cursor, state, full)
    deferred = waits_for_contacts(stream)
    written, resumable = _written(stream), _resumable(stream)
    # A whole read of customers or subscribers is a reconciliation: what it no longer lists was
    # deleted in the store (``erasure.reconcile``).
    seen: set[str] | None = set() if state.whole and stream.kind in DELETED_KINDS else None
    began_at, read_up_to = state.position, state.position
    open_collection(context, stream)
    try:
        retry_failed(context, stream)
        accepted_so_far = True
        for page in context.source.read(context.connection, stream, since=since):
            accepted = process_page(context, stream, page.records)
            accepted_so_far = accepted_so_far and accepted
            if seen is not None:
                seen.update(str(record[stream.primary_key]) for record in page.records)
            if accepted_so_far and stream.cursor_field:
                for record in page.records:
                    read_up_to = later(read_up_to, record.get(stream.cursor_field))
                if not resumable:  # kept once all was read (below)
                    pass
                elif deferred:  # durable with the page: a later slice goes on from here
                    state.position = read_up_to
                    state.save(cursor)
                elif not written:
                    cursor.value = later(cursor.value, read_up_to)
            context.commit()
            context.progressed = True
            context.run.page_done(stream.name)
            if context.should_stop() or (resumable and read_up_to != began_at and context.slice_over()):
                _stop_reading(context, stream, cursor, state, read_up_to, accepted_so_far, seen)
                return
        if written and not _finish_written(context, stream, cursor, read_up_to, accepted_so_far):
            return
        if accepted_so_far:
            _end_read(context, stream, cursor, state, read_up_to, seen)
    except ConfigurationError as error:  # raised by the source: e.g. a missing scope
        context.session.rollback()
        context.pause(stream.name, error)
        context.run.error(stream.name, error.message)
    except SyncError as error:  # transient: the read goes on from its last page next time
        context.session.rollback()
        log.warning(
            "connection %s: %s stopped: %s", context.connection.id, stream.name, error.message
        )
        context.run.error(stream.name, error.message)
    finally:
        discard_collection(context, stream)  # a read that stopped on an error: its answers are lost


def _written(stream: Stream) -> bool:
    """Written through one writer for the whole read (products): the cursor moves once the
    writer accepted everything read (``finish_collection``), like a deferred stream's."""
    return stream.kind in MAPPERS and not waits_for_contacts(stream)


def _resumable(stream: Stream) -> bool:
    """Listed in cursor order: the read may stop after any page and go on from there."""
    return stream.ordered_by_cursor and stream.cursor_field is not None


def _read_plan(
    context: SyncContext, stream: Stream, cursor, state: ReadState | None, full: bool
) -> tuple[ReadState, str | None]:
    """The read this cycle makes, and the ``since`` it lists from: the read in progress goes
    on (unless a whole read is asked for and it is not one); else a new one begins, whole when
    due, otherwise from where the last read got (``host.sync.reads``)."""
    in_progress = state is not None and not state.complete and (state.whole or not full)
    # A whole read that went further than the ids it kept (a crash) lists again from the start.
    if in_progress and not (
        state.whole and stream.kind in DELETED_KINDS and state.marked != state.position
    ):
        if state.position is not None:
            return state, continue_since(stream, state.position)
        return state, None if state.whole else cursor.value
    if (
        full
        or in_progress  # a whole read that cannot go on
        or full_refresh_due(cursor, stream, context.now)
        or facts_missing(context.session, context.connection.id, stream)
    ):
        drop_marks(context.session, context.connection.id, stream)  # of a read that never ended
        return ReadState(whole_since=utcnow()), None
    start = state.position if state is not None else cursor.value
    return ReadState(position=start), start


def _stop_reading(context, stream, cursor, state: ReadState, read_up_to, accepted: bool, seen) -> None:
    """The cycle stops (its slice is over, or it was told to) after a page: keep where the read
    got, so the next slice goes on from there."""
    if _written(stream):
        if not _finish_written(context, stream, cursor, read_up_to, accepted):
            return
        state.position = later(state.position, read_up_to)
    if not _resumable(stream):
        return  # it cannot go on from a page: the next read starts again
    if seen is not None:  # the read's last slice judges the records it never listed
        keep_marks(context.session, context.connection.id, stream, seen)
        state.marked = state.position
    state.save(cursor)
    context.commit()


def _end_read(context, stream, cursor, state: ReadState, read_up_to, seen) -> None:
    """The listing was read to its end. A deferred stream's cursor waits for its records to be
    accepted (the contacts phase, ``phases.promote_cursors``), another's moves now; either way
    the later slices of this cycle do not read it again. A whole read is settled now, since
    what it read is durable already."""
    state.position = later(state.position, read_up_to)
    state.complete = True
    state.save(cursor)
    if stream.cursor_field and not waits_for_contacts(stream):
        cursor.value = later(cursor.value, state.position)
    if state.whole:
        if seen is not None:
            seen |= kept_marks(context.session, context.connection.id, stream)
            drop_marks(context.session, context.connection.id, stream)
        cursor.last_full_refresh_at = state.whole_since
        mark_facts_read(context.session, context.connection.id, stream)
    context.commit()
    if seen is not None:
        reconcile(context, stream, seen, state.whole_since)


def _finish_written(context, stream, cursor, read_up_to, accepted: bool) -> bool:
    """A stream written through one writer: wait for its answers, then move its cursor; answer
    whether all it read was accepted."""
    if not finish_collection(context, stream) or not accepted:
        return False
    if stream.cursor_field:
        cursor.value = later(cursor.value, read_up_to)
    context.commit()
    return True


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
