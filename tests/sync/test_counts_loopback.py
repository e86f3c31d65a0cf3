"""Over loopback (both emulators, the real plugins): each stream's counts add up for a cycle and
for the instant updates, and the Store tab's health equals an independent count of the
emulators' state."""

from __future__ import annotations

import pytest

from host.db import get_db
from host.models import Connection
from host.plugins import get_plugins
from host.sync import run_cycle, run_fast_lane
from host.sync.tally import CONTACTS, OUTCOMES
from host.web.merchant.health import store_health
from tests.sync.loopback import (
    StoreSize,
    actual_state,
    connected_loop,
    expected_state,
    wait_for_events,
)

SIZE = StoreSize(customers=40, subscribers=15, orders=60, products=8, seed=7)


@pytest.fixture
def loop(make_app):
    with connected_loop(make_app, SIZE) as parts:
        yield parts


def assert_adds_up(run) -> None:
    for name, counts in run.counts.items():
        if name != "enrolments":
            assert counts["read"] == sum(counts[outcome] for outcome in OUTCOMES), (name, counts)


def health_areas(app, connection_id: int) -> dict[str, dict]:
    with app.app_context(), get_db().transaction() as session:
        connection = session.get(Connection, connection_id)
        health = store_health(session, connection, max_attempts=5, source=get_plugins().source("bigcommerce"))
    return {area["key"]: area for area in health["health"]["areas"]}


def test_a_cycle_and_instant_updates_add_up_and_health_counts_the_account(loop):
    app, emulators, connection_id = loop
    with app.app_context():
        run = run_cycle(connection_id, trigger="manual")

    assert run.status == "finished", run.errors
    assert_adds_up(run)
    store = emulators.store()
    expected, actual = expected_state(store), actual_state(emulators.account())
    counts = run.counts
    assert counts["customers"]["read"] == counts["customers"]["sent"] == len(store["customers"])
    assert counts["orders"]["sent"] == len(expected["orders"]) == len(actual["orders"])
    assert counts["products"]["sent"] == len(expected["products"])
    assert counts[CONTACTS]["sent"] == len(actual["customers_book"]) + len(actual["subscribers_book"])

    areas = health_areas(app, connection_id)
    for area, part in (("customers", "customers_book"), ("subscribers", "subscribers_book"),
                       ("orders", "orders"), ("catalog", "products")):
        assert areas[area]["in_sync"] == len(expected[part]) == len(actual[part]), area
        assert areas[area]["waiting"] == areas[area]["attention"] == 0, area
    hidden = [p for p in store["products"] if not p.get("is_visible")]
    assert areas["catalog"]["excluded"] == len(hidden)
    not_opted_in = {s["email"].lower() for s in store["subscribers"]} - expected["subscribers_book"]
    assert areas["subscribers"]["excluded"] == len(not_opted_in)

    # Changes in the store arrive by the fast lane; its counts add up too, and a cycle after it.
    customer = emulators.create("customers", email="counted.once@example.org")
    emulators.create("orders", customer_id=customer["id"], status_id=11)
    product = next(p for p in store["products"] if p.get("is_visible"))
    emulators.update("products", int(product["id"]), is_visible=False)
    assert wait_for_events(app, connection_id, 3) >= 3
    with app.app_context():
        instant = run_fast_lane(connection_id)
        later = run_cycle(connection_id)
    assert instant.status == "finished" and later.status == "finished"
    assert_adds_up(instant)
    assert_adds_up(later)
    assert instant.counts["customers"]["sent"] == 1 and instant.counts["products"]["excluded"] == 1

    store = emulators.store()
    expected, actual = expected_state(store), actual_state(emulators.account())
    areas = health_areas(app, connection_id)
    for area, part in (("customers", "customers_book"), ("subscribers", "subscribers_book"),
                       ("orders", "orders"), ("catalog", "products")):
        assert areas[area]["in_sync"] == len(expected[part]) == len(actual[part]), area
    programs = [area for area in areas.values() if area["kind"] == "program"]
    enrolled = sum(area["in_sync"] for area in programs)
    assert enrolled == sum(len(e["contacts"]) for e in actual["enrolments"]) == 2  # welcome + first order
