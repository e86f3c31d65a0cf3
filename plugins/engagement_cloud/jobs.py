"""Bulk imports as persisted jobs: submit, record, poll, resume after a crash.

Each accepted import becomes a ``DestinationJob`` row (``kind`` ``contacts`` or
``insight:<collection>``, ``remote_id`` = the import id, ``state`` submitted → finished or
failed, ``detail`` = the batch's hash and, at the end, the summary) the moment the service
answers 202, before any polling. Rows are written (``job_session``) in their own short
transaction, committed at once, so a crash mid-poll leaves the job on record. The sync engine
commits before it calls the destination, so on SQLite (one writer at a time) nothing holds the
database while an import is polled: webhooks and pages keep writing meanwhile.

After a crash the engine repeats the batch: an unfinished job with the same batch hash is
polled again instead of being resubmitted. (Resubmitting would also be harmless — imports
upsert by email or record key — but it costs an import slot and time.)
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from host.db import get_db
from host.errors import TransientError
from host.models import Connection, DestinationJob

from .client import ApiError, EngagementCloudClient
from .config import Settings

DONE = frozenset({"Finished", "Complete"})
FAILED = frozenset({
    "RejectedByWatchdog", "InvalidFileFormat", "Unknown", "Failed",
    "ExceedsAllowedContactLimit", "NotAvailableInThisVersion",
})  # reference §4.4 / Appendix B; anything else is still running


@dataclass(frozen=True)
class ImportService:
    kind_prefix: str  # "contacts" or "insight"
    submit_path: str
    status_path: str  # with {id}


CONTACTS = ImportService("contacts", "/contacts/v3/import", "/contacts/v3/import/{id}")
INSIGHT = ImportService("insight", "/insightData/v3/import", "/insightData/v3/import/{id}")


@contextmanager
def job_session(connection: Connection) -> Iterator[Session]:
    """The session job rows are read and written in (see the module docstring)."""
    with get_db().transaction() as session:
        yield session


def batch_hash(body: Any) -> str:
    return hashlib.sha256(json.dumps(body, sort_keys=True, default=str).encode()).hexdigest()


def _find_unfinished(connection: Connection, kind: str, digest: str) -> tuple[int, str] | None:
    with job_session(connection) as session:
        rows = session.scalars(
            select(DestinationJob).where(
                DestinationJob.connection_id == connection.id,
                DestinationJob.kind == kind,
                DestinationJob.state == "submitted",
            ).order_by(DestinationJob.id.desc())
        )
        for row in rows:
            if (row.detail or {}).get("batch_hash") == digest and row.remote_id:
                return row.id, row.remote_id
    return None


def _record_submitted(connection: Connection, kind: str, remote_id: str, count: int, digest: str) -> int:
    with job_session(connection) as session:
        job = DestinationJob(
            connection_id=connection.id, kind=kind, remote_id=remote_id, state="submitted",
            record_count=count, detail={"batch_hash": digest},
        )
        session.add(job)
        session.flush()
        return job.id


def _record_outcome(connection: Connection, job_id: int, state: str, detail: dict[str, Any]) -> None:
    with job_session(connection) as session:
        job = session.get(DestinationJob, job_id)
        if job is not None:
            job.state = state
            job.detail = {**(job.detail or {}), **detail}


def run_import(
    client: EngagementCloudClient,
    settings: Settings,
    service: ImportService,
    *,
    connection: Connection,
    kind: str,
    body: dict[str, Any],
    record_count: int,
    sleep: Callable[[float], None] = time.sleep,
) -> dict[str, Any]:
    """Submit (or resume) one import and wait for its final status body.

    Raises ``TransientError`` when the import is still running after ``import_timeout``
    (the job stays ``submitted`` and is resumed by the next identical batch). A failed import
    is answered with its status body (``status`` in ``FAILED``) for per-record refusals.
    """
    digest = batch_hash(body)
    resumed = _find_unfinished(connection, kind, digest)
    if resumed:
        job_id, import_id = resumed
        try:
            status_body = poll(client, settings, service, import_id, sleep=sleep)
        except ApiError as error:
            if error.status != 404:
                raise
            _record_outcome(connection, job_id, "failed", {"status": "NotFound"})  # expired: send it again
            resumed = None
    if not resumed:
        answer = client.send("PUT", service.submit_path, json=body)  # 429 too many imports: waits
        import_id = str((answer.body or {}).get("importId") or "")
        if not import_id:
            raise TransientError(f"Engagement Cloud accepted an import without an id ({kind})")
        job_id = _record_submitted(connection, kind, import_id, record_count, digest)
        status_body = poll(client, settings, service, import_id, sleep=sleep)
    state = "finished" if status_body.get("status") in DONE else "failed"
    _record_outcome(connection, job_id, state, {"status": status_body.get("status"), "summary": status_body.get("summary")})
    return status_body


def poll(
    client: EngagementCloudClient,
    settings: Settings,
    service: ImportService,
    import_id: str,
    *,
    sleep: Callable[[float], None] = time.sleep,
) -> dict[str, Any]:
    """Poll an import until it is done or failed, growing the interval up to ``poll_max_interval``."""
    deadline = time.monotonic() + settings.import_timeout
    interval = settings.poll_interval
    path = service.status_path.format(id=import_id)
    while True:
        body = client.get(path) or {}
        if body.get("status") in DONE or body.get("status") in FAILED:
            return body
        if time.monotonic() + interval > deadline:
            raise TransientError(
                f"Engagement Cloud import {import_id} is still processing; it will be checked again next sync"
            )
        sleep(interval)
        interval = min(interval * 1.5, settings.poll_max_interval)


def resume_unfinished(client: EngagementCloudClient, connection: Connection) -> int:
    """Close the connection's jobs left ``submitted`` by a crash (poll once each); answer how many."""
    with job_session(connection) as session:
        pending = [
            (job.id, job.kind, job.remote_id)
            for job in session.scalars(
                select(DestinationJob).where(
                    DestinationJob.connection_id == connection.id, DestinationJob.state == "submitted"
                )
            )
        ]
    closed = 0
    for job_id, kind, remote_id in pending:
        service = CONTACTS if kind == "contacts" else INSIGHT
        body = client.get(service.status_path.format(id=remote_id)) or {}
        status = body.get("status")
        if status in DONE or status in FAILED:
            _record_outcome(connection, job_id, "finished" if status in DONE else "failed",
                            {"status": status, "summary": body.get("summary")})
            closed += 1
    return closed
