"""The v2 order sub-resources each order links to (``api_orders`` / ``api_order_resources``),
validated against ``orders.v2.oas2.yml`` and checked for the v2 rules (paging, 204, 404).

Vendor-spec defect handled as in ``test_bigcommerce_contract``: ``shippingConsignment_Get``
types ``line_items`` as ``oneOf`` two permissive arrays (every value matches both), so a
consignments body is validated with its ``line_items`` taken out, and each line item alone
(``orderProducts`` when embedded, a ``{url, resource}`` link otherwise).
"""

from __future__ import annotations

import copy

import pytest

from emulators.bigcommerce import StoreSpec, create_app

from .bigcommerce_support import STORE, TOKEN, validate, validate_component

ORDER_LINKS = ("products", "shipping_addresses", "coupons", "consignments")


@pytest.fixture(scope="module")
def app():
    return create_app([StoreSpec(customers=60, subscribers=20, orders=200, products=30, seed=11)])


@pytest.fixture(scope="module")
def client(app):
    return app.test_client()


def get(client, path: str, query: str = ""):
    return client.get(f"/stores/{STORE}{path}?{query}", headers=TOKEN)


def store_of(app):
    return app.extensions["bigcommerce_emulator"].stores[STORE]


def _orders(client, limit: int = 250) -> list[dict]:
    return get(client, "/v2/orders", f"limit={limit}").get_json()


def _physical_order(client) -> dict:
    return next(o for o in _orders(client) if o["shipping_address_count"] >= 1)


def _resource_path(link: dict) -> str:
    return "/v2" + link["resource"]


def test_every_order_link_is_served(client):
    """Following each ``{url, resource}`` of an order answers 200 (or 204 when empty)."""
    for order in _orders(client, 20):
        for name in ORDER_LINKS:
            link = order[name]
            assert set(link) == {"url", "resource"}
            assert link["url"].endswith(f"/stores/{STORE}/v2/orders/{order['id']}/{name}")
            response = client.get(link["url"], headers=TOKEN)
            assert response.status_code in (200, 204), (name, response.status_code)


def test_products_and_shipping_addresses_validate(client):
    order = _physical_order(client)
    oid = order["id"]
    products = get(client, f"/v2/orders/{oid}/products")
    validate("orders.v2.oas2.yml", products, f"/v2/orders/{oid}/products")
    line = products.get_json()[0]
    one = get(client, f"/v2/orders/{oid}/products/{line['id']}")
    validate("orders.v2.oas2.yml", one, f"/v2/orders/{oid}/products/{line['id']}")
    assert one.get_json() == line
    addresses = get(client, f"/v2/orders/{oid}/shipping_addresses").get_json()
    address = get(client, f"/v2/orders/{oid}/shipping_addresses/{addresses[0]['id']}")
    validate("orders.v2.oas2.yml", address, f"/v2/orders/{oid}/shipping_addresses/{addresses[0]['id']}")
    assert address.get_json() == addresses[0]
    assert address.get_json()["shipping_quotes"]["resource"] == (
        f"/orders/{oid}/shipping_addresses/{addresses[0]['id']}/shipping_quotes")


def test_sub_lists_page_with_v2_rules(client):
    order = max(_orders(client), key=lambda o: o["items_total"])
    oid = order["id"]
    everything = get(client, f"/v2/orders/{oid}/products").get_json()
    assert len(everything) >= 2
    first = get(client, f"/v2/orders/{oid}/products", "page=1&limit=1").get_json()
    second = get(client, f"/v2/orders/{oid}/products", "page=2&limit=1").get_json()
    assert first + second == everything[:2]
    past_end = get(client, f"/v2/orders/{oid}/products", f"page={len(everything) + 1}&limit=1")
    assert past_end.status_code == 204 and past_end.data == b""
    too_many = get(client, f"/v2/orders/{oid}/coupons", "limit=251")
    assert too_many.status_code == 413 and too_many.get_json()[0]["status"] == 413


def test_coupons_204_when_none_and_listed_when_present(app, client):
    order = _orders(client, 1)[0]
    empty = get(client, f"/v2/orders/{order['id']}/coupons")
    assert empty.status_code == 204 and empty.data == b""
    store = store_of(app)
    with store.lock:  # a changed order holding coupons (generated orders have none)
        oid = order["id"]
        record = copy.deepcopy(store.orders.get(oid))
        record["coupons"] = [{"id": 3, "coupon_id": 1, "order_id": oid, "code": "S2549JM0Y", "amount": 5,
                              "type": 2, "discount": 5.0},
                             {"id": 4, "coupon_id": 2, "order_id": oid, "code": "FREESHIP", "amount": 0,
                              "type": 4, "discount": 0.0}]
        store.orders.put(oid, record, store.orders.created[oid], store.orders.modified[oid])
    listed = get(client, f"/v2/orders/{oid}/coupons")
    validate("orders.v2.oas2.yml", listed, f"/v2/orders/{oid}/coupons")
    assert [c["code"] for c in listed.get_json()] == ["S2549JM0Y", "FREESHIP"]
    assert [c["code"] for c in get(client, f"/v2/orders/{oid}/coupons", "page=2&limit=1").get_json()] == ["FREESHIP"]


