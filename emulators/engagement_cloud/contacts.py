"""Contact writes shared by v2, v3 PATCH and v3 bulk import: upsert, merge, double opt-in.

Double opt-in (reference §9): a *new* contact whose opt-in type is ``VerifiedDouble``, or any
new contact when the account enforces double opt-in for all signups (bulk included), is sent
a confirmation email and stays ``pendingOptIn``, in no address book, until confirmed through
``/_emulator``. ``Double`` only records an opt-in obtained elsewhere. A resubscribe under the
account-wide setting is challenged the same way (reference §4.2, ``ContactChallenged``).

Two UNCONFIRMED readings are modes (``modes.Modes``, on the account as ``account.modes``):

- ``consent_records``: ``appended`` adds every ``consentRecords`` entry a write carries to the
  contact's records, an exact repeat included (ConsentInsight keeps each record sent, §4.3);
  ``deduplicated`` drops an entry equal (text, time, url, IP, user agent) to one the contact
  has. An account created with ``keep_every_consent_record`` appends whatever the mode.
- ``data_field_types``: ``enforced`` refuses a contact write whose data field value does not
  fit the field's type (§6: ``String`` text of at most 255 characters, ``Numeric`` a JSON
  number, ``Boolean`` JSON true/false, ``Date`` an ISO 8601 date or date-time with a 4-digit
  year, §5): in an import that contact fails with ``apiSchemaViolation`` and a description
  naming the field, the others are applied; a PATCH answers 400 ``contacts:apiSchemaViolation``,
  a v2 write ``ERROR_PARAMETER_INVALID``. ``null`` always clears. ``lenient`` stores values
  as sent.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from .account import Account
from .model import ConsentRecord, Contact, DataField

EMAIL_PATTERN = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s.]+$")
OPT_IN_TYPES = {
    "unknown": "Unknown",
    "single": "Single",
    "double": "Double",
    "verifieddouble": "VerifiedDouble",
}
EMAIL_TYPES = {"html": "Html", "plaintext": "PlainText"}
WRITABLE_STATUSES = {"subscribed", "unsubscribed", "suppressed"}
CONSENT_FIELDS = ("text", "dateTimeConsented", "url", "ipAddress", "userAgent")
MAX_CONSENT_RECORDS = 5
TEXT_LIMIT = 255  # characters of a String data field's value (reference §6)
ISO_DATE = re.compile(
    r"^\d{4}-\d{2}-\d{2}(?:[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d{1,7})?)?(?:Z|[+-]\d{2}:?\d{2})?)?$"
)
MERGE_OPTIONS = {
    "overwrite": "overwrite",
    "overwriteifnotempty": "overwriteIfNotEmpty",
    "overwrite-if-not-empty": "overwriteIfNotEmpty",
    "overwriteifempty": "overwriteIfEmpty",
    "overwrite-if-empty": "overwriteIfEmpty",
}


class RecordRejected(Exception):
    """One contact write cannot be applied; ``code`` is the v3 import failure code."""

    def __init__(self, code: str, description: str) -> None:
        super().__init__(description)
        self.code = code
        self.description = description


@dataclass
class ContactWrite:
    """A contact write in one shape, whichever API it came from."""

    email: str | None = None
    mobile_number: str | None = None
    contact_id: int | None = None
    data_fields: dict[str, Any] = field(default_factory=dict)
    email_type: str | None = None
    opt_in_type: str | None = None
    status: str | None = None
    list_ids: list[int] = field(default_factory=list)
    consent_records: list[dict] | None = None


@dataclass
class WriteOutcome:
    contact: Contact
    created: bool
    warnings: list[tuple[str, str]] = field(default_factory=list)


_LOWERED: dict[Any, str] = {}  # key -> lower-cased key: a bulk import repeats the same few keys


def _lowered(key: Any) -> str:
    found = _LOWERED.get(key)
    if found is None:
        found = str(key).lower()
        if type(key) is str and len(_LOWERED) < 10_000:
            _LOWERED[key] = found
    return found


def lower_keys(data: Any) -> dict[str, Any]:
    """v2 accepts request keys in any casing (reference §2); v3 is treated the same way."""
    if not isinstance(data, dict):
        return {}
    get = _LOWERED.get
    return {(get(k) if type(k) is str else None) or _lowered(k): v for k, v in data.items()}


def _enum(value: Any, table: dict[str, str], name: str) -> str | None:
    if value is None:
        return None
    found = table.get(str(value).replace("_", "").lower())
    if found is None:
        raise RecordRejected("apiSchemaViolation", f"Invalid value '{value}' for '{name}'")
    return found


def parse_v3(body: dict[str, Any], data: dict[str, Any] | None = None,
             identifiers: dict[str, Any] | None = None) -> ContactWrite:
    """Read a v3 contact request (PATCH body or one bulk-import entry); ``data`` and
    ``identifiers`` are its key-lowered body and identifiers when the caller has them."""
    if data is None:
        data = lower_keys(body)
    if identifiers is None:
        identifiers = lower_keys(data.get("identifiers"))
    email_channel = lower_keys(lower_keys(data.get("channelproperties")).get("email"))
    status = email_channel.get("status")
    if status is not None and status not in WRITABLE_STATUSES:
        raise RecordRejected("invalidContactStatus", f"Invalid value '{status}' for 'status'")
    contact_id = identifiers.get("contactid")
    lists = data.get("lists") or []
    if not isinstance(lists, list) or not all(isinstance(i, int) for i in lists):
        raise RecordRejected("invalidAddressBookIds", "'lists' must be an array of list ids")
    fields = data.get("datafields") or {}
    if not isinstance(fields, dict):
        raise RecordRejected("apiSchemaViolation", "'dataFields' must be an object")
    consents = data.get("consentrecords")
    return ContactWrite(
        email=identifiers.get("email"),
        mobile_number=identifiers.get("mobilenumber"),
        contact_id=int(contact_id) if str(contact_id or "").isdigit() else None,
        data_fields=fields,
        email_type=_enum(email_channel.get("emailtype"), EMAIL_TYPES, "emailType"),
        opt_in_type=_enum(email_channel.get("optintype"), OPT_IN_TYPES, "optInType"),
        status=status,
        list_ids=lists,
        consent_records=consents if consents is None or isinstance(consents, list) else [None],
    )


def parse_v2(body: dict[str, Any]) -> ContactWrite:
    """Read a v2 ``ApiContact`` (``dataFields`` is a key/value array)."""
    data = lower_keys(body)
    fields: dict[str, Any] = {}
    for pair in data.get("datafields") or []:
        pair = lower_keys(pair)
        if "key" in pair:
            fields[str(pair["key"])] = pair.get("value")
    return ContactWrite(
        email=data.get("email"),
        data_fields=fields,
        email_type=_enum(data.get("emailtype"), EMAIL_TYPES, "emailType"),
        opt_in_type=_enum(data.get("optintype"), OPT_IN_TYPES, "optInType"),
    )


def _consent_records(raw: list | None, now_iso: str) -> list[ConsentRecord] | None:
    """Valid records, or None when any is malformed (all five fields required, at most 5)."""
    if raw is None:
        return []
    if len(raw) > MAX_CONSENT_RECORDS:
        return None
    records = []
    for item in raw:
        item = lower_keys(item)
        values = [item.get(name.lower()) for name in CONSENT_FIELDS]
        if not all(isinstance(v, str) and v for v in values):
            return None
        records.append(ConsentRecord(*values, date_time_created=now_iso))
    return records


def _is_date(value: Any) -> bool:
    if not isinstance(value, str) or not ISO_DATE.match(value):
        return False
    text = value.replace(" ", "T").replace("Z", "+00:00")
    if len(text) > 10 and text[-3] != ":" and text[-5] in "+-":  # +0100 → +01:00
        text = text[:-2] + ":" + text[-2:]
    try:
        (datetime if "T" in text else date).fromisoformat(text)
    except ValueError:
        return False
    return True


def fits_type(field: DataField, value: Any) -> bool:
    """Whether ``value`` (not null) fits ``field``'s type, as ``enforced`` reads §6."""
    kind = (field.type or "String").lower()
    if kind == "numeric":
        return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)
    if kind == "boolean":
        return isinstance(value, bool)
    if kind == "date":
        return _is_date(value)
    if isinstance(value, dict | list):
        return False
    return len(value if isinstance(value, str) else str(value)) <= TEXT_LIMIT


