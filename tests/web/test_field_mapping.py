"""The Field mapping tab: defaults pre-mapped, changes saved for the next sync, missing fields
created; mistakes that would corrupt data refused inline, an example value per row, and the
number of contacts a change re-sends confirmed before it is saved."""

from __future__ import annotations

import re
from datetime import UTC, datetime

import pytest

from host.db import get_db
from host.destinations import Option
from host.hookspecs import hookimpl
from host.models import Connection, ContactProfile, LedgerEntry
from host.records import CONTACT_FIELDS
from host.settings import get_settings, save_settings
from host.sync.contacts import map_for_book
from host.sync.ledger import CUSTOMER_CONTACT
from plugins.engagement_cloud.mapper import EngagementCloudMapper
from tests.web.conftest import page_text
from tests.web.fakes import FakeCloudPlugin


class ContactMapper(EngagementCloudMapper):
    """Engagement Cloud's mapper for the page tests' account: it maps contacts for real."""

    destination = "fake_cloud"


class MappingCloudPlugin(FakeCloudPlugin):
    """The page tests' account with a mapper that maps contacts, a system field and typed fields."""

    def __init__(self):
        super().__init__()
        self.destination.field_options += [
            Option("BIRTHDAY", "BIRTHDAY", type="Date"),
            Option("LOYALTY_POINTS", "LOYALTY_POINTS", type="Numeric"),
            Option("LASTSUBSCRIBED", "LASTSUBSCRIBED", type="Date", writable=False),
            Option("COMPANY", "COMPANY", type="String"),
        ]

    @hookimpl
    def register_mappers(self, register):
        register(ContactMapper())


@pytest.fixture
def fake_cloud():
    return MappingCloudPlugin()


def saved_mapping(app, connection_id: int):
    with app.app_context(), get_db().transaction() as session:
        return get_settings(session, session.get(Connection, connection_id), "field_mapping")["mapping"]


def current_form(page: str) -> dict[str, str]:
    """What the page's dropdowns (26 customer fields, 6 lifetime order fields) submit as shown."""

    form = {}
    for key in CONTACT_FIELDS:
        select = re.search(rf'<select id="map-{key}" name="map.{key}".*?</select>', page, re.S).group(0)
        chosen = re.search(r'<option value="([^"]*)" selected>', select)
        form[f"map.{key}"] = chosen.group(1) if chosen else ""
    return form


def test_the_26_customer_and_6_lifetime_fields_are_listed_with_the_defaults_pre_mapped(web_app, merchant):
    page = merchant.get("/settings/field-mapping").get_data(as_text=True)
    form = current_form(page)
    assert len(form) == 26 + 6
    assert form["map.order_count"] == form["map.total_spent"] == ""  # unmapped until the merchant maps them
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
    assert "NOT_THERE is not a data field of your Fake Cloud account." in page_text(response)
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


# ------------------------------------------------------------------ a mapping that cannot corrupt data
def row_error(page: str, key: str) -> str | None:
    found = re.search(rf'<p class="field-error" id="map-{key}-error">(.*?)</p>', page, re.S)
    return " ".join(found.group(1).split()) if found else None


def test_one_data_field_for_two_store_fields_is_refused_inline_naming_both(web_app, merchant):
    form = current_form(merchant.get("/settings/field-mapping").get_data(as_text=True))
    form["map.last_name"] = "FIRSTNAME"  # every contact's first name would become the surname

    response = merchant.post("/settings/field-mapping", form)

    page = response.get_data(as_text=True)
    assert response.status_code == 400
    message = "First name and Last name are both mapped to FIRSTNAME: choose one."
    assert row_error(page, "first_name") == message and row_error(page, "last_name") == message
    assert 'id="map-last_name" name="map.last_name" aria-invalid="true"' in page
    assert row_error(page, "billing_postcode") is None
    assert saved_mapping(web_app, merchant.connection_id) is None


def test_a_field_whose_type_does_not_fit_is_refused_inline_naming_the_types(web_app, merchant):
    form = current_form(merchant.get("/settings/field-mapping").get_data(as_text=True))
    form |= {"map.company": "BIRTHDAY", "map.phone": "LOYALTY_POINTS", "map.date_created": "FULLNAME"}

    response = merchant.post("/settings/field-mapping", form)

    page = response.get_data(as_text=True)
    assert response.status_code == 400
    assert row_error(page, "company") == "Company is text and cannot go into BIRTHDAY, a Date field: choose a String field."
    assert row_error(page, "phone") == (
        "Phone is text and cannot go into LOYALTY_POINTS, a Numeric field: choose a String field.")
    assert row_error(page, "date_created") == (
        "Created date is a date and cannot go into FULLNAME, a String field: choose a Date field.")
    assert saved_mapping(web_app, merchant.connection_id) is None

    form |= {"map.company": "COMPANY", "map.phone": "", "map.date_created": "BIRTHDAY"}
    assert merchant.post("/settings/field-mapping", form).status_code == 302
    assert saved_mapping(web_app, merchant.connection_id)["date_created"] == "BIRTHDAY"


