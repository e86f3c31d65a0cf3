"""The record ledger: what was last sent for each source record, and how it went.

A row per (connection, kind, source id). ``kind`` is a stream name for records written to a
collection (``orders``, ``products``) and ``customer_contact`` / ``subscriber_contact`` for
contacts in the two books (source id = the lower-cased email). ``payload_hash`` is the hash of
what was last sent (synced) or last tried (failed), so an unchanged record is never re-sent and
a failed one is retried only until ``max_attempts``, unless it changes. A record sent and later
excluded (an order archived, a product hidden) is removed at the destination: the removal waits
in the outbox like a write, and the row becomes "excluded" only once the destination confirmed.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from host.destinations import WriteResult
from host.models import LedgerEntry

CUSTOMER_CONTACT = "customer_contact"
SUBSCRIBER_CONTACT = "subscriber_contact"
# The hash a failed removal leaves: never a payload's, so a record restored is always re-sent.
REMOVAL_HASH = "removal".ljust(64, "-")


def still_at_destination(row: LedgerEntry) -> bool:
    """Whether a record was sent and not removed since: a destination id (kept until a removal
    is confirmed) or a "synced" state (destinations that answer no id)."""
    return row.destination_id is not None or row.state == "synced"


def payload_hash(payload: Any) -> str:
    """A stable hash of a JSON-ready value (key order does not matter)."""
    encoded = json.dumps(payload, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(encoded.encode()).hexdigest()


class Ledger:
    """The ledger rows of one connection, loaded a batch at a time."""

    def __init__(self, session: Session, connection_id: int, max_attempts: int):
        self.session = session
        self.connection_id = connection_id
        self.max_attempts = max_attempts

    def entries(self, kind: str, source_ids: Iterable[str]) -> dict[str, LedgerEntry]:
        ids = list(set(source_ids))
        found: dict[str, LedgerEntry] = {}
        for start in range(0, len(ids), 500):
            rows = self.session.scalars(
                select(LedgerEntry).where(
                    LedgerEntry.connection_id == self.connection_id,
                    LedgerEntry.kind == kind,
                    LedgerEntry.source_id.in_(ids[start : start + 500]),
                )
            )
            found.update((row.source_id, row) for row in rows)
        return found

    def entry(self, entries: dict[str, LedgerEntry], kind: str, source_id: str) -> LedgerEntry:
        """The row for ``source_id``, created (pending) when the record is new."""
        row = entries.get(source_id)
        if row is None:
            row = LedgerEntry(
                connection_id=self.connection_id,
                kind=kind,
                source_id=source_id,
                state="pending",
                attempts=0,
            )
            self.session.add(row)
            entries[source_id] = row
        return row

    def verdict(self, row: LedgerEntry | None, digest: str, *, retrying: bool = False) -> str:
        """send, unchanged, or held: a record that failed with this very payload is tried again
        only by the once-a-cycle retry pass, and not after ``max_attempts``."""
        if row is None or row.payload_hash != digest:
            return "send"
        if row.state == "synced":
            return "unchanged"
        if row.state == "failed" and (not retrying or row.attempts >= self.max_attempts):
            return "held"
        return "send"

    def queue(self, row: LedgerEntry, digest: str, key: str, payload: dict[str, Any]) -> bool:
        """Keep a mapped record until its turn to be sent; False when this very payload already waits."""
        if row.outbox is not None and row.outbox.get("hash") == digest:
            return False
        row.outbox = {"key": key, "payload": payload, "hash": digest}
        if row.state != "failed":
            row.state = "pending"
        return True

    def record_result(self, row: LedgerEntry, digest: str, result: WriteResult) -> None:
        row.outbox = None
        if result.ok:
            row.state, row.reason, row.attempts = "synced", None, 0
            row.destination_id = result.destination_id or row.destination_id
        else:
            self.record_failure(row, digest, result.reason or "refused by the destination")
        row.payload_hash = digest

    def record_failure(self, row: LedgerEntry, digest: str | None, reason: str) -> None:
        row.outbox = None
        row.attempts = (
            row.attempts + 1 if row.payload_hash == digest and row.state == "failed" else 1
        )
        row.state, row.reason, row.payload_hash = "failed", reason[:2000], digest

    def record_excluded(self, row: LedgerEntry, reason: str) -> None:
        row.state, row.reason, row.payload_hash, row.attempts = "excluded", reason, None, 0
        row.outbox = None

    def queue_removal(
        self, row: LedgerEntry, key: str, payload: dict[str, Any], reason: str
    ) -> None:
        """Keep a removal until its turn; "pending" so a record restored meanwhile is re-sent."""
        row.outbox = {"key": key, "payload": payload, "remove": reason}
        if row.state != "failed":
            row.state = "pending"

    def record_removed(self, row: LedgerEntry, reason: str) -> None:
        """The destination confirmed the record is gone: nothing of it is left to remove."""
        self.record_excluded(row, reason)
        row.destination_id = None

    def record_removal_failure(self, row: LedgerEntry, reason: str) -> None:
        """Retried by later cycles (``retry_ids``) like a failed write, up to ``max_attempts``."""
        self.record_failure(row, REMOVAL_HASH, reason)

    def retry_ids(self, kind: str, limit: int = 1000) -> list[str]:
        """Failed records still worth another try (a later cycle re-reads them by id)."""
        return list(
            self.session.scalars(
                select(LedgerEntry.source_id)
                .where(
                    LedgerEntry.connection_id == self.connection_id,
                    LedgerEntry.kind == kind,
                    LedgerEntry.state == "failed",
                    LedgerEntry.attempts < self.max_attempts,
                )
                .order_by(LedgerEntry.id)
                .limit(limit)
            )
        )

    def destination_id(self, kind: str, source_id: str) -> str | None:
        return self.session.scalar(
            select(LedgerEntry.destination_id).where(
                LedgerEntry.connection_id == self.connection_id,
                LedgerEntry.kind == kind,
                LedgerEntry.source_id == source_id,
                LedgerEntry.state == "synced",
            )
        )
