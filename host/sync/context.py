"""What one cycle works with, and the scope that opens it: lease, run row, session, hooks.

``cycle_scope`` is shared by the periodic cycle, "Sync now", the CLI and the fast lane: it
takes the connection's lease (or answers None when another cycle holds it or sync is off),
records the run, and always releases the lease and closes the run, whatever happens inside.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime

from flask import current_app
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from host.db import Database, get_db
from host.destinations import Destination
from host.enrolments import Enroller
from host.errors import ConfigurationError
from host.mapping import Mapper
from host.models import Connection, ConnectionProblem, utcnow
from host.plugins import get_plugins
from host.settings import get_settings
from host.sources import Source
from host.sync.ledger import RETRY_BASE_SECONDS, Ledger
from host.sync.lock import Lease
from host.sync.profiles import ProfileUpdater
from host.sync.runs import RunRecorder, clear_problems, record_problem

log = logging.getLogger(__name__)
Progress = Callable[[str, dict[str, int]], None]


@dataclass
class SyncContext:
    database: Database
    session: Session
    connection: Connection
    source: Source
    destination: Destination
    mapper: Mapper
    enrollers: list[Enroller]
    contact_settings: dict
    mapping: dict
    ledger: Ledger
    profiles: ProfileUpdater
    run: RunRecorder
    lease: Lease
    max_attempts: int
    now: datetime = field(default_factory=utcnow)
    problem_areas: set[str] = field(default_factory=set)  # areas with a problem on record
    paused: set[str] = field(default_factory=set)  # areas paused for the rest of this run
    worked_areas: set[str] = field(default_factory=set)  # areas whose problem is to be cleared
    staged_cursors: dict[str, str | None] = field(default_factory=dict)  # stream → value read
    writing: str | None = None  # the area being written now (where a problem belongs)
    retrying: bool = False  # in the once-a-cycle pass that re-sends failed records

    def pause(self, area: str, error: ConfigurationError) -> None:
        """A configuration problem: show it, and leave ``area`` alone until the next run."""
        log.warning("connection %s: %s paused: %s", self.connection.id, area, error.message)
        record_problem(self.database, self.connection.id, area, error)
        self.problem_areas.add(area)
        self.paused.add(area)

    def worked(self, area: str) -> None:
        """``area`` was written successfully: its problem, if any, goes at the next ``commit``
        (clearing it now, from another session, would wait on this session's open write)."""
        if area in self.problem_areas:
            self.worked_areas.add(area)

    def commit(self) -> None:
        """Commit the cycle's session, then clear the problems of areas that worked."""
        self.session.commit()
        for area in sorted(self.worked_areas):
            clear_problems(self.database, self.connection.id, area)
            self.problem_areas.discard(area)
        self.worked_areas.clear()

    def should_stop(self) -> bool:
        """Data sync was switched off, or the lease was lost: stop between pages."""
        if not self.lease.held:
            return True
        with self.database.transaction() as session:
            return not session.scalar(
                select(Connection.sync_enabled).where(Connection.id == self.connection.id)
            )


@contextmanager
def cycle_scope(
    connection_id: int, trigger: str, progress: Progress | None = None
) -> Iterator[SyncContext | None]:
    """Yield a ready ``SyncContext``, or None when the connection cannot sync now."""
    database = get_db()
    config = current_app.config.get("SYNC", {})
    lease = Lease(database, connection_id, seconds=float(config.get("lock_seconds", 120)))
    if not lease.acquire():
        yield None
        return
    session = sessionmaker(database.engine, expire_on_commit=False)()
    try:
        connection = session.get(Connection, connection_id)
        if connection is None or not connection.is_connected or not connection.sync_enabled:
            yield None
            return
        if trigger != "fast_lane":
            connection.sync_requested_at = None  # this cycle answers any "Sync now" so far
            session.commit()
        run = RunRecorder(database, connection_id, trigger, progress)
        lease.on_beat = run.beat
        lease.start_heartbeat()
        context = _build(
            database, session, connection, run, lease, int(config.get("max_attempts", 5))
        )
        plugins = get_plugins()
        plugins.before_sync_cycle(connection, run.row())
        status = "failed"
        try:
            yield context
            status = _status(context)
        except Exception as error:
            session.rollback()
            log.exception("sync of connection %s failed", connection_id)
            run.error("cycle", f"{error.__class__.__name__}: {error}")
            raise
        finally:
            row = run.finish(status)
            if status in ("finished", "partial") and trigger != "fast_lane":
                with database.transaction() as update_session:
                    update_session.get(Connection, connection_id).last_sync_at = row.finished_at
            plugins.after_sync_cycle(connection, row)
    finally:
        session.close()
        lease.release()


def _status(context: SyncContext) -> str:
    if context.should_stop():
        return "stopped"
    return "partial" if context.run.errors or context.paused else "finished"


def _build(database, session, connection, run, lease, max_attempts) -> SyncContext:
    plugins = get_plugins()
    mapper = plugins.mapper_for(connection.destination)
    mapping = get_settings(session, connection, "field_mapping").get("mapping")
    problems = session.scalars(
        select(ConnectionProblem.area).where(ConnectionProblem.connection_id == connection.id)
    )
    return SyncContext(
        database=database,
        session=session,
        connection=connection,
        source=plugins.source(connection.source),
        destination=plugins.destination(connection.destination),
        mapper=mapper,
        enrollers=list(plugins.enrollers),
        contact_settings=get_settings(session, connection, "contacts"),
        mapping=mapping if mapping is not None else mapper.default_mapping(),
        ledger=Ledger(
            session,
            connection.id,
            max_attempts,
            retry_base_seconds=float(
                current_app.config.get("SYNC", {}).get("retry_base_seconds", RETRY_BASE_SECONDS)
            ),
        ),
        profiles=ProfileUpdater(connection.connected_at),
        run=run,
        lease=lease,
        max_attempts=max_attempts,
        problem_areas=set(problems),
    )
