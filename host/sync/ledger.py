"""The record ledger: what was last sent for each source record, and how it went.

A row per (connection, kind, source id). ``kind`` is a stream name for records written to a
collection (``orders``, ``products``) and ``customer_contact`` / ``subscriber_contact`` for
contacts in the two books (source id = the lower-cased email), and ``deleted_contact`` for a
person deleted in the store (source id = a hash of the email; ``host.sync.erasure``). ``payload_hash`` is the hash of
what was last sent (synced) or last tried (failed), so an unchanged record is never re-sent and
a failed one is retried only until ``max_attempts``, unless it changes.

Only a refusal counts as an attempt: the destination answered that this record is wrong (a
``WriteResult`` with ``ok=False``, a ``RecordError``, an invalid source record). A refused record
waits ``backoff(attempts)`` before its next try (``next_attempt_at``: minutes growing to hours),
and neither the cycle nor the fast lane sends it again before then, unless its payload changed
(a new try). After ``max_attempts`` refusals it stays "failed" until the merchant presses Retry
(*needs attention*). Transient errors (429, 5xx, outages) never reach the ledger as failures:
the callers leave the record pending (dirty profile, outbox, cursor held) to be sent next time.

A record sent and later
excluded (an order archived, a product hidden) is removed at the destination: the removal waits
in the outbox like a write, and the row becomes "excluded" only once the destination confirmed.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable, Iterable, Sequence
from datetime import datetime, timedelta
from typing import Any

import orjson
from sqlalchemy import ColumnElement, and_, bindparam, func, or_, select, update
from sqlalchemy.orm import Session
from sqlalchemy.orm.util import identity_key

from host.destinations import WriteResult
from host.models import LedgerEntry, utcnow

CUSTOMER_CONTACT = "customer_contact"
SUBSCRIBER_CONTACT = "subscriber_contact"
# The hash a failed removal leaves: never a payload's, so a record restored is always re-sent.
REMOVAL_HASH = "removal".ljust(64, "-")
# ``LedgerEntry.consent`` of a subscriber contact accepted before consents were kept per row
# (schema 0007): its consent was sent then, and is not sent again in this subscription.
LEGACY_CONSENT = "legacy"
ANSWERS_CHUNK = 2000  # answers per bulk UPDATE (``Ledger.record_answers``)
RETRY_BASE_SECONDS = 300  # the wait after a first refusal ([sync] retry_base_seconds)
RETRY_GROWTH = 3  # each further refusal waits this many times longer ...
RETRY_CAP = timedelta(hours=6)  # ... up to this


def backoff(attempts: int, base_seconds: float = RETRY_BASE_SECONDS) -> timedelta:
    """How long a record refused ``attempts`` times waits before its next try: with the default
    base, 5 min, 15 min, 45 min, 2 h 15, then 6 h (the cap)."""
    exponent = min(max(attempts, 1) - 1, 20)  # a large count must not overflow
    return min(timedelta(seconds=base_seconds * RETRY_GROWTH**exponent), RETRY_CAP)


def still_at_destination(row: LedgerEntry) -> bool:
    """Whether a record was sent and not removed since: a destination id (kept until a removal
    is confirmed) or a "synced" state (destinations that answer no id)."""
    return row.destination_id is not None or row.state == "synced"


_FAST_HASH_OPTIONS = (
    orjson.OPT_SORT_KEYS | orjson.OPT_PASSTHROUGH_DATETIME | orjson.OPT_PASSTHROUGH_DATACLASS
)


def payload_hash(payload: Any) -> str:
    """A stable hash of a JSON-ready value (key order does not matter).

    The ledger keeps these hashes across versions, so the bytes hashed are exactly what
    ``json.dumps(sort_keys=True, separators=(",", ":"), default=str)`` gives. orjson gives the
    same bytes several times faster whenever its output is ASCII; anything else (non-ASCII text,
    which json escapes, or values orjson does not take) is hashed the slower, canonical way."""
    try:
        encoded = orjson.dumps(payload, option=_FAST_HASH_OPTIONS, default=str)
    except TypeError:
        encoded = b""
    if not encoded or not encoded.isascii() or _MAY_DIFFER.search(encoded):
        encoded = json.dumps(payload, sort_keys=True, separators=(",", ":"), default=str).encode()
    return hashlib.sha256(encoded).hexdigest()


# Numbers in exponent form, which orjson writes without json's "+" (1e16 vs 1e+16).
_MAY_DIFFER = re.compile(rb"[0-9]e[0-9-]")


class Ledger:
    """The ledger rows of one connection, loaded a batch at a time."""

    def __init__(
        self,
        session: Session,
        connection_id: int,
        max_attempts: int,
        *,
        retry_base_seconds: float = RETRY_BASE_SECONDS,
        clock: Callable[[], datetime] = utcnow,
    ):
        self.session = session
        self.connection_id = connection_id
        self.max_attempts = max_attempts
        self.retry_base_seconds = retry_base_seconds
        self.clock = clock

    def due(self, row: LedgerEntry) -> bool:
        """Whether a failed row's back-off is over (a row refused before back-offs existed is)."""
        return row.next_attempt_at is None or row.next_attempt_at <= self.clock()

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

    def rows(self, ids: Iterable[int]) -> list[LedgerEntry]:
        """The rows with these ids (of this connection)."""
        wanted, found = sorted(set(ids)), []
        for start in range(0, len(wanted), 500):
            found += self.session.scalars(
                select(LedgerEntry).where(
                    LedgerEntry.connection_id == self.connection_id,
                    LedgerEntry.id.in_(wanted[start : start + 500]),
                )
            )
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
        only by the once-a-cycle retry pass, once its back-off is over, and not after
        ``max_attempts``. A changed payload is a new try: it is sent at once."""
        if row is None or row.payload_hash != digest:
            return "send"
        if row.state == "synced":
            return "unchanged"
        if row.state == "failed" and (
            not retrying or row.attempts >= self.max_attempts or not self.due(row)
        ):
            return "held"
        return "send"

    def queue(
        self, row: LedgerEntry, digest: str, key: str, payload: dict[str, Any], run: int | None = None
    ) -> bool:
        """Keep a mapped record until its turn to be sent, marked with the ``run`` that queued
        it (``host.sync.tally``); False when this very payload already waits (it is marked
        with ``run`` all the same)."""
        if row.outbox is not None and row.outbox.get("hash") == digest:
            if row.outbox.get("run") != run:
                row.outbox = {**row.outbox, "run": run}
            return False
        row.outbox = {"key": key, "payload": payload, "hash": digest, "run": run}
        if row.state != "failed":
            row.state = "pending"
        return True

    def record_result(self, row: LedgerEntry, digest: str, result: WriteResult) -> None:
        row.outbox = None
        if result.ok:
            row.state, row.reason, row.attempts = "synced", None, 0
            row.next_attempt_at = None
            row.destination_id = result.destination_id or row.destination_id
        else:
            self.record_failure(row, digest, result.reason or "refused by the destination")
        row.payload_hash = digest

    def record_failure(self, row: LedgerEntry, digest: str | None, reason: str) -> None:
        """The record was refused (never call this for an outage): one more attempt, and a
        longer wait before the next; a changed payload starts counting again."""
        row.outbox = None
        row.attempts = _attempts_after_refusal(row.attempts, row.payload_hash, row.state, digest)
        row.state, row.reason, row.payload_hash = "failed", reason[:2000], digest
        row.next_attempt_at = self.clock() + backoff(row.attempts, self.retry_base_seconds)

    def record_answers(self, answers: Sequence[tuple[int, str | None, WriteResult]]) -> None:
        """``record_result`` for many rows at once, by ledger row id: (row id, digest sent,
        answer). The accepted ones are one executemany UPDATE; the refused ones read their
        attempts and go through the same rule as ``record_failure``. Rows of the session's
        identity map are expired, so nothing reads a stale copy; call it with nothing pending
        in the session (the writers' callers commit before each destination call)."""
        for start in range(0, len(answers), ANSWERS_CHUNK):  # bounded statements and memory
            self._record_answers(answers[start : start + ANSWERS_CHUNK])

    def _record_answers(self, answers: Sequence[tuple[int, str | None, WriteResult]]) -> None:
        if not answers:
            return
        table = LedgerEntry.__table__
        accepted = [
            {"b_id": row_id, "b_hash": digest, "b_destination": result.destination_id}
            for row_id, digest, result in answers
            if result.ok
        ]
        if accepted:
            self.session.execute(
                update(table)
                .where(table.c.id == bindparam("b_id"))
                .values(
                    state="synced", reason=None, attempts=0, next_attempt_at=None, outbox=None,
                    payload_hash=bindparam("b_hash"),
                    destination_id=func.coalesce(bindparam("b_destination"), table.c.destination_id),
                ),
                accepted,
            )
        refused = {row_id: (digest, result) for row_id, digest, result in answers if not result.ok}
        if refused:
            ids = sorted(refused)
            before: dict[int, tuple[int, str | None, str]] = {}
            for start in range(0, len(ids), 500):
                before.update(
                    (row.id, (row.attempts or 0, row.payload_hash, row.state))
                    for row in self.session.execute(
                        select(table.c.id, table.c.attempts, table.c.payload_hash, table.c.state)
                        .where(table.c.id.in_(ids[start : start + 500]))
                    )
                )
            now, changes = self.clock(), []
            for row_id, (digest, result) in refused.items():
                if row_id not in before:
                    continue
                attempts = _attempts_after_refusal(*before[row_id], digest)
                changes.append({
                    "b_id": row_id, "b_hash": digest, "b_attempts": attempts,
                    "b_reason": (result.reason or "refused by the destination")[:2000],
                    "b_next": now + backoff(attempts, self.retry_base_seconds),
                })
            if changes:
                self.session.execute(
                    update(table)
                    .where(table.c.id == bindparam("b_id"))
                    .values(
                        state="failed", outbox=None, reason=bindparam("b_reason"),
                        payload_hash=bindparam("b_hash"), attempts=bindparam("b_attempts"),
                        next_attempt_at=bindparam("b_next"),
                    ),
                    changes,
                )
        self._expire_loaded(row_id for row_id, _, _ in answers)

    def record_excluded(self, row: LedgerEntry, reason: str) -> None:
        """Out of the destination (a subscriber out of the book: a later subscription is a new
        consent, so the consent accepted is forgotten)."""
        row.state, row.reason, row.payload_hash, row.attempts = "excluded", reason, None, 0
        row.outbox, row.next_attempt_at, row.consent = None, None, None

    def record_consents(self, accepted: Sequence[tuple[int, str]]) -> None:
        """(row id, consent key): the destination accepted these rows' writes carrying their
        consent (``LedgerEntry.consent``); one executemany UPDATE."""
        if not accepted:
            return
        table = LedgerEntry.__table__
        self.session.execute(
            update(table).where(table.c.id == bindparam("b_id")).values(consent=bindparam("b_consent")),
            [{"b_id": row_id, "b_consent": key} for row_id, key in accepted],
        )
        self._expire_loaded(row_id for row_id, _ in accepted)

    def _expire_loaded(self, row_ids: Iterable[int]) -> None:
        """Rows updated in bulk by id: those the session holds are read again when next used."""
        identity_map = self.session.identity_map
        for row_id in row_ids:
            loaded = identity_map.get(identity_key(LedgerEntry, row_id))
            if loaded is not None:
                self.session.expire(loaded)

    def queue_removal(
        self, row: LedgerEntry, key: str, payload: dict[str, Any], reason: str, run: int | None = None
    ) -> None:
        """Keep a removal until its turn, marked with the ``run`` that queued it; "pending" so a
        record restored meanwhile is re-sent."""
        row.outbox = {"key": key, "payload": payload, "remove": reason, "run": run}
        if row.state != "failed":
            row.state = "pending"

    def record_removed(self, row: LedgerEntry, reason: str) -> None:
        """The destination confirmed the record is gone: nothing of it is left to remove."""
        self.record_excluded(row, reason)
        row.destination_id = None

    def record_removal_failure(self, row: LedgerEntry, reason: str) -> None:
        """Retried by later cycles (``retry_ids``) like a failed write, up to ``max_attempts``."""
        self.record_failure(row, REMOVAL_HASH, reason)

    def retry_due(self) -> ColumnElement[bool]:
        """The rows refused before and due for another try: under ``max_attempts``, back-off
        over (a SQL condition, for every queue of the ledger's kinds)."""
        return and_(
            LedgerEntry.state == "failed",
            LedgerEntry.attempts < self.max_attempts,
            or_(LedgerEntry.next_attempt_at.is_(None), LedgerEntry.next_attempt_at <= self.clock()),
        )

    def retry_ids(self, kind: str, limit: int = 1000) -> list[str]:
        """Failed records due for another try (a later cycle re-reads them by id)."""
        return list(
            self.session.scalars(
                select(LedgerEntry.source_id)
                .where(
                    LedgerEntry.connection_id == self.connection_id,
                    LedgerEntry.kind == kind,
                    self.retry_due(),
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


def _attempts_after_refusal(
    attempts: int, previous_hash: str | None, state: str, digest: str | None
) -> int:
    """A refusal of the payload refused last time counts one more attempt; any other starts at 1."""
    return attempts + 1 if previous_hash == digest and state == "failed" else 1


def retry_now(session: Session, connection_id: int, ids: Iterable[int] | None = None) -> int:
    """The merchant's Retry: the connection's refused records (the ledger rows ``ids``, or all
    of them) get a fresh count and are due at once, so the next cycle's retry pass re-reads
    and re-sends them (they stay "failed" until then). Answers how many rows."""
    statement = update(LedgerEntry).where(
        LedgerEntry.connection_id == connection_id, LedgerEntry.state == "failed"
    )
    if ids is not None:
        statement = statement.where(LedgerEntry.id.in_(list(ids)))
    result = session.execute(statement.values(attempts=0, next_attempt_at=None))
    return result.rowcount or 0
