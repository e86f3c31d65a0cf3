"""v2 contact update and delete by id (reference §4.2; both ``deprecated`` in the vendor's
``Dotdigital-dotdigital-email-contacts`` spec, still used by older clients):

- ``PUT /v2/contacts/{id}``: body an ``ApiContact`` (``email`` required; ``optInType``,
  ``emailType``, ``dataFields`` as key/value pairs, keys in any casing, §2) → the updated
  ``ApiContact``. The supplied data fields overwrite (a ``null`` value clears), the others
  stay; a new ``email`` changes the contact's address;
- ``DELETE /v2/contacts/{id}`` → 204 with an empty body; the contact leaves every address
  book and its data goes with it (``contact_removal``).

Errors: an unknown id is 404 ``Error: ERROR_CONTACT_NOT_FOUND`` (status UNCONFIRMED, by
analogy with the programs spec, as for the other v2 contact routes); a missing or malformed
e-mail, an unknown data field or an e-mail another contact has is 400 (the v2 messages of
``api_books``); a suppressed contact is refused as ``POST /v2/contacts`` refuses it.

UNCONFIRMED: the update answers **200** (the generated v2 spec, which the emulator follows where
the two vendor specs differ, as for book creation); the ReadMe spec and its example show 201.
"""

from __future__ import annotations

from flask import Blueprint, jsonify

from .api_books import _rejected_as_v2
from .contact_removal import remove_contact
from .contact_views import as_v2
from .contacts import RecordRejected, parse_v2, upsert
from .errors import v2_error
from .web import account, json_body, state

blueprint = Blueprint("ec_contacts_v2", __name__)
CONTACT_NOT_FOUND = "Error: ERROR_CONTACT_NOT_FOUND"


def _contact_or_404(contact_id: int):
    contact = account().contacts.get(contact_id)
    if contact is None:
        raise v2_error(404, CONTACT_NOT_FOUND)
    return contact


@blueprint.put("/v2/contacts/<int:contactId>")
def update_contact(contactId: int):
    body = json_body()
    with state().lock:
        me = account()
        contact = _contact_or_404(contactId)
        if contact.status == "suppressed":
            raise v2_error(400, "Contact is suppressed. ERROR_CONTACT_SUPPRESSED")
        try:
            write = parse_v2(body if isinstance(body, dict) else {})
            if not write.email:
                raise RecordRejected("invalidEmail", "email is required")
            write.contact_id = contactId
            outcome = upsert(me, write, "contactId", "overwrite", state().clock.iso())
        except RecordRejected as rejected:
            if rejected.code == "contactNotFound":
                raise v2_error(404, CONTACT_NOT_FOUND) from None
            raise _rejected_as_v2(rejected) from None
        return jsonify(as_v2(me, outcome.contact))


@blueprint.delete("/v2/contacts/<int:contactId>")
def delete_contact(contactId: int):
    with state().lock:
        remove_contact(account(), _contact_or_404(contactId))
        return "", 204
