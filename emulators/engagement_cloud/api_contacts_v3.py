"""v3 unified contacts: PATCH upsert, GET, DELETE, query, bulk import and its status
(reference §4.4).

Unknown data fields are refused (400 ``contacts:dataFieldNotFound`` on PATCH, failure code
``dataFieldNotFound`` in imports) — the reference leaves this UNCONFIRMED; refusing makes a
client create its fields first, as the official connectors do. In a bulk import a repeated
identifier fails as ``duplicateIdentifier`` and the first occurrence is applied (UNCONFIRMED).
"""

from __future__ import annotations

import bisect
import itertools

from flask import Blueprint, jsonify, request

from . import api_imports
from .contact_removal import remove_contact
from .contact_views import as_v3
from .contacts import MERGE_OPTIONS, RecordRejected, lower_keys, parse_v3, upsert
from .errors import v3_error
from .web import account, json_body, state

blueprint = Blueprint("ec_contacts_v3", __name__)

IDENTIFIER_NAMES = {"email": "email", "contactid": "contactId", "mobilenumber": "mobileNumber"}
REJECTION_STATUS = {"contactNotFound": 404, "duplicateIdentifier": 409}


def _find(identifier: str, value: str):
    me = account()
    kind = IDENTIFIER_NAMES.get(identifier.lower())
    if kind is None:
        raise v3_error(400, "contacts:invalidIdentifier", f"Unknown identifier '{identifier}'")
    if kind == "contactId":
        if not value.isdigit():
            raise v3_error(
                400,
                "contacts:invalidId",
                f"The id value '{value}' is invalid for the identifier '{identifier}'",
            )
        return kind, me.contacts.get(int(value))
    if kind == "email":
        return kind, me.contact_by_email(value)
    return kind, me.contact_by_mobile(value)


@blueprint.get("/contacts/v3/<identifier>/<value>")
def get_contact(identifier: str, value: str):
    with state().lock:
        _, contact = _find(identifier, value)
        if contact is None:
            raise v3_error(
                404, "contacts:contactNotFound", f"No contact found for {identifier} '{value}'"
            )
        return jsonify(as_v3(account(), contact))


@blueprint.delete("/contacts/v3/<identifier>/<value>")
def delete_contact(identifier: str, value: str):
    """200 ``{"contactId": n}`` (``deleteContact``); 404 ``contacts:contactNotFound`` with the
    spec example's description and ``details``; the contact leaves its lists and its data goes
    with it (``contact_removal``)."""
    with state().lock:
        kind, contact = _find(identifier, value)
        if contact is None:
            raise v3_error(
                404,
                "contacts:contactNotFound",
                "The following contacts could not be found",
                [{"item": value, "description": f"Not found using the identifier '{kind}'"}],
            )
        remove_contact(account(), contact)
        return jsonify({"contactId": contact.id})


@blueprint.patch("/contacts/v3/<identifier>/<value>")
def patch_contact(identifier: str, value: str):
    """Upsert: 201 when created, 200 when updated; ``matchIdentifier`` in the body is ignored."""
    body = json_body()
    if not isinstance(body, dict):
        raise v3_error(400, "contacts:badJson", "The request JSON is badly formed")
    merge = MERGE_OPTIONS.get(request.args.get("merge-option", "overwrite").lower())
    if merge is None:
        raise v3_error(400, "contacts:badRequest", "Invalid merge-option")
    with state().lock:
        kind, _ = _find(identifier, value)
        try:
            write = parse_v3(body)
            if kind == "email" and write.email is None:
                write.email = value
            if kind == "contactId":
                write.contact_id = int(value)
            if kind == "mobileNumber" and write.mobile_number is None:
                write.mobile_number = value
            outcome = upsert(account(), write, kind, merge, state().clock.iso())
        except RecordRejected as rejected:
            raise v3_error(
                REJECTION_STATUS.get(rejected.code, 400),
                f"contacts:{rejected.code}",
                rejected.description,
            ) from None
        if outcome.warnings:
            code, text = outcome.warnings[0]
            raise v3_error(400, f"contacts:{code}", text)
        return jsonify(as_v3(account(), outcome.contact)), 201 if outcome.created else 200


@blueprint.get("/contacts/v3")
def query_contacts():
    """Ascending by contact id; ``marker`` is the last id of the previous page (opaque to
    clients). ``_links.next`` is present only when more contacts follow."""
    try:
        limit = int(request.args.get("limit", 500))
        marker = int(request.args.get("marker", 0))
    except ValueError:
        raise v3_error(400, "contacts:badRequest", "limit and marker must be numbers") from None
    if not 1 <= limit <= 5000:
        raise v3_error(400, "contacts:badRequest", "limit must be between 1 and 5000")
    list_id = request.args.get("~listId")
    with state().lock:
        me = account()
        ids = me.contact_ids()
        book = None
        if list_id is not None:
            book = me.books.get(int(list_id)) if list_id.isdigit() else None
        page: list[int] = []
        more = False
        for contact_id in itertools.islice(ids, bisect.bisect_right(ids, marker), None):
            if list_id is not None and (book is None or contact_id not in book.contact_ids):
                continue
            if len(page) == limit:
                more = True
                break
            page.append(contact_id)
        base = request.base_url
        links = {
            "self": {"marker": str(marker), "link": f"{base}?limit={limit}&marker={marker}"},
            "first": {"marker": "0", "link": f"{base}?limit={limit}"},
        }
        if more:
            links["next"] = {
                "marker": str(page[-1]),
                "link": f"{base}?limit={limit}&marker={page[-1]}",
            }
        return jsonify({"_links": links, "_items": [as_v3(me, me.contacts[c]) for c in page]})


@blueprint.put("/contacts/v3/import")
def start_import():
    """202 ``{"importId"}``; 429 ``contacts:tooManyActiveImports`` past the active limit."""
    body = json_body()
    data = lower_keys(body)
    contacts = data.get("contacts")
    if not isinstance(body, dict) or not isinstance(contacts, list):
        raise v3_error(400, "contacts:badJson", "The request JSON is badly formed")
    if not contacts:
        raise v3_error(400, "contacts:noContactsSpecified", "No contacts were specified")
    merge = str(data.get("mergeoption") or "overwrite")
    if merge.lower() not in ("overwrite", "overwriteifnotempty", "overwriteifempty"):
        raise v3_error(400, "contacts:badJson", f"Invalid mergeOption '{merge}'")
    emulator = state()
    with emulator.lock:
        return api_imports.start(
            "contacts",
            "contacts",
            {"mergeOption": merge, "contacts": contacts},
            emulator.options.max_active_contact_imports,
        )


@blueprint.get("/contacts/v3/import/<importId>")
def import_status(importId: str):
    return api_imports.status(
        "contacts", "contacts", importId, f"The import request '{importId}' could not be found"
    )
