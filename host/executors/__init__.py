"""Where sync work runs: the executor the scheduler hands cycles and fast-lane runs to.

``[host] executor`` chooses it:

- ``local`` (the default): in the scheduler's own process, as always; nothing to install or
  start. A cycle's job runs the cycle, then plans the next one; the fast lane runs in the
  scheduler's threads.
- ``celery``: each cycle and each fast-lane run (the webhook events and the enrolments that
  fell due) is a Celery task on ``[host] broker_url`` (Redis or RabbitMQ), run by any number of
  ``flask --app host worker`` processes sharing one database (PostgreSQL). The scheduler only
  decides when, and enqueues (``host.executors.celery_tasks``).

Both run the same functions (``run_cycle_and_plan``, ``run_fast_lane``); the database leases
(``host.sync.lock``) keep two cycles of one connection from ever overlapping, whichever process
or machine runs them. Celery is imported only when the executor is ``celery``.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Protocol

from flask import Flask

from host.config import ConfigError
from host.incidents import log_unexpected
from host.sync import run_cycle, run_fast_lane

if TYPE_CHECKING:
    from host.scheduler import HostScheduler

log = logging.getLogger(__name__)
EXECUTORS = ("local", "celery")


class Executor(Protocol):
    """What the scheduler asks of an executor."""

    name: str

    def cycle(self, connection_id: int, trigger: str) -> None:
        """A connection's cycle is due: run it (and plan the next), or enqueue it."""

    def fast_lane(self, connection_id: int) -> None:
        """The connection has webhook events or enrolments waiting: run or enqueue a fast-lane run."""

    def status(self) -> dict[str, Any]:
        """For ``/healthz``: the executor's name, and for a queue its depth and oldest wait."""

    def purge(self) -> None:
        """Hourly housekeeping: forget what the executor keeps of finished work."""


def executor_name(app: Flask) -> str:
    name = str(app.config.get("HOST", {}).get("executor", "local") or "local").lower()
    if name not in EXECUTORS:
        raise ConfigError(f"[host] executor is {name!r}: it must be one of {', '.join(EXECUTORS)}")
    return name


def log_failure(error: Exception, what: str, *args: object) -> None:
    """A job failed: the sync logged the traceback under a reference already, or this logs it."""
    reference = getattr(error, "reference", None)
    if reference:
        log.error(f"{what} (reference %s, traceback above)", *args, reference)
    else:
        log_unexpected(log, error, what, *args)


def run_cycle_and_plan(
    connection_id: int,
    trigger: str,
    plan_next: Callable[[int], None],
    slice_seconds: float | None = None,
) -> bool:
    """Run the connection's cycle (or a slice of it, ``run_cycle``), then plan the next one;
    answer whether it ran (False: another cycle holds the connection, and that one plans the
    next itself; or sync is off)."""
    try:
        started = run_cycle(connection_id, trigger=trigger, slice_seconds=slice_seconds) is not None
    except Exception as error:
        log_failure(error, "cycle of connection %s failed", connection_id)
        started = True  # it ran and failed: the next one comes after the interval as usual
    if started:
        plan_next(connection_id)
    return started


def run_fast_lane_logged(connection_id: int) -> None:
    try:
        run_fast_lane(connection_id)
    except Exception as error:
        log_failure(error, "fast lane of connection %s failed", connection_id)


class LocalExecutor:
    """In this process, at once: the behaviour of a host without workers."""

    name = "local"

    def __init__(self, scheduler: HostScheduler):
        self.scheduler = scheduler

    def cycle(self, connection_id: int, trigger: str) -> None:
        run_cycle_and_plan(connection_id, trigger, self.scheduler.plan_next)

    def fast_lane(self, connection_id: int) -> None:
        run_fast_lane_logged(connection_id)

    def status(self) -> dict[str, Any]:
        return {"name": self.name}

    def purge(self) -> None:
        pass  # it keeps nothing


def make_executor(app: Flask, scheduler: HostScheduler) -> Executor:
    if executor_name(app) == "celery":
        from host.executors.celery_tasks import CeleryExecutor

        return CeleryExecutor(app, scheduler)
    return LocalExecutor(scheduler)


def executor_status(app: Flask) -> dict[str, Any]:
    """``/healthz``'s view of the executor, from any process (the web app too)."""
    try:
        name = executor_name(app)
    except ConfigError as error:
        return {"name": "unknown", "status": "error", "error": str(error)}
    if name == "celery":
        from host.executors.queues import queue_status

        return {"name": name, **queue_status(app)}
    return {"name": name}
