"""People deleted in the store leave the destination (``host.sync.erasure``): taken out of the
connector's books by default, or erased with their records; the host forgets them; an email
still described by another store record only loses the contact of the record deleted."""

from __future__ import annotations

import contextlib

from sqlalchemy import select

from host.db import get_db
from host.errors import TransientError
from host.models import ContactProfile, Enrolment, LedgerEntry, OrderFact, SyncRun, WebhookEvent
from host.sync import run_fast_lane
from host.sync.erasure import COUNTS, ERASURE, erasure_key
from tests.sync.fakes import at, customer, order, subscriber
from tests.sync.test_gone_by_id import fast_lane

ADA, BOB = "ada@example.com", "bob@example.com"


def fill(store):
    store.customers["1"] = customer(1, ADA, at(1))
    store.customers["2"] = customer(2, BOB, at(1, 1))
    store.subscribers["s2"] = subscriber("s2", BOB, at(1, 2))
    store.orders["100"] = order(100, ADA, at(3), customer_id="1")
    store.orders["101"] = order(101, BOB, at(3, 1), customer_id="2")


def redeliver(world, stream, record_id):
    with world.app.app_context(), get_db().transaction() as session:
        session.add(WebhookEvent(connection_id=world.connection_id, dedupe_key=f"{stream}:{record_id}:again",
                                 stream=stream, record_id=record_id))
    with world.app.app_context():
        return run_fast_lane(world.connection_id)


def books(world, email):
    contact = world.destination.contacts.get(email)
    return None if contact is None else contact["books"]


def profile(world, email):
    rows = world.query(select(ContactProfile).where(ContactProfile.email == email))
    return rows[0] if rows else None


def contact_rows(world, email):
    return world.query(select(LedgerEntry).where(LedgerEntry.source_id == email))


def order_facts(world, email):
    return world.query(select(OrderFact).where(OrderFact.email == email))


def erasure_row(world, email):
    return world.ledger(ERASURE, erasure_key(email))


def last_counts(world, trigger=None):
    statement = select(SyncRun).order_by(SyncRun.id.desc())
    if trigger:
        statement = statement.where(SyncRun.trigger == trigger)
    return world.query(statement)[0].counts.get(COUNTS, {})


def test_a_deleted_customer_leaves_the_books_by_default_and_is_forgotten(world):
    fill(world.store)
    world.sync()
    assert books(world, ADA) == {"B-customers"}
    del world.store.customers["1"]

    run = fast_lane(world, ("customers", "1"))

    assert run.status == "finished"
    assert books(world, ADA) == set()  # still a contact, in no book of the connector
    assert world.destination.collections["Orders"]["100"]["email"] == ADA  # its orders stay
    assert world.destination.writes["erase"] == 0
    assert profile(world, ADA) is None and contact_rows(world, ADA) == []
    assert order_facts(world, ADA) == [] and order_facts(world, BOB) != []  # their orders' email too
    row = erasure_row(world, ADA)
    assert (row.state, row.outbox, row.reason) == ("excluded", None, "deleted in the store: removed from the address books")
    assert ADA not in row.source_id  # only a hash of the email is kept
    assert last_counts(world, "fast_lane") == {**last_counts(world, "fast_lane"), "removed": 1}
    assert books(world, BOB) == {"B-customers", "B-subscribers"}  # the others are untouched

    writes = sum(world.destination.writes.values())
    world.sync()
    redeliver(world, "customers", "1")  # a late duplicate of the webhook: nothing again
    assert sum(world.destination.writes.values()) == writes


def test_with_the_setting_a_deleted_customer_is_erased_with_their_orders(world):
    fill(world.store)
    world.save("contacts", {"deleted_contacts": "erase"})
    world.sync()
    del world.store.customers["1"]

    fast_lane(world, ("customers", "1"))

    assert ADA not in world.destination.contacts
    assert "100" not in world.destination.collections["Orders"]
    assert "101" in world.destination.collections["Orders"]
    assert erasure_row(world, ADA).reason == "deleted in the store: erased from Fake destination"
    assert last_counts(world, "fast_lane").get("erased") == 1
    assert profile(world, ADA) is None and contact_rows(world, ADA) == [] and order_facts(world, ADA) == []


def test_a_deleted_customer_who_is_still_a_subscriber_stays_a_subscriber(world):
    fill(world.store)
    world.save("contacts", {"deleted_contacts": "erase"})
    world.sync()
    del world.store.customers["2"]

    fast_lane(world, ("customers", "2"))

    assert books(world, BOB) == {"B-subscribers"}  # only out of the customers book
    assert world.destination.writes["erase"] == 0
    assert erasure_row(world, BOB) is None
    assert profile(world, BOB).customer is None and profile(world, BOB).subscriber is not None

    del world.store.subscribers["s2"]  # now nothing in the store describes Bob
    fast_lane(world, ("subscribers", "s2"))
    assert BOB not in world.destination.contacts
    assert "101" not in world.destination.collections["Orders"]
    assert profile(world, BOB) is None


