"""Records written to a destination collection: orders (history per contact) and products.

Every order counts except incomplete ones (abandoned checkouts) and deleted ones; only visible
products are sent. Excluded records are kept in the ledger with the reason, and one that was
sent before (an order archived, a product hidden since) is removed at the destination
(``removals``); a record that comes back is sent again (its ledger hash was cleared).

Products are handed page by page to one writer per stream read (``open_collection`` …
``finish_collection``): the destination sends them in as few writes as it can, and the
stream's cursor moves once the writer accepted the whole read. Orders are contact-scoped: the
destination attaches each to its contact, so they wait in the ledger's outbox
(``queue_collection``) and are sent by ``flush_outbox`` after the cycle's contacts phase, when
every contact they name exists, through one writer for the whole outbox.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from typing import TYPE_CHECKING, Any

from sqlalchemy import select

from host.destinations import BatchWriter, DestinationRecord, WriteResult
from host.errors import ConfigurationError, RecordError
from host.models import LedgerEntry
from host.sync.contacts import NO_ANSWER, apply_in_chunks
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
    run = context.run.tally.run_id
    for row, digest, mapped in planned:
        context.run.tally.queued(stream.name, row.outbox)  # counted when sent
        context.ledger.queue(row, digest, mapped.key, mapped.payload, run)
    for row, reason, mapped in removals:
        context.run.tally.queued(stream.name, row.outbox)
        context.ledger.queue_removal(row, mapped.key, mapped.payload, reason, run)


def sync_collection(context: SyncContext, stream: Stream, records: list[dict[str, Any]]) -> None:
    """Hand the page's changed records to the stream's writer, and remove the ones excluded
    since they were sent. Within a stream read (``open_collection``) the answers come as the
    destination gives them and the stream's cursor waits for ``finish_collection``; anywhere
    else (the fast lane) the page is written and answered at once."""
    planned, removals = _plan(context, stream, records)
    collection = collection_of(context, stream.kind)
    if planned:
        context.session.flush()  # new ledger rows get their ids
        sender = _senders(context).get(stream.name)
        if sender is None:
            sender = RecordSender(context, stream.name, collection)
            sender.add([(row.id, digest, mapped) for row, digest, mapped in planned])
            sender.finish()
        else:
            sender.add([(row.id, digest, mapped) for row, digest, mapped in planned])
    remove(context, stream.name, collection, removals)


def open_collection(context: SyncContext, stream: Stream) -> None:
    """A stream read begins: its pages' writes go through one writer until ``finish_collection``."""
    if stream.kind in MAPPERS and stream.kind not in QUEUED_KINDS:
        _senders(context)[stream.name] = RecordSender(
            context, stream.name, collection_of(context, stream.kind)
        )


def finish_collection(context: SyncContext, stream: Stream) -> bool:
    """The stream read ended: send what its writer holds and wait for every answer; answer
    whether all was accepted (False: the area is paused, or was before the end). A transient
    error is raised: the stream's cursor stays, and what was not answered is sent again."""
    sender = _senders(context).pop(stream.name, None)
    if sender is None:
        return True
    if stream.name in context.paused:
        return False
    context.writing = stream.name
    try:
        sender.finish()
        return True
    except ConfigurationError as error:
        context.session.rollback()
        context.pause(stream.name, error)
        return False
    finally:
        context.writing = None


def discard_collection(context: SyncContext, stream: Stream) -> None:
    """Forget a stream's writer without waiting (the read ended on an error): the records not
    answered stay pending in the ledger, and the cursor that did not move re-reads them."""
    _senders(context).pop(stream.name, None)


