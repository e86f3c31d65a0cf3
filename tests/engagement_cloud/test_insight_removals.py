"""Removing Insight records: archived orders leave their contact's history, hidden products leave
the catalog; what is already gone counts as removed, and 429s are ridden out."""

from __future__ import annotations

import pytest

from host.errors import ConfigurationError
from host.plugins import get_plugins
from host.records import contact_fields

from . import records
from .conftest import DEMO, NO_INSIGHT, make_connection

DELETE_ORDERS = "DELETE /insightData/v3/contacts/{identifier}/{value}/{collectionName}/deleteRecords"
DELETE_CATALOG = "DELETE /insightData/v3/accounts/{collectionName}/deleteRecords"


def _contacts(destination, mapper, connection, numbers):
    batch = [
        mapper.map_contact(connection, email=c["email"], fields=contact_fields(c, None), mapping={})
        for c in map(records.customer, numbers)
    ]
    assert all(r.ok for r in destination.write_contacts(connection, batch, book_id=None))


def _orders(mapper, connection, pairs):
    return [mapper.map_order(connection, records.order(n, email)) for n, email in pairs]


def _keys(emulator, collection: str) -> list[str]:
    return sorted(r["key"] for r in emulator.state()["insight"].get(collection, []))


def test_archived_orders_leave_each_contacts_history_and_the_rest_stays(
    connection, destination, mapper, emulator
):
    _contacts(destination, mapper, connection, [1, 2])
    pairs = [(1, "shopper1@example.com"), (2, "shopper1@example.com"), (3, "shopper2@example.com")]
    assert all(r.ok for r in destination.write_records(connection, "Orders", _orders(mapper, connection, pairs)))
    archived = _orders(mapper, connection, [pairs[0], pairs[2]])
    never_sent = _orders(mapper, connection, [(9, "shopper2@example.com")])

    results = destination.delete_records(connection, "Orders", archived + never_sent)

    assert [(r.source_id, r.ok) for r in results] == [("101", True), ("103", True), ("109", True)]
    assert _keys(emulator, "Orders") == ["102"]
    assert emulator.requests()[DELETE_ORDERS] == 2  # one call per contact, not per order
    again = destination.delete_records(connection, "Orders", archived)  # a repeat after a crash
    assert all(r.ok for r in again) and _keys(emulator, "Orders") == ["102"]


def test_an_order_whose_contact_is_gone_counts_as_removed(connection, destination, mapper, emulator):
    orders = _orders(mapper, connection, [(1, "nobody@example.com")])

    assert destination.delete_records(connection, "Orders", orders)[0].ok


def test_hidden_products_leave_the_catalog_in_batches(make_ec_app, emulator):
    app = make_ec_app(catalog_batch_size=2)
    with app.app_context():
        connection = make_connection(DEMO)
        destination = get_plugins().destination("engagement_cloud")
        mapper = get_plugins().mapper_for("engagement_cloud")
        products = [mapper.map_product(connection, records.product(n)) for n in range(1, 6)]
        assert all(r.ok for r in destination.write_records(connection, "catalog", products))

        results = destination.delete_records(connection, "catalog", products[:3] + [products[0]])

        assert [r.ok for r in results] == [True] * 4
        assert _keys(emulator, "Catalog_Default") == ["4", "5"]
        assert emulator.requests()[DELETE_CATALOG] == 2  # 3 distinct keys, 2 per call


def test_removals_ride_out_429s(connection, destination, mapper, emulator):
    products = [mapper.map_product(connection, records.product(n)) for n in (1, 2)]
    destination.write_records(connection, "catalog", products)
    emulator.faults(pending_429=2)

    results = destination.delete_records(connection, "catalog", products[:1])

    assert results[0].ok and _keys(emulator, "Catalog_Default") == ["2"]
    assert emulator.requests()[DELETE_CATALOG] == 3  # two refusals, then the delete


def test_without_the_feature_removals_pause_the_area(ec_app, destination, mapper, emulator):
    connection = make_connection(NO_INSIGHT)
    product = mapper.map_product(connection, records.product(1))

    with pytest.raises(ConfigurationError) as catalog_off:
        destination.delete_records(connection, "catalog", [product])

    assert (catalog_off.value.code, catalog_off.value.area) == ("catalog_disabled", "catalog")
