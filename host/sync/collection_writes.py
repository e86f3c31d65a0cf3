"""Records written to a destination collection: orders (history per contact) and products.

Every order counts except incomplete ones (abandoned checkouts) and deleted ones; only visible
products are sent. Excluded records are kept in the ledger with the reason, and one that was
sent before (an order archived, a product hidden since) is removed at the destination
(``removals``); a record that comes back is sent again (its ledger hash was cleared).

Products are written page by page. Orders are contact-scoped: the destination attaches each to
its contact, so they wait in the ledger's outbox (``queue_collection``) and are sent by
``flush_outbox`` after the cycle's contacts phase, when every contact they name exists.
"""

from __future__ import annotations

from collections.abc import Collection
from typing import TYPE_CHECKING, Any

from sqlalchemy import select

from host.destinations import DestinationRecord, WriteResult
from host.errors import RecordError
from host.models import LedgerEntry
from host.sync.contacts import apply_results
from host.sync.ledger import payload_hash, still_at_destination
from host.sync.removals import Removal, removal_record, remove

if TYPE_CHECKING:
    from host.sources import Stream
    from host.sync.context import SyncContext

MAPPERS = {"order": "map_order", "product": "map_product"}
QUEUED_KINDS = frozenset({"order"})  # sent after the contacts they belong to
OUTBOX_BATCH = 2000


def exclusion(kind: str, record: dict[str, Any]) -> str | None:
    """Why this record is not sent, or None when it is."""
    if kind == "order" and record.get("is_incomplete"):
        return "an incomplete order (abandoned checkout)"
    if kind == "order" and record.get("is_deleted"):
        return "archived in the store"
    if kind == "product" and not record.get("is_visible"):
        return "hidden in the store"
    return None


def collection_of(context: SyncContext, kind: str) -> str:
    return context.mapper.collections.get(kind, kind)


def _plan(
    context: SyncContext, stream: Stream, records: list[dict[str, Any]]
) -> tuple[list[tuple], list[Removal]]:
    """Ledger verdicts for one page: (row, hash, mapped record) of each record to send, and
    (row, reason, mapped record) of each excluded one to remove from the destination."""
    name, kind = stream.name, stream.kind
    rows = context.ledger.entries(name, [str(record[stream.primary_key]) for record in records])
    map_record = getattr(context.mapper, MAPPERS[kind])
    planned, removals = [], []
    for record in records:
        source_id = str(record[stream.primary_key])
        row = context.ledger.entry(rows, name, source_id)
        reason = exclusion(kind, record)
        if reason is not None:
            if still_at_destination(row):
                removed = removal_record(context, kind, source_id, record, map_record)
                removals.append((row, reason, removed))
                continue
            if row.state != "excluded":
                context.ledger.record_excluded(row, reason)
            context.run.add(name, excluded=1)
            continue
        try:
            mapped = map_record(context.connection, record)
        except RecordError as error:
            context.ledger.record_failure(row, None, error.message)
            context.run.add(name, failed=1)
            continue
        mapped.source_id = source_id
        digest = payload_hash(mapped.payload)
        verdict = context.ledger.verdict(row, digest, retrying=context.retrying)
        if verdict == "send":
            planned.append((row, digest, mapped))
        else:
            context.run.add(
                name, unchanged=int(verdict == "unchanged"), failed=int(verdict == "held")
            )
    return planned, removals


def queue_collection(context: SyncContext, stream: Stream, records: list[dict[str, Any]]) -> None:
    """Keep the page's changed records and removals in the outbox, in the page's transaction."""
    planned, removals = _plan(context, stream, records)
    for row, digest, mapped in planned:
        context.ledger.queue(row, digest, mapped.key, mapped.payload)
        context.run.tally.queued(stream.name, row.source_id)  # counted when sent
    for row, reason, mapped in removals:
        context.ledger.queue_removal(row, mapped.key, mapped.payload, reason)
        context.run.tally.queued(stream.name, row.source_id)


def sync_collection(context: SyncContext, stream: Stream, records: list[dict[str, Any]]) -> None:
    """Send the page's changed records now, and remove the ones excluded since they were sent."""
    planned, removals = _plan(context, stream, records)
    collection = collection_of(context, stream.kind)
    if planned:
        _send(context, stream.name, collection, planned)
    remove(context, stream.name, collection, removals)


def flush_outbox(context: SyncContext, stream: Stream, only: Collection[str] | None = None) -> bool:
    """Send what waits in the stream's outbox, a batch at a time (memory stays flat); answer
    whether it is empty (False: the cycle is stopping, the rest waits for the next run).
    ``only``: just the rows of these source ids (the fast lane sends what it queued itself)."""
    collection = collection_of(context, stream.kind)
    while True:
        query = select(LedgerEntry).where(
            LedgerEntry.connection_id == context.connection.id,
            LedgerEntry.kind == stream.name,
            LedgerEntry.outbox.is_not(None),
        )
        if only is not None:
            if not only:
                return True
            query = query.where(LedgerEntry.source_id.in_(sorted(only)))
        rows = context.session.scalars(
            query.order_by(LedgerEntry.id).limit(OUTBOX_BATCH)
        ).all()
        rows = [row for row in rows if row.outbox]  # JSON null reads back as None too
        if not rows:
            return True
        planned, removals = [], []
        for row in rows:
            context.run.tally.taken_from_outbox(stream.name, row.source_id)
            waiting = row.outbox
            record = DestinationRecord(
                stream.kind, row.source_id, waiting["key"], waiting["payload"]
            )
            if waiting.get("remove"):
                removals.append((row, waiting["remove"], record))
            else:
                planned.append((row, waiting["hash"], record))
        if planned:
            _send(context, stream.name, collection, planned)
        remove(context, stream.name, collection, removals)
        context.commit()
        context.run.page_done(stream.name)
        if context.should_stop():
            return False


def _send(context: SyncContext, counts_name: str, collection: str, planned: list) -> None:
    context.session.commit()  # never hold a write transaction while the destination works
    records = [mapped for _, _, mapped in planned]
    try:
        results = context.destination.write_records(context.connection, collection, records)
    except RecordError as error:
        results = [WriteResult(m.source_id, False, reason=error.message) for m in records]
    apply_results(context, planned, results, counts_name)
    context.worked(counts_name)
