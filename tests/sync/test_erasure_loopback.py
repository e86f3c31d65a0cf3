"""Over loopback: a customer deleted in the store leaves Engagement Cloud — taken out of the
connector's books by default, or (setting) erased with their Insight orders — through its
webhook and the fast lane, or through a cycle's whole read of the customers; a deleted customer
who is still a subscriber stays a subscriber; the Store tab counts them."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select, update

from host.db import get_db
from host.models import Connection, ContactProfile, LedgerEntry, StreamCursor, utcnow
from host.settings import save_settings
from host.sync import run_fast_lane
from host.web.merchant.status import sync_status
from tests.sync.loopback import StoreSize, connected_loop, wait_for_events
from tests.sync.test_end_to_end import Loop, assert_exact_state

SIZE = StoreSize(customers=30, subscribers=15, orders=60, products=3, seed=7)
DELETE_CONTACT = "DELETE /contacts/v3/{identifier}/{value}"


@pytest.fixture
def small_loop(make_app):
    with connected_loop(make_app, SIZE) as parts:
        yield Loop(*parts)


def _choose(store: dict, *, subscriber: bool) -> tuple[int, str, set[str]]:
    """A customer with orders (id, email, order ids) whose email is (or is not) a subscriber's
    and places no guest order."""
    subscribers = {s["email"].lower() for s in store["subscribers"]}
    guests = {(o.get("billing_address") or {}).get("email", "").lower() for o in store["orders"] if not o.get("customer_id")}
    for customer in sorted(store["customers"], key=lambda c: c["id"]):
        email = customer["email"].lower()
        orders = {str(o["id"]) for o in store["orders"]
                  if o.get("customer_id") == customer["id"] and not o.get("is_deleted") and o.get("status_id") != 0}
        if orders and email not in guests and (email in subscribers) == subscriber:
            return customer["id"], email, orders
    raise AssertionError("the generated store has no such customer")


def _still_subscribed_customer(loop: Loop) -> tuple[int, str]:
    """A customer with no orders who is also an opted-in subscriber (made so, and synced, if
    none is)."""
    store = loop.emulators.store()
    subscribers = {s["email"].lower() for s in store["subscribers"]}
    with_orders = {o.get("customer_id") for o in store["orders"]}
    for customer in sorted(store["customers"], key=lambda c: c["id"]):
        if customer["email"].lower() in subscribers and customer["id"] not in with_orders:
            return customer["id"], customer["email"].lower()
    customer = next(c for c in store["customers"] if c["id"] not in with_orders
                    and c["email"].lower() not in subscribers)
    loop.emulators.create("subscribers", email=customer["email"])
    _fast_lane(loop, 1)
    return customer["id"], customer["email"].lower()


def _set(loop: Loop, **contacts) -> None:
    with loop.app.app_context(), get_db().transaction() as session:
        save_settings(session, session.get(Connection, loop.connection_id), "contacts", contacts)


def _fast_lane(loop: Loop, events: int) -> None:
    assert wait_for_events(loop.app, loop.connection_id, events) >= events
    with loop.app.app_context():
        assert run_fast_lane(loop.connection_id).status == "finished"


def _tab(loop: Loop) -> dict:
    with loop.app.app_context(), get_db().transaction() as session:
        return sync_status(session, session.get(Connection, loop.connection_id))["deleted_contacts"]


def _forgotten(loop: Loop, email: str) -> bool:
    with loop.app.app_context(), get_db().transaction() as session:
        profile = session.scalar(select(ContactProfile).where(ContactProfile.email == email))
        rows = session.scalars(select(LedgerEntry).where(LedgerEntry.source_id == email)).all()
        return profile is None and not rows


def _books(state: dict, email: str) -> set[str]:
    return {name for name in ("customers_book", "subscribers_book") if email in state[name]}


def test_by_default_a_deleted_customer_leaves_the_books_through_the_fast_lane(small_loop):
    loop = small_loop
    assert loop.cycle(trigger="cli").status == "finished"
    before = assert_exact_state(loop)
    customer_id, email, orders = _choose(loop.emulators.store(), subscriber=False)
    assert _books(before, email) == {"customers_book"}

    loop.emulators.delete("customers", customer_id)
    _fast_lane(loop, 1)

    after = assert_exact_state(loop)  # the books are exactly what the store says
    assert email in after["contacts"] and _books(after, email) == set()  # kept, in no book
    assert orders <= after["orders"]  # their order history stays
    assert _tab(loop) == {"removed": 1, "erased": 0, "waiting": 0}
    assert _forgotten(loop, email)
    writes = loop.emulators.engagement_cloud_writes()
    assert loop.cycle().status == "finished"  # nothing left to do, nothing undone
    assert loop.emulators.engagement_cloud_writes() == writes


def test_with_erasure_a_deleted_customer_is_erased_with_their_orders_by_webhook_or_by_cycle(small_loop):
    loop = small_loop
    _set(loop, deleted_contacts="erase")
    assert loop.cycle(trigger="cli").status == "finished"
    store = loop.emulators.store()
    first_id, first_email, first_orders = _choose(store, subscriber=False)
    still_id, still_email = _still_subscribed_customer(loop)
    assert _books(assert_exact_state(loop), still_email) == {"customers_book", "subscribers_book"}

    # through the webhook and the fast lane: erased, with their orders
    loop.emulators.delete("customers", first_id)
    loop.emulators.delete("customers", still_id)
    _fast_lane(loop, 2)

    after = assert_exact_state_but_orders(loop, gone=first_orders)
    assert first_email not in after["contacts"]
    assert _books(after, still_email) == {"subscribers_book"}  # still a subscriber: not erased
    assert loop.emulators.engagement_cloud_state()["requests"][DELETE_CONTACT] == 1
    assert _tab(loop) == {"removed": 0, "erased": 1, "waiting": 0}
    assert _forgotten(loop, first_email)

    # through cycles alone (the webhook missed, left in the inbox): an incremental read cannot
    # tell; the daily whole read of the customers finds them gone
    second_id, second_email, second_orders = _choose(loop.emulators.store(), subscriber=False)
    loop.emulators.delete("customers", second_id)
    assert loop.cycle().status == "finished"
    assert loop.emulators.engagement_cloud_state()["requests"][DELETE_CONTACT] == 1
    _a_day_passes(loop)
    assert loop.cycle().status == "finished"

    after = assert_exact_state_but_orders(loop, gone=first_orders | second_orders)
    assert second_email not in after["contacts"]
    assert _books(after, still_email) == {"subscribers_book"}
    assert _tab(loop) == {"removed": 0, "erased": 2, "waiting": 0}
    _fast_lane(loop, 1)  # the late webhook erases nothing more
    assert loop.emulators.engagement_cloud_state()["requests"][DELETE_CONTACT] == 2


def _a_day_passes(loop: Loop) -> None:
    """The streams' last whole reads moved a day back: the daily ones fall due."""
    with loop.app.app_context(), get_db().transaction() as session:
        session.execute(
            update(StreamCursor)
            .where(StreamCursor.connection_id == loop.connection_id)
            .values(last_full_refresh_at=utcnow() - timedelta(hours=25))
        )


def assert_exact_state_but_orders(loop: Loop, *, gone: set[str]) -> dict:
    """``assert_exact_state``, but the orders erased with their contact (the store keeps them)."""
    from demo.expected import expected_state
    from tests.sync.loopback import actual_state

    expected = expected_state(loop.emulators.store())
    actual = actual_state(loop.emulators.account())
    for part in ("customers_book", "subscribers_book", "products"):
        assert actual[part] == expected[part], part
    assert actual["orders"] == expected["orders"] - gone
    assert actual["duplicate_contacts"] == {} and actual["duplicate_orders"] == {}
    return actual
