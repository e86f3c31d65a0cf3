"""Both emulators behind a TLS proxy: links are built from ``X-Forwarded-Proto`` and
``X-Forwarded-Host`` (werkzeug's ``ProxyFix`` in each ``create_app``, one trusted hop)."""

from __future__ import annotations

from emulators.bigcommerce import StoreSpec
from emulators.bigcommerce import create_app as create_bigcommerce
from emulators.engagement_cloud import create_app as create_engagement_cloud
from emulators.engagement_cloud.testing import basic_auth

from .bigcommerce_support import STORE, TOKEN

FORWARDED = {"X-Forwarded-Proto": "https", "X-Forwarded-Host": "emulator.example.test"}
EC_USER = {"api_user": "apiuser-proxy@apiconnector.com", "password": "proxy-secret"}


def _bigcommerce():
    return create_bigcommerce([StoreSpec(customers=10, subscribers=4, orders=20, products=5, seed=2)]).test_client()


def test_bigcommerce_order_links_use_the_forwarded_https_host():
    client = _bigcommerce()
    order = client.get(f"/stores/{STORE}/v2/orders/3", headers=TOKEN | FORWARDED).get_json()
    base = f"https://emulator.example.test/stores/{STORE}/v2/orders/3"
    for name in ("products", "shipping_addresses", "coupons", "consignments"):
        assert order[name]["url"] == f"{base}/{name}"
    consignments = client.get(f"/stores/{STORE}/v2/orders/3/consignments", headers=TOKEN | FORWARDED).get_json()
    for entry in consignments["shipping"]:
        assert entry["shipping_quotes"]["url"].startswith(f"{base}/consignments/shipping/")
        assert all(item["url"].startswith(f"{base}/products/") for item in entry["line_items"])
    customer = client.get(f"/stores/{STORE}/v2/customers/1", headers=TOKEN | FORWARDED).get_json()
    assert customer["addresses"]["url"] == f"https://emulator.example.test/stores/{STORE}/v2/customers/1/addresses"


def test_bigcommerce_links_without_a_proxy_use_the_request_host():
    order = _bigcommerce().get(f"/stores/{STORE}/v2/orders/3", headers=TOKEN).get_json()
    assert order["products"]["url"] == f"http://localhost/stores/{STORE}/v2/orders/3/products"


def _api_endpoint(app, headers: dict, path: str = "/v2/account-info") -> str:
    info = app.test_client().get(path, headers=basic_auth(EC_USER["api_user"], EC_USER["password"]) | headers)
    assert info.status_code == 200
    return next(p["value"] for p in info.get_json()["properties"] if p["name"] == "ApiEndpoint")


def test_engagement_cloud_api_endpoint_uses_the_forwarded_https_host():
    app = create_engagement_cloud([EC_USER], processing_delay=0)
    assert _api_endpoint(app, FORWARDED) == "https://emulator.example.test/r1"
    assert _api_endpoint(app, FORWARDED, "/r1/v2/account-info") == "https://emulator.example.test/r1"
    assert _api_endpoint(app, {}) == "http://localhost/r1"


def test_engagement_cloud_public_base_url_still_wins():
    app = create_engagement_cloud([EC_USER], processing_delay=0, public_base_url="https://fixed.example.test")
    assert _api_endpoint(app, FORWARDED) == "https://fixed.example.test/r1"


def test_engagement_cloud_list_links_use_the_forwarded_https_host():
    app = create_engagement_cloud([EC_USER], processing_delay=0)
    client = app.test_client()
    headers = basic_auth(EC_USER["api_user"], EC_USER["password"]) | FORWARDED
    client.patch("/r1/contacts/v3/email/ann@example.com", json={"identifiers": {"email": "ann@example.com"}},
                 headers=headers)
    links = client.get("/r1/contacts/v3?limit=1", headers=headers).get_json()["_links"]
    assert links["self"]["link"].startswith("https://emulator.example.test/r1/contacts/v3?")
