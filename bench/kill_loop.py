"""Kill -9 at random points of a full sync cycle, then check the exact state (issue 14).

Both emulators run in this process over loopback with a generated store (by default the
acceptance store: 5,000 customers, 1,000 subscribers, 10,000 orders, 500 products); the host is
installed from the control-panel simulator, connected with both books and all three programs,
on a fresh SQLite database (``--database URL`` for PostgreSQL: an empty database), and every
cycle is ``flask --app host sync STORE_HASH`` in a subprocess, as an operator runs it.

Trial 1 kills the backfill (the connection's first cycle) when it has done a random share of its
work. Before each later trial the store changes through the BigCommerce emulator's
``/_emulator/stores/{hash}/…`` endpoints (new customers, a new customer's first order, guest
orders with new emails, newsletter signups, a repeat order, name and order-status changes), so
the trial has new work and enrolments to send; then ``flask sync --full`` (every stream read
from the start) is started and SIGKILLed at a point picked by the trial's kind:

- ``delay``: a random time into the cycle (up to the uninterrupted full cycle's duration,
  counted from the cycle's ``SyncRun`` row, not the process start);
- ``import``: while an Engagement Cloud import is running (imports take 1.5 s to apply for
  this trial; killed a random 0-1 s after the host recorded a submitted job: a contacts
  import or the Insight ``Orders`` import, picked at random);
- ``enrolling: sending``: enrolment calls answer 1.2 s late; killed a random 0-1 s after an
  enrolment row is ``sending`` (the call still lands after the process died);
- ``enrolling: landed``: right after the emulator's enrolment count grew;
- ``enrolling: applied error`` / ``applied drop``: the next enrolment call is applied, then
  answered with a 5xx / cut (``pending_applied_errors`` / ``pending_applied_drops``), and every
  enrolment call is answered 0.6 s late; killed a random 0-0.2 s after the host marked the rows
  uncertain (usually with the next program's call in flight).

Then ``flask sync`` runs again to completion, and again after the settle delay while the host
still has enrolments waiting, sending or uncertain (the host's tables are read only to know
when to stop waiting). The verdict comes from the emulators' state alone (``demo/expected.py``):
Engagement Cloud holds exactly what the store says, no duplicate contact or order, every due
enrolment exactly once — customers and subscribers created, and emails whose first order was
placed, after the connection (``bench/demo_check.py``'s ``due_enrolments``) — and nobody from
the history.

The host's config for the run: ``[plugins.engagement_cloud] request_timeout`` 2 s (so a lost
enrolment answer is settled after 32 s, not 151 s), ``enrolments_per_hour`` 1,000 (the
emulator's; the allowance is not what is tested here), ``[sync] enrolment_interval_seconds`` 0
(partial batches go at once).

    .venv/bin/python bench/kill_loop.py                                   # 20 trials, the acceptance store
    .venv/bin/python bench/kill_loop.py --customers 300 --subscribers 60 --orders 600 --products 30 --trials 3 --no-write

Not part of ``make test``. Results go to the "Kill -9 during a full cycle" section of
docs/reliability.md (``--no-write`` leaves it alone). Exit code 0 only when every trial is exact.
"""

from __future__ import annotations

import argparse
import logging
import os
import platform
import random
import shlex
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from sqlalchemy import func, inspect, select  # noqa: E402

from bench import demo_check  # noqa: E402
from bench.report import write_section  # noqa: E402
from demo import world  # noqa: E402
from host import create_app  # noqa: E402
from host.db import get_db  # noqa: E402
from host.models import Base, Connection, DestinationJob, Enrolment, SyncRun, utcnow  # noqa: E402
from tests.sync.loopback import (  # noqa: E402
    PROGRAMS,
    STORE_HASH,
    StoreSize,
    actual_state,
    enrolled,
    expected_state,
    host_config,
    host_environment,
    install_and_connect,
    live_host,
    start_emulators,
)

