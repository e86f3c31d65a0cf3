"""What the Store tab shows about syncing: the live run, the last finished run, failed records
and configuration problems, read from the rows the sync engine writes (one query each)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from host.models import Connection, ConnectionProblem, LedgerEntry, SyncRun

COUNT_COLUMNS = ("read", "sent", "unchanged", "excluded", "failed")
FAILED_RECORDS_SHOWN = 50


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment else None


def run_summary(run: SyncRun | None) -> dict[str, Any] | None:
    if run is None:
        return None
    counts = run.counts or {}
    return {
        "id": run.id,
        "trigger": run.trigger,
        "status": run.status,
        "phase": run.phase,
        "streams": [
            {"name": stream, **{column: int((values or {}).get(column) or 0) for column in COUNT_COLUMNS}}
            for stream, values in counts.items()
        ],
        "errors": run.errors or {},
        "started_at": _iso(run.started_at),
        "heartbeat_at": _iso(run.heartbeat_at),
        "finished_at": _iso(run.finished_at),
    }


def sync_status(session: Session, connection: Connection) -> dict[str, Any]:
    """Everything about syncing the Store tab shows and its status endpoint answers."""
    runs = select(SyncRun).where(SyncRun.connection_id == connection.id)
    running = session.scalar(
        runs.where(SyncRun.status == "running").order_by(SyncRun.started_at.desc(), SyncRun.id.desc()).limit(1)
    )
    last_run = session.scalar(
        runs.where(SyncRun.status != "running").order_by(SyncRun.started_at.desc(), SyncRun.id.desc()).limit(1)
    )
    failed = select(LedgerEntry).where(LedgerEntry.connection_id == connection.id, LedgerEntry.state == "failed")
    failed_total = session.scalar(select(func.count()).select_from(failed.subquery())) or 0
    failed_records = session.scalars(
        failed.order_by(LedgerEntry.updated_at.desc(), LedgerEntry.id.desc()).limit(FAILED_RECORDS_SHOWN)
    ).all()
    problems = session.scalars(
        select(ConnectionProblem)
        .where(ConnectionProblem.connection_id == connection.id)
        .order_by(ConnectionProblem.created_at, ConnectionProblem.id)
    ).all()
    return {
        "sync_enabled": connection.sync_enabled,
        "last_sync_at": _iso(connection.last_sync_at or (last_run and last_run.finished_at)),
        "running": run_summary(running),
        "last_run": run_summary(last_run),
        "failed_total": failed_total,
        "failed_records": [
            {
                "kind": entry.kind,
                "source_id": entry.source_id,
                "reason": entry.reason or "No reason was given.",
                "attempts": entry.attempts,
                "updated_at": _iso(entry.updated_at),
            }
            for entry in failed_records
        ],
        "problems": [
            {"code": problem.code, "area": problem.area, "message": problem.message, "since": _iso(problem.created_at)}
            for problem in problems
        ],
    }
