"""Deleting a contact (v2 ``DELETE /v2/contacts/{id}``, v3 ``DELETE /contacts/v3/{identifier}/{value}``).

What goes with it (reference §3, §4.2, §4.4, §7.2): its membership of every address book (and
pending ones), its e-mail and mobile-number lookups, and its data — the records it owns in
contact-scoped Insight collections (``ConsentInsight``, ``Orders``...). Its consent records and
data fields go with the contact object itself. Programme enrolments already made and
confirmation e-mails already sent are history and stay.

UNCONFIRMED: the live service moves a deleted contact to a recycle bin (a v3 PATCH can
"undelete" it, §4.4) and may keep its Insight data meanwhile; the emulator forgets the contact
at once, so a later write creates a new contact with a new id.
"""

from __future__ import annotations

from .account import Account
from .model import Contact


def remove_contact(account: Account, contact: Contact) -> None:
    """Forget ``contact`` and what it owns; the caller holds the state lock."""
    # ``Account.contact_ids`` caches the sorted ids and rebuilds them when the count changes
    # (contacts used to be never removed): bring the cache up to date before and after, so
    # a removal followed by a creation (same count) cannot leave a stale list behind.
    account.contact_ids()
    for book in account.books.values():
        book.contact_ids.pop(contact.id, None)
    contact.pending_book_ids.clear()
    for collection in account.collections.values():
        if collection.scope != "contact":
            continue
        owned = [key for key, record in collection.records.items() if record.contact_id == contact.id]
        for key in owned:
            del collection.records[key]
    if account.contact_id_by_email.get(contact.email.lower()) == contact.id:
        del account.contact_id_by_email[contact.email.lower()]
    if contact.mobile_number and account.contact_id_by_mobile.get(contact.mobile_number) == contact.id:
        del account.contact_id_by_mobile[contact.mobile_number]
    del account.contacts[contact.id]
    account.contact_ids()
