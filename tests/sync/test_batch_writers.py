"""The engine writes through one batch writer per book and collection: as few writes as the
destination takes, answers applied as they arrive, nothing lost or duplicated by a crash between
a write landing and its answer, a refused record failed alone, memory flat over the backlog."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from host.models import ContactProfile, LedgerEntry
from host.sync import contacts as contacts_module
from host.sync import phases
from tests.sync.fakes import at, customer, order, product, subscriber

CUSTOMERS = 13


def fill(store, customers: int = CUSTOMERS):
    for cid in range(1, customers + 1):
        store.customers[str(cid)] = customer(cid, f"c{cid}@example.com", at(1, cid % 24))
        store.orders[str(100 + cid)] = order(100 + cid, f"c{cid}@example.com", at(3, cid % 24), customer_id=str(cid))
    for sid in range(1, 5):
        store.subscribers[f"s{sid}"] = subscriber(f"s{sid}", f"c{sid}@example.com", at(2, sid))
    store.products["p1"] = product("p1", at(4))
    store.products["p2"] = product("p2", at(4, 1))


@pytest.fixture
def small_batches(monkeypatch):
    """Profiles read five at a time: the contacts phase takes several batches."""
    monkeypatch.setattr(phases, "CONTACT_BATCH", 5)


def dirty_profiles(world) -> set[str]:
    return {p.email for p in world.query(select(ContactProfile).where(ContactProfile.dirty.is_(True)))}


def states(world, kind: str) -> dict[str, str]:
    return {row.source_id: row.state for row in world.query(select(LedgerEntry).where(LedgerEntry.kind == kind))}


def test_a_contacts_phase_of_several_batches_writes_each_book_once(world, small_batches):
    fill(world.store)

    run = world.sync()

    assert run.status == "finished"
    dest = world.destination
    assert len(dest.book("B-customers")) == CUSTOMERS and len(dest.book("B-subscribers")) == 4
    # 13 profiles in batches of 5: one writer per book for the whole phase, one write each
    assert dest.batches["contacts:B-customers"] == 1 and dest.batches["contacts:B-subscribers"] == 1
    assert dest.batches["Orders"] == 1 and dest.batches["Catalog_Default"] == 1
    assert dirty_profiles(world) == set()
    assert run.counts["contacts"]["sent"] == CUSTOMERS + 4


def test_answers_that_arrive_while_the_next_batch_is_built_are_applied(world, small_batches):
    world.destination.pipelined = True  # each batch answered by the writer's next call
    fill(world.store)
    applied_during_phase = []
    original_send = contacts_module.ContactSender.send

    def send(sender, profiles):
        original_send(sender, profiles)
        synced = world.query(select(LedgerEntry.source_id).where(
            LedgerEntry.kind == "customer_contact", LedgerEntry.state == "synced"))
        applied_during_phase.append(len(synced))

    contacts_module.ContactSender.send = send
    try:
        run = world.sync()
    finally:
        contacts_module.ContactSender.send = original_send

    assert run.status == "finished"
    assert applied_during_phase[0] == 0  # the first batch's answers come with the second call
    assert applied_during_phase[1] == 5 and applied_during_phase[2] == 10
    assert set(states(world, "customer_contact").values()) == {"synced"}
    assert set(states(world, "orders").values()) == {"synced"}
    assert dirty_profiles(world) == set()
    assert run.counts["contacts"]["sent"] == CUSTOMERS + 4 and run.counts["orders"]["sent"] == CUSTOMERS


def test_a_crash_after_the_writes_landed_and_before_their_answers_resends_them_once(world, small_batches):
    dest = world.destination
    dest.pipelined, dest.die_before_answers = True, {"contacts:B-customers"}
    fill(world.store)

    with pytest.raises(RuntimeError):
        world.sync()  # every contact landed; the last batch of each book was never answered

    assert len(dest.book("B-customers")) == CUSTOMERS
    unanswered = dirty_profiles(world)
    assert unanswered, "profiles whose answers were lost stay dirty"
    written = dest.writes["contacts:B-customers"]

    dest.die_before_answers = set()
    run = world.sync()

    assert run.status == "finished"
    assert dirty_profiles(world) == set()
    assert len(dest.contacts) == CUSTOMERS  # upserts by email: nobody twice
    assert dest.book("B-customers") == {f"c{cid}@example.com" for cid in range(1, CUSTOMERS + 1)}
    resent = dest.writes["contacts:B-customers"] - written
    assert 0 < resent <= len(unanswered)  # only the contacts whose answers were lost
    assert set(states(world, "customer_contact").values()) == {"synced"}
    assert set(dest.collections["Orders"]) == {str(100 + cid) for cid in range(1, CUSTOMERS + 1)}
    assert set(states(world, "orders").values()) == {"synced"}


def test_a_refused_contact_fails_alone_and_the_rest_sync(world, small_batches):
    world.destination.pipelined = True
    world.destination.refuse["c7@example.com"] = "invalidEmail: refused"
    fill(world.store)

    run = world.sync()

    rows = states(world, "customer_contact")
    assert rows.pop("c7@example.com") == "failed"
    assert set(rows.values()) == {"synced"} and len(rows) == CUSTOMERS - 1
    refused = world.ledger("customer_contact", "c7@example.com")
    assert refused.attempts == 1 and refused.next_attempt_at is not None and "invalidEmail" in refused.reason
    assert run.counts["contacts"]["failed"] == 1 and run.counts["contacts"]["sent"] == CUSTOMERS - 1 + 4
    assert dirty_profiles(world) == set()  # a refusal is retried by the retry pass, not by dirt


def test_the_session_holds_no_more_for_a_larger_backlog(world, small_batches):
    fill(world.store, customers=40)
    held = []
    original_send = contacts_module.ContactSender.send

    def send(sender, profiles):
        original_send(sender, profiles)
        held.append(len(sender.context.session.identity_map))

    contacts_module.ContactSender.send = send
    try:
        assert world.sync().status == "finished"
    finally:
        contacts_module.ContactSender.send = original_send

    assert len(held) == 8
    assert max(held) == held[0], f"the session grew with the backlog: {held}"


def test_over_loopback_a_backfill_is_one_import_per_book_and_collection_each_polled_once(make_app, monkeypatch):
    from tests.sync.loopback import StoreSize, connected_loop
    from tests.sync.test_end_to_end import Loop, assert_exact_state

    monkeypatch.setattr(phases, "CONTACT_BATCH", 20)  # the contacts phase takes several batches
    with connected_loop(make_app, StoreSize(customers=60, subscribers=25, orders=120, products=12, seed=3)) as parts:
        loop = Loop(*parts)
        assert loop.cycle(trigger="cli").status == "finished"
        assert_exact_state(loop)
        state = loop.emulators.account()
        imports = [(job["kind"], job.get("collection")) for job in state["imports"]]
        calls = loop.emulators.engagement_cloud_state()["requests"]

    assert sorted(kind for kind, _ in imports) == ["contacts", "contacts", "insight", "insight"]
    assert calls["PUT /contacts/v3/import"] == 2 and calls["GET /contacts/v3/import/{importId}"] == 2
    assert calls["PUT /insightData/v3/import"] == 2 and calls["GET /insightData/v3/import/{importId}"] == 2


def test_a_writer_holding_too_many_unanswered_records_is_drained(world, small_batches, monkeypatch):
    monkeypatch.setattr(contacts_module, "MAX_WAITING", 3)
    world.destination.pipelined = True
    fill(world.store)

    run = world.sync()

    assert run.status == "finished"
    assert set(states(world, "customer_contact").values()) == {"synced"}
    assert dirty_profiles(world) == set()
    assert world.destination.batches["contacts:B-customers"] == 3  # one write per batch of five


def test_a_large_import_s_answers_are_committed_a_chunk_at_a_time(world, monkeypatch):
    """The answers of one big import are recorded in several short transactions, so the
    webhook receiver (SQLite: one writer at a time) is never kept waiting for all of them."""
    from sqlalchemy import event
    from sqlalchemy.orm import Session

    from host.sync.ledger import Ledger

    monkeypatch.setattr(contacts_module, "ANSWERS_CHUNK", 4)  # contacts' and orders' answers alike
    fill(world.store)
    happened: list[str] = []
    original = Ledger.record_answers

    def recording(self, answers):
        happened.append(f"answers {len(answers)}")
        return original(self, answers)

    def committed(session):
        happened.append("commit")

    monkeypatch.setattr(Ledger, "record_answers", recording)
    event.listen(Session, "after_commit", committed)
    try:
        run = world.sync()
    finally:
        event.remove(Session, "after_commit", committed)

    assert run.status == "finished" and dirty_profiles(world) == set()
    assert states(world, "customer_contact") == {f"c{i}@example.com": "synced" for i in range(1, CUSTOMERS + 1)}
    answers = [event for event in happened if event.startswith("answers")]
    assert max(int(event.split()[1]) for event in answers) <= 4  # 13 customers: four chunks
    assert len(answers) >= 4 + 4  # the customers' and the orders' answers, chunk by chunk
    for before, after in zip(happened, happened[1:], strict=False):
        assert not (before.startswith("answers") and after.startswith("answers"))  # a commit between