DOC = ROOT / "docs" / "reliability.md"
# The kill points after the backfill, in a seeded order: 19 of them make the 20 trials.
KINDS = (
    *["delay"] * 6,
    *["import"] * 5,
    *["enrolling: sending"] * 3,
    "enrolling: landed",
    *["enrolling: applied error"] * 2,
    *["enrolling: applied drop"] * 2,
)
# demo_check.due_enrolments names the demo's programs; this store's programs, by trigger.
PROGRAM_BY_DEMO_NAME = {
    world.PROGRAMS[trigger]: PROGRAMS[f"{trigger}_program_id"]
    for trigger in ("new_customer", "new_subscriber", "first_order")
}
IMPORT_DELAY = 1.5  # seconds an import takes to apply during an ``import`` trial
QUICK_DELAY = 0.01  # the loopback emulator's usual processing delay
ENROLMENT_LATENCY_MS = 1200  # an enrolment call's answer during an ``enrolling: sending`` trial
STILL_WAITING = ("pending", "sending", "uncertain")


@dataclass
class Trial:
    number: int
    kind: str
    cycle: str  # "backfill" or "full"
    changes: Counter = field(default_factory=Counter)
    killed_after: float | None = None  # seconds after the start; None: it finished first
    phase: str | None = None
    at_kill: str = ""  # what the trigger saw (a job, an enrolment row, ...)
    recovery_runs: int = 0
    settle_wait: float = 0.0
    recovery_seconds: float = 0.0
    differences: dict = field(default_factory=dict)
    due: int = 0
    sent: int = 0
    missing: list = field(default_factory=list)
    twice: list = field(default_factory=list)
    undue: list = field(default_factory=list)
    exit_codes: list = field(default_factory=list)

    @property
    def exact(self) -> bool:
        return (
            self.killed_after is not None
            and not any(self.differences.values())
            and not self.missing
            and not self.twice
            and not self.undue
            and all(code == 0 for code in self.exit_codes)
        )


