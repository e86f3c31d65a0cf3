"""Erasure: a person deleted in the store leaves the destination, and the host forgets them.

A store account or a subscriber record deleted in the store (its webhook names an id the fast
lane no longer reads back, or a whole read of the stream no longer lists it: ``deleted_in_store``)
takes its facts out of the email's profile. An email can belong to several records: while
anything else in the store still describes it (a deleted customer who is still a subscriber, a
deleted subscriber who is still a customer or a guest with orders), only the contact that lost its
record leaves its book, through the contacts phase like any other change, and nothing is erased.
Once nothing does, the email is *deleted in the store* and, per the Contacts setting
``deleted_contacts``:

- ``remove`` (the default): the contact is taken out of the books the connector put it in (the
  customers and subscribers books as configured); it stays at the destination, in no book;
- ``erase``: the contact is deleted at the destination with the records it keeps for it (its
  order history), when the destination can (``Destination.erase_contacts``; otherwise the
  setting is not offered and contacts are removed).

Exactly once: the erasure is queued in the ledger's outbox (one row of kind ``ERASURE`` per
email, keyed by a hash of it) in the same transaction as the profile change and the events that
revealed it; the destination is asked after that commit, and its answer is recorded in one
transaction that also forgets the person: the ledger rows of their contacts, their profile and
their settled enrolments. A crash between the answer and that commit asks again (an erasure or
removal of a contact already gone counts as done) and counts once. A refusal fails that email
alone and is tried again after a back-off, like a refused write (Retry after ``max_attempts``);
an outage leaves the rest waiting for the next run. What is kept: the row, its hash and how it
ended (``reason``), which the Store tab counts.
"""

from __future__ import annotations

import logging
from collections.abc import Collection, Iterable
from typing import TYPE_CHECKING

from sqlalchemy import and_, delete, or_, select

from host.destinations import WriteResult, supports_erasure
from host.enrolments import IN_FLIGHT
from host.errors import RecordError
from host.models import ContactProfile, Enrolment, LedgerEntry, OrderFact
from host.sync.contacts import CONTACT_AREA
from host.sync.context import writing
from host.sync.cursors import parse_time
from host.sync.ledger import CUSTOMER_CONTACT, SUBSCRIBER_CONTACT, backoff, payload_hash
from host.sync.profiles import GUEST_ORDERS, guest_from_profile

if TYPE_CHECKING:
    from datetime import datetime

    from host.sources import Stream
    from host.sync.context import SyncContext

log = logging.getLogger(__name__)

ERASURE = "deleted_contact"  # ledger kind: an email deleted in the store (source id: its hash)
COUNTS = "deleted_contacts"  # the run's counts: {"removed": n, "erased": n, "waiting": n}
SETTING = "deleted_contacts"  # the Contacts setting: REMOVE or ERASE
REMOVE, ERASE = "remove", "erase"
REMOVED = "deleted in the store: removed from the address books"
ERASED = "deleted in the store: erased from"
DESCRIBED_AGAIN = "deleted in the store, then described again before it left the destination"
DELETED_KINDS = ("customer", "subscriber")  # the record kinds whose deletion can delete a person
BATCH = 100


def erasure_key(email: str) -> str:
    """The ledger's source id for an email's erasure: a hash, so nothing readable is kept."""
    return payload_hash({"erased": email.strip().lower()})


def mode_of(context: SyncContext) -> str:
    """The setting, or REMOVE when the destination cannot erase."""
    wanted = context.contact_settings.get(SETTING) or REMOVE
    return ERASE if wanted == ERASE and supports_erasure(context.destination) else REMOVE


# ---------------------------------------------------------------------- noticing deletions
def deleted_in_store(context: SyncContext, stream: Stream, source_ids: Iterable[str]) -> int:
    """Store records of ``stream`` (customers or subscribers) deleted in the store leave their
    profiles; the emails nothing else describes are queued for erasure (in the caller's
    transaction). Answers how many records were deleted."""
    ids = sorted({str(source_id) for source_id in source_ids})
    if not ids or stream.kind not in DELETED_KINDS:
        return 0
    found = 0
    for profile in _profiles_of(context, stream.kind, ids):
        found += 1
        if stream.kind == "customer":
            profile.customer, profile.customer_id, profile.is_guest = None, None, False
            if (profile.sources or {}).get(GUEST_ORDERS) and profile.latest_order:
                # still a guest with orders: its contact stays, as the guest its orders describe
                profile.customer = guest_from_profile(profile, profile.latest_order)
                profile.is_guest = True
        else:
            profile.subscriber, profile.subscribed = None, False
        context.run.add(stream.name, read=1, excluded=1)  # found deleted: taken up, not read
        if profile.customer is None and profile.subscriber is None:
            queue_erasure(context, profile)
        else:
            profile.dirty = True  # the contact that lost its record leaves its book
    context.session.flush()
    return found


