"""One sync cycle: every stream in the source's order, page by page, then the contacts check
and the enrolments.

Each page is one transaction: profile facts, events, ledger rows and the stream's cursor are
committed together, and only after the destination accepted the page's writes. A crash at any
point therefore re-reads the page on restart; the destination's writes are idempotent by key,
so nothing is lost and nothing is duplicated. A record that fails is marked in the ledger and
never holds the cursor back; it is re-read by id in later cycles until ``max_attempts``.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from typing import Any

from sqlalchemy import select

from host.enrolments import EnrolmentContext
from host.errors import ConfigurationError, SyncError
from host.models import ContactProfile
from host.records import validation_errors
from host.sources import Stream
from host.sync.collection_writes import MAPPERS, sync_collection
from host.sync.contacts import CONTACT_AREA, settings_fingerprint, sync_contacts
from host.sync.context import Progress, SyncContext, cycle_scope
from host.sync.cursors import CONTACT_SETTINGS, cursor_row, full_refresh_due, later
from host.sync.ledger import CUSTOMER_CONTACT, SUBSCRIBER_CONTACT
from host.sync.profiles import email_of, load_profiles

log = logging.getLogger(__name__)
PROFILE_KINDS = ("customer", "subscriber", "order")
PROFILE_BATCH = 500


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
        for stream in context.source.streams():
            if context.should_stop():
                break
            sync_stream(context, stream, full=full)
        if not context.should_stop():
            refresh_contacts(context)
            process_enrolments(context)
    return context.run.row()


def sync_stream(context: SyncContext, stream: Stream, *, full: bool = False) -> None:
    context.run.phase(f"reading {stream.name}")
    context.run.stream(stream.name)
    cursor = cursor_row(context.session, context.connection.id, stream.name)
    context.session.commit()
    whole = full or full_refresh_due(cursor, stream, context.now)
    try:
        retry_failed(context, stream)
        accepted_so_far = True
        for page in context.source.read(
            context.connection, stream, since=None if whole else cursor.value
        ):
            accepted = process_page(context, stream, page.records)
            accepted_so_far = accepted_so_far and accepted
            if accepted_so_far and stream.cursor_field:
                for record in page.records:
                    cursor.value = later(cursor.value, record.get(stream.cursor_field))
            context.session.commit()
            context.run.page_done(stream.name)
            if context.should_stop():
                return
        if whole and accepted_so_far:
            cursor.last_full_refresh_at = context.now
            context.session.commit()
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


def retry_failed(context: SyncContext, stream: Stream) -> None:
    """Re-read by id the records of this stream that failed in earlier cycles."""
    ids = context.ledger.retry_ids(stream.name)
    if not ids:
        return
    seen: set[str] = set()
    context.retrying = True
    try:
        for page in context.source.read(context.connection, stream, ids=ids):
            seen.update(str(record[stream.primary_key]) for record in page.records)
            process_page(context, stream, page.records)
            context.session.commit()
    finally:
        context.retrying = False
    gone = context.ledger.entries(stream.name, set(ids) - seen)
    for row in gone.values():
        context.ledger.record_excluded(row, "no longer in the store")
    context.session.commit()


def process_page(context: SyncContext, stream: Stream, records: Sequence[dict[str, Any]]) -> bool:
    """Apply one page; answer whether all of it reached the destination (the cursor may move).

    A configuration problem pauses the area being written and the page is applied again
    without it, so the rest of the page (and of the cycle) still syncs.
    """
    context.run.add(stream.name, read=len(records))
    while True:
        try:
            return _apply_page(context, stream, records)
        except ConfigurationError as error:
            context.session.rollback()
            area, context.writing = context.writing, None
            if area is None or area in context.paused:
                raise  # not a write we can leave out: the stream stops here
            context.pause(area, error)
            if area == CONTACT_AREA:
                _forget_contact_fingerprint(context)


def _apply_page(context: SyncContext, stream: Stream, records: Sequence[dict[str, Any]]) -> bool:
    valid = _valid_records(context, stream, records)
    accepted = True
    if stream.kind in PROFILE_KINDS:
        profiles = _apply_to_profiles(context, stream, valid)
        if CONTACT_AREA in context.paused:
            accepted = False
        elif profiles:
            context.writing = CONTACT_AREA
            sync_contacts(context, profiles, stream.name if stream.kind != "order" else "contacts")
    if stream.kind in MAPPERS:
        contact_scoped = stream.kind == "order"
        if stream.name in context.paused or (contact_scoped and CONTACT_AREA in context.paused):
            accepted = False
        else:
            context.writing = stream.name
            sync_collection(context, stream, valid)
    context.writing = None
    return accepted


def _valid_records(
    context: SyncContext, stream: Stream, records: Iterable[dict[str, Any]]
) -> list[dict]:
    """Records that pass the canonical schema; the others are failed in the ledger, with why."""
    valid, invalid = [], {}
    for record in records:
        errors = validation_errors(stream.kind, record)
        if errors:
            invalid[str(record.get(stream.primary_key))] = f"invalid {stream.kind} record: {errors}"
        else:
            valid.append(record)
    if stream.kind in MAPPERS:
        invalid_rows = context.ledger.entries(stream.name, invalid)
    else:  # profile kinds keep ledger rows only for invalid records: a now-valid one is settled
        ids = [*invalid, *(str(record[stream.primary_key]) for record in valid)]
        invalid_rows = context.ledger.entries(stream.name, ids)
        for source_id, row in invalid_rows.items():
            if source_id not in invalid and row.state == "failed":
                row.state, row.reason = "synced", None
    for source_id, reason in invalid.items():
        row = context.ledger.entry(invalid_rows, stream.name, source_id)
        context.ledger.record_failure(row, None, reason)
        context.run.add(stream.name, failed=1)
    return valid


def _apply_to_profiles(
    context: SyncContext, stream: Stream, records: list[dict]
) -> list[ContactProfile]:
    """Update the profiles these records describe and hand events to the enrollers; answer
    the profiles, whose contacts are then checked (only a changed payload is sent)."""
    profiles = load_profiles(context.session, context.connection.id, (email_of(r) for r in records))
    apply = getattr(context.profiles, stream.kind)
    for record in records:
        for event in apply(profiles[email_of(record)], record):
            for enroller in context.enrollers:
                enroller.handle_event(context.session, context.connection, event)
    context.session.flush()
    return list(profiles.values())


def refresh_contacts(context: SyncContext) -> None:
    """Re-check every contact locally when the contact settings changed (a new mapping re-sends
    only contacts whose payload changed); otherwise retry the contacts that failed."""
    if CONTACT_AREA in context.paused:
        return
    context.run.phase("checking contacts")
    marker = cursor_row(context.session, context.connection.id, CONTACT_SETTINGS)
    fingerprint = settings_fingerprint(context)
    try:
        if marker.value != fingerprint:
            last_id = 0
            while batch := _profile_batch(context, last_id):
                context.writing = CONTACT_AREA
                sync_contacts(context, batch, "contacts")
                last_id = batch[-1].id
                context.session.commit()
            marker.value = fingerprint
        else:
            emails = {
                *context.ledger.retry_ids(CUSTOMER_CONTACT),
                *context.ledger.retry_ids(SUBSCRIBER_CONTACT),
            }
            if emails:
                profiles = load_profiles(context.session, context.connection.id, emails)
                context.retrying, context.writing = True, CONTACT_AREA
                sync_contacts(context, list(profiles.values()), "contacts")
        context.session.commit()
        context.run.page_done("contacts")
    except ConfigurationError as error:
        context.session.rollback()
        context.pause(CONTACT_AREA, error)
    except SyncError as error:
        context.session.rollback()
        context.run.error(CONTACT_AREA, error.message)
    finally:
        context.writing, context.retrying = None, False


def _profile_batch(context: SyncContext, after_id: int) -> list[ContactProfile]:
    return list(
        context.session.scalars(
            select(ContactProfile)
            .where(
                ContactProfile.connection_id == context.connection.id, ContactProfile.id > after_id
            )
            .order_by(ContactProfile.id)
            .limit(PROFILE_BATCH)
        )
    )


def _forget_contact_fingerprint(context: SyncContext) -> None:
    """After a contacts outage, the next good cycle re-checks every contact."""
    marker = cursor_row(context.session, context.connection.id, CONTACT_SETTINGS)
    marker.value = None
    context.session.commit()


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
        now=context.now,
        max_attempts=context.max_attempts,
        contact_id=contact_id,
        first_order_id=first_order_id,
    )
    try:
        for enroller in context.enrollers:
            counts = enroller.process(enrolment_context)
            context.run.add("enrolments", **{state: count for state, count in counts.items()})
        context.session.commit()
    except SyncError as error:
        context.session.rollback()
        context.run.error("enrolments", error.message)
    context.run.page_done("enrolments")
