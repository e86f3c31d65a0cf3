"""Peak memory of a backfill as the store grows: does the sync process stay flat?

For each store size (by default 100,000 customers / 20,000 subscribers / 200,000 orders and
1,000,000 / 200,000 / 2,000,000, with 1,000 products) this starts both emulators in this
process, installs and connects a host on SQLite (``tests/sync/loopback.py``, as
``bench/sync_end_to_end.py`` does) and runs the backfill, ``flask --app host sync STORE_HASH``,
in a subprocess. Every second it reads the subprocess's ``/proc/<pid>/status`` (VmRSS and
VmHWM, the high-water mark) and the BigCommerce calls answered so far, then prints the samples
at 10%, 50% and 100% of the run's time and the peak. Target: under 250 MB, and flat from the
100,000-customer store up. Results go to the "memory" section of docs/benchmarks.md.

    .venv/bin/python bench/memory.py [--sizes 100000/20000/200000,1000000/200000/2000000] [--products 1000]
        [--check] [--no-write] [--trace FILE]

(``--sizes 10000/2000/20000`` is a one-minute run; the 1,000,000-customer store takes hours on 2
CPUs: run it with nohup. Each finished size is printed at once, so a run stopped midway still
tells the sizes it finished. ``--check`` also compares Engagement Cloud with the store, exactly
— it loads both emulators' whole state, so keep it for the smaller sizes. ``--trace FILE`` runs
the backfill under tracemalloc, ``bench/trace_peak.py``, and writes the allocation sites of its
peak to FILE: slower, for finding what to shrink; the table is then not written.)
"""

from __future__ import annotations

import argparse
import logging
import os
import platform
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
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
    STORE_HASH,
    StoreSize,
    actual_state,
    expected_state,
    host_config,
    host_environment,
    install_and_connect,
    live_host,
    start_emulators,
)

DEFAULT_SIZES = "100000/20000/200000,1000000/200000/2000000"
TARGET_MB = 250
SYNC = ["-m", "flask", "--app", "host", "sync", STORE_HASH]


@dataclass
class Sample:
    seconds: float
    rss_mb: float
    hwm_mb: float
    bigcommerce_calls: int


@dataclass
class Result:
    size: StoreSize
    seconds: float = 0.0
    exit_code: int | None = None
    samples: list[Sample] = field(default_factory=list)
    exact: bool | None = None
    stderr_tail: str = ""

    @property
    def peak_mb(self) -> float:
        return max((s.hwm_mb for s in self.samples), default=float("nan"))

    def at(self, share: float) -> Sample | None:
        """The sample taken at ``share`` of the run's time (the last one for 1.0)."""
        if not self.samples:
            return None
        moment = share * self.samples[-1].seconds
        return next((s for s in self.samples if s.seconds >= moment), self.samples[-1])


def _status_mb(pid: int) -> tuple[float, float] | None:
    """(VmRSS, VmHWM) of a live process in MB, or None once it is gone."""
    try:
        with open(f"/proc/{pid}/status") as status:
            values = dict(line.split(":", 1) for line in status if line.startswith(("VmRSS", "VmHWM")))
    except (FileNotFoundError, ProcessLookupError):
        return None
    try:
        return int(values["VmRSS"].split()[0]) / 1024, int(values["VmHWM"].split()[0]) / 1024
    except (KeyError, ValueError):
        return None


def _bigcommerce_calls(url: str) -> int:
    try:
        answer = requests.get(f"{url}/_emulator/state", params={"summary": 1}, timeout=60).json()
    except (requests.RequestException, ValueError):
        return -1
    return sum(answer.get("requests", {}).values())


def run_backfill(environment: dict[str, str], bigcommerce_url: str, result: Result, every: float = 1.0,
                 trace: str | None = None) -> None:
    """Run the sync subprocess, sampling its memory every ``every`` seconds until it ends;
    ``trace``: run it under tracemalloc (``bench/trace_peak.py``), the peak's allocation sites
    written to that file."""
    started = time.perf_counter()
    stderr = tempfile.TemporaryFile(mode="w+")  # noqa: SIM115 (read once the process has ended)
    command = [sys.executable, *SYNC]
    if trace:
        command = [sys.executable, "-X", "tracemalloc=8", str(ROOT / "bench" / "trace_peak.py"), *SYNC[2:]]
        environment = {**environment, "TRACE_PEAK_OUT": trace}
    process = subprocess.Popen(
        command, cwd=ROOT, env=environment, stdout=subprocess.DEVNULL, stderr=stderr, text=True
    )
    before = _bigcommerce_calls(bigcommerce_url)
    last_hwm = 0.0
    while process.poll() is None:
        measured = _status_mb(process.pid)
        if measured is not None:
            last_hwm = measured[1]
            calls = _bigcommerce_calls(bigcommerce_url) - before
            result.samples.append(Sample(time.perf_counter() - started, measured[0], measured[1], calls))
            if len(result.samples) % 300 == 0:  # a line every five minutes for a long run
                s = result.samples[-1]
                print(f"  {s.seconds:,.0f} s: RSS {s.rss_mb:.0f} MB, peak {s.hwm_mb:.0f} MB, "
                      f"{s.bigcommerce_calls:,} BigCommerce calls", flush=True)
        time.sleep(every)
    result.seconds = time.perf_counter() - started
    result.exit_code = process.returncode
    if result.samples:  # the end: what the process reached, with the calls it made
        result.samples.append(Sample(result.seconds, result.samples[-1].rss_mb, last_hwm,
                                     _bigcommerce_calls(bigcommerce_url) - before))
    stderr.seek(0)
    result.stderr_tail = stderr.read()[-3000:]


