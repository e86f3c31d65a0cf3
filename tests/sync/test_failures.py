"""A bad record never blocks the rest; a paused area never stops the others."""

from __future__ import annotations

from sqlalchemy import select

from host.errors import ConfigurationError, TransientError
from host.models import ConnectionProblem, StreamCursor
from tests.sync.fakes import at, customer, order, product
from tests.sync.test_cycle import fill_history
from tests.sync.test_retries import retries_come_due


def test_a_refused_order_fails_alone_is_retried_up_to_the_cap_and_again_when_it_changes(world):
    fill_history(world.store)
    world.destination.refuse["100"] = "JsonValueIncompatibleWithSchema"

    world.sync()
    assert set(world.destination.collections["Orders"]) == {"101", "104"}
    entry = world.ledger("orders", "100")
    assert (entry.state, entry.reason, entry.attempts) == (
        "failed",
        "JsonValueIncompatibleWithSchema",
        1,
    )
    cursor = world.query(select(StreamCursor.value).where(StreamCursor.stream == "orders"))[0]
    assert cursor == at(3, 4)  # past the failed record

    world.sync()
    assert world.destination.writes["Orders"] == 3  # not again before its back-off is over
    for _ in range(3):  # max_attempts is 3 in these tests: the fourth cycle does not try again
        retries_come_due(world)
        world.sync()
    assert world.destination.writes["Orders"] == 3 + 2
    assert world.ledger("orders", "100").attempts == 3

    del world.destination.refuse["100"]
    world.store.orders["100"].update(status="Shipped", date_modified=at(7))
    world.sync()
    assert world.destination.collections["Orders"]["100"]["status"] == "Shipped"
    assert world.ledger("orders", "100").state == "synced"


def test_a_refused_contact_is_retried_in_later_cycles(world):
    fill_history(world.store)
    world.destination.refuse["c3@example.com"] = "invalid email domain"
    world.sync()
    assert "c3@example.com" not in world.destination.contacts

    del world.destination.refuse["c3@example.com"]
    retries_come_due(world)
    world.sync()

    assert "c3@example.com" in world.destination.book("B-customers")
    assert world.ledger("customer_contact", "c3@example.com").state == "synced"


def test_an_invalid_source_record_is_failed_with_its_reason_and_the_rest_syncs(world):
    world.store.customers["1"] = customer(1, "c1@example.com", at(1))
    world.store.customers["2"] = customer(2, "not-an-email", at(1, 1))

    run = world.sync()

    assert world.destination.book("B-customers") == {"c1@example.com"}
    entry = world.ledger("customers", "2")
    assert entry.state == "failed" and "email" in entry.reason
    assert run.counts["customers"]["failed"] == 1


def test_a_disabled_feature_pauses_its_area_shows_why_and_clears_when_it_works(world):
    fill_history(world.store)
    world.destination.broken["Orders"] = ConfigurationError(
        "Insight data is not enabled on this account", area="orders", code="insight_disabled"
    )

    run = world.sync()

    assert run.status == "partial"
    assert world.destination.collections["Orders"] == {}
    assert set(world.destination.collections["Catalog_Default"]) == {"p1"}
    assert "guest@example.com" in world.destination.book(
        "B-customers"
    )  # guests still come from orders
    problems = world.query(select(ConnectionProblem))
    assert [(p.code, p.area) for p in problems] == [("insight_disabled", "orders")]
    assert world.query(select(StreamCursor.value).where(StreamCursor.stream == "orders")) == [None]

    del world.destination.broken["Orders"]
    run = world.sync()

    assert set(world.destination.collections["Orders"]) == {"100", "101", "104"}
    assert world.query(select(ConnectionProblem)) == []
    assert run.status == "finished"


def test_a_transient_outage_stops_one_stream_and_loses_nothing(world):
    world.store.products["p1"] = product("p1", at(4))
    world.store.customers["1"] = customer(1, "c1@example.com", at(1))
    world.destination.broken["Catalog_Default"] = TransientError("429 Too Many Requests")

    run = world.sync()
    assert run.errors == {"products": "429 Too Many Requests"}
    assert world.destination.book("B-customers") == {"c1@example.com"}

    del world.destination.broken["Catalog_Default"]
    world.sync()
    assert set(world.destination.collections["Catalog_Default"]) == {"p1"}


def test_a_deleted_book_pauses_contacts_and_orders_then_resends_every_contact_once_fixed(world):
    fill_history(world.store)
    world.destination.broken["contacts"] = ConfigurationError(
        "The address book B-customers no longer exists", area="contacts", code="book_missing"
    )

    world.sync()
    assert world.destination.contacts == {} and world.destination.collections["Orders"] == {}
    assert set(world.destination.collections["Catalog_Default"]) == {"p1"}

    del world.destination.broken["contacts"]
    world.save("contacts", {"customers_book_id": "B-new"})
    world.sync()

    assert world.destination.book("B-new") == {f"c{i}@example.com" for i in range(1, 6)} | {
        "guest@example.com"
    }
    assert set(world.destination.collections["Orders"]) == {"100", "101", "104"}
    assert world.query(select(ConnectionProblem)) == []


def test_guest_orders_never_reach_the_destination_before_their_contact(world):
    world.store.orders["1"] = order(1, "Only.Guest@example.com", at(3))
    world.save("contacts", {"customers_book_id": None})

    world.sync()

    assert set(world.destination.collections["Orders"]) == {"1"}
    assert world.destination.contacts["only.guest@example.com"]["books"] == set()
