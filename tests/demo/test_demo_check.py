"""``bench/demo_check.py`` judges what is late and lets what is on its way wait."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from bench import demo_check
from demo import expected
from demo.world import CUSTOMERS_BOOK, SUBSCRIBERS_BOOK

NOW = datetime(2026, 12, 2, 10, 0, tzinfo=UTC)
OLD, RECENT = "2026-12-02T09:50:00Z", "2026-12-02T09:59:50Z"


def _world():
    subscribers = [{"id": n, "email": f"{name}@example.com", "consents": ["marketing_newsletter"],
                    "date_created": "2026-01-01T00:00:00Z", "date_modified": "2026-01-01T00:00:00Z"}
                   for n, name in enumerate(("late", "fresh", "kept"), start=1)]
    orders = [{"id": n, "customer_id": 0, "status_id": 11, "is_deleted": False, "total_inc_tax": "10.0000",
               "refunded_amount": "0.0000", "billing_address": {"email": f"{name}@example.com"},
               "date_created": "Mon, 01 Jun 2026 10:00:00 +0000", "date_modified": modified}
              for n, (name, modified) in enumerate((("buyer-late", "Wed, 02 Dec 2026 09:50:00 +0000"),
                                                     ("buyer-fresh", "Wed, 02 Dec 2026 09:59:50 +0000")), start=1)]
    deleted = [{"kind": "customer", "id": 7, "email": "gone-late@example.com", "deleted_at": OLD},
               {"kind": "customer", "id": 8, "email": "gone-fresh@example.com", "deleted_at": RECENT}]
    store = {"customers": [], "subscribers": subscribers, "orders": orders, "products": [], "deleted": deleted}
    emails = [s["email"] for s in subscribers] + ["buyer-late@example.com", "buyer-fresh@example.com",
                                                   "gone-late@example.com", "gone-fresh@example.com"]
    contacts = [{"id": n, "email": email, "dataFields": {"NUMBER_OF_ORDERS": 2} if "buyer" in email else {}}
                for n, email in enumerate(emails, start=1)]
    ids = {c["email"]: c["id"] for c in contacts}
    account = {
        "contacts": contacts,
        "address_books": [
            {"id": 1, "name": CUSTOMERS_BOOK, "contacts": [ids[e] for e in emails if "buyer" in e or "gone" in e]},
            {"id": 2, "name": SUBSCRIBERS_BOOK, "contacts": [ids[s["email"]] for s in subscribers]},
        ],
        "unsubscribes": [{"email": "late@example.com", "dateRemoved": "2026-12-02T09:40:00.000Z", "addressBookId": None},
                         {"email": "fresh@example.com", "dateRemoved": RECENT, "addressBookId": None}],
    }
    return store, account


def test_the_late_ones_are_problems_the_ones_on_their_way_are_not():
    store, account = _world()
    unsubscribed = expected.unsubscribes(account, SUBSCRIBERS_BOOK)
    wanted = expected.expected_state(store, unsubscribed)
    actual = expected.actual_state(account, CUSTOMERS_BOOK, SUBSCRIBERS_BOOK)
    quick, cycle = NOW - timedelta(minutes=1.5), NOW - timedelta(minutes=6)
    problems: list = []
    demo_check.check_lifetime(store, account, actual, wanted, quick, 1.5, problems)
    demo_check.check_unsubscribes(store, account, actual, wanted, unsubscribed, cycle, 6, problems)
    demo_check.check_deletions(store, actual, quick, 1.5, problems)
    found = sorted((label, detail[0]) for label, detail in problems)
    assert found == [
        ("DELETED, STILL IN A BOOK", "gone-late@example.com"),
        ("LIFETIME FIELDS WRONG", "buyer-late@example.com"),
        ("NOT WRITTEN BACK", "late@example.com"),
        ("STILL IN THE SUBSCRIBERS BOOK", "late@example.com"),
    ]
