"""Benchmark the whole sync cycle over loopback, against both emulators, with its targets.

For each store size (by records: 33k = 10,000 customers, 2,000 subscribers, 20,000 orders and
1,000 products; 165k and 330k are five and ten times that) this starts both emulators in this
process and then, in the same run:

1. the floor (``bench/floor.py``): every page fetched and every import sent by a client with no
   host logic — what any client must spend; it also gives each API's minimum calls;
2. the host's backfill: ``flask --app host sync STORE_HASH`` in a subprocess, on SQLite or on
   the PostgreSQL server given by ``--database`` (a fresh database, dropped afterwards), then a
   check that Engagement Cloud holds exactly what the store says;
3. a cycle with nothing changed.

It prints the table of the issue #13 targets with each measured value and its ratio to the
target, and writes it to the "Sync end to end" section of docs/benchmarks.md (``--database``
runs write their own section). ``--throttled`` adds a backfill at the Standard plan's rate limit
(150 requests / 30 s) on the smallest size: its wall against the bound (BigCommerce calls ÷ 5
per second). ``--profile DIR`` samples the backfill's process with py-spy (``pip install
py-spy``; 100 a second, every thread) into ``DIR/<size>.txt`` (collapsed stacks, for a flame
graph) and prints where its time went, by function (``bench/profile_summary.py``).

    .venv/bin/python bench/sync_end_to_end.py [--sizes 33k,165k,330k] [--database postgresql+psycopg://postgres@127.0.0.1:5432/test] [--throttled] [--no-write] [--profile DIR]
"""

from __future__ import annotations

import argparse
import os
import platform
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.floor import Floor, measure_floor  # noqa: E402
from bench.profile_summary import summarize  # noqa: E402
from bench.report import write_section  # noqa: E402
from host import create_app  # noqa: E402
from host.db import get_db  # noqa: E402
from host.models import Base  # noqa: E402
from host.plugins import get_plugins  # noqa: E402
from tests.sync.loopback import (  # noqa: E402
    STORE_HASH,
    StoreSize,
    actual_state,
    expected_state,
    host_config,
    host_database,
    host_environment,
    install_and_connect,
    live_host,
    start_emulators,
)

SIZES = {
    "33k": StoreSize(10_000, 2_000, 20_000, 1_000),
    "165k": StoreSize(50_000, 10_000, 100_000, 5_000),
    "330k": StoreSize(100_000, 20_000, 200_000, 10_000),
}
TARGET_RATE = 2000  # records a second, end to end
STANDARD_PLAN = (150, 30)  # requests per window of seconds
BC_TOKEN = "bc-emulator-token"  # the emulator's API-account token (emulators.bigcommerce.app)


def records_of(size: StoreSize) -> int:
    return size.customers + size.subscribers + size.orders + size.products


# ``flask --app host sync`` that reports its own peak memory on exit. VmHWM belongs to the
# process image, so unlike ru_maxrss it does not inherit the benchmark's memory across exec.
SYNC_WITH_PEAK = """
import atexit, sys
def report_peak():
    for line in open("/proc/self/status"):
        if line.startswith("VmHWM:"):
            sys.stderr.write("\\nPEAK_KB " + line.split()[1] + "\\n")
atexit.register(report_peak)
from flask.cli import main
sys.argv = ["flask", "--app", "host", "sync", sys.argv[1]]
main()
"""


def run_sync(
    environment: dict[str, str], store_hash: str = STORE_HASH, profile: Path | None = None
) -> tuple[float, float, int]:
    """Run one cycle in a subprocess: (seconds, peak memory in MB, exit code); under py-spy
    when ``profile`` names the file for its collapsed stacks."""
    command = [sys.executable, "-c", SYNC_WITH_PEAK, store_hash]
    if profile is not None:
        command = ["py-spy", "record", "--rate", "100", "--format", "raw", "--output", str(profile), "--", *command]
    started = time.perf_counter()
    process = subprocess.run(
        command,
        cwd=ROOT, env=environment, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
    )
    seconds = time.perf_counter() - started
    peaks = [line.split()[1] for line in process.stderr.splitlines() if line.startswith("PEAK_KB ")]
    if process.returncode != 0 and store_hash == STORE_HASH:
        print(process.stderr[-3000:], file=sys.stderr)
    return seconds, int(peaks[-1]) / 1024 if peaks else float("nan"), process.returncode


