"""The soak run's verdict, from public surfaces only: what the store says (the BigCommerce
emulator's state), what the churn driver did (its own log), what Engagement Cloud holds (its
emulator's state) and the pages a merchant sees. Pure functions; ``bench/soak.py`` feeds them.

Which enrolments are due (DESIGN §1 "Automation", host rules in ``host/sync/profiles.py``):

- **new customers**: every store account created after the connection was made;
- **first orders**: every email whose first order ever (the earliest that is not Incomplete,
  archived ones included) was placed after it, guests and store accounts alike;
- **new subscribers**: every subscription episode begun after it — a newsletter signup, a
  checkout opt-in that created a subscriber, and a resubscribe of someone whose removal from
  the subscribers book Engagement Cloud had shown (the churn driver only resubscribes such
  people, so each resubscribe is a new episode by the product's rule).

Nobody from the history is due. A disconnect forgets the connection's queue by design (the
new account starts afresh, ``host.connections.disconnect``), so an enrolment triggered before
a disconnect is due *at most* once; one triggered after the last (re)connection exactly once.
"""

from __future__ import annotations

import re
from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from demo import expected

TRIGGERS = ("new_customer", "first_order", "new_subscriber")


@dataclass
class Change:
    """One change the churn driver made to the store."""

    at: float  # wall-clock seconds (time.time())
    kind: str  # e.g. "new customer", "unsubscribe"
    period: int  # which connection period it happened in (1, then 2 after a reconnect, ...)
    detail: str
    email: str | None = None
    trigger: str | None = None  # the enrolment it makes due, if any (first orders: see orders)
    order_id: int | None = None  # an order that began counting with this change
    opt_in: bool = False  # that order's checkout opt-in (it creates the subscriber)


@dataclass
class Due:
    at: float
    period: int
    exact: bool  # False: triggered before a disconnect, so at most once


@dataclass
class EnrolmentVerdict:
    ok: bool
    due_exact: int = 0
    due_at_most_once: int = 0
    sent: int = 0  # contact enrolments seen at Engagement Cloud
    missing: list[tuple[str, str, int, int]] = field(default_factory=list)  # trigger, email, due, got
    extra: list[tuple[str, str, int, int]] = field(default_factory=list)
    dropped_by_disconnect: int = 0
    waits: list[float] = field(default_factory=list)
    unseen_waits: int = 0


def due_enrolments(
    store: dict[str, Any],
    changes: Iterable[Change],
    final_period: int,
) -> dict[tuple[str, str], list[Due]]:
    """(trigger, email) → the times it became due, from the store and the churn log alone."""
    changes = list(changes)
    due: dict[tuple[str, str], list[Due]] = defaultdict(list)

    def add(trigger: str, email: str, at: float, period: int) -> None:
        due[(trigger, email.lower())].append(Due(at, period, period == final_period))

    counted_by_run: dict[str, Change] = {}  # order id → the change that made it count
    for change in changes:
        if change.trigger in ("new_customer", "new_subscriber") and change.email:
            add(change.trigger, change.email, change.at, change.period)
        if change.order_id is not None:
            counted_by_run.setdefault(str(change.order_id), change)
    archived = [int(c.detail.split()[1]) for c in changes if c.kind == "order archived"]
    for email, order in expected.first_orders(store, archived).items():
        change = counted_by_run.get(str(order["id"]))
        if change is not None:
            add("first_order", email, change.at, change.period)
    # A checkout opt-in creates the subscriber with the order: a new subscription episode.
    for subscriber in store["subscribers"]:
        change = counted_by_run.get(str(subscriber.get("order_id")))
        if change is not None and change.opt_in:
            add("new_subscriber", subscriber["email"], change.at, change.period)
    return dict(due)


def compare_enrolments(
    due: dict[tuple[str, str], list[Due]],
    sent: Counter,
    seen: dict[tuple[str, str], list[float]],
) -> EnrolmentVerdict:
    """``sent``: (trigger, email) → contact enrolments Engagement Cloud holds; ``seen``: when each
    was first seen. Exactly once per due episode; at most once for those before a disconnect."""
    verdict = EnrolmentVerdict(ok=True, sent=sum(sent.values()))
    for key in sorted(set(due) | set(sent)):
        episodes = sorted(due.get(key, []), key=lambda d: d.at)
        exact = sum(1 for d in episodes if d.exact)
        maybe = len(episodes) - exact
        got = sent.get(key, 0)
        verdict.due_exact += exact
        verdict.due_at_most_once += maybe
        if got < exact:
            verdict.missing.append((*key, exact, got))
        elif got > exact + maybe:
            verdict.extra.append((*key, exact + maybe, got))
        else:
            verdict.dropped_by_disconnect += exact + maybe - got
        times = sorted(seen.get(key, []))
        for index, episode in enumerate(episodes):
            if index < len(times):
                verdict.waits.append(max(0.0, times[index] - episode.at))
            elif episode.exact:
                verdict.unseen_waits += 1
    verdict.ok = not verdict.missing and not verdict.extra
    return verdict


