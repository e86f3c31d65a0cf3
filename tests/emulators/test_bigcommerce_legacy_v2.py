"""Legacy v2 customers and products (``api_legacy_v2``): v2 paging, 204, 404, 413, filters.

The v2 customers spec (BigCommerce's ``reference/customers.v2.yml``) is not in the shared spec
folder, so the parts the answers must satisfy are copied below (``customer_Full``: ``id``,
dates, and ``customer_Base`` with its required ``first_name``/``last_name``/``email``;
``customerAddress_Full``; ``count_Full``), with the spec's types, and validated with the same
OpenAPI 3.0 schema validator. No v2 products spec is published any more (only the archived
v2 products page): products are checked field by field.
"""

from __future__ import annotations

import pytest
from openapi_schema_validator import OAS30Validator

from emulators.bigcommerce import StoreSpec, create_app
from emulators.bigcommerce.formats import parse_date

from .bigcommerce_support import STORE, TOKEN

_LINK = {"type": "object", "properties": {"url": {"type": "string"}, "resource": {"type": "string"}}}
_FORM_FIELDS = {"type": "array", "nullable": True, "items": {
    "type": "object", "properties": {"name": {"type": "string"}, "value": {"type": "string", "nullable": True}}}}
CUSTOMER_FULL = {  # customers.v2.yml components.schemas.customer_Full (allOf flattened)
    "type": "object",
    "required": ["first_name", "last_name", "email"],
    "properties": {
        "id": {"type": "integer"}, "date_created": {"type": "string"}, "date_modified": {"type": "string"},
        "company": {"type": "string"}, "first_name": {"type": "string"}, "last_name": {"type": "string"},
        "email": {"type": "string"}, "phone": {"type": "string"}, "store_credit": {"type": "string"},
        "registration_ip_address": {"type": "string"}, "customer_group_id": {"type": "integer"},
        "notes": {"type": "string"}, "tax_exempt_category": {"type": "string"},
        "accepts_marketing": {"type": "boolean"}, "addresses": _LINK, "form_fields": _FORM_FIELDS,
        "reset_pass_on_login": {"type": "boolean"},
    },
}
CUSTOMER_ADDRESS_FULL = {  # customers.v2.yml customerAddress_Full (allOf flattened)
    "type": "object",
    "required": ["city", "country", "first_name", "last_name", "phone", "state", "street_1", "zip"],
    "properties": {
        "id": {"type": "integer"}, "country_iso2": {"type": "string"}, "customer_id": {"type": "integer"},
        **{name: {"type": "string"} for name in ("first_name", "last_name", "company", "street_1", "street_2",
                                                 "city", "state", "zip", "country", "phone")},
        "address_type": {"type": "string", "enum": ["residential", "commercial"]},
    },
}
COUNT_FULL = {"type": "object", "properties": {"count": {"type": "number"}}, "required": ["count"]}


def _check(schema: dict, instance: object) -> None:
    OAS30Validator(schema).validate(instance)


@pytest.fixture(scope="module")
def app():
    return create_app([StoreSpec(customers=80, subscribers=20, orders=40, products=30, seed=3)])


@pytest.fixture(scope="module")
def client(app):
    return app.test_client()


def get(client, path: str, query: str = ""):
    return client.get(f"/stores/{STORE}{path}?{query}", headers=TOKEN)


def _all(client, path: str, query: str = "") -> list[dict]:
    rows, page = [], 1
    while True:
        response = get(client, path, f"{query}&page={page}&limit=25")
        if response.status_code == 204:
            assert response.data == b""
            return rows
        rows += response.get_json()
        page += 1


# ---------------------------------------------------------------------------- customers
def test_customers_list_validates_and_matches_v3(client):
    response = get(client, "/v2/customers", "limit=30")
    assert response.status_code == 200
    customers = response.get_json()
    assert [c["id"] for c in customers] == list(range(1, 31))
    v3 = {c["id"]: c for c in get(client, "/v3/customers", "limit=30").get_json()["data"]}
    for customer in customers:
        _check(CUSTOMER_FULL, customer)
        same = v3[customer["id"]]
        assert (customer["email"], customer["first_name"], customer["last_name"]) == (
            same["email"], same["first_name"], same["last_name"])
        assert parse_date(customer["date_modified"]) == parse_date(same["date_modified"])
        assert customer["date_created"].endswith(" +0000")
        assert customer["addresses"]["resource"] == f"/customers/{customer['id']}/addresses"
        assert len(customer["store_credit"].split(".")[1]) == 4


