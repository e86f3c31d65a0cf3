"""Changes of connection while a cycle runs: disconnect, reconnect, remove, Data sync off, and an
unexpected error. The change is made between two pages, from its own session, as the settings
pages make it; the cycle must stop at the next page boundary, write nothing half-way, and leave
the next connection to sync cleanly."""

from __future__ import annotations

import logging
import re
from datetime import timedelta

import pytest
from sqlalchemy import select

from host import connections
from host.db import get_db
from host.destinations import AccountInfo
from host.models import Connection, Enrolment, LedgerEntry, StreamCursor, SyncRun, utcnow
from host.plugins import get_plugins
from host.scheduler import HostScheduler, run_cycle_job
from host.settings import get_settings
from host.sync import run_fast_lane
from host.sync.forget import STATE_NAMESPACE
from tests.sync.conftest import PROGRAMS
from tests.sync.fakes import at, customer, order
from tests.sync.test_lock_and_fast_lane import add_event

BOOKS = {"customers_book_id": "B-customers", "subscribers_book_id": "B-subscribers"}
REFERENCE = re.compile(r"\(reference ([0-9a-f]{8})\)")


def fill(store, customers: int = 10) -> None:
    for cid in range(1, customers + 1):
        store.customers[str(cid)] = customer(cid, f"c{cid}@example.com", at(1, cid))
    store.orders["100"] = order(100, "c1@example.com", at(3), customer_id="1")


def between_pages(world, after: int, change) -> None:
    """Make ``change`` (in the cycle's thread, from a session of its own) once ``after`` pages were
    served and the cycle asks for the next: the page then served is the one in flight."""
    read, done = world.store.read, []

    def reading(connection, stream, **kwargs):
        for page in read(connection, stream, **kwargs):
            yield page
            if world.store.pages_served >= after and not done:
                done.append(True)
                with get_db().transaction() as session:
                    change(session, session.get(Connection, world.connection_id))

    world.store.read = reading


def rows_of(world, model) -> list:
    return world.query(select(model).where(model.connection_id == world.connection_id))


def connection_of(world) -> Connection | None:
    with world.app.app_context(), get_db().transaction() as session:
        return session.get(Connection, world.connection_id)


def add_late_customers(store) -> None:
    """Changes for the next cycle to read: two pages of customers."""
    for cid in range(11, 15):
        store.customers[str(cid)] = customer(cid, f"late{cid}@example.com", at(12, cid - 10))
    store.pages_served = 0


def test_a_disconnect_during_a_cycle_stops_it_at_the_next_page_and_the_next_connection_syncs_cleanly(
    world, caplog
):
    fill(world.store)  # customers come in pages of 3
    world.store.pages_served = 0
    between_pages(world, 2, lambda session, connection: connections.disconnect(session, connection))

    with caplog.at_level(logging.INFO):
        run = world.sync()

    assert run.status == "stopped" and run.errors == {}
    assert world.store.pages_served == 3  # the page in flight was written whole, then it stopped
    assert world.destination.writes == {}  # nothing more reached the old account
    assert not [record for record in caplog.records if record.levelno >= logging.ERROR]
    assert not connection_of(world).is_connected
    # The cycle held the lease: it forgot the old account's state as it stopped.
    for model in (LedgerEntry, StreamCursor, Enrolment, SyncRun):
        assert rows_of(world, model) == [], model.__name__
    with world.app.app_context(), get_db().transaction() as session:
        connection = session.get(Connection, world.connection_id)
        assert get_settings(session, connection, STATE_NAMESPACE) == {"forget_pending": False}
        connections.connect(session, get_plugins(), connection, "fake_dest", {"password": "secret"})
    world.save("contacts", BOOKS)
    world.save("automation", PROGRAMS)
    run = world.sync()

    assert run.status == "finished" and run.errors == {}
    assert world.destination.book("B-customers") == {f"c{i}@example.com" for i in range(1, 11)}
    assert "100" in world.destination.collections["Orders"]
    assert world.destination.enrolled() == []  # all of it was there before this account was connected


def test_reconnecting_to_another_account_during_a_cycle_sends_that_account_everything(world, monkeypatch):
    fill(world.store)
    world.sync()  # the first account has it all
    add_late_customers(world.store)
    monkeypatch.setattr(
        world.destination, "check_credentials", lambda credentials: AccountInfo(account="production")
    )

    def reconnect(session, connection):
        connections.connect(session, get_plugins(), connection, "fake_dest", {"password": "live"})

    between_pages(world, 1, reconnect)
    run = world.sync()

    assert run.status == "stopped"
    assert world.store.pages_served == 2
    connection = connection_of(world)
    assert connection.destination_account == "production" and connection.last_sync_at is None
    assert rows_of(world, LedgerEntry) == [] and rows_of(world, StreamCursor) == []
    with world.app.app_context(), get_db().transaction() as session:
        assert get_settings(session, connection, "contacts")["customers_book_id"] is None  # chosen afresh

    world.save("contacts", BOOKS)
    writes_before = world.destination.writes["contacts:B-customers"]
    assert world.sync().status == "finished"
    # Nothing the first account was sent makes this one look synced: every contact is sent again.
    assert world.destination.writes["contacts:B-customers"] - writes_before == 14
    assert world.destination.enrolled() == []