def test_a_cycle_finds_deleted_customers_when_it_reads_the_stores_customers_whole(world):
    fill(world.store)
    world.save("contacts", {"deleted_contacts": "erase"})
    world.sync()
    del world.store.customers["1"]
    world.sync()  # an incremental read cannot tell: nothing changes yet
    assert ADA in world.destination.contacts

    assert world.sync(full=True).status == "finished"

    assert ADA not in world.destination.contacts and "100" not in world.destination.collections["Orders"]
    assert last_counts(world).get("erased") == 1
    assert books(world, BOB) == {"B-customers", "B-subscribers"}


def test_an_erasure_refused_for_one_waits_without_blocking_the_others(world):
    fill(world.store)
    world.store.customers["3"] = customer(3, "cy@example.com", at(1, 3))
    world.save("contacts", {"deleted_contacts": "erase"})
    world.sync()
    world.destination.refuse[ADA] = "locked"
    del world.store.customers["1"], world.store.customers["3"]

    fast_lane(world, ("customers", "1"), ("customers", "3"))

    assert "cy@example.com" not in world.destination.contacts
    row = erasure_row(world, ADA)
    assert row.state == "failed" and "locked" in row.reason and row.outbox["key"] == ADA
    del world.destination.refuse[ADA]
    with world.app.app_context(), get_db().transaction() as session:
        session.get(LedgerEntry, row.id).next_attempt_at = None
    world.sync()
    assert ADA not in world.destination.contacts
    assert erasure_row(world, ADA).state == "excluded"


def test_an_outage_keeps_the_erasure_queued_and_a_crash_after_the_answer_repeats_it_once(world, monkeypatch):
    fill(world.store)
    world.save("contacts", {"deleted_contacts": "erase"})
    world.sync()
    world.destination.broken["erase"] = TransientError("down")
    del world.store.customers["1"]

    fast_lane(world, ("customers", "1"))

    assert ADA in world.destination.contacts
    assert erasure_row(world, ADA).outbox["key"] == ADA  # waits, no attempt counted
    assert erasure_row(world, ADA).attempts == 0
    assert not world.query(select(WebhookEvent).where(WebhookEvent.processed_at.is_(None)))
    del world.destination.broken["erase"]

    # The destination erases, then the process dies before the ledger records it.
    from host.sync import erasure

    def die(context, row, email, reason):
        raise RuntimeError("the process died here")

    monkeypatch.setattr(erasure, "_forget", die)
    with contextlib.suppress(RuntimeError):
        world.sync()
    assert ADA not in world.destination.contacts
    assert erasure_row(world, ADA).outbox is not None  # not recorded: asked again
    monkeypatch.undo()
    world.sync()
    assert erasure_row(world, ADA).state == "excluded"
    assert world.destination.writes["erase"] == 2  # once more; "already gone" counts as erased
    erased = [run.counts.get(COUNTS, {}).get("erased", 0) for run in world.query(select(SyncRun))]
    assert sum(erased) == 1


def test_an_erased_person_s_settled_enrolments_are_forgotten(world):
    fill(world.store)
    world.sync()
    with world.app.app_context(), get_db().transaction() as session:
        session.add(Enrolment(connection_id=world.connection_id, trigger="new_customer",
                              contact_key=ADA, state="active"))
    del world.store.customers["1"]
    fast_lane(world, ("customers", "1"))
    assert [e.contact_key for e in world.enrolments()] == []


def test_a_deleted_subscriber_who_is_still_a_customer_leaves_only_the_subscribers_book(world):
    fill(world.store)
    world.sync()
    del world.store.subscribers["s2"]

    fast_lane(world, ("subscribers", "s2"))

    assert books(world, BOB) == {"B-customers"}
    assert erasure_row(world, BOB) is None
    assert world.ledger("subscriber_contact", BOB).state == "excluded"


def test_a_deleted_customer_who_also_ordered_as_a_guest_stays_as_that_guest(world):
    fill(world.store)
    world.store.orders["102"] = order(102, ADA, at(4))  # placed without logging in
    world.save("contacts", {"deleted_contacts": "erase"})
    world.sync()
    del world.store.customers["1"]

    fast_lane(world, ("customers", "1"))

    assert books(world, ADA) == {"B-customers"}  # not erased: the store still has their guest order
    assert world.destination.writes["erase"] == 0 and erasure_row(world, ADA) is None
    assert {"100", "102"} <= set(world.destination.collections["Orders"])
    assert profile(world, ADA).is_guest


def test_a_deleted_subscriber_who_is_a_guest_leaves_only_the_subscribers_book(world):
    world.store.orders["200"] = order(200, "guest@example.com", at(3))
    world.store.subscribers["s9"] = subscriber("s9", "guest@example.com", at(2))
    world.save("contacts", {"deleted_contacts": "erase"})
    world.sync()
    assert books(world, "guest@example.com") == {"B-customers", "B-subscribers"}
    del world.store.subscribers["s9"]

    fast_lane(world, ("subscribers", "s9"))

    assert books(world, "guest@example.com") == {"B-customers"}
    assert world.destination.writes["erase"] == 0