def type_mismatch(field: DataField, value: Any) -> str:
    shown = repr(value) if not isinstance(value, str) or len(value) <= 40 else repr(value[:40] + "…")
    expected = {
        "numeric": "a number",
        "boolean": "true or false",
        "date": "an ISO 8601 date",
    }.get((field.type or "String").lower(), f"text of at most {TEXT_LIMIT} characters")
    return f"Invalid value for data field '{field.name}' ({field.type}): {shown} is not {expected}"


def _merge_data_fields(contact: Contact, changes: dict[str, Any], merge: str, new: bool) -> None:
    for name, value in changes.items():
        empty = value is None or value == ""
        current = contact.data_fields.get(name)
        if new or merge == "overwrite":
            if value is None:
                contact.data_fields.pop(name, None)  # null clears (reference §4.4)
            else:
                contact.data_fields[name] = value
        elif not empty and (
            merge == "overwriteIfNotEmpty"
            or (merge == "overwriteIfEmpty" and current in (None, ""))
        ):
            contact.data_fields[name] = value


def send_confirmation(account: Account, contact: Contact, reason: str, now_iso: str) -> None:
    contact.status = "pendingOptIn"
    account.confirmation_emails.append(
        {"to": contact.email, "contactId": contact.id, "reason": reason, "sentAt": now_iso}
    )


