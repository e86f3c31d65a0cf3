"""Asynchronous work: contact imports, Insight imports and program enrolments.

Each job is accepted at once and applied when the emulator clock passes its ``ready_at``
(created + the processing delay). Jobs advance on read: every API call and every
``/_emulator/state`` first advances the caller's account, so no background thread is needed
and tests can move time with ``POST /_emulator/clock`` instead of sleeping.

Status words: contact imports ``NotFinished`` → ``Finished`` (reference §4.4). Insight imports
``NotStarted`` → ``Processing`` → ``Finished``; the in-progress word is UNCONFIRMED (§7.2),
``Processing`` is the schema's. A "stuck" import (fault injection) stays in progress until
released.
"""

from __future__ import annotations

import uuid
from typing import Any

from ..common import paused_gc
from . import insight
from .account import Account
from .contact_views import reference
from .contacts import MERGE_OPTIONS, RecordRejected, lower_keys, parse_v3, upsert
from .model import Enrolment, ImportJob

MATCH_IDENTIFIERS = {"email": "email", "contactid": "contactId", "mobilenumber": "mobileNumber"}
IN_PROGRESS = ("NotFinished", "NotStarted", "Processing")


def new_import(kind: str, payload: dict, now: float, delay: float, stuck: bool) -> ImportJob:
    records = payload.get("contacts") or payload.get("records") or []
    return ImportJob(
        id=str(uuid.uuid4()),
        kind=kind,
        payload=payload,
        created_at=now,
        ready_at=now + delay,
        stuck=stuck,
        record_count=len(records),
        status="NotFinished" if kind == "contacts" else "NotStarted",
    )


def active_imports(account: Account, kind: str) -> int:
    return sum(
        1 for job in account.imports.values() if job.kind == kind and job.status in IN_PROGRESS
    )


def advance(account: Account, now: float, now_iso: str) -> None:
    """Apply every job whose time has come (in submission order)."""
    for job in account.imports.values():
        if job.status not in IN_PROGRESS:
            continue
        if job.stuck or now < job.ready_at:
            if job.kind == "insight" and now >= (job.created_at + job.ready_at) / 2:
                job.status = "Processing"
            continue
        with paused_gc():  # tens of thousands of records: no collection halfway (see paused_gc)
            if job.kind == "contacts":
                job.result = run_contact_import(account, job.payload, now_iso)
            else:
                job.result = insight.run_import(account, job, now_iso)
        job.status = "Finished"
        job.payload = {}  # applied; keep memory flat for 20,000-contact runs
    for enrolment in account.enrolments.values():
        if enrolment.status == "Processing" and now >= enrolment.ready_at:
            finish_enrolment(account, enrolment)


def run_contact_import(account: Account, payload: dict[str, Any], now_iso: str) -> dict:
    """Upsert each contact; collect created, updated and per-record failures (§4.4)."""
    merge = MERGE_OPTIONS.get(str(payload.get("mergeOption") or "overwrite").lower(), "overwrite")
    summary = dict.fromkeys(
        (
            "newContacts",
            "updatedContacts",
            "globallySuppressed",
            "invalidEntries",
            "duplicateIdentifiers",
        ),
        0,
    )
    created: list[dict] = []
    updated: list[dict] = []
    failures: list[dict] = []
    seen: set[tuple[str, str]] = set()
    for entry in payload["contacts"]:
        data = lower_keys(entry)
        identifiers = data.get("identifiers") if isinstance(data.get("identifiers"), dict) else {}
        match = MATCH_IDENTIFIERS.get(str(data.get("matchidentifier") or "").lower())
        lowered = lower_keys(identifiers)
        value = lowered.get(match.lower()) if match else None
        failure = {
            "matchIdentifier": str(data.get("matchidentifier") or "unknown"),
            "identifiers": identifiers,
        }
        if match is None or value in (None, ""):
            summary["invalidEntries"] += 1
            failures.append(
                failure
                | {
                    "failures": [
                        {
                            "failureCode": "invalidMatchIdentifier",
                            "description": "matchIdentifier must name one of the supplied identifiers",
                        }
                    ]
                }
            )
            continue
        seen_key = (match, str(value).lower())
        if seen_key in seen:
            summary["duplicateIdentifiers"] += 1
            failures.append(
                failure
                | {
                    "failures": [
                        {
                            "failureCode": "duplicateIdentifier",
                            "description": f"Duplicate identifier detected for {match} '{value}'",
                        }
                    ]
                }
            )
            continue
        seen.add(seen_key)
        try:
            outcome = upsert(account, parse_v3(entry, data, lowered), match, merge, now_iso)
        except RecordRejected as rejected:
            counter = (
                "duplicateIdentifiers"
                if rejected.code == "duplicateIdentifier"
                else "invalidEntries"
            )
            summary[counter] += 1
            failures.append(
                failure
                | {
                    "failures": [
                        {"failureCode": rejected.code, "description": rejected.description}
                    ]
                }
            )
            continue
        if outcome.created:
            summary["newContacts"] += 1
            created.append(reference(outcome.contact))
        else:
            summary["updatedContacts"] += 1
            updated.append(reference(outcome.contact))
        if outcome.warnings:
            failures.append(
                failure
                | {
                    "contactId": outcome.contact.id,
                    "failures": [
                        {"failureCode": code, "description": text}
                        for code, text in outcome.warnings
                    ],
                }
            )
    return {"summary": summary, "created": created, "updated": updated, "failures": failures}


def finish_enrolment(account: Account, enrolment: Enrolment) -> None:
    """Enrol the named contacts plus the members of the named books, as they are now."""
    enrolled = dict.fromkeys(c for c in enrolment.contact_ids if c in account.contacts)
    for book_id in enrolment.address_book_ids:
        if book_id in account.books:
            enrolled.update(dict.fromkeys(account.books[book_id].contact_ids))
    enrolment.enrolled_contact_ids = list(enrolled)
    enrolment.status = "Finished"


def import_status_body(job: ImportJob) -> dict[str, Any]:
    body: dict[str, Any] = {"importId": job.id, "status": job.status}
    if job.result is not None:
        body.update(job.result)
    elif job.kind == "insight":
        body["collectionName"] = job.payload.get("collectionName")
    return body
