"""How a contact is shown: v2 ``ApiContact``, v3 ``contact`` and v3 ``contactReference``."""

from __future__ import annotations

from typing import Any

from .account import Account
from .model import Contact

V2_STATUS = {
    "subscribed": "Subscribed",
    "unsubscribed": "Unsubscribed",
    "pendingOptIn": "PendingOptIn",
    "suppressed": "Suppressed",
    "softBounced": "SoftBounced",
    "hardBounced": "HardBounced",
    "ispComplained": "IspComplained",
    "deleted": "Deleted",
}
V3_TOP_LEVEL_STATUS = {
    "subscribed",
    "unsubscribed",
    "pendingOptIn",
    "deleted",
    "suppressed",
    "binned",
    "noSubscription",
}


def as_v2(account: Account, contact: Contact) -> dict[str, Any]:
    """``ApiContact``: every account data field is listed, ``null`` where unset (§4.1)."""
    fields = sorted(account.data_fields.values(), key=lambda f: f.name)
    return {
        "id": contact.id,
        "email": contact.email,
        "optInType": contact.opt_in_type,
        "emailType": contact.email_type,
        "dataFields": [{"key": f.name, "value": contact.data_fields.get(f.name)} for f in fields],
        "status": V2_STATUS.get(contact.status, contact.status[:1].upper() + contact.status[1:]),
    }


def as_v3(account: Account, contact: Contact) -> dict[str, Any]:
    identifiers = {"email": contact.email}
    if contact.mobile_number:
        identifiers["mobileNumber"] = contact.mobile_number
    lists = [
        {"id": b.id, "name": b.name, "status": "subscribed"}
        for b in account.books.values()
        if contact.id in b.contact_ids
    ]
    lists += [
        {"id": i, "name": account.books[i].name, "status": "pending"}
        for i in contact.pending_book_ids
        if i in account.books
    ]
    top_status = contact.status if contact.status in V3_TOP_LEVEL_STATUS else "suppressed"
    return {
        "contactId": contact.id,
        "status": top_status,
        "created": contact.created,
        "updated": contact.updated,
        "identifiers": identifiers,
        "dataFields": dict(contact.data_fields),
        "channelProperties": {
            "email": {
                "emailType": contact.email_type,
                "optInType": contact.opt_in_type,
                "status": contact.status,
            }
        },
        "lists": lists,
        "consentRecords": [r.as_json() for r in contact.consent_records],
    }


def reference(contact: Contact) -> dict[str, Any]:
    identifiers = {"email": contact.email}
    if contact.mobile_number:
        identifiers["mobileNumber"] = contact.mobile_number
    return {"contactId": contact.id, "identifiers": identifiers}
