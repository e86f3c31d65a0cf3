"""The destination is correct in every mode of the Engagement Cloud emulator
(``emulators.engagement_cloud.modes``), each test run in each mode:

- ``consent_records`` (``appended`` | ``deduplicated``): after cycles with every kind of change,
  each contact holds one consent record per consent given: a contact re-sent for a change, or
  refused and then fixed, never carries its consent again; a new subscription or a new consent
  date does.
- ``data_field_types`` (``enforced`` | ``lenient``): each value goes in its field type's format;
  a value that cannot take its type refuses that contact alone, with a reason the merchant can
  read, in either mode; a refusal by the service itself (a field whose type changed under the
  connector) is recorded the same way, and never stops the other contacts.
"""

from __future__ import annotations

import pytest
import requests
from sqlalchemy import select

from host.db import get_db
from host.models import LedgerEntry
from host.records import contact_fields
from host.settings import save_settings
from host.sync import run_cycle
from host.sync.ledger import SUBSCRIBER_CONTACT
from plugins.engagement_cloud import lookups, reasons
from tests.sync.loopback import StoreSize, actual_state, connected_loop, expected_state

from . import records

CONSENT_MODES = ["appended", "deduplicated"]
TYPE_MODES = ["enforced", "lenient"]


def says_type_mismatch(reason: str | None, area: str = "contacts") -> bool:
    """The merchant reads the type-mismatch sentence and fix for this reason."""
    explained, expected = reasons.explain(reason, area=area), reasons.explain("apiSchemaViolation: x", area=area)
    return explained is not None and (explained.sentence, explained.fix) == (expected.sentence, expected.fix)


def set_mode(url: str, **modes) -> None:
    requests.patch(f"{url}/_emulator/modes", json=modes, timeout=10).raise_for_status()


# ---------------------------------------------------------------------- data_field_types
FIELDS = {"BIRTHDAY": "Date", "ORDERS": "Numeric", "VIP": "Boolean", "NOTE": "String"}
# (field, a value as a store gives it, the value Engagement Cloud must hold, a value that cannot fit)
TYPED = [
    ("BIRTHDAY", "2024-05-01T10:30:00+01:00", "2024-05-01T09:30:00Z", "next Tuesday"),
    ("ORDERS", "12", 12, "a dozen"),
    ("VIP", "yes", True, "perhaps"),
    ("NOTE", "n" * 300, "n" * 255, None),  # text is cut to the 255 characters a String field takes
]


def contact_record(mapper, connection, n: int, data_fields: dict):
    customer = records.customer(n)
    record = mapper.map_contact(connection, email=customer["email"], fields=contact_fields(customer, None),
                                mapping={"first_name": "FIRSTNAME"})
    record.payload["dataFields"].update(data_fields)
    return record


@pytest.fixture
def typed_fields(connection, destination):
    for name, kind in FIELDS.items():
        destination.create_data_field(connection, name, kind)
    lookups.cache.clear()


@pytest.mark.parametrize("mode", TYPE_MODES)
@pytest.mark.parametrize("name, given, held, bad", TYPED, ids=[t[0] for t in TYPED])
def test_each_type_goes_in_its_format_and_a_value_that_cannot_fit_refuses_only_its_contact(
    mode, name, given, held, bad, connection, destination, mapper, emulator, typed_fields
):
    set_mode(emulator.url, data_field_types=mode)
    book = emulator.book_id("Customers")
    batch = [contact_record(mapper, connection, 1, {name: given}), contact_record(mapper, connection, 2, {})]
    if bad is not None:
        batch.append(contact_record(mapper, connection, 3, {name: bad}))

    answers = {answer.source_id: answer for answer in destination.write_contacts(connection, batch, book_id=book)}

    contacts = {c["email"]: c for c in emulator.state()["contacts"]}
    assert contacts["shopper1@example.com"]["dataFields"][name] == held
    assert answers["shopper1@example.com"].ok and answers["shopper2@example.com"].ok
    assert contacts["shopper2@example.com"]["dataFields"]["FIRSTNAME"] == "First2"
    if bad is not None:  # never sent, whatever the service would do with it
        refused = answers["shopper3@example.com"]
        assert not refused.ok and "shopper3@example.com" not in contacts
        assert name in refused.reason and repr(bad) in refused.reason
        assert says_type_mismatch(refused.reason)