def test_customer_by_id_count_and_addresses(client):
    one = get(client, "/v2/customers/7")
    _check(CUSTOMER_FULL, one.get_json())
    assert one.get_json()["id"] == 7
    count = get(client, "/v2/customers/count")
    _check(COUNT_FULL, count.get_json())
    assert count.get_json() == {"count": 80}
    with_addresses = next(c for c in get(client, "/v3/customers", "include=addresses&limit=80").get_json()["data"]
                          if c["address_count"])
    addresses = client.get(get(client, f"/v2/customers/{with_addresses['id']}").get_json()["addresses"]["url"],
                           headers=TOKEN)
    assert addresses.status_code == 200
    for address in addresses.get_json():
        _check(CUSTOMER_ADDRESS_FULL, address)
    assert [a["id"] for a in addresses.get_json()] == [a["id"] for a in with_addresses["addresses"]]
    without = next(c for c in get(client, "/v3/customers", "limit=80").get_json()["data"] if not c["address_count"])
    empty = get(client, f"/v2/customers/{without['id']}/addresses")
    assert empty.status_code == 204 and empty.data == b""


def test_customers_paging_walks_everything_once(client):
    assert [c["id"] for c in _all(client, "/v2/customers")] == list(range(1, 81))


def test_customers_filters(client):
    ranged = get(client, "/v2/customers", "min_id=10&max_id=12").get_json()
    assert [c["id"] for c in ranged] == [10, 11, 12]
    target = get(client, "/v2/customers/15").get_json()
    by_email = get(client, "/v2/customers", f"email={target['email'].upper()}").get_json()
    assert [c["id"] for c in by_email] == [15]
    by_name = get(client, "/v2/customers", f"last_name={target['last_name']}").get_json()
    assert 15 in [c["id"] for c in by_name] and all(c["last_name"] == target["last_name"] for c in by_name)
    since = target["date_modified"]
    newer = _all(client, "/v2/customers", f"min_date_modified={since}")
    assert 15 in [c["id"] for c in newer]
    assert all(parse_date(c["date_modified"]) >= parse_date(since) for c in newer)
    assert get(client, "/v2/customers/count", f"min_date_modified={since}").get_json() == {"count": len(newer)}
    group = get(client, "/v2/customers", "customer_group_id=2&limit=250").get_json() or []
    assert all(c["customer_group_id"] == 2 for c in group)
    assert get(client, "/v2/customers", "min_id=abc").status_code == 400


# ---------------------------------------------------------------------------- products
def test_products_list_and_one_match_v3(client):
    products = get(client, "/v2/products", "limit=10").get_json()
    assert [p["id"] for p in products] == list(range(1, 11))
    for product in products:
        v3 = get(client, f"/v3/catalog/products/{product['id']}").get_json()["data"]
        assert (product["name"], product["sku"], product["brand_id"], product["categories"]) == (
            v3["name"], v3["sku"], v3["brand_id"], v3["categories"])
        assert float(product["price"]) == pytest.approx(v3["price"]) and len(product["price"].split(".")[1]) == 4
        assert isinstance(product["custom_url"], str) and product["custom_url"] == v3["custom_url"]["url"]
        assert parse_date(product["date_modified"]) == parse_date(v3["date_modified"])
        assert product["date_created"].endswith(" +0000")
        assert set(product["primary_image"]) == {"id", "zoom_url", "thumbnail_url", "standard_url", "tiny_url"}
    assert get(client, "/v2/products/4").get_json() == products[3]
    assert get(client, "/v2/products/count").get_json() == {"count": 30}


def test_products_filters_and_paging(client):
    assert [p["id"] for p in _all(client, "/v2/products")] == list(range(1, 31))
    hidden = _all(client, "/v2/products", "is_visible=false")
    assert all(p["is_visible"] is False for p in hidden)
    assert get(client, "/v2/products/count", "is_visible=false").get_json() == {"count": len(hidden)}
    sku = get(client, "/v2/products", "sku=SKU-00005").get_json()
    assert [p["id"] for p in sku] == [5]


# ---------------------------------------------------------------------------- v2 rules
@pytest.mark.parametrize("path", ["/v2/customers", "/v2/products", "/v2/customers/1/addresses"])
def test_limit_above_250_is_413(client, path):
    response = get(client, path, "limit=251")
    assert response.status_code == 413
    assert response.get_json()[0]["status"] == 413


@pytest.mark.parametrize("path", ["/v2/customers", "/v2/products"])
def test_past_the_end_is_204(client, path):
    assert get(client, path, "limit=250").status_code == 200
    response = get(client, path, "page=2&limit=250")
    assert response.status_code == 204 and response.data == b""


@pytest.mark.parametrize("path", ["/v2/customers/9999", "/v2/products/9999", "/v2/customers/9999/addresses"])
def test_unknown_ids_are_404(client, path):
    response = get(client, path)
    assert response.status_code == 404
    assert response.get_json() == [{"status": 404, "message": "The requested resource was not found."}]


def test_scopes(app):
    client = app.test_client()
    client.post("/_emulator/tokens", json={"store_hash": STORE, "access_token": "orders-only",
                                            "scopes": ["store_v2_orders_read_only"]})
    headers = {"X-Auth-Token": "orders-only"}
    assert client.get(f"/stores/{STORE}/v2/customers", headers=headers).status_code == 403
    assert client.get(f"/stores/{STORE}/v2/products", headers=headers).status_code == 403
