"""Unsubscribes and suppressions (reference §3, §4.2): made, and read back since a date.

* ``POST /v2/address-books/{id}/contacts/unsubscribe`` ``{"email"}``: the contact leaves that
  book only (a book-level unsubscribe); ``POST /v2/contacts/unsubscribe``: the contact is
  unsubscribed from the whole account. Both answer ``ApiContactSuppression``.
* ``GET /v2/address-books/{id}/contacts/unsubscribed-since/{date}``,
  ``GET /v2/contacts/unsubscribed-since/{date}`` and ``GET /v2/contacts/suppressed-since/{date}``
  answer ``ApiContactSuppression[]`` (``select`` up to 1000, ``skip``) in the order they happened.

What happens outside the API (an unsubscribe link clicked, a bounce) is made through the control
endpoint ``POST /_emulator/accounts/{api_user}/contacts/{email}/unsubscribe`` (``control``), which
calls ``unsubscribe`` here.

UNCONFIRMED readings, each easy to change here: ``{date}`` may be a date or a date-time (the spec
says ``format: date`` and describes a date-time) and is inclusive (``dateRemoved >= date``);
account-level unsubscribed-since lists only reason ``Unsubscribed``, suppressed-since every
account-level suppression, unsubscribes included (the Magento connector reads only the latter
for both); the history is kept after a resubscribe (the records say when, not the current
status); ``suppressedContact.status`` is the contact's status now (the ReadMe example shows the
status before the change). ``dateRemoved`` has the emulator's ``...T..:..:...mmmZ`` form.
"""

from __future__ import annotations

import itertools
from datetime import UTC, datetime

from flask import Blueprint, jsonify

from .account import Account
from .contact_views import as_v2
from .contacts import EMAIL_PATTERN
from .errors import v2_error
from .model import Contact, Suppression
from .web import account, json_body, state, v2_page

blueprint = Blueprint("ec_unsubscribes", __name__)

# The account-level status each suppression reason leaves the contact in.
STATUS_OF_REASON = {
    "Unsubscribed": "unsubscribed",
    "Suppressed": "suppressed",
    "HardBounced": "hardBounced",
    "SoftBounced": "softBounced",
    "IspComplained": "ispComplained",
}


def unsubscribe(
    me: Account, contact: Contact, now_iso: str, *, book_id: int | None = None,
    reason: str = "Unsubscribed",
) -> Suppression:
    """Unsubscribe ``contact`` from one book (``book_id``) or from the account, and keep the record."""
    if book_id is not None:
        me.books[book_id].contact_ids.pop(contact.id, None)
        if book_id in contact.pending_book_ids:
            contact.pending_book_ids.remove(book_id)
    else:
        contact.status = STATUS_OF_REASON[reason]
    contact.updated = now_iso
    record = Suppression(contact.id, now_iso, reason, book_id)
    me.suppressions.append(record)
    return record


def as_json(me: Account, record: Suppression) -> dict:
    """``ApiContactSuppression``."""
    contact = me.contacts[record.contact_id]
    view = as_v2(me, contact)
    view["dataFields"] = None
    return {"suppressedContact": view, "dateRemoved": record.date_removed, "reason": record.reason}


def parse_since(text: str) -> datetime:
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00").replace(" ", "T"))
    except ValueError:
        raise v2_error(400, "The date is not a valid ISO 8601 date. ERROR_PARAMETER_INVALID") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _since(text: str, keep) -> list[dict]:
    select, skip = v2_page()
    since = parse_since(text)
    me = account()
    found = (
        record for record in me.suppressions
        if keep(record) and parse_since(record.date_removed) >= since
    )
    return [as_json(me, record) for record in itertools.islice(found, skip, skip + select)]


def _book_or_404(book_id: int) -> None:
    if book_id not in account().books:
        raise v2_error(404, "Error: ERROR_ADDRESSBOOK_NOT_FOUND")


def _contact_of_body() -> Contact:
    body = json_body()
    email = str(body.get("email") or body.get("Email") or "") if isinstance(body, dict) else ""
    if not EMAIL_PATTERN.match(email):
        raise v2_error(400, "Email is not a valid email address. ERROR_PARAMETER_INVALID")
    contact = account().contact_by_email(email)
    if contact is None:
        raise v2_error(404, "Error: ERROR_CONTACT_NOT_FOUND")
    return contact


@blueprint.get("/v2/address-books/<int:addressBookId>/contacts/unsubscribed-since/<date>")
def book_unsubscribed_since(addressBookId: int, date: str):
    with state().lock:
        _book_or_404(addressBookId)
        return jsonify(_since(date, lambda r: r.book_id == addressBookId))


@blueprint.get("/v2/contacts/unsubscribed-since/<date>")
def unsubscribed_since(date: str):
    with state().lock:
        return jsonify(_since(date, lambda r: r.book_id is None and r.reason == "Unsubscribed"))


@blueprint.get("/v2/contacts/suppressed-since/<date>")
def suppressed_since(date: str):
    with state().lock:
        return jsonify(_since(date, lambda r: r.book_id is None))


@blueprint.post("/v2/address-books/<int:addressBookId>/contacts/unsubscribe")
def unsubscribe_from_book(addressBookId: int):
    with state().lock:
        _book_or_404(addressBookId)
        contact = _contact_of_body()
        me = account()
        return jsonify(as_json(me, unsubscribe(me, contact, state().clock.iso(), book_id=addressBookId)))


@blueprint.post("/v2/contacts/unsubscribe")
def unsubscribe_from_account():
    with state().lock:
        contact = _contact_of_body()
        me = account()
        return jsonify(as_json(me, unsubscribe(me, contact, state().clock.iso())))
