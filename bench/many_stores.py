"""Many stores on the ``celery`` executor (issue 18's acceptance): K workers, N stores, one big.

One BigCommerce emulator holds ``--stores`` generated stores of mixed sizes (distinct hashes
and seeds; small ones around ``--small-*`` records, each scaled by 0.5–1.5, and one
``--big-factor`` times the base small size), one Engagement Cloud emulator one account per
store, except that ``--shared-pairs`` pairs of small stores share an account (each store has
its own two books there, named after it; the programs and the enrolment allowance are the
account's). A live host (``executor = "celery"``) installs and connects every store as a
merchant does, the big store first; then ``--workers`` ``flask --app host worker --pool solo``
processes and a ``flask --app host scheduler`` process start, and the scheduler's first tick
enqueues every store's first cycle, as in production.

When every store's first cycle has finished it checks, and exits non-zero if any check failed:

- **exact**: each store's books (and, for an account of its own, the account's orders and
  products) hold exactly what ``demo.expected.expected_state`` computes from that store's
  emulator state; no duplicate contact or order, every subscriber with a consent record, and
  nobody enrolled by a backfill. Orders and products are Insight collections of the whole
  account, keyed by the store's ids: for a shared account they are compared with the union of
  its stores' (two stores' order 17 are one record there);
- **never two at once**: no connection's cycle runs (every trigger but ``fast_lane``)
  overlapped, by the run records;
- **fairness**: small stores finished their first sync while the big one was still running
  (for each store: when its first run with status ``finished`` ended; a cycle split over several
  tasks or runs counts when its finished run ends);
- with ``--kill-one``: the worker holding the big store's cycle lease (``Connection.lock_owner``
  is ``host:pid:…``) is SIGKILLed mid-cycle; the other must finish it, exactly.

Throughput: all stores' records (customers + subscribers + orders + products) over the seconds
from the first cycle's start (the scheduler's first tick enqueues every store and an idle worker
takes the first at once; t = 0 for every time reported) to the last first-cycle finish. The database is a fresh one on ``--database-url``'s server, dropped afterwards.

    .venv/bin/python bench/many_stores.py --stores 50 --workers 2 [--kill-one] [--broker redis|rabbitmq] \\
        [--database-url postgresql+psycopg://postgres@127.0.0.1:5432/test] [--json out.json]

Not part of ``make test``; its numbers are in docs/benchmarks.md ("Many stores on Celery workers").
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import random
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from sqlalchemy import select  # noqa: E402

from demo.expected import actual_state, expected_state  # noqa: E402
from emulators.bigcommerce import StoreSpec  # noqa: E402
from host import create_app  # noqa: E402
from host.db import get_db  # noqa: E402
from host.models import Base, Connection, SyncRun, utcnow  # noqa: E402
from tests.sync.loopback import (  # noqa: E402
    account_seed,
    host_config,
    host_database,
    host_environment,
    install_and_connect,
    live_host,
    start_emulators_for,
)

RABBITMQ = "amqp://guest:guest@127.0.0.1:5672//"
DEFAULT_DATABASE = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
# A first sync that ended like this is not retried before the interval: waiting is pointless.
FAILED = ("failed", "partial", "stopped")


class Skipped(Exception):
    """The run cannot be made here (no broker): said, not failed."""


@dataclass
class Store:
    store_hash: str
    spec: StoreSpec
    api_user: str
    password: str
    big: bool
    connection_id: int = 0

    @property
    def books(self) -> tuple[str, str]:
        return f"{self.store_hash} customers", f"{self.store_hash} subscribers"


@dataclass
class Run:
    id: int
    trigger: str
    status: str
    phase: str | None
    started_at: datetime
    finished_at: datetime | None


@dataclass
class Checks:
    results: dict[str, tuple[bool, str]] = field(default_factory=dict)

    def add(self, name: str, ok: bool, detail: str = "") -> None:
        self.results[name] = (bool(ok), detail)

    @property
    def ok(self) -> bool:
        return all(ok for ok, _ in self.results.values())


# ------------------------------------------------------------------------------ the stores
def plan(args: argparse.Namespace) -> tuple[list[Store], list]:
    """The stores (the big one first, so it is installed and enqueued first) and the accounts."""
    rng = random.Random(args.seed)
    stores = []
    for number in range(args.stores):
        big = number == 0
        scale = args.big_factor if big else rng.uniform(0.5, 1.5)
        store_hash = f"ms{number:03d}{'big' if big else 'sml'}"
        spec = StoreSpec(
            store_hash=store_hash, name=f"Bench store {number}", seed=1000 + number,
            customers=max(1, round(args.small_customers * scale)),
            subscribers=max(1, round(args.small_subscribers * scale)),
            orders=max(1, round(args.small_orders * scale)),
            products=max(1, round(args.small_products * scale)),
        )
        stores.append(Store(store_hash, spec, f"apiuser-{store_hash}@apiconnector.com", f"pw-{store_hash}", big))
    # The last ``shared_pairs`` pairs of small stores: the second of each uses the first's account.
    for pair in range(args.shared_pairs):
        first, second = len(stores) - 2 - 2 * pair, len(stores) - 1 - 2 * pair
        if first < 1:
            break
        stores[second].api_user, stores[second].password = stores[first].api_user, stores[first].password
    accounts = []
    for api_user in dict.fromkeys(store.api_user for store in stores):
        mine = [store for store in stores if store.api_user == api_user]
        accounts.append(account_seed(api_user, mine[0].password, [book for s in mine for book in s.books]))
    return stores, accounts


def records_of(store: dict[str, Any]) -> int:
    return sum(len(store[kind]) for kind in ("customers", "subscribers", "orders", "products"))


# ------------------------------------------------------------------------------ processes
@contextmanager
def broker(args: argparse.Namespace) -> Iterator[str]:
    if args.broker_url:
        yield args.broker_url
        return
    if args.broker == "rabbitmq":
        import kombu

        try:
            with kombu.Connection(RABBITMQ, connect_timeout=2) as connection:
                connection.ensure_connection(max_retries=1)
        except Exception as error:
            raise Skipped(f"no RabbitMQ on 127.0.0.1:5672 ({error.__class__.__name__}: {error})") from None
        yield RABBITMQ
        return
    from host.testing.broker import BrokerUnavailable, redis_broker

    try:
        with redis_broker() as url:
            yield url
    except BrokerUnavailable as error:
        raise Skipped(f"no Redis broker: {error}") from None


def flask(command: list[str], environment: dict[str, str], log: Path) -> subprocess.Popen:
    with log.open("wb") as output:  # the child keeps its own descriptor
        return subprocess.Popen(
            [sys.executable, "-m", "flask", "--app", "host", *command],
            cwd=ROOT, env=environment, stdout=output, stderr=subprocess.STDOUT,
        )


def stop(process: subprocess.Popen, seconds: float = 30) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=seconds)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)


@contextmanager
def processes(started: list[subprocess.Popen]) -> Iterator[list[subprocess.Popen]]:
    try:
        yield started
    finally:
        for process in started:
            if process.poll() is None:
                process.terminate()
        for process in started:
            stop(process)


# ------------------------------------------------------------------------------ the records
def cycle_runs(app) -> dict[int, list[Run]]:
    """Connection id → its runs other than the fast lane's, in start order."""
    with app.app_context(), get_db().transaction() as session:
        rows = session.scalars(
            select(SyncRun).where(SyncRun.trigger != "fast_lane").order_by(SyncRun.started_at, SyncRun.id)
        ).all()
        found: dict[int, list[Run]] = {}
        for row in rows:
            found.setdefault(row.connection_id, []).append(
                Run(row.id, row.trigger, row.status, row.phase, row.started_at, row.finished_at)
            )
        return found


