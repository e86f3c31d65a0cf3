"""Contacts: v3 bulk imports in batches, the single PATCH upsert, book removal, status.

A contact payload (made by ``mapper.EngagementCloudMapper``) is a v3 contact request without
its list: ``identifiers``, ``dataFields`` and, for subscribers, ``channelProperties`` and
``consentRecords``. Writing adds ``matchIdentifier: email`` and ``lists: [book]``. Contacts are
matched on email, so repeating a batch never duplicates one (reference §4.4). Each email is
sent once per batch; every record carrying it gets the same answer.
"""

from __future__ import annotations

import copy
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from host.destinations import DestinationRecord, WriteResult
from host.errors import ConfigurationError

from . import jobs
from .client import ApiError, EngagementCloudClient
from .config import Settings

if TYPE_CHECKING:
    from host.models import Connection

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


def _group_by_email(records: Sequence[DestinationRecord]) -> dict[str, tuple[dict, list[str]]]:
    """Email (lower-case) → (the last payload sent for it, every source id carrying it)."""
    grouped: dict[str, tuple[dict, list[str]]] = {}
    for record in records:
        email = record.key.strip().lower()
        source_ids = grouped[email][1] if email in grouped else []
        grouped[email] = (record.payload, [*source_ids, record.source_id])
    return grouped


def contact_request(payload: dict[str, Any], book_id: str | None, known_fields: dict[str, str]) -> dict[str, Any]:
    """The v3 request for one contact: match on email, into ``book_id``, only fields that exist."""
    body = copy.deepcopy(payload)
    body["matchIdentifier"] = "email"
    fields = body.get("dataFields") or {}
    body["dataFields"] = {known_fields[name.lower()]: value for name, value in fields.items()
                          if name.lower() in known_fields}
    if book_id:
        body["lists"] = [int(book_id)]
    return body


def unknown_fields(records: Iterable[DestinationRecord], known_fields: dict[str, str]) -> list[str]:
    names = {name for r in records for name in (r.payload.get("dataFields") or {})}
    return sorted(name for name in names if name.lower() not in known_fields)


def write_contacts(
    client: EngagementCloudClient,
    settings: Settings,
    *,
    connection: Connection,
    records: Sequence[DestinationRecord],
    book_id: str | None,
    known_fields: dict[str, str],
) -> list[WriteResult]:
    """One answer per record, in order: a PATCH each for tiny batches, bulk imports otherwise."""
    grouped = _group_by_email(records)
    answers: dict[str, WriteResult] = {}
    emails = list(grouped)
    if len(emails) <= settings.single_upsert_max:
        for email in emails:
            answers[email] = upsert_contact(client, contact_request(grouped[email][0], book_id, known_fields))
    else:
        for start in range(0, len(emails), settings.contact_batch_size):
            chunk = emails[start:start + settings.contact_batch_size]
            body = {"mergeOption": "overwrite",
                    "contacts": [contact_request(grouped[e][0], book_id, known_fields) for e in chunk]}
            status = jobs.run_import(client, settings, jobs.CONTACTS, connection=connection,
                                     kind="contacts", body=body, record_count=len(chunk))
            answers.update(_read_report(status, chunk))
    results = []
    for record in records:
        answer = answers[record.key.strip().lower()]
        results.append(WriteResult(record.source_id, answer.ok, answer.destination_id, answer.reason))
    return results


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
