"""The run's counts keep nothing per record in memory between reading a store and sending it:
a backfill of a million customers and two million orders holds them on the profiles and in the
outbox rows instead (``host.sync.tally``), and the counts still add up."""

from collections import Counter
from types import SimpleNamespace

from host.sync.ledger import Ledger
from host.sync.tally import RunTally


def tally_with_counts(run_id=7):
    counts: dict[str, Counter] = {}

    def add(name, **increments):
        counts.setdefault(name, Counter()).update(increments)

    return RunTally(add, run_id), counts


def test_records_read_wait_on_their_profiles_not_in_memory():
    tally, counts = tally_with_counts()
    profiles = [SimpleNamespace(email=f"p{i}@example.com", run_reads=None) for i in range(1000)]
    for profile in profiles:
        tally.described(profile, "customer_contact", "customers")
    tally.described(profiles[0], "customer_contact", "customers")  # read twice (overlap)
    assert not tally._reads and not tally._refused  # nothing held per record
    assert profiles[0].run_reads == {"run": 7, "customer_contact": {"customers": 2}}

    for profile in profiles:
        tally.checking(profile, {"customer_contact"})
        tally.contact("customer_contact", profile.email, "sent")
    tally.contacts_settled()
    assert counts["customers"] == Counter(sent=1001)
    assert counts["contacts"] == Counter(read=1000, sent=1000)
    assert not tally._reads and not tally._refused


def test_reads_of_an_earlier_run_are_not_counted_again():
    tally, counts = tally_with_counts(run_id=8)
    profile = SimpleNamespace(email="a@example.com", run_reads={"run": 7, "customer_contact": {"customers": 1}})
    tally.checking(profile, {"customer_contact"})
    tally.contact("customer_contact", profile.email, "unchanged")
    assert "customers" not in counts and counts["contacts"] == Counter(read=1, unchanged=1)


def test_a_contact_with_no_book_excludes_its_records_at_once():
    tally, counts = tally_with_counts()
    profile = SimpleNamespace(email="a@example.com", run_reads=None)
    tally.described(profile, "subscriber_contact", "subscribers")
    tally.checking(profile, set())
    assert counts["subscribers"] == Counter(excluded=1) and not tally._reads


def test_a_contact_refused_then_retried_counts_once_with_its_last_outcome():
    tally, counts = tally_with_counts()
    profile = SimpleNamespace(email="a@example.com", run_reads=None)
    tally.described(profile, "customer_contact", "customers")
    tally.checking(profile, {"customer_contact"})
    tally.contact("customer_contact", profile.email, "failed")
    tally.contact("customer_contact", profile.email, "sent")  # the retry pass
    assert counts["customers"] == Counter(sent=1, failed=0)
    assert counts["contacts"] == Counter(read=1, sent=1, failed=0)
    assert not tally._refused


def test_orders_waiting_in_the_outbox_carry_their_run():
    tally, counts = tally_with_counts()
    ledger = Ledger(None, connection_id=1, max_attempts=3)
    row = SimpleNamespace(outbox=None, state="pending")
    assert tally.queued("orders", row.outbox)
    ledger.queue(row, "h", "1", {}, run=7)
    assert row.outbox["run"] == 7  # the ledger marks the row with the run that queued it
    assert not tally.queued("orders", row.outbox)  # read again this run: counts as unchanged
    ledger.queue(row, "h2", "1", {}, run=7)
    tally.taken_from_outbox("orders", row.outbox)  # counted when read: nothing more
    left_over = SimpleNamespace(outbox=None, state="pending")
    ledger.queue(left_over, "h", "2", {}, run=3)  # queued by an earlier run
    tally.taken_from_outbox("orders", left_over.outbox)
    assert counts["orders"] == Counter(unchanged=1, read=1)


def test_a_payload_already_waiting_is_marked_with_the_run_that_read_it_again():
    tally, counts = tally_with_counts()
    ledger = Ledger(None, connection_id=1, max_attempts=3)
    row = SimpleNamespace(outbox=None, state="pending")
    ledger.queue(row, "h", "1", {}, run=3)  # left by an earlier run
    assert tally.queued("orders", row.outbox)
    assert not ledger.queue(row, "h", "1", {}, run=7)  # the very payload waits already
    tally.taken_from_outbox("orders", row.outbox)  # this run read it: not counted twice
    assert "orders" not in counts