class Bench:
    def __init__(
        self, args: argparse.Namespace, emulators, app, environment: dict[str, str], folder: str
    ):
        self.args, self.emulators, self.app, self.environment, self.folder = (
            args,
            emulators,
            app,
            environment,
            folder,
        )
        self.rng = random.Random(args.seed)
        self.tag = f"k{args.seed}"
        self.new_customers: dict[int, str] = {}  # id → email, created by the bench, no order yet
        self.full_seconds = self.cycle_seconds = 0.0
        self.last_store: dict | None = None  # the store as the last verdict saw it
        self.logs = 0

    # ------------------------------------------------------------------ the host's side
    def start(self, full: bool) -> subprocess.Popen:
        self.logs += 1
        command = [sys.executable, "-m", "flask", "--app", "host", "sync", STORE_HASH] + (
            ["--full"] if full else []
        )
        with open(
            Path(self.folder) / f"sync-{self.logs:03}.log", "w"
        ) as log:  # the child keeps its own copy
            return subprocess.Popen(
                command, cwd=ROOT, env=self.environment, stdout=log, stderr=subprocess.STDOUT
            )

    def run(self, full: bool = False, timeout: float = 1800) -> tuple[int, float]:
        started = time.monotonic()
        process = self.start(full)
        code = process.wait(timeout=timeout)
        return code, time.monotonic() - started

    def db(self, query):
        with self.app.app_context(), get_db().transaction() as session:
            return query(session)

    def latest_run(self) -> SyncRun | None:
        return self.db(lambda s: s.scalar(select(SyncRun).order_by(SyncRun.id.desc())))

    def waiting_enrolments(self) -> list[tuple[str, datetime | None]]:
        return self.db(
            lambda s: s.execute(
                select(Enrolment.state, Enrolment.due_at).where(Enrolment.state.in_(STILL_WAITING))
            ).all()
        )

    # ------------------------------------------------------------------ the emulators' side
    def ec(self, method: str, path: str, **body) -> dict:
        response = requests.request(
            method,
            f"{self.emulators.engagement_cloud.url}/_emulator/{path}",
            json=body or None,
            timeout=60,
        )
        response.raise_for_status()
        return response.json()

    def ec_enrolment_count(self) -> int:
        return self.ec("GET", "state?summary=1")["accounts"][0]["enrolments"]

    def quiet_emulators(self) -> None:
        self.ec("POST", "faults", reset=True)
        self.ec("PATCH", "options", processing_delay=QUICK_DELAY)

    def change_store(self, trial: Trial) -> None:
        """A few changes, each firing its webhooks: every program gets someone due."""
        emulators, rng, n = self.emulators, self.rng, trial.number
        store = self.last_store or emulators.store()
        for i in range(rng.randint(1, 3)):
            customer = emulators.create(
                "customers", email=f"{self.tag}-t{n}-new{i}@kill-loop.example"
            )
            self.new_customers[customer["id"]] = customer["email"].lower()
            trial.changes["new customer"] += 1
        waiting = sorted(self.new_customers)
        for cid in rng.sample(waiting, min(len(waiting), rng.randint(1, 2))):
            emulators.create("orders", customer_id=cid, status_id=11)
            del self.new_customers[cid]
            trial.changes["first order (new customer)"] += 1
        for i in range(rng.randint(1, 2)):
            emulators.create(
                "orders",
                customer_id=0,
                status_id=rng.choice((2, 10, 11)),
                billing_address={"email": f"{self.tag}-t{n}-guest{i}@kill-loop.example"},
            )
            trial.changes["guest first order"] += 1
        for i in range(rng.randint(1, 2)):
            emulators.create(
                "subscribers",
                email=f"{self.tag}-t{n}-news{i}@kill-loop.example",
                consents=["marketing_newsletter"],
            )
            trial.changes["newsletter signup"] += 1
        history = [c for c in store["customers"] if "@kill-loop.example" not in c["email"]]
        customer = rng.choice(history)
        emulators.create("orders", customer_id=customer["id"], status_id=11)
        trial.changes["repeat order"] += 1
        for customer in rng.sample(history, 2):
            emulators.update(
                "customers",
                customer["id"],
                first_name=f"Renamed{n}",
                last_name=customer["last_name"],
            )
            trial.changes["name change"] += 1
        counting = [o for o in store["orders"] if o.get("status_id") in (2, 10, 11)]
        for order in rng.sample(counting, 2):
            emulators.update(
                "orders",
                order["id"],
                status_id=rng.choice([s for s in (2, 10, 11) if s != order["status_id"]]),
            )
            trial.changes["order status change"] += 1
        time.sleep(1.1)  # the changes' own second is behind us, and their webhooks have gone

    # ------------------------------------------------------------------ one trial
    def kill_point(self, trial: Trial, process: subprocess.Popen, started: float) -> bool:
        """Wait for the trial's point; answer whether the process was still running there."""
        kind, rng = trial.kind, self.rng

        def alive() -> bool:
            return process.poll() is None

        if kind == "backfill":
            size = self.args
            # A backfill reads every record and sends most: about 2.7 counts a record (read + sent).
            work = 2.4 * (size.customers + size.subscribers + size.orders + size.products)
            share = rng.uniform(0.05, 0.95)
            trial.at_kill = f"{share:.0%} of the work"
            while alive():
                run = self.latest_run()
                done = (
                    sum(c.get("read", 0) + c.get("sent", 0) for c in (run.counts or {}).values())
                    if run
                    else 0
                )
                if done >= share * work:
                    trial.at_kill += f" ({done:,} records read or sent)"
                    return True
                time.sleep(0.02)
            return False
        if kind == "delay":  # a random time into the cycle (its SyncRun row), not the process
            delay = rng.uniform(0.01, 0.97) * self.cycle_seconds
            trial.at_kill = f"{delay:.1f} s into a {self.cycle_seconds:.1f} s cycle"
            while (
                alive()
                and self.db(lambda s: s.scalar(select(func.max(SyncRun.id)))) <= self.runs_before
            ):
                time.sleep(0.005)
            cycle_started = time.monotonic()
            while alive() and time.monotonic() - cycle_started < delay:
                time.sleep(0.005)
            return alive()
        if kind == "import":
            wait = rng.uniform(0, 1.0)
            target = rng.choice(("contacts", "insight:Orders"))  # each cycle here sends both
            while alive():
                job = self.db(
                    lambda s: s.scalar(
                        select(DestinationJob).where(
                            DestinationJob.state == "submitted",
                            DestinationJob.id > self.jobs_before,
                            DestinationJob.kind == target,
                        )
                    )
                )
                if job is not None:
                    time.sleep(wait)
                    trial.at_kill = f"{job.kind} import of {job.record_count} ({wait:.2f} s after it was recorded)"
                    return alive()
                time.sleep(0.01)
            return False
        if kind == "enrolling: sending":
            wait = rng.uniform(0, 1.0)
            while alive():
                sending = self.db(
                    lambda s: s.scalar(
                        select(func.count(Enrolment.id)).where(Enrolment.state == "sending")
                    )
                )
                if sending:
                    time.sleep(wait)
                    trial.at_kill = f"a row sending (+{wait:.2f} s)"
                    return alive()
                time.sleep(0.01)
            return False
        if kind == "enrolling: landed":
            while alive():
                count = self.ec_enrolment_count()
                if count > self.enrolments_before:
                    trial.at_kill = f"enrolment calls {self.enrolments_before}→{count}"
                    return alive()
                time.sleep(0.005)
            return False
        # enrolling: applied error / applied drop: the host has recorded the lost answer
        wait = rng.uniform(0, 0.2)
        while alive():
            uncertain = self.db(
                lambda s: s.scalar(
                    select(func.count(Enrolment.id)).where(Enrolment.state == "uncertain")
                )
            )
            if uncertain:
                time.sleep(wait)
                trial.at_kill = f"answer lost, rows uncertain (+{wait:.2f} s)"
                return alive()
            time.sleep(0.01)
        return False

    def snapshot(self, trial: Trial) -> None:
        """What the killed cycle left: its phase, its enrolment rows in flight."""
        run = self.latest_run()
        if run is None or run.id <= self.runs_before:
            trial.phase = "(starting: no cycle yet)"
        elif run.status != "running":
            trial.phase = f"(cycle {run.status}; process exiting)"
        else:
            trial.phase = run.phase or "(starting)"
        if trial.kind.startswith("enrolling"):
            states = self.db(
                lambda s: Counter(
                    s.scalars(
                        select(Enrolment.state).where(Enrolment.state.in_(("sending", "uncertain")))
                    )
                )
            )
            trial.at_kill += "; left " + (
                ", ".join(f"{v} {k}" for k, v in sorted(states.items())) or "none in flight"
            )

    def trial(self, trial: Trial) -> Trial:
        if trial.kind != "backfill":
            self.change_store(trial)
        self.jobs_before = self.db(lambda s: s.scalar(select(func.max(DestinationJob.id))) or 0)
        self.enrolments_before = self.ec_enrolment_count()
        self.runs_before = self.db(lambda s: s.scalar(select(func.max(SyncRun.id))) or 0)
        if trial.kind == "import":
            self.ec("PATCH", "options", processing_delay=IMPORT_DELAY)
        elif trial.kind == "enrolling: sending":
            self.ec(
                "POST",
                "faults",
                latency_ms=ENROLMENT_LATENCY_MS,
                only_paths=["/programs/enrolments"],
            )
        elif trial.kind.startswith("enrolling: applied"):
            # the first call lands and its answer is lost; the next programs' calls take a while
            self.ec(
                "POST",
                "faults",
                latency_ms=ENROLMENT_LATENCY_MS // 2,
                only_paths=["/programs/enrolments"],
                **{
                    "pending_applied_errors"
                    if trial.kind.endswith("error")
                    else "pending_applied_drops": 1
                },
            )
        started = time.monotonic()
        process = self.start(full=trial.cycle == "full")
        if self.kill_point(trial, process, started):
            process.send_signal(signal.SIGKILL)
            trial.killed_after = time.monotonic() - started
        process.wait(timeout=1800)
        if trial.killed_after is not None:
            self.snapshot(trial)
        else:
            trial.phase = "(finished)"
        self.quiet_emulators()
        if trial.kind.startswith("enrolling"):
            time.sleep(ENROLMENT_LATENCY_MS / 1000 + 0.2)  # the call in flight lands (or not) first

        recovery_started = time.monotonic()
        code, _ = self.run()
        trial.exit_codes.append(code)
        trial.recovery_runs = 1
        for _ in range(5):  # lost answers are settled once the request timeout has passed
            waiting = self.waiting_enrolments()
            if not waiting:
                break
            now = utcnow()
            due = max(
                (at if at.tzinfo else at.replace(tzinfo=UTC) for _, at in waiting if at),
                default=now,
            )
            pause = min(max((due - now).total_seconds() + 1, 0.5), 300)
            trial.settle_wait += pause
            time.sleep(pause)
            code, _ = self.run()
            trial.exit_codes.append(code)
            trial.recovery_runs += 1
        trial.recovery_seconds = time.monotonic() - recovery_started
        self.verdict(trial)
        return trial

    def verdict(self, trial: Trial) -> None:
        store, account = self.emulators.store(), self.emulators.account()
        self.last_store = store
        expected, actual = expected_state(store), actual_state(account)
        trial.differences = (
            {f"{part} missing": sorted(expected[part] - actual[part]) for part in expected}
            | {f"{part} extra": sorted(actual[part] - expected[part]) for part in expected}
            | {
                "duplicate contacts": sorted(actual["duplicate_contacts"]),
                "duplicate orders": sorted(actual["duplicate_orders"]),
            }
        )
        due = {
            (PROGRAM_BY_DEMO_NAME[program], email)
            for (program, email) in demo_check.due_enrolments(store, self.since)
        }
        sent: Counter = enrolled(account)
        trial.due, trial.sent = len(due), sum(sent.values())
        trial.missing = sorted(key for key in due if sent.get(key, 0) == 0)
        trial.twice = sorted((key, n) for key, n in sent.items() if n > 1)
        trial.undue = sorted(key for key in sent if key not in due)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=5000)
    parser.add_argument("--subscribers", type=int, default=1000)
    parser.add_argument("--orders", type=int, default=10000)
    parser.add_argument("--products", type=int, default=500)
    parser.add_argument("--trials", type=int, default=20)
    parser.add_argument("--seed", type=int, default=14)
    parser.add_argument(
        "--kinds",
        help="comma-separated kinds for the trials after the backfill "
        f"(default: a seeded shuffle of {sorted(set(KINDS))})",
    )
    parser.add_argument(
        "--database",
        help="a database URL (an empty PostgreSQL database); default a fresh SQLite file",
    )
    parser.add_argument("--request-timeout", type=float, default=2.0)
    parser.add_argument("--no-write", action="store_true")
    return parser.parse_args(argv)