# ---------------------------------------------------------------------- Engagement Cloud state
def state_differences(store: dict[str, Any], account: dict[str, Any], customers_book: str,
                      subscribers_book: str) -> dict[str, str]:
    """Part → what differs between what the store says and what the account holds (empty: exact)."""
    want = expected.expected_state(store)
    have = expected.actual_state(account, customers_book, subscribers_book)
    problems: dict[str, str] = {}
    for part in ("customers_book", "subscribers_book", "orders", "products"):
        missing, extra = sorted(want[part] - have[part]), sorted(have[part] - want[part])
        if missing or extra:
            problems[part] = f"missing {len(missing)} {missing[:3]}, extra {len(extra)} {extra[:3]}"
    if have["duplicate_contacts"]:
        problems["duplicate contacts"] = str(list(have["duplicate_contacts"].items())[:3])
    if have["duplicate_orders"]:
        problems["duplicate orders"] = str(list(have["duplicate_orders"].items())[:3])
    statuses, held = expected.order_statuses(store), expected.insight_order_statuses(account)
    stale = sorted(k for k, status in statuses.items() if k in held and held[k] != status)
    if stale:
        problems["order statuses"] = f"{len(stale)} differ, e.g. " + ", ".join(
            f"{k}: store {statuses[k]!r}, Insight {held[k]!r}" for k in stale[:3])
    names, contact_names = expected.customer_names(store), expected.contact_names(account)
    wrong = sorted(e for e, name in names.items() if e in contact_names and contact_names[e] != name)
    if wrong:
        problems["customer names"] = f"{len(wrong)} differ, e.g. " + ", ".join(
            f"{e}: store {names[e]}, contact {contact_names[e]}" for e in wrong[:3])
    return problems


def sent_by_trigger(account: dict[str, Any], program_names: dict[str, str]) -> Counter:
    """(trigger, email) → contact enrolments held, with ``program_names`` trigger → program name."""
    trigger_of = {name: trigger for trigger, name in program_names.items()}
    return Counter({(trigger_of.get(program, program), email): n
                    for (program, email), n in expected.enrolled(account).items()})


def enrolment_keys(account: dict[str, Any], enrolment: dict[str, Any],
                   program_names: dict[str, str]) -> list[tuple[str, str]]:
    """The (trigger, email) pairs one Engagement Cloud enrolment carries."""
    trigger_of = {name: trigger for trigger, name in program_names.items()}
    email_of = {c["id"]: c["email"].lower() for c in account["contacts"]}
    program_of = {p["id"]: p["name"] for p in account["programs"]}
    program = program_of.get(enrolment["programId"])
    return [(trigger_of.get(program, str(program)), email_of.get(c, str(c))) for c in enrolment["contacts"]]


# ---------------------------------------------------------------------- host rows (verdict c)
TRANSIENT_REASON = re.compile(
    r"allowance|429|\b5\d\d\b|rate.?limit|throttl|time(?:d)? ?out|unreachable|could not (?:connect|reach)|"
    r"connection|not answering|unavailable|lost|uncertain|interrupted|try (?:again|later)|temporar|"
    r"not at the destination yet|outage",
    re.IGNORECASE,
)


def transient_failures(rows: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    """Enrolment rows that ended failed (needs attention) for a reason that was only transient."""
    return [row for row in rows if row["state"] == "failed" and TRANSIENT_REASON.search(row.get("reason") or "")]


# ---------------------------------------------------------------------- pages (verdict d)
INTERNAL_TEXT = (
    # A Python exception class (KeyError, StaleDataError, IntegrityError): CamelCase, so the
    # plain word "error" in a merchant's message does not count.
    re.compile(r"\b(?:[A-Z][a-z0-9]+)+(?:Error|Exception)\b"),
    re.compile(
        r"Traceback \(most recent call last\)|File \"[^\"]+\", line \d+|Internal Server Error"
        r"|\b(?:sqlalchemy|psycopg2?|werkzeug|jinja2|apscheduler)\b",
        re.IGNORECASE,
    ),
)


def internal_text(text: str) -> str | None:
    """The first piece of internal error text in a page (with some context), or None."""
    for pattern in INTERNAL_TEXT:
        match = pattern.search(text)
        if match:
            start = max(0, match.start() - 60)
            return " ".join(text[start : match.end() + 60].split())
    return None
