"""Contacts: v3 bulk imports (pipelined, ``imports``), the single PATCH upsert, book removal, status.

A contact payload (made by ``mapper.EngagementCloudMapper``) is a v3 contact request without
its list: ``identifiers``, ``dataFields`` and, for subscribers, ``channelProperties`` and
``consentRecords``. Writing adds ``matchIdentifier: email`` and ``lists: [book]``. Contacts are
matched on email, so repeating a batch never duplicates one (reference §4.4). Each email is
sent once per import; every record carrying it gets the same answer.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

import orjson

from host.destinations import DestinationRecord, WriteResult
from host.errors import ConfigurationError

from . import imports, jobs
from .client import ApiError, EngagementCloudClient
from .config import Settings
from .mapper import FieldTypeMismatch, typed_value

if TYPE_CHECKING:
    from host.models import Connection

TYPE_MISMATCH = "dataFieldTypeMismatch"  # the code of a value refused before it is sent (``reasons``)

# Email statuses (v3, reference §4.4) as the host's words; any other suppression is "suppressed".
STATUS_WORDS = {
    "subscribed": "subscribed",
    "pendingoptin": "pending_opt_in",
    "unsubscribed": "unsubscribed",
    "nosubscription": "not_subscribed",
    "deleted": "deleted",
    "binned": "deleted",
}


def contact_path(email: str) -> str:
    return "/contacts/v3/email/" + quote(email.strip(), safe="@")


def contact_request(
    payload: dict[str, Any], book_id: str | None, known_fields: dict[str, str],
    field_types: dict[str, str | None] | None = None,
) -> dict[str, Any]:
    """The v3 request for one contact: match on email, into ``book_id``, only fields that exist,
    each value in the format of its field's type (``field_types``: lower-cased name → the
    account's type; ``mapper.typed_value``). A value that cannot take its type refuses the
    contact (``imports.RecordRefused``, ``dataFieldTypeMismatch``) rather than send it. A new
    dict; the payload's nested values are shared, never changed."""
    body = dict(payload)
    body["matchIdentifier"] = "email"
    fields = body.get("dataFields") or {}
    types = field_types or {}
    typed: dict[str, Any] = {}
    for name, value in fields.items():
        lowered = name.lower()
        if lowered in known_fields:
            try:
                typed[known_fields[lowered]] = typed_value(types.get(lowered), known_fields[lowered], value)
            except FieldTypeMismatch as mismatch:
                raise imports.RecordRefused(f"{TYPE_MISMATCH}: {mismatch}") from None
    body["dataFields"] = typed
    if book_id:
        body["lists"] = [int(book_id)]
    return body


def contact_writer(
    client: EngagementCloudClient,
    settings: Settings,
    *,
    connection: Connection,
    book_id: str | None,
    known_fields: dict[str, str],
    unknown: set[str],
    on_finish=None,
    field_types: dict[str, str | None] | None = None,
) -> imports.ImportWriter:
    """Contacts into ``book_id`` through pipelined bulk imports (``imports``), matched on email:
    each email once per import (the last version wins; every record carrying it gets its
    answer). A write as small as ``single_upsert_max`` is one PATCH per contact instead. Names
    of mapped fields the account lacks are added to ``unknown`` (left out of the requests)."""

    def encode_record(record: DestinationRecord) -> tuple[str, bytes]:
        fields = record.payload.get("dataFields") or {}
        unknown.update(name for name in fields if name.lower() not in known_fields)
        request = contact_request(record.payload, book_id, known_fields, field_types)
        return record.key.strip().lower(), imports.encode(request)

    return imports.ImportWriter(
        client, settings, jobs.CONTACTS, connection=connection, kind="contacts",
        head=b'{"mergeOption":"overwrite","contacts":[', encode_record=encode_record,
        read_report=_read_report, max_records=settings.contact_batch_size,
        max_active=settings.max_active_contact_imports,
        single=lambda part: upsert_contact(client, orjson.loads(part)), on_finish=on_finish,
    )


def _email_of(entry: dict) -> str:
    identifiers = entry.get("identifiers") or {}
    return str(identifiers.get("email") or "").strip().lower()


