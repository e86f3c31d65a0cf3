"""Contacts: each profile becomes at most two destination contacts — one in the customers book,
one in the subscribers book — sent only when what would be sent changed.

Customers (registered and guests) go to the customers book when one is chosen; with no book,
a contact is still written (without a book) when it has orders, so its order history is never
stranded. Only opted-in contacts go to the subscribers book, with their consent; an unsubscribe
takes the contact out of that book (a list removal, not a global suppression), and so does a
changed customer email for the old address in the customers book.

What decides "changed" is the digest of the contact as mapped, without the mapped fields that
have no value, and its book (``map_for_book``): mapping a new field changes nothing for the
contacts without a value for it, so a mapping change re-sends only the contacts whose mapped
values changed. The record sent also carries an empty value for the mapped fields without a
value and for the fields unmapped since the last check (``context.unmapped``), so a value that
went away is cleared at the destination.

A subscriber's consent is sent with its contact until the destination accepts a write carrying
it, then never again in that subscription, whatever else changes and whether or not a later
write is refused: the ledger row keeps the consent accepted (``LedgerEntry.consent``, the
mapper's ``consent_key``). It is sent again only for a new consent: after an unsubscribe (the
row's consent is forgotten when the contact leaves the book) or when the consent itself changes
(another ``consent_key``, e.g. a new consent date), which sends the contact even if nothing else
changed. A destination that keeps every consent record it is sent (Engagement Cloud's
ConsentInsight) so holds one record per consent given.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from host.destinations import BatchWriter, DestinationRecord, WriteResult
from host.errors import RecordError
from host.records import contact_fields
from host.sync.ledger import (
    ANSWERS_CHUNK,
    CUSTOMER_CONTACT,
    LEGACY_CONSENT,
    SUBSCRIBER_CONTACT,
    payload_hash,
)
from host.sync.versions import read_versions, settle_sent

if TYPE_CHECKING:
    from host.mapping import Mapper
    from host.models import Connection, ContactProfile, LedgerEntry
    from host.sync.context import SyncContext

CONTACT_AREA = "contacts"  # where contact configuration problems (a deleted book) are shown
UNSUBSCRIBED = "unsubscribed in the store: removed from the subscribers book"
# Opted in by the store's record, unsubscribed at the destination since (``host.sync.unsubscribes``).
UNSUBSCRIBED_THERE = "unsubscribed in the marketing platform: kept out of the subscribers book"
SUBSCRIBER_DELETED = "deleted in the store: removed from the subscribers book"
NO_LONGER_CUSTOMER = "no store account has this email any more: removed from the customers book"


# Contact settings that change no contact sent (what becomes of people deleted in the store).
NOT_SHAPING = frozenset({"deleted_contacts"})
# How contacts are hashed: 2 leaves empty fields out. A new version has every contact checked
# once (the rows of an earlier one take the new form where the values are the same).
DIGEST_VERSION = 2


def settings_fingerprint(context: SyncContext) -> str:
    """Changes when anything that shapes every contact changes: a new mapping, another book."""
    shaping = {key: value for key, value in context.contact_settings.items() if key not in NOT_SHAPING}
    return payload_hash({"mapping": context.mapping, "contacts": shaping, "digest": DIGEST_VERSION})


def profile_fields(profile: ContactProfile) -> dict[str, Any]:
    """The contact's field values: from the customer (or, for a subscriber only, its name), the
    latest order and the lifetime order fields."""
    person = profile.customer or {
        key: (profile.subscriber or {}).get(key)
        for key in ("first_name", "last_name", "date_created")
    }
    return contact_fields(person, profile.latest_order, profile.lifetime)


@dataclass
class MappedContact:
    record: DestinationRecord  # as sent: with empty values for fields to clear
    digest: str  # of the payload without empty fields, and the book: what the ledger keeps
    digest_with_empties: str  # as hashed before empty fields were left out


def map_for_book(
    mapper: Mapper, connection: Connection, mapping: Mapping[str, str], profile: ContactProfile,
    subscriber: Mapping[str, Any] | None, book: str | None, unmapped: Collection[str] = (),
) -> MappedContact:
    """One contact of ``profile`` for ``book`` under ``mapping``: what to send and its digest."""
    record = mapper.map_contact(
        connection, email=profile.email, fields=profile_fields(profile), mapping=mapping, subscriber=subscriber
    )
    record.source_id = profile.email
    mapped = {name for name in mapping.values() if name}
    with_empties = mapper.with_cleared(record, mapped)
    sent = mapper.with_cleared(record, mapped | set(unmapped)) if unmapped else with_empties
    return MappedContact(
        record=sent,
        digest=payload_hash({"payload": record.payload, "book": book}),
        digest_with_empties=payload_hash({"payload": with_empties.payload, "book": book}),
    )


def is_unchanged(row: LedgerEntry | None, mapped: MappedContact, *, adopt: bool = True) -> bool:
    """Whether ``row`` last sent (or tried) these very values: its hash is the digest, or the
    digest with empty fields that an earlier version of the host kept (with ``adopt``, the row
    then takes the new form, so the ledger's verdict sees it unchanged)."""
    if row is None or row.payload_hash is None:
        return False
    if row.payload_hash == mapped.digest_with_empties != mapped.digest:
        if not adopt:
            return True
        row.payload_hash = mapped.digest
    return row.payload_hash == mapped.digest


def contact_books(
    profile: ContactProfile, customers_book: str | None, subscribers_book: str | None
) -> list[tuple[str, str | None, Mapping[str, Any] | None]]:
    """(ledger kind, book, subscriber) of each contact ``sync_contacts`` writes for ``profile``."""
    books: list[tuple[str, str | None, Mapping[str, Any] | None]] = []
    if profile.customer is not None and (customers_book or profile.latest_order):
        books.append((CUSTOMER_CONTACT, customers_book, None))
    if subscribers_book and profile.subscriber is not None and profile.subscribed:
        books.append((SUBSCRIBER_CONTACT, subscribers_book, profile.subscriber))
    return books


def sync_contacts(
    context: SyncContext, profiles: Iterable[ContactProfile], counts_name: str = CONTACT_AREA
) -> None:
    """Send the contacts of ``profiles`` and wait for every answer (the retry pass, the fast
    lane); the caller settles the profiles."""
    sender = ContactSender(context)
    sender.send(list(profiles))
    sender.finish()


# Most contacts a book's writer may hold without an answer before the phase waits for some:
# what the phase holds per contact is small (~300 bytes with the writer's share), and this
# bounds it for any backlog while leaving room for one full import and the next filling.
MAX_WAITING = 150_000
NO_ANSWER = "no answer for this record"

PlanKey = tuple[str, str | None]  # (ledger kind, book)
Waiting = tuple[int, str, int | None, str | None]  # (ledger row id, digest sent, profile id, consent sent)
ONCE = "given"  # the consent key of a mapper that tells no consents apart: once per subscription


class ContactSender:
    """The contacts phase's writes: one ``BatchWriter`` per book for the whole phase, fed a
    batch of profiles at a time (``send``), answers applied as they arrive, ``finish`` at the end.

    Per contact waiting for its answer it holds a small tuple (ledger row id, digest, profile
    id), never an ORM object: each batch's profiles and ledger rows leave the session once the
    batch is handed over, so memory stays flat for any backlog. Answers are applied in bulk
    (``Ledger.record_answers``). With ``settle_profiles`` (the pass over dirty profiles) a
    profile is marked clean only once every one of its contacts was answered: after a crash
    the ones still waiting are dirty, so they are sent again (upserts by email: nothing is
    duplicated) and nothing is lost. It is marked clean by version (``versions.settle_sent``):
    a profile the fast lane changed while its contacts were on their way stays dirty, and the
    next cycle sends its newest facts.
    """

    def __init__(self, context: SyncContext, *, settle_profiles: bool = False):
        self.context = context
        self.settle_profiles = settle_profiles
        self.writers: dict[PlanKey, BatchWriter] = {}
        self.waiting: dict[PlanKey, dict[str, list[Waiting]]] = {}
        self.unanswered: dict[int, int] = {}  # profile id → its contacts waiting for an answer
        self.settled: list[int] = []  # profiles whose contacts were all answered, to mark clean
        self.versions: dict[int, int] = {}  # profile id → the version its contacts were made from

    def send(self, profiles: Sequence[ContactProfile]) -> None:
        """Plan these profiles' contacts, hand the changed ones to the writers and apply the
        answers that are ready; commits before and after the destination works."""
        context = self.context
        session = context.session
        if self.settle_profiles:  # the version the facts about to be mapped were read at
            self.versions.update(read_versions(profiles))
        to_send, to_remove, loaded = self._plan(profiles)
        session.flush()  # new ledger rows get their ids
        handed: dict[PlanKey, list[DestinationRecord]] = {}
        for key, planned in to_send.items():
            waiting = self.waiting.setdefault(key, {})
            for row, digest, record, profile_id, consent in planned:
                waiting.setdefault(record.source_id, []).append((row.id, digest, profile_id, consent))
                if profile_id is not None:
                    self.unanswered[profile_id] = self.unanswered.get(profile_id, 0) + 1
            handed[key] = [planned_record for _, _, planned_record, _, _ in planned]
        if self.settle_profiles:
            self.settled += [p.id for p in profiles if p.id not in self.unanswered]
        session.commit()  # never hold a write transaction while the destination works
        answers: dict[PlanKey, list[WriteResult]] = {}
        for key, records in handed.items():
            writer = self._writer(key)
            answers[key] = writer.add(records)
            if writer.waiting > MAX_WAITING:
                answers[key] += writer.drain(MAX_WAITING)
        for book_id, removals in to_remove.items():
            context.destination.remove_from_book(
                context.connection, book_id, [row.source_id for row, _ in removals]
            )
        for key, results in answers.items():
            self._apply(key, results)
        for removals in to_remove.values():
            for row, reason in removals:
                context.ledger.record_excluded(row, reason)
                _count(context, row, "excluded")
        if to_send or to_remove:
            context.worked(CONTACT_AREA)
        self._settle()
        context.commit()
        for item in (*profiles, *loaded):  # the batch is handed over: nothing of it is kept
            if item in session:
                session.expunge(item)

    def finish(self) -> None:
        """Send what the writers still hold, wait for every answer and apply it."""
        self.context.session.commit()
        answers = {key: writer.finish() for key, writer in self.writers.items()}
        for key, results in answers.items():
            self._apply(key, results)
        for key, waiting in self.waiting.items():  # answered by nobody: refused, retried later
            self._apply(key, [WriteResult(source_id, False, reason=NO_ANSWER) for source_id in list(waiting)])
        self._settle()
        self.context.commit()

    # ------------------------------------------------------------------ internals
    def _writer(self, key: PlanKey) -> BatchWriter:
        writer = self.writers.get(key)
        if writer is None:
            writer = self.context.destination.contact_writer(self.context.connection, book_id=key[1])
            self.writers[key] = writer
        return writer

    def _plan(self, profiles: Sequence[ContactProfile]):
        context = self.context
        emails = [profile.email for profile in profiles]
        customers_book = context.contact_settings.get("customers_book_id")
        subscribers_book = context.contact_settings.get("subscribers_book_id")
        customer_rows = context.ledger.entries(CUSTOMER_CONTACT, emails)
        subscriber_rows = context.ledger.entries(SUBSCRIBER_CONTACT, emails)
        to_send: dict[PlanKey, list[tuple[Any, str, DestinationRecord, int | None, str | None]]] = {}
        to_remove: dict[str, list[tuple[Any, str]]] = {}  # book → (ledger row, why)
        for profile in profiles:
            customer_row = customer_rows.get(profile.email)
            sends_customer = profile.customer is not None and bool(customers_book or profile.latest_order)
            removes_customer = not sends_customer and bool(customers_book) and _is_synced(customer_row)
            subscriber_row = subscriber_rows.get(profile.email)
            # a subscriber record, or a contact still in the book whose record was deleted
            has_subscriber = bool(subscribers_book) and (
                profile.subscriber is not None or _is_synced(subscriber_row))
            if context.retrying:  # the retry pass: only the contacts refused before are checked
                check_customer = getattr(customer_row, "state", None) == "failed"
                check_subscriber = getattr(subscriber_row, "state", None) == "failed"
            else:
                check_customer = check_subscriber = True
                context.run.tally.checking(profile, {  # the contacts given an outcome below
                    *([CUSTOMER_CONTACT] if sends_customer or removes_customer else []),
                    *([SUBSCRIBER_CONTACT] if has_subscriber else []),
                })
            if check_customer and sends_customer:
                row = context.ledger.entry(customer_rows, CUSTOMER_CONTACT, profile.email)
                plan_key = (CUSTOMER_CONTACT, customers_book)
                _plan(context, to_send, plan_key, row, profile, None)
            elif check_customer and removes_customer:
                to_remove.setdefault(customers_book, []).append((customer_row, NO_LONGER_CUSTOMER))
            if check_subscriber and has_subscriber:
                row = context.ledger.entry(subscriber_rows, SUBSCRIBER_CONTACT, profile.email)
                if profile.subscribed:
                    plan_key = (SUBSCRIBER_CONTACT, subscribers_book)
                    _plan(context, to_send, plan_key, row, profile, profile.subscriber)
                elif row.state == "synced":
                    if profile.subscriber is None:
                        why = SUBSCRIBER_DELETED
                    elif profile.subscriber.get("opted_in"):
                        why = UNSUBSCRIBED_THERE
                    else:
                        why = UNSUBSCRIBED
                    to_remove.setdefault(subscribers_book, []).append((row, why))
                else:
                    if row.state != "excluded":
                        context.ledger.record_excluded(row, "not opted in to marketing")
                    _count(context, row, "excluded")
        return to_send, to_remove, [*customer_rows.values(), *subscriber_rows.values()]

    def _apply(self, key: PlanKey, results: Sequence[WriteResult]) -> None:
        """Record answers in the ledger (in bulk) and count each contact's outcome."""

        def apply_chunk(chunk: Sequence[WriteResult]) -> None:
            self._apply_chunk(key, chunk)
            self._settle()

        apply_in_chunks(self.context, results, apply_chunk)

    def _apply_chunk(self, key: PlanKey, results: Sequence[WriteResult]) -> None:
        if not results:
            return
        kind = key[0]
        waiting = self.waiting.get(key, {})
        answered: list[tuple[int, str, WriteResult]] = []
        consents: list[tuple[int, str]] = []
        for result in results:
            for row_id, digest, profile_id, consent in waiting.pop(result.source_id, ()):
                answered.append((row_id, digest, result))
                if consent is not None and result.ok:
                    consents.append((row_id, consent))
                self.context.run.tally.contact(kind, result.source_id, "sent" if result.ok else "failed")
                if profile_id is not None:
                    left = self.unanswered.pop(profile_id, 1) - 1
                    if left > 0:
                        self.unanswered[profile_id] = left
                    elif self.settle_profiles:
                        self.settled.append(profile_id)
        self.context.ledger.record_answers(answered)
        self.context.ledger.record_consents(consents)

    def _settle(self) -> None:
        """Profiles whose contacts were all answered are clean, unless changed since they were
        read (in the open transaction)."""
        if not self.settled:
            return
        ids, self.settled = set(self.settled), []
        sent = {pid: self.versions.pop(pid) for pid in ids if pid in self.versions}
        settle_sent(self.context.session, self.context.connection.id, sent)


def apply_in_chunks(
    context: SyncContext, results: Sequence[WriteResult], apply_chunk: Callable[[Sequence[WriteResult]], None]
) -> None:
    """Apply a writer's answers ``ANSWERS_CHUNK`` at a time, committing after each when there
    are several: an import's tens of thousands of answers never hold SQLite's one write lock
    long enough to turn the webhook receiver away."""
    several = len(results) > ANSWERS_CHUNK
    for start in range(0, len(results), ANSWERS_CHUNK):
        apply_chunk(results[start : start + ANSWERS_CHUNK])
        if several:
            context.commit()


def _count(context: SyncContext, row, outcome: str) -> None:
    """One contact's outcome, in the contacts area and with the records that described it."""
    context.run.tally.contact(row.kind, row.source_id, outcome)


def _is_synced(row) -> bool:
    return row is not None and row.state == "synced"


def _plan(context, to_send, plan_key, row, profile, subscriber) -> None:
    try:
        mapped = map_for_book(context.mapper, context.connection, context.mapping, profile,
                              subscriber, plan_key[1], context.unmapped)
    except RecordError as error:
        context.ledger.record_failure(row, None, error.message)
        _count(context, row, "failed")
        return
    is_unchanged(row, mapped)  # a hash of an earlier version takes the new form
    record, digest = mapped.record, mapped.digest
    verdict = context.ledger.verdict(row, digest, retrying=context.retrying)
    consent = None
    if subscriber is not None and verdict != "held":
        record, consent = with_new_consent(context, row, record, subscriber)
        if consent is not None and verdict == "unchanged":
            verdict = "send"  # a new consent of a contact otherwise unchanged
    if verdict == "send":
        to_send.setdefault(plan_key, []).append((row, digest, record, profile.id, consent))
    else:
        _count(context, row, "unchanged" if verdict == "unchanged" else "failed")


def with_new_consent(
    context: SyncContext, row: LedgerEntry, record: DestinationRecord, subscriber: Mapping[str, Any]
) -> tuple[DestinationRecord, str | None]:
    """The subscriber contact ``record`` with its consent and the consent's key, when that
    consent was not accepted yet in this subscription (see the module's docstring); else the
    record as it is and None. The consent is not in the digest: another change of the contact
    never sends it again."""
    if row.consent == LEGACY_CONSENT:
        return record, None
    key = (context.mapper.consent_key(context.connection, subscriber) or ONCE)[:64]
    if row.consent == key:
        return record, None
    consented = context.mapper.with_consent(context.connection, record, subscriber)
    if consented is record or consented.payload == record.payload:
        return record, None  # no consent to send (the mapper makes none, or it lacks a fact)
    return consented, key

