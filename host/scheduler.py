"""When cycles run: APScheduler 3, with its jobs kept in the host's own database.

Each connection has one job, ``cycle:<id>``, a one-off run date: when a cycle finishes, the job
is set again for ``[sync] interval_seconds`` later (five minutes after the last one finished, not
on a fixed clock; a failed or stopped one too, as the Store tab then promises). A cycle cut into
slices (the ``celery`` executor's ``[sync] slice_seconds``) has its next slice set at once: it
queues behind the work already due, so one big store never holds the others back. A ``tick`` job
every ``[sync] fast_lane_seconds`` answers "Sync now" requests, gives a job back to any
connection without one (a new connection, a job lost to a crash), runs the fast lane for
enrolments that fell due and purges old inbox events. Because the jobs live in the database, a
restart resumes the schedule; late jobs run at once.

The fast lane has its own thread (not a stored job: nothing is written while the inbox is
empty): it looks at the inbox every ``[sync] fast_lane_poll_seconds`` (0.2 s, a cheap indexed
query, so a receiver in another process is heard within that) and at once when the receiver of
this process stored an event (``host.inbox.wake_fast_lane``). Its runs take the fast-lane lease,
never the cycle's, so they go on while a cycle (a backfill) runs (``host.sync.fast_lane``).

Where the work runs is the executor's business (``[host] executor``, ``host.executors``): here,
in this process (``local``), or as Celery tasks for ``flask --app host worker`` processes on any
machines (``celery``), the scheduler then only deciding when and enqueueing.

One scheduler per deployment: inside the web process under ``make run`` (``[scheduler] enabled``)
or alone with ``flask --app host scheduler`` in production. Even if two ran by mistake, the
connection lease keeps cycles of one connection from overlapping.
"""

from __future__ import annotations

import logging
import threading
from datetime import datetime, timedelta
from typing import Any, NamedTuple

import click
from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore
from apscheduler.schedulers.background import BackgroundScheduler
from flask import Flask, current_app
from sqlalchemy import select
from werkzeug.serving import is_running_from_reloader

from host.db import get_db
from host.executors import log_failure, make_executor
from host.inbox import fast_lane_wakeup
from host.models import Connection, SyncRun, utcnow
from host.sync import connections_with_events, purge_processed_events
from host.sync.runs import CONTINUED, SLICED

log = logging.getLogger(__name__)
EXTENSION = "host.scheduler"
TICK_JOB = "host:tick"
PURGE_EVERY = timedelta(hours=1)  # forgetting old inbox events is housekeeping, not urgent
_app: Flask | None = None  # the app whose jobs run in this process (jobs are stored by name)


class CycleState(NamedTuple):
    requested: bool  # "Sync now" waits
    last: datetime | None  # when the last cycle, or slice of one, ended
    sliced: bool  # that was a slice: the cycle goes on in the next one


def cycle_job_id(connection_id: int) -> str:
    return f"cycle:{connection_id}"


def run_cycle_job(connection_id: int, trigger: str = "scheduled") -> None:
    """A stored job: the connection's cycle is due. The executor runs it and plans the next
    one (``local``), or enqueues it for a worker (``celery``, ``host.executors``)."""
    with _app.app_context():
        current_app.extensions[EXTENSION].executor.cycle(connection_id, trigger)


def tick_job() -> None:
    """A stored job: fast lane, "Sync now" requests, and a job for every connection."""
    with _app.app_context():
        current_app.extensions[EXTENSION].tick()


def request_sync(connection_id: int) -> None:
    """ "Sync now": a cycle starts at once, or right after the running one finishes."""
    with get_db().transaction() as session:
        session.get(Connection, connection_id).sync_requested_at = utcnow()
    scheduler = current_app.extensions.get(EXTENSION)
    if scheduler is not None and scheduler.running:
        scheduler.tick_connection(connection_id)  # else the scheduler's next tick answers it


