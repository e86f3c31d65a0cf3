"""Removals: records sent to a collection and excluded since (an order archived, a product hidden)
are deleted at the destination, so it ends up holding only what the store says counts.

A row becomes "excluded" only once the destination confirmed the record is gone ("not found"
counts as gone); a refusal marks it failed, and later cycles re-read it by id and try again
after its back-off, like a failed write, while the rest of the cycle goes on. An outage (a
transient error) counts no attempt: it stops the writes of that stream like an outage during a
write, and the removal stays where it waits (the outbox, or the page the cursor re-reads). A
configuration problem (the feature switched off) pauses the area as for writes, and the
removal stays where it waits.
A destination without ``delete_records`` cannot remove: the rows are marked excluded, as before
removals existed, and that is logged once per destination.

A record deleted outright in the store is noticed when a read by id (the fast lane, the retry
pass) does not return it: ``settle_gone`` queues its removal in the outbox, in the same
transaction as whatever asked for it, so it is neither lost nor applied twice.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any

from host.destinations import DestinationRecord, WriteResult
from host.errors import RecordError, SyncError
from host.sync.erasure import DELETED_KINDS, deleted_in_store
from host.sync.ledger import still_at_destination
from host.sync.order_facts import ORDER_KIND, forget_orders

if TYPE_CHECKING:
    from host.models import LedgerEntry
    from host.sources import Stream
    from host.sync.context import SyncContext

log = logging.getLogger(__name__)
_told_cannot_remove: set[str] = set()  # destinations whose missing delete_records was logged

Removal = tuple["LedgerEntry", str, DestinationRecord]  # (row, why it is excluded, mapped record)
GONE = "deleted in the store"


def removal_record(
    context: SyncContext, kind: str, source_id: str, record: dict[str, Any], map_record
) -> DestinationRecord:
    """The record as the destination knows it (its key, and for orders its contact)."""
    try:
        mapped = map_record(context.connection, record)
    except RecordError:  # e.g. no email any more: the destination is asked by key alone
        mapped = DestinationRecord(kind, source_id, source_id, {})
    mapped.source_id = source_id
    return mapped


def remove(
    context: SyncContext, counts_name: str, collection: str, removals: Sequence[Removal]
) -> None:
    """Delete these records at the destination and record each answer in the ledger."""
    if not removals:
        return
    context.session.commit()  # never hold a write transaction while the destination works
    records = [record for _, _, record in removals]
    try:
        results = context.destination.delete_records(context.connection, collection, records)
    except NotImplementedError:
        _cannot_remove(context, counts_name, removals)
        return
    except RecordError as error:  # refused: retried after its back-off, the rest goes on
        results = [WriteResult(r.source_id, False, reason=error.message) for r in records]
    except SyncError:
        # a configuration problem pauses the area, an outage stops the stream for this run:
        # either way the removal waits (outbox) or is re-read (cursor held), no attempt counted
        raise
    by_id = {result.source_id: result for result in results}
    title = context.destination.title
    for row, reason, record in removals:
        result = by_id.get(record.source_id)
        if result is not None and result.ok:
            context.ledger.record_removed(row, f"{reason}: removed from {title}")
            context.run.add(counts_name, excluded=1)
        else:
            why = result.reason if result is not None and result.reason else "no answer"
            context.ledger.record_removal_failure(
                row, f"{reason}, not yet removed from {title}: {why}"
            )
            context.run.add(counts_name, failed=1)
    context.worked(counts_name)


def _cannot_remove(context: SyncContext, counts_name: str, removals: Sequence[Removal]) -> None:
    name = context.destination.name
    if name not in _told_cannot_remove:
        _told_cannot_remove.add(name)
        log.warning(
            "destination %s cannot remove records: archived orders and hidden products stay there",
            name,
        )
    for row, reason, _ in removals:
        context.ledger.record_excluded(row, reason)  # destination id kept: it is still there
        context.run.add(counts_name, excluded=1)


def settle_gone(
    context: SyncContext, stream: Stream, missing: Iterable[str], *, removable: bool
) -> int:
    """Records asked for by id that the source no longer returns are deleted in the store.

    Those still at the destination (``removable``: the stream writes to a collection) wait in
    the outbox for their removal, keyed by the id the destination answered for them; the
    others are marked excluded. A deleted customer or subscriber leaves its profile, and the
    person it was is removed or erased once nothing else describes them (``host.sync.erasure``).
    Answers how many removals now wait.
    """
    missing = sorted(set(missing))
    if stream.kind == ORDER_KIND:  # an order deleted outright adds nothing to its email's fields
        forget_orders(context.session, context.connection.id, missing)
    if stream.kind in DELETED_KINDS:  # a store account or subscriber: its person may be gone
        deleted_in_store(context, stream, missing)
    waiting = 0
    for row in context.ledger.entries(stream.name, missing).values():
        outbox = row.outbox or {}
        if removable and still_at_destination(row):
            if not outbox.get("remove"):  # a removal already waiting knows the record better
                key = outbox.get("key") or row.destination_id or row.source_id
                context.ledger.queue_removal(row, key, outbox.get("payload") or {}, GONE)
            waiting += 1
        elif row.state != "excluded" or outbox:
            context.ledger.record_excluded(row, GONE)
            context.run.add(stream.name, read=1, excluded=1)  # found deleted: taken up, not read
    return waiting
