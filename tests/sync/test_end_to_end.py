"""The product cycle end to end over loopback: the BigCommerce and Engagement Cloud emulators,
a live host and the real plugins. What the merchant would see in Engagement Cloud is checked
against what the store says, exactly."""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from sqlalchemy import select

from host.db import get_db
from host.models import Enrolment
from host.sync import run_cycle, run_fast_lane
from tests.sync.loopback import (
    PROGRAMS,
    Emulators,
    StoreSize,
    actual_state,
    connected_loop,
    enrolled,
    expected_state,
    wait_for_events,
)

SIZE = StoreSize(customers=500, subscribers=150, orders=1000, products=60)
WELCOME_CUSTOMERS, WELCOME_SUBSCRIBERS, FIRST_ORDER = PROGRAMS.values()


@dataclass
class Loop:
    app: object
    emulators: Emulators
    connection_id: int

    def cycle(self, **kwargs):
        with self.app.app_context():
            return run_cycle(self.connection_id, **kwargs)

    def enrolment_rows(self) -> list[Enrolment]:
        with self.app.app_context(), get_db().transaction() as session:
            return list(session.scalars(select(Enrolment)))


@pytest.fixture
def loop(make_app):
    with connected_loop(make_app, SIZE) as parts:
        yield Loop(*parts)


def assert_exact_state(loop: Loop) -> dict:
    expected = expected_state(loop.emulators.store())
    actual = actual_state(loop.emulators.account())
    for part in ("customers_book", "subscribers_book", "orders", "products"):
        missing, extra = expected[part] - actual[part], actual[part] - expected[part]
        assert not missing and not extra, f"{part}: missing {sorted(missing)[:5]}, extra {sorted(extra)[:5]}"
    assert actual["duplicate_contacts"] == {} and actual["duplicate_orders"] == {}
    for email in expected["subscribers_book"]:
        consent = actual["contacts"][email]["consentRecords"]
        assert consent and consent[0]["text"], f"{email} has no consent record"
    return actual


def test_one_cycle_mirrors_the_store_then_new_people_are_enrolled_once_and_nothing_is_resent(loop):
    run = loop.cycle(trigger="cli")

    assert run.status == "finished", run.errors
    actual = assert_exact_state(loop)
    assert actual["enrolments"] == [] and loop.enrolment_rows() == []  # the backfill enrols nobody
    assert len(actual["subscribers_book"]) < SIZE.subscribers  # some subscribers are not opted in
    imports = loop.emulators.account()["imports"]
    contacts_sent = sum(job["records"] for job in imports if job["kind"] == "contacts")
    # Each contact is sent once per book, with its latest order's addresses already known.
    assert contacts_sent == len(actual["customers_book"]) + len(actual["subscribers_book"])

    customer = loop.emulators.create("customers", email="brand.new.customer@example.org")
    subscriber = loop.emulators.create(
        "subscribers", email="brand.new.subscriber@example.org", consents=["marketing_newsletter"]
    )
    loop.emulators.create("orders", customer_id=customer["id"], status_id=11)
    guest = "first.time.guest@example.org"
    guest_order = loop.emulators.create("orders", customer_id=0, status_id=11)
    loop.emulators.update("orders", guest_order["id"], billing_address={"email": guest})

    assert wait_for_events(loop.app, loop.connection_id, 5) >= 5  # webhooks reached the inbox
    with loop.app.app_context():
        assert run_fast_lane(loop.connection_id).status == "finished"
    assert loop.cycle().status == "finished"  # the safety net finds nothing more to enrol

    account = loop.emulators.account()
    times = enrolled(account)
    assert times[(WELCOME_CUSTOMERS, customer["email"].lower())] == 1
    assert times[(WELCOME_SUBSCRIBERS, subscriber["email"].lower())] == 1
    assert times[(FIRST_ORDER, customer["email"].lower())] == 1
    assert times[(FIRST_ORDER, guest)] == 1
    assert sum(times.values()) == 4  # nobody else, nobody twice
    assert {row.state for row in loop.enrolment_rows()} == {"active"}
    assert_exact_state(loop)

    writes = loop.emulators.engagement_cloud_writes()
    run = loop.cycle()
    assert run.status == "finished"
    assert loop.emulators.engagement_cloud_writes() == writes  # no change, nothing sent
