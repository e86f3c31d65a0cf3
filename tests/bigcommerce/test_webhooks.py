"""Webhooks: registered on connect, received once into the inbox, deleted on removal."""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import requests
from sqlalchemy import select

from host import connections
from host.db import get_db
from host.models import WebhookEvent, utcnow
from host.web.merchant.status import sync_status
from plugins.bigcommerce.webhooks import HOOK_SCOPES, SECRET_HEADER
from tests.bigcommerce.conftest import STORE_HASH


def inbox(world) -> list[WebhookEvent]:
    with world.app.app_context():
        return list(get_db().session.scalars(select(WebhookEvent).order_by(WebhookEvent.id)))


def ready(world):
    """An installed connection whose destination is connected: the hooks get registered."""
    world.panel("install")
    with world.app.app_context():
        session = get_db().session
        connection = connections.find(session, "bigcommerce", STORE_HASH)
        world.app.extensions["host.plugins"].connection_ready(connection)
        session.commit()
        return connection


def test_connect_registers_every_hook_once_with_the_secret_header(bigcommerce):
    connection = ready(bigcommerce)
    ready(bigcommerce)  # connecting again (e.g. to another account) must not duplicate hooks
    hooks = bigcommerce.state()["hooks"]
    assert sorted(hook["scope"] for hook in hooks) == sorted(HOOK_SCOPES)
    assert {hook["destination"] for hook in hooks} == {
        f"{bigcommerce.host_url}/bigcommerce/webhooks"
    }
    assert all(
        hook["headers"] == {SECRET_HEADER: connection.webhook_secret["value"]} for hook in hooks
    )


def test_store_changes_reach_the_inbox_once_per_event(bigcommerce):
    ready(bigcommerce)
    store = f"stores/{STORE_HASH}"
    bigcommerce.control(f"{store}/customers/3", {"first_name": "Changed"}, "PUT")
    bigcommerce.control(f"{store}/orders", {"customer_id": 0})
    bigcommerce.control(
        f"{store}/subscribers",
        {"email": "hooked@example.com", "consents": ["marketing_newsletter"]},
    )
    bigcommerce.control("webhooks?wait=10", method="GET")
    events = {(event.stream, event.record_id) for event in inbox(bigcommerce)}
    assert ("customers", "3") in events
    assert any(stream == "orders" for stream, _ in events)
    assert any(stream == "subscribers" for stream, _ in events)


def test_receiver_rejects_a_wrong_secret_and_stores_duplicates_once(bigcommerce):
    connection = ready(bigcommerce)
    url = f"{bigcommerce.host_url}/bigcommerce/webhooks"
    event = {
        "scope": "store/order/statusUpdated",
        "store_id": "1025646",
        "data": {"type": "order", "id": 250},
        "hash": "dd70c0976e06b67aaf671e73f49dcb79230ebf9d",
        "created_at": 1561479335,
        "producer": f"stores/{STORE_HASH}",
    }
    body = json.dumps(event)
    assert (
        requests.post(url, data=body, headers={SECRET_HEADER: "wrong"}, timeout=10).status_code
        == 401
    )
    assert requests.post(url, data=body, timeout=10).status_code == 401
    assert inbox(bigcommerce) == []

    headers = {
        SECRET_HEADER: connection.webhook_secret["value"],
        "Content-Type": "application/json",
    }
    with ThreadPoolExecutor(
        max_workers=6
    ) as pool:  # BigCommerce re-delivers; deliveries may overlap
        statuses = list(
            pool.map(
                lambda _: requests.post(url, data=body, headers=headers, timeout=10).status_code,
                range(6),
            )
        )
    assert statuses == [200] * 6
    stored = inbox(bigcommerce)
    assert [(e.stream, e.record_id) for e in stored] == [("orders", "250")]
    address_event = {
        **event,
        "scope": "store/customer/address/updated",
        "hash": "a" * 40,
        "data": {"type": "customer", "id": 60, "address": {"customer_id": 32}},
    }
    requests.post(url, data=json.dumps(address_event), headers=headers, timeout=10)
    assert ("customers", "32") in [(e.stream, e.record_id) for e in inbox(bigcommerce)]


def test_remove_connection_deletes_the_hooks(bigcommerce):
    connection = ready(bigcommerce)
    assert bigcommerce.state()["hooks"]
    with bigcommerce.app.app_context():
        session = get_db().session
        connections.remove(
            session, bigcommerce.app.extensions["host.plugins"], session.merge(connection)
        )
        session.commit()
    assert bigcommerce.state()["hooks"] == []


def store_tab_problems(world) -> list[dict]:
    with world.app.app_context():
        session = get_db().session
        connection = connections.find(session, "bigcommerce", STORE_HASH)
        return sync_status(session, connection)["problems"]


def test_a_refused_registration_is_shown_on_the_store_tab_until_a_later_one_works(bigcommerce):
    bigcommerce.control(
        "faults", {"error_rate": 1.0, "error_statuses": [422], "only_paths": ["/v3/hooks"]}
    )
    connection = ready(bigcommerce)  # connecting still succeeds
    assert bigcommerce.state()["hooks"] == []
    [problem] = store_tab_problems(bigcommerce)
    assert (problem["code"], problem["area"]) == ("webhooks_not_registered", "webhooks")
    assert f"{bigcommerce.host_url}/bigcommerce/webhooks" in problem["message"]
    assert "https" in problem["message"] and "periodic sync still runs" in problem["message"]
    assert connection.source_secrets["access_token"] not in problem["message"]

    bigcommerce.control("faults", {"reset": True})
    plugins = bigcommerce.app.extensions["host.plugins"]

    def hook_calls() -> int:
        return sum(n for key, n in bigcommerce.requests_made().items() if "/v3/hooks" in key)

    calls_before = hook_calls()
    with bigcommerce.app.app_context():
        session = get_db().session
        connection = connections.find(session, "bigcommerce", STORE_HASH)
        plugins.before_sync_cycle(connection, None)  # failed minutes ago: not yet retried
        session.commit()
    assert hook_calls() == calls_before and len(store_tab_problems(bigcommerce)) == 1

    with bigcommerce.app.app_context():
        session = get_db().session
        connection = connections.find(session, "bigcommerce", STORE_HASH)
        an_hour_ago = (utcnow() - timedelta(hours=1, minutes=1)).isoformat()
        connection.source_data = {**connection.source_data, "webhooks_failed_at": an_hour_ago}
        plugins.before_sync_cycle(connection, None)  # the next cycle an hour on tries again
        session.commit()
    assert sorted(hook["scope"] for hook in bigcommerce.state()["hooks"]) == sorted(HOOK_SCOPES)
    assert store_tab_problems(bigcommerce) == []
