"""Every stream completes with every record through 429 bursts and 5xx faults, within the call budget."""

from __future__ import annotations

import pytest

from emulators.bigcommerce.generator import StoreSpec
from host.testing.source_conformance import assert_matches_truth, read_all
from tests.bigcommerce.conftest import STORE_HASH, BigCommerceWorld, build_world
from tests.bigcommerce.truth import refusals, served_page, truth


@pytest.fixture
def medium_world(make_app):
    """A store big enough for several pages per stream (so faults land inside listings)."""
    spec = StoreSpec(
        store_hash=STORE_HASH, seed=9, customers=900, orders=1100, subscribers=600, products=600
    )
    app, emulator, server, sleeps = build_world(make_app, spec)
    yield BigCommerceWorld(app, "", emulator, server.url, sleeps)
    server.stop()


@pytest.mark.parametrize("send_retry_after", [True, False], ids=["x-retry-after", "reset-ms-only"])
def test_every_stream_completes_through_429_bursts_and_server_errors(
    medium_world, send_retry_after
):
    world = medium_world
    state = world.state()
    world.control("rate-limit", {"send_retry_after": send_retry_after, "burst_reset_ms": 1500})
    world.control(
        "faults", {"burst_429_every": 8, "burst_429_length": 3, "error_rate": 0.25, "seed": 3}
    )
    source, connection = world.source(), world.connection()
    with world.app.app_context():
        for stream in source.streams():
            assert_matches_truth(
                stream, read_all(source, connection, stream), truth(state, stream.name)
            )
    injected = world.control("faults", method="GET")["injected"]
    assert injected.get("429", 0) >= 6 and injected.get("error", 0) >= 3, (
        "faults were really injected"
    )
    expected_wait = (
        2.0 if send_retry_after else 1.5
    )  # X-Retry-After rounds 1.5 s up to whole seconds
    assert expected_wait in world.sleeps, "429s wait what BigCommerce asks for"


def test_ten_thousand_customers_and_orders_fit_the_call_budget(make_app):
    app, emulator, server, _sleeps = build_world(
        make_app,
        StoreSpec(
            store_hash=STORE_HASH,
            seed=5,
            customers=10_000,
            orders=10_000,
            subscribers=5,
            products=5,
        ),
    )
    store = emulator.extensions["bigcommerce_emulator"].stores[STORE_HASH]
    counter = emulator.extensions["bigcommerce_emulator"].counter
    modes = emulator.extensions["bigcommerce_emulator"].modes
    # a page a call, each next page starting at the last record read (one of 250 read again)
    budget = -(-10_000 // (served_page(modes) - 1)) + refusals(modes)  # 41 at 250 a page
    try:
        with app.app_context():
            source = app.extensions["host.plugins"].source("bigcommerce")
            connection = BigCommerceWorld(app, "", emulator, server.url, []).connection()
            customers = read_all(source, connection, source.stream("customers"))
            assert len({c["id"] for c in customers}) == 10_000
            assert counter.get("GET /stores/{store_hash}/v3/customers") <= budget

            orders = read_all(source, connection, source.stream("orders"))
        listed = [i for i in range(1, 10_001) if store.order_is_listed_by_default(i)]
        assert sorted(int(o["id"]) for o in orders) == listed
        calls = counter.snapshot()
        assert calls["GET /stores/{store_hash}/v2/orders"] <= budget
        assert not [key for key in calls if "/products" in key or "shipping_addresses" in key], (
            "no per-order calls"
        )
        with store.lock:
            expected_lines = sum(len(store.orders.get(i)["products"]) for i in listed)
        assert sum(len(o["items"]) for o in orders) == expected_lines, (
            "every line item came embedded"
        )
    finally:
        server.stop()