@pytest.mark.parametrize("mode", TYPE_MODES)
def test_a_field_whose_type_changed_under_the_connector_is_refused_by_the_service_as_a_record_error(
    mode, connection, destination, mapper, emulator
):
    """The account's field types are cached: text can meet a field that just became a Date one."""
    set_mode(emulator.url, data_field_types=mode)
    book = emulator.book_id("Customers")
    destination.create_data_field(connection, "NOTE", "String")
    first = [contact_record(mapper, connection, 1, {"NOTE": "likes tents"})]
    assert destination.write_contacts(connection, first, book_id=book)[0].ok  # the types are now cached
    emulator.control("PATCH", f"/accounts/{emulator.state()['api_user']}", enforce_double_opt_in=False)
    api = requests.Session()
    api.auth = (emulator.state()["api_user"], "demo-password")
    assert api.delete(f"{emulator.url}/r1/v2/data-fields/NOTE", timeout=10).ok
    assert api.post(f"{emulator.url}/r1/v2/data-fields", json={"name": "NOTE", "type": "Date"}, timeout=10).ok

    batch = [contact_record(mapper, connection, 2, {"NOTE": "likes boots"}),
             contact_record(mapper, connection, 3, {})]
    answers = {a.source_id: a for a in destination.write_contacts(connection, batch, book_id=book)}

    contacts = {c["email"]: c for c in emulator.state()["contacts"]}
    assert answers["shopper3@example.com"].ok and "shopper3@example.com" in contacts
    if mode == "enforced":
        refused = answers["shopper2@example.com"]
        assert not refused.ok and "NOTE" in refused.reason
        assert says_type_mismatch(refused.reason)
        assert "shopper2@example.com" not in contacts
    else:  # the service stores what it is sent
        assert answers["shopper2@example.com"].ok
        assert contacts["shopper2@example.com"]["dataFields"]["NOTE"] == "likes boots"


@pytest.mark.parametrize("mode", TYPE_MODES)
def test_the_fast_lane_upsert_refuses_a_value_that_cannot_fit_with_the_same_reason(
    mode, connection, destination, mapper, emulator, typed_fields
):
    set_mode(emulator.url, data_field_types=mode)
    book = emulator.book_id("Customers")
    good = destination.upsert_contact(connection, contact_record(mapper, connection, 1, {"ORDERS": "3"}), book_id=book)
    bad = destination.upsert_contact(connection, contact_record(mapper, connection, 2, {"ORDERS": "some"}), book_id=book)
    contacts = {c["email"]: c for c in emulator.state()["contacts"]}
    assert good.ok and contacts["shopper1@example.com"]["dataFields"]["ORDERS"] == 3
    assert not bad.ok and "shopper2@example.com" not in contacts
    assert says_type_mismatch(bad.reason)


# ---------------------------------------------------------------------- consent_records
@pytest.mark.parametrize("mode", CONSENT_MODES)
def test_a_batch_sent_again_after_a_crash_does_not_add_its_consents_again(mode, make_ec_app, emulator):
    """The import a crash left running is closed by the next cycle's start; the same subscribers
    sent again are answered from it, not imported (and their consents appended) twice."""
    set_mode(emulator.url, consent_records=mode)
    app = make_ec_app(import_timeout=0.2)
    with app.app_context():
        from host.errors import TransientError
        from host.models import DestinationJob
        from host.plugins import get_plugins

        from .conftest import DEMO, make_connection
        from .test_contacts import contact_records as subscriber_records

        destination, mapper = get_plugins().destination("engagement_cloud"), get_plugins().mapper_for("engagement_cloud")
        connection = make_connection(DEMO)
        book = emulator.book_id("Subscribers")
        batch = subscriber_records(mapper, connection, range(1, 6), as_subscribers=True)
        emulator.control("POST", "/stuck-imports", count=1)
        with pytest.raises(TransientError):  # the writer gives up waiting: as good as a crash
            destination.write_contacts(connection, batch, book_id=book)
        job = get_db().session.scalars(select(DestinationJob)).one()
        emulator.control("POST", f"/imports/{job.remote_id}/release")

        destination.start_cycle(connection)  # the next cycle closes the import left running
        results = destination.write_contacts(connection, batch, book_id=book)  # and sends the batch again

    assert all(r.ok for r in results)
    assert emulator.requests()["PUT /contacts/v3/import"] == 1
    assert [len(c["consentRecords"]) for c in emulator.state()["contacts"]] == [1] * 5


