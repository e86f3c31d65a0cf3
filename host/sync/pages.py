"""One page of source records, applied in one transaction.

Customers, subscribers, orders and guests only update the contact profiles (marking them
dirty), raise the events their changes reveal, and queue the orders in the ledger's outbox:
nothing is sent yet, so a contact described by several streams and pages is sent once, by the
contacts phase, with all its facts (``host.sync.phases``). Products are sent page by page.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any

from host.errors import ConfigurationError
from host.records import validation_errors
from host.sync import statistics
from host.sync.collection_writes import MAPPERS, QUEUED_KINDS, queue_collection, sync_collection
from host.sync.ledger import CUSTOMER_CONTACT, SUBSCRIBER_CONTACT
from host.sync.order_facts import record_orders
from host.sync.profiles import email_of, load_profiles, release_changed_emails

if TYPE_CHECKING:
    from host.sources import Stream
    from host.sync.context import SyncContext

PROFILE_KINDS = ("customer", "subscriber", "order")


def process_page(context: SyncContext, stream: Stream, records: Sequence[dict[str, Any]]) -> bool:
    """Apply one page; answer whether all of it is kept or sent (its cursor may move).

    A configuration problem pauses the area being written; the page is applied again without
    it, so the rest of the page (and of the cycle) still syncs.
    """
    context.run.add(stream.name, read=len(records))
    statistics.records_applied(context.session, context.connection.id, len(records))
    while True:
        try:
            return _apply_page(context, stream, records)
        except ConfigurationError as error:
            context.session.rollback()
            area, context.writing = context.writing, None
            if area is None or area in context.paused:
                raise  # not a write we can leave out: the stream stops here
            context.pause(area, error)


def _apply_page(context: SyncContext, stream: Stream, records: Sequence[dict[str, Any]]) -> bool:
    valid = _valid_records(context, stream, records)
    if stream.kind in PROFILE_KINDS:
        _apply_to_profiles(context, stream, valid)
    if stream.kind in QUEUED_KINDS:
        queue_collection(context, stream, valid)
    elif stream.kind in MAPPERS:
        if stream.name in context.paused:
            return False
        context.writing = stream.name
        sync_collection(context, stream, valid)
        context.writing = None
    return True


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
                row.state, row.reason, row.attempts, row.next_attempt_at = "synced", None, 0, None
    for source_id, reason in invalid.items():
        row = context.ledger.entry(invalid_rows, stream.name, source_id)
        context.ledger.record_failure(row, None, reason)
        context.run.add(stream.name, failed=1)
    return valid


def _apply_to_profiles(context: SyncContext, stream: Stream, records: list[dict]) -> None:
    """Update the profiles these records describe, mark them for the contacts phase, and hand
    the events they reveal to the enrollers (in this same transaction)."""
    if stream.kind == "customer":
        release_changed_emails(context.session, context.connection.id, records)
    profiles = load_profiles(context.session, context.connection.id, (email_of(r) for r in records))
    apply = getattr(context.profiles, stream.kind)
    fact = "subscriber" if stream.kind == "subscriber" else "customer"
    for record in records:
        profile = profiles[email_of(record)]
        before = getattr(profile, fact)
        for event in apply(profile, record):
            for enroller in context.enrollers:
                enroller.handle_event(context.session, context.connection, event)
        if getattr(profile, fact) is not before:  # this stream now speaks for that fact
            profile.sources = {**(profile.sources or {}), fact: stream.name}
        if stream.kind != "order":  # counted with the contact it describes (``host.sync.tally``)
            contact_kind = SUBSCRIBER_CONTACT if fact == "subscriber" else CUSTOMER_CONTACT
            context.run.tally.described(profile, contact_kind, stream.name)
        profile.dirty = True
    if stream.kind == "order":  # the lifetime order fields of every email these orders touch
        record_orders(context.session, context.connection.id, records, profiles)
    context.session.flush()
