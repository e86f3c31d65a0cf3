"""The ``celery`` executor: sync work as Celery tasks, run by ``flask --app host worker``.

The scheduler decides when and enqueues (``CeleryExecutor``); workers on any machines run the
very functions the local executor runs, on the shared database. A cycle task works at most
``[sync] slice_seconds`` (60): it stops at the next page or batch boundary, and its next slice
is enqueued at once, behind the tasks already waiting, so a store with a million customers
takes turns with a hundred small ones instead of holding a worker for hours. Two rules keep a duplicate
task harmless, so the scheduler may enqueue again whenever it cannot tell a task's fate:

- The cycle's lease (``host.sync.lock``): a cycle task for a connection whose cycle runs
  elsewhere does nothing (that cycle plans the next one as it ends). A worker that dies
  mid-cycle stops renewing it; once it expired, the next task resumes from the ledger and
  the cursors.
- A cycle task carries when it was enqueued: if a cycle of the connection ended since and no
  "Sync now" waits, the task was answered already and does nothing.

When a cycle job falls due the scheduler sets it again a lease's length ahead (``[sync]
lock_seconds``) before enqueueing: the worker's cycle replaces it with the next cycle's time
as it ends; if the task was lost with its worker, the job enqueues it again (not while the
task still waits in the queue behind others: its result says it was not started). A fast-lane task
is enqueued when the connection has none waiting or running (its result says which).

The Celery application itself is in ``celery_app``; ``/healthz``'s view of the queues in ``queues``.
"""

from __future__ import annotations

import logging
import threading
import time
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from flask import Flask, current_app

from host.db import get_db
from host.executors import run_cycle_and_plan, run_fast_lane_logged
from host.executors.celery_app import (
    CYCLE_QUEUE,
    CYCLE_TASK,
    FAST_LANE_QUEUE,
    FAST_LANE_TASK,
    get_celery,
)
from host.executors.queues import queue_status
from host.models import Connection, utcnow
from host.sync import connections_with_events
from host.sync.lock import CYCLE, lane_busy

if TYPE_CHECKING:
    from host.scheduler import HostScheduler

log = logging.getLogger(__name__)
LOST_AFTER = timedelta(hours=1)
DEFAULT_SLICE_SECONDS = 60.0


# ----------------------------------------------------------------------------- worker side


def cycle_task(connection_id: int, trigger: str, enqueued_at: str) -> str:
    """Run the connection's cycle, as the local executor would; answer what happened."""
    if answered_since(connection_id, datetime.fromisoformat(enqueued_at)):
        return "answered"
    ran = run_cycle_and_plan(connection_id, trigger, _planner().plan_next, slice_seconds())
    return "ran" if ran else "busy"


def slice_seconds() -> float | None:
    """How long one task works on a cycle before it re-enqueues the rest (``[sync]
    slice_seconds``, 60; 0: a whole cycle a task)."""
    return float(current_app.config.get("SYNC", {}).get("slice_seconds", DEFAULT_SLICE_SECONDS)) or None


def fast_lane_task(connection_id: int) -> str:
    if connection_id not in connections_with_events():
        return "nothing"  # a run before this one took the events
    run_fast_lane_logged(connection_id)
    return "ran"


def answered_since(connection_id: int, enqueued_at: datetime) -> bool:
    """Whether a cycle of the connection ended after ``enqueued_at`` and no "Sync now" waits
    (or the connection is gone): a task enqueued then has nothing left to do."""
    state = _planner().last_ended(connection_id)
    if state is None:
        return True
    return not state.requested and state.last is not None and state.last >= enqueued_at


def _planner() -> HostScheduler:
    """This worker process's hand on the stored schedule: a scheduler that never runs jobs
    (paused), only plans each next cycle in the shared job store."""
    from host.scheduler import EXTENSION as SCHEDULER
    from host.scheduler import HostScheduler

    app = current_app._get_current_object()
    planner = app.extensions.get(SCHEDULER)
    if planner is None:
        planner = HostScheduler(app)
        planner.start_planner()
    return planner


# -------------------------------------------------------------------------- scheduler side


