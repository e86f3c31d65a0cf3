"""A record deleted outright in the store (a read by id no longer returns it) leaves the
destination if it was sent, through the fast lane or the next cycle's retry pass; one never
sent is only marked excluded, and a removal that cannot happen now waits without blocking."""

from __future__ import annotations

from sqlalchemy import select

from host.errors import ConfigurationError
from host.models import WebhookEvent
from host.sync import run_fast_lane
from tests.sync.fakes import at, customer, order, product
from tests.sync.test_lock_and_fast_lane import add_event
from tests.sync.test_retries import retries_come_due


def fill(store):
    store.customers["1"] = customer(1, "c1@example.com", at(1))
    store.orders["100"] = order(100, "c1@example.com", at(3), customer_id="1")
    store.orders["101"] = order(101, "c1@example.com", at(3, 1), customer_id="1")
    store.products["p1"] = product("p1", at(4))
    store.products["p2"] = product("p2", at(4, 1))
    store.products["p3"] = product("p3", at(4, 2), visible=False)  # never sent


def fast_lane(world, *events: tuple[str, str]):
    for stream, record_id in events:
        add_event(world, stream, record_id)
    with world.app.app_context():
        return run_fast_lane(world.connection_id)


def catalog(world) -> set[str]:
    return set(world.destination.collections["Catalog_Default"])


def test_a_product_deleted_in_the_store_leaves_the_catalog_through_its_webhook(world):
    fill(world.store)
    world.sync()
    assert catalog(world) == {"p1", "p2"}
    for product_id in ("p1", "p3"):
        del world.store.products[product_id]

    run = fast_lane(world, ("products", "p1"), ("products", "p3"), ("products", "p9"))

    assert run.status == "finished"
    assert catalog(world) == {"p2"}
    assert world.destination.writes["delete:Catalog_Default"] == 1  # only the one it held
    assert world.ledger("products", "p1").state == "excluded"
    assert world.ledger("products", "p1").reason.startswith("deleted in the store: removed from")
    assert world.ledger("products", "p3").state == "excluded"  # never sent: nothing to remove
    assert world.ledger("products", "p9") is None  # an id never seen leaves no trace
    assert not world.query(select(WebhookEvent).where(WebhookEvent.processed_at.is_(None)))

    writes = sum(world.destination.writes.values())
    world.sync()
    fast_lane(world, ("orders", "100"))  # unrelated later traffic: no repeat of the removal
    assert sum(world.destination.writes.values()) == writes  # nothing sent or removed again


def test_a_failed_record_deleted_since_is_removed_by_the_next_cycles_retry(world):
    fill(world.store)
    world.sync()
    world.store.products["p1"].update(name="Renamed", date_modified=at(5))
    world.store.orders["100"].update(total="12.00", date_modified=at(5))
    world.destination.refuse.update({"p1": "refused for now", "100": "refused for now"})
    world.sync()
    assert world.ledger("products", "p1").state == "failed"
    assert world.ledger("orders", "100").state == "failed"
    del world.store.products["p1"], world.store.orders["100"]
    world.destination.refuse.clear()
    retries_come_due(world)

    run = world.sync()  # nothing changed since the cursor: only the retry pass asks for them

    assert run.status == "finished"
    assert catalog(world) == {"p2"}
    assert set(world.destination.collections["Orders"]) == {"101"}  # after its contact
    for kind, source_id in (("products", "p1"), ("orders", "100")):
        row = world.ledger(kind, source_id)
        assert (row.state, row.outbox) == ("excluded", None)
        assert row.reason.startswith("deleted in the store: removed from")


def test_a_record_that_failed_before_it_was_ever_sent_is_just_excluded_when_deleted(world):
    fill(world.store)
    world.destination.refuse["p2"] = "refused"
    world.sync()
    del world.store.products["p2"]
    world.destination.refuse.clear()
    retries_come_due(world)

    world.sync()

    assert world.ledger("products", "p2").state == "excluded"
    assert world.ledger("products", "p2").reason == "deleted in the store"
    assert world.destination.writes["delete:Catalog_Default"] == 0


def test_a_refused_removal_of_a_deleted_product_is_retried_once_its_back_off_is_over(world):
    fill(world.store)
    world.sync()
    del world.store.products["p1"]
    world.destination.refuse["p1"] = "refused for now"

    fast_lane(world, ("products", "p1"))

    assert catalog(world) == {"p1", "p2"}
    row = world.ledger("products", "p1")
    assert row.state == "failed" and "deleted in the store, not yet removed" in row.reason
    world.destination.refuse.clear()
    retries_come_due(world)
    world.sync()
    assert catalog(world) == {"p2"}
    assert world.ledger("products", "p1").state == "excluded"


def test_a_removal_the_destination_cannot_take_now_waits_and_the_rest_goes_on(world):
    fill(world.store)
    world.sync()
    del world.store.products["p1"]
    world.store.orders["102"] = order(102, "c1@example.com", at(11), customer_id="1")
    world.destination.broken["delete:Catalog_Default"] = ConfigurationError(
        "Insight data is off", area="products"
    )

    run = fast_lane(world, ("products", "p1"), ("orders", "102"))

    assert run.status == "partial"
    assert "p1" in catalog(world) and "102" in world.destination.collections["Orders"]
    assert world.ledger("products", "p1").outbox["remove"] == "deleted in the store"
    del world.destination.broken["delete:Catalog_Default"]

    world.sync()  # nothing read names p1 again: the waiting removal is sent anyway

    assert catalog(world) == {"p2"}
    assert world.ledger("products", "p1").state == "excluded"
    assert world.destination.writes["delete:Catalog_Default"] == 1
