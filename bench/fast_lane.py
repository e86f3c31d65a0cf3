"""Webhook to contact: how long from a change in the store until Engagement Cloud shows it.

Both emulators run in this process, with a live host (the webhook receiver) on loopback; the
scheduler runs as production runs it, ``flask --app host scheduler`` in its own process, so
the fast lane finds the events by its look at the inbox (``[sync] fast_lane_poll_seconds``).
Each of ``--changes`` store changes renames one customer (a new last name) through the
BigCommerce emulator's control endpoint, which fires the webhook to the host; the time runs
from just before that request until ``GET /contacts/v3/email/...`` at the Engagement Cloud
emulator answers the new last name (polled every 20 ms). One change at a time, a random pause of
0.3–5.3 s between them (so the changes fall at any moment of a 5-second tick too).

Two cases:

- idle: a store of ``--idle-customers`` whose first cycle finished; nothing else runs;
- backfill: a store of ``--customers`` (100,000) just connected: its first cycle (the
  backfill) starts, and the changes are made while it runs (the fast lane runs beside it).

    .venv/bin/python bench/fast_lane.py [--customers 100000] [--changes 50] [--case idle|backfill|both]
        [--database postgresql+psycopg://postgres@127.0.0.1:5432/test] [--host-root DIR] [--no-write]

``--host-root`` runs the scheduler from another checkout (e.g. an export of an older commit,
to measure the fast lane before a change). Results go to the "fast-lane" section of
docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import os
import platform
import random
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.report import write_section  # noqa: E402
from host import create_app  # noqa: E402
from host.db import get_db  # noqa: E402
from host.models import Base  # noqa: E402
from tests.sync.loopback import (  # noqa: E402
    API_PASSWORD,
    API_USER,
    STORE_HASH,
    StoreSize,
    host_config,
    host_database,
    host_environment,
    install_and_connect,
    live_host,
    start_emulators,
)

VISIBLE_TIMEOUT = 300.0  # a change not visible after this long counts as this long (and is reported)


def flask(environment: dict[str, str], root: Path, *args: str, log: Path | None = None, wait: bool = True):
    command = [sys.executable, "-m", "flask", "--app", "host", *args]
    out = open(log, "ab") if log else subprocess.DEVNULL  # noqa: SIM115
    env = {**environment, "PYTHONPATH": str(root)}
    if wait:
        return subprocess.run(command, cwd=root, env=env, stdout=out, stderr=subprocess.STDOUT)
    return subprocess.Popen(command, cwd=root, env=env, stdout=out, stderr=subprocess.STDOUT)


def contact_last_name(ec_url: str, email: str, session: requests.Session) -> str | None:
    response = session.get(f"{ec_url}/contacts/v3/email/{email}", timeout=10)
    if response.status_code == 404:
        return None
    response.raise_for_status()
    fields = response.json().get("dataFields") or {}
    return fields.get("LASTNAME")


def cycle_state(app) -> tuple[str | None, str | None, dict]:
    """(status, phase, counts) of the latest cycle (not fast-lane run)."""
    from sqlalchemy import select

    from host.models import SyncRun

    with app.app_context(), get_db().transaction() as session:
        run = session.scalars(
            select(SyncRun).where(SyncRun.trigger != "fast_lane").order_by(SyncRun.id.desc()).limit(1)
        ).first()
        if run is None:
            return None, None, {}
        return run.status, run.phase, dict(run.counts or {})


def fast_lane_runs(app) -> int:
    from sqlalchemy import func, select

    from host.models import SyncRun

    with app.app_context(), get_db().transaction() as session:
        return session.scalar(select(func.count(SyncRun.id)).where(SyncRun.trigger == "fast_lane")) or 0


def make_changes(emulators, ec_url: str, customer_ids: list[int], rng: random.Random, during=None) -> dict:
    """Rename each customer once; answer the latencies and whether ``during()`` held at each."""
    http = requests.Session()
    http.auth = (API_USER, API_PASSWORD)
    latencies, late, held, finals = [], 0, [], {}
    for number, cid in enumerate(customer_ids, 1):
        value = f"Fast{number}-{rng.randrange(10**6)}"
        started = time.perf_counter()
        email = emulators.update("customers", cid, last_name=value)["email"].lower()
        deadline = started + VISIBLE_TIMEOUT
        while True:
            if contact_last_name(ec_url, email, http) == value:
                latencies.append(time.perf_counter() - started)
                break
            if time.perf_counter() > deadline:
                latencies.append(VISIBLE_TIMEOUT)
                late += 1
                break
            time.sleep(0.02)
        finals[email] = value
        phase = ""
        if during is not None:
            running, phase = during()
            held.append(running)
        print(f"  change {number:>3}: {latencies[-1] * 1000:7.0f} ms  {phase or ''}", flush=True)
        time.sleep(rng.uniform(0.3, 5.3))  # any moment of a 5 s tick, too
    return {"latencies": latencies, "late": late, "during": held, "finals": finals, "http": http}


def summary(latencies: list[float]) -> dict:
    ordered = sorted(latencies)
    return {
        "median": statistics.median(ordered),
        "p95": ordered[min(len(ordered) - 1, int(round(0.95 * len(ordered))) - 1)],
        "max": ordered[-1],
    }


def run_case(case: str, customers: int, changes: int, database: str | None, host_root: Path, seed: int) -> dict:
    size = StoreSize(customers=customers, subscribers=max(1, customers // 10), orders=0 if case == "backfill" else customers * 2, products=0 if case == "backfill" else 50)
    print(f"{case}: generating a store of {customers:,} customers ...", flush=True)
    emulators = start_emulators(size)
    rng = random.Random(seed)
    try:
        with tempfile.TemporaryDirectory() as folder, host_database(database, folder) as database_url, \
                live_host() as (host_url, late):
            config = host_config(emulators, host_url)
            config["PLUGINS"]["engagement_cloud"].update(poll_interval=0.1, poll_max_interval=1.0)
            config["SYNC"] = {"interval_seconds": 3600, "fast_lane_poll_seconds": 0.2}
            app = create_app({"INSTANCE_PATH": folder, "DATABASE": {"url": database_url}, **config})
            with app.app_context():
                Base.metadata.create_all(get_db().engine)
            late.app = app
            install_and_connect(app, emulators, host_url)
            environment = {
                **{k: v for k, v in os.environ.items() if not k.startswith("HOST_") and k != "DATABASE_URL"},
                **host_environment(config, folder, database_url),
            }
            log = Path(folder) / "scheduler.log"
            ec_url = emulators.engagement_cloud.url + "/r1"
            if case == "idle":
                started = time.perf_counter()
                done = flask(environment, host_root, "sync", STORE_HASH, log=log)
                print(f"  first cycle: {time.perf_counter() - started:.1f} s (exit {done.returncode})", flush=True)
            scheduler = flask(environment, host_root, "scheduler", log=log, wait=False)
            backfill_started = time.perf_counter()
            try:
                during = None
                if case == "backfill":
                    deadline = time.monotonic() + 120
                    while cycle_state(app)[0] != "running":
                        if time.monotonic() > deadline:
                            raise RuntimeError("the backfill did not start: " + log.read_text()[-2000:])
                        time.sleep(0.2)
                    print(f"  backfill running after {time.perf_counter() - backfill_started:.1f} s", flush=True)

                    def during():
                        status, phase, _ = cycle_state(app)
                        return status == "running", f"(backfill {status}: {phase})"
                else:
                    time.sleep(6)  # the scheduler's first tick has passed
                ids = rng.sample(range(1, customers + 1), changes)
                result = make_changes(emulators, ec_url, ids, rng, during)
                result["phase_at_end"] = cycle_state(app)[1]
                if case == "backfill":
                    status, phase, counts = cycle_state(app)
                    print(f"  changes done; backfill {status} ({phase}); waiting for it to finish ...", flush=True)
                    while cycle_state(app)[0] == "running":
                        time.sleep(2)
                    result["backfill_seconds"] = time.perf_counter() - backfill_started
                    result["backfill_status"] = cycle_state(app)[0]
                    print(f"  backfill {result['backfill_status']} after {result['backfill_seconds']:.0f} s", flush=True)
                    time.sleep(3)  # a fast-lane run still under way
                # every changed contact ends with its last value, once
                http = result.pop("http")
                wrong = {email: (value, contact_last_name(ec_url, email, http))
                         for email, value in result["finals"].items()}
                wrong = {email: pair for email, pair in wrong.items() if pair[0] != pair[1]}
                result["final_ok"] = not wrong
                if wrong:
                    print(f"  NOT the last value at the end: {wrong}", file=sys.stderr)
                    print(log.read_text()[-5000:], file=sys.stderr)
                result["fast_lane_runs"] = fast_lane_runs(app)
            finally:
                scheduler.terminate()
                scheduler.wait(timeout=30)
            if result["late"]:
                print(log.read_text()[-3000:], file=sys.stderr)
            kept = Path(tempfile.gettempdir()) / f"fast-lane-bench-{case}-scheduler.log"
            kept.write_bytes(log.read_bytes())  # kept for a look afterwards
            print(f"  scheduler log: {kept}", flush=True)
    finally:
        emulators.stop()
    result.update(case=case, customers=customers, size=size, **summary(result["latencies"]))
    return result


def report(results: list[dict], args: argparse.Namespace) -> str:
    engine = "PostgreSQL (local server)" if args.database else "SQLite"
    command = "`.venv/bin/python bench/fast_lane.py" + (f" --customers {args.customers}" if args.customers != 100_000 else "") + \
        (" --database URL" if args.database else "") + "`"
    lines = [
        "## Fast lane: webhook to contact",
        "",
        f"{command}: both emulators and the webhook receiver in the benchmark's process, "
        f"`flask --app host scheduler` in its own process (the fast lane looks at the inbox every 0.2 s), "
        f"host on {engine}; Python {platform.python_version()}, {platform.machine()}, "
        f"{os.cpu_count()} CPUs, {date.today().isoformat()}. Each change renames one customer through the "
        f"BigCommerce emulator's control endpoint (its webhook fires to the host); the time runs until "
        f"Engagement Cloud's `GET /contacts/v3/email/…` answers the new last name (polled every 20 ms).",
        "",
        "| case | store | changes | median | p95 | max | not visible in 300 s | all end with their last value |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for r in results:
        if r["case"] == "idle":
            case = "idle (first cycle done, nothing else running)"
        else:
            share = sum(r["during"]) if r["during"] else 0
            case = (f"during the backfill (first cycle) — {share} of {len(r['latencies'])} changes made and "
                    f"visible while it ran; it took {r['backfill_seconds']:.0f} s ({r['backfill_status']})")
        lines.append(
            f"| {case} | {r['customers']:,} customers | {len(r['latencies'])} | {r['median'] * 1000:.0f} ms | "
            f"{r['p95'] * 1000:.0f} ms | {r['max'] * 1000:.0f} ms | {r['late']} | {'yes' if r['final_ok'] else 'NO'} |"
        )
    return "\n".join(lines)


def main() -> None:
    import logging

    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # one line per request otherwise
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=100_000, help="the backfill store's customers")
    parser.add_argument("--idle-customers", type=int, default=1000)
    parser.add_argument("--changes", type=int, default=50)
    parser.add_argument("--case", choices=("idle", "backfill", "both"), default="both")
    parser.add_argument("--database", default=None, help="a PostgreSQL server URL (default: SQLite)")
    parser.add_argument("--host-root", type=Path, default=ROOT, help="run the scheduler from this checkout")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--no-write", action="store_true")
    parser.add_argument("--extra", default="", help="a line added under the table (e.g. the figures before a change)")
    args = parser.parse_args()
    results = []
    if args.case in ("idle", "both"):
        results.append(run_case("idle", args.idle_customers, args.changes, args.database, args.host_root, args.seed))
    if args.case in ("backfill", "both"):
        results.append(run_case("backfill", args.customers, args.changes, args.database, args.host_root, args.seed))
    text = report(results, args) + (f"\n\n{args.extra}" if args.extra else "")
    print(text)
    if not args.no_write:
        write_section("fast-lane", text)


if __name__ == "__main__":
    main()