def _read_report(status: dict[str, Any], emails: list[str]) -> dict[str, WriteResult]:
    """Per email: its contact id, or why it was refused (reference §4.4 status body)."""
    if status.get("status") in jobs.FAILED:
        reason = f"{status.get('status')}: the import was not processed by Engagement Cloud"
        return {email: WriteResult(email, False, None, reason) for email in emails}
    ids = {_email_of(entry): str(entry["contactId"])
           for entry in [*(status.get("created") or []), *(status.get("updated") or [])]
           if entry.get("contactId") is not None}
    problems: dict[str, list[str]] = {}
    for failure in status.get("failures") or []:
        for item in failure.get("failures") or []:
            code = str(item.get("failureCode") or "")
            if code.lower() == "invalidaddressbookids":
                raise ConfigurationError(
                    "The address book chosen for contacts no longer exists in Engagement Cloud: "
                    "choose another on the Store tab.", area="contacts", code="address_book_missing")
            problems.setdefault(_email_of(failure), []).append(f"{code}: {item.get('description') or ''}".strip())
    answers = {}
    for email in emails:
        reason = "; ".join(problems.get(email, [])) or None
        if email in ids:  # applied, perhaps with a warning (e.g. a consent record not applied)
            answers[email] = WriteResult(email, True, ids[email], reason)
        else:
            answers[email] = WriteResult(
                email, False, None, reason or "notReported: Engagement Cloud did not report this contact")
    return answers


def upsert_contact(client: EngagementCloudClient, request: dict[str, Any]) -> WriteResult:
    """One contact at once (``PATCH /contacts/v3/email/{email}``): the fast lane."""
    email = request["identifiers"]["email"]
    try:
        answer = client.send("PATCH", contact_path(email), json=request, params={"merge-option": "overwrite"})
    except ApiError as error:
        if error.code.lower().endswith("invalidaddressbookids"):
            raise ConfigurationError(
                "The address book chosen for contacts no longer exists in Engagement Cloud: "
                "choose another on the Store tab.", area="contacts", code="address_book_missing") from None
        return WriteResult(email, False, None, f"{error.code or error.status}: {error.message}")
    return WriteResult(email, True, str((answer.body or {}).get("contactId")), None)


def find_contact(client: EngagementCloudClient, email: str) -> dict[str, Any] | None:
    try:
        return client.get(contact_path(email))
    except ApiError as error:
        if error.status == 404:
            return None
        raise


def contact_status(client: EngagementCloudClient, email: str) -> str | None:
    """The contact's email status in the host's words, or None when there is no such contact."""
    contact = find_contact(client, email)
    if contact is None:
        return None
    channel = ((contact.get("channelProperties") or {}).get("email") or {}).get("status")
    word = str(channel or contact.get("status") or "")
    return STATUS_WORDS.get(word.lower(), "suppressed")


def remove_from_book(client: EngagementCloudClient, book_id: str, emails: Sequence[str]) -> None:
    """Take each contact out of one book (v2 delete), leaving its subscription and other books."""
    for email in emails:
        contact = find_contact(client, email)
        if contact is None:
            continue
        try:
            client.send("DELETE", f"/v2/address-books/{int(book_id)}/contacts/{int(contact['contactId'])}")
        except ApiError as error:
            if error.code == "ERROR_ADDRESSBOOK_NOT_FOUND":
                raise ConfigurationError(
                    "The subscribers address book no longer exists in Engagement Cloud: choose another on "
                    "the Store tab.", area="contacts", code="address_book_missing") from None
            if error.status != 404:
                raise


def erase_contacts(client: EngagementCloudClient, emails: Sequence[str]) -> list[WriteResult]:
    """Delete each contact (v3 ``DELETE /contacts/v3/email/{email}``): its books, data fields,
    consent records and contact-scoped Insight records (its ``Orders``) go with it (reference
    §4.4, §7.2). A contact not found is already erased. A refusal fails that email alone; an
    outage (``TransientError``) or refused credentials raise, and every email waits."""
    results = []
    for email in emails:
        try:
            client.send("DELETE", contact_path(email))
        except ApiError as error:
            if error.status != 404:
                results.append(WriteResult(email, False, None, f"{error.code or error.status}: {error.message}"))
                continue
        results.append(WriteResult(email, True))
    return results
