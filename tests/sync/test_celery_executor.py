"""The ``celery`` executor: the scheduler only decides when and enqueues; ``flask --app host
worker`` processes run the cycles and the fast lane on the shared database, and the store
reaches the exact state; two workers never run one connection's cycle at once.

The broker is a ``redis-server`` the test starts on a free port (``host.testing.broker``), or
the machine's on 127.0.0.1:6379; without either the tests are skipped, saying so."""

from __future__ import annotations

import gc
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from pathlib import Path

import pytest
import requests
from sqlalchemy import select

from host.db import get_db
from host.executors.celery_app import CYCLE_QUEUE, CYCLE_TASK, FAST_LANE_QUEUE, get_celery
from host.models import Base, Connection, SyncRun, utcnow
from host.scheduler import HostScheduler, request_sync
from host.testing.broker import BrokerUnavailable, redis_broker
from tests.sync.loopback import (
    StoreSize,
    actual_state,
    host_config,
    host_environment,
    install_and_connect,
    live_host,
    start_emulators,
)
from tests.sync.test_end_to_end import Loop, assert_exact_state

pytestmark = pytest.mark.slow
SIZE = StoreSize(customers=150, subscribers=50, orders=300, products=20, seed=7)
REPOSITORY = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def broker() -> Iterator[str]:
    pytest.importorskip("celery", reason="the celery extra is not installed")
    try:
        with redis_broker() as url:
            yield url
            # Results of the tests' tasks unsubscribe as they go: while Redis still answers.
            gc.collect()
    except BrokerUnavailable as error:
        pytest.skip(f"no Redis broker for the celery executor: {error}")


@pytest.fixture(scope="module")
def rabbitmq() -> str:
    kombu = pytest.importorskip("kombu")
    url = "amqp://guest:guest@127.0.0.1:5672//"
    try:
        with kombu.Connection(url, connect_timeout=2) as connection:
            connection.ensure_connection(max_retries=1)
    except Exception as error:
        pytest.skip(f"no RabbitMQ on 127.0.0.1:5672 ({error.__class__.__name__})")
    return url


@pytest.fixture
def celery_loop(request, make_app):
    """A connected store, a host app with ``executor = "celery"`` (on Redis, or on the broker
    named by the test's parameter), and the environment for its worker processes. A cycle is
    one task unless the parameter gives ``slice_seconds``."""
    options = getattr(request, "param", {})
    options = {"broker": options} if isinstance(options, str) else options
    broker = request.getfixturevalue(options.get("broker", "broker"))
    emulators = start_emulators(SIZE)
    try:
        with live_host() as (host_url, late):
            config = host_config(emulators, host_url)
            config["HOST"].update(executor="celery", broker_url=broker)
            # A short lease: a dead worker's cycle is enqueued again within seconds.
            config["SYNC"] = {
                "fast_lane_seconds": 1, "lock_seconds": 10, "slice_seconds": options.get("slice_seconds", 0)
            }
            # Small batches: room to be killed half way through a cycle.
            config["PLUGINS"]["engagement_cloud"].update(contact_batch_size=60, order_batch_size=150)
            app = make_app(**config)
            with app.app_context():
                Base.metadata.create_all(get_db().engine)
            late.app = app
            connection_id = install_and_connect(app, emulators, host_url)
            environment = {
                **{k: v for k, v in os.environ.items() if not k.startswith("HOST_") and k != "DATABASE_URL"},
                **host_environment(config, app.instance_path, app.config["DATABASE"]["url"]),
            }
            yield Loop(app, emulators, connection_id), environment
            get_celery(app).control.purge()
    finally:
        emulators.stop()


@contextmanager
def workers(
    loop: Loop, environment: dict[str, str], count: int, pool: tuple[str, ...] = ("--pool", "solo")
) -> Iterator[list[subprocess.Popen]]:
    """``count`` worker processes, as an admin starts them, ready once this yields (solo: the
    task runs in the process itself, whose pid is then the lease holder's)."""
    processes = [
        subprocess.Popen(
            [sys.executable, "-m", "flask", "--app", "host", "worker", *pool,
             "--hostname", f"test{number}-{os.getpid()}@%h", "--without-gossip", "--without-mingle"],
            cwd=REPOSITORY, env=environment, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
        )
        for number in range(count)
    ]
    try:
        celery = get_celery(loop.app)
        wait_for(lambda: len(celery.control.ping(timeout=0.5)) >= count, 60, "the workers to start")
        yield processes
    finally:
        for process in processes:
            process.terminate()
        for process in processes:
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()