class HostScheduler:
    def __init__(self, app: Flask):
        self.app = app
        config = app.config.get("SYNC", {})
        self.interval = timedelta(seconds=float(config.get("interval_seconds", 300)))
        self.tick_seconds = float(config.get("fast_lane_seconds", 5))
        # 0: no fast-lane thread (the tick still runs the fast lane every ``fast_lane_seconds``)
        self.poll_seconds = float(config.get("fast_lane_poll_seconds", 0.2))
        self.last_tick_at: datetime | None = None
        self.last_poll_at: datetime | None = None
        self._stop = threading.Event()
        self._poller: threading.Thread | None = None
        self.last_purge_at: datetime | None = None
        with app.app_context():
            engine = get_db().engine
        self.scheduler = BackgroundScheduler(
            jobstores={"default": SQLAlchemyJobStore(engine=engine)},
            job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": None},
            timezone="UTC",
        )
        self.executor = make_executor(app, self)  # where cycles and fast-lane runs go
        app.extensions[EXTENSION] = self

    @property
    def running(self) -> bool:
        return self.scheduler.running

    def start(self, *, paused: bool = False) -> None:
        global _app
        _app = self.app
        self.scheduler.start(paused=paused)
        self.scheduler.add_job(
            "host.scheduler:tick_job",
            "interval",
            seconds=self.tick_seconds,
            id=TICK_JOB,
            replace_existing=True,
        )
        if not paused:
            self.start_fast_lane()

    def start_planner(self) -> None:
        """Only plan (a ``celery`` worker): write each next cycle into the stored schedule,
        run no job (the scheduler process runs them)."""
        try:
            self.scheduler.start(paused=True)
        except Exception:  # another worker created the job table on a fresh database just now
            self.scheduler.start(paused=True)

    def start_fast_lane(self) -> None:
        """The fast lane's own thread (``poll``); started by ``start`` unless paused."""
        if self.poll_seconds <= 0 or (self._poller is not None and self._poller.is_alive()):
            return
        self._stop.clear()
        self._poller = threading.Thread(target=self._poll_loop, name="fast-lane", daemon=True)
        self._poller.start()

    def shutdown(self) -> None:
        self._stop.set()
        fast_lane_wakeup.set()
        if self._poller is not None:
            self._poller.join(timeout=10)
        if self.scheduler.running:
            self.scheduler.shutdown(wait=False)

    def _poll_loop(self) -> None:
        while not self._stop.is_set():
            fast_lane_wakeup.wait(max(self.poll_seconds, 0.02))
            fast_lane_wakeup.clear()  # an event stored from here on wakes the next round
            if self._stop.is_set() or not self.scheduler.running:
                return  # shut down (also when only the job scheduler was)
            try:
                with self.app.app_context():
                    self.poll()
            except Exception as error:  # a database hiccup: the next round tries again
                log_failure(error, "the fast lane's look at the inbox failed")
                self._stop.wait(self.poll_seconds * 5)

    def poll(self) -> None:
        """Run the fast lane for every connection with events waiting (no enrolment work: the
        tick looks for that, less often)."""
        self.last_poll_at = utcnow()
        for connection_id in connections_with_events(enrolments=False):
            if self._stop.is_set():
                return
            self.executor.fast_lane(connection_id)

    def plan_next(self, connection_id: int) -> None:
        """After a cycle: the next one after the interval, now if "Sync now" came meanwhile,
        or the cycle's next slice at once (behind the work already due)."""
        state = self.last_ended(connection_id)
        if state is None:
            return
        if state.requested:
            self.set_job(connection_id, utcnow(), "manual")
        elif state.sliced:
            self.set_job(connection_id, utcnow(), CONTINUED)
        else:
            finished = state.last or utcnow()
            self.set_job(connection_id, max(finished + self.interval, utcnow()), "scheduled")

    def last_ended(self, connection_id: int) -> CycleState | None:
        """Whether "Sync now" waits, when the last cycle (or slice of one) ended, and whether
        that was a slice the cycle goes on from; None when the connection is gone."""
        with get_db().transaction() as session:
            connection = session.get(Connection, connection_id)
            if connection is None:
                return None
            latest = session.execute(
                select(SyncRun.status, SyncRun.finished_at)
                .where(
                    SyncRun.connection_id == connection_id,
                    SyncRun.trigger != "fast_lane",
                    SyncRun.finished_at.is_not(None),
                )
                .order_by(SyncRun.finished_at.desc())
                .limit(1)
            ).first()
            ended = latest.finished_at if latest else None
            last = max((moment for moment in (connection.last_sync_at, ended) if moment), default=None)
            return CycleState(
                requested=connection.sync_requested_at is not None,
                last=last,
                sliced=latest is not None and latest.status == SLICED,
            )

    def tick(self) -> None:
        self.last_tick_at = utcnow()
        with get_db().transaction() as session:
            ids = session.scalars(
                select(Connection.id).where(
                    Connection.sync_enabled.is_(True), Connection.destination.is_not(None)
                )
            ).all()
        for connection_id in ids:
            self.tick_connection(connection_id)
        for connection_id in connections_with_events():  # enrolments due too
            self.executor.fast_lane(connection_id)
        if self.last_purge_at is None or self.last_tick_at - self.last_purge_at >= PURGE_EVERY:
            purge_processed_events()
            self.executor.purge()
            self.last_purge_at = self.last_tick_at

    def tick_connection(self, connection_id: int) -> None:
        with get_db().transaction() as session:
            connection = session.get(Connection, connection_id)
            now = utcnow()
            if connection is None:
                return  # removed meanwhile
            if connection.lock_expires_at is not None and connection.lock_expires_at > now:
                return  # a cycle is running: it plans the next one (a request included) when done
            requested, last_sync_at = connection.sync_requested_at, connection.last_sync_at
        if requested is not None:
            self.set_job(connection_id, now, "manual")
        elif self.scheduler.get_job(cycle_job_id(connection_id)) is None:
            state = self.last_ended(connection_id)
            if state is not None and state.sliced:  # its next slice's job was lost: at once
                self.set_job(connection_id, now, CONTINUED)
            else:
                self.set_job(
                    connection_id, max(now, last_sync_at + self.interval) if last_sync_at else now
                )

    def set_job(self, connection_id: int, when: datetime, trigger: str = "scheduled") -> None:
        self.scheduler.add_job(
            "host.scheduler:run_cycle_job",
            "date",
            run_date=when,
            args=[connection_id, trigger],
            id=cycle_job_id(connection_id),
            replace_existing=True,
        )

    def next_cycle_at(self, connection_id: int) -> datetime | None:
        job = self.scheduler.get_job(cycle_job_id(connection_id))
        return job.next_run_time if job is not None else None

    def status(self) -> dict[str, Any]:
        jobs = self.scheduler.get_jobs() if self.running else []
        cycles = [job for job in jobs if job.id.startswith("cycle:")]
        upcoming = min((job.next_run_time for job in cycles if job.next_run_time), default=None)
        return {
            "status": "running" if self.running else "stopped",
            "connections_scheduled": len(cycles),
            "next_cycle_at": upcoming.isoformat() if upcoming else None,
            "last_tick_at": self.last_tick_at.isoformat() if self.last_tick_at else None,
            "last_fast_lane_poll_at": self.last_poll_at.isoformat() if self.last_poll_at else None,
        }


def _runs_here(app: Flask) -> bool:
    """Only ``flask run`` (the development web process of ``make run``) starts the scheduler:
    other ``flask`` commands, scripts and WSGI servers do not (production runs
    ``flask --app host scheduler`` beside them), nor does the watching parent of ``--reload``."""
    if not app.config.get("SCHEDULER", {}).get("enabled") or app.config.get("TESTING"):
        return False
    context = click.get_current_context(silent=True)
    if context is None or context.info_name != "run":
        return False
    return not context.params.get("reload") or is_running_from_reloader()


def init_app(app: Flask) -> None:
    if _runs_here(app):
        import atexit

        scheduler = HostScheduler(app)
        scheduler.start()
        atexit.register(scheduler.shutdown)
