"""Each cycle as a ``SyncRun`` row: phase, heartbeat and counts while it runs, outcome after.

The row is written in its own short transactions, so the pages see progress while the cycle's
own transaction is still open, and a page that rolls back does not roll back the counts. The row
may vanish under a running cycle (its connection removed, or the account's history forgotten):
the recorder then keeps the run to itself and still answers it.
Configuration problems are kept here too: one ``ConnectionProblem`` per code, cleared when the
area it paused works again.
"""

from __future__ import annotations

import copy
import threading
from collections.abc import Callable
from typing import Any

from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session
from sqlalchemy.orm.exc import StaleDataError

from host.db import Database
from host.errors import ConfigurationError
from host.models import ConnectionProblem, SyncRun, utcnow
from host.sync.tally import RunTally

COUNTERS = ("read", "sent", "unchanged", "excluded", "failed")
# A cycle cut into slices: each slice but the last ends "sliced", and the next one, triggered
# "continued", goes on from where it stopped (``host.sync.reads``). Its records are counted as
# the cycle's: a record read by one slice and sent by another counts once over the slices.
SLICED, CONTINUED = "sliced", "continued"


def empty_counts() -> dict[str, int]:
    return dict.fromkeys(COUNTERS, 0)


class RunRecorder:
    """Counts per stream, phase and errors of one run, mirrored to its row."""

    def __init__(
        self,
        database: Database,
        connection_id: int,
        trigger: str,
        progress: Callable[[str, dict[str, int]], None] | None = None,
        counted_with: int | None = None,
    ):
        """``counted_with``: the run whose records this one counts as its own (the first slice
        of the cycle it continues, ``first_slice_id``)."""
        self.database = database
        self.connection_id = connection_id
        self.counts: dict[str, dict[str, int]] = {}
        self.errors: dict[str, str] = {}
        self.progress = progress
        self._lock = threading.Lock()  # the heartbeat thread writes the row too
        with database.transaction() as session:
            # A run of this lane left "running" by a process that died is over: say so (this
            # run holds the lane's lease; the other lane may well be running).
            same_lane = (
                SyncRun.trigger == "fast_lane" if trigger == "fast_lane" else SyncRun.trigger != "fast_lane"
            )
            session.execute(
                update(SyncRun)
                .where(SyncRun.connection_id == connection_id, SyncRun.status == "running", same_lane)
                .values(status="interrupted", finished_at=utcnow())
            )
            run = SyncRun(
                connection_id=connection_id, trigger=trigger, status="running", counts={}, errors={}
            )
            session.add(run)
        self.run_id = run.id
        # So that each stream's rows add up (``host.sync.tally``); the tally's run id also marks
        # what this run leaves in the outbox and on the profiles.
        self.tally = RunTally(self.add, counted_with or run.id)
        self._row = run  # the last state written (or kept, once the row is gone)
        self.started_at = run.started_at

    def stream(self, name: str) -> dict[str, int]:
        return self.counts.setdefault(name, empty_counts())

    def add(self, name: str, **increments: int) -> None:
        counts = self.stream(name)
        for key, value in increments.items():
            counts[key] = counts.get(key, 0) + value

    def phase(self, phase: str) -> None:
        self._write(phase=phase)

    def page_done(self, name: str) -> None:
        self._write()
        if self.progress is not None:
            self.progress(name, dict(self.stream(name)))

    def all_done(self) -> None:
        """Like ``page_done`` for every stream: a phase that counts under several of them."""
        self._write()
        if self.progress is not None:
            for name, counts in list(self.counts.items()):
                self.progress(name, dict(counts))

    def error(self, area: str, message: str) -> None:
        self.errors[area] = message
        self._write()

    def beat(self) -> None:
        self._write()

    def finish(self, status: str) -> SyncRun:
        return self._write(status=status, phase=None, finished_at=utcnow())

    def row(self) -> SyncRun:
        with self.database.transaction() as session:
            return session.get(SyncRun, self.run_id) or self._row

    def _write(self, **values: Any) -> SyncRun:
        with self._lock:
            try:
                with self.database.transaction() as session:
                    run = session.get(SyncRun, self.run_id)
                    if run is not None:
                        self._fill(run, values)
                if run is not None:
                    self._row = run
                    return run
            except StaleDataError:  # deleted while this update waited for it
                pass
            return self._fill(self._row, values)  # gone: answered, written nowhere

    def _fill(self, run: SyncRun, values: dict[str, Any]) -> SyncRun:
        run.counts = copy.deepcopy(self.counts)
        run.errors = dict(self.errors)
        run.heartbeat_at = utcnow()
        for key, value in values.items():
            setattr(run, key, value)
        return run


def record_problem(
    database: Database, connection_id: int, area: str, error: ConfigurationError
) -> None:
    """Show ``error`` on the Store tab until ``area`` works again (one row per code)."""
    with database.transaction() as session:
        row = session.scalar(
            select(ConnectionProblem).where(
                ConnectionProblem.connection_id == connection_id,
                ConnectionProblem.code == error.code,
            )
        )
        if row is None:
            row = ConnectionProblem(connection_id=connection_id, code=error.code)
            session.add(row)
        row.area, row.message = area, error.message


def clear_problems(database: Database, connection_id: int, area: str) -> None:
    with database.transaction() as session:
        session.execute(
            delete(ConnectionProblem).where(
                ConnectionProblem.connection_id == connection_id, ConnectionProblem.area == area
            )
        )


# The runs a cycle cut into slices leaves before its last: slices that ended at their deadline,
# and slices whose process died (marked "interrupted" by the next, or still "running" until then).
SLICE_STATUSES = (SLICED, "interrupted", "running")


def earlier_slices(session: Session, connection_id: int, before_id: int | None = None) -> list[SyncRun]:
    """The slices of the cycle that a "continued" run (``before_id``, or one starting now) goes
    on with, oldest first: back to the slice that began the cycle (the one not "continued")."""
    query = select(SyncRun).where(SyncRun.connection_id == connection_id, SyncRun.trigger != "fast_lane")
    if before_id is not None:
        query = query.where(SyncRun.id < before_id)
    slices = []
    for run in session.scalars(query.order_by(SyncRun.id.desc())):
        if run.status not in SLICE_STATUSES:
            break
        slices.append(run)
        if run.trigger != CONTINUED:
            break  # the slice that began it
    return slices[::-1]


def first_slice_id(session: Session, connection_id: int) -> int | None:
    """The run that began the cycle a "continued" slice starting now goes on with (None when
    the last cycle run was not a slice)."""
    slices = earlier_slices(session, connection_id)
    return slices[0].id if slices else None


def cycle_of(session: Session, run: SyncRun) -> list[SyncRun]:
    """``run`` and the slices of its cycle before it, oldest first."""
    if run.trigger != CONTINUED:
        return [run]
    return [*earlier_slices(session, run.connection_id, run.id), run]


def added_counts(counts: list[dict[str, Any]]) -> dict[str, Any]:
    """Several runs' counts as one (the slices of one cycle): numbers add up, level by level."""
    total: dict[str, Any] = {}
    for values in counts:
        for key, value in (values or {}).items():
            if isinstance(value, dict):
                total[key] = added_counts([total.get(key) or {}, value])
            elif isinstance(value, int | float) and isinstance(total.get(key, 0), int | float):
                total[key] = total.get(key, 0) + value
            else:
                total[key] = value
    return total