def flush_outbox(context: SyncContext, stream: Stream, only: Collection[str] | None = None) -> bool:
    """Send what waits in the stream's outbox through one writer, reading it a batch at a time
    (memory stays flat: rows are read as plain values, not ORM objects); answer whether it was
    all answered (False: the cycle is stopping, the rest waits for the next run). A row leaves
    the outbox when its answer is applied, so after a crash the rows still waiting are sent
    again (upserts by key: nothing is duplicated). ``only``: just the rows of these source ids
    (the fast lane sends what it queued itself)."""
    if only is not None and not only:
        return True
    collection = collection_of(context, stream.kind)
    sender = RecordSender(context, stream.name, collection)
    last_id, removal_ids = 0, []
    while True:
        query = select(LedgerEntry.id, LedgerEntry.source_id, LedgerEntry.outbox).where(
            LedgerEntry.connection_id == context.connection.id,
            LedgerEntry.kind == stream.name,
            LedgerEntry.outbox.is_not(None),
            LedgerEntry.id > last_id,
        )
        if only is not None:
            query = query.where(LedgerEntry.source_id.in_(sorted(only)))
        rows = context.session.execute(query.order_by(LedgerEntry.id).limit(OUTBOX_BATCH)).all()
        if not rows:
            break
        last_id = rows[-1].id
        planned = []
        for row_id, source_id, waiting in rows:
            if not waiting:  # JSON null reads back as None too
                continue
            context.run.tally.taken_from_outbox(stream.name, waiting)
            if waiting.get("remove"):
                removal_ids.append(row_id)
            else:
                record = DestinationRecord(stream.kind, source_id, waiting["key"], waiting["payload"])
                planned.append((row_id, waiting["hash"], record))
        del rows
        sender.add(planned)
        context.commit()
        context.progressed = True
        context.run.page_done(stream.name)
        if context.should_stop() or context.slice_over():
            sender.finish()
            _remove_waiting(context, stream, collection, removal_ids)
            return False
    sender.finish()
    _remove_waiting(context, stream, collection, removal_ids)  # an outage here holds no write back
    return True


def _remove_waiting(context: SyncContext, stream: Stream, collection: str, ids: list[int]) -> None:
    """Send the removals waiting in these outbox rows, a batch at a time."""
    for start in range(0, len(ids), OUTBOX_BATCH):
        removals = []
        for row in context.ledger.rows(ids[start : start + OUTBOX_BATCH]):
            waiting = row.outbox or {}
            if waiting.get("remove"):
                record = DestinationRecord(stream.kind, row.source_id, waiting["key"], waiting["payload"])
                removals.append((row, waiting["remove"], record))
        remove(context, stream.name, collection, removals)
        context.commit()


# Most records a writer may hold without an answer before the sender waits for some: about one
# full 50 MB import of the smallest records (a product, ~330 bytes), so no import is cut short.
MAX_WAITING = 150_000


class RecordSender:
    """One stream's writes to its collection through one ``BatchWriter``: ``add`` hands over
    (ledger row id, digest, mapped record) and applies the answers ready so far, ``finish``
    waits for the rest. Answers are applied in bulk (``Ledger.record_answers``) and counted as
    sent or failed under the stream; it holds a row id and a digest per record waiting."""

    def __init__(self, context: SyncContext, counts_name: str, collection: str):
        self.context = context
        self.counts_name = counts_name
        self.collection = collection
        self.writer: BatchWriter | None = None
        self.waiting: dict[str, list[tuple[int, str]]] = {}  # source id → (row id, digest)

    def add(self, planned: list[tuple[int, str, DestinationRecord]]) -> None:
        if not planned:
            return
        for row_id, digest, record in planned:
            self.waiting.setdefault(record.source_id, []).append((row_id, digest))
        self.context.session.commit()  # never hold a write transaction while the destination works
        if self.writer is None:
            self.writer = self.context.destination.record_writer(
                self.context.connection, self.collection
            )
        results = self.writer.add([record for _, _, record in planned])
        if self.writer.waiting > MAX_WAITING:
            results += self.writer.drain(MAX_WAITING)
        self._apply(results)
        self.context.commit()

    def finish(self) -> None:
        if self.writer is not None:
            self.context.session.commit()
            self._apply(self.writer.finish())
        if self.waiting:  # answered by nobody: refused, retried after the back-off
            self._apply([WriteResult(source_id, False, reason=NO_ANSWER) for source_id in list(self.waiting)])
        self.context.commit()

    def _apply(self, results: list[WriteResult]) -> None:
        apply_in_chunks(self.context, results, self._apply_chunk)

    def _apply_chunk(self, results: Sequence[WriteResult]) -> None:
        if not results:
            return
        answered: list[tuple[int, str, WriteResult]] = []
        for result in results:
            answered += [(row_id, digest, result) for row_id, digest in self.waiting.pop(result.source_id, ())]
        self.context.ledger.record_answers(answered)
        sent = sum(1 for _, _, result in answered if result.ok)
        self.context.run.add(self.counts_name, sent=sent, failed=len(answered) - sent)
        self.context.worked(self.counts_name)


def _senders(context: SyncContext) -> dict[str, RecordSender]:
    """The writers of the streams being read (``open_collection``), kept on the context."""
    senders = getattr(context, "record_senders", None)
    if senders is None:
        senders = {}
        context.record_senders = senders
    return senders