@contextmanager
def scheduling(loop: Loop) -> Iterator[HostScheduler]:
    """The scheduler process's part, in this process: it decides when, and enqueues."""
    scheduler = HostScheduler(loop.app)
    scheduler.start()
    try:
        yield scheduler
    finally:
        scheduler.shutdown()


def slow_store(loop: Loop) -> None:
    """Store answers 20 ms slower: a cycle still runs when the next task or check comes."""
    requests.post(f"{loop.emulators.bigcommerce.url}/_emulator/faults", json={"latency_ms": 20}, timeout=10)


def wait_for(condition: Callable[[], object], seconds: float, what: str) -> object:
    deadline = time.monotonic() + seconds
    while True:
        answer = condition()
        if answer:
            return answer
        assert time.monotonic() < deadline, f"waited {seconds} s for {what}"
        time.sleep(0.2)


def cycle_runs(loop: Loop) -> list[SyncRun]:
    with loop.app.app_context(), get_db().transaction() as session:
        return list(
            session.scalars(
                select(SyncRun)
                .where(SyncRun.connection_id == loop.connection_id, SyncRun.trigger != "fast_lane")
                .order_by(SyncRun.started_at)
            )
        )


def worker_plan(loop: Loop, scheduler: HostScheduler, run: SyncRun) -> datetime:
    """The next cycle's time as the worker plans it just after ``run`` ended (its own
    transaction, a moment after the run's): until then the job is the scheduler's recheck, a
    lease's length (10 s) after it enqueued the task. Waits less than that, so a plan that
    never came is not mistaken for the recheck fixing itself."""

    def planned() -> datetime | None:
        with loop.app.app_context():
            when = scheduler.next_cycle_at(loop.connection_id)
        return when if when is not None and when > run.finished_at + timedelta(seconds=60) else None

    return wait_for(planned, 5, "the worker's plan for the next cycle")


def assert_never_two_at_once(runs: list[SyncRun]) -> None:
    for earlier, later in zip(runs, runs[1:], strict=False):
        assert earlier.finished_at is not None and earlier.finished_at <= later.started_at, (
            f"cycles {earlier.id} and {later.id} of one connection overlapped"
        )


@pytest.mark.parametrize("celery_loop", ["broker", "rabbitmq"], indirect=True, ids=["redis", "rabbitmq"])
def test_the_scheduler_enqueues_and_a_worker_brings_the_store_to_the_exact_state(celery_loop):
    loop, environment = celery_loop
    with workers(loop, environment, 1, pool=("--concurrency", "2")), scheduling(loop) as scheduler:  # forked children, the default
        first = wait_for(
            lambda: [run for run in cycle_runs(loop) if run.status != "running"], 120, "the first cycle"
        )[0]
        assert first.status == "finished", first.errors
        assert_exact_state(loop)
        # The worker planned the next cycle five minutes after this one finished.
        planned = worker_plan(loop, scheduler, first)
        assert abs(planned - (first.finished_at + timedelta(seconds=300))) < timedelta(seconds=5)

        # A webhook's change reaches Engagement Cloud through the fast lane, on a worker.
        started = time.monotonic()
        loop.emulators.create("customers", email="arrived.by.webhook@example.org", accepts_marketing=True)
        wait_for(
            lambda: "arrived.by.webhook@example.org" in actual_state(loop.emulators.account())["contacts"],
            30, "the fast lane",
        )
        assert time.monotonic() - started < 15

        health = loop.app.test_client().get("/healthz")
        executor = health.get_json()["executor"]
        assert health.status_code == 200 and executor["name"] == "celery", executor
        assert executor["status"] == "ok" and executor["queue_depth"] == 0
    assert len(cycle_runs(loop)) == 1  # nothing ran twice
    assert_never_two_at_once(cycle_runs(loop))


def test_two_workers_given_one_connection_twice_run_one_cycle(celery_loop):
    loop, environment = celery_loop
    # Slow store answers: the first cycle still runs when the second worker takes its task.
    slow_store(loop)
    celery = get_celery(loop.app)
    with workers(loop, environment, 2):
        enqueued_at = utcnow().isoformat()
        results = [
            celery.send_task(CYCLE_TASK, args=[loop.connection_id, "scheduled", enqueued_at])
            for _ in range(2)
        ]
        answers = sorted(result.get(timeout=180) for result in results)
    assert answers == ["busy", "ran"]  # the second found the cycle's lease held: it did nothing
    runs = cycle_runs(loop)
    assert [run.status for run in runs] == ["finished"]
    assert_exact_state(loop)

    # A task enqueued before that cycle ended has been answered by it: it does nothing.
    with workers(loop, environment, 1):
        late = celery.send_task(CYCLE_TASK, args=[loop.connection_id, "scheduled", enqueued_at])
        assert late.get(timeout=60) == "answered"
    assert len(cycle_runs(loop)) == 1


