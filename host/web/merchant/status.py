"""What the Store tab shows about syncing: the live run, the last finished run, refused records
and enrolments (needing attention, or waiting for their next try), the enrolment queue and
configuration problems, read from the rows the sync engine writes (one query each)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from flask import current_app, has_app_context
from sqlalchemy import case, func, or_, select
from sqlalchemy.orm import Session

from host.destinations import noun_forms
from host.enrolments import queue_status
from host.models import Connection, ConnectionProblem, Enrolment, LedgerEntry, SyncRun, utcnow
from host.sync.erasure import COUNTS as DELETED_COUNTS
from host.sync.erasure import ERASED, ERASURE, REMOVED
from host.sync.ledger import CUSTOMER_CONTACT, SUBSCRIBER_CONTACT

COUNT_COLUMNS = ("read", "sent", "unchanged", "excluded", "failed")
FAILED_RECORDS_SHOWN = 50
DEFAULT_MAX_ATTEMPTS = 5
# A ledger kind as the merchant reads it, in the destination's words (``noun_forms``); other
# kinds (a source's stream names) are singularised.
KIND_LABELS = {
    CUSTOMER_CONTACT: "{Contact} in the customers {address_book_short}",
    SUBSCRIBER_CONTACT: "{Contact} in the subscribers {address_book_short}",
    ERASURE: "Person deleted in the store",
}
TRIGGER_LABELS = {
    "new_customer": "New customer",
    "new_subscriber": "New subscriber",
    "first_order": "First order",
}


def max_attempts_setting() -> int:
    """``[sync] max_attempts``: refusals after which a record needs the merchant's attention."""
    if not has_app_context():
        return DEFAULT_MAX_ATTEMPTS
    return int(current_app.config.get("SYNC", {}).get("max_attempts", DEFAULT_MAX_ATTEMPTS))


def kind_label(kind: str, nouns: dict[str, str] | None = None) -> str:
    if kind in KIND_LABELS:
        nouns = nouns or noun_forms({})
        return KIND_LABELS[kind].format(Contact=nouns["contact"][:1].upper() + nouns["contact"][1:], **nouns)
    words = kind.replace("_", " ")
    return (words[:-1] if words.endswith("s") else words).capitalize()


def _plural(count: int, one: str, many: str) -> str:
    return f"{count} {one if count == 1 else many}"


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment else None


def _phase_shown(phase: str | None, nouns: dict[str, str]) -> str | None:
    """The run's phase as the live line says it: the contacts phase in the destination's words."""
    return f"sending {nouns['contacts']}" if phase == "sending contacts" else phase


def run_summary(run: SyncRun | None, nouns: dict[str, str] | None = None) -> dict[str, Any] | None:
    if run is None:
        return None
    from host.web.merchant import upper_first
    from host.web.merchant.health import contacts_note, run_rows

    streams, contacts, enrolments = run_rows(run.counts)  # each stream adds up; contacts apart
    if contacts is not None:  # the live table's row name, in the destination's words
        contacts = {**contacts, "label": upper_first((nouns or noun_forms({}))["contacts"])}
    return {
        "id": run.id,
        "trigger": run.trigger,
        "status": run.status,
        "phase": _phase_shown(run.phase, nouns or noun_forms({})),
        "streams": streams,
        "contacts": contacts,
        "contacts_note": contacts_note(nouns or noun_forms({})),
        "enrolments": enrolments,
        "deleted_contacts": deleted_in_run(run.counts),
        "errors": run.errors or {},
        "started_at": _iso(run.started_at),
        "heartbeat_at": _iso(run.heartbeat_at),
        "finished_at": _iso(run.finished_at),
    }


def deleted_in_run(counts: dict[str, Any] | None) -> dict[str, int]:
    """People deleted in the store that a run removed from the books or erased (``host.sync.erasure``)."""
    values = (counts or {}).get(DELETED_COUNTS) or {}
    return {key: int(values.get(key) or 0) for key in ("removed", "erased", "waiting") if values.get(key)}


def deleted_contacts(session: Session, connection: Connection) -> dict[str, int]:
    """People deleted in the store so far, from the ledger: removed from the books, erased, and
    waiting (queued, or refused and tried again)."""
    totals = {"removed": 0, "erased": 0, "waiting": 0}
    rows = session.execute(
        select(LedgerEntry.state, LedgerEntry.reason, func.count())
        .where(LedgerEntry.connection_id == connection.id, LedgerEntry.kind == ERASURE)
        .group_by(LedgerEntry.state, LedgerEntry.reason)
    ).all()
    for state, reason, count in rows:
        if state != "excluded":
            totals["waiting"] += count
        elif (reason or "").startswith(ERASED):
            totals["erased"] += count
        elif reason == REMOVED:
            totals["removed"] += count
    return totals


def record_name(entry: LedgerEntry) -> str:
    """How a refused record is named: its source id; a person waiting to be erased by the email
    queued (their row keeps only a hash of it)."""
    if entry.kind == ERASURE and entry.outbox:
        return str(entry.outbox.get("key") or entry.source_id)
    return entry.source_id


def _failed_record(entry: LedgerEntry, max_attempts: int, now: datetime, nouns: dict[str, str]) -> dict[str, Any]:
    needs_attention = entry.attempts >= max_attempts
    next_try = entry.next_attempt_at
    return {
        "id": entry.id,
        "kind": entry.kind,
        "label": kind_label(entry.kind, nouns),
        "source_id": record_name(entry),
        "reason": entry.reason or "No reason was given.",
        "attempts": entry.attempts,
        "needs_attention": needs_attention,
        # None: tried again at the next sync (or, needing attention, only after Retry)
        "next_attempt_at": _iso(next_try) if next_try and next_try > now and not needs_attention else None,
        "updated_at": _iso(entry.updated_at),
    }