def _profiles_of(context: SyncContext, kind: str, ids: list[str]) -> list[ContactProfile]:
    found: list[ContactProfile] = []
    for start in range(0, len(ids), 500):
        chunk = ids[start : start + 500]
        if kind == "customer":
            match = and_(ContactProfile.customer_id.in_(chunk), ContactProfile.is_guest.is_(False))
        else:
            match = ContactProfile.subscriber["id"].as_string().in_(chunk)
        found += context.session.scalars(
            select(ContactProfile)
            .where(ContactProfile.connection_id == context.connection.id, match)
            .order_by(ContactProfile.id)
        )
    return found


def reconcile(context: SyncContext, stream: Stream, seen: Collection[str], read_from: datetime) -> int:
    """A whole read of ``stream`` finished: the records the profiles hold that it no longer
    listed were deleted in the store. Only records last changed before the read began are
    judged (one created or changed while it read may have been listed before it existed)."""
    if stream.kind not in DELETED_KINDS:
        return 0
    fact = ContactProfile.customer if stream.kind == "customer" else ContactProfile.subscriber
    record_id = fact["id"].as_string()  # JSON null and SQL NULL alike have no id
    query = select(record_id, fact["date_modified"].as_string()).where(
        ContactProfile.connection_id == context.connection.id, record_id.is_not(None)
    )
    if stream.kind == "customer":
        query = query.where(ContactProfile.customer_id.is_not(None), ContactProfile.is_guest.is_(False))
    gone = [
        str(found_id)
        for found_id, modified in context.session.execute(query)
        if str(found_id) not in seen and modified and parse_time(modified) < read_from
    ]
    found = deleted_in_store(context, stream, gone)
    context.commit()
    return found


def queue_erasure(context: SyncContext, profile: ContactProfile) -> None:
    """Nothing in the store describes this email any more: keep its erasure in the outbox,
    with the books its contacts are in. The profile is left out of the contacts phase."""
    email = profile.email
    settings = context.contact_settings
    books = []
    for kind, setting in ((CUSTOMER_CONTACT, "customers_book_id"), (SUBSCRIBER_CONTACT, "subscribers_book_id")):
        row = context.ledger.entries(kind, [email]).get(email)
        book = settings.get(setting)
        if row is not None and row.state != "excluded" and book and book not in books:
            books.append(str(book))
    key = erasure_key(email)
    row = context.ledger.entry(context.ledger.entries(ERASURE, [key]), ERASURE, key)
    row.outbox = {"key": email, "payload": {"books": books}, "remove": REMOVED, "run": context.run.tally.run_id}
    row.state, row.reason, row.attempts, row.next_attempt_at = "pending", None, 0, None
    profile.dirty, profile.run_reads = False, None


# ---------------------------------------------------------------------- sending them
def send_erasures(context: SyncContext, only: Collection[str] | None = None) -> bool:
    """Remove or erase the emails waiting (``only``: these erasure keys); answer whether none
    is left waiting. Raises ``SyncError`` (an outage, a configuration problem): the rest wait."""
    last_id, done = 0, True
    while True:
        rows = _due(context, last_id, only)
        if not rows:
            context.session.commit()  # no read transaction left open
            return done
        if not last_id:
            context.run.phase("removing deleted contacts")
        last_id = rows[-1].id
        done = _send(context, rows) and done
        if context.should_stop():
            return False


def _due(context: SyncContext, after_id: int, only: Collection[str] | None) -> list[LedgerEntry]:
    query = select(LedgerEntry).where(
        LedgerEntry.connection_id == context.connection.id,
        LedgerEntry.kind == ERASURE,
        LedgerEntry.outbox.is_not(None),
        LedgerEntry.id > after_id,
        or_(LedgerEntry.state != "failed", context.ledger.retry_due()),
    )
    if only is not None:
        query = query.where(LedgerEntry.source_id.in_(sorted(only)))
    return list(
        context.session.scalars(
            query.order_by(LedgerEntry.id).limit(BATCH).execution_options(populate_existing=True)
        )
    )