def confirm_opt_in(account: Account, contact: Contact, now_iso: str) -> None:
    """The contact clicked the confirmation link: subscribed, verified, into its books."""
    contact.status = "subscribed"
    contact.opt_in_type = "VerifiedDouble"
    contact.data_fields["LASTSUBSCRIBED"] = now_iso
    contact.updated = now_iso
    for book_id in contact.pending_book_ids:
        if book_id in account.books:
            account.books[book_id].contact_ids[contact.id] = None
    contact.pending_book_ids.clear()


def upsert(
    account: Account, write: ContactWrite, match: str, merge: str, now_iso: str
) -> WriteOutcome:
    """Create or update one contact matched on ``match`` (email, contactId or mobileNumber)."""
    if write.email is not None and not EMAIL_PATTERN.match(str(write.email)):
        raise RecordRejected("invalidEmail", f"Invalid value for 'email': '{write.email}'")
    missing = [book for book in write.list_ids if book not in account.books]
    if missing:
        raise RecordRejected("invalidAddressBookIds", f"Lists not found: {missing}")
    resolved: dict[str, Any] = {}
    enforced = account.modes.data_field_types == "enforced"
    for name, value in write.data_fields.items():
        known = account.data_field(str(name))
        if known is None:
            raise RecordRejected("dataFieldNotFound", f"Data field '{name}' does not exist")
        if enforced and value is not None and not fits_type(known, value):
            raise RecordRejected("apiSchemaViolation", type_mismatch(known, value))
        resolved[known.name] = value
    if match == "email":
        contact = account.contact_by_email(write.email) if write.email else None
    elif match == "contactId":
        contact = account.contacts.get(write.contact_id) if write.contact_id else None
        if contact is None:
            raise RecordRejected("contactNotFound", f"Contact '{write.contact_id}' not found")
    elif match == "mobileNumber":
        contact = account.contact_by_mobile(write.mobile_number) if write.mobile_number else None
    else:
        raise RecordRejected("invalidMatchIdentifier", f"Unknown match identifier '{match}'")
    outcome = WriteOutcome(contact=contact, created=contact is None)  # type: ignore[arg-type]
    if contact is None:
        if not write.email:
            raise RecordRejected("noValidIdentifiers", "A new contact needs an email identifier")
        if account.contact_by_email(write.email):
            raise RecordRejected("duplicateIdentifier", f"Email '{write.email}' is in use")
        contact = outcome.contact = account.new_contact(write.email, now_iso)
        contact.status = write.status or "subscribed"
    elif write.email and write.email.lower() != contact.email.lower():
        if account.contact_by_email(write.email):
            raise RecordRejected("duplicateIdentifier", f"Email '{write.email}' is in use")
        account.change_email(contact, write.email)
    if write.mobile_number:
        account.set_mobile(contact, str(write.mobile_number))
    if write.email_type:
        contact.email_type = write.email_type
    if write.opt_in_type:
        contact.opt_in_type = write.opt_in_type
    _merge_data_fields(contact, resolved, merge, outcome.created)
    _apply_status(account, contact, write, outcome.created, now_iso)
    consents = _consent_records(write.consent_records, now_iso)
    if consents is None:
        outcome.warnings.append(
            (
                "consentRecordsNotApplied",
                "The provided consent records could not be applied as they "
                "were incorrectly formatted",
            )
        )
    elif account.keep_every_consent_record or account.modes.consent_records == "appended":
        contact.consent_records.extend(consents)
    else:
        # Resending an identical record (same text, time, url, ip, agent) does not add a copy.
        seen = {r.identity() for r in contact.consent_records}
        contact.consent_records.extend(r for r in consents if r.identity() not in seen)
    for book_id in write.list_ids:
        if contact.status == "pendingOptIn":
            if book_id not in contact.pending_book_ids:
                contact.pending_book_ids.append(book_id)
        else:
            account.books[book_id].contact_ids[contact.id] = None
    contact.updated = now_iso
    return outcome


def _apply_status(
    account: Account, contact: Contact, write: ContactWrite, created: bool, now_iso: str
) -> None:
    if created:
        if contact.status == "subscribed":
            if contact.opt_in_type == "VerifiedDouble":
                send_confirmation(account, contact, "verifiedDouble", now_iso)
            elif account.enforce_double_opt_in:
                send_confirmation(account, contact, "accountSetting", now_iso)
            else:
                contact.data_fields["LASTSUBSCRIBED"] = now_iso
        return
    if write.status is None or write.status == contact.status:
        return
    if write.status == "subscribed" and contact.status != "pendingOptIn":
        if account.enforce_double_opt_in:
            send_confirmation(account, contact, "resubscribe", now_iso)
            return
        contact.data_fields["LASTSUBSCRIBED"] = now_iso
    if write.status == "subscribed" and contact.status == "pendingOptIn":
        return  # only the confirmation link ends a pending opt-in
    contact.status = write.status
