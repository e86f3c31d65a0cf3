"""The fast lane is its own lane: it runs beside a cycle, sends only what it read itself, and a
contact both lanes send ends with its newest facts at the destination (``host.sync.versions``)."""

from __future__ import annotations

from sqlalchemy import select

from host import connections
from host.db import get_db
from host.inbox import fast_lane_wakeup, inbox_writer
from host.models import Connection, ContactProfile, LedgerEntry, SyncRun
from host.scheduler import HostScheduler
from host.sync import connections_with_events, run_fast_lane
from host.sync.lock import FAST_LANE, Lease
from tests.sync.fakes import at, customer, order
from tests.sync.test_cycle import fill_history
from tests.sync.test_lock_and_fast_lane import add_event


def rename(world, cid: str, last_name: str, day: int) -> None:
    """A change in the store: the customer's last name, modified on ``day``."""
    record = world.store.customers[cid]
    world.store.customers[cid] = {**record, "last_name": last_name, "date_modified": at(day)}


def last_name_at_destination(world, email: str) -> str | None:
    return world.destination.contacts[email]["payload"]["fields"]["LASTNAME"]


def profile(world, email: str) -> ContactProfile:
    return world.query(select(ContactProfile).where(ContactProfile.email == email))[0]


def fast_lane(world):
    with world.app.app_context():
        return run_fast_lane(world.connection_id)


def test_the_fast_lane_runs_while_a_cycle_holds_the_connection(world):
    fill_history(world.store)
    world.sync()
    rename(world, "2", "Quick", 12)
    add_event(world, "customers", "2")

    with world.app.app_context():
        cycle = Lease(get_db(), world.connection_id)  # a cycle (a long backfill) is running
        assert cycle.acquire()
        with get_db().transaction() as session:
            session.add(SyncRun(connection_id=world.connection_id, trigger="scheduled", status="running"))
        assert world.sync() is None  # no second cycle
        run = run_fast_lane(world.connection_id)
        cycle.release()

    assert run is not None and run.status == "finished"
    statuses = {row.trigger: row.status for row in world.query(select(SyncRun).order_by(SyncRun.id))}
    assert statuses["scheduled"] == "running"  # the fast lane leaves the cycle's run alone
    assert last_name_at_destination(world, "c2@example.com") == "Quick"
    assert not profile(world, "c2@example.com").dirty


def test_two_fast_lane_runs_of_one_connection_never_overlap(world):
    fill_history(world.store)
    world.sync()
    rename(world, "2", "Quick", 12)
    add_event(world, "customers", "2")

    with world.app.app_context():
        other = Lease(get_db(), world.connection_id, lane=FAST_LANE)
        assert other.acquire()
        assert run_fast_lane(world.connection_id) is None  # the event waits for the holder
        assert world.sync() is not None  # while a cycle still may run
        other.release()


def test_the_fast_lane_does_not_send_the_cycles_backlog(world):
    fill_history(world.store)
    world.sync()
    # What a running cycle read and has not sent yet: a changed profile, an order in the outbox.
    with world.app.app_context(), get_db().transaction() as session:
        backlog = session.scalar(select(ContactProfile).where(ContactProfile.email == "c3@example.com"))
        backlog.customer = {**backlog.customer, "last_name": "Backlog"}
        backlog.dirty = True
        row = session.scalar(
            select(LedgerEntry).where(LedgerEntry.kind == "orders", LedgerEntry.source_id == "104")
        )
        row.outbox = {"key": "104", "payload": {"email": "c5@example.com", "status": "x", "total": 1}, "hash": "h"}
    writes_before = dict(world.destination.writes)
    rename(world, "2", "Quick", 12)
    add_event(world, "customers", "2")

    run = fast_lane(world)

    assert run.status == "finished"
    assert last_name_at_destination(world, "c2@example.com") == "Quick"
    assert last_name_at_destination(world, "c3@example.com") == "Last3"  # the cycle's to send
    assert profile(world, "c3@example.com").dirty
    assert world.ledger("orders", "104").outbox is not None
    assert world.destination.writes["Orders"] == writes_before.get("Orders", 0)
    assert world.destination.writes["contacts:B-customers"] == writes_before["contacts:B-customers"] + 1

    world.sync()  # the cycle sends its own backlog
    assert last_name_at_destination(world, "c3@example.com") == "Backlog"
    assert world.ledger("orders", "104").outbox is None


def test_an_older_copy_read_by_the_cycle_never_overwrites_what_the_fast_lane_applied(world):
    fill_history(world.store)
    world.sync()
    older = dict(world.store.customers["2"])
    rename(world, "2", "Newer", 12)
    add_event(world, "customers", "2")
    fast_lane(world)
    assert last_name_at_destination(world, "c2@example.com") == "Newer"

    # The cycle's page was read before the change and is applied after it.
    world.store.customers["2"] = {**older, "date_modified": at(11)}
    world.sync(full=True)

    assert profile(world, "c2@example.com").customer["last_name"] == "Newer"
    assert last_name_at_destination(world, "c2@example.com") == "Newer"