SIZE = StoreSize(customers=16, subscribers=12, orders=24, products=2, seed=31)


@pytest.mark.parametrize("mode", CONSENT_MODES)
def test_after_cycles_with_changes_each_contact_holds_one_consent_record_per_consent_given(mode, make_app):
    with connected_loop(make_app, SIZE) as (app, emulators, connection_id):
        set_mode(emulators.engagement_cloud.url, consent_records=mode)

        def cycle():
            with app.app_context():
                run = run_cycle(connection_id)
            assert run.status == "finished", run.errors

        def consents() -> dict[str, list[dict]]:
            contacts = actual_state(emulators.account())["contacts"]
            return {email: contact["consentRecords"] for email, contact in contacts.items()}

        def subscriber_row(email: str) -> LedgerEntry:
            with app.app_context(), get_db().transaction() as session:
                row = session.scalar(select(LedgerEntry).where(
                    LedgerEntry.connection_id == connection_id, LedgerEntry.kind == SUBSCRIBER_CONTACT,
                    LedgerEntry.source_id == email))
                session.expunge(row)
                return row

        cycle()
        store = emulators.store()
        subscribed = set(expected_state(store)["subscribers_book"])
        given = dict.fromkeys(subscribed, 1)  # consents given so far, per email
        assert len(subscribed) > 3 and all(len(consents()[email]) == 1 for email in subscribed)
        customers = [c for c in store["customers"] if c["email"].lower() in subscribed]
        renamed, refused, resubscribed, signed_again = customers[:4]

        # A second cycle, and a change of name: the contact is sent again, not its consent.
        cycle()
        emulators.update("customers", renamed["id"], last_name="Consentson")
        cycle()
        assert actual_state(emulators.account())["contacts"][renamed["email"].lower()]["dataFields"]["LASTNAME"] == "Consentson"

        # Refused (a company name mapped onto a Numeric field), then fixed: sent again without it.
        with app.app_context(), get_db().transaction() as session:
            from host.models import Connection
            from host.plugins import get_plugins

            connection = session.get(Connection, connection_id)
            get_plugins().destination("engagement_cloud").create_data_field(connection, "COMPANYNO", "Numeric")
            save_settings(session, connection, "field_mapping", {"mapping": {
                "first_name": "FIRSTNAME", "last_name": "LASTNAME", "billing_postcode": "POSTCODE",
                "company": "COMPANYNO"}})
        lookups.cache.clear()
        emulators.update("customers", refused["id"], company="Acme Tents")
        cycle()
        row = subscriber_row(refused["email"].lower())
        assert row.state == "failed" and "COMPANYNO" in row.reason
        assert says_type_mismatch(row.reason, area="subscribers")
        emulators.update("customers", refused["id"], company="4711")
        cycle()
        contact = actual_state(emulators.account())["contacts"][refused["email"].lower()]
        assert contact["dataFields"]["COMPANYNO"] == 4711 and subscriber_row(refused["email"].lower()).state == "synced"

        # Unsubscribed, then subscribed again: a new consent.
        subscriber = next(s for s in store["subscribers"] if s["email"].lower() == resubscribed["email"].lower())
        emulators.update("subscribers", subscriber["id"], consents=[])
        cycle()
        emulators.update("subscribers", subscriber["id"], consents=["marketing_newsletter"])
        cycle()
        # The store keeps the first signup's date for it: the very same record is sent again, which
        # a deduplicating service keeps once.
        given[resubscribed["email"].lower()] = 2 if mode == "appended" else 1

        # Signed up again (a new subscriber record, a new consent date): a new consent.
        subscriber = next(s for s in store["subscribers"] if s["email"].lower() == signed_again["email"].lower())
        emulators.delete("subscribers", subscriber["id"])
        emulators.create("subscribers", email=signed_again["email"], first_name="Again")
        cycle()
        given[signed_again["email"].lower()] = 2
        cycle()

        held = consents()
        assert {email: len(held[email]) for email in subscribed} == given
        dates = [r["dateTimeConsented"] for r in held[signed_again["email"].lower()]]
        assert dates == sorted(dates) and dates[0] != dates[1]