@pytest.mark.parametrize(
    "celery_loop",
    [{"slice_seconds": 0.1}, {"slice_seconds": 0.1, "broker": "rabbitmq"}],
    indirect=True,
    ids=["redis", "rabbitmq"],  # the scheduler must hear that a slice's task was taken, on both
)
def test_a_cycle_cut_into_slices_goes_on_task_after_task_to_the_exact_state(celery_loop):
    loop, environment = celery_loop
    slow_store(loop)
    with workers(loop, environment, 2), scheduling(loop) as scheduler:
        last = wait_for(
            lambda: [run for run in cycle_runs(loop) if run.status == "finished"], 180, "the cycle's last slice"
        )[0]
        planned = worker_plan(loop, scheduler, last)
    runs = cycle_runs(loop)
    # Each slice a task, each enqueued at once after the last, on whichever worker was free.
    assert [run.status for run in runs] == ["sliced"] * (len(runs) - 1) + ["finished"]
    assert len(runs) >= 3, [run.phase for run in runs]
    assert {run.trigger for run in runs[1:]} == {"continued"}
    assert_never_two_at_once(runs)
    actual = assert_exact_state(loop)  # nothing lost or sent twice between slices
    assert actual["enrolments"] == []
    # The next cycle: five minutes after the last slice, not after the first.
    assert abs(planned - (runs[-1].finished_at + timedelta(seconds=300))) < timedelta(seconds=5)


def set_sync_enabled(loop: Loop, enabled: bool) -> None:
    """Data sync On or Off, as the Store tab's switch saves it."""
    with loop.app.app_context(), get_db().transaction() as session:
        session.get(Connection, loop.connection_id).sync_enabled = enabled


@pytest.mark.parametrize("celery_loop", [{"slice_seconds": 0.1}], indirect=True, ids=["sliced"])
def test_data_sync_off_holds_a_cycle_between_slices_and_sync_now_starts_one_at_once(celery_loop):
    loop, environment = celery_loop
    slow_store(loop)
    with workers(loop, environment, 2), scheduling(loop):
        wait_for(lambda: any(run.status == "sliced" for run in cycle_runs(loop)), 60, "a first slice")
        set_sync_enabled(loop, False)  # Data sync Off, between two slices of the backfill
        wait_for(lambda: all(run.status != "running" for run in cycle_runs(loop)), 30, "the slice to end")
        held = len(cycle_runs(loop))
        time.sleep(4)  # several ticks and lease lengths: nothing runs while it is off
        assert len(cycle_runs(loop)) == held
        assert cycle_runs(loop)[-1].status in ("sliced", "stopped")

        set_sync_enabled(loop, True)  # On again: the cycle goes on from where it was
        first = wait_for(
            lambda: [run for run in cycle_runs(loop) if run.status == "finished"], 120, "the rest of the cycle"
        )[0]
        assert_exact_state(loop)

        with loop.app.app_context():  # "Sync now": a cycle at once, not five minutes later
            request_sync(loop.connection_id)
        asked = utcnow()
        manual = wait_for(
            lambda: [run for run in cycle_runs(loop) if run.trigger == "manual"], 30, "the Sync now cycle"
        )[0]
        assert first.finished_at < manual.started_at < asked + timedelta(seconds=15)
        wait_for(  # its slices, to the last
            lambda: cycle_runs(loop)[-1].status == "finished" and cycle_runs(loop)[-1].id > manual.id,
            60, "the Sync now cycle's last slice",
        )
    assert_never_two_at_once(cycle_runs(loop))
    assert_exact_state(loop)


def lease_holder(loop: Loop) -> int | None:
    """The pid of the process holding the connection's cycle lease (owner ``host:pid:…``)."""
    with loop.app.app_context(), get_db().transaction() as session:
        owner = session.get(Connection, loop.connection_id).lock_owner
    return int(owner.split(":")[1]) if owner else None


