"""The scheduler plans each next cycle after the last one finished, answers "Sync now", and
survives a restart; the CLI runs one cycle in the foreground and prints a summary."""

from __future__ import annotations

from datetime import timedelta

import pytest

from host.models import utcnow
from host.scheduler import HostScheduler, request_sync, run_cycle_job
from tests.sync.test_cycle import fill_history


@pytest.fixture
def scheduler(world):
    made = []

    def start():
        instance = HostScheduler(world.app)
        instance.start(paused=True)  # jobs are stored and planned, but only the test runs them
        made.append(instance)
        return instance

    yield start
    for instance in made:
        instance.shutdown()


def test_the_next_cycle_comes_five_minutes_after_the_last_one_finished(world, scheduler):
    fill_history(world.store)
    planner = scheduler()
    with world.app.app_context():
        planner.tick()
        assert planner.next_cycle_at(world.connection_id) <= utcnow() + timedelta(
            seconds=1
        )  # first cycle: now

        run_cycle_job(world.connection_id)

        finished = world.query_last_sync()
        assert planner.next_cycle_at(world.connection_id) == finished + timedelta(seconds=300)
        assert planner.status()["connections_scheduled"] == 1
    assert world.destination.book("B-customers")


def test_sync_now_runs_at_once_or_right_after_the_running_cycle(world, scheduler):
    planner = scheduler()
    with world.app.app_context():
        run_cycle_job(world.connection_id)
        request_sync(world.connection_id)
        assert planner.next_cycle_at(world.connection_id) <= utcnow()

        world.update_connection(
            lock_owner="other:1:x", lock_expires_at=utcnow() + timedelta(minutes=5)
        )
        run_cycle_job(world.connection_id, "manual")  # a cycle elsewhere holds it: nothing is lost
        world.update_connection(lock_owner=None, lock_expires_at=None)
        planner.tick()
        assert planner.next_cycle_at(world.connection_id) <= utcnow()

        run_cycle_job(world.connection_id, "manual")
        assert planner.next_cycle_at(world.connection_id) > utcnow() + timedelta(seconds=290)


def test_a_restarted_scheduler_resumes_the_stored_schedule(world, scheduler):
    first = scheduler()
    with world.app.app_context():
        run_cycle_job(world.connection_id)
        planned = first.next_cycle_at(world.connection_id)
    first.shutdown()

    second = scheduler()
    assert second.next_cycle_at(world.connection_id) == planned
    assert second.status()["status"] == "running"


def test_the_sync_command_runs_one_cycle_and_prints_a_summary(world):
    fill_history(world.store)
    result = world.app.test_cli_runner().invoke(args=["sync", "store-1", "--full"])
    assert result.exit_code == 0, result.output
    assert "finished" in result.output and "customers" in result.output
    assert world.destination.book("B-customers")

    unknown = world.app.test_cli_runner().invoke(args=["sync", "no-such-store"])
    assert unknown.exit_code == 1 and "no connection" in unknown.output