def measure(size: StoreSize, check: bool, trace: str | None = None) -> Result:
    result = Result(size)
    print(f"store {size.customers:,} / {size.subscribers:,} / {size.orders:,} / {size.products:,}: "
          "building the emulators ...", flush=True)
    emulators = start_emulators(size)
    try:
        with tempfile.TemporaryDirectory() as folder, live_host() as (host_url, late):
            config = host_config(emulators, host_url)
            config["PLUGINS"]["engagement_cloud"].update(poll_interval=0.1, poll_max_interval=1.0)
            database_url = f"sqlite:///{folder}/host.db"
            app = create_app({"INSTANCE_PATH": folder, "DATABASE": {"url": database_url}, **config})
            with app.app_context():
                Base.metadata.create_all(get_db().engine)
            late.app = app
            install_and_connect(app, emulators, host_url)
            environment = {
                **{k: v for k, v in os.environ.items() if not k.startswith("HOST_") and k != "DATABASE_URL"},
                **host_environment(config, folder, database_url),
            }
            print("  backfill ...", flush=True)
            run_backfill(environment, emulators.bigcommerce.url, result, trace=trace)
            if check:
                expected, actual = expected_state(emulators.store()), actual_state(emulators.account())
                result.exact = all(expected[part] == actual[part] for part in expected) and not (
                    actual["duplicate_contacts"] or actual["duplicate_orders"])
    finally:
        emulators.stop()
    if result.exit_code:
        print(result.stderr_tail, file=sys.stderr)
    return result


def describe(result: Result) -> str:
    s = result.size
    parts = []
    for share in (0.1, 0.5, 1.0):
        sample = result.at(share)
        if sample is not None:
            parts.append(f"{share:.0%}: {sample.hwm_mb:.0f} MB ({sample.rss_mb:.0f} MB now, "
                         f"{sample.bigcommerce_calls:,} BC calls)")
    exact = "" if result.exact is None else (" | yes" if result.exact else " | NO")
    return (f"| {s.customers:,} / {s.subscribers:,} / {s.orders:,} / {s.products:,} "
            f"| {result.seconds:,.0f} s{'' if result.exit_code == 0 else f' (exit {result.exit_code})'} "
            f"| {' · '.join(parts)} | **{result.peak_mb:.0f} MB**{exact} |")


def report(results: list[Result], command: str, check: bool) -> str:
    lines = [
        "## Memory of a backfill",
        "",
        f"`{command}`: both emulators in-process on loopback, host on SQLite, the backfill "
        f"(`flask --app host sync`) in a subprocess whose `/proc/<pid>/status` is read every second; "
        f"Python {platform.python_version()}, {platform.machine()}, {date.today().isoformat()}. "
        f"Target: under {TARGET_MB} MB, flat from 100,000 customers up.",
        "",
        "| store (customers / subscribers / orders / products) | backfill | peak so far at 10% · 50% · 100% of "
        f"the time | peak (VmHWM){' | exact' if check else ''} |",
        f"|---|---|---|---|{'---|' if check else ''}",
    ]
    lines += [describe(result) for result in results]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default=DEFAULT_SIZES, help="customers/subscribers/orders[/products],...")
    parser.add_argument("--products", type=int, default=1000)
    parser.add_argument("--check", action="store_true", help="compare Engagement Cloud with the store")
    parser.add_argument("--no-write", action="store_true")
    parser.add_argument("--notes", default="", help="a paragraph added under the table")
    parser.add_argument("--trace", metavar="FILE", help="run under tracemalloc; the peak's allocation sites go to "
                        "FILE (slower: for finding what to shrink, the table is not written)")
    args = parser.parse_args(argv)
    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # no access log of every call
    sizes = []
    for spec in args.sizes.split(","):
        numbers = [int(n) for n in spec.split("/")]
        sizes.append(StoreSize(*numbers[:3], numbers[3] if len(numbers) > 3 else args.products))
    command = "bench/memory.py " + " ".join(a for a in (argv if argv is not None else sys.argv[1:]) if a != "--no-write")
    results: list[Result] = []
    for size in sizes:
        results.append(measure(size, args.check, args.trace))
        print(report(results, command, args.check), flush=True)
        if not (args.no_write or args.trace):  # each finished size is written at once
            text = report(results, command, args.check)
            write_section("memory", text + (f"\n\n{args.notes}" if args.notes else ""))
    ok = all(r.exit_code == 0 and r.peak_mb < TARGET_MB and r.exact is not False for r in results)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
