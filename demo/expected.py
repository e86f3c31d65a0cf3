"""What Engagement Cloud must hold for a BigCommerce store, by the product's rules (DESIGN §1),
computed from the emulators' public ``/_emulator/state`` alone — never from the host's tables.

Shared by the end-to-end tests (``tests/sync/loopback.py``), ``bench/sync_end_to_end.py`` and
the soak run (``bench/soak.py``). Everything here is a pure function of the two emulators'
state documents: ``store`` is one entry of the BigCommerce emulator's ``stores``, ``account``
one entry of the Engagement Cloud emulator's ``accounts``.

The rules of issue 17 live here too: the lifetime order fields per email (``lifetime_values``),
unsubscribes made in Engagement Cloud (``unsubscribes``, ``unsubscribe_wins``, ``unsubscribe_outcomes``)
and people deleted in the store (``deletion_departures``).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from email.utils import parsedate_to_datetime
from typing import Any

INCOMPLETE_STATUS_ID = 0  # an abandoned checkout: never counts as an order
NEWSLETTER = "marketing_newsletter"
CENTS = Decimal("0.01")
HOUR = timedelta(hours=1)  # the window of Engagement Cloud's enrolment allowance


def counts(order: dict[str, Any]) -> bool:
    """An order counts unless it is Incomplete (status 0) or deleted (archived)."""
    return order.get("status_id") != INCOMPLETE_STATUS_ID and not order.get("is_deleted")


def order_email(order: dict[str, Any]) -> str:
    return str((order.get("billing_address") or {}).get("email") or "").strip().lower()


def is_opted_in(subscriber: dict[str, Any]) -> bool:
    """DESIGN §1: opted in when ``marketing_newsletter`` is among the consents (no field: yes)."""
    consents = subscriber.get("consents")
    return consents is None or "marketing_newsletter" in consents


def guest_emails(store: dict[str, Any]) -> set[str]:
    """Emails with a counting order placed without a store account (an account's orders never
    make a guest, even once the account is deleted)."""
    return {order_email(o) for o in store["orders"] if not o.get("customer_id") and counts(o)} - {""}


def expected_state(store: dict[str, Any], unsubscribed: Mapping[str, datetime] | None = None) -> dict[str, set[str]]:
    """What Engagement Cloud must hold for this store, by the product's rules. ``unsubscribed``
    (``unsubscribes``): the Engagement Cloud unsubscribes, which keep out of the subscribers book
    every subscriber whose store subscribe is not later (``unsubscribe_wins``)."""
    lost = set(unsubscribe_wins(store, unsubscribed or {}))
    return {
        "customers_book": {c["email"].lower() for c in store["customers"]} | guest_emails(store),
        "subscribers_book": {s["email"].lower() for s in store["subscribers"] if is_opted_in(s)} - lost,
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


def enrolment_calls(account: dict[str, Any]) -> list[datetime]:
    """When each of the account's enrolment calls was made (each accepted call is one enrolment,
    with its ``dateCreated``), oldest first: the calls its ``enrolments_per_hour`` allowance counts."""
    return sorted(order_time({"date_created": e["dateCreated"]}) for e in account.get("enrolments") or [])


def first_enrolled(account: dict[str, Any]) -> dict[tuple[str, str], datetime]:
    """(program name, email) → when the first call enrolling that contact in that program was made."""
    email_of = {contact["id"]: contact["email"].lower() for contact in account["contacts"]}
    program_of = {program["id"]: program["name"] for program in account["programs"]}
    first: dict[tuple[str, str], datetime] = {}
    for enrolment in account.get("enrolments") or []:
        made = order_time({"date_created": enrolment["dateCreated"]})
        for contact_id in enrolment["contacts"]:
            key = (program_of.get(enrolment["programId"]), email_of.get(contact_id))
            if key not in first or made < first[key]:
                first[key] = made
    return first


def allowance_spent(calls: Iterable[datetime], moment: datetime, per_hour: int | None) -> bool:
    """Whether the account's enrolment allowance was used up at ``moment``: ``per_hour`` calls
    (``enrolment_calls``) within the hour before it. No allowance (0, None): never."""
    return bool(per_hour) and sum(1 for made in calls if moment - HOUR < made <= moment) >= per_hour


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


# ---------------------------------------------------------------------- lifetime order fields
def money(value: Any) -> Decimal:
    try:
        number = Decimal(str(value)) if value not in (None, "") else Decimal(0)
    except InvalidOperation:
        return Decimal(0)
    return number if number.is_finite() else Decimal(0)


def in_store_currency(order: dict[str, Any], amount: Any) -> Decimal:
    """An amount of the order's currency in the store's own (the v2 order's exchange rate)."""
    rate = money(order.get("store_default_to_transactional_exchange_rate"))
    paid_in, store_currency = order.get("currency_code"), order.get("store_default_currency_code")
    same = not paid_in or not store_currency or paid_in == store_currency
    return money(amount) if same or rate in (0, 1) else money(amount) / rate


def lifetime_values(store: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Email → its lifetime order fields, from its counting orders (neither Incomplete nor
    archived; guests' and customers' alike, by billing email): number of orders, total spent
    (totals less refunds, in the store's currency, to the cent), average order value, first
    and last order date (creation; ties by id) and the last order's number (its id)."""
    by_email: dict[str, list[dict[str, Any]]] = {}
    for order in store["orders"]:
        email = order_email(order)
        if email and counts(order):
            by_email.setdefault(email, []).append(order)
    values = {}
    for email, orders in by_email.items():
        ordered = sorted(orders, key=lambda o: (order_time(o), int(o["id"])))
        spent = sum((in_store_currency(o, o.get("total_inc_tax")) - in_store_currency(o, o.get("refunded_amount"))
                     for o in orders), Decimal(0))
        values[email] = {
            "order_count": len(orders),
            "total_spent": spent.quantize(CENTS, ROUND_HALF_UP),
            "average_order_value": (spent / len(orders)).quantize(CENTS, ROUND_HALF_UP),
            "first_order_date": order_time(ordered[0]),
            "last_order_date": order_time(ordered[-1]),
            "last_order_number": str(ordered[-1]["id"]),
        }
    return values


def last_order_change(store: dict[str, Any]) -> dict[str, datetime]:
    """Email → when any of its orders last changed (counting or not): its fields may be on
    their way until a cycle after that."""
    changed: dict[str, datetime] = {}
    for order in store["orders"]:
        email = order_email(order)
        moment = order_time({"date_created": order.get("date_modified") or order.get("date_created")})
        if email and (email not in changed or moment > changed[email]):
            changed[email] = moment
    return changed


def _same(key: str, wanted: Any, found: Any) -> bool:
    if wanted is None:
        return found in (None, "")
    if found in (None, ""):
        return False
    if isinstance(wanted, datetime):
        try:
            return order_time({"date_created": str(found)}) == wanted
        except ValueError:
            return False
    if isinstance(wanted, Decimal | int):
        return money(found).quantize(CENTS, ROUND_HALF_UP) == Decimal(wanted).quantize(CENTS, ROUND_HALF_UP)
    return str(found).strip() == str(wanted)


def lifetime_differences(
    store: dict[str, Any], account: dict[str, Any], emails: Iterable[str], data_fields: Mapping[str, str]
) -> dict[str, dict[str, tuple[Any, Any]]]:
    """Email → {field: (expected, found)} for the contacts of ``emails`` whose lifetime data
    fields (``data_fields``: lifetime key → data field name) differ from the store's orders. An
    email with no counting order must have none of them set."""
    wanted = lifetime_values(store)
    contacts = {c["email"].lower(): c for c in account["contacts"]}
    differences: dict[str, dict[str, tuple[Any, Any]]] = {}
    for email in sorted(set(emails)):
        contact = contacts.get(email)
        if contact is None:
            continue
        held = contact.get("dataFields") or {}
        mine = wanted.get(email) or {}
        wrong = {key: (mine.get(key), held.get(name)) for key, name in data_fields.items()
                 if not _same(key, mine.get(key), held.get(name))}
        if wrong:
            differences[email] = wrong
    return differences


# ---------------------------------------------------------------------- unsubscribes
def book_id(account: dict[str, Any], name: str) -> int | None:
    return next((book["id"] for book in account["address_books"] if book["name"] == name), None)


def unsubscribes(account: dict[str, Any], subscribers_book: str) -> dict[str, datetime]:
    """Email → its latest unsubscribe the connector reads: one from the subscribers book, or
    from the whole account (any reason: an unsubscribe, a bounce, a complaint)."""
    book = book_id(account, subscribers_book)
    latest: dict[str, datetime] = {}
    for record in account.get("unsubscribes") or []:
        if record.get("addressBookId") not in (None, book) or not record.get("email"):
            continue
        email, moment = record["email"].lower(), order_time({"date_created": record["dateRemoved"]})
        if email not in latest or moment > latest[email]:
            latest[email] = moment
    return latest


def store_subscribed_at(subscriber: dict[str, Any]) -> datetime:
    """When the store last stood by a subscriber (its last change, else its creation): the
    store keeps no separate time for the consent."""
    return order_time({"date_created": subscriber.get("date_modified") or subscriber["date_created"]})


def unsubscribe_wins(store: dict[str, Any], unsubscribed: Mapping[str, datetime]) -> dict[str, datetime]:
    """Email → unsubscribe time, for the store subscribers still opted in whose subscribe is no
    later than their Engagement Cloud unsubscribe (the later side wins; a tie goes to the
    unsubscribe): each must be kept out of the subscribers book and, with write-back on (the
    default), lose ``marketing_newsletter`` in the store. Once written back the subscriber is
    changed (a later ``date_modified``) and no longer opted in: it is not listed any more."""
    found = {}
    for subscriber in store["subscribers"]:
        email = subscriber["email"].lower()
        if is_opted_in(subscriber) and email in unsubscribed and store_subscribed_at(subscriber) <= unsubscribed[email]:
            found[email] = unsubscribed[email]
    return found


def unsubscribe_outcomes(store: dict[str, Any], unsubscribed: Mapping[str, datetime]) -> dict[str, set[str]]:
    """The Engagement Cloud unsubscribes by what the store shows now: ``written back`` (its
    subscriber is no longer opted in), ``waiting`` (still opted in, the unsubscribe is the later:
    ``unsubscribe_wins``), ``subscribed again`` (opted in after the unsubscribe: the store wins)
    and ``no subscriber`` (none in the store, e.g. deleted)."""
    subscribers = {s["email"].lower(): s for s in store["subscribers"]}
    waiting = unsubscribe_wins(store, unsubscribed)
    outcomes: dict[str, set[str]] = {"written back": set(), "waiting": set(waiting), "subscribed again": set(),
                                     "no subscriber": set()}
    for email in set(unsubscribed) - set(waiting):
        subscriber = subscribers.get(email)
        if subscriber is None:
            outcomes["no subscriber"].add(email)
        elif is_opted_in(subscriber):
            outcomes["subscribed again"].add(email)
        else:
            outcomes["written back"].add(email)
    return outcomes


# ---------------------------------------------------------------------- deletions
def described(store: dict[str, Any]) -> set[str]:
    """The emails the store still describes: a customer, a subscriber (opted in or not), a guest."""
    return ({c["email"].lower() for c in store["customers"]} | {s["email"].lower() for s in store["subscribers"]}
            | guest_emails(store))


def deletion_departures(store: dict[str, Any]) -> dict[str, tuple[datetime, set[str]]]:
    """Email → (when it was last deleted, the books it must have left) for the customers and
    subscribers deleted in the store (``deleted``: the emulator's tombstones) that nothing in the
    store describes for that book any more: a deleted customer leaves the customers book unless
    another account or a guest order keeps it there; a deleted subscriber the subscribers book
    unless another subscriber record does. A person nothing describes leaves both."""
    customers = {c["email"].lower() for c in store["customers"]} | guest_emails(store)
    subscribers = {s["email"].lower() for s in store["subscribers"]}
    departures: dict[str, tuple[datetime, set[str]]] = {}
    for tombstone in store.get("deleted") or []:
        email = str(tombstone.get("email") or "").lower()
        book = "customers_book" if tombstone["kind"] == "customer" else "subscribers_book"
        if not email or email in (customers if book == "customers_book" else subscribers):
            continue
        at = order_time({"date_created": tombstone["deleted_at"]})
        before, books = departures.get(email, (at, set()))
        departures[email] = (max(at, before), books | {book})
    for email, (at, _) in departures.items():
        if email not in customers and email not in subscribers:  # a person deleted: in no book
            departures[email] = (at, {"customers_book", "subscribers_book"})
    return departures
