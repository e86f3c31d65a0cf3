"""A field mapping change: how many contacts it re-sends, saving it, forgetting what it unmapped.

- ``resend_count`` re-maps every contact profile under a proposed mapping, as the contacts
  phase will, and counts the people whose contact differs from what was last sent to them:
  the Field mapping tab shows that number for the merchant to confirm before saving.
- ``save_mapping`` keeps the data fields the change unmapped (``unmapped`` in the
  ``field_mapping`` settings). The next contacts pass re-sends exactly the contacts that had a
  value for them (their digest changed) with those fields empty, which clears them; then
  ``forget_unmapped`` drops them, so they are not sent again.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

from sqlalchemy import select
from sqlalchemy.orm import Session

from host.errors import RecordError
from host.models import ConnectionSetting, ContactProfile, LedgerEntry
from host.settings import get_settings, save_settings
from host.sync.contacts import contact_books, is_unchanged, map_for_book
from host.sync.ledger import CUSTOMER_CONTACT, SUBSCRIBER_CONTACT

if TYPE_CHECKING:
    from host.mapping import Mapper
    from host.models import Connection
    from host.sync.context import SyncContext

BATCH = 500
SENT_STATES = ("synced", "failed")  # a row whose contact was sent, or tried, with a known payload


def current_mapping(session: Session, connection: Connection, mapper: Mapper) -> dict[str, str]:
    """The mapping the sync uses: as saved, else the destination mapper's defaults."""
    mapping = get_settings(session, connection, "field_mapping").get("mapping")
    return dict(mapping if mapping is not None else mapper.default_mapping())


def save_mapping(session: Session, connection: Connection, mapper: Mapper, mapping: Mapping[str, str]) -> None:
    """Save ``mapping``, remembering the data fields it no longer uses (to clear them once);
    the caller commits."""
    values = get_settings(session, connection, "field_mapping")
    before = values.get("mapping")
    before = before if before is not None else mapper.default_mapping()
    used = {name for name in mapping.values() if name}
    unmapped = ({*(values.get("unmapped") or ()), *before.values()} - used) - {""}
    save_settings(session, connection, "field_mapping", {"mapping": dict(mapping), "unmapped": sorted(unmapped)})


def forget_unmapped(context: SyncContext) -> None:
    """A contacts pass under the saved mapping completed: the fields it cleared are done with.
    A mapping saved since (another pass will follow) keeps its list; the caller commits."""
    if not context.unmapped:
        return
    row = context.session.scalar(
        select(ConnectionSetting)
        .where(ConnectionSetting.connection_id == context.connection.id,
               ConnectionSetting.namespace == "field_mapping")
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    if row is None:
        return
    saved = row.values.get("mapping")
    if (saved if saved is not None else context.mapper.default_mapping()) != context.mapping:
        return
    left = sorted(set(row.values.get("unmapped") or ()) - set(context.unmapped))
    row.values = {**row.values, "unmapped": left}


def resend_count(session: Session, connection: Connection, mapper: Mapper, mapping: Mapping[str, str]) -> int:
    """How many people's contacts the next sync would send again under ``mapping``: those whose
    mapped values differ from what was last sent (or tried) for them. Contacts never sent yet
    are not counted: they are sent whatever the mapping."""
    contacts = get_settings(session, connection, "contacts")
    customers_book, subscribers_book = contacts.get("customers_book_id"), contacts.get("subscribers_book_id")
    count, last_id = 0, 0
    while True:
        batch = list(session.scalars(
            select(ContactProfile)
            .where(ContactProfile.connection_id == connection.id, ContactProfile.id > last_id)
            .order_by(ContactProfile.id)
            .limit(BATCH)
        ))
        if not batch:
            return count
        last_id = batch[-1].id
        rows = {
            (row.kind, row.source_id): row
            for row in session.scalars(
                select(LedgerEntry).where(
                    LedgerEntry.connection_id == connection.id,
                    LedgerEntry.kind.in_([CUSTOMER_CONTACT, SUBSCRIBER_CONTACT]),
                    LedgerEntry.source_id.in_([profile.email for profile in batch]),
                )
            )
        }
        for profile in batch:
            count += int(_changes(profile, rows, connection, mapper, mapping, customers_book, subscribers_book))


def _changes(profile, rows, connection, mapper, mapping, customers_book, subscribers_book) -> bool:
    for kind, book, subscriber in contact_books(profile, customers_book, subscribers_book):
        row = rows.get((kind, profile.email))
        if row is None or row.state not in SENT_STATES or row.payload_hash is None:
            continue
        try:
            mapped = map_for_book(mapper, connection, mapping, profile, subscriber, book)
        except RecordError:
            continue
        if not is_unchanged(row, mapped, adopt=False):
            return True
    return False
