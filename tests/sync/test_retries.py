"""Retries that wait: a record the destination refused is tried again on a back-off of its own
(minutes growing to hours), not in every cycle or fast-lane batch; an outage never counts as a
try; after the cap the record needs attention on the Store tab, where Retry sends it again."""

from __future__ import annotations

import re
from datetime import timedelta

from sqlalchemy import update

from host.db import get_db
from host.errors import TransientError
from host.models import LedgerEntry, utcnow
from host.sync import run_fast_lane
from host.sync.ledger import backoff
from tests.sync.fakes import at
from tests.sync.test_cycle import fill_history
from tests.sync.test_lock_and_fast_lane import add_event
from tests.web.conftest import Merchant, page_text


def retries_come_due(world) -> None:
    """Time passes: every back-off is over (the ledger's clock is the real one, so the rows'
    next try moves into the past instead)."""
    with world.app.app_context(), get_db().transaction() as session:
        session.execute(
            update(LedgerEntry)
            .where(LedgerEntry.next_attempt_at.is_not(None))
            .values(next_attempt_at=utcnow() - timedelta(seconds=1))
        )


def fast_lane(world, stream: str, record_id: str):
    add_event(world, stream, record_id)
    with world.app.app_context():
        return run_fast_lane(world.connection_id)


def visible_text(response) -> str:
    """The page's words as a reader sees them: no markup, single spaces."""
    return " ".join(re.sub(r"<[^>]+>", " ", page_text(response)).split())


def waits_for(row: LedgerEntry) -> timedelta:
    return row.next_attempt_at - utcnow()


def test_each_refusal_waits_longer_from_minutes_to_six_hours():
    minutes = [backoff(attempts) / timedelta(minutes=1) for attempts in range(1, 7)]
    assert minutes == [5, 15, 45, 135, 360, 360]
    assert backoff(1, base_seconds=60) == timedelta(minutes=1)


def test_a_refused_order_is_not_sent_again_before_its_back_off_is_over(world):
    fill_history(world.store)
    world.destination.refuse["100"] = "JsonValueIncompatibleWithSchema"
    world.sync()
    row = world.ledger("orders", "100")
    assert (row.state, row.attempts) == ("failed", 1)
    assert timedelta(minutes=4) < waits_for(row) <= timedelta(minutes=5)
    del world.destination.refuse["100"]  # the destination would take it now
    sent = world.destination.writes["Orders"]

    world.sync()
    fast_lane(world, "orders", "100")  # a webhook for the unchanged order: not a new try

    assert world.destination.writes["Orders"] == sent
    assert "100" not in world.destination.collections["Orders"]
    assert world.ledger("orders", "100").attempts == 1

    retries_come_due(world)
    world.sync()

    assert "100" in world.destination.collections["Orders"]
    row = world.ledger("orders", "100")
    assert (row.state, row.attempts, row.next_attempt_at) == ("synced", 0, None)


def test_a_second_refusal_waits_longer_than_the_first(world):
    fill_history(world.store)
    world.destination.refuse["c3@example.com"] = "invalid email domain"
    world.sync()
    retries_come_due(world)

    world.sync()

    row = world.ledger("customer_contact", "c3@example.com")
    assert row.attempts == 2
    assert timedelta(minutes=14) < waits_for(row) <= timedelta(minutes=15)


def test_a_record_changed_in_the_store_is_sent_at_once_despite_its_back_off(world):
    fill_history(world.store)
    world.destination.refuse["100"] = "JsonValueIncompatibleWithSchema"
    world.sync()
    del world.destination.refuse["100"]
    world.store.orders["100"].update(status="Shipped", date_modified=at(11))

    world.sync()  # no time has passed: the change alone makes it a new try

    assert world.destination.collections["Orders"]["100"]["status"] == "Shipped"
    assert world.ledger("orders", "100").state == "synced"


def test_an_outage_counts_no_attempt_and_the_records_go_at_the_next_sync(world):
    fill_history(world.store)
    world.destination.broken["contacts"] = TransientError("503 Service Unavailable")

    run = world.sync()

    assert run.errors == {"contacts": "503 Service Unavailable"}
    row = world.ledger("customer_contact", "c1@example.com")
    assert (row.state, row.attempts, row.next_attempt_at) == ("pending", 0, None)
    del world.destination.broken["contacts"]

    world.sync()  # no back-off to wait for

    assert "c1@example.com" in world.destination.book("B-customers")
    assert set(world.destination.collections["Orders"]) == {"100", "101", "104"}


def test_an_outage_during_a_retry_does_not_use_up_the_records_tries(world):
    fill_history(world.store)
    world.destination.refuse["100"] = "refused for now"
    world.sync()
    retries_come_due(world)
    world.destination.broken["Orders"] = TransientError("429 Too Many Requests")

    run = world.sync()

    assert run.errors["orders"] == "429 Too Many Requests"
    row = world.ledger("orders", "100")
    assert (row.state, row.attempts) == ("failed", 1)  # the outage was not a refusal
    del world.destination.broken["Orders"], world.destination.refuse["100"]

    world.sync()  # still due: the outage set no new wait

    assert "100" in world.destination.collections["Orders"]
    assert world.ledger("orders", "100").state == "synced"


def refuse_until_the_cap(world, *source_ids: str) -> None:
    """Refused ``max_attempts`` (3 in these tests) times, each once its back-off is over."""
    for source_id in source_ids:
        world.destination.refuse[source_id] = f"refused: {source_id} is not acceptable"
    for _ in range(3):
        world.sync()
        retries_come_due(world)


def test_after_the_cap_a_record_needs_attention_on_the_store_tab_and_retry_sends_it(world):
    fill_history(world.store)
    refuse_until_the_cap(world, "100")
    del world.destination.refuse["100"]
    sent = world.destination.writes["Orders"]
    world.sync()
    assert world.destination.writes["Orders"] == sent  # past the cap: no more tries by itself

    merchant = Merchant(world.app.test_client(), world.connection_id)
    page = visible_text(merchant.get("/settings/store"))
    assert "Records that need attention (1)" in page
    assert "Order 100 refused: 100 is not acceptable 3 times Retry" in page
    row = world.ledger("orders", "100")

    response = merchant.post("/settings/store/retry", {"record": str(row.id)})

    assert response.status_code == 302
    assert "1 record will be retried at the next sync." in visible_text(
        merchant.get("/settings/store")
    )
    world.sync()
    assert "100" in world.destination.collections["Orders"]
    assert world.ledger("orders", "100").state == "synced"
    assert "Records that need attention" not in visible_text(merchant.get("/settings/store"))


def test_retry_all_sends_every_refused_record_at_the_next_sync(world):
    fill_history(world.store)
    refuse_until_the_cap(world, "100", "c3@example.com")
    world.destination.refuse.clear()
    merchant = Merchant(world.app.test_client(), world.connection_id)
    assert "Records that need attention (2)" in visible_text(merchant.get("/settings/store"))

    merchant.post("/settings/store/retry", {"all": "1"})
    world.sync()

    assert "100" in world.destination.collections["Orders"]
    assert "c3@example.com" in world.destination.book("B-customers")
    assert world.ledger("customer_contact", "c3@example.com").state == "synced"
