"""Orders and catalog as Insight data, in the documented shapes; a missing feature is reported once."""

from __future__ import annotations

import pytest

from host.errors import ConfigurationError
from host.records import contact_fields

from . import records
from .conftest import NO_INSIGHT, make_connection


def _contacts(destination, mapper, connection, numbers):
    batch = [mapper.map_contact(connection, email=c["email"], fields=contact_fields(c, None), mapping={})
             for c in map(records.customer, numbers)]
    assert all(r.ok for r in destination.write_contacts(connection, batch, book_id=None))


def test_orders_land_once_per_order_id_linked_to_their_contact(connection, destination, mapper, emulator):
    _contacts(destination, mapper, connection, [1, 2])
    orders = [mapper.map_order(connection, records.order(n, f"shopper{n}@example.com")) for n in (1, 2)]

    destination.write_records(connection, "Orders", orders)
    changed = mapper.map_order(connection, records.order(1, "shopper1@example.com", status="Shipped"))
    results = destination.write_records(connection, "Orders", [changed])  # a status change re-sends it

    assert results[0].ok and results[0].destination_id == "101"
    state = emulator.state()
    assert {"name": "Orders", "scope": "contact", "type": "orders"} in state["insight_collections"]
    stored = {r["key"]: r for r in state["insight"]["Orders"]}
    assert sorted(stored) == ["101", "102"]
    first = stored["101"]
    assert first["contactIdentity"] == {"identifier": "email", "value": "shopper1@example.com"}
    assert first["json"]["orderStatus"] == "Shipped"
    assert first["json"]["orderTotal"] == 49.0 and first["json"]["currency"] == "GBP"
    assert first["json"]["purchaseDate"] == "2023-06-02T12:00:00Z"
    assert first["json"]["products"] == [{"product_id": "7", "variant_id": "71", "name": "Tee", "sku": "TEE-M",
                                          "qty": 2, "price": 20.0, "total": 40.0}]
    assert first["json"]["billingAddress"]["billing_postcode"] == "LS1 1AA"
    assert first["json"]["deliveryAddress"]["delivery_city"] == "York"


def test_an_order_whose_contact_is_not_there_yet_waits_for_it(connection, destination, mapper, emulator):
    _contacts(destination, mapper, connection, [1])
    orders = [mapper.map_order(connection, records.order(1, "shopper1@example.com")),
              mapper.map_order(connection, records.order(2, "guest@example.com"))]

    results = destination.write_records(connection, "Orders", orders)

    assert [r.ok for r in results] == [True, False]
    assert "not in Engagement Cloud yet" in results[1].reason
    assert [r["key"] for r in emulator.state()["insight"]["Orders"]] == ["101"]


def test_products_land_in_the_account_catalog(connection, destination, mapper, emulator):
    products = [mapper.map_product(connection, records.product(n)) for n in (1, 2, 3)]

    results = destination.write_records(connection, "Catalog_Default", products)

    assert [r.destination_id for r in results] == ["1", "2", "3"]
    state = emulator.state()
    assert {"name": "Catalog_Default", "scope": "account", "type": "catalog"} in state["insight_collections"]
    item = state["insight"]["Catalog_Default"][0]
    assert "contactIdentity" not in item
    assert item["json"] == {"id": "1", "name": "Product 1", "sku": "SKU-1", "type": "physical", "status": "Enabled",
                            "price": 19.99, "brand": "Acme", "categories": ["Shirts", "Sale"],
                            "url": "https://demo-store.example.com/p1", "imagePath": "https://cdn.example.com/1.jpg",
                            "shortDescription": "A fine thing", "stock": 5, "created_date": "2023-06-01T12:00:00Z"}


def test_without_insight_data_the_merchant_is_told_once_and_contacts_still_sync(ec_app, destination, mapper, emulator):
    connection = make_connection(NO_INSIGHT)
    order = mapper.map_order(connection, records.order(1, "shopper1@example.com"))

    with pytest.raises(ConfigurationError) as orders_off:
        destination.write_records(connection, "Orders", [order])
    assert (orders_off.value.code, orders_off.value.area) == ("insight_disabled", "orders")
    assert "Insight data is not enabled" in orders_off.value.message
    calls = emulator.requests()
    with pytest.raises(ConfigurationError):
        destination.write_records(connection, "Orders", [order])
    assert emulator.requests() == calls  # known for this cycle: not asked again

    with pytest.raises(ConfigurationError) as catalog_off:
        destination.write_records(connection, "catalog", [mapper.map_product(connection, records.product(1))])
    assert catalog_off.value.code == "catalog_disabled"

    _contacts(destination, mapper, connection, [1])
    assert [c["email"] for c in emulator.state(NO_INSIGHT["api_user"])["contacts"]] == ["shopper1@example.com"]

    destination.start_cycle(connection)  # next cycle: asked afresh
    with pytest.raises(ConfigurationError):
        destination.write_records(connection, "Orders", [order])
    assert emulator.requests()["PUT /insightData/v3/import"] == 3
