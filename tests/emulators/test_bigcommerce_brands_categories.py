"""Brands and categories: listed like the vendor's v3 catalog, and every product's links resolve.

The vendor specs of these two endpoints (``brands_catalog.v3.yml``, ``categories_catalog.v3.yml``
from bigcommerce/docs ``reference/catalog/``) are not among the shared reference specs yet; when
they are, ``test_listings_match_their_vendor_specs`` validates whole answers with openapi-core.
Until then the envelope is validated against the catalog components the products spec shares
with them (``metaCollection_Full``, ``customUrl_Full``) and the objects against the fields the
vendor documents (reference §3.7 and the specs' examples).
"""

from __future__ import annotations

import pytest

from emulators.bigcommerce import StoreSpec, create_app

from .bigcommerce_support import STORE, TOKEN, require_specs, validate, validate_component

BRAND_FIELDS = {
    "id",
    "name",
    "page_title",
    "meta_keywords",
    "meta_description",
    "image_url",
    "search_keywords",
    "custom_url",
}
CATEGORY_FIELDS = {
    "id",
    "parent_id",
    "name",
    "description",
    "views",
    "sort_order",
    "page_title",
    "meta_keywords",
    "meta_description",
    "layout_file",
    "image_url",
    "is_visible",
    "search_keywords",
    "default_product_sort",
    "custom_url",
}
PRODUCTS_SPEC = "products_catalog.v3.yml"


@pytest.fixture(scope="module")
def app():
    return create_app(
        [StoreSpec(customers=5, subscribers=2, orders=5, products=400, brands=260, seed=5)]
    )


@pytest.fixture(scope="module")
def client(app):
    return app.test_client()


@pytest.fixture(scope="module")
def state(client):
    return client.get("/_emulator/state").get_json()["stores"][0]


def get(client, path: str, query: str = "", headers: dict | None = None):
    return client.get(f"/stores/{STORE}{path}?{query}", headers=headers or TOKEN)


def read_all(client, path: str, query: str = "") -> tuple[list[dict], int]:
    records, page = [], 1
    while True:
        body = get(client, path, f"{query}&limit=250&page={page}").get_json()
        records += body["data"]
        if body["meta"]["pagination"]["current_page"] >= body["meta"]["pagination"]["total_pages"]:
            return records, page
        page += 1


@pytest.mark.parametrize(
    ("path", "fields"),
    [("/v3/catalog/brands", BRAND_FIELDS), ("/v3/catalog/categories", CATEGORY_FIELDS)],
)
def test_listings_have_the_documented_envelope_and_fields(client, path, fields):
    response = get(client, path, "limit=20&page=2")
    assert response.status_code == 200
    body = response.get_json()
    validate_component(PRODUCTS_SPEC, "metaCollection_Full", body["meta"])
    assert body["meta"]["pagination"]["links"]["previous"] == "?page=1&limit=20"
    assert len(body["data"]) == 20
    for record in body["data"]:
        assert set(record) == fields
        assert isinstance(record["id"], int) and 1 <= len(record["name"]) <= 50
        validate_component(PRODUCTS_SPEC, "customUrl_Full", record["custom_url"])


@pytest.mark.parametrize(
    ("spec", "path", "query"),
    [
        ("brands_catalog.v3.yml", "/v3/catalog/brands", "limit=30"),
        ("brands_catalog.v3.yml", "/v3/catalog/brands", "include_fields=name&limit=250&page=2"),
        ("categories_catalog.v3.yml", "/v3/catalog/categories", ""),
        (
            "categories_catalog.v3.yml",
            "/v3/catalog/categories",
            "include_fields=name&is_visible=false",
        ),
    ],
)
def test_listings_match_their_vendor_specs(client, spec, path, query):
    if not (require_specs() / spec).is_file():
        pytest.skip(f"{spec} is not among the shared vendor specs yet")
    validate(spec, get(client, path, query), path, query)


