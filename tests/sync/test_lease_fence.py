"""A process held up past its lease (stopped, or its machine cut off from the database) while
another took the connection over commits nothing once it wakes: the lease is confirmed in the
very transaction of each commit when it may have run out (``Lease.fence``)."""

from __future__ import annotations

import time
from datetime import timedelta

import pytest
from sqlalchemy import event, func, select, update
from sqlalchemy.orm import sessionmaker

from host.db import get_db
from host.models import Connection, ContactProfile, StreamCursor, SyncRun, utcnow
from host.sync.lock import Lease, LeaseLost
from tests.sync.loopback import StoreSize, connected_loop
from tests.sync.test_end_to_end import Loop, assert_exact_state

SIZE = StoreSize(customers=600, subscribers=60, orders=300, products=10, seed=21)
LEASE_SECONDS = 0.6


@pytest.fixture
def loop(make_app):
    with connected_loop(make_app, SIZE) as parts:
        yield Loop(*parts)


def fenced_session(lease: Lease):
    session = sessionmaker(get_db().engine)()
    event.listen(session, "before_commit", lease.fence)
    return session


def test_a_holder_whose_lease_ran_out_and_was_taken_commits_nothing(app):
    with app.app_context():
        with get_db().transaction() as session:
            session.add(Connection(id=1, source="test", source_account="fence"))
        frozen = Lease(get_db(), 1, seconds=0.2)
        assert frozen.acquire()
        time.sleep(0.3)  # held up: no heartbeat, the lease ran out
        other = Lease(get_db(), 1, seconds=60)
        assert other.acquire()  # another process takes the connection over

        session = fenced_session(frozen)
        session.add(StreamCursor(connection_id=1, stream="customers", value="written by the frozen one"))
        with pytest.raises(LeaseLost):
            session.commit()
        session.rollback()
        session.close()
        with get_db().transaction() as check:
            assert check.scalar(select(func.count(StreamCursor.id))) == 0
            assert check.get(Connection, 1).lock_owner == other.owner


def test_a_holder_held_up_whose_lease_nobody_took_renews_it_and_commits(app):
    with app.app_context():
        with get_db().transaction() as session:
            session.add(Connection(id=1, source="test", source_account="fence"))
        slow = Lease(get_db(), 1, seconds=0.2)
        assert slow.acquire()
        time.sleep(0.3)
        session = fenced_session(slow)
        session.add(StreamCursor(connection_id=1, stream="customers", value="kept"))
        session.commit()  # renewed in this transaction: nobody else holds it
        session.close()
        with get_db().transaction() as check:
            assert check.scalar(select(StreamCursor.value)) == "kept"
            assert check.get(Connection, 1).lock_expires_at > utcnow()


def profiles(loop: Loop) -> int:
    with loop.app.app_context(), get_db().transaction() as session:
        return session.scalar(select(func.count(ContactProfile.id)))


def test_a_cycle_frozen_past_its_lease_stops_without_writing_and_the_next_one_finishes_exactly(loop, monkeypatch):
    loop.app.config.setdefault("SYNC", {})["lock_seconds"] = LEASE_SECONDS
    monkeypatch.setattr(Lease, "_beat", lambda self: None)  # frozen: no heartbeat either
    taken_over = {}

    def freeze_then_lose_the_connection(stream: str, counts: dict) -> None:
        if taken_over or stream != "customers" or not counts.get("read"):
            return
        time.sleep(LEASE_SECONDS + 0.2)  # the process stops; its lease runs out meanwhile
        with get_db().transaction() as session:  # and another worker takes the connection
            session.execute(
                update(Connection).values(lock_owner="elsewhere:1:other", lock_expires_at=utcnow() + timedelta(hours=1))
            )
        taken_over["profiles"] = profiles(loop)

    run = loop.cycle(trigger="scheduled", progress=freeze_then_lose_the_connection)
    assert taken_over, "the cycle never read a page of customers"
    assert run.status == "running"  # left as the process that took over will mark it
    assert profiles(loop) == taken_over["profiles"]  # not one page more was committed
    with loop.app.app_context(), get_db().transaction() as session:
        assert session.get(Connection, loop.connection_id).lock_owner == "elsewhere:1:other"
        session.execute(update(Connection).values(lock_owner=None, lock_expires_at=None))  # it went away

    monkeypatch.undo()
    assert loop.cycle(trigger="scheduled").status == "finished"
    assert_exact_state(loop)
    with loop.app.app_context(), get_db().transaction() as session:
        statuses = session.scalars(select(SyncRun.status).order_by(SyncRun.id)).all()
    assert statuses == ["interrupted", "finished"]