def test_system_fields_are_not_offered_and_refused_if_posted(web_app, merchant):
    page = merchant.get("/settings/field-mapping").get_data(as_text=True)
    assert '<option value="LASTSUBSCRIBED"' not in page
    assert '<option value="BIRTHDAY">BIRTHDAY (Date)</option>' in page  # other fields are offered

    form = current_form(page) | {"map.company": "LASTSUBSCRIBED"}
    response = merchant.post("/settings/field-mapping", form)

    assert response.status_code == 400
    assert row_error(response.get_data(as_text=True), "company") == (
        "LASTSUBSCRIBED is a system field that Fake Cloud fills in itself, so the connector must not "
        "write it: choose another field.")
    assert saved_mapping(web_app, merchant.connection_id) is None


# ------------------------------------------------------------------ examples and the re-send count
BOOK = "11"
DEFAULTS = {"first_name": "FIRSTNAME", "last_name": "LASTNAME", "billing_postcode": "POSTCODE"}


def seed_contacts(app, connection_id: int, people: dict[str, dict], sent_under: dict | None = None) -> None:
    """A contact profile per email (customer fields over a plain customer; later ones updated
    later); with ``sent_under``, each contact recorded as sent to the customers book under that
    mapping, as the sync records it."""
    with app.test_request_context(), get_db().transaction() as session:
        connection = session.get(Connection, connection_id)
        save_settings(session, connection, "contacts", {"customers_book_id": BOOK})
        for n, (email, fields) in enumerate(people.items(), start=1):
            moment = datetime(2024, 3, n, 10, tzinfo=UTC)
            customer = {
                "id": str(n), "email": email, "first_name": f"First{n}", "last_name": f"Last{n}",
                "company": None, "phone": None, "notes": None, "is_guest": False, "addresses": [],
                "date_created": moment.isoformat(), "date_modified": moment.isoformat(), **fields,
            }
            profile = ContactProfile(connection_id=connection_id, email=email, customer=customer,
                                     customer_id=str(n), sources={}, updated_at=moment.replace(tzinfo=None))
            session.add(profile)
            if sent_under is not None:
                mapped = map_for_book(ContactMapper(), connection, sent_under, profile, None, BOOK)
                session.add(LedgerEntry(connection_id=connection_id, kind=CUSTOMER_CONTACT, source_id=email,
                                        state="synced", payload_hash=mapped.digest))


def row_of(page: str, key: str) -> str:
    return re.search(rf'<tr[^>]*>\s*<th scope="row"><label for="map-{key}">.*?</tr>', page, re.S).group(0)


def test_each_row_shows_an_example_from_the_latest_customer_with_a_value_escaped(web_app, merchant):
    seed_contacts(web_app, merchant.connection_id, {
        "older@example.com": {"company": "Old & Co", "phone": "+44 113 496 0000"},
        "newer@example.com": {"company": "<script>alert('x')</script> & Sons", "phone": "  "},
    })

    page = merchant.get("/settings/field-mapping").get_data(as_text=True)

    assert "<script>alert" not in page
    assert "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; &amp; Sons" in row_of(page, "company")
    assert "+44 113 496 0000" in row_of(page, "phone")  # the newer customer's phone is blank
    assert "2024-03-02 10:00 UTC" in row_of(page, "date_created")
    assert "No customer has one yet" in row_of(page, "shipping_fax")


def test_save_first_says_how_many_contacts_will_be_re_sent_and_saves_on_confirm(web_app, merchant):
    seed_contacts(web_app, merchant.connection_id, {
        "a@example.com": {"company": "Acme Corp"},
        "b@example.com": {"company": "Oak & Ivy"},
        "c@example.com": {},  # no company: mapping COMPANY changes nothing for this contact
    }, sent_under=DEFAULTS)
    form = current_form(merchant.get("/settings/field-mapping").get_data(as_text=True))
    form["map.company"] = "COMPANY"

    response = merchant.post("/settings/field-mapping", form)

    page = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "2 contacts will be re-sent" in page_text(response)
    assert saved_mapping(web_app, merchant.connection_id) is None  # not before the merchant confirms
    token = re.search(r'name="confirm" value="([^"]+)"', page).group(1)

    # A confirmation is for the mapping it counted: another one is counted again, not saved.
    response = merchant.post("/settings/field-mapping", form | {"map.phone": "FULLNAME", "confirm": token})
    assert response.status_code == 200 and "2 contacts will be re-sent" in page_text(response)
    assert saved_mapping(web_app, merchant.connection_id) is None

    response = merchant.post("/settings/field-mapping", form | {"confirm": token})

    assert response.status_code == 302
    assert saved_mapping(web_app, merchant.connection_id) == DEFAULTS | {"company": "COMPANY"}
    assert "re-sends 2 contacts: those whose mapped values changed" in page_text(
        merchant.get("/settings/field-mapping"))


def test_a_change_that_re_sends_nobody_is_saved_at_once_and_unmapped_fields_are_remembered(web_app, merchant):
    seed_contacts(web_app, merchant.connection_id, {"a@example.com": {"company": "Acme Corp"}}, sent_under=DEFAULTS)
    form = current_form(merchant.get("/settings/field-mapping").get_data(as_text=True))
    form |= {"map.shipping_fax": "FULLNAME", "map.billing_postcode": ""}  # nobody has either

    response = merchant.post("/settings/field-mapping", form)

    assert response.status_code == 302
    assert "no contact needs to be sent again" in page_text(merchant.get("/settings/field-mapping"))
    with web_app.app_context(), get_db().transaction() as session:
        values = get_settings(session, session.get(Connection, merchant.connection_id), "field_mapping")
    assert values["unmapped"] == ["POSTCODE"]  # sent empty once to the contacts that had one
