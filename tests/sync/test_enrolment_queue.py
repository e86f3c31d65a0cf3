"""Enrolments wait per program and go out in batches within the destination's allowance;
waiting for the allowance is never a failure; the connection's own second has one rule."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import select

from host.enrolments import EnrolmentCall
from host.sync.cursors import parse_time
from tests.sync.fakes import at, customer, order, subscriber


def _new_customers(world, count: int, *, day: int = 11) -> None:
    for n in range(count):
        world.store.customers[f"n{n}"] = customer(f"n{n}", f"new{n}@example.com", at(day, n % 24))


def test_sixty_new_customers_go_to_their_program_in_three_calls(world):
    world.app.config["SYNC"]["enrolment_interval_seconds"] = 240  # the product's default pacing
    world.save("automation", {"new_customer_program_id": "P-customer"})
    _new_customers(world, 60)

    world.sync()
    assert [len(ids) for _, ids in world.destination.enrolments] == [25, 25]  # full batches go at once
    waiting = [row for row in world.enrolments() if row.state == "pending"]
    assert len(waiting) == 10 and all("batch" in row.reason and row.attempts == 0 for row in waiting)

    world.time_passes(minutes=4)
    world.sync()

    assert [len(ids) for _, ids in world.destination.enrolments] == [25, 25, 10]
    assert sorted(email for _, email in world.destination.enrolled()) == sorted(
        f"new{n}@example.com" for n in range(60)
    )
    assert {row.state for row in world.enrolments()} == {"active"}


def test_a_spent_allowance_leaves_enrolments_waiting_never_failed(world):
    world.destination.enrolment_allowance = (2, 3600)  # two calls an hour
    world.store.customers["9"] = customer(9, "new@example.com", at(11))
    world.store.subscribers["s9"] = subscriber("s9", "newsub@example.com", at(11, 1))
    world.store.orders["300"] = order(300, "newguest@example.com", at(11, 2))

    for _ in range(3):  # cycle after cycle: still waiting, never an attempt
        world.sync()
    assert len(world.destination.enrolments) == 2
    [waiting] = [row for row in world.enrolments() if row.state != "active"]
    assert waiting.state == "pending" and waiting.attempts == 0
    assert "allowance" in waiting.reason and waiting.due_at is not None

    world.time_passes(minutes=61)
    world.sync()

    assert sorted(world.destination.enrolled()) == [
        ("P-customer", "new@example.com"),
        ("P-first-order", "newguest@example.com"),
        ("P-subscriber", "newsub@example.com"),
    ]


def test_programs_take_turns_when_one_has_a_flash_sale(world):
    world.destination.enrolment_allowance = (3, 3600)
    _new_customers(world, 100)  # the flash sale: four full batches for one program
    world.store.subscribers["s9"] = subscriber("s9", "newsub@example.com", at(11, 1))

    world.sync()

    programs = [program for program, _ in world.destination.enrolments]
    assert programs.count("P-subscriber") == 1 and len(programs) == 3  # the lone subscriber was not starved


def test_a_refused_batch_is_retried_one_contact_per_call_so_one_bad_contact_holds_no_one(world):
    world.save("automation", {"new_customer_program_id": "P-customer"})
    _new_customers(world, 3)
    world.destination.refuse_enrolment = {"new1@example.com"}

    world.sync()  # the batch of three is refused as a whole
    world.sync()  # each goes alone: two are accepted, the bad one backs off
    assert sorted(email for _, email in world.destination.enrolled()) == ["new0@example.com", "new2@example.com"]
    bad = next(row for row in world.enrolments() if row.contact_key == "new1@example.com")
    assert bad.state == "pending" and bad.attempts == 2 and bad.due_at is not None

    for _ in range(2):
        world.time_passes(minutes=60 * 6)
        world.sync()

    bad = next(row for row in world.enrolments() if row.contact_key == "new1@example.com")
    assert bad.state == "failed" and bad.attempts == 3  # needs attention, with its reason
    assert "refused" in bad.reason


def test_records_stamped_in_the_connections_second_are_decided_by_the_backfills_read(world):
    connected = parse_time(at(10)) + timedelta(microseconds=400_000)
    world.update_connection(connected_at=connected)
    world.store.customers["1"] = customer(1, "seen-by-backfill@example.com", at(10))
    world.store.customers["2"] = customer(2, "a-second-before@example.com", "2025-06-09T23:59:59+00:00")

    world.sync()  # the backfill reads the first: history
    world.store.customers["3"] = customer(3, "read-after-backfill@example.com", at(10))
    world.sync()
    world.sync()

    assert world.destination.enrolled() == [("P-customer", "read-after-backfill@example.com")]


def _calls_by_another_store(world, count: int) -> None:
    """``count`` accepted enrolment calls of the same account (another store), spread over the
    last 50 minutes: they count against its allowance of 20 an hour."""
    from host.db import get_db
    from host.enrolments import account_key
    from host.models import Connection

    now = datetime.now(UTC)
    with world.app.app_context(), get_db().transaction() as session:
        key = account_key(session.get(Connection, world.connection_id))
        for n in range(count):
            session.add(EnrolmentCall(account_key=key, program_id="P-other", contact_count=25, outcome="accepted",
                                      made_at=now - timedelta(minutes=50) + timedelta(minutes=2 * n)))


def test_with_15_of_20_calls_used_a_partial_batch_goes_within_5_minutes_of_its_trigger(world):
    """DESIGN §1: each within 5 minutes of its trigger while the allowance lasts."""
    world.app.config["SYNC"]["enrolment_interval_seconds"] = 240  # the product's default pacing
    world.destination.enrolment_allowance = (20, 3600)  # Engagement Cloud's
    world.save("automation", {"new_customer_program_id": "P-customer"})
    _calls_by_another_store(world, 14)
    world.store.customers["1"] = customer(1, "first@example.com", at(11, 1))
    world.sync()  # the program's first call: at once (15 of 20 calls used now)
    world.store.customers["2"] = customer(2, "second@example.com", at(11, 2))
    world.sync()
    [waiting] = [row for row in world.enrolments() if row.state == "pending"]
    assert "batch" in waiting.reason and waiting.attempts == 0

    world.time_passes(minutes=4)  # its trigger was 4 minutes ago
    world.sync()

    assert [email for _, email in world.destination.enrolled()] == ["first@example.com", "second@example.com"]
    second = next(row for row in world.enrolments() if row.contact_key == "second@example.com")
    assert second.state == "active" and second.sent_at - second.created_at <= timedelta(minutes=5)


def test_with_the_20_calls_used_a_partial_batch_waits_for_the_allowance_with_its_reason_never_failing(world):
    world.app.config["SYNC"]["enrolment_interval_seconds"] = 240
    world.destination.enrolment_allowance = (20, 3600)
    world.save("automation", {"new_customer_program_id": "P-customer"})
    _calls_by_another_store(world, 20)  # the oldest 50 minutes ago: a place frees in 10
    world.store.customers["1"] = customer(1, "waits@example.com", at(11, 1))

    for _ in range(3):
        world.sync()
        world.time_passes(minutes=3)
    assert world.destination.enrolments == []
    [row] = world.enrolments()
    assert row.state == "pending" and row.attempts == 0
    assert "hourly enrolment allowance" in row.reason and "next call goes at" in row.reason

    world.time_passes(minutes=1.5)  # 10.5 minutes on: the oldest call left the hour
    world.sync()
    assert world.destination.enrolled() == [("P-customer", "waits@example.com")]
    assert [row.state for row in world.enrolments()] == ["active"]


def test_two_processes_racing_for_the_allowances_last_call_never_both_make_it(world, monkeypatch):
    """Another worker's call (for another store of the same account) commits between this
    process's look at the allowance and its own call: this one withdraws and waits."""
    from host.db import get_db
    from host.enrolments import Pacer

    world.destination.enrolment_allowance = (1, 3600)  # one call an hour
    world.store.customers["9"] = customer(9, "new@example.com", at(11))
    looked = Pacer._next_slot

    def look_then_lose_the_race(self):
        slot = looked(self)
        if slot is None:  # the place looked free: the other worker takes it now
            with get_db().transaction() as session:
                session.add(EnrolmentCall(account_key=self.key, program_id="P-other",
                                          contact_count=1, outcome="accepted", made_at=self.context.now))
        return slot

    monkeypatch.setattr(Pacer, "_next_slot", look_then_lose_the_race)
    world.sync()

    assert world.destination.enrolments == []  # the account's one call an hour was the other's
    [waiting] = world.enrolments()
    assert waiting.state == "pending" and waiting.attempts == 0 and "allowance" in waiting.reason
    outcomes = sorted(call.outcome for call in world.query(select(EnrolmentCall)))
    assert outcomes == ["accepted", "withdrawn"]

    monkeypatch.undo()
    world.time_passes(minutes=61)
    world.sync()
    assert world.destination.enrolled() == [("P-customer", "new@example.com")]