def test_a_worker_killed_mid_cycle_leaves_its_store_to_another_which_finishes_it_exactly(celery_loop):
    loop, environment = celery_loop
    slow_store(loop)
    with workers(loop, environment, 2) as processes, scheduling(loop):
        wait_for(
            lambda: any(run.phase == "reading orders" for run in cycle_runs(loop)), 90, "the cycle to read orders"
        )
        victim = next(process for process in processes if process.pid == lease_holder(loop))
        victim.send_signal(signal.SIGKILL)
        victim.wait(timeout=10)
        done = wait_for(
            lambda: [run for run in cycle_runs(loop) if run.status == "finished"], 120, "another worker"
        )
    assert [run.status for run in cycle_runs(loop)] == ["interrupted", "finished"], done
    assert_never_two_at_once(cycle_runs(loop))
    actual = assert_exact_state(loop)  # nothing lost, no contact or order twice
    assert actual["enrolments"] == []


def world_connection(app) -> int:
    """A connection that may sync (no source needed: the task is only enqueued)."""
    with get_db().transaction() as session:
        connection = Connection(source="bigcommerce", source_account="queued", destination="engagement_cloud",
                                sync_enabled=True)
        session.add(connection)
        session.flush()
        return connection.id


def test_healthz_reports_the_queue_depth_and_how_long_the_oldest_task_waited(make_app, broker):
    app = make_app(HOST={"executor": "celery", "broker_url": broker})
    with app.app_context():
        Base.metadata.create_all(get_db().engine)
    celery = get_celery(app)
    celery.control.purge()
    scheduler = HostScheduler(app)  # not started: its executor only enqueues
    try:
        with app.app_context():
            scheduler.executor.fast_lane(101)
            scheduler.executor.fast_lane(101)  # one is waiting already: not sent twice
            scheduler.executor.fast_lane(102)
        time.sleep(1.1)
        with app.app_context():
            connection_id = world_connection(app)
            scheduler.executor.cycle(connection_id, "scheduled")
            scheduler.executor.cycle(connection_id, "scheduled")  # its job again: still queued
        executor = app.test_client().get("/healthz").get_json()["executor"]
        assert executor["status"] == "ok" and executor["queue_depth"] == 3, executor
        assert 1.0 <= executor["oldest_waiting_seconds"] < 30
        # Webhook changes wait in their own queue, never behind long cycles.
        assert executor["queues"][FAST_LANE_QUEUE]["depth"] == 2
        assert executor["queues"][CYCLE_QUEUE]["depth"] == 1
        assert executor["queues"][CYCLE_QUEUE]["oldest_waiting_seconds"] < 1.0
    finally:
        celery.control.purge()


def test_a_slice_ending_while_the_scheduler_sets_its_recheck_keeps_the_next_cycle_five_minutes_away(
    make_app, broker
):
    """The scheduler's job for a cycle's next slice fires while that slice's task (sent
    earlier) runs; the slice ends the cycle and its worker plans the next cycle just before the
    scheduler writes its own recheck: the plan that stays is still five minutes after the end."""
    app = make_app(HOST={"executor": "celery", "broker_url": broker}, SYNC={"lock_seconds": 10})
    with app.app_context():
        Base.metadata.create_all(get_db().engine)
    scheduler = HostScheduler(app)
    scheduler.start_planner()  # the stored schedule, no job run here
    try:
        with app.app_context():
            connection_id = world_connection(app)
            with get_db().transaction() as session:
                session.add(SyncRun(connection_id=connection_id, trigger="scheduled", status="sliced",
                                    finished_at=utcnow()))
            ended = []
            write_job = scheduler.set_job

            def worker_ends_the_cycle_first(connection, when, trigger="scheduled"):
                if trigger == "continued" and not ended:  # the scheduler's recheck, about to be written
                    with get_db().transaction() as session:
                        last = SyncRun(connection_id=connection_id, trigger="continued", status="finished",
                                       finished_at=utcnow())
                        session.add(last)
                    ended.append(last.finished_at)
                    scheduler.plan_next(connection_id)  # the worker's plan, as its cycle ends
                write_job(connection, when, trigger)

            scheduler.set_job = worker_ends_the_cycle_first
            sent = []
            scheduler.executor._send = lambda *task: sent.append(task)
            scheduler.executor.cycle(connection_id, "continued")
            planned = scheduler.next_cycle_at(connection_id)
        assert ended, "the race was not played"
        assert abs(planned - (ended[0] + timedelta(seconds=300))) < timedelta(seconds=2)
        assert sent == []  # the cycle ended: no task for it
    finally:
        scheduler.shutdown()
