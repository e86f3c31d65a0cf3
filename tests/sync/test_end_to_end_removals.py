"""Over loopback: an order archived and a product hidden in the store after they were synced
leave Engagement Cloud, everything else stays as it was, and both come back when restored; a
product deleted outright leaves Catalog_Default too.

The periodic cycle alone finds the archived order (its archived-orders pass, which runs at least
once an hour even when no order changed) and the hidden
product (the product listing includes hidden products, flagged), so a lost webhook loses
nothing. A deleted product is no longer listed: its webhook names it, the fast lane reads it by
id, gets nothing back, and removes what was sent."""

from __future__ import annotations

import time
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from host.db import get_db
from host.models import WebhookEvent
from host.sync import run_fast_lane
from plugins.bigcommerce import source as bigcommerce_source
from tests.sync.loopback import StoreSize, connected_loop
from tests.sync.test_end_to_end import Loop, assert_exact_state

CONTACT_RECORDS = "/insightData/v3/contacts/{identifier}/{value}/{collectionName}"
CATALOG_DELETE = "DELETE /insightData/v3/accounts/{collectionName}/deleteRecords"
SIZE = StoreSize(customers=40, subscribers=15, orders=80, products=12, seed=5)


@pytest.fixture
def small_loop(make_app):
    with connected_loop(make_app, SIZE) as parts:
        yield Loop(*parts)


def _fast_lane_after_product_event(loop: Loop, product_id: str) -> None:
    """Run the fast lane once the product's webhook is in the inbox."""
    deadline = time.monotonic() + 15
    while not _waiting(loop, product_id):
        assert time.monotonic() < deadline, "the product's webhook never reached the inbox"
        time.sleep(0.05)
    with loop.app.app_context():
        assert run_fast_lane(loop.connection_id).status == "finished"


def _waiting(loop: Loop, product_id: str) -> bool:
    with loop.app.app_context(), get_db().transaction() as session:
        return (
            session.scalar(
                select(func.count(WebhookEvent.id)).where(
                    WebhookEvent.connection_id == loop.connection_id,
                    WebhookEvent.stream == "products",
                    WebhookEvent.record_id == product_id,
                    WebhookEvent.processed_at.is_(None),
                )
            )
            > 0
        )


def _without(state: dict, order_id: str, product_id: str) -> dict:
    """What must not change: contacts and books, and the other orders and products."""
    return {
        "customers_book": state["customers_book"],
        "subscribers_book": state["subscribers_book"],
        "contacts": set(state["contacts"]),
        "orders": state["orders"] - {order_id},
        "products": state["products"] - {product_id},
    }


def test_archived_order_and_hidden_product_leave_engagement_cloud_and_come_back(small_loop, monkeypatch):
    loop = small_loop
    assert loop.cycle(trigger="cli").status == "finished"
    before = assert_exact_state(loop)
    order_id, product_id = min(before["orders"], key=int), min(before["products"], key=int)

    loop.emulators.update("orders", int(order_id), is_deleted=True)
    loop.emulators.update("products", int(product_id), is_visible=False)
    hour_later = bigcommerce_source.utcnow() + timedelta(hours=1)  # the archived pass is due
    monkeypatch.setattr(bigcommerce_source, "utcnow", lambda: hour_later)
    assert loop.cycle().status == "finished"  # the webhook inbox is left alone: no fast lane

    after = assert_exact_state(loop)
    assert order_id not in after["orders"] and product_id not in after["products"]
    assert _without(after, order_id, product_id) == _without(before, order_id, product_id)
    _fast_lane_after_product_event(loop, product_id)  # the late webhook changes nothing more
    assert assert_exact_state(loop) == after
    calls = loop.emulators.engagement_cloud_state()["requests"]
    assert calls[f"DELETE {CONTACT_RECORDS}/deleteRecords"] == 1  # removed once, not again
    assert calls[CATALOG_DELETE] == 1

    loop.emulators.update("orders", int(order_id), is_deleted=False)
    loop.emulators.update("products", int(product_id), is_visible=True)
    assert loop.cycle().status == "finished"  # both changed since the cursor: read and re-sent

    restored = assert_exact_state(loop)
    assert order_id in restored["orders"] and product_id in restored["products"]
    assert _without(restored, "", "") == _without(before, "", "")


def test_a_product_deleted_in_the_store_leaves_catalog_default_through_the_fast_lane(small_loop):
    loop = small_loop
    assert loop.cycle(trigger="cli").status == "finished"
    before = assert_exact_state(loop)
    product_id = max(before["products"], key=int)

    loop.emulators.delete("products", int(product_id))
    _fast_lane_after_product_event(loop, product_id)

    after = assert_exact_state(loop)  # the store no longer holds it: neither does the catalog
    assert product_id not in after["products"]
    assert _without(after, "", product_id) == _without(before, "", product_id)
    assert loop.emulators.engagement_cloud_state()["requests"][CATALOG_DELETE] == 1
    assert loop.cycle().status == "finished"  # the next cycle has nothing left to remove
    assert assert_exact_state(loop) == after
    assert loop.emulators.engagement_cloud_state()["requests"][CATALOG_DELETE] == 1
