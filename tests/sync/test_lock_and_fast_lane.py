"""One cycle at a time per connection; a crash resumes cleanly; the fast lane syncs webhook ids."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from host.db import get_db
from host.models import Connection, SyncRun, WebhookEvent, utcnow
from host.sync import connections_with_events, run_fast_lane
from host.sync.lock import HOSTNAME, Lease
from tests.sync.fakes import at, customer, order
from tests.sync.test_cycle import fill_history


def test_a_second_cycle_cannot_start_while_one_holds_the_connection(world):
    fill_history(world.store)
    with world.app.app_context():
        lease = Lease(get_db(), world.connection_id)
        assert lease.acquire()
        assert world.sync() is None
        assert world.destination.writes == {}
        lease.release()
    assert world.sync().status == "finished"


def test_an_expired_or_orphaned_lease_is_taken_over(world):
    world.update_connection(
        lock_owner="elsewhere:1:x", lock_expires_at=utcnow() - timedelta(seconds=1)
    )
    assert world.sync() is not None
    world.update_connection(
        lock_owner=f"{HOSTNAME}:999999999:dead", lock_expires_at=utcnow() + timedelta(hours=1)
    )
    assert world.sync() is not None  # the holder process of this machine is gone
    world.update_connection(
        lock_owner="elsewhere:1:x", lock_expires_at=utcnow() + timedelta(hours=1)
    )
    assert world.sync() is None


def test_a_cycle_that_dies_mid_way_resumes_to_the_same_state_without_duplicates(world):
    fill_history(world.store)
    world.store.customers["9"] = customer(9, "new@example.com", at(11))
    world.store.fail_after_pages = 4  # dies inside the orders stream
    with pytest.raises(RuntimeError):
        world.sync()
    world.store.fail_after_pages = None

    world.sync()

    dest = world.destination
    assert dest.book("B-customers") == {f"c{i}@example.com" for i in range(1, 6)} | {
        "guest@example.com",
        "new@example.com",
    }
    assert set(dest.collections["Orders"]) == {"100", "101", "104"}
    assert dest.enrolled() == [("P-customer", "new@example.com")]
    statuses = [run.status for run in world.query(select(SyncRun).order_by(SyncRun.id))]
    assert statuses == ["failed", "finished"]


def add_event(world, stream, record_id):
    with world.app.app_context(), get_db().transaction() as session:
        session.add(
            WebhookEvent(
                connection_id=world.connection_id,
                dedupe_key=f"{stream}:{record_id}",
                stream=stream,
                record_id=record_id,
            )
        )


def test_the_fast_lane_syncs_just_the_ids_in_the_inbox_and_enrols(world):
    fill_history(world.store)
    world.sync()
    world.store.orders["900"] = order(900, "quick@example.com", at(11))
    world.store.customers["8"] = customer(8, "unannounced@example.com", at(11))
    add_event(world, "orders", "900")

    with world.app.app_context():
        assert connections_with_events() == [world.connection_id]
        run = run_fast_lane(world.connection_id)
        assert connections_with_events() == []

    assert run.trigger == "fast_lane" and run.status == "finished"
    assert "900" in world.destination.collections["Orders"]
    assert world.destination.enrolled() == [("P-first-order", "quick@example.com")]
    assert "unannounced@example.com" not in world.destination.contacts  # left to the next cycle
    world.sync()
    assert world.destination.enrolled() == [
        ("P-first-order", "quick@example.com"),
        ("P-customer", "unannounced@example.com"),
    ]


def test_data_sync_off_stops_cycles_and_the_fast_lane_and_keeps_the_inbox(world):
    fill_history(world.store)
    world.sync()
    world.update_connection(sync_enabled=False)
    world.store.orders["900"] = order(900, "quick@example.com", at(11))
    add_event(world, "orders", "900")

    with world.app.app_context():
        assert world.sync() is None
        assert connections_with_events() == []
        assert run_fast_lane(world.connection_id) is None
    world.update_connection(sync_enabled=True)
    with world.app.app_context():
        run_fast_lane(world.connection_id)
    assert "900" in world.destination.collections["Orders"]
    assert world.query(select(Connection.last_sync_at))[0] is not None
