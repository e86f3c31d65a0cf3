"""A lease on the connection row: never two cycles of one connection at once, across processes.

Taking the lease is one conditional UPDATE (free, expired, or already ours), which both SQLite
and PostgreSQL apply atomically. A heartbeat thread renews it while the cycle runs, so a crashed
process's lease simply expires. A lease held by a process of this machine that no longer
exists is taken over at once, so a restart after a crash need not wait for the expiry.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import uuid
from collections.abc import Callable
from datetime import timedelta

from sqlalchemy import or_, select, update
from sqlalchemy.orm import Session

from host.db import Database
from host.models import Connection, utcnow

log = logging.getLogger(__name__)
HOSTNAME = socket.gethostname()


def _process_gone(owner: str | None) -> bool:
    """Whether ``owner`` names a process on this machine that has exited."""
    if not owner:
        return False
    host, _, rest = owner.partition(":")
    pid = rest.partition(":")[0]
    if host != HOSTNAME or not pid.isdigit():
        return False
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    return False


def claim_if_free(session: Session, connection_id: int) -> bool:
    """In the caller's transaction: whether no cycle holds the connection. When none does, the
    lease is left free but the row is written, so no cycle can take it until that transaction
    ends (PostgreSQL's row lock, SQLite's single writer): work that must never run beside a
    cycle (forgetting an account's state) can run in it. An expired or orphaned lease is cleared."""
    now = utcnow()
    holder = session.scalar(select(Connection.lock_owner).where(Connection.id == connection_id))
    free = [Connection.lock_owner.is_(None), Connection.lock_expires_at < now]
    if _process_gone(holder):
        free.append(Connection.lock_owner == holder)
    claimed = session.execute(
        update(Connection)
        .where(Connection.id == connection_id, or_(*free))
        .values(lock_owner=None, lock_expires_at=None)
        .execution_options(synchronize_session=False)
    ).rowcount
    return bool(claimed)


class Lease:
    """``with Lease(...) as lease:`` holds the connection's lock; ``lease.held`` says it still does."""

    def __init__(
        self,
        database: Database,
        connection_id: int,
        *,
        seconds: float = 120,
        on_beat: Callable[[], None] | None = None,
    ):
        self.database = database
        self.connection_id = connection_id
        self.duration = timedelta(seconds=seconds)
        self.owner = f"{HOSTNAME}:{os.getpid()}:{uuid.uuid4().hex[:12]}"
        self.on_beat = on_beat
        self.held = False
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def acquire(self) -> bool:
        now = utcnow()
        with self.database.transaction() as session:
            taken = session.execute(
                update(Connection)
                .where(
                    Connection.id == self.connection_id,
                    or_(
                        Connection.lock_owner.is_(None),
                        Connection.lock_expires_at < now,
                        Connection.lock_owner == self.owner,
                    ),
                )
                .values(lock_owner=self.owner, lock_expires_at=now + self.duration)
            ).rowcount
            if not taken:
                holder = session.scalar(
                    select(Connection.lock_owner).where(Connection.id == self.connection_id)
                )
                if _process_gone(holder):
                    taken = session.execute(
                        update(Connection)
                        .where(Connection.id == self.connection_id, Connection.lock_owner == holder)
                        .values(lock_owner=self.owner, lock_expires_at=now + self.duration)
                    ).rowcount
        self.held = bool(taken)
        return self.held

    def renew(self) -> bool:
        """Push the expiry forward; False (and ``held`` False) when the lease was lost."""
        now = utcnow()
        with self.database.transaction() as session:
            renewed = session.execute(
                update(Connection)
                .where(Connection.id == self.connection_id, Connection.lock_owner == self.owner)
                .values(lock_expires_at=now + self.duration)
            ).rowcount
        self.held = bool(renewed)
        return self.held

    def release(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=10)
        with self.database.transaction() as session:
            session.execute(
                update(Connection)
                .where(Connection.id == self.connection_id, Connection.lock_owner == self.owner)
                .values(lock_owner=None, lock_expires_at=None)
            )
        self.held = False

    def start_heartbeat(self) -> None:
        self._thread = threading.Thread(
            target=self._beat, name=f"lease-{self.connection_id}", daemon=True
        )
        self._thread.start()

    def _beat(self) -> None:
        interval = self.duration.total_seconds() / 4
        while not self._stop.wait(interval):
            try:
                if not self.renew():
                    log.warning("sync lease of connection %s was lost", self.connection_id)
                    return
                if self.on_beat is not None:
                    self.on_beat()
            except Exception:  # a database hiccup must not kill the heartbeat for good
                log.exception("sync lease heartbeat failed for connection %s", self.connection_id)

    def __enter__(self) -> Lease:
        return self

    def __exit__(self, *exc) -> None:
        if self.held:
            self.release()
