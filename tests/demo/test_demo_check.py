"""``bench/demo_check.py`` judges what is late and lets what is on its way wait."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from bench import demo_check
from demo import expected
from demo.world import CUSTOMERS_BOOK, PROGRAMS, SUBSCRIBERS_BOOK

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


def _iso(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%S.000Z")


def _enrolment_world(triggers: dict[str, datetime], sent: dict[str, datetime], other_calls: list[datetime]):
    """New customers created at ``triggers``, enrolled at ``sent``; ``other_calls``: the account's
    other enrolment calls (another program), all counted against its 20 an hour."""
    program = PROGRAMS["new_customer"]
    store = {"customers": [{"id": n, "email": email, "date_created": _iso(at)}
                           for n, (email, at) in enumerate(triggers.items(), start=1)],
             "subscribers": [], "orders": [], "products": []}
    others = [f"other{n}@example.com" for n in range(len(other_calls))]
    contacts = [{"id": n, "email": email} for n, email in enumerate([*triggers, *others], start=1)]
    ids = {c["email"]: c["id"] for c in contacts}
    enrolments = [{"programId": 301, "contacts": [ids[email]], "dateCreated": _iso(at)} for email, at in sent.items()]
    enrolments += [{"programId": 302, "contacts": [ids[email]], "dateCreated": _iso(at)}
                   for email, at in zip(others, other_calls, strict=True)]
    account = {"contacts": contacts, "enrolments_per_hour": 20, "enrolments": enrolments,
               "programs": [{"id": 301, "name": program}, {"id": 302, "name": "Another program"}]}
    return store, account


def _enrolment_problems(store, account) -> list:
    problems: list = []
    demo_check.check_enrolments(store, account, NOW - timedelta(hours=3), NOW, 5, set(), problems)
    return [(label, detail) for label, detail in problems if label != "NOT DUE (history)"]  # the other calls


@pytest.mark.parametrize("calls_before", [19, 20])
def test_an_enrolment_sent_late_is_excused_only_when_the_allowance_was_used_up_when_it_became_late(calls_before):
    trigger = datetime(2026, 12, 2, 9, 30, tzinfo=UTC)  # late from 9:35
    store, account = _enrolment_world(
        {"on-time@example.com": datetime(2026, 12, 2, 9, 50, tzinfo=UTC), "late@example.com": trigger},
        {"on-time@example.com": datetime(2026, 12, 2, 9, 54, 59, tzinfo=UTC),
         "late@example.com": datetime(2026, 12, 2, 9, 41, tzinfo=UTC)},
        [datetime(2026, 12, 2, 8, 40, tzinfo=UTC) + timedelta(minutes=2 * n) for n in range(calls_before)],
    )

    problems = _enrolment_problems(store, account)

    if calls_before == 20:  # the allowance was used up at 9:35: waiting for it is never a failure
        assert problems == []
    else:  # a call was left at 9:35: late, a failure, with its email, program, trigger and sent time
        assert problems == [("LATE", ("late@example.com", PROGRAMS["new_customer"], "trigger 09:30:00",
                                      "sent 09:41:00"))]


@pytest.mark.parametrize("places_taken", [True, False])
def test_an_enrolment_not_sent_yet_waits_for_the_allowance_but_not_past_a_free_place(places_taken):
    """Due at 8:00 (late from 8:05), not sent at 10:00: excused while the allowance stays used up."""
    trigger = datetime(2026, 12, 2, 8, 0, tzinfo=UTC)
    first = datetime(2026, 12, 2, 7, 10, tzinfo=UTC)  # 20 calls by 7:48: used up at 8:05
    calls = [first + timedelta(minutes=2 * n) for n in range(20)]
    if places_taken:  # the account's calls go on: every place taken as it frees, up to 10:00
        calls += [moment + timedelta(hours=1) for moment in calls] + [moment + timedelta(hours=2) for moment in calls]
    store, account = _enrolment_world({"waits@example.com": trigger}, {}, [c for c in calls if c <= NOW])

    problems = _enrolment_problems(store, account)

    if places_taken:
        assert problems == []
    else:  # places free from 8:10 on, for far longer than 5 minutes: it should have gone
        assert problems == [("MISSING", ("waits@example.com", PROGRAMS["new_customer"], "trigger 08:00:00",
                                         "not sent"))]
