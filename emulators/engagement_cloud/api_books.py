"""v2 address books and v2 contacts (reference §3, §4.1–4.2).

Status codes where the two vendor specs differ: create book 201 (the generated spec; the
ReadMe example shows 200), delete book 204, add contact to book 200, remove 204. Not-found
errors are 404 with ``Error: ERROR_*_NOT_FOUND`` (UNCONFIRMED status, by analogy with the
programs spec). Removing a contact that is not in the book answers 204 (UNCONFIRMED).
"""

from __future__ import annotations

import itertools

from flask import Blueprint, jsonify, request

from .contact_views import as_v2
from .contacts import EMAIL_PATTERN, RecordRejected, parse_v2, upsert
from .errors import v2_error
from .model import AddressBook
from .web import account, json_body, state, truthy, v2_page

blueprint = Blueprint("ec_books", __name__)
RESERVED_BOOK_NAMES = {"test", "all contacts"}


def _book_json(book: AddressBook) -> dict:
    return {
        "id": book.id,
        "name": book.name,
        "visibility": book.visibility,
        "contacts": len(book.contact_ids),
    }


def _book_or_404(addressBookId: int) -> AddressBook:
    book = account().books.get(addressBookId)
    if book is None:
        raise v2_error(404, "Error: ERROR_ADDRESSBOOK_NOT_FOUND")
    return book


def _rejected_as_v2(rejected: RecordRejected):
    if rejected.code == "invalidEmail":
        return v2_error(400, "Email is not a valid email address. ERROR_PARAMETER_INVALID")
    if rejected.code == "dataFieldNotFound":
        return v2_error(400, f"{rejected.description}. ERROR_DATAFIELD_NOTFOUND")
    return v2_error(400, f"{rejected.description}. ERROR_PARAMETER_INVALID")


def _write_v2_contact(body, list_ids: list[int]):
    """Upsert by email from an ``ApiContact``; suppressed contacts are refused (§3)."""
    me, clock = account(), state().clock
    try:
        write = parse_v2(body if isinstance(body, dict) else {})
        if not write.email:
            raise RecordRejected("invalidEmail", "email is required")
        existing = me.contact_by_email(write.email)
        if existing is not None and existing.status == "suppressed":
            raise v2_error(400, "Contact is suppressed. ERROR_CONTACT_SUPPRESSED")
        write.list_ids = list_ids
        return upsert(me, write, "email", "overwrite", clock.iso())
    except RecordRejected as rejected:
        raise _rejected_as_v2(rejected) from None


@blueprint.get("/v2/address-books")
def list_books():
    select, skip = v2_page()
    with state().lock:
        books = list(account().books.values())[skip : skip + select]
        return jsonify([_book_json(b) for b in books])


@blueprint.get("/v2/address-books/<visibility>")
def list_books_by_visibility(visibility: str):
    if visibility not in ("private", "public"):
        raise v2_error(400, "Error: ERROR_PARAMETER_INVALID")
    select, skip = v2_page()
    with state().lock:
        books = [b for b in account().books.values() if b.visibility.lower() == visibility]
        return jsonify([_book_json(b) for b in books[skip : skip + select]])


@blueprint.post("/v2/address-books")
def create_book():
    body = {str(k).lower(): v for k, v in (json_body() or {}).items()}
    name = body.get("name")
    visibility = str(body.get("visibility") or "Private").capitalize()
    if (
        not isinstance(name, str)
        or not name.strip()
        or len(name) > 128
        or visibility not in ("Private", "Public")
    ):
        raise v2_error(400, "The address book is not valid. ERROR_PARAMETER_INVALID")
    if name.strip().lower() in RESERVED_BOOK_NAMES:
        raise v2_error(
            400, "Address book cannot be written to via the API. ERROR_ADDRESSBOOK_NOTWRITABLE"
        )
    with state().lock:
        if account().book_by_name(name):
            raise v2_error(
                400,
                "That name is in use already, please choose another. ERROR_ADDRESSBOOK_DUPLICATE",
            )
        return jsonify(_book_json(account().add_book(name.strip(), visibility))), 201


@blueprint.get("/v2/address-books/<int:addressBookId>")
def get_book(addressBookId: int):
    with state().lock:
        return jsonify(_book_json(_book_or_404(addressBookId)))


@blueprint.delete("/v2/address-books/<int:addressBookId>")
def delete_book(addressBookId: int):
    with state().lock:
        _book_or_404(addressBookId)
        del account().books[addressBookId]
        return "", 204


@blueprint.get("/v2/address-books/<int:addressBookId>/contacts")
def book_contacts(addressBookId: int):
    """Members in the order they joined; ``dataFields`` only with ``withFullData=true``."""
    select, skip = v2_page()
    with state().lock:
        me = account()
        ids = list(itertools.islice(_book_or_404(addressBookId).contact_ids, skip, skip + select))
        rows = [as_v2(me, me.contacts[i]) for i in ids if i in me.contacts]
        if not truthy(request.args.get("withFullData")):
            for row in rows:
                row["dataFields"] = None
        return jsonify(rows)


@blueprint.post("/v2/address-books/<int:addressBookId>/contacts")
def add_contact_to_book(addressBookId: int):
    with state().lock:
        _book_or_404(addressBookId)
        outcome = _write_v2_contact(json_body(), [addressBookId])
        return jsonify(as_v2(account(), outcome.contact))


@blueprint.delete("/v2/address-books/<int:addressBookId>/contacts/<int:contactId>")
def remove_contact_from_book(addressBookId: int, contactId: int):
    with state().lock:
        book = _book_or_404(addressBookId)
        contact = account().contacts.get(contactId)
        if contact is None:
            raise v2_error(404, "Error: ERROR_CONTACT_NOT_FOUND")
        book.contact_ids.pop(contactId, None)
        if addressBookId in contact.pending_book_ids:
            contact.pending_book_ids.remove(addressBookId)
        return "", 204


# ---------------------------------------------------------------------------- v2 contacts
@blueprint.post("/v2/contacts")
def create_or_update_contact():
    with state().lock:
        return jsonify(as_v2(account(), _write_v2_contact(json_body(), []).contact)), 201


@blueprint.get("/v2/contacts")
def list_contacts():
    select, skip = v2_page()
    with state().lock:
        me = account()
        rows = [as_v2(me, c) for c in itertools.islice(me.contacts.values(), skip, skip + select)]
        if not truthy(request.args.get("withFullData")):
            for row in rows:
                row["dataFields"] = None
        return jsonify(rows)


def _contact_or_404(identifier: str):
    me = account()
    if identifier.isdigit():
        contact = me.contacts.get(int(identifier))
    elif EMAIL_PATTERN.match(identifier):
        contact = me.contact_by_email(identifier)
    else:
        raise v2_error(400, "Email is not a valid email address. ERROR_PARAMETER_INVALID")
    if contact is None:
        raise v2_error(404, "Error: ERROR_CONTACT_NOT_FOUND")
    return contact


@blueprint.get("/v2/contacts/<identifier>")
def get_contact(identifier: str):
    with state().lock:
        return jsonify(as_v2(account(), _contact_or_404(identifier)))


@blueprint.get("/v2/contacts/<int:contactId>/address-books")
def contact_books(contactId: int):
    with state().lock:
        contact = _contact_or_404(str(contactId))
        me = account()
        return jsonify([_book_json(me.books[i]) for i in me.book_ids_of(contact.id)])
