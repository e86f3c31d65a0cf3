"""Contacts: each profile becomes at most two destination contacts — one in the customers book,
one in the subscribers book — sent only when what would be sent changed.

Customers (registered and guests) go to the customers book when one is chosen; with no book,
a contact is still written (without a book) when it has orders, so its order history is never
stranded. Only opted-in contacts go to the subscribers book, with their consent; an unsubscribe
takes the contact out of that book (a list removal, not a global suppression).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any

from host.destinations import DestinationRecord, WriteResult
from host.errors import RecordError
from host.records import contact_fields
from host.sync.ledger import CUSTOMER_CONTACT, SUBSCRIBER_CONTACT, payload_hash

if TYPE_CHECKING:
    from host.models import ContactProfile
    from host.sync.context import SyncContext

CONTACT_AREA = "contacts"  # where contact configuration problems (a deleted book) are shown


def settings_fingerprint(context: SyncContext) -> str:
    """Changes when anything that shapes every contact changes: a new mapping, another book."""
    return payload_hash({"mapping": context.mapping, "contacts": context.contact_settings})


def profile_fields(profile: ContactProfile) -> dict[str, Any]:
    """The 26 values: from the customer (or, for a subscriber only, its name) and the latest order."""
    person = profile.customer or {
        key: (profile.subscriber or {}).get(key)
        for key in ("first_name", "last_name", "date_created")
    }
    return contact_fields(person, profile.latest_order)


def sync_contacts(
    context: SyncContext, profiles: Iterable[ContactProfile], counts_name: str
) -> None:
    profiles = list(profiles)
    emails = [profile.email for profile in profiles]
    customers_book = context.contact_settings.get("customers_book_id")
    subscribers_book = context.contact_settings.get("subscribers_book_id")
    customer_rows = context.ledger.entries(CUSTOMER_CONTACT, emails)
    subscriber_rows = context.ledger.entries(SUBSCRIBER_CONTACT, emails)
    to_send: dict[tuple[str, str | None], list[tuple[Any, str, DestinationRecord]]] = {}
    to_remove: list[Any] = []
    for profile in profiles:
        if profile.customer is not None and (customers_book or profile.latest_order):
            row = context.ledger.entry(customer_rows, CUSTOMER_CONTACT, profile.email)
            _plan(
                context,
                to_send,
                (CUSTOMER_CONTACT, customers_book),
                row,
                profile,
                None,
                counts_name,
            )
        if subscribers_book and profile.subscriber is not None:
            row = context.ledger.entry(subscriber_rows, SUBSCRIBER_CONTACT, profile.email)
            if profile.subscribed:
                plan_key = (SUBSCRIBER_CONTACT, subscribers_book)
                _plan(context, to_send, plan_key, row, profile, profile.subscriber, counts_name)
            elif row.state == "synced":
                to_remove.append(row)
            elif row.state != "excluded":
                context.ledger.record_excluded(row, "not opted in to marketing")
                context.run.add(counts_name, excluded=1)
    for (_, book_id), planned in to_send.items():
        _write(context, book_id, planned, counts_name)
    if to_remove:
        context.destination.remove_from_book(
            context.connection, subscribers_book, [r.source_id for r in to_remove]
        )
        for row in to_remove:
            context.ledger.record_excluded(
                row, "unsubscribed in the store: removed from the subscribers book"
            )
        context.run.add(counts_name, sent=len(to_remove))
    if to_send or to_remove:
        context.worked(CONTACT_AREA)


def _plan(context, to_send, plan_key, row, profile, subscriber, counts_name) -> None:
    try:
        record = context.mapper.map_contact(
            context.connection,
            email=profile.email,
            fields=profile_fields(profile),
            mapping=context.mapping,
            subscriber=subscriber,
        )
    except RecordError as error:
        context.ledger.record_failure(row, None, error.message)
        context.run.add(counts_name, failed=1)
        return
    record.source_id = profile.email
    digest = payload_hash({"payload": record.payload, "book": plan_key[1]})
    verdict = context.ledger.verdict(row, digest, retrying=context.retrying)
    if verdict == "send":
        to_send.setdefault(plan_key, []).append((row, digest, record))
    else:
        context.run.add(
            counts_name, unchanged=int(verdict == "unchanged"), failed=int(verdict == "held")
        )


def _write(context: SyncContext, book_id: str | None, planned: list, counts_name: str) -> None:
    records = [record for _, _, record in planned]
    try:
        results = context.destination.write_contacts(context.connection, records, book_id=book_id)
    except RecordError as error:
        results = [WriteResult(record.source_id, False, reason=error.message) for record in records]
    apply_results(context, planned, results, counts_name)


def apply_results(
    context: SyncContext, planned: Sequence, results: Sequence[WriteResult], counts_name: str
) -> None:
    """Match the destination's answers to the planned rows by source id and record each."""
    by_id = {result.source_id: result for result in results}
    for row, digest, record in planned:
        result = by_id.get(record.source_id) or WriteResult(
            record.source_id, False, reason="no answer for this record"
        )
        context.ledger.record_result(row, digest, result)
        context.run.add(counts_name, sent=int(result.ok), failed=int(not result.ok))