def enrolment_queue(
    session: Session, connection: Connection, destination_title: str, now: datetime,
    nouns: dict[str, str] | None = None,
) -> dict:
    """The enrolment queue in numbers and in plain sentences (``summary``)."""
    contact = (nouns or noun_forms({}))["contact"]
    from host.web.merchant import format_when

    queue = queue_status(session, connection)
    next_send_at = queue.get("next_send_at")
    lines = []
    waiting = queue.get("waiting") or 0
    if waiting:
        are = "is" if waiting == 1 else "are"
        due_now = session.scalar(  # next_send_at is the earliest set due time: some may be due now
            select(func.count()).where(
                Enrolment.connection_id == connection.id,
                Enrolment.state == "pending",
                or_(Enrolment.due_at.is_(None), Enrolment.due_at <= now),
            )
        )
        if next_send_at and next_send_at > now and not due_now:
            lines.append(
                f"{_plural(waiting, 'enrolment', 'enrolments')} {are} waiting for their turn: "
                f"{destination_title} takes only a few enrolment calls an hour, so enrolments go "
                f"out in batches. The next call goes at {format_when(next_send_at)}."
            )
        else:
            lines.append(
                f"{_plural(waiting, 'enrolment', 'enrolments')} {are} waiting for their batch; "
                "they go out within a few minutes."
            )
    if queue.get("pending_opt_in"):
        count = queue["pending_opt_in"]
        lines.append(
            f"{_plural(count, 'enrolment is', 'enrolments are')} waiting for the {contact} to confirm "
            "the double opt-in (for up to 24 hours)."
        )
    if queue.get("uncertain"):
        count = queue["uncertain"]
        lines.append(
            f"{_plural(count, 'enrolment was', 'enrolments were')} sent but the answer was lost: "
            f"{'it is' if count == 1 else 'they are'} checked with {destination_title} before "
            "anything is sent again, so no one is enrolled twice."
        )
    if queue.get("needs_attention"):
        count = queue["needs_attention"]
        lines.append(f"{_plural(count, 'enrolment needs', 'enrolments need')} your attention (see the list above).")
    return {**queue, "next_send_at": _iso(next_send_at), "summary": lines}


def sync_status(
    session: Session,
    connection: Connection,
    *,
    max_attempts: int | None = None,
    destination_title: str = "the destination",
    nouns: dict[str, str] | None = None,
) -> dict[str, Any]:
    """Everything about syncing the Store tab shows and its status endpoint answers; ``nouns`` are
    the destination's words (``host.destinations.noun_forms``, the defaults when None)."""
    nouns = nouns or noun_forms({})
    max_attempts = max_attempts_setting() if max_attempts is None else max_attempts
    now = utcnow()
    runs = select(SyncRun).where(SyncRun.connection_id == connection.id)
    running = session.scalar(
        runs.where(SyncRun.status == "running").order_by(SyncRun.started_at.desc(), SyncRun.id.desc()).limit(1)
    )
    last_run = session.scalar(
        runs.where(SyncRun.status != "running").order_by(SyncRun.started_at.desc(), SyncRun.id.desc()).limit(1)
    )
    failed = select(LedgerEntry).where(LedgerEntry.connection_id == connection.id, LedgerEntry.state == "failed")
    needing = LedgerEntry.attempts >= max_attempts
    failed_total, needs_attention_total = session.execute(
        select(func.count(), func.coalesce(func.sum(case((needing, 1), else_=0)), 0))
        .select_from(LedgerEntry)
        .where(LedgerEntry.connection_id == connection.id, LedgerEntry.state == "failed")
    ).one()
    failed_records = session.scalars(  # those needing attention first, then the latest
        failed.order_by(
            case((needing, 0), else_=1), LedgerEntry.updated_at.desc(), LedgerEntry.id.desc()
        ).limit(FAILED_RECORDS_SHOWN)
    ).all()
    failed_enrolments = session.scalars(
        select(Enrolment)
        .where(Enrolment.connection_id == connection.id, Enrolment.state == "failed")
        .order_by(Enrolment.updated_at.desc(), Enrolment.id.desc())
        .limit(FAILED_RECORDS_SHOWN)
    ).all()
    problems = session.scalars(
        select(ConnectionProblem)
        .where(ConnectionProblem.connection_id == connection.id)
        .order_by(ConnectionProblem.created_at, ConnectionProblem.id)
    ).all()
    return {
        "sync_enabled": connection.sync_enabled,
        "last_sync_at": _iso(connection.last_sync_at or (last_run and last_run.finished_at)),
        "running": run_summary(running, nouns),
        "last_run": run_summary(last_run, nouns),
        "max_attempts": max_attempts,
        "failed_total": failed_total,
        "needs_attention_total": int(needs_attention_total),
        "failed_records": [_failed_record(entry, max_attempts, now, nouns) for entry in failed_records],
        "failed_enrolments": [
            {
                "id": row.id,
                "trigger": row.trigger,
                "label": TRIGGER_LABELS.get(row.trigger, row.trigger.replace("_", " ").capitalize()),
                "contact": row.contact_key,
                "program_id": row.program_id,
                "reason": row.reason or "No reason was given.",
                "attempts": row.attempts,
                "updated_at": _iso(row.updated_at),
            }
            for row in failed_enrolments
        ],
        "enrolments": enrolment_queue(session, connection, destination_title, now, nouns),
        "deleted_contacts": deleted_contacts(session, connection),
        "problems": [
            {"code": problem.code, "area": problem.area, "message": problem.message, "since": _iso(problem.created_at)}
            for problem in problems
        ],
    }
