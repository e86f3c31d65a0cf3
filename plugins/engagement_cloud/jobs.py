"""Bulk imports as persisted jobs: recorded on submit, closed when polled, resumed after a crash.

The writer that submits and polls them is ``imports.ImportWriter``; this module keeps their
rows and the rules shared by every import.

Each accepted import becomes a ``DestinationJob`` row (``kind`` ``contacts`` or
``insight:<collection>``, ``remote_id`` = the import id, ``state`` submitted → finished or
failed, ``detail`` = the batch's hash and, at the end, the summary) the moment the service
answers 202, before any polling. Rows are written (``job_session``) in their own short
transaction, committed at once, so a crash mid-poll leaves the job on record. The sync engine
commits before it calls the destination, so on SQLite (one writer at a time) nothing holds the
database while an import is polled: webhooks and pages keep writing meanwhile.

After a crash the engine sends the same records again: an unfinished job with the same batch
hash (the hash of the import body's bytes) is polled again instead of being resubmitted, and so
is one that ``resume_unfinished`` closed at the next cycle's start before any writer read its
answers (``detail["unanswered"]``): its report answers the records once, and the import is not
applied twice. Upserts by email or record key make a second import harmless for contacts and
records, but not for what the service appends: a consent record sent twice is kept twice
(``consent_records=appended``, UNCONFIRMED), and an import slot and time are spent for nothing.

A stuck import is found within minutes, not within ``import_timeout``: a writer polls an
import only until the import is ``stuck_import_seconds`` old (600, ten minutes). Then the job is
marked stuck, the Store tab shows an ``import_stuck`` problem in plain words, and the write ends
with a ``TransientError`` so the cycle goes on and releases the connection (the fast lane is
never held). Every later write of the same batch, and every cycle's start, checks the stuck
import once — never waiting on it again, never submitting it again — and clears the problem
when it has finished.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, delete, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from host.db import get_db
from host.errors import TransientError
from host.models import Connection, ConnectionProblem, DestinationJob, utcnow

from .client import EngagementCloudClient
from .config import Settings

DONE = frozenset({"Finished", "Complete"})
# How long an import closed by ``resume_unfinished`` may answer the same body sent again: the
# next cycle sends it within minutes; much later, the service may have forgotten the import.
RESUMED_REUSE = timedelta(hours=24)
FAILED = frozenset({
    "RejectedByWatchdog", "InvalidFileFormat", "Unknown", "Failed",
    "ExceedsAllowedContactLimit", "NotAvailableInThisVersion",
})  # reference §4.4 / Appendix B; anything else is still running


@dataclass(frozen=True)
class ImportService:
    kind_prefix: str  # "contacts" or "insight"
    submit_path: str
    status_path: str  # with {id}


STUCK_CODE = "import_stuck"
WHAT = {"contacts": "contacts", "insight:Orders": "orders"}


@dataclass(frozen=True)
class OpenJob:
    id: int
    remote_id: str
    created_at: datetime


CONTACTS = ImportService("contacts", "/contacts/v3/import", "/contacts/v3/import/{id}")
INSIGHT = ImportService("insight", "/insightData/v3/import", "/insightData/v3/import/{id}")


@contextmanager
def job_session(connection: Connection) -> Iterator[Session]:
    """The session job rows are read and written in (see the module docstring)."""
    with get_db().transaction() as session:
        yield session


def batch_hash(body: Any) -> str:
    return hashlib.sha256(json.dumps(body, sort_keys=True, default=str).encode()).hexdigest()


def _find_unfinished(connection: Connection, kind: str, digest: str) -> OpenJob | None:
    """The import of this very body still running, or closed by ``resume_unfinished`` with its
    answers never read (within ``RESUMED_REUSE``): polled again rather than submitted again."""
    with job_session(connection) as session:
        rows = session.scalars(
            select(DestinationJob).where(
                DestinationJob.connection_id == connection.id,
                DestinationJob.kind == kind,
                or_(
                    DestinationJob.state == "submitted",
                    and_(DestinationJob.state == "finished", DestinationJob.updated_at >= utcnow() - RESUMED_REUSE),
                ),
            ).order_by(DestinationJob.id.desc())
        )
        for row in rows:
            detail = row.detail or {}
            if row.state == "finished" and not detail.get("unanswered"):
                continue
            if detail.get("batch_hash") == digest and row.remote_id:
                return OpenJob(row.id, row.remote_id, row.created_at)
    return None


def _record_submitted(connection: Connection, kind: str, remote_id: str, count: int, digest: str) -> OpenJob:
    with job_session(connection) as session:
        job = DestinationJob(
            connection_id=connection.id, kind=kind, remote_id=remote_id, state="submitted",
            record_count=count, detail={"batch_hash": digest}, created_at=utcnow(),
        )
        session.add(job)
        session.flush()
        return OpenJob(job.id, remote_id, job.created_at)


def _what(kind: str) -> str:
    if kind in WHAT:
        return WHAT[kind]
    return "catalog products" if kind.startswith("insight:Catalog") else f"{kind} records"


def _age(job: OpenJob) -> float:
    return (utcnow() - job.created_at).total_seconds()


def _mark_stuck(connection: Connection, job: OpenJob, kind: str) -> TransientError:
    """Keep the job (it is checked again, never resubmitted), say so plainly on the Store tab,
    and answer the error that ends this write."""
    minutes = max(1, round(_age(job) / 60))
    message = (
        f"Engagement Cloud has been importing {_what(kind)} for {minutes} minutes without finishing "
        f"(import {job.remote_id}). The connector checks it again at every sync and sends nothing "
        "twice; the rest of the sync goes on. If this lasts for hours, contact dotdigital support "
        "with the import id."
    )
    with job_session(connection) as session:
        row = session.get(DestinationJob, job.id)
        if row is not None and "stuck_since" not in (row.detail or {}):
            row.detail = {**(row.detail or {}), "stuck_since": utcnow().isoformat()}
    show_problem(connection, STUCK_CODE, "imports", message)
    return TransientError(message, area="imports")


def show_problem(connection: Connection, code: str, area: str, message: str | None) -> None:
    """Keep one Store-tab problem ``code`` with ``message``, in its own short transaction (the
    sync's session may be mid-write); ``message`` None clears it."""
    try:
        with job_session(connection) as session:
            problem = session.scalar(select(ConnectionProblem).where(
                ConnectionProblem.connection_id == connection.id, ConnectionProblem.code == code))
            if message is None:
                if problem is not None:
                    session.delete(problem)
            elif problem is None:
                session.add(ConnectionProblem(connection_id=connection.id, code=code, area=area, message=message))
            else:
                problem.message = message
    except IntegrityError:
        pass  # another process recorded the same problem first: same outcome


def _clear_stuck_if_none(connection: Connection) -> None:
    """No import of the connection is stuck any more: the problem goes."""
    with job_session(connection) as session:
        stuck = [
            job for job in session.scalars(select(DestinationJob).where(
                DestinationJob.connection_id == connection.id, DestinationJob.state == "submitted"))
            if "stuck_since" in (job.detail or {})
        ]
        if not stuck:
            session.execute(delete(ConnectionProblem).where(
                ConnectionProblem.connection_id == connection.id, ConnectionProblem.code == STUCK_CODE))


def _record_outcome(connection: Connection, job_id: int, state: str, detail: dict[str, Any]) -> None:
    with job_session(connection) as session:
        job = session.get(DestinationJob, job_id)
        if job is not None:
            job.state = state
            job.detail = {**(job.detail or {}), **detail}


class StillRunning(TransientError):
    """The import had not finished when the wait ended."""


def resume_unfinished(client: EngagementCloudClient, connection: Connection, settings: Settings | None = None) -> int:
    """Close the connection's jobs left ``submitted`` by a crash or a stuck import (poll once
    each); one still running past ``stuck_import_seconds`` is reported stuck. Answer how many closed."""
    with job_session(connection) as session:
        pending = [
            (OpenJob(job.id, job.remote_id, job.created_at), job.kind)
            for job in session.scalars(
                select(DestinationJob).where(
                    DestinationJob.connection_id == connection.id, DestinationJob.state == "submitted"
                )
            )
        ]
    closed = 0
    for job, kind in pending:
        service = CONTACTS if kind == "contacts" else INSIGHT
        body = client.get(service.status_path.format(id=job.remote_id)) or {}
        status = body.get("status")
        if status in DONE or status in FAILED:
            # No writer read its answers: the same body sent again reads them (``_find_unfinished``).
            _record_outcome(connection, job.id, "finished" if status in DONE else "failed",
                            {"status": status, "summary": body.get("summary"), "unanswered": True})
            closed += 1
        elif settings is not None and _age(job) >= settings.stuck_import_seconds:
            _mark_stuck(connection, job, kind)
    if pending:
        _clear_stuck_if_none(connection)
    return closed
