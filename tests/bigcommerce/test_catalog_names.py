"""Products arrive with their brand name and category names, as the store shows them."""

from __future__ import annotations

import pytest

from emulators.bigcommerce.generator import StoreSpec
from host.testing.source_conformance import read_all
from tests.bigcommerce.conftest import STORE_HASH, BigCommerceWorld, build_world
from tests.bigcommerce.truth import listing_calls

CATALOG_CALLS = (
    "GET /stores/{store_hash}/v3/catalog/brands",
    "GET /stores/{store_hash}/v3/catalog/categories",
)


@pytest.fixture
def world(make_app):
    """More brands and categories than one page of 250: the names must be read page by page."""
    spec = StoreSpec(
        store_hash=STORE_HASH,
        seed=21,
        customers=3,
        subscribers=1,
        orders=3,
        products=300,
        brands=260,
        categories=270,
    )
    app, emulator, server, sleeps = build_world(make_app, spec)
    yield BigCommerceWorld(app, "", emulator, server.url, sleeps)
    server.stop()


def pages_of_names(world) -> list[int]:
    """Two pages each at 250 a page (more where the store serves fewer: see its modes)."""
    modes, state = world.control("modes", method="GET"), world.state()
    return [listing_calls(modes, len(state["brands"])), listing_calls(modes, len(state["categories"]))]


def expected_names(state: dict) -> dict[str, tuple[str | None, list[str]]]:
    brands = {b["id"]: b["name"] for b in state["brands"]}
    categories = {c["id"]: c["name"] for c in state["categories"]}
    return {
        str(p["id"]): (brands.get(p["brand_id"]), [categories[c] for c in p["categories"]])
        for p in state["products"]
    }


def test_products_carry_their_brand_and_category_names(world):
    source, connection = world.source(), world.connection()
    with world.app.app_context():
        products = read_all(source, connection, source.stream("products"))

    expected = expected_names(world.state())
    assert {p["id"]: (p["brand"], p["categories"]) for p in products} == expected
    assert any(brand is None for brand, _ in expected.values())  # brand_id 0: no brand, not "0"
    assert all(names and not any(n.isdigit() for n in names) for _, names in expected.values())
    calls = world.requests_made()
    assert [calls[path] for path in CATALOG_CALLS] == pages_of_names(world)  # every page once, no more


def test_a_product_read_by_id_names_its_brand_and_categories_too(world):
    state = world.state()
    wanted = [p for p in state["products"] if p["brand_id"] and len(p["categories"]) > 1][:2]
    source, connection = world.source(), world.connection()
    with world.app.app_context():
        pages = source.read(
            connection, source.stream("products"), ids=[str(p["id"]) for p in wanted]
        )
        products = [record for page in pages for record in page.records]

    expected = expected_names(state)
    assert [(p["id"], p["brand"], p["categories"]) for p in products] == [
        (str(p["id"]), *expected[str(p["id"])]) for p in wanted
    ]


def test_brand_and_category_names_are_not_listed_again_for_every_product_webhook(world):
    """The fast lane reads products one webhook at a time: the names come from a short-lived cache."""
    wanted = [str(p["id"]) for p in world.state()["products"]][:3]
    source, connection = world.source(), world.connection()
    with world.app.app_context():
        for product_id in wanted:
            read_all(source, connection, source.stream("products"), ids=[product_id])

    calls = world.requests_made()
    assert [calls[path] for path in CATALOG_CALLS] == pages_of_names(world)  # listed once (two pages each)
