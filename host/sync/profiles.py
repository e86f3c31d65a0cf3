"""Contact profiles: the facts of one email gathered from the customers, subscribers and orders
streams, and the events their changes reveal.

A guest (an email with orders but no store account) needs no stream of its own: the orders
already read describe it (``ProfileUpdater.order``). Only guest orders (placed without an
account) do: an account's orders never make a guest of its email, even once the account was
deleted in the store (``host.sync.erasure``) or moved to another email. Its name, company and phone come from the
billing address of its latest counting order, its creation date from its first counting order,
its change date from its most recently changed one; a store account, once known, always speaks
for the email instead. A counting order is one neither Incomplete nor archived.

Only records created after the connection was made are news: the backfill finds history and
raises no event. Store timestamps have whole seconds and the connection moment has more, so the
connection's own second is decided by the backfill's own read: a record stamped in that second
that the first cycle (the backfill) reads is history; one first read later (it was created after
the backfill read its stream) is new. Before that second: history; after it: new. Re-reading a
record never raises an event twice: events come from changes of the profile (first seen as a
customer, subscribed again, an earlier first order), not from reading. A contact who unsubscribed and subscribes again begins a new subscription
episode, so it can be welcomed again. An unsubscribe at the destination (``unsubscribed_at``,
``host.sync.unsubscribes``) outweighs a store record that opted in at or before it: only a
store subscribe dated after it counts.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from host.enrolments import Event
from host.models import ContactProfile
from host.sync.cursors import parse_time

ORDER_FACTS = ("id", "date_created", "billing_address", "shipping_address")
GUEST_ORDERS = "guest_orders"  # ``ContactProfile.sources``: the email placed a counting guest order


def email_of(record: dict[str, Any]) -> str:
    return str(record["email"]).strip().lower()


def load_profiles(
    session: Session, connection_id: int, emails: Iterable[str]
) -> dict[str, ContactProfile]:
    """The profiles of these emails, created empty where none exists yet."""
    wanted = sorted(set(emails))
    found: dict[str, ContactProfile] = {}
    for start in range(0, len(wanted), 500):
        rows = session.scalars(
            select(ContactProfile).where(
                ContactProfile.connection_id == connection_id,
                ContactProfile.email.in_(wanted[start : start + 500]),
            )
        )
        found.update((row.email, row) for row in rows)
    for email in wanted:
        if email not in found:
            found[email] = ContactProfile(connection_id=connection_id, email=email, episode=0)
            session.add(found[email])
    return found


def release_changed_emails(
    session: Session, connection_id: int, customers: Iterable[dict[str, Any]]
) -> list[ContactProfile]:
    """Store accounts whose email changed: the old email's profile is no longer a customer
    (its contact leaves the customers book at the contacts phase). Answers those profiles."""
    email_by_id = {
        str(record["id"]): email_of(record) for record in customers if not record.get("is_guest")
    }
    if not email_by_id:
        return []
    released = []
    for profile in session.scalars(
        select(ContactProfile).where(
            ContactProfile.connection_id == connection_id,
            ContactProfile.customer_id.in_(list(email_by_id)),
        )
    ):
        if email_by_id[profile.customer_id] != profile.email:
            profile.customer, profile.customer_id, profile.is_guest = None, None, False
            profile.dirty = True
            released.append(profile)
    return released


class ProfileUpdater:
    """Applies canonical records to profiles; answers the events they reveal."""

    def __init__(self, connected_at: datetime | None, *, backfill: bool = False):
        self.connected_at = connected_at
        self.backfill = backfill  # the connection's first cycle, still unfinished

    def is_new(self, timestamp: str | None) -> bool:
        """Created after the connection was made (see the module docstring for its own second)."""
        if not (self.connected_at and timestamp):
            return False
        moment = parse_time(timestamp)
        if moment.microsecond:  # a source with finer timestamps: compare them as they are
            return moment >= self.connected_at
        boundary = self.connected_at.replace(microsecond=0)
        if moment == boundary:
            return not self.backfill
        return moment > boundary

    def customer(self, profile: ContactProfile, customer: dict[str, Any]) -> list[Event]:
        is_guest = bool(customer.get("is_guest"))
        registered_before = profile.customer is not None and not profile.is_guest
        if is_guest and registered_before:
            return []  # the store account speaks for this email, not its guest orders
        if is_older(customer, profile.customer):
            return []  # the other lane applied a newer copy already (``host.sync.versions``)
        profile.customer, profile.is_guest = customer, is_guest
        profile.customer_id = None if is_guest else str(customer["id"])
        events = []
        if not is_guest and not registered_before and self.is_new(customer.get("date_created")):
            events.append(Event("new_customer", profile.email, str(customer["id"])))
        return events

    def subscriber(self, profile: ContactProfile, subscriber: dict[str, Any]) -> list[Event]:
        if is_older(subscriber, profile.subscriber):
            return []  # the other lane applied a newer copy already (``host.sync.versions``)
        # Opted in by a record dated before the destination's latest unsubscribe: stale, so out.
        opted_in = bool(subscriber.get("opted_in")) and not unsubscribed_since(profile, subscriber)
        known_unsubscribed = profile.subscriber is not None and not profile.subscribed
        events = []
        if opted_in and not profile.subscribed:
            profile.episode = (profile.episode or 0) + 1
            brand_new = self.is_new(subscriber.get("date_created"))
            came_back = known_unsubscribed and self.is_new(subscriber.get("date_modified"))
            if brand_new or came_back:
                events.append(
                    Event("new_subscriber", profile.email, str(subscriber["id"]), profile.episode)
                )
        profile.subscriber, profile.subscribed = subscriber, opted_in
        return events

    def order(self, profile: ContactProfile, order: dict[str, Any]) -> list[Event]:
        """Orders that count (not incomplete, not deleted) give the latest addresses and the first
        order, and describe the email as a guest while no store account does."""
        if order.get("is_incomplete") or order.get("is_deleted"):
            _forget_order(profile, order)
            return []
        facts = {key: order.get(key) for key in ORDER_FACTS}
        events = []
        latest = profile.latest_order
        if latest is None or latest["id"] == facts["id"] or _order_key(facts) > _order_key(latest):
            profile.latest_order = facts
        first = profile.first_order
        if first is None or _order_key(facts) < _order_key(first):
            profile.first_order = {"id": facts["id"], "date_created": facts["date_created"]}
            if self.is_new(facts["date_created"]):
                events.append(Event("first_order", profile.email, str(facts["id"])))
        if not order.get("customer_id") and not (profile.sources or {}).get(GUEST_ORDERS):
            # the email placed orders as a guest too: it stays a guest if its account goes
            profile.sources = {**(profile.sources or {}), GUEST_ORDERS: True}
        if profile.customer is None and order.get("customer_id"):
            return events  # an account's order: its account, deleted or renamed, is no guest
        if profile.customer is None or profile.is_guest:  # a store account speaks for itself
            guest = guest_from_profile(profile, order)
            if guest != profile.customer:
                profile.customer, profile.is_guest = guest, True
        return events


def store_subscribed_at(subscriber: dict[str, Any] | None) -> datetime | None:
    """When the store last stood by this subscriber's record (its last change, else its
    creation): the store keeps no separate time for the consent itself."""
    moment = (subscriber or {}).get("date_modified") or (subscriber or {}).get("date_created")
    return parse_time(moment) if moment else None


def unsubscribed_since(profile: ContactProfile, subscriber: dict[str, Any] | None) -> bool:
    """Whether the destination's latest unsubscribe of this email (``unsubscribed_at``) is at or
    after the store's subscribe in ``subscriber``: then the unsubscribe wins (the later one)."""
    if profile.unsubscribed_at is None:
        return False
    subscribed_at = store_subscribed_at(subscriber)
    return subscribed_at is None or subscribed_at <= profile.unsubscribed_at


