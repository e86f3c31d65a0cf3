"""The IP behind each subscriber's consent comes from what the store recorded: the order of a
checkout opt-in, else the store account's registration; nothing made up, and a few calls a page."""

from __future__ import annotations

import ipaddress

from host.sources import Stream
from plugins.bigcommerce import consent


def test_only_real_ip_addresses_are_kept():
    assert consent.valid_ip(" 203.0.113.9 ") == "203.0.113.9"
    assert consent.valid_ip("2001:DB8::1") == "2001:db8::1"
    for value in ("", None, "00.000.000.000", "unknown", "203.0.113"):  # the reference's own example is invalid
        assert consent.valid_ip(value) is None
    assert consent.order_ip({"ip_address": "", "ip_address_v6": "2001:db8::7"}) == "2001:db8::7"


def test_order_ids_are_fetched_in_windows_no_wider_than_a_page():
    assert consent._windows([5, 1, 250, 251, 900, 5]) == [(1, 250), (251, 251), (900, 900)]
    assert consent._windows([]) == []


def read_subscribers(bigcommerce) -> list[dict]:
    connection = bigcommerce.connection()
    source = bigcommerce.source()
    stream: Stream = source.stream("subscribers")
    with bigcommerce.app.app_context():
        return [record for page in source.read(connection, stream) for record in page.records]


def test_each_opted_in_subscriber_gets_the_ip_the_store_recorded(bigcommerce):
    before = bigcommerce.requests_made()
    records = {record["email"].lower(): record for record in read_subscribers(bigcommerce)}
    made = {call: count - before.get(call, 0) for call, count in bigcommerce.requests_made().items()}

    store = bigcommerce.state()
    orders = {order["id"]: order for order in store["orders"]}
    registered = {c["email"].lower(): c["registration_ip_address"] for c in store["customers"]}
    kinds = set()
    for subscriber in store["subscribers"]:
        record = records[subscriber["email"].lower()]
        assert record["consent"]["user_agent"] is None  # BigCommerce keeps no browser
        if not record["opted_in"]:
            assert record["consent"]["ip"] is None  # not looked up: no consent to record
            continue
        order = orders.get(subscriber["order_id"])
        expected = (order and order["ip_address"]) or registered.get(subscriber["email"].lower()) or None
        assert record["consent"]["ip"] == expected, subscriber
        if expected:
            ipaddress.ip_address(expected)
            kinds.add("order" if order else "registration")
        else:
            kinds.add("none")
    assert kinds == {"order", "registration", "none"}
    # a handful of look-up calls for the whole listing, not one per subscriber
    lookups = sum(count for call, count in made.items() if "/v2/orders" in call or call.endswith("/v3/customers"))
    assert 0 < lookups <= 8, made


def test_a_listing_of_many_pages_looks_its_checkout_orders_up_together(make_app):
    """Read page by page, the checkout opt-ins' orders (scattered over the pages) are still looked
    up in windows over the whole listing, each window once, and every IP is the store's."""
    from emulators.bigcommerce.generator import StoreSpec
    from plugins.bigcommerce.client import BigCommerceClient
    from tests.bigcommerce.conftest import STORE_HASH, BigCommerceWorld, build_world

    spec = StoreSpec(store_hash=STORE_HASH, seed=9, customers=300, orders=3000, subscribers=700, products=5)
    app, emulator, server, sleeps = build_world(make_app, spec)
    world = BigCommerceWorld(app, "", emulator, server.url, sleeps)
    # windows and pages as a store serving 250 a page makes them (smaller pages: test_modes.py)
    world.control("modes", {"max_page_size": 250, "over_limit": "refused"}, "PATCH")
    asked: list[dict] = []
    answer = BigCommerceClient.request

    def recording(self, method, path, **kwargs):
        if path == "/v2/orders" and "min_id" in (kwargs.get("params") or {}):
            asked.append(dict(kwargs["params"]))
        return answer(self, method, path, **kwargs)

    try:
        BigCommerceClient.request = recording
        pages = 0
        source, connection = world.source(), world.connection()
        with app.app_context():
            records = {}
            for page in source.read(connection, source.stream("subscribers")):
                pages += 1
                records.update({r["email"].lower(): r for r in page.records})
    finally:
        BigCommerceClient.request = answer
        server.stop()
    assert pages >= 3
    checkout = {int(r["order_id"]) for r in records.values() if r["opted_in"] and r["order_id"]}
    windows = consent._windows(checkout)
    assert len(checkout) > 20 and len(windows) > pages
    assert len({(q["min_id"], q["max_id"]) for q in asked}) == len(windows)  # each window once
    assert len(asked) <= 2 * len(windows)  # (and once more among archived orders when missing)
    assert all(r["consent"]["ip"] for r in records.values() if r["opted_in"] and r["order_id"])