def test_data_sync_off_during_a_cycle_stops_it_and_keeps_what_was_synced(world):
    fill(world.store)
    world.sync()
    add_late_customers(world.store)

    def switch_off(session, connection):
        connection.sync_enabled = False

    between_pages(world, 1, switch_off)
    run = world.sync()

    assert run.status == "stopped"
    assert world.store.pages_served == 2
    assert "late11@example.com" not in world.destination.contacts  # the contacts phase never ran
    assert rows_of(world, LedgerEntry) or rows_of(world, StreamCursor)  # the same account: kept
    world.update_connection(sync_enabled=True)
    assert world.sync().status == "finished"
    assert "late14@example.com" in world.destination.book("B-customers")


def test_removing_the_connection_during_a_cycle_stops_it_quietly(world, caplog):
    fill(world.store)
    world.store.pages_served = 0
    between_pages(
        world, 1, lambda session, connection: connections.remove(session, get_plugins(), connection)
    )

    with caplog.at_level(logging.INFO):
        run = world.sync()  # the page in flight meets rows the removal deleted

    assert run.status == "stopped" and run.errors == {}
    assert world.store.pages_served == 2
    assert connection_of(world) is None
    assert world.destination.writes == {}
    assert not [record for record in caplog.records if record.levelno >= logging.ERROR]


def test_an_unexpected_error_is_told_in_plain_words_with_a_reference_the_log_carries(world, caplog):
    fill(world.store)
    world.store.fail_after_pages = 2

    with caplog.at_level(logging.ERROR), pytest.raises(RuntimeError):
        world.sync()

    [run] = world.query(select(SyncRun))
    message = run.errors["cycle"]
    assert run.status == "failed"
    assert re.fullmatch(
        r"The sync stopped because of an unexpected error \(reference [0-9a-f]{8}\)\. It will try "
        r"again at \d\d:\d\d UTC; if this keeps happening, contact support with the reference\.",
        message,
    )
    assert "RuntimeError" not in message and "the process died here" not in message
    reference = REFERENCE.search(message).group(1)
    logged = [record for record in caplog.records if reference in record.getMessage()]
    assert logged and logged[0].exc_info and "the process died here" in str(logged[0].exc_info[1])


def test_after_a_reconnect_during_a_cycle_the_new_account_syncs_at_once_not_five_minutes_later(
    world, monkeypatch
):
    planner = HostScheduler(world.app)
    planner.start(paused=True)  # jobs are planned; only the test runs them
    try:
        fill(world.store)
        with world.app.app_context():
            run_cycle_job(world.connection_id)
            assert planner.next_cycle_at(world.connection_id) > utcnow() + timedelta(seconds=290)
        add_late_customers(world.store)
        monkeypatch.setattr(
            world.destination, "check_credentials", lambda credentials: AccountInfo(account="production")
        )
        read = world.store.read

        def reading(connection, stream, **kwargs):  # the connect page, while the cycle runs
            yield from read(connection, stream, **kwargs)
            if stream.name == "customers":
                with get_db().transaction() as session:
                    connection = session.get(Connection, world.connection_id)
                    connections.connect(session, get_plugins(), connection, "fake_dest", {"password": "x"})

        world.store.read = reading
        with world.app.app_context():
            run_cycle_job(world.connection_id)  # stops at the page boundary, plans the next

            assert planner.next_cycle_at(world.connection_id) <= utcnow() + timedelta(seconds=1)
    finally:
        planner.scheduler.remove_all_jobs()  # a job due at shutdown would be run into a closed executor
        planner.shutdown()


def test_an_unexpected_error_in_the_fast_lane_is_told_the_same_way(world, caplog):
    fill(world.store)
    world.sync()
    add_event(world, "customers", "1")
    world.store.fail_after_pages = 0

    with caplog.at_level(logging.ERROR), world.app.app_context(), pytest.raises(RuntimeError):
        run_fast_lane(world.connection_id)

    run = world.query(select(SyncRun).where(SyncRun.trigger == "fast_lane"))[0]
    assert run.errors["cycle"].startswith("The instant update stopped because of an unexpected error (reference ")
    assert "RuntimeError" not in run.errors["cycle"]
    assert REFERENCE.search(run.errors["cycle"]).group(1) in caplog.text
