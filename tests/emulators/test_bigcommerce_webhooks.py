"""Webhook delivery over loopback: thin payloads, custom headers, retries, deactivation; and
the destination rule (https on port 443 unless the mode ``webhook_destinations`` is ``any``)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json

import pytest

from emulators.bigcommerce import StoreSpec, create_app

from .bigcommerce_support import STORE, TOKEN, Receiver


@pytest.fixture
def receiver():
    receiver = Receiver()
    yield receiver
    receiver.stop()


# The receiver listens on loopback http: only mode ``any`` lets a hook point at it.
LOOPBACK_MODES = {"webhook_destinations": "any"}


@pytest.fixture
def app():
    return create_app([StoreSpec(customers=10, subscribers=5, orders=10, products=3, seed=2)],
                      webhook_retry_delays=(0.05, 0.05), webhook_retry_scale=1.0, modes=LOOPBACK_MODES)


def register(client, scope: str, destination: str, headers: dict | None = None) -> dict:
    response = client.post(f"/stores/{STORE}/v3/hooks", headers=TOKEN,
                           json={"scope": scope, "destination": destination, "headers": headers})
    assert response.status_code == 200
    return response.get_json()["data"]


def test_thin_payloads_reach_matching_hooks_with_custom_headers(app, receiver):
    client = app.test_client()
    register(client, "store/customer/*", f"{receiver.url}/bc/customers", {"X-Connector-Secret": "s3cret"})
    register(client, "store/order/statusUpdated", f"{receiver.url}/bc/orders")
    register(client, "store/product/created", f"{receiver.url}/bc/products")
    client.put(f"/_emulator/stores/{STORE}/orders/4", json={"status_id": 5})
    created = client.post(f"/_emulator/stores/{STORE}/customers", json={"addresses": [{"country_code": "DE"}]})
    cid = created.get_json()["data"]["id"]
    deliveries = receiver.wait_for(3)
    assert len(deliveries) == 3
    by_path = {}
    for delivery in deliveries:
        by_path.setdefault(delivery["path"], []).append(json.loads(delivery["body"]))
    store_id = str(app.extensions["bigcommerce_emulator"].stores[STORE].spec.store_id)
    status = by_path["/bc/orders"][0]
    assert status["scope"] == "store/order/statusUpdated" and status["store_id"] == store_id
    assert status["data"]["id"] == 4 and status["data"]["status"]["new_status_id"] == 5
    assert status["producer"] == f"stores/{STORE}" and len(status["hash"]) == 40
    scopes = sorted(p["scope"] for p in by_path["/bc/customers"])
    assert scopes == ["store/customer/address/created", "store/customer/created"]
    assert {"type": "customer", "id": cid} in [p["data"] for p in by_path["/bc/customers"]]
    customer_requests = [d for d in deliveries if d["path"] == "/bc/customers"]
    assert all(d["headers"]["X-Connector-Secret"] == "s3cret" for d in customer_requests)
    assert all(d["method"] == "POST" and d["headers"]["Content-Type"] == "application/json" for d in deliveries)
    assert "/bc/products" not in by_path  # no product was created


def test_failed_delivery_is_retried_with_the_same_hash_then_the_hook_is_deactivated(app, receiver):
    client = app.test_client()
    hook = register(client, "store/subscriber/created", f"{receiver.url}/bc/subs")
    receiver.statuses = [500, 503]
    client.post(f"/_emulator/stores/{STORE}/subscribers", json={"email": "new@example.com"})
    deliveries = receiver.wait_for(3)
    assert len(deliveries) == 3
    assert len({json.loads(d["body"])["hash"] for d in deliveries}) == 1
    assert app.extensions["bigcommerce_emulator"].dispatcher.wait_idle(5)
    assert client.get(f"/stores/{STORE}/v3/hooks/{hook['id']}", headers=TOKEN).get_json()["data"]["is_active"] is True

    receiver.statuses = [500, 500, 500]
    client.post(f"/_emulator/stores/{STORE}/subscribers", json={"email": "another@example.com"})
    receiver.wait_for(6)
    assert app.extensions["bigcommerce_emulator"].dispatcher.wait_idle(5)
    assert client.get(f"/stores/{STORE}/v3/hooks/{hook['id']}", headers=TOKEN).get_json()["data"]["is_active"] is False
    log = client.get("/_emulator/webhooks").get_json()["deliveries"]
    assert [entry.get("deactivated") for entry in log][-1] is True


def test_app_hooks_carry_a_standard_webhooks_signature(receiver):
    app = create_app([StoreSpec(customers=3, subscribers=1, orders=2, products=1)],
                     apps=[{"client_id": "cid", "client_secret": "secret-0123456789abcdef0123456789ab"}],
                     modes=LOOPBACK_MODES)
    client = app.test_client()
    client.post("/_emulator/tokens", json={"store_hash": STORE, "access_token": "app-token", "client_id": "cid"})
    client.post(f"/stores/{STORE}/v3/hooks", headers={"X-Auth-Token": "app-token"},
                json={"scope": "store/product/*", "destination": f"{receiver.url}/p"})
    client.put(f"/_emulator/stores/{STORE}/products/1", json={"price": 9.5})
    delivery = receiver.wait_for(1)[0]
    headers = delivery["headers"]
    signed = f"{headers['Webhook-Id']}.{headers['Webhook-Timestamp']}.{delivery['body']}".encode()
    expected = base64.b64encode(hmac.new(b"secret-0123456789abcdef0123456789ab", signed, hashlib.sha256).digest()).decode()
    assert headers["Webhook-Signature"] == f"v1,{expected}"
    # hooks are per client: the API account does not see the app's hook
    assert client.get(f"/stores/{STORE}/v3/hooks", headers=TOKEN).get_json()["data"] == []


HOOK = {"scope": "store/order/created"}


@pytest.mark.parametrize("destination", ["https://hooks.example.com/bc", "https://hooks.example.com:443/bc"])
def test_an_https_destination_on_port_443_is_accepted(destination):
    client = create_app([StoreSpec(customers=1, orders=1, subscribers=1, products=1)]).test_client()
    created = client.post(f"/stores/{STORE}/v3/hooks", headers=TOKEN, json=HOOK | {"destination": destination})
    assert created.status_code == 200
    assert created.get_json()["data"]["destination"] == destination


@pytest.mark.parametrize("destination", ["http://hooks.example.com/bc", "https://hooks.example.com:8443/bc",
                                         "http://hooks.example.com:443/bc", "ftp://hooks.example.com/bc"])
def test_a_destination_not_https_on_port_443_is_refused_and_no_hook_is_made(destination):
    client = create_app([StoreSpec(customers=1, orders=1, subscribers=1, products=1)]).test_client()
    refused = client.post(f"/stores/{STORE}/v3/hooks", headers=TOKEN, json=HOOK | {"destination": destination})
    assert refused.status_code == 422
    body = refused.get_json()
    assert body["status"] == 422 and body["title"] and body["type"]
    assert set(body["errors"]) == {"destination"}
    assert client.get(f"/stores/{STORE}/v3/hooks", headers=TOKEN).get_json()["data"] == []


def test_an_update_to_a_destination_not_https_on_port_443_is_refused_and_the_hook_kept():
    client = create_app([StoreSpec(customers=1, orders=1, subscribers=1, products=1)]).test_client()
    hook = client.post(f"/stores/{STORE}/v3/hooks", headers=TOKEN,
                       json=HOOK | {"destination": "https://hooks.example.com/bc"}).get_json()["data"]
    for destination in ("http://hooks.example.com/bc", "https://hooks.example.com:8443/bc"):
        refused = client.put(f"/stores/{STORE}/v3/hooks/{hook['id']}", headers=TOKEN, json={"destination": destination})
        assert refused.status_code == 422 and set(refused.get_json()["errors"]) == {"destination"}
    kept = client.get(f"/stores/{STORE}/v3/hooks/{hook['id']}", headers=TOKEN).get_json()["data"]
    assert kept["destination"] == "https://hooks.example.com/bc"


def test_mode_any_accepts_an_http_destination_on_another_port_and_can_be_switched_at_run_time():
    client = create_app([StoreSpec(customers=1, orders=1, subscribers=1, products=1)],
                        modes=LOOPBACK_MODES).test_client()
    destination = {"destination": "http://127.0.0.1:5000/bigcommerce/webhooks"}
    assert client.post(f"/stores/{STORE}/v3/hooks", headers=TOKEN, json=HOOK | destination).status_code == 200
    client.patch("/_emulator/modes", json={"webhook_destinations": "https_443"})
    other = {"scope": "store/order/updated"} | destination
    assert client.post(f"/stores/{STORE}/v3/hooks", headers=TOKEN, json=other).status_code == 422


def test_deleting_a_customer_or_a_subscriber_fires_its_deleted_webhook(app, receiver):
    client = app.test_client()
    register(client, "store/customer/deleted", f"{receiver.url}/bc/customers")
    register(client, "store/subscriber/deleted", f"{receiver.url}/bc/subscribers")
    assert client.delete(f"/_emulator/stores/{STORE}/customers/3").status_code == 200
    assert client.delete(f"/_emulator/stores/{STORE}/subscribers/2").status_code == 200
    assert client.delete(f"/_emulator/stores/{STORE}/customers/3").status_code == 404  # no second event

    deliveries = receiver.wait_for(2)
    payloads = sorted((d["path"], json.loads(d["body"])["scope"], json.loads(d["body"])["data"]["id"])
                      for d in deliveries)
    assert payloads == [("/bc/customers", "store/customer/deleted", 3),
                        ("/bc/subscribers", "store/subscriber/deleted", 2)]
    assert client.get(f"/stores/{STORE}/v3/customers", headers=TOKEN, query_string={"id:in": "3"}).get_json()["data"] == []