def command_line(argv: list[str] | None) -> str:
    given = sys.argv[1:] if argv is None else argv
    return shlex.join(["bench/kill_loop.py", *given])


def plan(args: argparse.Namespace) -> list[Trial]:
    rng = random.Random(args.seed)
    if args.kinds:
        later = [kind.strip() for kind in args.kinds.split(",")]
        if set(later) - set(KINDS):
            raise SystemExit(
                f"unknown kinds {sorted(set(later) - set(KINDS))}; known: {sorted(set(KINDS))}"
            )
    else:
        pool = list(KINDS)
        rng.shuffle(pool)
        later = [pool[i % len(pool)] for i in range(args.trials - 1)]
    trials = [Trial(1, "backfill", "backfill")]
    trials += [Trial(i + 2, kind, "full") for i, kind in enumerate(later[: args.trials - 1])]
    return trials


def row(t: Trial) -> str:
    bad = [f"{k} {len(v)}" for k, v in t.differences.items() if v]
    enrol = f"{t.due} / {t.sent}" + (
        f" (missing {len(t.missing)}, twice {len(t.twice)}, history {len(t.undue)})"
        if t.missing or t.twice or t.undue
        else ""
    )
    killed = (
        f"{t.killed_after:.1f} s" if t.killed_after is not None else "not killed: finished first"
    )
    recovery = f"{t.recovery_runs} ({t.recovery_seconds:.0f} s" + (
        f", {t.settle_wait:.0f} s settling)" if t.settle_wait else ")"
    )
    return (
        f"| {t.number} | {t.kind} | {t.cycle} | {killed} | {t.phase or '-'} | {t.at_kill} "
        f"| {sum(t.changes.values())} | {recovery} | {'yes' if t.exact else 'NO'}"
        f"{' (' + ', '.join(bad) + ')' if bad else ''} | {enrol} |"
    )


