"""An order archived or a product hidden after it was synced leaves the destination at the next
cycle, and comes back when restored; a failed removal is retried without holding anything up."""

from __future__ import annotations

import logging
import types

from host.destinations import Destination
from host.errors import ConfigurationError, TransientError
from host.sync import removals
from tests.sync.fakes import at, customer, order, product
from tests.sync.test_retries import retries_come_due


def fill(store):
    for cid in (1, 2):
        store.customers[str(cid)] = customer(cid, f"c{cid}@example.com", at(1, cid))
    store.orders["100"] = order(100, "c1@example.com", at(3), customer_id="1")
    store.orders["101"] = order(101, "c2@example.com", at(3, 1), customer_id="2")
    store.products["p1"] = product("p1", at(4))
    store.products["p2"] = product("p2", at(4, 1))


def archive_and_hide(store, day: int, *, archived: bool = True) -> None:
    store.orders["100"].update(is_deleted=archived, date_modified=at(day))
    store.products["p1"].update(is_visible=not archived, date_modified=at(day))


def held(world) -> tuple[set, set]:
    return set(world.destination.collections["Orders"]), set(
        world.destination.collections["Catalog_Default"]
    )


def test_archived_order_and_hidden_product_leave_and_come_back_when_restored(world):
    fill(world.store)
    world.sync()
    archive_and_hide(world.store, 5)

    run = world.sync()

    assert run.status == "finished"
    assert held(world) == ({"101"}, {"p2"})
    order_row, product_row = world.ledger("orders", "100"), world.ledger("products", "p1")
    assert (order_row.state, product_row.state) == ("excluded", "excluded")
    assert order_row.reason.startswith("archived in the store: removed from")
    assert product_row.reason.startswith("hidden in the store: removed from")
    assert world.destination.contacts["c1@example.com"]["books"] == {"B-customers"}

    archive_and_hide(world.store, 6, archived=False)
    world.sync()

    assert held(world) == ({"100", "101"}, {"p1", "p2"})
    assert world.ledger("orders", "100").state == "synced"
    writes = sum(world.destination.writes.values())
    world.sync()
    assert sum(world.destination.writes.values()) == writes  # nothing left to send or remove


def test_a_record_excluded_before_it_was_ever_sent_needs_no_removal(world):
    fill(world.store)
    archive_and_hide(world.store, 3)

    world.sync()
    world.sync()

    assert held(world) == ({"101"}, {"p2"})
    assert world.destination.writes["delete:Orders"] == 0
    assert world.destination.writes["delete:Catalog_Default"] == 0


def test_a_removal_hit_by_an_outage_or_refused_waits_and_the_rest_still_syncs(world):
    fill(world.store)
    world.sync()
    archive_and_hide(world.store, 5)
    world.store.orders["102"] = order(102, "c2@example.com", at(5, 1), customer_id="2")
    world.store.products["p3"] = product("p3", at(5, 1))
    world.destination.broken["delete:Orders"] = TransientError("Engagement Cloud kept failing")
    world.destination.refuse["p1"] = "refused for now"

    run = world.sync()

    assert held(world) == ({"100", "101", "102"}, {"p1", "p2", "p3"})  # new ones sent anyway
    order_row = world.ledger("orders", "100")  # an outage: the removal waits, no try counted
    assert (order_row.state, order_row.attempts) == ("pending", 0)
    assert order_row.outbox["remove"] == "archived in the store"
    assert run.errors["orders"] == "Engagement Cloud kept failing"
    product_row = world.ledger("products", "p1")  # a refusal: one try counted, then a wait
    assert (product_row.state, product_row.attempts) == ("failed", 1)
    assert run.counts["products"]["failed"] == 1

    del world.destination.broken["delete:Orders"], world.destination.refuse["p1"]
    retries_come_due(world)
    world.sync()  # nothing changed in the store: the waiting removal goes, the refused is re-read

    assert held(world) == ({"101", "102"}, {"p2", "p3"})
    assert world.ledger("orders", "100").state == "excluded"
    assert world.ledger("products", "p1").state == "excluded"


def test_an_order_restored_while_its_removal_waits_is_kept(world):
    fill(world.store)
    world.sync()
    archive_and_hide(world.store, 5)
    world.destination.broken["delete:Orders"] = ConfigurationError("Insight is off", area="orders")
    run = world.sync()  # the orders area pauses: the removal stays in the outbox
    assert run.status == "partial" and "100" in world.destination.collections["Orders"]
    assert world.ledger("orders", "100").outbox["remove"] == "archived in the store"

    archive_and_hide(world.store, 6, archived=False)
    del world.destination.broken["delete:Orders"]
    world.sync()

    assert held(world) == ({"100", "101"}, {"p1", "p2"})
    assert world.ledger("orders", "100").state == "synced"
    assert world.destination.writes["delete:Orders"] == 0


def test_a_destination_that_cannot_remove_keeps_excluding_and_says_so_once(
    world, caplog, monkeypatch
):
    monkeypatch.setattr(removals, "_told_cannot_remove", set())
    world.destination.delete_records = types.MethodType(
        Destination.delete_records, world.destination
    )  # a destination written before delete_records existed
    fill(world.store)
    world.sync()
    archive_and_hide(world.store, 5)

    with caplog.at_level(logging.WARNING, logger="host.sync.removals"):
        run = world.sync()
        world.store.orders["101"].update(is_deleted=True, date_modified=at(6))
        world.sync()

    assert run.status == "finished"
    assert world.ledger("orders", "100").state == "excluded"
    assert world.ledger("products", "p1").state == "excluded"
    assert held(world) == ({"100", "101"}, {"p1", "p2"})  # the limitation, stated in the log
    assert [r.message for r in caplog.records].count(
        "destination fake_dest cannot remove records: archived orders and hidden products stay there"
    ) == 1
    archive_and_hide(world.store, 7, archived=False)
    world.sync()
    assert world.ledger("orders", "100").state == "synced"  # restored: sent again


def test_a_guest_whose_only_order_is_archived_leaves_the_customers_book_and_one_with_another_stays(world):
    fill(world.store)
    world.store.orders["200"] = order(200, "once@example.com", at(3, 2))
    world.store.orders["201"] = order(201, "twice@example.com", at(3, 3))
    world.store.orders["202"] = order(202, "twice@example.com", at(3, 4))
    world.sync()
    assert {"once@example.com", "twice@example.com"} <= world.destination.book("B-customers")

    for order_id in ("200", "202"):
        world.store.orders[order_id].update(is_deleted=True, date_modified=at(5))
    world.sync()

    customers_book = world.destination.book("B-customers")
    assert "once@example.com" not in customers_book and "twice@example.com" in customers_book
    assert set(world.destination.collections["Orders"]) == {"100", "101", "201"}
    world.store.orders["203"] = order(203, "once@example.com", at(6))  # back, with a repeat order
    world.sync()
    assert "once@example.com" in world.destination.book("B-customers")
    assert world.destination.enrolments == []  # not a first order: the archived one was