def total(counts: dict[str, int], methods: tuple[str, ...] = ("",)) -> int:
    return sum(n for call, n in counts.items() if call.startswith(methods))


@dataclass
class Measure:
    label: str
    size: StoreSize
    floor: Floor | None
    backfill: tuple[float, float, int]  # seconds, peak MB, exit code
    unchanged: tuple[float, float, int]
    bc_calls: tuple[int, int]  # backfill, unchanged cycle
    ec_calls: tuple[int, int]
    ec_writes: tuple[int, int]
    exact: bool
    streams: int
    idle_peak: float
    throttled: bool = False
    unchanged_cycle: float = float("nan")  # the cycle's own seconds, without process start-up

    @property
    def records(self) -> int:
        return records_of(self.size)

    @property
    def rate(self) -> float:
        return self.records / self.backfill[0]


def measure(
    label: str, size: StoreSize, database: str | None, *, throttled: bool = False, profile: Path | None = None
) -> Measure:
    emulators = start_emulators(size)
    bc, ec = emulators.bigcommerce.url, emulators.engagement_cloud.url
    try:
        floor = None if throttled else measure_floor(bc, ec, STORE_HASH, BC_TOKEN)
        with tempfile.TemporaryDirectory() as folder, host_database(database, folder) as database_url, \
                live_host() as (host_url, late):
            config = host_config(emulators, host_url)
            config["PLUGINS"]["engagement_cloud"].update(poll_interval=0.1, poll_max_interval=1.0)
            app = create_app({"INSTANCE_PATH": folder, "DATABASE": {"url": database_url}, **config})
            with app.app_context():
                Base.metadata.create_all(get_db().engine)
                streams = len(get_plugins().source("bigcommerce").streams())
            late.app = app
            install_and_connect(app, emulators, host_url)
            environment = {
                **{k: v for k, v in os.environ.items() if not k.startswith("HOST_") and k != "DATABASE_URL"},
                **host_environment(config, folder, database_url),
            }
            if throttled:
                quota, window = STANDARD_PLAN
                requests.post(f"{bc}/_emulator/rate-limit",
                              json={"enabled": True, "quota": quota, "window_ms": window * 1000},
                              timeout=30).raise_for_status()
            bc_before, ec_before = _requests(bc), _requests(ec)
            backfill = run_sync(environment, profile=profile)
            bc_after, ec_after = _requests(bc), _requests(ec)
            expected, actual = expected_state(emulators.store()), actual_state(emulators.account())
            exact = all(expected[part] == actual[part] for part in expected) and not (
                actual["duplicate_contacts"] or actual["duplicate_orders"] or actual["enrolments"]
            )
            unchanged = run_sync(environment)
            unchanged_cycle = _last_cycle_seconds(app)
            bc_last, ec_last = _requests(bc), _requests(ec)
            idle_peak = run_sync(environment, "no-such-store")[1]
    finally:
        emulators.stop()
    writes = ("PUT ", "POST ", "PATCH ", "DELETE ")
    return Measure(
        label=label, size=size, floor=floor, backfill=backfill, unchanged=unchanged,
        bc_calls=(total(bc_after) - total(bc_before), total(bc_last) - total(bc_after)),
        ec_calls=(total(ec_after) - total(ec_before), total(ec_last) - total(ec_after)),
        ec_writes=(total(ec_after, writes) - total(ec_before, writes),
                   total(ec_last, writes) - total(ec_after, writes)),
        exact=exact, streams=streams, idle_peak=idle_peak, throttled=throttled,
        unchanged_cycle=unchanged_cycle,
    )