def lease_holder(app, connection_id: int) -> int | None:
    """The pid of the process holding the connection's cycle lease (owner ``host:pid:…``)."""
    with app.app_context(), get_db().transaction() as session:
        connection = session.get(Connection, connection_id)
        live = connection.lock_expires_at is not None and connection.lock_expires_at > utcnow()
        owner = connection.lock_owner if live else None
    return int(owner.split(":")[1]) if owner else None


def first_finished(runs: list[Run]) -> Run | None:
    return next((run for run in runs if run.status == "finished"), None)


def overlaps(runs: list[Run]) -> list[str]:
    """Pairs of one connection's cycle runs that overlapped (or a run never closed)."""
    found = []
    for earlier, later in zip(runs, runs[1:], strict=False):
        if earlier.finished_at is None or earlier.finished_at > later.started_at:
            found.append(f"runs {earlier.id} ({earlier.status}) and {later.id} ({later.status})")
    return found


# ------------------------------------------------------------------------------ the run
def measure(args: argparse.Namespace) -> dict[str, Any]:
    stores, accounts = plan(args)
    checks = Checks()
    summary: dict[str, Any] = {"stores": len(stores), "workers": args.workers, "kill_one": args.kill_one}
    big = stores[0]
    started_emulators = time.monotonic()
    emulators = start_emulators_for([store.spec for store in stores], accounts)
    print(f"emulators: {len(stores)} stores, {len(accounts)} accounts ({time.monotonic() - started_emulators:.1f} s)")
    with ExitStack() as stack:
        stack.callback(emulators.stop)
        broker_url = stack.enter_context(broker(args))
        folder = stack.enter_context(tempfile.TemporaryDirectory(prefix="many-stores-"))
        database_url = stack.enter_context(host_database(args.database_url, folder))
        host_url, late = stack.enter_context(live_host())
        config = host_config(emulators, host_url)
        config["HOST"].update(executor="celery", broker_url=broker_url)
        # A tick a second enqueues at once; a short lease: a dead worker's cycle is sent again
        # within seconds; a long interval: no second cycle in the measurement.
        config["SYNC"] = {"fast_lane_seconds": 1, "lock_seconds": args.lock_seconds, "interval_seconds": 3600,
                          "slice_seconds": args.slice_seconds}
        app = create_app({"INSTANCE_PATH": folder, "DATABASE": {"url": database_url}, **config})
        with app.app_context():
            Base.metadata.create_all(get_db().engine)
        late.app = app

        started_install = time.monotonic()
        for store in stores:
            store.connection_id = install_and_connect(
                app, emulators, host_url, store_hash=store.store_hash, api_user=store.api_user,
                password=store.password, books=store.books,
            )
        print(f"installed and connected {len(stores)} stores ({time.monotonic() - started_install:.1f} s)")
        by_connection = {store.connection_id: store for store in stores}

        from host.executors.celery_tasks import get_celery

        celery = get_celery(app)
        celery.control.purge()  # a shared broker (RabbitMQ) may hold an earlier run's tasks
        environment = {
            **{k: v for k, v in os.environ.items() if not k.startswith("HOST_") and k != "DATABASE_URL"},
            **host_environment(config, folder, database_url),
        }
        logs = Path(args.logs) if args.logs else Path(folder)
        logs.mkdir(parents=True, exist_ok=True)
        workers = stack.enter_context(processes([
            flask(["worker", "--pool", "solo", "--hostname", f"bench{n}-{os.getpid()}@%h", "--without-gossip",
                   "--without-mingle"], environment, logs / f"worker{n}.log")
            for n in range(args.workers)
        ]))
        foreign: set[str] = set()

        def others() -> set[str]:
            """Workers on this broker that are not this run's (a shared RabbitMQ vhost: another
            host's or a test's workers take this run's tasks, its purge drops them)."""
            names = {name for reply in celery.control.ping(timeout=0.5) for name in reply}
            return {name for name in names if not (name.startswith("bench") and f"-{os.getpid()}@" in name)}

        deadline = time.monotonic() + 60
        while len(celery.control.ping(timeout=0.5)) < args.workers:
            if time.monotonic() > deadline or any(w.poll() is not None for w in workers):
                raise RuntimeError(f"the workers did not start: see {logs}/worker*.log")
            time.sleep(0.2)
        print(f"{args.workers} worker(s) ready: pids {[w.pid for w in workers]}")
        foreign |= others()

        scheduler_start = utcnow()
        clock = time.monotonic()
        scheduler = flask(["scheduler"], environment, logs / "scheduler.log")
        stack.enter_context(processes([scheduler]))
        killed: dict[str, Any] = {}
        holders_after_kill: set[int] = set()
        finished: dict[int, Run] = {}
        failed: dict[int, Run] = {}
        last_report = 0.0
        while True:
            runs = cycle_runs(app)
            finished = {cid: run for cid, rs in runs.items() if (run := first_finished(rs))}
            failed = {cid: rs[-1] for cid, rs in runs.items() if cid not in finished and rs and rs[-1].status in FAILED}
            if args.kill_one:
                big_runs = runs.get(big.connection_id, [])
                if not killed and big.connection_id not in finished:
                    running = [run for run in big_runs if run.status == "running"]
                    mid = running and (
                        (running[-1].phase or "").startswith(args.kill_phase)
                        or (utcnow() - running[-1].started_at).total_seconds() > args.kill_after
                    )
                    holder = lease_holder(app, big.connection_id) if mid else None
                    victim = next((w for w in workers if w.pid == holder), None)
                    if victim is not None:
                        phase = running[-1].phase
                        victim.send_signal(signal.SIGKILL)
                        victim.wait(timeout=10)
                        killed = {"pid": victim.pid, "phase": phase, "at": round(time.monotonic() - clock, 2),
                                  "run": running[-1].id}
                        print(f"SIGKILLed worker {victim.pid} holding {big.store_hash}'s lease, "
                              f"phase {phase!r}, at {killed['at']} s")
                elif killed and big.connection_id not in finished:
                    holder = lease_holder(app, big.connection_id)
                    if holder is not None and holder != killed["pid"]:  # the dead one's lease runs out first
                        holders_after_kill.add(holder)
            if len(finished) + len(failed) >= len(stores):
                break
            if time.monotonic() - clock > args.timeout:
                print(f"timed out after {args.timeout} s", file=sys.stderr)
                break
            if time.monotonic() - last_report > 10:
                last_report = time.monotonic()
                foreign |= others()
                print(f"  {time.monotonic() - clock:6.1f} s: {len(finished)}/{len(stores)} first syncs finished"
                      + (f", {len(failed)} failed" if failed else ""))
            time.sleep(0.25)
        wall_end = max((run.finished_at for run in finished.values()), default=utcnow())
        stop(scheduler)
        for worker in workers:
            stop(worker)
        runs = cycle_runs(app)
        # t = 0: the first cycle's start. The scheduler's first tick enqueues every store; the
        # idle workers take the first task at once (the scheduler process's own start-up before
        # that tick is not the executor's work: reported apart).
        t0 = min((rs[0].started_at for rs in runs.values() if rs), default=scheduler_start)
        dead = [w.pid for w in workers if w.returncode not in (0, None, -signal.SIGKILL) and w.pid != killed.get("pid")]
        if dead:
            print(f"workers {dead} exited abnormally: see {logs}/worker*.log", file=sys.stderr)

        # --------------------------------------------------------------- exact state
        bigcommerce = {s["store_hash"]: s for s in emulators.bigcommerce_state()["stores"]}
        engagement_cloud = {a["api_user"]: a for a in emulators.engagement_cloud_state()["accounts"]}
        records = {store.store_hash: records_of(bigcommerce[store.store_hash]) for store in stores}
        sharing: dict[str, list[Store]] = {}
        for store in stores:
            sharing.setdefault(store.api_user, []).append(store)
        wrong: list[str] = []
        for api_user, mine in sharing.items():
            account = engagement_cloud[api_user]
            wanted_insight: dict[str, set[str]] = {"orders": set(), "products": set()}
            held = None
            for store in mine:
                expected = expected_state(bigcommerce[store.store_hash])
                held = actual_state(account, *store.books)
                for part in ("customers_book", "subscribers_book"):
                    missing, extra = expected[part] - held[part], held[part] - expected[part]
                    if missing or extra:
                        wrong.append(f"{store.store_hash} {part}: {len(missing)} missing {sorted(missing)[:3]}, "
                                     f"{len(extra)} extra {sorted(extra)[:3]}")
                unconsented = [e for e in expected["subscribers_book"]
                               if e in held["contacts"] and not (held["contacts"][e].get("consentRecords") or [{}])[0].get("text")]
                if unconsented:
                    wrong.append(f"{store.store_hash}: {len(unconsented)} subscribers without a consent record")
                for part in wanted_insight:
                    wanted_insight[part] |= expected[part]
            label = "+".join(store.store_hash for store in mine)
            for part, wanted in wanted_insight.items():
                missing, extra = wanted - held[part], held[part] - wanted
                if missing or extra:
                    wrong.append(f"{label} {part}: {len(missing)} missing {sorted(missing)[:3]}, "
                                 f"{len(extra)} extra {sorted(extra)[:3]}")
            if held["duplicate_contacts"] or held["duplicate_orders"]:
                wrong.append(f"{label}: duplicates {dict(list(held['duplicate_contacts'].items())[:3])} "
                             f"{dict(list(held['duplicate_orders'].items())[:3])}")
            if held["enrolments"]:
                wrong.append(f"{label}: {len(held['enrolments'])} enrolments after a backfill")
        not_finished = [store.store_hash for store in stores if store.connection_id not in finished]
        checks.add("every store's first sync finished", not not_finished,
                   f"{len(stores) - len(not_finished)}/{len(stores)}"
                   + (f"; not: {not_finished[:8]}" if not_finished else "")
                   + "".join(f"; {by_connection[cid].store_hash} {run.status}: {json.dumps(_errors(app, run.id))[:300]}"
                             for cid, run in list(failed.items())[:3]))
        checks.add("exact state in every store's books and account", not wrong and not not_finished,
                   "; ".join(wrong[:6]) or f"{len(stores)} stores, {len(sharing)} accounts "
                   f"({sum(len(m) > 1 for m in sharing.values())} shared by two stores)")

        checks.add("this run's workers were the broker's only ones", not foreign,
                   f"also answering: {sorted(foreign)} (their tasks and purges mix with this run's: "
                   "give the run a broker or vhost of its own)" if foreign else "")

        # --------------------------------------------------------------- overlapping runs
        overlapped = {by_connection[cid].store_hash: o for cid, rs in runs.items() if (o := overlaps(rs))}
        checks.add("no connection ever ran two cycles at once", not overlapped,
                   json.dumps(overlapped)[:400] if overlapped else
                   f"{sum(len(rs) for rs in runs.values())} cycle runs checked")

        # --------------------------------------------------------------- fairness
        def seconds(moment: datetime | None) -> float | None:
            return round((moment - t0).total_seconds(), 2) if moment else None

        small_done = sorted(seconds(run.finished_at) for cid, run in finished.items() if not by_connection[cid].big)
        big_runs = runs.get(big.connection_id, [])
        big_start = seconds(big_runs[0].started_at) if big_runs else None
        big_finish = seconds(finished[big.connection_id].finished_at) if big.connection_id in finished else None
        during = [s for s in small_done if big_start is not None and s >= big_start and (big_finish is None or s <= big_finish)]
        fairness = {
            "small_stores": len(stores) - 1,
            "small_finished": len(small_done),
            "small_median_finish_s": round(statistics.median(small_done), 2) if small_done else None,
            "small_max_finish_s": small_done[-1] if small_done else None,
            "big_start_s": big_start,
            "big_finish_s": big_finish,
            "small_finished_before_big_started": sum(1 for s in small_done if big_start is not None and s < big_start),
            "small_finished_while_big_ran": len(during),
            "small_finished_after_big": sum(1 for s in small_done if big_finish is not None and s > big_finish),
            "all_small_before_big": bool(small_done) and big_finish is not None
            and len(small_done) == len(stores) - 1 and small_done[-1] <= big_finish,
        }
        summary["fairness"] = fairness
        checks.add("small stores finished their first sync while the big one ran", len(during) > 0,
                   f"{len(during)} of {len(stores) - 1} finished between the big store's start "
                   f"({big_start} s) and finish ({big_finish} s)")

        # --------------------------------------------------------------- the kill
        if args.kill_one:
            statuses = [run.status for run in big_runs]
            survivors = {w.pid for w in workers if w.pid != killed.get("pid")}
            checks.add(
                "the killed worker's store finished on another worker, exactly",
                bool(killed) and big.connection_id in finished and not wrong
                and bool(holders_after_kill) and holders_after_kill <= survivors and "interrupted" in statuses,
                f"killed pid {killed.get('pid')} in phase {killed.get('phase')!r} at {killed.get('at')} s; "
                f"big store's runs {statuses}; its lease then taken by {sorted(holders_after_kill)} "
                f"(surviving workers {sorted(survivors)})"
                if killed else "no worker was killed (the big store's cycle was never seen mid-cycle)",
            )
            summary["kill"] = {**killed, "big_runs": statuses, "holders_after_kill": sorted(holders_after_kill)}
        summary["big_store_runs"] = [
            {"status": run.status, "started_s": seconds(run.started_at), "finished_s": seconds(run.finished_at)}
            for run in big_runs
        ]

        # --------------------------------------------------------------- throughput
        total = sum(records.values())
        wall = (wall_end - t0).total_seconds()
        summary.update(
            records=total,
            big_records=records[big.store_hash],
            small_records_median=statistics.median(r for h, r in records.items() if h != big.store_hash)
            if len(stores) > 1 else None,
            wall_seconds=round(wall, 2),
            records_per_second=round(total / wall, 1) if wall > 0 else None,
            scheduler_startup_s=round((t0 - scheduler_start).total_seconds(), 2),
            cycle_runs=sum(len(rs) for rs in runs.values()),
            run_statuses=_count(run.status for rs in runs.values() for run in rs),
            broker=args.broker if not args.broker_url else args.broker_url.split(":")[0],
            database=database_url.split("://")[0].split("+")[0],
            logs=str(logs) if args.logs else None,
        )
        if not checks.ok and not args.logs:
            for log in sorted(Path(folder).glob("*.log")):
                tail = log.read_text(errors="replace")[-2500:]
                print(f"---- {log.name} (last lines)\n{tail}", file=sys.stderr)
        summary["checks"] = {name: {"ok": ok, "detail": detail} for name, (ok, detail) in checks.results.items()}
        summary["ok"] = checks.ok
        celery.control.purge()
    return summary


