"""New customers, new subscribers and first orders are enrolled once each; history never."""

from __future__ import annotations

from sqlalchemy import update

from host.models import Enrolment
from tests.sync.fakes import at, customer, order, subscriber
from tests.sync.test_cycle import fill_history


def test_new_records_after_connection_are_enrolled_exactly_once_each(world):
    fill_history(world.store)
    world.sync()
    world.store.customers["9"] = customer(9, "new@example.com", at(11))
    world.store.subscribers["s9"] = subscriber("s9", "newsub@example.com", at(11, 1))
    world.store.orders["300"] = order(300, "newguest@example.com", at(11, 2))
    world.store.orders["301"] = order(
        301, "c1@example.com", at(11, 3), customer_id="1"
    )  # not a first order

    world.sync()
    world.sync()

    assert sorted(world.destination.enrolled()) == [
        ("P-customer", "new@example.com"),
        ("P-first-order", "newguest@example.com"),
        ("P-subscriber", "newsub@example.com"),
    ]
    assert {e.state for e in world.enrolments()} == {"active"}


def test_a_contact_who_subscribes_again_is_welcomed_again_in_a_new_episode(world):
    world.store.subscribers["s1"] = subscriber("s1", "fan@example.com", at(11))
    world.sync()
    world.store.subscribers["s1"].update(opted_in=False, date_modified=at(12))
    world.sync()
    world.store.subscribers["s1"].update(opted_in=True, date_modified=at(13))
    world.sync()

    assert world.destination.enrolled() == [("P-subscriber", "fan@example.com")] * 2
    assert [e.episode for e in world.enrolments()] == [1, 2]


def test_an_earlier_order_found_later_cancels_a_first_order_enrolment(world):
    world.store.orders["500"] = order(500, "late@example.com", at(11), modified=at(11))
    world.store.orders["400"] = order(400, "late@example.com", at(10, 5), modified=at(12))
    world.save("automation", {"first_order_program_id": "P-first-order"})

    world.sync()

    [row] = world.enrolments()
    assert (row.source_id, row.state) == ("400", "active")
    assert world.destination.enrolled() == [("P-first-order", "late@example.com")]


def test_with_double_opt_in_the_enrolment_waits_for_confirmation(world):
    world.save("contacts", {"double_opt_in": True})
    world.store.subscribers["s1"] = subscriber("s1", "doi@example.com", at(11))
    world.destination.statuses["doi@example.com"] = "pending_opt_in"

    world.sync()
    assert world.destination.enrolments == []
    assert world.enrolments()[0].state == "pending_opt_in"

    world.destination.statuses["doi@example.com"] = "subscribed"
    world.sync()
    assert world.destination.enrolments == []  # confirmation is checked every few minutes
    world.time_passes(minutes=5)
    world.sync()
    assert world.destination.enrolled() == [("P-subscriber", "doi@example.com")]


def test_an_unconfirmed_double_opt_in_expires_after_24_hours(world):
    world.save("contacts", {"double_opt_in": True})
    world.store.subscribers["s1"] = subscriber("s1", "doi@example.com", at(11))
    world.destination.statuses["doi@example.com"] = "pending_opt_in"
    world.sync()
    world.time_passes(minutes=24 * 60 + 1)

    world.sync()

    assert world.enrolments()[0].state == "expired"
    world.destination.statuses["doi@example.com"] = "subscribed"
    world.sync()
    assert world.destination.enrolments == []


def test_an_enrolment_interrupted_while_sending_is_never_sent_twice(world):
    world.store.customers["9"] = customer(9, "new@example.com", at(11))
    world.sync()
    assert len(world.destination.enrolments) == 1
    with world.app.app_context():  # as if the process died between the call and its record
        from host.db import get_db

        with get_db().transaction() as session:
            session.execute(update(Enrolment).values(state="sending", destination_id=None))

    world.sync()

    assert len(world.destination.enrolments) == 1
    row = world.enrolments()[0]
    assert row.state == "failed" and "never enrolled twice" in row.reason
