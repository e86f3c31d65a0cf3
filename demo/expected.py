"""What Engagement Cloud must hold for a BigCommerce store, by the product's rules (DESIGN §1),
computed from the emulators' public ``/_emulator/state`` alone — never from the host's tables.

Shared by the end-to-end tests (``tests/sync/loopback.py``), ``bench/sync_end_to_end.py`` and
the soak run (``bench/soak.py``). Everything here is a pure function of the two emulators'
state documents: ``store`` is one entry of the BigCommerce emulator's ``stores``, ``account``
one entry of the Engagement Cloud emulator's ``accounts``.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any

INCOMPLETE_STATUS_ID = 0  # an abandoned checkout: never counts as an order


def counts(order: dict[str, Any]) -> bool:
    """An order counts unless it is Incomplete (status 0) or deleted (archived)."""
    return order.get("status_id") != INCOMPLETE_STATUS_ID and not order.get("is_deleted")


def order_email(order: dict[str, Any]) -> str:
    return str((order.get("billing_address") or {}).get("email") or "").strip().lower()


def is_opted_in(subscriber: dict[str, Any]) -> bool:
    """DESIGN §1: opted in when ``marketing_newsletter`` is among the consents (no field: yes)."""
    consents = subscriber.get("consents")
    return consents is None or "marketing_newsletter" in consents


def expected_state(store: dict[str, Any]) -> dict[str, set[str]]:
    """What Engagement Cloud must hold for this store, by the product's rules."""
    guests = {order_email(o) for o in store["orders"] if not o.get("customer_id") and counts(o)}
    return {
        "customers_book": {c["email"].lower() for c in store["customers"]} | (guests - {""}),
        "subscribers_book": {s["email"].lower() for s in store["subscribers"] if is_opted_in(s)},
        "orders": {str(o["id"]) for o in store["orders"] if counts(o)},
        "products": {str(p["id"]) for p in store["products"] if p.get("is_visible")},
    }


def actual_state(account: dict[str, Any], customers_book: str, subscribers_book: str) -> dict[str, Any]:
    """What the Engagement Cloud account holds, in ``expected_state``'s shape (plus what a check needs)."""
    email_of = {contact["id"]: contact["email"].lower() for contact in account["contacts"]}
    books = {book["name"]: {email_of[i] for i in book["contacts"]} for book in account["address_books"]}
    insight = account.get("insight") or {}
    orders = [record["key"] for record in insight.get("Orders", [])]
    return {
        "customers_book": books[customers_book],
        "subscribers_book": books[subscribers_book],
        "orders": set(orders),
        "products": {record["key"] for record in insight.get("Catalog_Default", [])},
        "duplicate_contacts": repeats(c["email"].lower() for c in account["contacts"]),
        "duplicate_orders": repeats(orders),
        "contacts": {c["email"].lower(): c for c in account["contacts"]},
        "enrolments": account.get("enrolments") or [],
    }


def repeats(values: Iterable[str]) -> dict[str, int]:
    return {value: n for value, n in Counter(values).items() if n > 1}


def enrolled(account: dict[str, Any]) -> Counter:
    """(program name, email) → how many times that contact was enrolled in that program."""
    email_of = {contact["id"]: contact["email"].lower() for contact in account["contacts"]}
    program_of = {program["id"]: program["name"] for program in account["programs"]}
    found: Counter = Counter()
    for enrolment in account.get("enrolments") or []:
        for contact_id in enrolment["contacts"]:
            found[(program_of.get(enrolment["programId"]), email_of.get(contact_id))] += 1
    return found


# ---------------------------------------------------------------------- record contents
def order_statuses(store: dict[str, Any]) -> dict[str, str]:
    """Order id → status name, for the orders that count (a status change re-sends the record)."""
    return {str(o["id"]): o.get("status") for o in store["orders"] if counts(o)}


def insight_order_statuses(account: dict[str, Any]) -> dict[str, str]:
    """The same from the account's ``Orders`` Insight collection."""
    rows = (account.get("insight") or {}).get("Orders", [])
    return {row["key"]: (row.get("json") or {}).get("orderStatus") for row in rows}


def customer_names(store: dict[str, Any]) -> dict[str, tuple[str, str]]:
    """Store account email → (first name, last name): what FIRSTNAME and LASTNAME must say."""
    return {c["email"].lower(): (c.get("first_name") or "", c.get("last_name") or "") for c in store["customers"]}


def contact_names(account: dict[str, Any]) -> dict[str, tuple[str, str]]:
    """Contact email → (FIRSTNAME, LASTNAME) as the account holds them."""
    names = {}
    for contact in account["contacts"]:
        fields = contact.get("dataFields") or {}
        names[contact["email"].lower()] = (fields.get("FIRSTNAME") or "", fields.get("LASTNAME") or "")
    return names


def order_time(order: dict[str, Any]) -> datetime:
    """An order's ``date_created`` (RFC 2822 on the v2 API) as an aware UTC datetime."""
    value = order.get("date_created")
    try:
        moment = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        moment = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def first_orders(store: dict[str, Any], seen_archived: Iterable[object] = ()) -> dict[str, dict[str, Any]]:
    """Email → its first order: the earliest (by creation time, then id) that is not Incomplete
    and not archived — except the archived orders in ``seen_archived`` (ids), archived after the
    product had seen them: an order archived later was still that email's first."""
    keep = {str(order_id) for order_id in seen_archived}
    first: dict[str, dict[str, Any]] = {}
    for order in store["orders"]:
        email = order_email(order)
        if not email or order.get("status_id") == INCOMPLETE_STATUS_ID:
            continue
        if order.get("is_deleted") and str(order["id"]) not in keep:
            continue
        key = (order_time(order), int(order["id"]))
        if email not in first or key < (order_time(first[email]), int(first[email]["id"])):
            first[email] = order
    return first