def _errors(app, run_id: int) -> dict:
    with app.app_context(), get_db().transaction() as session:
        return session.get(SyncRun, run_id).errors or {}


def _count(values) -> dict[str, int]:
    counted: dict[str, int] = {}
    for value in values:
        counted[value] = counted.get(value, 0) + 1
    return counted


def report(summary: dict[str, Any], args: argparse.Namespace) -> None:
    fair = summary["fairness"]
    print()
    print(f"stores {summary['stores']} (big: {summary['big_records']} records, small median "
          f"{summary['small_records_median']}), {summary['records']} records; workers {summary['workers']}; "
          f"broker {summary['broker']}; database {summary['database']}")
    print(f"wall {summary['wall_seconds']} s from the first cycle's start (t = 0; the scheduler process took "
          f"{summary['scheduler_startup_s']} s to start and enqueue) to the last first sync: "
          f"{summary['records_per_second']} records/s")
    print(f"small stores: median finish {fair['small_median_finish_s']} s, max {fair['small_max_finish_s']} s; "
          f"big store: start {fair['big_start_s']} s, finish {fair['big_finish_s']} s; small finished before "
          f"it started {fair['small_finished_before_big_started']}, while it ran "
          f"{fair['small_finished_while_big_ran']}, after {fair['small_finished_after_big']}; "
          f"all small before big: {'yes' if fair['all_small_before_big'] else 'no'}")
    print(f"cycle runs: {summary['cycle_runs']} {summary['run_statuses']}; the big store's: "
          + ", ".join(f"{r['status']} {r['started_s']}–{r['finished_s']} s" for r in summary["big_store_runs"]))
    for name, result in summary["checks"].items():
        print(f"  [{'ok' if result['ok'] else 'FAILED'}] {name}: {result['detail']}")
    print("ALL CHECKS PASSED" if summary["ok"] else "SOME CHECKS FAILED")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--stores", type=int, default=50)
    parser.add_argument("--small-customers", type=int, default=60)
    parser.add_argument("--small-subscribers", type=int, default=20)
    parser.add_argument("--small-orders", type=int, default=80)
    parser.add_argument("--small-products", type=int, default=10)
    parser.add_argument("--big-factor", type=float, default=20, help="the big store's size over the base small size")
    parser.add_argument("--shared-pairs", type=int, default=1, help="pairs of small stores sharing one account")
    parser.add_argument("--seed", type=int, default=18, help="for the small stores' sizes")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--broker", choices=("redis", "rabbitmq"), default="redis",
                        help="redis: a throwaway redis-server (else 127.0.0.1:6379/15); rabbitmq: " + RABBITMQ)
    parser.add_argument("--broker-url", default=None, help="this broker instead")
    parser.add_argument("--database-url", default=DEFAULT_DATABASE,
                        help="a PostgreSQL server (a fresh database is made and dropped); '' for SQLite")
    parser.add_argument("--kill-one", action="store_true",
                        help="SIGKILL the worker holding the big store's cycle lease mid-cycle")
    parser.add_argument("--kill-phase", default="reading orders", help="the big store's phase to kill in")
    parser.add_argument("--kill-after", type=float, default=8.0,
                        help="or kill once its cycle has run this many seconds (phases may change)")
    parser.add_argument("--slice-seconds", type=float, default=2,
                        help="[sync] slice_seconds: a task's share of a cycle (60 in production, where a "
                             "big store's backfill takes hours; scaled down with the stores; 0: whole cycles)")
    parser.add_argument("--lock-seconds", type=float, default=10, help="[sync] lock_seconds (the lease)")
    parser.add_argument("--timeout", type=float, default=900, help="seconds to wait for every first sync")
    parser.add_argument("--logs", default=None, help="keep the worker and scheduler logs in this folder")
    parser.add_argument("--json", default=None, help="write the summary here")
    args = parser.parse_args()
    args.database_url = args.database_url or None
    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # the emulators' and host's request lines
    try:
        summary = measure(args)
    except Skipped as why:
        print(f"SKIPPED: {why}")
        return 0
    report(summary, args)
    if args.json:
        Path(args.json).write_text(json.dumps({"arguments": vars(args), **summary}, indent=2, default=str))
    return 0 if summary["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