class CeleryExecutor:
    """Enqueues; never runs sync work in the scheduler's process."""

    name = "celery"

    def __init__(self, app: Flask, scheduler: HostScheduler):
        self.app = app
        self.scheduler = scheduler
        self.celery = get_celery(app)
        self.recheck = timedelta(seconds=float(app.config.get("SYNC", {}).get("lock_seconds", 120)))
        # connection → (task id, sent at), of the last task sent (forgotten on a restart: then
        # one more is sent, which does nothing if the first already ran). Ids, not results:
        # a result object holds a subscription to the result store until it is collected.
        self._cycles: dict[int, tuple[str, float]] = {}
        self._fast_lane: dict[int, tuple[str, float]] = {}
        self._guard = threading.Lock()  # the fast-lane thread and the jobs both send

    def cycle(self, connection_id: int, trigger: str) -> None:
        with get_db().transaction() as session:
            connection = session.get(Connection, connection_id)
            if connection is None or not connection.sync_enabled or connection.destination is None:
                return  # the tick gives it a job again once it may sync
        state = self.scheduler.last_ended(connection_id)
        if state is None:
            return
        requested, last, sliced = state
        trigger = "manual" if requested else trigger
        now = utcnow()
        if not (requested or sliced) and last is not None and last + self.scheduler.interval > now:
            # A cycle ended since this job was set (a worker's plan raced this job): keep the rule.
            self.scheduler.set_job(connection_id, last + self.scheduler.interval, "scheduled")
            return
        # First the job again, a lease's length ahead: the worker's cycle replaces it with the
        # next cycle's time as it ends; if the task is lost with its worker, this sends it again.
        self.scheduler.set_job(connection_id, now + self.recheck, trigger)
        if self.scheduler.last_ended(connection_id) != state:
            # A cycle (or slice) ended while this job was being set; its worker's plan may have
            # been written before this job and so overwritten: plan again from what ended.
            self.scheduler.plan_next(connection_id)
            return
        with get_db().transaction() as session:
            if lane_busy(session, connection_id, CYCLE):
                return  # it runs on a worker now
        with self._guard:
            if self._still_queued(self._cycles.get(connection_id)):
                return  # sending it again would only queue a duplicate behind it
            task_id = self._send(CYCLE_TASK, CYCLE_QUEUE, [connection_id, trigger, now.isoformat()])
            if task_id is not None:
                self._cycles[connection_id] = (task_id, time.monotonic())

    def fast_lane(self, connection_id: int) -> None:
        with self._guard:
            sent = self._fast_lane.get(connection_id)
            if sent is not None and not self._finished(sent[0]) and time.monotonic() - sent[1] < self.recheck.total_seconds():
                return  # one is waiting or running: a waiting one takes the new events too
            task_id = self._send(FAST_LANE_TASK, FAST_LANE_QUEUE, [connection_id])
            if task_id is not None:
                self._fast_lane[connection_id] = (task_id, time.monotonic())

    def _send(self, task: str, queue: str, args: list) -> str | None:
        try:
            return self.celery.send_task(
                task, args=args, queue=queue, headers={"enqueued_at": time.time()}
            ).id
        except Exception as error:  # the broker is away: the next tick or job sends again
            log.error("could not enqueue %s%s: %s", task, args, error)
            return None

    def _still_queued(self, sent: tuple[str, float] | None) -> bool:
        """Whether a cycle task sent earlier still waits in the queue: no worker started it (a
        started one whose worker died must be sent again), and it was sent less than
        ``LOST_AFTER`` ago (a broker that lost its messages is not waited for longer)."""
        if sent is None or time.monotonic() - sent[1] > LOST_AFTER.total_seconds():
            return False
        try:
            return self.celery.AsyncResult(sent[0]).state == "PENDING"
        except Exception:  # the result store is away: send again, a duplicate does nothing
            return False

    def _finished(self, task_id: str) -> bool:
        try:
            return bool(self.celery.AsyncResult(task_id).ready())
        except Exception:  # the result store is away: do not hold the connection's events back
            return True

    def status(self) -> dict[str, Any]:
        return {"name": self.name, **queue_status(self.app)}

    def purge(self) -> None:
        """Task states older than an hour (Redis expires its own; the database keeps them)."""
        try:
            self.celery.backend.cleanup()
        except Exception as error:  # the next hour tries again
            log.warning("could not forget old task states: %s", error)
