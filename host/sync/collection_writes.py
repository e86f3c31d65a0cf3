"""Records written to a destination collection: orders (history per contact) and products.

Every order counts except incomplete ones (abandoned checkouts) and deleted ones; only visible
products are sent. Excluded records are kept in the ledger with the reason.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from host.destinations import WriteResult
from host.errors import RecordError
from host.sync.contacts import apply_results
from host.sync.ledger import payload_hash

if TYPE_CHECKING:
    from host.sources import Stream
    from host.sync.context import SyncContext

MAPPERS = {"order": "map_order", "product": "map_product"}


def exclusion(kind: str, record: dict[str, Any]) -> str | None:
    """Why this record is not sent, or None when it is."""
    if kind == "order" and record.get("is_incomplete"):
        return "an incomplete order (abandoned checkout)"
    if kind == "order" and record.get("is_deleted"):
        return "deleted (archived) in the store"
    if kind == "product" and not record.get("is_visible"):
        return "not visible in the store"
    return None


def sync_collection(context: SyncContext, stream: Stream, records: list[dict[str, Any]]) -> None:
    name, kind = stream.name, stream.kind
    collection = context.mapper.collections.get(kind, kind)
    rows = context.ledger.entries(name, [str(record[stream.primary_key]) for record in records])
    map_record = getattr(context.mapper, MAPPERS[kind])
    planned = []
    for record in records:
        source_id = str(record[stream.primary_key])
        row = context.ledger.entry(rows, name, source_id)
        reason = exclusion(kind, record)
        if reason is not None:
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
    if not planned:
        return
    try:
        results = context.destination.write_records(
            context.connection, collection, [m for _, _, m in planned]
        )
    except RecordError as error:
        results = [WriteResult(m.source_id, False, reason=error.message) for _, _, m in planned]
    apply_results(context, planned, results, name)
    context.worked(name)