def _last_cycle_seconds(app) -> float:
    """The latest cycle's own time, from its run record (the process also starts Python and
    loads the app and the plugins: about a second on this machine)."""
    from sqlalchemy import select

    from host.models import SyncRun

    with app.app_context(), get_db().transaction() as session:
        run = session.scalars(select(SyncRun).order_by(SyncRun.id.desc()).limit(1)).first()
        return (run.finished_at - run.started_at).total_seconds() if run and run.finished_at else float("nan")


def _requests(url: str) -> dict[str, int]:
    return requests.get(f"{url}/_emulator/state", params={"summary": 1}, timeout=300).json()["requests"]


def _met(value: float, target: float, *, higher_is_better: bool = False) -> str:
    return "✓" if (value >= target if higher_is_better else value <= target) else "✗"


def report(results: list[Measure], database: str | None) -> str:
    engine = "PostgreSQL 15 (local server)" if database else "SQLite"
    plain = [r for r in results if not r.throttled]
    lines = [
        f"## Sync end to end ({engine})",
        "",
        f"`bench/sync_end_to_end.py{' --database …' if database else ''}`: both emulators in the "
        f"benchmark's process on loopback, the host's `flask --app host sync` in a subprocess, host on "
        f"{engine}; Python {platform.python_version()}, {platform.machine()}, 2 CPUs, {date.today().isoformat()}. "
        "✓ target met, ✗ missed.",
        "",
        "| target | " + " | ".join(f"{r.label} records" for r in plain) + " |",
        "|---|" + "---|" * len(plain),
    ]

    def row(name: str, cells: list[str]) -> None:
        lines.append(f"| {name} | " + " | ".join(cells) + " |")

    row("store (customers / subscribers / orders / products)",
        [f"{r.size.customers:,} / {r.size.subscribers:,} / {r.size.orders:,} / {r.size.products:,}" for r in plain])
    row("backfill: records a second (≥ 2,000)",
        [f"{r.rate:,.0f} in {r.backfill[0]:.1f} s ({r.rate / TARGET_RATE:.2f}× the target) "
         f"{_met(r.rate, TARGET_RATE, higher_is_better=True)}" for r in plain])
    row("floor: the same pages and imports with no host logic",
        [f"{r.records / r.floor.seconds:,.0f} rec/s in {r.floor.seconds:.1f} s" if r.floor else "–" for r in plain])
    row("host's own overhead, share of the wall",
        [f"{max(0.0, 1 - r.floor.seconds / r.backfill[0]):.0%}" if r.floor else "–" for r in plain])
    row("BigCommerce calls ÷ minimum (≤ 1.05)",
        [f"{r.bc_calls[0]:,} ÷ {r.floor.bc_minimum:,} = {r.bc_calls[0] / r.floor.bc_minimum:.2f} "
         f"{_met(r.bc_calls[0] / r.floor.bc_minimum, 1.05)}" if r.floor else "–" for r in plain])
    row("Engagement Cloud calls ÷ minimum (≤ 1.05)",
        [f"{r.ec_calls[0]:,} ({r.ec_writes[0]:,} writes) ÷ {r.floor.ec_minimum:,} = "
         f"{r.ec_calls[0] / r.floor.ec_minimum:.2f} {_met(r.ec_calls[0] / r.floor.ec_minimum, 1.05)}"
         if r.floor else "–" for r in plain])
    row("unchanged cycle: calls per stream (≤ 1)",
        [f"{r.bc_calls[1]} BC + {r.ec_calls[1]} EC for {r.streams} streams = "
         f"{(r.bc_calls[1] + r.ec_calls[1]) / r.streams:.2f} {_met((r.bc_calls[1] + r.ec_calls[1]) / r.streams, 1)}"
         for r in plain])
    row("unchanged cycle: seconds (< 1 s; the whole process in brackets)",
        [f"{r.unchanged_cycle:.2f} s ({r.unchanged[0]:.1f} s) {_met(r.unchanged_cycle, 1)}" for r in plain])
    row("its Engagement Cloud writes (0)", [str(r.ec_writes[1]) for r in plain])
    row("peak memory of the sync process (idle process)",
        [f"{r.backfill[1]:.0f} MB ({r.idle_peak:.0f} MB)" for r in plain])
    row("Engagement Cloud holds exactly the store", ["yes" if r.exact else "**NO**" for r in plain])
    for r in results:
        if r.throttled:
            bound = r.bc_calls[0] / (STANDARD_PLAN[0] / STANDARD_PLAN[1])
            lines += [
                "",
                f"Throttled at the Standard plan ({STANDARD_PLAN[0]} requests / {STANDARD_PLAN[1]} s), "
                f"{r.label} records: backfill {r.backfill[0]:.1f} s for {r.bc_calls[0]:,} BigCommerce calls; "
                f"the bound (calls ÷ 5 a second) is {bound:.1f} s: wall ÷ bound = "
                f"{r.backfill[0] / bound:.2f} {_met(r.backfill[0] / bound, 1.1)} (target ≤ 1.1); "
                f"exact: {'yes' if r.exact else 'NO'}.",
            ]
    lines += [
        "",
        "The floor reads every page once at 250 records and sends the same people, orders and products in "
        "imports of up to 50 MB, polled every 20 ms, to an account of its own; its page count is the "
        "BigCommerce minimum, and one submit and one status call per 50 MB of each book and collection is "
        "the Engagement Cloud minimum. Engagement Cloud emulator imports finish after 0.01 s; the host polls "
        "them every 0.1 s (up to 1 s). Neither emulator adds latency; both run in the benchmark's process, "
        "so their serving competes with the host for the 2 CPUs in every measure, the floor's included. "
        "Peak memory is the sync subprocess's own high-water mark (VmHWM); the idle process is the same "
        "command for a store with no connection.",
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="33k,165k,330k",
                        help="33k, 165k, 330k, or customers/subscribers/orders/products, comma-separated")
    parser.add_argument("--database", default=None, help="a PostgreSQL server URL (default: SQLite)")
    parser.add_argument("--throttled", action="store_true", help="also a backfill at 150 requests / 30 s")
    parser.add_argument("--no-write", action="store_true")
    parser.add_argument("--profile", type=Path, default=None, metavar="DIR",
                        help="sample each backfill with py-spy into DIR/<size>.txt and print where its time went")
    args = parser.parse_args(argv)
    chosen = []
    for spec in args.sizes.split(","):
        size = SIZES.get(spec) or StoreSize(*map(int, spec.split("/")))
        chosen.append((spec if spec in SIZES else f"{records_of(size) // 1000}k", size))
    results = []
    for label, size in chosen:
        print(f"store {label} {size} ...", flush=True)
        profile = None
        if args.profile is not None:
            args.profile.mkdir(parents=True, exist_ok=True)
            profile = args.profile / f"{label}.txt"
        results.append(measure(label, size, args.database, profile=profile))
        print(results[-1], flush=True)
        if profile is not None and profile.exists():
            print(summarize(profile), flush=True)
    if args.throttled:
        label, size = chosen[0]
        print(f"throttled store {label} ...", flush=True)
        results.append(measure(label, size, args.database, throttled=True))
        print(results[-1], flush=True)
    text = report(results, args.database)
    print(text)
    if not args.no_write:
        write_section("sync-end-to-end-postgresql" if args.database else "sync-end-to-end", text)
    return 0 if all(r.exact and r.backfill[2] == 0 and r.ec_writes[1] == 0 for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
