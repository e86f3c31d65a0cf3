"""Rate limiting, fault injection and the shared helpers in ``emulators.common``."""

from __future__ import annotations

import requests

from emulators.bigcommerce import StoreSpec, create_app
from emulators.common import derive_rng, rule_template, start_server

from .bigcommerce_support import STORE, TOKEN

SMALL = StoreSpec(customers=20, subscribers=5, orders=20, products=5)


def test_quota_window_answers_429_with_the_documented_headers():
    client = create_app([SMALL], rate_limit=(3, 30)).test_client()
    answers = [client.get(f"/stores/{STORE}/v3/customers", headers=TOKEN) for _ in range(4)]
    assert [a.status_code for a in answers] == [200, 200, 200, 429]
    assert [a.headers["X-Rate-Limit-Requests-Left"] for a in answers] == ["2", "1", "0", "0"]
    limited = answers[-1]
    assert limited.headers["X-Rate-Limit-Requests-Quota"] == "3"
    assert limited.headers["X-Rate-Limit-Time-Window-Ms"] == "30000"
    assert 0 < int(limited.headers["X-Rate-Limit-Time-Reset-Ms"]) <= 30000
    assert int(limited.headers["X-Retry-After"]) >= 1
    assert limited.get_json()["status"] == 429
    client.post("/_emulator/rate-limit", json={"send_retry_after": False})
    client.post("/_emulator/rate-limit", json={"quota": 1})
    client.get(f"/stores/{STORE}/v2/orders", headers=TOKEN)
    v2 = client.get(f"/stores/{STORE}/v2/orders", headers=TOKEN)
    assert v2.status_code == 429 and "X-Retry-After" not in v2.headers and v2.get_json()[0]["status"] == 429
    client.post("/_emulator/rate-limit", json={"rate_headers_on_429": "none"})  # also starts a new window
    assert client.get(f"/stores/{STORE}/v2/orders", headers=TOKEN).status_code == 200
    bare = client.get(f"/stores/{STORE}/v2/orders", headers=TOKEN)
    assert bare.status_code == 429 and "X-Rate-Limit-Requests-Left" not in bare.headers


def test_without_a_quota_headers_are_sent_but_nothing_is_refused():
    client = create_app([SMALL]).test_client()
    for _ in range(5):
        response = client.get(f"/stores/{STORE}/v3/customers/subscribers", headers=TOKEN)
        assert response.status_code == 200 and int(response.headers["X-Rate-Limit-Requests-Left"]) > 0


def test_injected_faults_and_request_counts():
    app = create_app([SMALL])
    client = app.test_client()
    client.post("/_emulator/faults", json={"pending_429": 2, "only_paths": ["/v3/customers"]})
    statuses = [client.get(f"/stores/{STORE}/v3/customers", headers=TOKEN) for _ in range(3)]
    assert [s.status_code for s in statuses] == [429, 429, 200]
    assert statuses[0].headers["X-Rate-Limit-Time-Reset-Ms"] == "1000"
    assert client.get(f"/stores/{STORE}/v2/orders", headers=TOKEN).status_code == 200  # not in only_paths
    client.post("/_emulator/faults", json={"reset": True, "error_rate": 1.0, "error_statuses": [503]})
    failed = client.get(f"/stores/{STORE}/v3/customers", headers=TOKEN)
    assert failed.status_code == 503 and failed.get_json()["status"] == 503
    v2_failed = client.get(f"/stores/{STORE}/v2/orders", headers=TOKEN)
    assert v2_failed.get_json() == [{"status": 503, "message": "Service Unavailable"}]
    client.post("/_emulator/faults", json={"reset": True})
    counts = client.get("/_emulator/state?summary=1").get_json()["requests"]
    assert counts == {"GET /stores/{store_hash}/v3/customers": 4, "GET /stores/{store_hash}/v2/orders": 2}
    faults = client.get("/_emulator/faults").get_json()
    assert faults["settings"]["error_rate"] == 0.0


def test_dropped_connections_over_a_real_socket():
    server = start_server(create_app([SMALL], faults={"drop_rate": 1.0}))
    try:
        try:
            requests.get(f"{server.url}/stores/{STORE}/v3/customers", headers=TOKEN, timeout=5)
            raise AssertionError("the connection should have been dropped")
        except requests.ConnectionError:
            pass
        assert requests.get(f"{server.url}/_emulator/faults", timeout=5).json()["injected"] == {"drop": 1}
    finally:
        server.stop()


def test_common_helpers_are_deterministic():
    assert derive_rng(7, "customer", 1).random() == derive_rng(7, "customer", 1).random()
    assert derive_rng(7, "customer", 1).random() != derive_rng(7, "customer", 2).random()
    assert rule_template("/stores/<store_hash>/v2/orders/<int:order_id>") == "/stores/{store_hash}/v2/orders/{order_id}"
