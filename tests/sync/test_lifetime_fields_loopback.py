"""Lifetime order fields end to end over loopback (both emulators, a live host, the real
plugins): a guest's number of orders, total spent, average order value, first and last order
date and last order number land in Engagement Cloud's contact data fields, and follow the
store's orders in the next cycle and through the fast lane; only the contacts whose values
changed are sent again."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from email.utils import parsedate_to_datetime

from host.db import get_db
from host.models import Connection
from host.plugins import get_plugins
from host.sync import run_fast_lane
from tests.sync.loopback import StoreSize, connected_loop, wait_for_events
from tests.sync.test_field_mapping_loopback import (
    ContactWrites,
    change_mapping,
    cycle,
    emails,
    imports_only,
)

SIZE = StoreSize(customers=40, subscribers=15, orders=80, products=3, seed=31)
GUEST = "lifetime.guest@example.org"
LIFETIME = {
    "order_count": "NUMBER_OF_ORDERS",
    "total_spent": "TOTAL_SPEND",
    "average_order_value": "AVERAGE_ORDER_VALUE",
    "first_order_date": "FIRST_ORDER_DATE",
    "last_order_date": "LAST_ORDER_DATE",
    "last_order_number": "LAST_ORDER_NUMBER",
}
MAPPING = {"first_name": "FIRSTNAME", "last_name": "LASTNAME", "billing_postcode": "POSTCODE", **LIFETIME}
CENTS = Decimal("0.01")


def moment(rfc2822: str) -> datetime:
    return parsedate_to_datetime(rfc2822).astimezone(UTC)


def expected(orders: list[dict]) -> dict:
    """What the fields must hold for these (counting) orders, as the store shows them."""
    spent = sum(Decimal(o["total_inc_tax"]) - Decimal(o["refunded_amount"]) for o in orders)
    latest = max(orders, key=lambda o: (moment(o["date_created"]), o["id"]))
    return {
        "NUMBER_OF_ORDERS": len(orders),
        "TOTAL_SPEND": float(spent.quantize(CENTS)),
        "AVERAGE_ORDER_VALUE": float((spent / len(orders)).quantize(CENTS)),
        "FIRST_ORDER_DATE": min(moment(o["date_created"]) for o in orders),
        "LAST_ORDER_DATE": moment(latest["date_created"]),
        "LAST_ORDER_NUMBER": str(latest["id"]),
    }


def in_engagement_cloud(emulators, email: str) -> dict:
    contact = next(c for c in emulators.account()["contacts"] if c["email"].lower() == email)
    values = {name: contact["dataFields"].get(name) for name in LIFETIME.values()}
    for name in ("FIRST_ORDER_DATE", "LAST_ORDER_DATE"):
        values[name] = datetime.fromisoformat(values[name].replace("Z", "+00:00"))
    return values


def through_the_fast_lane(app, connection_id: int, change) -> dict:
    """Make a change in the store (answers what ``change`` answers), wait for its webhook to
    reach the inbox, and run the fast lane."""
    waiting = wait_for_events(app, connection_id, 0, seconds=0)
    result = change()
    assert wait_for_events(app, connection_id, waiting + 1) > waiting
    with app.app_context():
        assert run_fast_lane(connection_id).status == "finished"
    return result


def guest_order(emulators, **fields) -> dict:
    return emulators.create("orders", customer_id=0, billing_address={"email": GUEST}, **fields)


def test_a_guests_lifetime_fields_follow_its_orders_in_the_cycle_and_the_fast_lane(make_app, monkeypatch):
    writes = ContactWrites(monkeypatch)
    with connected_loop(imports_only(make_app), SIZE) as (app, emulators, connection_id):
        counted = [guest_order(emulators, status_id=11) for _ in range(3)]
        guest_order(emulators, status_id=0)  # Incomplete: does not count
        archived = guest_order(emulators, status_id=10)
        emulators.delete("orders", archived["id"])  # archived: does not count
        # The merchant creates the fields (the tab's Create buttons) and maps them.
        with app.app_context(), get_db().transaction() as session:
            connection = session.get(Connection, connection_id)
            created = get_plugins().destination("engagement_cloud").create_missing_data_fields(connection, MAPPING)
        assert {(field.name, field.type) for field in created} >= {
            ("NUMBER_OF_ORDERS", "Numeric"), ("TOTAL_SPEND", "Numeric"), ("AVERAGE_ORDER_VALUE", "Numeric"),
            ("FIRST_ORDER_DATE", "Date"), ("LAST_ORDER_DATE", "Date"), ("LAST_ORDER_NUMBER", "String"),
        }
        change_mapping(app, connection_id, MAPPING)
        with app.app_context(), get_db().transaction() as session:  # the tab names the store's currency
            connection = session.get(Connection, connection_id)
            source = get_plugins().sources["bigcommerce"]
            assert connection.source_data["currency"] == "USD"  # saved at install
            connection.source_data = {k: v for k, v in connection.source_data.items() if k != "currency"}
            assert source.currency(connection) == "USD"  # installed before it was saved: asked once, kept
            assert connection.source_data["currency"] == "USD"

        cycle(app, connection_id)
        assert in_engagement_cloud(emulators, GUEST) == expected(counted)
        backfill = writes.new()
        customers_with_orders = {
            c["email"].lower() for c in emulators.account()["contacts"] if c["dataFields"].get("NUMBER_OF_ORDERS")
        }
        assert GUEST in customers_with_orders and len(customers_with_orders) > 10  # registered ones too
        assert GUEST in emails(backfill)

        # A fourth order, found by the next cycle: only the guest is sent again.
        counted.append(guest_order(emulators, status_id=11))
        cycle(app, connection_id)
        assert in_engagement_cloud(emulators, GUEST) == expected(counted)
        assert emails(writes.new()) == {GUEST}

        # A fifth, through its webhook and the fast lane.
        counted.append(through_the_fast_lane(app, connection_id, lambda: guest_order(emulators, status_id=11)))
        assert in_engagement_cloud(emulators, GUEST) == expected(counted)
        assert emails(writes.new()) == {GUEST}

        # A refund lowers the total; archiving a counted order takes it off (both by webhook).
        refund = Decimal(counted[1]["total_inc_tax"]) / 2
        counted[1] = through_the_fast_lane(app, connection_id, lambda: emulators.update(
            "orders", counted[1]["id"], refunded_amount=str(refund), status_id=14))
        assert in_engagement_cloud(emulators, GUEST)["TOTAL_SPEND"] == expected(counted)["TOTAL_SPEND"]
        assert emails(writes.new()) == {GUEST}

        through_the_fast_lane(app, connection_id, lambda: emulators.delete("orders", counted[0]["id"]))
        assert in_engagement_cloud(emulators, GUEST) == expected(counted[1:])
        assert emails(writes.new()) == {GUEST}

        # Nothing changed since: the cycle sends nobody again.
        cycle(app, connection_id)
        assert writes.new() == []