def report(
    args: argparse.Namespace, trials: list[Trial], setup: dict, argv: list[str] | None
) -> str:
    exact = sum(t.exact for t in trials)
    kinds = Counter(t.kind for t in trials)
    lines = [
        "## Kill -9 during a full cycle",
        "",
        "```",
        f".venv/bin/python {command_line(argv)}",
        "```",
        "",
        f"`bench/kill_loop.py` (not part of `make test`), Python {platform.python_version()}, "
        f"{platform.machine()}, {os.cpu_count()} CPUs, {datetime.now(UTC):%Y-%m-%d %H:%M} UTC; both emulators "
        f"in the bench's process over loopback, the host on {setup['database']}, every cycle "
        f"`flask --app host sync {STORE_HASH}` in a subprocess; seed {args.seed}.",
        "",
        f"Store: {args.customers:,} customers, {args.subscribers:,} subscribers, {args.orders:,} orders, "
        f"{args.products:,} products; the backfill of trial 1 was killed and then finished in "
        f"{setup['backfill_seconds']:.0f} s; an uninterrupted `flask sync --full` took {setup['full_seconds']:.1f} s (its cycle {setup['cycle_seconds']:.1f} s) "
        f"(it sent {setup['full_writes']} Engagement Cloud writes). Kill points: "
        + ", ".join(f"{kind} {n}" for kind, n in kinds.most_common())
        + ".",
        "",
        f"**{exact} of {len(trials)} exact**, enrolments included: after each kill, `flask sync` to completion "
        "(and again once the host's lost enrolment answers could be settled), then Engagement Cloud held "
        "exactly what the store says (both books, Insight `Orders` and `Catalog_Default`), with no duplicate "
        "contact or order, every due enrolment exactly once and nobody from the history enrolled.",
        "",
        "| trial | kill point | cycle | killed after | phase | at the kill | store changes before | "
        "runs to recover | exact | enrolments due / sent (all trials so far) |",
        "|---|---|---|---|---|---|---|---|---|---|",
        *[row(t) for t in trials],
        "",
        "How it works: trial 1 kills the connection's first cycle (the backfill) at a random share of its "
        "work; before each later trial the store changes (new customers, a new customer's first order, "
        "guest orders with new emails, newsletter signups, a repeat order, two name changes and two "
        "order-status changes, through the BigCommerce emulator's `/_emulator/stores/…` endpoints) and "
        "`flask sync --full` is killed with SIGKILL at the trial's point: *delay*, a random time into the cycle (from its `SyncRun` row) up to "
        "the uninterrupted full cycle's duration; *import*, while an Engagement Cloud import is running (imports "
        f"take {IMPORT_DELAY} s to apply in that trial; killed 0-1 s after the host recorded the submitted job, "
        "a contacts import or the Insight `Orders` import, picked at random); "
        f"*enrolling: sending*, enrolment calls answered {ENROLMENT_LATENCY_MS} ms late and the process killed "
        "0-1 s after a row was `sending` (the call lands after the process died); *enrolling: landed*, right after "
        "the emulator's enrolment count grew; *enrolling: applied error / drop*, the next enrolment call applied "
        "and then answered with a 5xx or cut (`pending_applied_errors` / `pending_applied_drops`) while every enrolment call is answered "
        f"{ENROLMENT_LATENCY_MS // 2} ms late, killed 0-0.2 s after the host marked the rows uncertain (usually "
        "with the next program's call in flight). Enrolments due are computed from the store alone (`bench/demo_check.py`'s "
        "`due_enrolments`: customers and subscribers created after the connection, emails whose first order was "
        "placed after it), and enrolments sent from the Engagement Cloud emulator's records; the host's tables "
        "are read only to find the kill points and to know when to stop waiting. Host config for the run: "
        f"`[plugins.engagement_cloud] request_timeout = {args.request_timeout:g}` (a lost enrolment answer is settled "
        f"{args.request_timeout + 30:g} s after the call), `enrolments_per_hour = 1000` (the emulator's allowance), "
        "`[sync] enrolment_interval_seconds = 0`.",
    ]
    for t in trials:
        if not t.exact:
            lines += ["", f"Trial {t.number} ({t.kind}) not exact:"]
            for name, values in t.differences.items():
                if values:
                    lines.append(
                        f"- {name}: {', '.join(map(str, values[:10]))}{' …' if len(values) > 10 else ''}"
                    )
            for name, values in (
                ("not enrolled", t.missing),
                ("enrolled more than once", t.twice),
                ("enrolled though not due", t.undue),
            ):
                if values:
                    lines.append(f"- {name}: {', '.join(map(str, values[:10]))}")
            if any(t.exit_codes):
                lines.append(f"- exit codes of the recovery runs: {t.exit_codes}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # the emulators' access logs
    size = StoreSize(args.customers, args.subscribers, args.orders, args.products, seed=args.seed)
    trials = plan(args)
    folder = tempfile.mkdtemp(prefix="kill-loop-")
    print(f"work folder {folder}; {len(trials)} trials: {[t.kind for t in trials]}", flush=True)
    emulators = start_emulators(size)
    try:
        with live_host() as (host_url, late):
            config = host_config(emulators, host_url)
            config["PLUGINS"]["engagement_cloud"].update(
                request_timeout=args.request_timeout,
                enrolments_per_hour=1000,
                poll_interval=0.05,
                poll_max_interval=0.5,
            )
            config["SYNC"] = {"enrolment_interval_seconds": 0}
            database_url = args.database or f"sqlite:///{folder}/host.db"
            app = create_app({"INSTANCE_PATH": folder, "DATABASE": {"url": database_url}, **config})
            with app.app_context():
                engine = get_db().engine
                if args.database and inspect(engine).has_table("connections"):
                    with get_db().transaction() as session:
                        if session.scalar(select(func.count(Connection.id))):
                            raise SystemExit("--database must be an empty database")
                Base.metadata.create_all(engine)
            late.app = app
            install_and_connect(app, emulators, host_url)
            environment = {
                **{
                    k: v
                    for k, v in os.environ.items()
                    if not k.startswith("HOST_") and k != "DATABASE_URL"
                },
                **host_environment(config, folder, database_url),
            }
            bench = Bench(args, emulators, app, environment, folder)
            connected_at = bench.db(lambda s: s.scalar(select(Connection.connected_at)))
            bench.since = (
                connected_at if connected_at.tzinfo else connected_at.replace(tzinfo=UTC)
            ).replace(microsecond=0)
            time.sleep(1.1)  # nothing the bench creates shares the connection's second

            # Trial 1: the backfill, killed; its recovery measures the rest of the backfill.
            started = time.monotonic()
            first = trials[0]
            bench.trial(first)
            backfill_seconds = time.monotonic() - started
            print(row(first), flush=True)
            writes_before = emulators.engagement_cloud_writes()
            code, bench.full_seconds = bench.run(full=True)
            run = bench.latest_run()
            bench.cycle_seconds = (run.finished_at - run.started_at).total_seconds()
            full_writes = emulators.engagement_cloud_writes() - writes_before
            print(
                f"uninterrupted full cycle: {bench.full_seconds:.1f} s (cycle {bench.cycle_seconds:.1f} s), exit {code}, {full_writes} EC writes",
                flush=True,
            )
            for trial in trials[1:]:
                bench.trial(trial)
                print(row(trial), flush=True)
            setup = {
                "database": "PostgreSQL" if database_url.startswith("postgresql") else "SQLite",
                "backfill_seconds": backfill_seconds,
                "full_seconds": bench.full_seconds,
                "cycle_seconds": bench.cycle_seconds,
                "full_writes": full_writes,
            }
    finally:
        emulators.stop()
    text = report(args, trials, setup, argv)
    print()
    print(text)
    exact = sum(t.exact for t in trials)
    print(f"\n{exact} of {len(trials)} exact")
    if not args.no_write:
        write_section("kill-loop", text, doc=DOC, title="Reliability")
    return 0 if exact == len(trials) else 1


if __name__ == "__main__":
    sys.exit(main())