def test_every_product_names_an_existing_brand_and_existing_categories(client, state):
    brands, brand_pages = read_all(client, "/v3/catalog/brands", "include_fields=name")
    categories, _ = read_all(client, "/v3/catalog/categories", "include_fields=name")
    assert brand_pages == 2 and len(brands) == 260  # more than one page: clients must page
    assert brands == [{"id": b["id"], "name": b["name"]} for b in state["brands"]]
    assert categories == [{"id": c["id"], "name": c["name"]} for c in state["categories"]]
    brand_ids, category_ids = {b["id"] for b in brands}, {c["id"] for c in categories}
    assert len({b["name"] for b in brands}) == len(brands)  # brand names are unique
    products = state["products"]
    assert all(p["brand_id"] in brand_ids or p["brand_id"] == 0 for p in products)
    assert all(p["categories"] and set(p["categories"]) <= category_ids for p in products)
    assert 0 < sum(p["brand_id"] == 0 for p in products) < len(products) // 4  # some have no brand
    assert {c["parent_id"] for c in state["categories"]} - {0} <= category_ids  # the tree is whole


def test_filters_projection_and_limits(client, state):
    some = [b["id"] for b in state["brands"][5:8]]
    listed = get(client, "/v3/catalog/brands", f"id:in={','.join(map(str, some))}").get_json()[
        "data"
    ]
    assert [b["id"] for b in listed] == some
    by_name = get(client, "/v3/catalog/brands", "name=Sagaform&include_fields=name").get_json()[
        "data"
    ]
    assert by_name == [{"id": 36, "name": "Sagaform"}]
    hidden = get(
        client, "/v3/catalog/categories", "is_visible=false&exclude_fields=description"
    ).get_json()
    assert hidden["data"] and all(
        not c["is_visible"] and "description" not in c for c in hidden["data"]
    )
    kitchen = next(c["id"] for c in state["categories"] if c["name"] == "Kitchen")
    children = get(client, "/v3/catalog/categories", f"parent_id={kitchen}").get_json()["data"]
    assert children == [c for c in state["categories"] if c["parent_id"] == kitchen]
    by_name_desc = get(client, "/v3/catalog/brands", "sort=name&direction=desc&limit=3").get_json()[
        "data"
    ]
    assert [b["name"] for b in by_name_desc] == sorted(
        (b["name"] for b in state["brands"]), reverse=True
    )[:3]
    too_many = get(client, "/v3/catalog/categories", "limit=251")
    assert too_many.status_code == 413 and too_many.get_json()["status"] == 413
    assert get(client, "/v3/catalog/brands", "sort=popularity").status_code == 422


def test_the_products_scope_covers_them_and_calls_are_counted():
    app = create_app([StoreSpec(customers=2, orders=2, subscribers=1, products=3)])
    client = app.test_client()
    for token, scopes in (("ro", ["store_v2_products_read_only"]), ("orders", ["store_v2_orders"])):
        client.post(
            "/_emulator/tokens", json={"store_hash": STORE, "access_token": token, "scopes": scopes}
        )
    for path in ("/v3/catalog/brands", "/v3/catalog/categories"):
        assert get(client, path, headers={"X-Auth-Token": "ro"}).status_code == 200
        assert get(client, path, headers={"X-Auth-Token": "orders"}).status_code == 403
    counted = client.get("/_emulator/state?summary=1").get_json()
    assert counted["requests"]["GET /stores/{store_hash}/v3/catalog/brands"] == 2
    assert counted["requests"]["GET /stores/{store_hash}/v3/catalog/categories"] == 2
    assert (counted["stores"][0]["brands"], counted["stores"][0]["categories"]) == (4, 12)


def test_the_catalog_repeats_with_the_seed_and_changes_with_it():
    def catalog(seed: int) -> tuple[list, list]:
        spec = StoreSpec(customers=2, orders=2, subscribers=1, products=120, seed=seed)
        store = create_app([spec]).test_client().get("/_emulator/state").get_json()["stores"][0]
        return store["brands"], store["categories"]

    assert catalog(8) == catalog(8)
    assert catalog(8) != catalog(9)
