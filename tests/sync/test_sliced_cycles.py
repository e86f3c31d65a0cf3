"""A cycle cut into slices (``run_cycle(slice_seconds=...)``, as the celery executor runs it)
goes on from where each slice stopped: the store reaches the exact state, each record is read
about once, and a whole read cut into slices still tells deleted customers from listed ones."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from host.db import get_db
from host.models import Connection, StreamCursor, SyncRun
from host.sync.reads import ReadState
from host.sync.runs import cycle_of, first_slice_id
from host.web.merchant.health import store_health
from tests.sync.loopback import StoreSize, connected_loop
from tests.sync.test_end_to_end import Loop, assert_exact_state

SIZE = StoreSize(customers=600, subscribers=100, orders=700, products=30, seed=13)
EVERY_PAGE = 1e-6  # a slice stops at the first boundary it meets


@pytest.fixture
def loop(make_app):
    with connected_loop(make_app, SIZE) as parts:
        yield Loop(*parts)


def slices_until_done(loop: Loop, *, full: bool = False, between=None, limit: int = 300) -> list[str]:
    """Run the first slice and then the continued ones until the cycle ends; answer the statuses.
    ``between(n)`` runs after slice ``n`` (a store change, a crash's leftovers)."""
    statuses = [loop.cycle(trigger="scheduled", full=full, slice_seconds=EVERY_PAGE).status]
    while statuses[-1] == "sliced":
        assert len(statuses) < limit, "the cycle makes no progress"
        if between is not None:
            between(len(statuses))
        statuses.append(loop.cycle(trigger="continued", slice_seconds=EVERY_PAGE).status)
    return statuses


def cycle_runs(loop: Loop) -> list[SyncRun]:
    with loop.app.app_context(), get_db().transaction() as session:
        return list(session.scalars(select(SyncRun).order_by(SyncRun.id)))


def read_counts(runs: list[SyncRun], stream: str) -> int:
    return sum((run.counts.get(stream) or {}).get("read", 0) for run in runs)


def last_sync_at(loop: Loop):
    with loop.app.app_context(), get_db().transaction() as session:
        return session.get(Connection, loop.connection_id).last_sync_at


def test_a_backfill_cut_into_slices_reaches_the_exact_state_reading_each_record_about_once(loop):
    seen_last_sync = []
    statuses = slices_until_done(loop, between=lambda n: seen_last_sync.append(last_sync_at(loop)))

    # One slice a page or batch: the backfill took many, each going on from the last.
    assert len(statuses) >= 10 and statuses[-1] == "finished", statuses
    assert set(statuses[:-1]) == {"sliced"}
    # Not "synced" until the last slice: the Store tab keeps saying the first sync runs.
    assert seen_last_sync == [None] * (len(statuses) - 1) and last_sync_at(loop) is not None
    actual = assert_exact_state(loop)
    assert actual["enrolments"] == []  # the backfill's people are not "new", in every slice

    # A continued read lists from where the last one got, not from the start again: at most
    # the records of the boundary's second are read twice. (Customers: the orders' rows also
    # count, under "read", what a slice took from the outbox that another one read.)
    assert SIZE.customers <= read_counts(cycle_runs(loop), "customers") <= SIZE.customers + 3 * len(statuses)
    with loop.app.app_context(), get_db().transaction() as session:
        cursors = list(session.scalars(select(StreamCursor).where(StreamCursor.stream.in_(["customers", "orders"]))))
        states = [ReadState.of(cursor) for cursor in cursors]
        assert all(state.complete for state in states)  # the reads are over
        assert [cursor.value for cursor in cursors] == [state.position for state in states]

    # The Store tab shows the cycle whole: from its first slice, every stream adding up over
    # the slices, each record counted once (an order read by one slice and sent by another too).
    shown = last_full_sync_shown(loop)
    runs = cycle_runs(loop)
    assert shown["started_at"] == runs[0].started_at.isoformat() and shown["trigger"] == "scheduled"
    rows = {row["name"]: row for row in [*shown["streams"], shown["contacts"]]}
    for name, row in rows.items():
        assert row["read"] == row["sent"] + row["unchanged"] + row["excluded"] + row["failed"], (name, row)
    assert rows["orders"]["read"] <= SIZE.orders and rows["customers"]["read"] >= SIZE.customers

    # Nothing left over: the next cycle, sliced or not, sends nothing.
    writes = loop.emulators.engagement_cloud_writes()
    assert loop.cycle(trigger="scheduled").status == "finished"
    assert loop.emulators.engagement_cloud_writes() == writes


def last_full_sync_shown(loop: Loop) -> dict:
    """The Store tab's "Last full sync", as its page and status endpoint show it."""
    with loop.app.app_context(), get_db().transaction() as session:
        return store_health(session, session.get(Connection, loop.connection_id), max_attempts=5)["last_full_run"]


def latest_customer(loop: Loop) -> dict:
    """The customer a whole read (in change-date order) lists last."""
    return max(loop.emulators.store()["customers"], key=lambda c: (c["date_modified"], c["id"]))


def test_a_whole_read_cut_into_slices_removes_only_the_customer_deleted_meanwhile(loop):
    assert loop.cycle(trigger="scheduled").status == "finished"
    doomed = latest_customer(loop)  # not listed yet when the first slice stops

    def delete_after_first_slice(n: int) -> None:
        if n == 1:
            loop.emulators.delete("customers", doomed["id"])

    statuses = slices_until_done(loop, full=True, between=delete_after_first_slice)
    assert len(statuses) >= 4 and statuses[-1] == "finished", statuses
    # The customers listed by the earlier slices are still there: their ids were kept.
    actual = assert_exact_state(loop)
    assert doomed["email"].lower() not in actual["customers_book"]


def test_a_whole_read_that_went_past_its_kept_ids_lists_again_from_the_start(loop):
    """What a crash between a page and the end of its slice leaves: the read's position moved
    on, its ids of that slice were never kept. Judging deletions from it would remove
    customers the read did list; it reads them all again instead."""
    assert loop.cycle(trigger="scheduled").status == "finished"
    first = loop.cycle(trigger="scheduled", full=True, slice_seconds=EVERY_PAGE)
    assert first.status == "sliced"
    with loop.app.app_context(), get_db().transaction() as session:
        cursor = session.scalar(select(StreamCursor).where(StreamCursor.stream == "customers"))
        state = ReadState.of(cursor)
        assert state is not None and state.whole and state.position is not None
        state.marked = None  # the crash: the position moved, its ids were not kept
        state.save(cursor)
    before = len(cycle_runs(loop))

    statuses = [first.status]
    while statuses[-1] == "sliced":
        statuses.append(loop.cycle(trigger="continued", slice_seconds=EVERY_PAGE).status)
    assert statuses[-1] == "finished"
    assert read_counts(cycle_runs(loop)[before:], "customers") >= SIZE.customers
    assert_exact_state(loop)  # nobody listed was taken for deleted


def test_a_cycles_slices_are_found_past_a_killed_slice_and_back_to_the_run_that_began_it(app):
    """The slices a continued run counts with and the Store tab adds up: a slice whose worker
    died belongs to the cycle; a Sync now that began a new cycle between slices begins its own."""
    with app.app_context(), get_db().transaction() as session:
        session.add(Connection(id=1, source="test", source_account="slices"))
        session.flush()
        runs = [
            SyncRun(connection_id=1, trigger=trigger, status=status)
            for trigger, status in [
                ("scheduled", "finished"),
                ("scheduled", "sliced"),  # an earlier cycle, left between slices by Sync now
                ("manual", "sliced"),  # the cycle Sync now began
                ("continued", "interrupted"),  # its worker was killed
                ("continued", "sliced"),
                ("fast_lane", "finished"),
            ]
        ]
        session.add_all(runs)
        session.flush()
        assert first_slice_id(session, 1) == runs[2].id
        last = SyncRun(connection_id=1, trigger="continued", status="finished")
        session.add(last)
        session.flush()
        assert [run.id for run in cycle_of(session, last)] == [runs[2].id, runs[3].id, runs[4].id, last.id]
        assert cycle_of(session, runs[0]) == [runs[0]]
