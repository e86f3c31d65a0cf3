"""Contacts into books through bulk imports: data fields, consent, double opt-in, exactly once."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import select

from host.db import get_db
from host.models import ConnectionProblem, DestinationJob
from host.records import contact_fields
from host.settings import save_settings

from . import records

MAPPING = {"first_name": "FIRSTNAME", "last_name": "LASTNAME", "billing_postcode": "POSTCODE"}


def contact_records(mapper, connection, numbers, *, as_subscribers=False, mapping=MAPPING):
    made = []
    for n in numbers:
        customer = records.customer(n)
        subscriber = records.subscriber(n) if as_subscribers else None
        record = mapper.map_contact(
            connection, email=customer["email"], fields=contact_fields(customer, None), mapping=mapping,
            subscriber=subscriber)
        made.append(mapper.with_consent(connection, record, subscriber) if subscriber else record)
    return made


def test_subscribers_land_once_in_their_book_with_fields_and_consent(connection, destination, mapper, emulator):
    # The repeat below re-sends the very consent records: only a service that drops an identical
    # record keeps one (``consent_records=deduplicated``). Under ``appended`` the repeat of a whole
    # batch after a crash adds a copy; the ledger keeps the host from any other repeat (test_modes).
    emulator.control("PATCH", "/modes", consent_records="deduplicated")
    book = emulator.book_id("Subscribers")
    batch = contact_records(mapper, connection, range(1, 301), as_subscribers=True)

    first = destination.write_contacts(connection, batch, book_id=book)
    again = destination.write_contacts(connection, batch, book_id=book)  # e.g. after a crash

    state = emulator.state()
    contacts = {c["email"]: c for c in state["contacts"]}
    assert len(state["contacts"]) == 300
    members = next(b["contacts"] for b in state["address_books"] if str(b["id"]) == book)
    assert sorted(members) == sorted(c["id"] for c in state["contacts"])
    jane = contacts["shopper7@example.com"]
    assert jane["dataFields"]["FIRSTNAME"] == "First7" and jane["dataFields"]["POSTCODE"] == "LS7 1AA"
    assert jane["status"] == "subscribed"
    assert [r["ipAddress"] for r in jane["consentRecords"]] == ["203.0.113.8"]  # not doubled by the repeat
    assert jane["consentRecords"][0]["url"] == "https://demo-store.example.com/signup"
    # every record answered with the contact id Engagement Cloud gave it, the same both times
    assert all(r.ok for r in first + again)
    ids = {c["email"]: str(c["id"]) for c in state["contacts"]}
    assert [r.destination_id for r in first] == [ids[r.key] for r in batch]
    assert [r.destination_id for r in again] == [r.destination_id for r in first]


def test_imports_are_batched_and_recorded_as_finished_jobs(make_ec_app, emulator):
    app = make_ec_app(contact_batch_size=40)
    with app.app_context():
        from host.plugins import get_plugins

        from .conftest import DEMO, make_connection

        connection = make_connection(DEMO)
        batch = contact_records(get_plugins().mapper_for("engagement_cloud"), connection, range(100))
        results = get_plugins().destination("engagement_cloud").write_contacts(connection, batch, book_id=None)

        assert len(results) == 100 and all(r.ok for r in results)
        jobs = get_db().session.scalars(select(DestinationJob)).all()
        assert [(j.kind, j.record_count, j.state) for j in jobs] == [("contacts", 40, "finished"),
                                                                      ("contacts", 40, "finished"),
                                                                      ("contacts", 20, "finished")]
        assert {j.remote_id for j in jobs} == {i["id"] for i in emulator.state()["imports"]}


def test_one_bad_record_is_refused_alone_with_its_reason(connection, destination, mapper, emulator):
    batch = contact_records(mapper, connection, range(1, 4))
    batch[1].key = batch[1].payload["identifiers"]["email"] = "not-an-email@"

    results = destination.write_contacts(connection, batch, book_id=emulator.book_id("Customers"))

    assert [r.ok for r in results] == [True, False, True]
    assert "invalidEmail" in results[1].reason
    assert len(emulator.state()["contacts"]) == 2


def test_new_subscribers_get_double_opt_in_when_the_store_enforces_it(connection, destination, mapper, emulator):
    save_settings(get_db().session, connection, "contacts", {"double_opt_in": True})
    get_db().session.commit()
    book = emulator.book_id("Subscribers")
    historical = records.subscriber(1, created=datetime(2023, 1, 1, tzinfo=UTC))  # before connecting
    new = records.subscriber(2, created=datetime(2024, 3, 1, tzinfo=UTC))  # after connecting (2024-01-01)
    batch = [mapper.map_contact(connection, email=s["email"], fields={}, mapping=MAPPING, subscriber=s)
             for s in (historical, new)]

    assert all(r.ok for r in destination.write_contacts(connection, batch, book_id=book))

    state = emulator.state()
    contacts = {c["email"]: c for c in state["contacts"]}
    assert contacts["shopper2@example.com"]["status"] == "pendingOptIn"
    assert contacts["shopper2@example.com"]["optInType"] == "VerifiedDouble"
    assert contacts["shopper1@example.com"]["status"] == "subscribed"
    assert [e["to"] for e in state["confirmation_emails"]] == ["shopper2@example.com"]
    members = next(b["contacts"] for b in state["address_books"] if str(b["id"]) == book)
    assert members == [contacts["shopper1@example.com"]["id"]]  # the pending one waits outside
    assert destination.contact_status(connection, "shopper2@example.com") == "pending_opt_in"
    assert destination.contact_status(connection, "nobody@example.com") is None


def test_an_unsubscribe_leaves_the_subscribers_book_only(connection, destination, mapper, emulator):
    customers, subscribers = emulator.book_id("Customers"), emulator.book_id("Subscribers")
    destination.write_contacts(connection, contact_records(mapper, connection, [5]), book_id=customers)
    destination.write_contacts(connection, contact_records(mapper, connection, [5], as_subscribers=True),
                               book_id=subscribers)

    destination.remove_from_book(connection, subscribers, ["shopper5@example.com", "never-synced@example.com"])

    state = emulator.state()
    contact_id = state["contacts"][0]["id"]
    books = {str(b["id"]): b["contacts"] for b in state["address_books"]}
    assert books[customers] == [contact_id] and books[subscribers] == []
    assert destination.contact_status(connection, "shopper5@example.com") == "subscribed"  # no global unsubscribe


def test_the_fast_lane_upserts_without_an_import(connection, destination, mapper, emulator):
    record = contact_records(mapper, connection, [9])[0]

    result = destination.upsert_contact(connection, record, book_id=emulator.book_id("Customers"))

    state = emulator.state()
    assert result.ok and result.destination_id == str(state["contacts"][0]["id"])
    assert state["imports"] == []


def test_unknown_mapped_fields_are_left_out_and_reported_once(connection, destination, mapper, emulator):
    mapping = {**MAPPING, "billing_city": "BILLING_CITY"}
    batch = contact_records(mapper, connection, [1, 2], mapping=mapping)

    results = destination.write_contacts(connection, batch, book_id=None)

    assert all(r.ok for r in results)  # the rest of each contact still synced
    assert emulator.state()["contacts"][0]["dataFields"]["FIRSTNAME"] == "First1"
    problems = get_db().session.scalars(select(ConnectionProblem)).all()
    assert [(p.code, p.area) for p in problems] == [("data_fields_missing", "field_mapping")]
    assert "BILLING_CITY" in problems[0].message

    destination.create_missing_data_fields(connection, mapping)
    destination.write_contacts(connection, batch, book_id=None)
    get_db().session.expire_all()
    assert get_db().session.scalars(select(ConnectionProblem)).all() == []
    assert emulator.state()["contacts"][0]["dataFields"]["BILLING_CITY"] == "Leeds"
