"""`flask --app host demo --once` brings up the whole product on a generated store and syncs it."""

import json

import pytest

from demo import expected
from demo.world import CUSTOMERS_BOOK, LIFETIME_DATA_FIELDS, SUBSCRIBERS_BOOK


@pytest.fixture
def demo_output(make_app, tmp_path):
    app = make_app()
    out = tmp_path / "state"
    result = app.test_cli_runner().invoke(
        args=["demo", "--once", "--seed", "3", "--customers", "40", "--subscribers", "20",
              "--orders", "60", "--products", "12", "--state-out", str(out)]
    )
    assert result.exit_code == 0, result.output + repr(result.exception)
    return result.output, json.loads((out / "bigcommerce.json").read_text()), json.loads(
        (out / "engagement_cloud.json").read_text()
    )


def test_demo_installs_connects_and_syncs_the_store_through_the_real_flows(demo_output):
    output, bigcommerce, engagement_cloud = demo_output
    assert "Installed the app in the demo store." in output
    assert "First sync (cycle 1) finished" in output

    store = bigcommerce["stores"][0]
    account = engagement_cloud["accounts"][0]
    assert store["hooks"], "webhooks are registered on connect"
    assert all(hook["destination"].endswith("/bigcommerce/webhooks") for hook in store["hooks"])
    books = {book["name"]: set(book["contacts"]) for book in account["address_books"]}
    emails = {contact["id"]: contact["email"].lower() for contact in account["contacts"]}
    customers_book = {emails[contact_id] for contact_id in books[CUSTOMERS_BOOK]}
    assert {customer["email"].lower() for customer in store["customers"]} <= customers_book
    assert books[SUBSCRIBERS_BOOK], "opted-in subscribers reach the subscribers book"
    visible = {str(product["id"]) for product in store["products"] if product["is_visible"]}
    assert {record["key"] for record in account["insight"]["Catalog_Default"]} == visible
    assert account["insight"]["Orders"], "orders reach Insight data"
    assert account["enrolments"] == [], "the backfill enrols nobody"


def test_demo_maps_the_lifetime_order_fields_and_they_match_the_stores_orders(demo_output):
    output, bigcommerce, engagement_cloud = demo_output
    assert "Mapped the lifetime order fields on the Field mapping tab." in output
    store, account = bigcommerce["stores"][0], engagement_cloud["accounts"][0]
    types = {field["name"]: field["type"] for field in account["data_fields"]}
    assert {name: types.get(name) for name in LIFETIME_DATA_FIELDS.values()} == {
        "NUMBER_OF_ORDERS": "Numeric", "TOTAL_SPEND": "Numeric", "AVERAGE_ORDER_VALUE": "Numeric",
        "FIRST_ORDER_DATE": "Date", "LAST_ORDER_DATE": "Date", "LAST_ORDER_NUMBER": "String"}
    books = expected.actual_state(account, CUSTOMERS_BOOK, SUBSCRIBERS_BOOK)
    members = books["customers_book"] | books["subscribers_book"]
    buyers = set(expected.lifetime_values(store)) & members
    assert len(buyers) > 10, "customers and guests with orders carry lifetime fields"
    assert expected.lifetime_differences(store, account, members, LIFETIME_DATA_FIELDS) == {}
