"""A change that arrives after its look-alike was already synced is not lost."""

from __future__ import annotations

import json

import requests
from sqlalchemy import update

from host.db import get_db
from host.models import WebhookEvent, utcnow
from plugins.bigcommerce.webhooks import SECRET_HEADER
from tests.bigcommerce.conftest import STORE_HASH
from tests.bigcommerce.test_webhooks import inbox, ready

# A product hidden and shown again within one second: BigCommerce sends two events with the same
# hash and created_at, exactly like a redelivery of one event.
EVENT = {
    "scope": "store/product/updated",
    "store_id": "1025646",
    "data": {"type": "product", "id": 77},
    "hash": "0f3c5b2a9e8d7c6b5a4f3e2d1c0b9a8f7e6d5c4b",
    "created_at": 1795814000,
    "producer": f"stores/{STORE_HASH}",
}


def deliver(world, connection) -> int:
    headers = {SECRET_HEADER: connection.webhook_secret["value"], "Content-Type": "application/json"}
    url = f"{world.host_url}/bigcommerce/webhooks"
    return requests.post(url, data=json.dumps(EVENT), headers=headers, timeout=10).status_code


def mark_processed(world) -> None:
    with world.app.app_context(), get_db().transaction() as session:
        session.execute(update(WebhookEvent).values(processed_at=utcnow()))


def test_an_event_seen_again_after_it_was_processed_is_queued_again(bigcommerce):
    connection = ready(bigcommerce)
    assert deliver(bigcommerce, connection) == 200
    first = inbox(bigcommerce)
    assert [(e.stream, e.record_id, e.processed_at) for e in first] == [("products", "77", None)]

    assert deliver(bigcommerce, connection) == 200  # before the fast lane ran: still one row
    assert len(inbox(bigcommerce)) == 1

    mark_processed(bigcommerce)  # the fast lane read product 77
    assert deliver(bigcommerce, connection) == 200  # the second change, same second
    [again] = inbox(bigcommerce)
    assert again.id == first[0].id
    assert again.processed_at is None, "the later change must be read again"
    assert again.received_at > first[0].received_at