def test_a_contact_the_fast_lane_changes_while_the_cycle_sends_it_ends_newest(world):
    """The cycle sends c2 as it was; meanwhile the fast lane applies and sends a newer c2, and the
    cycle's older copy lands after it. The profile must not be left clean with the older copy
    at the destination: the fast lane's next look sends the newest (the cycle asked it to)."""
    fill_history(world.store)
    world.sync()
    rename(world, "2", "Cycle", 12)  # read by the next cycle
    destination = world.destination
    original = destination.write_contacts
    state = {"raced": False}

    def write_contacts(connection, records, *, book_id):
        if not state["raced"] and any(r.source_id == "c2@example.com" for r in records):
            state["raced"] = True
            rename(world, "2", "Fast", 13)  # changed again while the cycle sends
            add_event(world, "customers", "2")
            assert fast_lane(world).status == "finished"
            assert last_name_at_destination(world, "c2@example.com") == "Fast"
        return original(connection, records, book_id=book_id)  # the older copy lands last

    destination.write_contacts = write_contacts
    world.sync()
    destination.write_contacts = original
    assert state["raced"]

    stale = last_name_at_destination(world, "c2@example.com") != "Fast"
    assert not (stale and not profile(world, "c2@example.com").dirty), "clean but stale"
    with world.app.app_context():
        assert connections_with_events(enrolments=False) == [world.connection_id]
    fast_lane(world)  # the next look at the inbox
    assert last_name_at_destination(world, "c2@example.com") == "Fast"
    assert not profile(world, "c2@example.com").dirty
    world.sync()
    assert last_name_at_destination(world, "c2@example.com") == "Fast"
    assert not profile(world, "c2@example.com").dirty
    assert len([e for e in destination.contacts if e == "c2@example.com"]) == 1


def test_a_new_customer_during_the_first_cycle_syncs_at_once_and_orders_wait(world):
    fill_history(world.store)
    world.store.customers["9"] = customer(9, "early@example.com", at(11))
    world.store.orders["900"] = order(
        900, "early@example.com", at(11), customer_id="9"
    )
    add_event(world, "customers", "9")
    add_event(world, "orders", "900")

    with world.app.app_context():
        cycle = Lease(get_db(), world.connection_id)  # the first cycle (the backfill) runs
        assert cycle.acquire()
        run = run_fast_lane(world.connection_id)
        cycle.release()

    assert run.status == "finished"
    assert "early@example.com" in world.destination.contacts
    assert "900" not in world.destination.collections["Orders"]  # waits for the backfill
    assert world.destination.enrolled() == []  # enrolments: the cycle's, as it ends
    world.sync()
    fast_lane(world)
    assert "900" in world.destination.collections["Orders"]
    assert sorted(world.destination.enrolled()) == [
        ("P-customer", "early@example.com"), ("P-first-order", "early@example.com"),
    ]


def test_the_scheduler_runs_the_fast_lane_at_its_look_and_a_stored_event_wakes_it(world):
    fill_history(world.store)
    world.sync()
    rename(world, "2", "Quick", 12)
    planner = HostScheduler(world.app)
    planner.start(paused=True)  # no thread: the test looks itself
    try:
        with world.app.app_context():
            fast_lane_wakeup.clear()
            inbox_writer(world.app).store({
                "connection_id": world.connection_id, "dedupe_key": "customers:2:x",
                "stream": "customers", "record_id": "2", "payload": {},
            })
            assert fast_lane_wakeup.is_set()  # the scheduler of this process looks at once
            planner.poll()
    finally:
        planner.shutdown()
    assert last_name_at_destination(world, "c2@example.com") == "Quick"
    with world.app.app_context():
        assert connections_with_events() == []


def test_a_disconnect_while_a_fast_lane_run_holds_its_lease_forgets_once_it_ends(world):
    fill_history(world.store)
    world.sync()
    assert world.ledger("customer_contact", "c2@example.com") is not None
    with world.app.app_context():
        running = Lease(get_db(), world.connection_id, lane=FAST_LANE)
        assert running.acquire()
        with get_db().transaction() as session:  # the merchant disconnects meanwhile
            connections.disconnect(session, session.get(Connection, world.connection_id))
        assert world.ledger("customer_contact", "c2@example.com") is not None  # not under it
        running.release()
        add_event(world, "customers", "2")
        assert run_fast_lane(world.connection_id) is None  # not connected: it forgets, no run
    assert world.ledger("customer_contact", "c2@example.com") is None
