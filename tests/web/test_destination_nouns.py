"""The settings pages speak the connected destination's words (``Destination.nouns``): a platform
whose address book is a "list", whose program is an "automation", whose data field is a
"property" and whose contact is a "profile" finds those words on every tab, and none of
Engagement Cloud's."""

from __future__ import annotations

import re

import pytest

from host.destinations import DEFAULT_NOUNS, noun_forms
from host.models import ConnectionProblem, Enrolment, LedgerEntry
from plugins.engagement_cloud.destination import EngagementCloud
from tests.web.conftest import Merchant, install_store
from tests.web.fakes import FakeCloudPlugin, FakeDestination
from tests.web.test_needs_attention import add, visible_text

# Engagement Cloud's words for its things, and its examples: none may show for another platform.
THEIR_WORDS = re.compile(
    r"address books?|\bbooks?\b|\bprograms?\b|data fields?|\bcontacts?\b|insight|LASTSUBSCRIBED|"
    r"CUSTOMER_NOTE|engagement cloud",
    re.IGNORECASE,
)


class ListfulDestination(FakeDestination):
    """A platform with lists, automations, properties and profiles, in a workspace."""

    name = "listful"
    title = "Listful"
    nouns = {"account": "workspace", "address_book": "list", "program": "automation",
             "data_field": "property", "data_fields": "properties", "contact": "profile"}
    system_field_example = "SIGNUP_SOURCE"

    def __init__(self):
        super().__init__()
        self.program_options[1:] = []  # an inactive one is said below, with its own warning


@pytest.fixture
def fake_cloud():
    return FakeCloudPlugin(ListfulDestination())


def their_words(text: str) -> list[str]:
    return sorted({found.group(0) for found in THEIR_WORDS.finditer(text)})


def test_the_destinations_plurals_and_short_names_follow_what_it_declares():
    assert noun_forms({}) == {**DEFAULT_NOUNS, **{key + "s": word + "s" for key, word in DEFAULT_NOUNS.items()}}
    forms = noun_forms(ListfulDestination.nouns)
    assert (forms["address_books"], forms["address_book_short"], forms["data_fields"], forms["contacts"]) == (
        "lists", "list", "properties", "profiles")
    assert ListfulDestination().noun("program", plural=True) == "automations"
    with pytest.raises(KeyError):
        noun_forms({"adress_book": "list"})


def test_engagement_clouds_pages_read_as_before():
    """The page tests' fake declares no nouns: Engagement Cloud's declared words are those defaults."""
    assert noun_forms(EngagementCloud.nouns) == noun_forms({})
    destination = EngagementCloud()
    assert destination.suggested_data_field_name("notes") == "CUSTOMER_NOTE"
    assert destination.suggested_data_field_name("order_count") == "NUMBER_OF_ORDERS"
    assert destination.suggested_data_field_name("total_spent") == "TOTAL_SPEND"
    assert destination.suggested_data_field_name("billing_address_line_1") == "BILLING_ADDRESS_LINE"
    assert destination.data_field_name_problem("A" * 21) == "Use up to 20 letters, digits, '-' or '_' for a data field name."
    assert destination.data_field_name_problem("COMPANY") is None


def test_every_settings_page_speaks_the_destinations_words(web_app, merchant):
    store = merchant.connection_id
    pages = {}
    # The Store tab, refusing one list for both (its errors), then saved with lists and an automation.
    same = {"double_opt_in": "yes", "customers_book_id": "11", "subscribers_book_id": "11",
            "consent_text": "Yes, email me", "new_customer_program_id": "21"}
    pages["store, refused"] = visible_text(merchant.post("/settings/store", same))
    missing = {**same, "subscribers_book_id": "99", "first_order_program_id": "98"}
    pages["store, missing"] = visible_text(merchant.post("/settings/store", missing))
    merchant.post("/settings/store", {**same, "subscribers_book_id": "12"})
    add(web_app,
        LedgerEntry(connection_id=store, kind="customer_contact", source_id="jo@example.com", state="failed",
                    reason="Email address is not valid", attempts=5),
        LedgerEntry(connection_id=store, kind="subscriber_contact", source_id="al@example.com", state="excluded",
                    reason="no book chosen"),
        Enrolment(connection_id=store, trigger="new_customer", contact_key="fan@example.com", program_id="21",
                  state="failed", reason="refused", attempts=5),
        Enrolment(connection_id=store, trigger="new_customer", contact_key="new@example.com", program_id="21",
                  state="pending_opt_in"),
        Enrolment(connection_id=store, trigger="new_customer", contact_key="gone@example.com", program_id="21",
                  state="suppressed"),
        ConnectionProblem(connection_id=store, code="list_missing", area="contacts", message="A list is gone."))
    pages["store"] = visible_text(merchant.get("/settings/store", follow_redirects=True))
    pages["store, customers area"] = visible_text(merchant.get("/settings/store?area=customers"))
    pages["field mapping"] = visible_text(merchant.get("/settings/field-mapping"))
    created = merchant.post("/settings/field-mapping/data-fields", {"create": "company"}, follow_redirects=True)
    pages["field mapping, created"] = visible_text(created)
    pages["connected"] = visible_text(merchant.get("/settings/connect"))
    pages["disconnect"] = visible_text(merchant.get("/settings/disconnect"))
    pages["remove"] = visible_text(merchant.get("/settings/store/remove"))
    pages["removed"] = visible_text(merchant.post("/settings/store/remove"))
    newcomer = Merchant(web_app.test_client(), install_store(web_app, account="new", name="New shop"))
    pages["connect"] = visible_text(newcomer.get("/settings/connect"))

    assert {name: their_words(text) for name, text in pages.items()} == {name: [] for name in pages}
    assert "Customers and subscribers must go to different lists: choose another list." in pages["store, refused"]
    assert "This list does not exist in your Listful workspace." in pages["store, missing"]
    assert "This automation does not exist in your Listful workspace." in pages["store, missing"]
    store_tab = pages["store"]
    for words in ("Workspace: api-staging@example.com · Change workspace", "Profiles Enforce double opt-in",
                  "join the subscribers list only once they confirm",
                  "If your Listful workspace enforces double opt-in for all signups, that workspace setting", "Send campaigns to the subscribers list only.",
                  "Enrol profiles in an automation when", "Customers list", "Automation: Welcome series",
                  "or an automation that was not active", "Suppressed or unsubscribed profile: 1",
                  "No list chosen: 1", "waiting for the profile to confirm the double opt-in",
                  "fan@example.com: New customer, Welcome series", "Profiles: A list is gone."):
        assert words in store_tab
    assert "Profile in the customers list jo@example.com" in pages["store, customers area"]
    mapping = pages["field mapping"]
    assert "Choose the Listful profile property each customer field is copied to." in mapping
    assert "Fields Listful fills in itself, such as SIGNUP_SOURCE, are not offered." in mapping
    assert "Create COMPANY" in mapping
    assert ("Property COMPANY created and mapped to Company. Mapping saved. It applies from the next sync; "
            "no profile needs to be sent again.") in pages["field mapping, created"]
    assert "Connected workspace" in pages["connected"]
    assert "choose its lists, automations and field mapping" in pages["connected"]
    assert "Connect your Listful workspace" in pages["connect"]
    assert "The lists, automations and field mapping chosen for it are forgotten." in pages["disconnect"]
    assert "When you connect a workspace again" in pages["disconnect"]
    assert "Profiles and data already in Listful stay there." in pages["remove"]
    assert "Your profiles and data already in Listful stay there." in pages["removed"]
    assert "connect a workspace." in pages["removed"]
