"""Consent records from real facts, end to end over loopback: each subscriber's consent carries
the IP the store recorded (the checkout order's for an opt-in at checkout, else the store
account's registration IP), and it is sent when the consent is given: a second sync, or a
change to the contact, never adds another; subscribing again does.

The Engagement Cloud emulator is told to keep every consent record it receives, even one
identical to a record the contact has (``keep_every_consent_record``), so any repeat shows."""

from __future__ import annotations

import ipaddress

import pytest
import requests

from host.sync import run_cycle
from tests.sync.loopback import API_USER, StoreSize, actual_state, connected_loop, expected_state

SIZE = StoreSize(customers=40, subscribers=30, orders=80, products=4, seed=23)
UNKNOWN_IP = "0.0.0.0"


@pytest.fixture
def loop(make_app):
    with connected_loop(make_app, SIZE) as (app, emulators, connection_id):
        requests.patch(f"{emulators.engagement_cloud.url}/_emulator/accounts/{API_USER}",
                       json={"keep_every_consent_record": True}, timeout=30).raise_for_status()

        def cycle():
            with app.app_context():
                run = run_cycle(connection_id)
            assert run.status == "finished", run.errors
            return run

        yield emulators, cycle


def valid(ip: str | None) -> str | None:
    try:
        return str(ipaddress.ip_address(ip or ""))
    except ValueError:
        return None


def store_ips(store: dict) -> dict[str, str]:
    """Opted-in subscriber email → the IP the store holds for the opt-in, as the test reads it."""
    orders = {order["id"]: order for order in store["orders"]}
    registered = {customer["email"].lower(): customer.get("registration_ip_address") for customer in store["customers"]}
    ips = {}
    for subscriber in store["subscribers"]:
        email = subscriber["email"].lower()
        order = orders.get(subscriber.get("order_id"))
        ip = valid(order["ip_address"]) if order else None
        ips[email] = ip or valid(registered.get(email)) or UNKNOWN_IP
    return ips


def consents(emulators) -> dict[str, list[dict]]:
    contacts = actual_state(emulators.account())["contacts"]
    return {email: contact["consentRecords"] for email, contact in contacts.items()}


def test_consent_records_carry_the_stores_ips_and_are_sent_once_per_consent(loop):
    emulators, cycle = loop
    cycle()

    store = emulators.store()
    subscribed = expected_state(store)["subscribers_book"]
    ips, records = store_ips(store), consents(emulators)
    assert subscribed, "the generated store has opted-in subscribers"
    for email in subscribed:
        assert [(r["ipAddress"], r["userAgent"]) for r in records[email]] == [(ips[email], "unknown")], email
    # every kind of fact occurs: an order's IP, a registration IP, and nothing known
    by_order = {s["email"].lower() for s in store["subscribers"] if s.get("order_id")}
    assert any(email in by_order and ips[email] != UNKNOWN_IP for email in subscribed)
    assert any(email not in by_order and ips[email] != UNKNOWN_IP for email in subscribed)
    assert len({ips[email] for email in subscribed}) > 3
    # people who are only customers get no consent record at all
    customers_only = set(expected_state(store)["customers_book"]) - set(subscribed)
    assert customers_only and all(records[email] == [] for email in customers_only)

    # A second sync sends nothing, so no second record.
    writes = emulators.engagement_cloud_writes()
    cycle()
    assert emulators.engagement_cloud_writes() == writes
    assert all(len(consents(emulators)[email]) == 1 for email in subscribed)

    # A change to a subscribed customer is sent, without its consent again.
    customer = next(c for c in store["customers"] if c["email"].lower() in subscribed)
    emulators.update("customers", customer["id"], last_name="Consentson")
    cycle()
    contact = actual_state(emulators.account())["contacts"][customer["email"].lower()]
    assert contact["dataFields"]["LASTNAME"] == "Consentson"
    assert len(contact["consentRecords"]) == 1

    # Unsubscribing and subscribing again is a new consent: it gets its own record.
    subscriber = next(s for s in store["subscribers"] if s["email"].lower() == customer["email"].lower())
    emulators.update("subscribers", subscriber["id"], consents=[])
    cycle()
    assert customer["email"].lower() not in actual_state(emulators.account())["subscribers_book"]
    emulators.update("subscribers", subscriber["id"], consents=["marketing_newsletter"])
    cycle()
    records = consents(emulators)[customer["email"].lower()]
    assert [r["ipAddress"] for r in records] == [ips[customer["email"].lower()]] * 2
