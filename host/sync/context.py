"""What one cycle works with, and the scope that opens it: lease, run row, session, hooks.

``cycle_scope`` is shared by the periodic cycle, "Sync now", the CLI and the fast lane: it
takes the lease of the run's lane (the fast lane has its own, ``host.sync.lock``: a fast-lane
run never waits for a cycle), or answers None when that lane is busy or sync is off, records
the run, and always releases the lease and closes the run, whatever happens inside.

A cycle given a time budget (``slice_seconds``) stops at the first page or batch boundary after
it, to be continued by the next slice. Work stops at the next page boundary when Data sync is
switched off or the connection is disconnected, linked to another account or removed
meanwhile (``should_stop``); a cycle that
meets the rows a removal deleted stops the same way. Before the lease goes, the old account's
state is forgotten if a disconnect or reconnect marked it (``host.sync.forget``). An unexpected
error is logged with its traceback under a reference, and the run says in plain words that the
sync stopped, when it tries again, and that reference (``host.incidents``).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from flask import current_app
from sqlalchemy import event, select
from sqlalchemy.orm import Session, sessionmaker

from host.db import Database, get_db
from host.destinations import Destination
from host.enrolments import Enroller
from host.errors import ConfigurationError, SyncError
from host.incidents import log_unexpected
from host.mapping import Mapper
from host.models import Connection, ConnectionProblem, utcnow
from host.plugins import get_plugins
from host.settings import get_settings
from host.sources import Source
from host.sync import versions  # noqa: F401  (counts profile changes on every flush)
from host.sync.forget import STATE_NAMESPACE, forget_if_pending
from host.sync.ledger import RETRY_BASE_SECONDS, Ledger
from host.sync.lock import CYCLE, Lease, LeaseLost, claim_other_lane, lane_of
from host.sync.profiles import ProfileUpdater
from host.sync.runs import (
    CONTINUED,
    SLICED,
    RunRecorder,
    clear_problems,
    first_slice_id,
    record_problem,
)

log = logging.getLogger(__name__)
LOST = "lost"  # the lease ran out under it: not a status written anywhere (``Lease.fence``)
Progress = Callable[[str, dict[str, int]], None]
Generation = tuple  # (destination, destination account, connected_at): the account worked for


def generation_of(connection: Connection) -> Generation:
    return (connection.destination, connection.destination_account, connection.connected_at)


def stop_reason(database: Database, connection_id: int, generation: Generation) -> str | None:
    """Why work for ``generation`` must stop now: "removed", "changed" (disconnected, or linked
    again, to this or another account), "off" (Data sync); None when it may go on."""
    with database.transaction() as session:
        row = session.execute(
            select(
                Connection.sync_enabled,
                Connection.destination,
                Connection.destination_account,
                Connection.connected_at,
            ).where(Connection.id == connection_id)
        ).first()
    if row is None:
        return "removed"
    if tuple(row[1:]) != tuple(generation):
        return "changed"
    return None if row.sync_enabled else "off"


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
    continuing: bool = False  # a later slice of a cycle cut into slices (``host.sync.reads``)
    deadline: float | None = None  # when this slice is over (``time.monotonic``); None: never
    sliced: bool = False  # the slice ended at its deadline: the cycle goes on in another
    progressed: bool = False  # this slice committed work (a page, a batch): it may end now
    writing: str | None = None  # the area being written now (where a problem belongs)
    retrying: bool = False  # in the once-a-cycle pass that re-sends failed records
    generation: Generation = ()  # the account this cycle works for (``generation_of``)
    # Data fields unmapped since the contacts were last checked: sent empty to the contacts
    # re-sent (those that had a value), until a contacts pass completes (``host.sync.contacts``).
    unmapped: tuple[str, ...] = ()

    def pause(self, area: str, error: ConfigurationError) -> None:
        """A configuration problem: show it, and leave ``area`` alone until the next run (a
        cycle that is stopping shows nothing: the problem may be the old account's)."""
        log.warning("connection %s: %s paused: %s", self.connection.id, area, error.message)
        self.paused.add(area)
        if self.should_stop():
            return
        record_problem(self.database, self.connection.id, area, error)
        self.problem_areas.add(area)

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

    def slice_over(self) -> bool:
        """Whether this slice spent its time: the cycle stops at this boundary, to go on in the
        next slice (enqueued at once, behind the other connections' work). A slice ends only
        after it committed some work (``progressed``), so a cycle always moves on."""
        if self.progressed and self.deadline is not None and time.monotonic() >= self.deadline:
            self.sliced = True
        return self.sliced

    def should_stop(self) -> bool:
        """Stop between pages: Data sync was switched off, the connection was disconnected,
        linked again or removed, or the lease was lost."""
        if not self.lease.held:
            return True
        return stop_reason(self.database, self.connection.id, self.generation) is not None


@contextmanager
def cycle_scope(
    connection_id: int, trigger: str, progress: Progress | None = None
) -> Iterator[SyncContext | None]:
    """Yield a ready ``SyncContext``, or None when the connection cannot sync now."""
    database = get_db()
    config = current_app.config.get("SYNC", {})
    lane = lane_of(trigger)
    lease = Lease(
        database, connection_id, seconds=float(config.get("lock_seconds", 120)), lane=lane
    )
    if not lease.acquire():
        yield None
        return
    session = sessionmaker(database.engine, expire_on_commit=False)()
    event.listen(session, "before_commit", lease.fence)  # a lost lease commits nothing more
    try:
        connection = session.get(Connection, connection_id)
        if connection is not None and not _forget_left_over(session, connection, lane):
            yield None  # a fast-lane run while the other lane must forget first
            return
        if connection is None or not connection.is_connected or not connection.sync_enabled:
            yield None
            return
        if trigger != "fast_lane":
            connection.sync_requested_at = None  # this cycle answers any "Sync now" so far
            session.commit()
        generation = generation_of(connection)
        counted_with = first_slice_id(session, connection_id) if trigger == CONTINUED else None
        run = RunRecorder(database, connection_id, trigger, progress, counted_with)
        lease.on_beat = run.beat
        lease.start_heartbeat()
        plugins = get_plugins()
        status = "failed"
        try:
            context = _build(
                database, session, connection, run, lease, int(config.get("max_attempts", 5))
            )
            context.generation = generation
            if lane == CYCLE:  # a cycle's set-up (e.g. closing imports a crash left open) is
                plugins.before_sync_cycle(connection, run.row())  # never run beside a cycle's work
            yield context
            status = _status(context)
        except LeaseLost:
            # Held up past its lease (another process may run the connection now): it stops,
            # and leaves the run's record as the process that took over wrote it.
            session.rollback()
            log.warning("sync of connection %s stopped: its lease ran out and was not renewed", connection_id)
            status = LOST
        except Exception as error:
            session.rollback()
            if stop_reason(database, connection_id, generation) in ("removed", "changed"):
                # It met what a disconnect or removal changed under it: the stop it was told.
                log.info(
                    "sync of connection %s stopped: the connection was changed or removed under it (%s)",
                    connection_id,
                    error.__class__.__name__,
                )
                status = "stopped"
            else:
                reference = log_unexpected(log, error, "sync of connection %s failed", connection_id)
                run.error("cycle", unexpected_error_message(trigger, reference, config))
                raise
        finally:
            row = run.row() if status == LOST else run.finish(status)
            if status in ("finished", "partial") and trigger != "fast_lane":
                with database.transaction() as update_session:
                    current = update_session.get(Connection, connection_id)
                    if current is not None:
                        current.last_sync_at = row.finished_at
            plugins.after_sync_cycle(connection, row)
    finally:
        session.close()
        _forget_marked(database, connection_id, lane)
        lease.release()


FORGET_WAIT_SECONDS = 30.0  # a cycle waits this long for a fast-lane run to stop before forgetting


def _forget_left_over(session: Session, connection: Connection, lane: str) -> bool:
    """Forget the state a disconnect or reconnect marked and its holder left behind (it died),
    with the other lane's lease free; answer whether this run may go on.

    A cycle waits for a fast-lane run to end (one page at most: the changed connection stops
    it); a fast-lane run leaves the forgetting to a running cycle and does not start."""
    deadline = time.monotonic() + (FORGET_WAIT_SECONDS if lane == CYCLE else 0)
    while get_settings(session, connection, STATE_NAMESPACE).get("forget_pending"):
        if claim_other_lane(session, connection.id, lane):
            forget_if_pending(session, connection)
            session.commit()
            return True
        session.rollback()
        if time.monotonic() >= deadline:
            return False
        time.sleep(0.1)
    session.commit()
    return True


def unexpected_error_message(trigger: str, reference: str, config: dict) -> str:
    """What the Store tab says of a run that an unexpected error ended: no internal text."""
    if trigger == "fast_lane":  # the inbox is read again at the next tick
        what, wait = "The instant update", float(config.get("fast_lane_seconds", 5))
    else:  # the scheduler plans the next cycle an interval after this one ended
        what, wait = "The sync", float(config.get("interval_seconds", 300))
    retry_at = utcnow() + timedelta(seconds=wait)
    return (
        f"{what} stopped because of an unexpected error (reference {reference}). It will try "
        f"again at {retry_at:%H:%M} UTC; if this keeps happening, contact support with the reference."
    )


def _forget_marked(database: Database, connection_id: int, lane: str = CYCLE) -> None:
    """Still holding the lease: forget the old account's state if a disconnect or reconnect
    marked it while this run ran, when the other lane is not running (a cycle waits a little
    for a fast-lane run to stop). A failure or a busy other lane leaves the mark for the next
    holder."""
    deadline = time.monotonic() + (FORGET_WAIT_SECONDS if lane == CYCLE else 0)
    try:
        while True:
            with database.transaction() as session:
                connection = session.get(Connection, connection_id)
                if connection is None or not get_settings(
                    session, connection, STATE_NAMESPACE
                ).get("forget_pending"):
                    return
                if claim_other_lane(session, connection_id, lane):
                    forget_if_pending(session, connection)
                    return
            if time.monotonic() >= deadline:
                return
            time.sleep(0.1)
    except Exception:
        log.exception("connection %s: forgetting the previous account's state failed", connection_id)


def _status(context: SyncContext) -> str:
    if context.should_stop():
        return "stopped"
    if context.sliced:
        return SLICED
    return "partial" if context.run.errors or context.paused else "finished"


def _build(database, session, connection, run, lease, max_attempts) -> SyncContext:
    plugins = get_plugins()
    mapper = plugins.mapper_for(connection.destination)
    field_mapping = get_settings(session, connection, "field_mapping")
    mapping = field_mapping.get("mapping")
    if mapping is None:
        mapping = mapper.default_mapping()
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
        mapping=mapping,
        unmapped=tuple(sorted(set(field_mapping.get("unmapped") or ()) - set(mapping.values()))),
        ledger=Ledger(
            session,
            connection.id,
            max_attempts,
            retry_base_seconds=float(
                current_app.config.get("SYNC", {}).get("retry_base_seconds", RETRY_BASE_SECONDS)
            ),
        ),
        profiles=ProfileUpdater(connection.connected_at, backfill=connection.last_sync_at is None),
        run=run,
        lease=lease,
        max_attempts=max_attempts,
        problem_areas=set(problems),
    )


@contextmanager
def writing(context: SyncContext, area: str) -> Iterator[None]:
    """Around writes to the destination for ``area``: a configuration problem (a deleted book,
    a feature switched off) pauses the area, an outage is recorded on the run; either way what
    waits (the outbox, dirty profiles, queued erasures) stays for the next run, and the block's
    work ends there (code after the ``with`` runs)."""
    context.writing = area
    try:
        yield
    except ConfigurationError as error:
        context.session.rollback()
        context.pause(area, error)
    except SyncError as error:
        context.session.rollback()
        context.run.error(area, error.message)
    finally:
        context.writing = None