def _send(context: SyncContext, rows: list[LedgerEntry]) -> bool:
    mode = mode_of(context)
    waiting: dict[int, tuple[str, list[str]]] = {}
    described = _described(context, [row.outbox["key"] for row in rows])
    for row in rows:
        email = row.outbox["key"]
        if email in described:  # the store has it again: the contacts phase speaks for it now
            row.state, row.reason, row.outbox, row.attempts, row.next_attempt_at = (
                "excluded", DESCRIBED_AGAIN, None, 0, None)
        else:
            waiting[row.id] = (email, list((row.outbox.get("payload") or {}).get("books") or []))
    context.commit()  # never hold a write transaction while the destination works
    if not waiting:
        return True
    emails = [email for email, _ in waiting.values()]
    if mode == ERASE:
        try:
            results = context.destination.erase_contacts(context.connection, emails)
        except RecordError as error:  # refused as a whole: each waits for its next try
            results = [WriteResult(email, False, reason=error.message) for email in emails]
    else:  # from the books they were in that are still the connector's (a book since
        # replaced, or deleted at the destination, is not the connector's any more)
        chosen = {str(context.contact_settings.get(name) or "") for name in ("customers_book_id", "subscribers_book_id")}
        by_book: dict[str, list[str]] = {}
        for email, books in waiting.values():
            for book in books:
                if book in chosen:
                    by_book.setdefault(book, []).append(email)
        for book, members in by_book.items():
            context.destination.remove_from_book(context.connection, book, members)
        results = [WriteResult(email, True) for email in emails]
    by_email = {result.source_id: result for result in results}
    title = context.destination.title
    all_done = True
    answered = context.session.scalars(  # read afresh: the session keeps objects across commits
        select(LedgerEntry).where(LedgerEntry.id.in_(sorted(waiting))).execution_options(populate_existing=True)
    )
    for row in answered:
        if row.outbox is None:
            continue  # the other lane recorded it meanwhile
        email = waiting[row.id][0]
        result = by_email.get(email)
        if result is not None and result.ok:
            _forget(context, row, email, f"{ERASED} {title}" if mode == ERASE else REMOVED)
            context.run.add(COUNTS, **{"erased" if mode == ERASE else "removed": 1})
        else:
            all_done = False
            why = result.reason if result is not None and result.reason else "no answer"
            row.attempts = (row.attempts or 0) + 1
            row.state, row.reason = "failed", f"deleted in the store, not yet erased from {title}: {why}"[:2000]
            row.next_attempt_at = context.ledger.clock() + backoff(row.attempts, context.ledger.retry_base_seconds)
            context.run.add(COUNTS, waiting=1)
    context.worked(CONTACT_AREA)
    context.commit()
    return all_done


def _described(context: SyncContext, emails: list[str]) -> set[str]:
    """The emails the store describes again (a new account or subscription since)."""
    return {
        profile.email for profile in _profiles(context, emails)
        if profile.customer is not None or profile.subscriber is not None
    }


def _profiles(context: SyncContext, emails: Iterable[str]) -> list[ContactProfile]:
    return list(
        context.session.scalars(
            select(ContactProfile)
            .where(ContactProfile.connection_id == context.connection.id, ContactProfile.email.in_(sorted(emails)))
            .execution_options(populate_existing=True)
        )
    )


def _forget(context: SyncContext, row: LedgerEntry, email: str, reason: str) -> None:
    """Done at the destination: keep only that it was done; forget the person's data."""
    row.state, row.reason, row.outbox, row.attempts, row.next_attempt_at = "excluded", reason, None, 0, None
    row.destination_id, row.payload_hash = None, None
    connection_id = context.connection.id
    session = context.session
    session.execute(
        delete(LedgerEntry)
        .where(
            LedgerEntry.connection_id == connection_id,
            LedgerEntry.kind.in_((CUSTOMER_CONTACT, SUBSCRIBER_CONTACT)),
            LedgerEntry.source_id == email,
        )
        .execution_options(synchronize_session=False)
    )
    for profile in _profiles(context, [email]):
        if profile.customer is None and profile.subscriber is None:
            session.delete(profile)
    session.execute(  # their orders' facts name them; an order read again makes its own anew
        delete(OrderFact)
        .where(OrderFact.connection_id == connection_id, OrderFact.email == email)
        .execution_options(synchronize_session=False)
    )
    session.execute(  # an enrolment on its way is settled first; its row goes at the next erasure
        delete(Enrolment)
        .where(
            Enrolment.connection_id == connection_id,
            Enrolment.contact_key == email,
            Enrolment.state.not_in(IN_FLIGHT),
        )
        .execution_options(synchronize_session=False)
    )


def erasure_phase(context: SyncContext, only: Collection[str] | None = None) -> None:
    """``send_erasures`` as a phase of a run: a configuration problem pauses the contacts (the
    erasures wait), an outage is recorded on the run (they are sent next time)."""
    if CONTACT_AREA in context.paused:
        return
    with writing(context, CONTACT_AREA):
        send_erasures(context, only)
    context.run.all_done()
