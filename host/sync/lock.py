"""Leases on the connection row: never two cycles of one connection at once, across processes,
and never two fast-lane runs of one connection at once.

There are two lanes, each with its own lease columns: the cycle (``lock_owner``) and the fast
lane (``fast_lane_owner``). A fast-lane run and a cycle of the same connection may run side by
side (the ledger, the profiles' versions and the unique enrolment rows keep them from writing
one record twice, ``host.sync.versions``); work that must run beside neither (forgetting an
account's state) waits until both are free (``claim_if_free``).

Taking a lease is one conditional UPDATE (free, expired, or already ours), which both SQLite
and PostgreSQL apply atomically. A heartbeat thread renews it while the cycle runs, so a crashed
process's lease simply expires. A lease held by a process of this machine that no longer
exists is taken over at once, so a restart after a crash need not wait for the expiry.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
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


CYCLE, FAST_LANE = "cycle", "fast_lane"
LANES = {
    CYCLE: (Connection.lock_owner, Connection.lock_expires_at),
    FAST_LANE: (Connection.fast_lane_owner, Connection.fast_lane_expires_at),
}


def lane_of(trigger: str) -> str:
    return FAST_LANE if trigger == "fast_lane" else CYCLE


def _free(now, owner_column, expires_column, holder) -> list:
    free = [owner_column.is_(None), expires_column < now]
    if _process_gone(holder):
        free.append(owner_column == holder)
    return free


def claim_if_free(session: Session, connection_id: int) -> bool:
    """In the caller's transaction: whether neither a cycle nor a fast-lane run holds the
    connection. When none does, both leases are left free but the row is written, so no lane
    can take one until that transaction ends (PostgreSQL's row lock, SQLite's single writer):
    work that must never run beside a sync (forgetting an account's state) can run in it. An
    expired or orphaned lease is cleared."""
    now = utcnow()
    holders = session.execute(
        select(Connection.lock_owner, Connection.fast_lane_owner).where(Connection.id == connection_id)
    ).first()
    if holders is None:
        return False
    claimed = session.execute(
        update(Connection)
        .where(
            Connection.id == connection_id,
            or_(*_free(now, *LANES[CYCLE], holders[0])),
            or_(*_free(now, *LANES[FAST_LANE], holders[1])),
        )
        .values(lock_owner=None, lock_expires_at=None, fast_lane_owner=None, fast_lane_expires_at=None)
        .execution_options(synchronize_session=False)
    ).rowcount
    return bool(claimed)


def lane_busy(session: Session, connection_id: int, lane: str = CYCLE) -> bool:
    """Whether a live lease of ``lane`` is held on the connection now."""
    owner_column, expires_column = LANES[lane]
    row = session.execute(
        select(owner_column, expires_column).where(Connection.id == connection_id)
    ).first()
    if row is None or row[0] is None or row[1] is None or row[1] < utcnow():
        return False
    return not _process_gone(row[0])


class LeaseLost(Exception):
    """The lease ran out while its holder was held up (a frozen process, a machine cut off) and
    another process may have taken the connection: the holder's work must not be committed."""


class Lease:
    """``with Lease(...) as lease:`` holds one lane's lock of the connection (the cycle's unless
    told); ``lease.held`` says it still does.

    ``fence(session)``, run before each commit of the holder's work, keeps a holder that was held
    up past its expiry (a stopped process, a machine cut off from the database) from committing
    anything once it wakes: when the lease was last confirmed more than half its length ago, it is
    renewed in that very transaction, or the commit fails with ``LeaseLost``."""

    def __init__(
        self,
        database: Database,
        connection_id: int,
        *,
        seconds: float = 120,
        on_beat: Callable[[], None] | None = None,
        lane: str = CYCLE,
    ):
        self.lane = lane
        self.owner_column, self.expires_column = LANES[lane]
        self.database = database
        self.connection_id = connection_id
        self.duration = timedelta(seconds=seconds)
        self.owner = f"{HOSTNAME}:{os.getpid()}:{uuid.uuid4().hex[:12]}"
        self.on_beat = on_beat
        self.held = False
        self.confirmed_at = 0.0  # ``time.monotonic()`` of the last acquire or renewal
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
                        self.owner_column.is_(None),
                        self.expires_column < now,
                        self.owner_column == self.owner,
                    ),
                )
                .values({self.owner_column: self.owner, self.expires_column: now + self.duration})
            ).rowcount
            if not taken:
                holder = session.scalar(
                    select(self.owner_column).where(Connection.id == self.connection_id)
                )
                if _process_gone(holder):
                    taken = session.execute(
                        update(Connection)
                        .where(Connection.id == self.connection_id, self.owner_column == holder)
                        .values({self.owner_column: self.owner, self.expires_column: now + self.duration})
                    ).rowcount
        self.held = bool(taken)
        self.confirmed_at = time.monotonic()
        return self.held

    def renew(self) -> bool:
        """Push the expiry forward; False (and ``held`` False) when the lease was lost."""
        with self.database.transaction() as session:
            return self._renew_in(session)

    def fence(self, session: Session) -> None:
        """Before a commit of the holder's work: raise ``LeaseLost`` unless the lease is surely
        still held (confirmed less than half its length ago, or renewed in ``session`` now)."""
        stale = time.monotonic() - self.confirmed_at > self.duration.total_seconds() / 2
        if not self.held or (stale and not self._renew_in(session)):
            raise LeaseLost(f"the {self.lane} lease of connection {self.connection_id} was lost")

    def _renew_in(self, session: Session) -> bool:
        renewed = session.execute(
            update(Connection)
            .where(Connection.id == self.connection_id, self.owner_column == self.owner)
            .values({self.expires_column: utcnow() + self.duration})
            .execution_options(synchronize_session=False)
        ).rowcount
        self.held = bool(renewed)
        if self.held:
            self.confirmed_at = time.monotonic()
        return self.held

    def release(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=10)
        with self.database.transaction() as session:
            session.execute(
                update(Connection)
                .where(Connection.id == self.connection_id, self.owner_column == self.owner)
                .values({self.owner_column: None, self.expires_column: None})
            )
        self.held = False

    def start_heartbeat(self) -> None:
        self._thread = threading.Thread(
            target=self._beat, name=f"lease-{self.lane}-{self.connection_id}", daemon=True
        )
        self._thread.start()

    def _beat(self) -> None:
        interval = self.duration.total_seconds() / 4
        while not self._stop.wait(interval):
            try:
                if not self.renew():
                    log.warning("%s lease of connection %s was lost", self.lane, self.connection_id)
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


def claim_other_lane(session: Session, connection_id: int, lane: str) -> bool:
    """In the caller's transaction, holding ``lane``'s lease: whether the other lane's lease is
    free; if so it is kept free (the row is written) until that transaction ends, so the holder
    may forget an account's state with neither lane beside it."""
    other = FAST_LANE if lane == CYCLE else CYCLE
    owner_column, expires_column = LANES[other]
    holder = session.scalar(select(owner_column).where(Connection.id == connection_id))
    claimed = session.execute(
        update(Connection)
        .where(Connection.id == connection_id, or_(*_free(utcnow(), owner_column, expires_column, holder)))
        .values({owner_column: None, expires_column: None})
        .execution_options(synchronize_session=False)
    ).rowcount
    return bool(claimed)
