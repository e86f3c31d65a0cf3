"""Check a running demo (``make run``) from the emulators' public state alone: every contact who
became a new customer, a new subscriber or placed a first order more than ``--grace`` minutes
ago is enrolled in its program exactly once; nobody from the history is enrolled; the contacts,
books, orders and catalog are what the store says.

    .venv/bin/python bench/demo_check.py --since 2026-12-01T21:37:40Z [--bigcommerce URL --engagement-cloud URL]

``--since`` is when the demo connected (its first line "Connected the demo Engagement Cloud
account" — the host's ``connections.connected_at``). The demo store makes no unsubscribes, so
each subscriber record created since is one subscription episode.
"""

from __future__ import annotations

import argparse
import sys
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

import requests

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from demo import expected  # noqa: E402
from demo.world import CUSTOMERS_BOOK, PROGRAMS, STORE_HASH, SUBSCRIBERS_BOOK  # noqa: E402


def moment(value: str) -> datetime:
    return expected.order_time({"date_created": value})


def due_enrolments(store: dict, since: datetime) -> dict[tuple[str, str], datetime]:
    """(program name, email) → when it became due, from the store alone."""
    due: dict[tuple[str, str], datetime] = {}
    for customer in store["customers"]:
        if moment(customer["date_created"]) >= since:
            due[(PROGRAMS["new_customer"], customer["email"].lower())] = moment(customer["date_created"])
    for subscriber in store["subscribers"]:
        if expected.is_opted_in(subscriber) and moment(subscriber["date_created"]) >= since:
            due[(PROGRAMS["new_subscriber"], subscriber["email"].lower())] = moment(subscriber["date_created"])
    for email, order in expected.first_orders(store).items():
        if expected.order_time(order) >= since:
            due[(PROGRAMS["first_order"], email)] = expected.order_time(order)
    return due


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--since", required=True, help="when the demo connected (ISO 8601, UTC)")
    parser.add_argument("--bigcommerce", default="http://127.0.0.1:5001")
    parser.add_argument("--engagement-cloud", default="http://127.0.0.1:5002")
    parser.add_argument("--grace", type=float, default=5.0, help="minutes an enrolment may still be on its way")
    args = parser.parse_args()
    since = datetime.fromisoformat(args.since.replace("Z", "+00:00")).replace(microsecond=0)
    since = since if since.tzinfo else since.replace(tzinfo=UTC)

    bigcommerce = requests.get(f"{args.bigcommerce}/_emulator/state", timeout=120).json()
    store = next(s for s in bigcommerce["stores"] if s["store_hash"] == STORE_HASH)
    account = requests.get(f"{args.engagement_cloud}/_emulator/state", timeout=120).json()["accounts"][0]
    now = datetime.now(UTC)
    cutoff = now - timedelta(minutes=args.grace)

    due = due_enrolments(store, since)
    sent: Counter = expected.enrolled(account)
    late = {key: at for key, at in due.items() if at < cutoff}
    missing = [key for key in late if sent.get(key, 0) == 0]
    twice = [key for key, n in sent.items() if n > 1]
    undue = [key for key in sent if key not in due]
    on_the_way = len(due) - len(late)
    print(f"checked at {now:%H:%M:%S} UTC; connected {since:%H:%M:%S}; store: {len(store['customers'])} customers, "
          f"{len(store['subscribers'])} subscribers, {len(store['orders'])} orders")
    for program in PROGRAMS.values():
        program_due = [k for k in due if k[0] == program]
        print(f"  {program:35} due {len(program_due):4}  due > {args.grace:g} min ago "
              f"{sum(1 for k in late if k[0] == program):4}  enrolled {sum(n for k, n in sent.items() if k[0] == program):4}")
    calls = len(account.get("enrolments") or [])
    print(f"  enrolment calls {calls}; still on their way (due < {args.grace:g} min ago): {on_the_way}")
    expected_state = expected.expected_state(store)
    actual = expected.actual_state(account, CUSTOMERS_BOOK, SUBSCRIBERS_BOOK)
    differences = {part: (len(expected_state[part] - actual[part]), len(actual[part] - expected_state[part]))
                   for part in ("customers_book", "subscribers_book", "orders", "products")}
    print(f"  state (missing, extra): {differences}; duplicate contacts {len(actual['duplicate_contacts'])}")
    for label, keys in (("MISSING", missing), ("ENROLLED TWICE", twice), ("NOT DUE (history)", undue)):
        for key in sorted(keys)[:20]:
            print(f"  {label}: {key}")
    ok = not missing and not twice and not undue
    print("PASS" if ok else "FAIL")
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
