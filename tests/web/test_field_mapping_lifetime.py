"""The lifetime order fields on the Field mapping tab: offered beside the customer fields, the
amounts named in the store's currency, each into data fields of its type, created with it."""

from __future__ import annotations

import pytest

from host.db import get_db
from host.hookspecs import hookimpl
from host.models import Base, ContactProfile
from tests.web.conftest import page_text
from tests.web.fakes import FakeShopSource
from tests.web.test_field_mapping import (
    MappingCloudPlugin,
    current_form,
    row_error,
    row_of,
    saved_mapping,
)


class EuroShop(FakeShopSource):
    asked = 0

    def currency(self, connection):
        EuroShop.asked += 1
        return "EUR"


class EuroShopPlugin:
    @hookimpl
    def register_sources(self, register):
        register(EuroShop())


@pytest.fixture
def fake_cloud():
    return MappingCloudPlugin()


@pytest.fixture
def web_app(make_app, fake_cloud):
    app = make_app(PLUGINS={"enabled": ["smtp"]}, PLUGIN_MODULES=[fake_cloud, EuroShopPlugin()])
    with app.app_context():
        Base.metadata.create_all(get_db().engine)
    return app


def test_the_lifetime_fields_are_offered_unmapped_with_the_stores_currency(web_app, merchant):
    response = merchant.get("/settings/field-mapping")
    page = response.get_data(as_text=True)

    assert "Lifetime order fields" in page_text(response)
    assert ">Total spent (EUR)</label>" in row_of(page, "total_spent")
    assert ">Average order value (EUR)</label>" in row_of(page, "average_order_value")
    assert ">Number of orders</label>" in row_of(page, "order_count")
    form = current_form(page)
    assert all(form[f"map.{key}"] == "" for key in (
        "order_count", "total_spent", "average_order_value", "first_order_date", "last_order_date",
        "last_order_number"))
    # the destination's suggested names (a destination that declares none: the key in capitals)
    assert "Create ORDER_COUNT" in page and "Create TOTAL_SPENT" in page


def test_each_lifetime_field_goes_into_a_data_field_of_its_type(web_app, merchant, monkeypatch):
    monkeypatch.setattr(EuroShop, "asked", 0)
    form = current_form(merchant.get("/settings/field-mapping").get_data(as_text=True))
    form |= {"map.order_count": "FULLNAME", "map.first_order_date": "LOYALTY_POINTS"}

    response = merchant.post("/settings/field-mapping", form)

    page = response.get_data(as_text=True)
    assert response.status_code == 400
    assert EuroShop.asked == 2  # once per request (the page, then this post), however often labelled
    assert row_error(page, "order_count") == (
        "Number of orders is a number and cannot go into FULLNAME, a String field: choose a Numeric field.")
    assert row_error(page, "first_order_date") == (
        "First order date is a date and cannot go into LOYALTY_POINTS, a Numeric field: choose a Date field.")

    form |= {"map.order_count": "LOYALTY_POINTS", "map.first_order_date": "BIRTHDAY", "map.last_order_number": "COMPANY"}
    assert merchant.post("/settings/field-mapping", form).status_code == 302
    assert saved_mapping(web_app, merchant.connection_id)["last_order_number"] == "COMPANY"  # text or number


def test_create_makes_a_numeric_field_for_the_number_of_orders(web_app, merchant, fake_cloud):
    form = current_form(merchant.get("/settings/field-mapping").get_data(as_text=True))

    response = merchant.post("/settings/field-mapping/data-fields", {**form, "create": "order_count"})

    assert response.status_code == 302
    assert ("ORDER_COUNT", "Numeric") in [(f.name, f.type) for f in fake_cloud.destination.field_options]
    assert saved_mapping(web_app, merchant.connection_id)["order_count"] == "ORDER_COUNT"


def test_the_example_is_a_customers_lifetime_value(web_app, merchant):
    with web_app.app_context(), get_db().transaction() as session:
        session.add(ContactProfile(
            connection_id=merchant.connection_id, email="g@example.com", is_guest=True, sources={},
            customer={"id": "g@example.com", "email": "g@example.com", "is_guest": True, "addresses": [],
                      "date_created": "2024-03-01T10:00:00+00:00", "date_modified": "2024-03-01T10:00:00+00:00"},
            lifetime={"order_count": 3, "total_spent": "60.50", "average_order_value": "20.17",
                      "first_order_date": "2024-03-01T10:00:00+00:00",
                      "last_order_date": "2024-04-02T09:30:00+00:00", "last_order_number": "103"},
        ))

    page = merchant.get("/settings/field-mapping").get_data(as_text=True)

    assert ">3<" in row_of(page, "order_count") and "60.50" in row_of(page, "total_spent")
    assert "2024-04-02 09:30 UTC" in row_of(page, "last_order_date")
