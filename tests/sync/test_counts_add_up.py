"""A run's counts add up: per stream, read = sent + unchanged + excluded + failed, and the
contacts (people built from customers, subscribers and guests) are counted in their own area."""

from __future__ import annotations

from host.sync.tally import CONTACTS, OUTCOMES
from tests.sync.fakes import at, customer, order, product, subscriber
from tests.sync.test_cycle import fill_history


def assert_adds_up(run) -> None:
    for name, counts in run.counts.items():
        if name == "enrolments":  # enrolments are counted by state, in the programs' area
            continue
        assert counts["read"] == sum(counts[outcome] for outcome in OUTCOMES), (name, counts)


def test_the_first_cycle_adds_up_and_counts_each_contact_once_per_book(world):
    fill_history(world.store)

    run = world.sync()

    assert_adds_up(run)
    counts = run.counts
    assert counts["customers"] == {"read": 5, "sent": 5, "unchanged": 0, "excluded": 0, "failed": 0}
    # s3 is not opted in: excluded; s1 and s2 are sent to the subscribers book
    assert counts["subscribers"] == {"read": 3, "sent": 2, "unchanged": 0, "excluded": 1, "failed": 0}
    assert counts["orders"] == {"read": 5, "sent": 3, "unchanged": 0, "excluded": 2, "failed": 0}
    assert counts["products"] == {"read": 2, "sent": 1, "unchanged": 0, "excluded": 1, "failed": 0}
    in_books = len(world.destination.book("B-customers")) + len(world.destination.book("B-subscribers"))
    assert counts[CONTACTS]["sent"] == in_books == 8


def test_a_later_cycle_adds_up_when_orders_settings_and_refusals_touch_contacts(world):
    fill_history(world.store)
    world.sync()
    world.store.orders["200"] = order(200, "c1@example.com", at(11), customer_id="1", postcode="ZZ9")
    world.store.customers["9"] = customer(9, "refused@example.com", at(11))
    world.destination.refuse["refused@example.com"] = "invalid email"
    world.store.subscribers["s2"].update(opted_in=False, date_modified=at(11))
    world.store.products["p1"].update(is_visible=False, date_modified=at(11))
    world.save("field_mapping", {"mapping": {"first_name": "FIRSTNAME", "company": "COMPANY"}})

    run = world.sync()

    assert_adds_up(run)
    counts = run.counts
    # only what was read this cycle is counted under a stream: the mapping change re-checks
    # every contact, but those are counted under contacts only
    assert counts["customers"]["read"] < 5 and counts["customers"]["failed"] == 1
    assert counts["subscribers"]["excluded"] == counts["subscribers"]["read"] >= 1
    assert counts["orders"]["sent"] == 1
    assert counts["products"]["excluded"] == counts["products"]["read"]  # p1 hidden since: removed
    assert "p1" not in world.destination.collections["Catalog_Default"]
    assert counts[CONTACTS]["read"] >= 9  # every contact checked again after the mapping change
    assert counts[CONTACTS]["failed"] == 1


def test_a_full_read_and_a_retry_add_up(world):
    fill_history(world.store)
    world.destination.refuse["c2@example.com"] = "refused"
    world.sync()
    del world.destination.refuse["c2@example.com"]
    world.store.subscribers["s9"] = subscriber("s9", "late@example.com", at(12))
    world.store.products["p3"] = product("p3", at(12))

    for run in (world.sync(full=True, trigger="cli"), world.sync()):
        assert_adds_up(run)
