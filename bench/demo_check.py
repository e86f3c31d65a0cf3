"""Check a running demo (``make run``) from the emulators' public state alone: every contact who
became a new customer, a new subscriber or placed a first order more than ``--grace`` minutes
ago is enrolled in its program exactly once, in time; nobody from the history is enrolled; the contacts,
books, orders and catalog are what the store says; the lifetime order fields of every contact
in the books are what the store's orders say; an unsubscribe in Engagement Cloud that is later
than the store's subscribe kept the contact out of the subscribers book and was written back to
the store (the write-back setting on, its default); a customer or subscriber deleted in the store left the books nothing else keeps them in.

    .venv/bin/python bench/demo_check.py --since 2026-12-01T21:37:40Z [--bigcommerce URL --engagement-cloud URL]

``--since`` is when the demo connected (its first line "Connected the demo Engagement Cloud
account" — the host's ``connections.connected_at``). Timing: what the store changes reaches
Engagement Cloud through webhooks within seconds (``--sync-grace`` minutes are allowed after an
order's last change or a deletion); an unsubscribe made in Engagement Cloud is read at the next
full cycle (every 5 minutes: ``--cycle-grace``); enrolments go out in batches, each within
``--grace`` minutes of its trigger (DESIGN §1: 5) — later only while the account's hourly
enrolment allowance is used up (``enrolments_per_hour`` calls in the hour before the moment it
became late, from the emulator's enrolment records): otherwise it is LATE (email, program,
trigger and sent time) or MISSING. Anything younger is counted as on its way, not judged. A
contact that unsubscribed or was deleted may or may not have been enrolled before (the store no
longer shows the episode): not judged.
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
from demo.world import CUSTOMERS_BOOK, LIFETIME_DATA_FIELDS, PROGRAMS, STORE_HASH, SUBSCRIBERS_BOOK  # noqa: E402


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


def check_enrolments(store, account, since, now, grace, unjudged: set[str], problems: list) -> None:
    """Each due enrolment must be sent within ``grace`` minutes of its trigger (DESIGN §1: within 5
    minutes while the allowance lasts). One sent later, or not sent yet, is excused only when the
    account's allowance was used up when it became late (``enrolments_per_hour`` calls within the
    hour before its deadline); one not sent yet, only if the allowance has had no free place for
    ``grace`` minutes since (a place free longer than that and it did not go: missing)."""
    due = due_enrolments(store, since)
    sent: Counter = expected.enrolled(account)
    first_sent = expected.first_enrolled(account)
    calls, per_hour = expected.enrolment_calls(account), account.get("enrolments_per_hour")
    limit = timedelta(minutes=grace)
    late = {key: at for key, at in due.items() if at + limit < now}
    waited: Counter = Counter()  # excused: waiting for the allowance, sent late or not yet
    for key, at in sorted(late.items(), key=lambda item: item[1]):
        program, email = key
        deadline, sent_at = at + limit, first_sent.get(key)
        if email in unjudged or (sent_at is not None and sent_at <= deadline):
            continue
        excused = expected.allowance_spent(calls, deadline, per_hour) and (
            sent_at is not None or expected.allowance_spent(calls, max(deadline, now - limit), per_hour))
        if excused:
            waited["sent late" if sent_at else "not sent yet"] += 1
        elif sent_at is None:
            problems.append(("MISSING", (email, program, f"trigger {at:%H:%M:%S}", "not sent")))
        else:
            problems.append(("LATE", (email, program, f"trigger {at:%H:%M:%S}", f"sent {sent_at:%H:%M:%S}")))
    problems += [("ENROLLED TWICE", key) for key, n in sent.items() if n > 1]
    problems += [("NOT DUE (history)", key) for key in sent if key not in due and key[1] not in unjudged]
    for program in PROGRAMS.values():
        program_due = [k for k in due if k[0] == program]
        print(f"  {program:35} due {len(program_due):4}  due > {grace:g} min ago "
              f"{sum(1 for k in late if k[0] == program):4}  enrolled {sum(n for k, n in sent.items() if k[0] == program):4}")
    print(f"  enrolment calls {len(calls)} (allowance {per_hour or 'none'} an hour); still on their way "
          f"(due < {grace:g} min ago): {len(due) - len(late)}; waiting for the allowance (excused): "
          f"{waited['sent late']} sent late, {waited['not sent yet']} not sent yet; "
          f"not judged (unsubscribed or deleted since): {len({k for k in set(due) | set(sent) if k[1] in unjudged})}")


def check_lifetime(store, account, actual, wanted_books, cutoff, grace, problems: list) -> None:
    members = (actual["customers_book"] & wanted_books["customers_book"]) | (
        actual["subscribers_book"] & wanted_books["subscribers_book"])
    changed = expected.last_order_change(store)
    wrong = expected.lifetime_differences(store, account, members, LIFETIME_DATA_FIELDS)
    judged = {email: fields for email, fields in wrong.items() if changed.get(email, cutoff) < cutoff}
    buyers = len(members & set(expected.lifetime_values(store)))
    print(f"  lifetime fields: {len(members)} contacts in the books ({buyers} with orders): "
          f"{len(members) - len(wrong)} right, {len(judged)} wrong, "
          f"{len(wrong) - len(judged)} on their way (an order changed < {grace:g} min ago)")
    for email, fields in sorted(judged.items()):
        problems.append(("LIFETIME FIELDS WRONG", (email, {k: (str(w), f) for k, (w, f) in fields.items()})))


def check_unsubscribes(store, account, actual, wanted, unsubscribed, cutoff, grace, problems: list) -> None:
    book = expected.book_id(account, SUBSCRIBERS_BOOK)
    records = account.get("unsubscribes") or []
    from_book = sum(1 for r in records if r.get("addressBookId") == book)
    outcomes = expected.unsubscribe_outcomes(store, unsubscribed)
    kept_out = {e for e in unsubscribed if e not in wanted["subscribers_book"]}
    in_book = {e: unsubscribed[e] for e in kept_out if e in actual["subscribers_book"]}
    waiting = {e: unsubscribed[e] for e in outcomes["waiting"]}
    print(f"  unsubscribes in Engagement Cloud: {len(records)} ({from_book} from the subscribers book, "
          f"{sum(1 for r in records if r.get('addressBookId') is None)} from everything), {len(unsubscribed)} emails: "
          + ", ".join(f"{label} {len(emails)}" for label, emails in outcomes.items())
          + f"; out of the subscribers book {len(kept_out) - len(in_book)} of {len(kept_out)}; "
          f"on their way (< {grace:g} min ago): {len({e for e, at in {**in_book, **waiting}.items() if at >= cutoff})}")
    problems += [("STILL IN THE SUBSCRIBERS BOOK", (e, f"{at:%H:%M:%S}")) for e, at in in_book.items() if at < cutoff]
    problems += [("NOT WRITTEN BACK", (e, f"{at:%H:%M:%S}")) for e, at in waiting.items() if at < cutoff]


def check_deletions(store, actual, cutoff, grace, problems: list) -> None:
    tombstones = store.get("deleted") or []
    departures = expected.deletion_departures(store)
    people = sum(1 for _, books in departures.values() if len(books) == 2)
    still = {email: (at, sorted(b for b in books if email in actual[b]))
             for email, (at, books) in departures.items() if any(email in actual[b] for b in books)}
    late = {email: found for email, found in still.items() if found[0] < cutoff}
    print(f"  deletions in the store: {len(tombstones)} ({sum(1 for t in tombstones if t['kind'] == 'customer')} "
          f"customers, {sum(1 for t in tombstones if t['kind'] == 'subscriber')} subscribers); {len(departures)} emails "
          f"must have left a book ({people} people the store no longer describes at all): "
          f"{len(departures) - len(still)} left, {len(late)} still in, {len(still) - len(late)} on their way "
          f"(< {grace:g} min ago)")
    problems += [("DELETED, STILL IN A BOOK", (email, books, f"{at:%H:%M:%S}")) for email, (at, books) in late.items()]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--since", required=True, help="when the demo connected (ISO 8601, UTC)")
    parser.add_argument("--bigcommerce", default="http://127.0.0.1:5001")
    parser.add_argument("--engagement-cloud", default="http://127.0.0.1:5002")
    parser.add_argument("--grace", type=float, default=5.0,
                        help="minutes after its trigger an enrolment must be sent by, unless the allowance was used up")
    parser.add_argument("--sync-grace", type=float, default=1.5,
                        help="minutes a store change (an order, a deletion) may still be on its way")
    parser.add_argument("--cycle-grace", type=float, default=6.0,
                        help="minutes an unsubscribe made in Engagement Cloud may wait for the next full cycle")
    args = parser.parse_args()
    since = datetime.fromisoformat(args.since.replace("Z", "+00:00")).replace(microsecond=0)
    since = since if since.tzinfo else since.replace(tzinfo=UTC)

    bigcommerce = requests.get(f"{args.bigcommerce}/_emulator/state", timeout=120).json()
    store = next(s for s in bigcommerce["stores"] if s["store_hash"] == STORE_HASH)
    account = requests.get(f"{args.engagement_cloud}/_emulator/state", timeout=120).json()["accounts"][0]
    now = datetime.now(UTC)
    print(f"checked at {now:%H:%M:%S} UTC; connected {since:%H:%M:%S}; store: {len(store['customers'])} customers, "
          f"{len(store['subscribers'])} subscribers, {len(store['orders'])} orders")

    unsubscribed = expected.unsubscribes(account, SUBSCRIBERS_BOOK)
    departures = expected.deletion_departures(store)
    unjudged = set(unsubscribed) | set(departures)
    problems: list[tuple[str, object]] = []
    check_enrolments(store, account, since, now, args.grace, unjudged, problems)

    wanted = expected.expected_state(store, unsubscribed)
    actual = expected.actual_state(account, CUSTOMERS_BOOK, SUBSCRIBERS_BOOK)
    differences = {part: (len(wanted[part] - actual[part]), len(actual[part] - wanted[part]))
                   for part in ("customers_book", "subscribers_book", "orders", "products")}
    print(f"  state (missing, extra): {differences}; duplicate contacts {len(actual['duplicate_contacts'])}")
    quick = now - timedelta(minutes=args.sync_grace)
    check_lifetime(store, account, actual, wanted, quick, args.sync_grace, problems)
    check_unsubscribes(store, account, actual, wanted, unsubscribed, now - timedelta(minutes=args.cycle_grace),
                       args.cycle_grace, problems)
    check_deletions(store, actual, quick, args.sync_grace, problems)
    shown: Counter = Counter()
    for label, detail in problems:
        shown[label] += 1
        if shown[label] <= 20:
            print(f"  {label}: {detail}")
    print("PASS" if not problems else f"FAIL ({', '.join(f'{label} {n}' for label, n in shown.items())})")
    return 0 if not problems else 1


if __name__ == "__main__":
    raise SystemExit(main())
