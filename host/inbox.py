"""Writing webhook events into the inbox: one writer per process, many events per transaction.

A burst of deliveries is many tiny writes. Written by each request in its own transaction they
queue for the database's write lock (SQLite has one writer at a time) and for connections from
the pool. Here each request hands its event to the process's writer thread and waits until it
is committed; the writer takes whatever events are waiting, writes them in one transaction and
wakes their requests. A request still answers only once its event is stored, a request holds
no database connection while it waits, and the whole process writes through one connection.

If a batch fails, its events are written one by one, so one bad event fails alone. Once a
batch is committed, the fast lane of this process (when the scheduler runs here) is woken at
once (``fast_lane_wakeup``); a scheduler in another process finds the events at its next look
at the inbox (``[sync] fast_lane_poll_seconds``).
"""

from __future__ import annotations

import logging
import os
import queue
import threading
import time
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection
from sqlalchemy.exc import IntegrityError

from host.db import Database
from host.models import WebhookEvent, utcnow

log = logging.getLogger(__name__)
MAX_BATCH = 500
WAIT_SECONDS = 10.0  # a request waits this long for its event to be committed
INBOX = WebhookEvent.__table__
SLOW_WRITE_SECONDS = 1.0
# Set when events were stored: the scheduler's fast-lane thread of this process waits on it.
fast_lane_wakeup = threading.Event()


class InboxUnavailable(RuntimeError):
    """The event could not be stored (now): the sender should deliver it again later."""


def upsert_event(connection: Connection, values: dict[str, Any]) -> None:
    """Keep one inbox row per event; an event seen again after its row was processed queues it again.

    A source's redelivery of an event and a second change to the same record within the same
    second may look alike (BigCommerce: same ``hash``, same ``created_at``). Dropping the later
    one would lose the second change until the next cycle, so a repeat clears ``processed_at``
    (and any refusal's back-off) and moves ``received_at`` on: the fast lane marks processed
    only what it received before it read.
    """
    requeue = {
        "processed_at": None,
        "received_at": utcnow(),
        "payload": values.get("payload") or {},
        "attempts": 0,
        "next_attempt_at": None,
        "failed_reason": None,
    }
    dialect = connection.dialect.name
    if dialect in ("postgresql", "sqlite"):
        insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
        statement = insert(INBOX).values(**values)
        connection.execute(
            statement.on_conflict_do_update(
                index_elements=["connection_id", "dedupe_key"], set_=requeue
            )
        )
        return
    try:
        with connection.begin_nested():
            connection.execute(INBOX.insert().values(**values))
    except IntegrityError:
        connection.execute(
            INBOX.update()
            .where(
                INBOX.c.connection_id == values["connection_id"],
                INBOX.c.dedupe_key == values["dedupe_key"],
            )
            .values(**requeue)
        )


def upsert_events(connection: Connection, rows: list[dict[str, Any]]) -> None:
    """``upsert_event`` for many rows: one statement executed for all of them where the database
    allows it (an event delivered twice in the batch is written once, as its last delivery)."""
    if connection.dialect.name not in ("postgresql", "sqlite"):
        for values in rows:
            upsert_event(connection, values)
        return
    unique = list({(row["connection_id"], row["dedupe_key"]): row for row in rows}.values())
    insert = postgresql.insert if connection.dialect.name == "postgresql" else sqlite.insert
    statement = insert(INBOX)
    connection.execute(
        statement.on_conflict_do_update(
            index_elements=["connection_id", "dedupe_key"],
            set_={
                "processed_at": None,
                "received_at": utcnow(),
                "payload": statement.excluded.payload,
                "attempts": 0,
                "next_attempt_at": None,
                "failed_reason": None,
            },
        ),
        unique,
    )


@dataclass
class _Pending:
    values: dict[str, Any]
    done: threading.Event = field(default_factory=threading.Event)
    error: BaseException | None = None


class InboxWriter:
    """The process's inbox writer (started on first use, again after a fork)."""

    def __init__(self, database: Database, max_batch: int = MAX_BATCH):
        self.database = database
        self.max_batch = max_batch
        self._lock = threading.Lock()
        self._pid: int | None = None
        self._queue: queue.SimpleQueue[_Pending] = queue.SimpleQueue()

    def store(self, values: dict[str, Any], timeout: float = WAIT_SECONDS) -> None:
        """Store one event and return once it is committed; ``InboxUnavailable`` otherwise."""
        pending = _Pending(values)
        self._started().put(pending)
        if not pending.done.wait(timeout):
            raise InboxUnavailable("the inbox did not take the event in time")
        if pending.error is not None:
            raise InboxUnavailable(str(pending.error)) from pending.error

    def _started(self) -> queue.SimpleQueue[_Pending]:
        if self._pid != os.getpid():
            with self._lock:
                if self._pid != os.getpid():  # a forked worker starts its own writer
                    self._queue = queue.SimpleQueue()
                    thread = threading.Thread(
                        target=self._run, args=(self._queue,), name="inbox-writer", daemon=True
                    )
                    thread.start()
                    self._pid = os.getpid()
        return self._queue

    def _run(self, waiting: queue.SimpleQueue[_Pending]) -> None:
        while True:
            batch = [waiting.get()]
            while len(batch) < self.max_batch:
                try:
                    batch.append(waiting.get_nowait())
                except queue.Empty:
                    break
            try:
                self._write(batch)
            except BaseException as error:  # never leave a request waiting for its timeout
                log.exception("the inbox writer failed")
                for pending in batch:
                    if not pending.done.is_set():
                        pending.error = error
                        pending.done.set()

    def _write(self, batch: list[_Pending]) -> None:
        started = time.monotonic()
        try:
            with self.database.engine.begin() as connection:
                if len(batch) == 1:
                    upsert_event(connection, batch[0].values)
                else:
                    upsert_events(connection, [pending.values for pending in batch])
        except Exception as error:
            if len(batch) == 1:
                log.warning("an event could not be stored in the inbox: %s", error)
                batch[0].error = error
                batch[0].done.set()
                return
            for pending in batch:  # one bad event (its connection just removed) fails alone
                self._write([pending])
            return
        for pending in batch:
            pending.done.set()
        fast_lane_wakeup.set()
        took = time.monotonic() - started
        if took > SLOW_WRITE_SECONDS:  # the database was held by another writer meanwhile
            log.warning("the inbox took %.1f s to store %s events", took, len(batch))


def inbox_writer(app) -> InboxWriter:
    """The app's writer (one per app, so each test app writes to its own database)."""
    writer = app.extensions.get("host.inbox")
    if writer is None:
        writer = app.extensions.setdefault("host.inbox", InboxWriter(app.extensions["host.db"]))
    return writer
