"""The Field mapping tab: defaults pre-mapped, changes saved for the next sync, missing fields created."""

from __future__ import annotations

import re

from host.db import get_db
from host.models import Connection
from host.records import CONTACT_FIELDS
from host.settings import get_settings
from tests.web.conftest import page_text


def saved_mapping(app, connection_id: int):
    with app.app_context(), get_db().transaction() as session:
        return get_settings(session, session.get(Connection, connection_id), "field_mapping")["mapping"]


def current_form(page: str) -> dict[str, str]:
    """What the page's 26 dropdowns submit as they are shown."""

    form = {}
    for key in CONTACT_FIELDS:
        select = re.search(rf'<select id="map-{key}" name="map.{key}".*?</select>', page, re.S).group(0)
        chosen = re.search(r'<option value="([^"]*)" selected>', select)
        form[f"map.{key}"] = chosen.group(1) if chosen else ""
    return form


def test_the_26_fields_are_listed_with_the_defaults_pre_mapped(web_app, merchant):
    page = merchant.get("/settings/field-mapping").get_data(as_text=True)
    form = current_form(page)
    assert len(form) == 26
    assert form["map.first_name"] == "FIRSTNAME"
    assert form["map.billing_postcode"] == "POSTCODE"
    assert form["map.shipping_fax"] == ""
    assert saved_mapping(web_app, merchant.connection_id) is None  # the defaults apply until saved


def test_a_changed_mapping_is_saved_and_unmapped_fields_are_dropped(web_app, merchant):
    form = current_form(merchant.get("/settings/field-mapping").get_data(as_text=True))
    form["map.last_name"] = ""
    form["map.company"] = "FULLNAME"

    response = merchant.post("/settings/field-mapping", form)

    assert response.status_code == 302
    assert saved_mapping(web_app, merchant.connection_id) == {
        "first_name": "FIRSTNAME", "company": "FULLNAME", "billing_postcode": "POSTCODE"}
    assert "It applies from the next sync" in page_text(merchant.get("/settings/field-mapping"))


def test_a_data_field_missing_from_the_account_is_refused(web_app, merchant):
    form = current_form(merchant.get("/settings/field-mapping").get_data(as_text=True))
    form["map.phone"] = "NOT_THERE"

    response = merchant.post("/settings/field-mapping", form)

    assert response.status_code == 400
    assert "NOT_THERE is not a data field of your Engagement Cloud account." in page_text(response)
    assert saved_mapping(web_app, merchant.connection_id) is None


def test_a_missing_data_field_is_created_in_the_account_and_mapped(web_app, merchant, fake_cloud):
    page = merchant.get("/settings/field-mapping").get_data(as_text=True)
    assert "Create BILLING_CITY" in page
    form = current_form(page)

    response = merchant.post("/settings/field-mapping/data-fields", {**form, "create": "billing_city"})

    assert response.status_code == 302
    assert ("BILLING_CITY", "String") in [(field.name, field.type) for field in fake_cloud.destination.field_options]
    assert saved_mapping(web_app, merchant.connection_id)["billing_city"] == "BILLING_CITY"
    assert "Create BILLING_CITY" not in merchant.get("/settings/field-mapping").get_data(as_text=True)