@pytest.mark.parametrize("query", ["", "include=consignments.line_items"])
def test_consignments_validate(client, query):
    order = _physical_order(client)
    oid = order["id"]
    response = get(client, f"/v2/orders/{oid}/consignments", query)
    assert response.status_code == 200
    body = response.get_json()
    items = [item for c in body["shipping"] + body["downloads"] for item in c.pop("line_items")]
    validate_component("orders.v2.oas2.yml", "orderConsignment_Get", body)
    assert items
    for item in items:
        if query:
            validate_component("orders.v2.oas2.yml", "orderProducts", item)
        else:
            assert set(item) == {"url", "resource"} and item["resource"].startswith(f"/orders/{oid}/products/")
            assert get(client, _resource_path(item)).status_code == 200
    shipping = body["shipping"][0]
    assert shipping["shipping_quotes"]["resource"] == (
        f"/orders/{oid}/consignments/shipping/{shipping['id']}/shipping_quotes")
    embedded = get(client, f"/v2/orders/{oid}", "include=consignments&consignment_structure=object")
    assert embedded.get_json()["consignments"]["shipping"][0]["id"] == shipping["id"]


def test_consignments_refuse_unknown_include(client):
    response = get(client, "/v2/orders/1/consignments", "include=fees")
    assert response.status_code == 400 and response.get_json()[0]["status"] == 400


def test_shipping_quotes_validate_from_both_links(client):
    order = _physical_order(client)
    oid = order["id"]
    address = get(client, f"/v2/orders/{oid}/shipping_addresses").get_json()[0]
    by_address = get(client, _resource_path(address["shipping_quotes"]))
    validate("orders.v2.oas2.yml", by_address, _resource_path(address["shipping_quotes"]))
    consignment = get(client, f"/v2/orders/{oid}/consignments").get_json()["shipping"][0]
    by_consignment = get(client, _resource_path(consignment["shipping_quotes"]))
    validate("orders.v2.oas2.yml", by_consignment, _resource_path(consignment["shipping_quotes"]))
    assert by_address.get_json() == by_consignment.get_json()
    quote = by_address.get_json()
    assert quote["id"] == str(address["id"]) and quote["shipping_provider_quote"] == []
    assert quote["timestamp"] == order["date_created"]


def test_shipping_quotes_204_for_orders_not_from_the_storefront(app, client):
    order = _physical_order(client)
    oid = order["id"]
    store = store_of(app)
    with store.lock:
        record = copy.deepcopy(store.orders.get(oid)) | {"order_source": "manual"}
        store.orders.put(oid, record, store.orders.created[oid], store.orders.modified[oid])
    address_id = record["shipping_addresses"][0]["id"]
    response = get(client, f"/v2/orders/{oid}/shipping_addresses/{address_id}/shipping_quotes")
    assert response.status_code == 204 and response.data == b""


def test_digital_orders_have_no_shipping_lists(client):
    digital = next((o for o in _orders(client) if o["order_is_digital"]), None)
    if digital is None:
        pytest.skip("no digital order in this store")
    oid = digital["id"]
    assert get(client, f"/v2/orders/{oid}/shipping_addresses").status_code == 204
    body = get(client, f"/v2/orders/{oid}/consignments").get_json()
    assert body["shipping"] == [] and len(body["downloads"]) == 1


@pytest.mark.parametrize("path", [
    "/v2/orders/999999/products", "/v2/orders/999999/shipping_addresses", "/v2/orders/999999/coupons",
    "/v2/orders/999999/consignments", "/v2/orders/999999/products/1", "/v2/orders/999999/shipping_addresses/1",
    "/v2/orders/999999/shipping_addresses/1/shipping_quotes",
    "/v2/orders/999999/consignments/shipping/1/shipping_quotes",
    "/v2/orders/1/products/999999", "/v2/orders/1/shipping_addresses/999999",
    "/v2/orders/1/shipping_addresses/999999/shipping_quotes",
])
def test_unknown_orders_and_parts_are_404(client, path):
    response = get(client, path)
    assert response.status_code == 404
    assert response.get_json() == [{"status": 404, "message": "The requested resource was not found."}]


def test_sub_resources_need_the_orders_scope():
    app = create_app([StoreSpec(customers=5, orders=5, subscribers=2, products=2)])
    client = app.test_client()
    client.post("/_emulator/tokens", json={"store_hash": STORE, "access_token": "customers-only",
                                            "scopes": ["store_v2_customers_read_only"]})
    response = client.get(f"/stores/{STORE}/v2/orders/1/consignments", headers={"X-Auth-Token": "customers-only"})
    assert response.status_code == 403