def is_older(record: dict[str, Any], current: dict[str, Any] | None) -> bool:
    """Whether ``record`` is an older copy of the record the profile holds (same id, an earlier
    ``date_modified``): a cycle's page read before a change the fast lane already applied."""
    if not current or str(current.get("id")) != str(record.get("id")):
        return False
    mine, theirs = record.get("date_modified"), current.get("date_modified")
    return bool(mine and theirs) and parse_time(mine) < parse_time(theirs)


def _forget_order(profile: ContactProfile, order: dict[str, Any]) -> None:
    """An order that stopped counting (archived, or Incomplete again). A guest exists only
    through orders: when it was the guest's only one (their first and latest), the guest is no
    customer any more and leaves the customers book at the contacts phase. The first order is
    kept, so a later order is not taken for a first one."""
    order_id = str(order["id"])
    latest, first = profile.latest_order, profile.first_order
    if not profile.is_guest or latest is None or str(latest["id"]) != order_id:
        return
    if first is None or str(first["id"]) == order_id:
        profile.customer, profile.is_guest, profile.latest_order = None, False, None


def guest_from_profile(profile: ContactProfile, order: dict[str, Any]) -> dict[str, Any]:
    """The guest this profile's counting orders describe, ``order`` (one that counts) included:
    the latest order's billing name, company and phone; created with the first order; modified
    with the most recently changed order read. A first order archived since keeps its date
    (only its successor's would be right, and finding it means reading the email's history)."""
    latest, first = profile.latest_order or order, profile.first_order or order
    modified = order.get("date_modified")
    if profile.is_guest and profile.customer:
        modified = _later(profile.customer.get("date_modified"), modified)
    return _guest(profile.email, latest.get("billing_address"), first.get("date_created"), modified)


def _guest(email: str, billing: dict[str, Any] | None, created: str | None,
           modified: str | None) -> dict[str, Any]:
    billing = billing or {}
    return {
        "id": email,
        "email": email,
        "first_name": billing.get("first_name"),
        "last_name": billing.get("last_name"),
        "company": billing.get("company"),
        "phone": billing.get("phone"),
        "notes": None,
        "is_guest": True,
        "addresses": [],
        "date_created": created,
        "date_modified": modified,
    }


def _later(one: str | None, other: str | None) -> str | None:
    if not (one and other):
        return one or other
    return one if parse_time(one) >= parse_time(other) else other


def _order_key(facts: dict[str, Any]) -> tuple:
    order_id = str(facts["id"])
    return (parse_time(facts["date_created"]), len(order_id), order_id)
