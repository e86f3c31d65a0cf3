"""A poison event (an id the store keeps refusing) backs off, then fails with its reason, and never
holds the other events of its batch back."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select, update

from host.db import get_db
from host.errors import RecordError
from host.models import SyncRun, WebhookEvent, utcnow
from host.sync import connections_with_events, run_fast_lane
from host.sync.fast_lane import event_backoff, failed_events
from tests.sync.fakes import at, customer
from tests.sync.test_lock_and_fast_lane import add_event, fill_history
from tests.web.conftest import page_text

REFUSED = "777"


def refuse_id(world, record_id: str) -> list[list[str]]:
    """The store answers a 4xx to any read naming ``record_id`` (like a 422 for the batch)."""
    real_read = world.store.read
    reads: list[list[str]] = []

    def read(connection, stream, **kwargs):
        ids = kwargs.get("ids")
        if ids is not None:
            reads.append(list(ids))
            if record_id in ids:
                raise RecordError("BigCommerce refused the request: 422 The id is not valid")
        yield from real_read(connection, stream, **kwargs)

    world.store.read = read
    return reads


def events(world) -> dict[str, WebhookEvent]:
    return {event.record_id: event for event in world.query(select(WebhookEvent))}


def tick(world):
    with world.app.app_context():
        return run_fast_lane(world.connection_id)


def test_a_refused_id_never_holds_back_the_rest_of_its_batch(world):
    fill_history(world.store)
    world.sync()
    for number in range(20, 30):
        world.store.customers[str(number)] = customer(number, f"new{number}@example.com", at(11))
        add_event(world, "customers", str(number))
    add_event(world, "customers", REFUSED)
    reads = refuse_id(world, REFUSED)

    run = tick(world)
    assert run.status == "finished", "a refused id is no outage"
    assert {f"new{n}@example.com" for n in range(20, 30)} <= set(world.destination.contacts)
    state = events(world)
    assert all(state[str(n)].processed_at is not None for n in range(20, 30))
    poison = state[REFUSED]
    assert (poison.processed_at, poison.attempts) == (None, 1)
    assert "422" in poison.failed_reason and poison.next_attempt_at > utcnow()
    assert len(reads) <= 2 * 5 + 1, "narrowed down by halves, not one read per id"
    with world.app.app_context():
        assert connections_with_events() == [], "nothing is due while the refusal backs off"


def test_a_genuine_event_after_a_poison_one_syncs_at_the_next_tick(world):
    fill_history(world.store)
    world.sync()
    add_event(world, "customers", REFUSED)
    refuse_id(world, REFUSED)
    tick(world)
    world.store.customers["31"] = customer(31, "genuine@example.com", at(12))
    add_event(world, "customers", "31")
    with world.app.app_context():
        assert connections_with_events() == [world.connection_id]
    tick(world)
    assert "genuine@example.com" in world.destination.contacts


def test_after_max_attempts_the_event_fails_with_its_reason(world):
    fill_history(world.store)
    world.sync()
    add_event(world, "customers", REFUSED)
    refuse_id(world, REFUSED)
    for attempt in range(1, 4):  # [sync] max_attempts is 3 in this world
        with world.app.app_context(), get_db().transaction() as session:  # the back-off passes
            session.execute(
                update(WebhookEvent)
                .where(WebhookEvent.next_attempt_at.is_not(None))
                .values(next_attempt_at=utcnow() - timedelta(seconds=1))
            )
        tick(world)
        assert events(world)[REFUSED].attempts == attempt
    poison = events(world)[REFUSED]
    assert poison.processed_at is not None and poison.next_attempt_at is None
    assert poison.failed_reason == "BigCommerce refused the request: 422 The id is not valid"
    with world.app.app_context(), get_db().transaction() as session:
        assert connections_with_events() == []
        listed = failed_events(session, world.connection_id)
    assert [(event.stream, event.record_id) for event in listed] == [("customers", REFUSED)]
    runs = world.query(select(SyncRun).where(SyncRun.trigger == "fast_lane").order_by(SyncRun.id))
    assert [run.status for run in runs] == ["finished"] * 3
    assert runs[-1].counts["customers"]["failed"] == 1


def test_the_back_off_grows_three_times_per_refusal():
    assert [event_backoff(n, 60).total_seconds() for n in (1, 2, 3, 4)] == [60, 180, 540, 1620]
    assert event_backoff(20, 60) == timedelta(days=1)


def test_a_redelivery_of_a_failed_event_tries_again(world):
    """A new change to the record (the receiver re-queues the event) starts counting afresh."""
    fill_history(world.store)
    world.sync()
    add_event(world, "customers", REFUSED)
    with world.app.app_context(), get_db().transaction() as session:
        session.execute(update(WebhookEvent).values(
            processed_at=utcnow(), attempts=3, failed_reason="refused"))
    from host.inbox import upsert_event
    with world.app.app_context(), get_db().engine.begin() as connection:
        upsert_event(connection, {"connection_id": world.connection_id, "dedupe_key": f"customers:{REFUSED}",
                                  "stream": "customers", "record_id": REFUSED, "payload": {}})
    poison = events(world)[REFUSED]
    assert (poison.processed_at, poison.attempts, poison.failed_reason) == (None, 0, None)


def test_a_failed_event_is_listed_on_the_store_tab_with_the_stores_reason(web_app, merchant):
    with web_app.app_context(), get_db().transaction() as session:
        session.add(WebhookEvent(
            connection_id=merchant.connection_id, dedupe_key="poison", stream="customers", record_id="777",
            attempts=5, processed_at=utcnow(), failed_reason="BigCommerce refused the request: 422 <b>bad</b>",
        ))
    page = merchant.get("/settings/store")
    text = page_text(page)
    assert "Store changes that could not be read (1)" in text
    assert "Customer 777" in text and "422 <b>bad</b>" in text  # shown as text, escaped
    assert "<b>bad</b>" not in page.get_data(as_text=True)
    csv = merchant.get("/settings/store/needs-attention.csv").get_data(as_text=True)
    assert "Customer 777" in csv and "the store refused it" in csv


def test_a_run_under_a_steady_stream_of_deliveries_ends(world):
    """Each read brings a new delivery for the same record: the run reads it twice, then stops."""
    fill_history(world.store)
    world.sync()
    add_event(world, "customers", "1")
    real_read = world.store.read
    reads = []

    def read_and_deliver_again(connection, stream, **kwargs):
        pages = list(real_read(connection, stream, **kwargs))
        if kwargs.get("ids") is not None:
            reads.append(list(kwargs["ids"]))
            with world.app.app_context(), get_db().transaction() as session:
                session.add(WebhookEvent(connection_id=world.connection_id, dedupe_key=f"again-{len(reads)}",
                                         stream="customers", record_id="1"))
        yield from pages

    world.store.read = read_and_deliver_again
    assert tick(world).status == "finished"
    assert reads == [["1"], ["1"]]
    with world.app.app_context():
        assert connections_with_events() == [world.connection_id], "the latest waits for the next run"
