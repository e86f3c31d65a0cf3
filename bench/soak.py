"""Soak run: the demo world for a while under store churn and injected faults, then a verdict
from public surfaces only. Not part of ``make test``.

    .venv/bin/python bench/soak.py --minutes 30                       # the acceptance run
    .venv/bin/python bench/soak.py --minutes 3 --drain-minutes 10     # a short run while developing

It starts what ``flask --app host demo`` starts — both emulators with the demo store, the host
serving its pages, the app installed and the Engagement Cloud account connected through the
real pages (books and all three programs), a first sync, then the host's scheduler (cycles,
Sync now, the webhook fast lane) — and for ``--minutes`` a churn driver (``bench/soak_churn.py``)
changes the store every ``--every`` seconds through the BigCommerce emulator's mutation
endpoints. Meanwhile, on a schedule spread over the run, it injects faults:

- a share of 5xx answers and cut connections from both APIs (and, where the emulator offers
  them, writes that are applied but answered with a 5xx or a cut connection), from 5 % of the
  run to its end;
- 429 bursts from both APIs, from 20 % to 60 %;
- a stuck Engagement Cloud import at 30 %, released a few minutes later;
- a disconnect and reconnect of the Engagement Cloud account through the settings pages at
  45 % (at a quiet moment: the churn pauses until the account holds what the store says and
  every due enrolment went out, so that the reconnected account can be judged exactly);
- Sync now while a cycle runs, at 15 % and 65 %;
- Data sync off at 70 %, on again at 80 %;
- an enrolment call applied but its answer lost: a 5xx at 50 %, a cut connection at 85 % (the
  next enrolment call Engagement Cloud accepts; meanwhile its other faults apply to enrolment
  calls only).

The Engagement Cloud enrolment allowance stays at its real 20 calls an hour. Every minute the
Store tab and its status JSON are fetched as the merchant's browser fetches them. Then churn
and faults stop, Sync now is pressed, and the run waits (up to ``--drain-minutes``) until the
host has nothing queued — enrolments waiting for the allowance included. The host's tables are
read only to know when to stop waiting, and for one check (no enrolment failed for a transient
reason); the verdict (``bench/soak_checks.py``) compares Engagement Cloud's state with what the
store says and who is due an enrolment, from the emulators' ``/_emulator/state`` and the churn
log. Results go to the "Soak" section of docs/reliability.md (``--no-write``: only printed);
the work folder (host database and log, final emulator states, churn log) is kept.
Exit code 0 only when every check passes.
"""

from __future__ import annotations

import argparse
import html
import json
import logging
import platform
import re
import shlex
import signal
import statistics
import sys
import tempfile
import time
from collections import Counter
from dataclasses import asdict
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urljoin

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import requests  # noqa: E402
from rich.console import Console  # noqa: E402
from rich.table import Table  # noqa: E402
from sqlalchemy import func, select  # noqa: E402

from bench.report import write_section  # noqa: E402
from bench.soak_checks import (  # noqa: E402
    compare_enrolments,
    due_enrolments,
    enrolment_keys,
    internal_text,
    sent_by_trigger,
    state_differences,
    transient_failures,
)
from bench.soak_churn import Churn  # noqa: E402
from demo import runner  # noqa: E402
from demo.browser import Browser, Form, _FormParser  # noqa: E402
from demo.world import (  # noqa: E402
    API_PASSWORD,
    API_USER,
    CUSTOMERS_BOOK,
    PROGRAMS,
    STORE_HASH,
    SUBSCRIBERS_BOOK,
    StoreSize,
    start_world,
)

DOC = ROOT / "docs" / "reliability.md"
ALLOWANCE_PER_HOUR = 20  # the Engagement Cloud emulator's default, the real service's limit
UNSETTLED_STATES = ("pending", "pending_opt_in", "sending", "uncertain")
SCHEDULE = (  # (share of the churn time, fault)
    (0.05, "errors on"),
    (0.15, "sync now during a cycle"),
    (0.20, "429 bursts on"),
    (0.30, "stuck import"),
    (0.45, "disconnect and reconnect"),
    (0.50, "lost enrolment answer (5xx)"),
    (0.60, "429 bursts off"),
    (0.65, "sync now during a cycle"),
    (0.70, "data sync off"),
    (0.80, "data sync on"),
    (0.85, "lost enrolment answer (cut connection)"),
)
ENROLMENT_PATH = "/programs/enrolments"
ERRORS = {"error_rate": 0.05, "drop_rate": 0.01}
APPLIED_ERRORS = {"applied_error_rate": 0.02, "applied_drop_rate": 0.01}
BURSTS = {"burst_429_every": 40, "burst_429_length": 4}


class ErrorLog(logging.Handler):
    """Counts what the host logs at ERROR and above (a cycle that blew up, a failed job)."""

    def __init__(self):
        super().__init__(level=logging.ERROR)
        self.messages: Counter = Counter()

    def emit(self, record: logging.LogRecord) -> None:
        self.messages[f"{record.name}: {record.getMessage()[:160]}"] += 1


class Soak:
    def __init__(self, args: argparse.Namespace, console: Console):
        self.args = args
        self.console = console
        self.workdir = Path(args.workdir or tempfile.mkdtemp(prefix="soak-"))
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.events: list[tuple[float, str]] = []
        self.faults: Counter = Counter()  # the soak's own faults (stuck import, disconnect, ...)
        self.page_problems: list[tuple[float, str, str]] = []
        self.pages_checked = 0
        self.first_seen: dict[str, float] = {}  # Engagement Cloud enrolment id → first seen
        self.seen: dict[tuple[str, str], list[float]] = {}  # (trigger, email) → when enrolled
        self.enrolment_times: list[float] = []  # when each accepted enrolment call was first seen
        self.account: dict[str, Any] | None = None
        self.rows_before_disconnect: list[dict[str, Any]] = []
        self.paused = 0.0  # seconds the churn stood still (the quiet moment around the reconnect)
        self.churning = False  # between the start and the end of the churn
        self.churn_paused = False
        self.churn_started = 0.0
        self.next = {"churn": 0.0, "poll": 0.0, "page": 0.0}
        self.stuck: dict[str, Any] = {}
        self.sync_now: list[dict[str, Any]] = []
        self.disconnects: list[bool] = []  # each Disconnect: did it lead back to the Connect page
        self.lost_answer: dict[str, Any] | None = None  # an enrolment answer to lose, while armed
        self.lost_answers: list[bool] = []  # each: did an enrolment call lose its answer
        self.applied_faults = False
        self.drain: dict[str, Any] = {}
        self.errors = ErrorLog()
        self.scheduler = None
        self.world = None

    # ------------------------------------------------------------------ the world
    def start(self) -> None:
        logging.basicConfig(filename=self.workdir / "host.log", level=logging.INFO,
                            format="%(asctime)s %(levelname)s %(name)s %(message)s")
        logging.getLogger("werkzeug").setLevel(logging.WARNING)
        logging.getLogger("apscheduler").setLevel(logging.WARNING)
        logging.getLogger().addHandler(self.errors)
        size = StoreSize(seed=self.args.seed, customers=self.args.customers, subscribers=self.args.subscribers,
                         orders=self.args.orders, products=self.args.products)
        self.world, self.app = start_world(size, self.workdir / "instance")
        self.app.config["SYNC"] = {**self.app.config.get("SYNC", {}), "interval_seconds": self.args.interval_seconds}
        with self.app.app_context():
            from host import migrations

            migrations.upgrade()
        runner.serve_host(self.world)
        runner.wait_until_healthy(self.world.host_url)
        runner.register_app(self.world)
        runner.install(self.world)
        self.connect_account()
        self.connected_at = [time.time()]
        self.note(f"connected; first sync (work folder {self.workdir})")
        runner.first_sync(self.app)
        from host.scheduler import HostScheduler

        self.scheduler = HostScheduler(self.app)
        self.scheduler.start()
        faults = self.get(self.world.engagement_cloud.url, "/_emulator/faults")["settings"]
        self.applied_faults = "applied_error_rate" in faults
        self.churn = Churn(self.world.bigcommerce.url, STORE_HASH, self.args.seed, tag=f"s{self.args.seed}")
        self.churn.remember_history()
        self.poll()

    def stop(self) -> None:
        if self.scheduler is not None:
            self.scheduler.shutdown()
        if self.world is not None:
            self.world.host_server.shutdown()
            self.world.stop()

    def note(self, text: str) -> None:
        self.events.append((time.time(), text))
        self.console.log(text)

    def get(self, base: str, path: str) -> dict[str, Any]:
        response = requests.get(f"{base}{path}", timeout=120)
        response.raise_for_status()
        return response.json()

    def post(self, base: str, path: str, body: dict[str, Any]) -> dict[str, Any]:
        response = requests.post(f"{base}{path}", json=body, timeout=60)
        response.raise_for_status()
        return response.json()

    # ------------------------------------------------------------------ the merchant's browser
    def url(self, path: str) -> str:
        return f"{self.world.host_url}{path}"

    def _checked(self, label: str, call) -> requests.Response | None:
        try:
            page = call()
        except requests.HTTPError as error:
            page = error.response
        except requests.RequestException as error:
            self.page_problem(label, f"no answer: {error}")
            return None
        self.pages_checked += 1
        if page.status_code >= 500:
            self.page_problem(label, f"answered {page.status_code}")
        found = internal_text(page.text)
        if found:
            self.page_problem(label, f"shows internal text: {found}")
        return page

    def page_problem(self, label: str, problem: str) -> None:
        self.page_problems.append((time.time(), label, problem))
        self.note(f"[red]page problem[/red] {label}: {problem}")

    def visit(self, path: str) -> requests.Response | None:
        page = self._checked(f"GET {path}", lambda: self.browser.open(self.url(path)))
        if page is not None and page.status_code == 401:  # the session ended: open the app again
            self.note("the merchant's session ended; opening the app again")
            self._checked("GET load", lambda: self.browser.open(runner.login_link(self.world)))
            page = self._checked(f"GET {path}", lambda: self.browser.open(self.url(path)))
        return page

    def submit(self, form: Form, button: tuple[str, str] | None = None) -> requests.Response | None:
        return self._checked(f"POST {form.action.replace(self.world.host_url, '')}",
                             lambda: self.browser.submit(form, button))

    def forms(self) -> list[Form]:
        parser = _FormParser()
        parser.feed(self.browser.page.text if self.browser.page is not None else "")
        for form in parser.forms:
            form.action = urljoin(self.browser.page.url, form.action or self.browser.page.url)
        return parser.forms

    def form_to(self, action: str) -> Form | None:
        return next((form for form in self.forms() if action in form.action), None)

    def status(self) -> dict[str, Any] | None:
        page = self.visit("/settings/store/status")
        if page is None or page.status_code != 200:
            return None
        try:
            return page.json()
        except ValueError:
            self.page_problem("GET /settings/store/status", "not JSON")
            return None

    def connect_account(self) -> None:
        """Open the app, connect the account, choose books and all three programs (the real pages)."""
        self.browser = Browser()
        for attempt in range(1, 6):
            self._checked("GET load", lambda: self.browser.open(runner.login_link(self.world)))
            try:
                if self.browser.page is not None and "password" in {f for form in self.forms() for f in form.fields}:
                    form = self.browser.form("password")
                    form.fields.update({"username": API_USER, "password": API_PASSWORD})
                    self.submit(form)
                self.visit("/settings/store")
                form = self.browser.form("customers_book_id")
                form.choose("customers_book_id", CUSTOMERS_BOOK)
                form.choose("subscribers_book_id", SUBSCRIBERS_BOOK)
                for trigger, name in PROGRAMS.items():
                    form.choose(runner.PROGRAM_FIELDS[trigger], name)
                page = self.submit(form)
                if page is not None and page.status_code == 200 and 'aria-invalid="true"' not in page.text:
                    return
            except LookupError as error:
                self.note(f"connecting, attempt {attempt}: {error}")
            time.sleep(3)
        raise runner.DemoError("could not connect the account and save the Store tab in 5 attempts")

    def click(self, action: str) -> bool:
        """Press the Store tab's button whose form posts to ``action`` (even when it is shown
        disabled: a merchant with the page open from before presses it)."""
        self.visit("/settings/store")
        form = self.form_to(action)
        if form is None:
            self.note(f"no {action} form on the Store tab")
            return False
        self.submit(form)
        return True

    # ------------------------------------------------------------------ what happens meanwhile
    def poll(self) -> dict[str, Any]:
        """Engagement Cloud's state: when each enrolment was first seen (for the waits)."""
        state = self.get(self.world.engagement_cloud.url, "/_emulator/state")
        account = next(a for a in state["accounts"] if a["api_user"] == API_USER)
        now = time.time()
        for enrolment in account.get("enrolments") or []:
            if enrolment["id"] not in self.first_seen:
                self.first_seen[enrolment["id"]] = now
                self.enrolment_times.append(now)
                for key in enrolment_keys(account, enrolment, PROGRAMS):
                    self.seen.setdefault(key, []).append(now)
        self.account = account
        self.ec_requests = state.get("requests", {})
        return account

    def subscribers_book(self) -> set[str] | None:
        if self.account is None:
            return None
        email_of = {c["id"]: c["email"].lower() for c in self.account["contacts"]}
        book = next((b for b in self.account["address_books"] if b["name"] == SUBSCRIBERS_BOOK), None)
        return {email_of[i] for i in book["contacts"]} if book else None

    def housekeeping(self) -> None:
        """Whatever is due: a round of churn, a look at Engagement Cloud, a look at the pages."""
        now = time.time()
        if self.churning and not self.churn_paused and now >= self.next["churn"]:
            self.next["churn"] = now + self.args.every
            self.churn.tick(self.args.changes, self.subscribers_book())
        if now >= self.next["poll"]:
            self.next["poll"] = now + self.args.poll_seconds
            self.poll()
            self.watch_stuck()
            self.watch_lost()
        if now >= self.next["page"]:
            self.next["page"] = now + self.args.page_seconds
            self.visit("/settings/store")
            self.status()

    def wait(self, seconds: float) -> None:
        end = time.time() + seconds
        while time.time() < end:
            self.housekeeping()
            time.sleep(min(0.5, max(0.0, end - time.time())))

    def active(self) -> float:
        """Seconds of churn so far (the quiet moment around the reconnect does not count)."""
        return time.time() - self.churn_started - self.paused

    # ------------------------------------------------------------------ host rows (to know when to stop)
    def host(self, after: float | None = None) -> dict[str, Any]:
        from host.db import get_db
        from host.models import Enrolment, SyncRun, WebhookEvent

        since = datetime.fromtimestamp(after or 0, UTC)
        with self.app.app_context(), get_db().transaction() as session:
            waiting = dict(session.execute(
                select(Enrolment.state, func.count()).where(Enrolment.state.in_(UNSETTLED_STATES))
                .group_by(Enrolment.state)).all())
            next_due = session.scalar(select(func.min(Enrolment.due_at)).where(Enrolment.state.in_(UNSETTLED_STATES)))
            inbox = session.scalar(select(func.count(WebhookEvent.id)).where(WebhookEvent.processed_at.is_(None)))
            running = session.scalar(select(func.count(SyncRun.id)).where(SyncRun.status == "running"))
            finished = session.scalar(select(func.count(SyncRun.id)).where(  # a cycle, not the fast lane
                SyncRun.status == "finished", SyncRun.trigger != "fast_lane", SyncRun.started_at >= since))
        return {"waiting": waiting, "next_due": next_due, "inbox": inbox, "running": running, "finished": finished}

    def enrolment_rows(self) -> list[dict[str, Any]]:
        from host.db import get_db
        from host.models import Enrolment

        with self.app.app_context(), get_db().transaction() as session:
            return [{"trigger": r.trigger, "email": r.contact_key, "episode": r.episode, "state": r.state,
                     "reason": r.reason, "attempts": r.attempts} for r in session.scalars(select(Enrolment))]

    # ------------------------------------------------------------------ faults
    def set_faults(self, **settings: Any) -> None:
        ec, bc = self.world.engagement_cloud.url, self.world.bigcommerce.url
        self.post(ec, "/_emulator/faults", settings)
        self.post(bc, "/_emulator/faults", {k: v for k, v in settings.items() if not k.startswith(("applied", "pending_applied"))})

    def fault(self, name: str) -> None:
        self.note(f"[yellow]fault[/yellow] {name}")
        if name == "errors on":
            self.set_faults(seed=self.args.seed, **ERRORS, **(APPLIED_ERRORS if self.applied_faults else {}))
        elif name == "429 bursts on":
            self.set_faults(**BURSTS)
        elif name == "429 bursts off":
            self.set_faults(burst_429_every=0)
        elif name == "stuck import":
            self.post(self.world.engagement_cloud.url, "/_emulator/stuck-imports", {"count": 1})
            self.stuck = {"armed_at": time.time(), "held": set()}
        elif name == "disconnect and reconnect":
            self.reconnect()
        elif name == "sync now during a cycle":
            self.sync_now_during_cycle()
        elif name in ("data sync off", "data sync on"):
            self.data_sync(name.endswith("on"))
        elif name.startswith("lost enrolment answer"):
            self.lose_enrolment_answer("pending_applied_drops" if "cut" in name else "pending_applied_errors")
        self.faults[name] += 1

    def stuck_seconds(self) -> float:
        return self.args.stuck_seconds if self.args.stuck_seconds is not None else min(180.0, 0.12 * self.args.minutes * 60)

    def watch_stuck(self, release: bool = False, disarm: bool = False) -> None:
        """The stuck-import fault: once an import is held, hold it for ``stuck_seconds``, then
        release it (``release``: now, if one is held; ``disarm``: and stop arming)."""
        if not self.stuck or self.stuck.get("released_at"):
            return
        stuck = [job for job in (self.account or {}).get("imports", []) if job.get("stuck")]
        if stuck and "held_at" not in self.stuck:
            self.stuck["held_at"] = time.time()
            self.note(f"an import is stuck ({stuck[0]['kind']}, {stuck[0]['records']} records)")
        self.stuck["held"].update(job["id"] for job in stuck)
        due = "held_at" in self.stuck and (release or time.time() >= self.stuck["held_at"] + self.stuck_seconds())
        if due or disarm:
            self.post(self.world.engagement_cloud.url, "/_emulator/stuck-imports", {"count": 0})
            for job in stuck:
                self.post(self.world.engagement_cloud.url, f"/_emulator/imports/{job['id']}/release", {})
            self.stuck["released_at"] = time.time()
            held = f"held {time.time() - self.stuck['held_at']:.0f} s" if "held_at" in self.stuck else "none was held"
            self.note(f"released the stuck import ({held})")

    def lose_enrolment_answer(self, knob: str) -> None:
        """The next enrolment call Engagement Cloud accepts is applied, then its answer is lost
        (a 5xx or a cut connection). Meanwhile the other Engagement Cloud faults apply only to
        enrolment calls too (``only_paths`` is one setting for all knobs)."""
        if not self.applied_faults:
            self.note("this Engagement Cloud emulator has no applied-then-lost writes")
            return
        self.watch_lost(end=True)
        self.post(self.world.engagement_cloud.url, "/_emulator/faults", {"only_paths": [ENROLMENT_PATH], knob: 1})
        window = max(0.1 * self.args.minutes * 60, 300.0)
        self.lost_answer = {"knob": knob, "until": self.active() + window}

    def watch_lost(self, end: bool = False) -> None:
        """Once the lost answer happened (or its window closed), faults apply to every path again."""
        lost = self.lost_answer
        if not lost:
            return
        settings = self.get(self.world.engagement_cloud.url, "/_emulator/faults")["settings"]
        happened = settings[lost["knob"]] == 0
        if happened or end or self.active() >= lost["until"]:
            self.post(self.world.engagement_cloud.url, "/_emulator/faults", {"only_paths": [], lost["knob"]: 0})
            self.lost_answers.append(happened)
            self.lost_answer = None
            self.note("an enrolment call was applied and its answer lost" if happened
                      else "[yellow]no enrolment call was accepted while its answer was to be lost[/yellow]")

    def sync_now_during_cycle(self) -> None:
        """Sync now, and once that cycle runs, Sync now again (from the page as it was)."""
        outcome: dict[str, Any] = {"hit": False, "honoured": False}
        self.sync_now.append(outcome)
        for _ in range(5):  # cycles of a quiet store take a second: the press may come too late
            self.click("sync-now")
            form = self.form_to("sync-now")  # the page as it is now, kept open while the cycle starts
            running, deadline = None, time.time() + 60
            while running is None and time.time() < deadline:
                status = self.status() or {}
                running = status.get("running")
                if running is None or running.get("trigger") == "fast_lane":  # a cycle, not the fast lane
                    running = None
                    time.sleep(0.1)
            if running is None or form is None:
                continue
            self.submit(form)
            status = self.status() or {}
            outcome["hit"] = bool(status.get("running") and status["running"]["id"] == running["id"])
            outcome["run"] = running["id"]
            if outcome["hit"]:  # still running after the press was answered: it landed mid-cycle
                break
        if not outcome["hit"]:
            self.note("[yellow]Sync now: no press landed while a cycle ran[/yellow]")
            return
        deadline = time.time() + 180
        while time.time() < deadline and not outcome["honoured"]:
            status = self.status() or {}
            runs = [status.get("running"), status.get("last_run")]
            outcome["honoured"] = any(r and r["id"] > running["id"] and r["trigger"] == "manual" for r in runs)
            self.wait(1)
        self.note(f"Sync now during cycle {running['id']}: "
                  f"{'a manual cycle followed' if outcome['honoured'] else 'NO cycle followed'}")

    def data_sync(self, on: bool) -> None:
        self.visit("/settings/store")
        form = self.form_to("data-sync")
        if form is None or form.fields.get("enabled") != ("on" if on else "off"):
            self.note(f"Data sync is already {'on' if on else 'off'}")
            return
        self.submit(form)
        status = self.status() or {}
        if status.get("sync_enabled") is not on:
            self.note(f"[red]Data sync did not turn {'on' if on else 'off'}[/red]")

    def reconnect(self) -> None:
        """At a quiet moment: Disconnect on the Connect page, then connect and configure again."""
        started = time.time()
        self.churn_paused = True
        self.note("disconnect: churn paused until the account holds what the store says")
        self.drain["quiet_before_disconnect"] = self.wait_until_in_step(self.args.quiet_minutes * 60)
        self.rows_before_disconnect = self.enrolment_rows()
        self.visit("/settings/connect")
        for _ in range(4):  # follow whatever the pages offer: a link to a confirmation page, a form
            form = self.form_to("disconnect")
            link = re.search(r'href="([^"]*disconnect[^"]*)"', self.browser.page.text if self.browser.page else "")
            if form is not None:
                self.submit(form, form.buttons[0] if form.buttons else None)
            elif link is not None:
                self.visit(urljoin(self.browser.page.url, html.unescape(link.group(1))).replace(self.world.host_url, ""))
            else:
                break
        disconnected = any("password" in form.fields for form in self.forms())
        self.note("disconnected" if disconnected else "[red]Disconnect did not lead back to the Connect page[/red]")
        self.disconnects.append(disconnected)
        self.connect_account()
        if disconnected:
            self.churn.period += 1
        self.connected_at.append(time.time())
        self.click("sync-now")  # the merchant fills the new account at once
        self.wait_for_cycle(self.connected_at[-1], 600)
        self.paused += time.time() - started
        self.churn_paused = False
        self.note(f"reconnected; churn resumes (paused {time.time() - started:.0f} s)")

    def wait_for_cycle(self, after: float, seconds: float) -> bool:
        deadline = time.time() + seconds
        while time.time() < deadline:
            if self.host(after)["finished"]:
                return True
            self.wait(2)
        self.note("[red]no cycle finished after the reconnect[/red]")
        return False

    def wait_until_in_step(self, seconds: float) -> bool:
        """Until Engagement Cloud holds what the store says and every due enrolment went out."""
        started = time.time()
        deadline, said, same = started + seconds, started, (None, started)
        while time.time() < deadline:
            store, account = self.churn.store(), self.poll()
            self.watch_stuck()  # a stuck import plays out its time
            differences = state_differences(store, account, CUSTOMERS_BOOK, SUBSCRIBERS_BOOK)
            due = due_enrolments(store, self.churn.log, self.churn.period)
            missing = compare_enrolments(due, sent_by_trigger(account, PROGRAMS), self.seen).missing
            if not differences and not missing and not self.host()["inbox"]:
                self.note(f"in step after {time.time() - started:.0f} s")
                return True
            if differences != same[0]:
                same = (differences, time.time())
            elif not missing and time.time() - same[1] >= 180:  # the rest is not going to change
                self.note(f"[yellow]every due enrolment went out, but Engagement Cloud stays apart from the "
                          f"store: {differences}[/yellow]")
                return False
            if time.time() - said >= 60:
                said = time.time()
                self.note(f"waiting for the quiet moment: {len(missing)} enrolment(s) due, "
                          f"{len(differences)} difference(s) {list(differences)}")
            self.wait(5)
        self.note(f"[yellow]not in step after {seconds:.0f} s: {differences} {missing[:3]}[/yellow]")
        return False

    # ------------------------------------------------------------------ the run
    def run(self) -> None:
        total = self.args.minutes * 60
        self.note(f"churn for {self.args.minutes:g} min, a round of {self.args.changes} change(s) every "
                  f"{self.args.every:g} s; faults: {', '.join(name for _, name in SCHEDULE)}"
                  f"{'; applied-then-lost writes' if self.applied_faults else ''}")
        self.churn_started, self.churning = time.time(), True
        pending = list(SCHEDULE)
        while self.active() < total:
            self.housekeeping()
            while pending and self.active() >= pending[0][0] * total:
                self.fault(pending.pop(0)[1])
            time.sleep(0.5)
        for _, name in pending:  # a very short run: whatever did not come yet
            self.fault(name)
        self.churn_ended, self.churning = time.time(), False
        self.note(f"churn stopped after {len(self.churn.log)} changes; faults off; draining")
        self.set_faults(error_rate=0.0, drop_rate=0.0, burst_429_every=0, pending_429=0,
                        **({k: 0 for k in APPLIED_ERRORS} if self.applied_faults else {}))
        self.watch_stuck(release=True, disarm=True)
        self.watch_lost(end=True)
        status = self.status() or {}
        if status.get("sync_enabled") is False:
            self.data_sync(True)
        self.drain_queues()

    def drain_queues(self) -> None:
        started = time.time()
        self.drain["started"] = started
        self.click("sync-now")
        deadline, calm, last = started + self.args.drain_minutes * 60, 0, 0.0
        while time.time() < deadline:
            host = self.host(started)
            stuck = [job for job in (self.account or {}).get("imports", []) if job.get("stuck")]
            quiet = not host["waiting"] and not host["inbox"] and not host["running"] and host["finished"] and not stuck
            calm = calm + 1 if quiet else 0
            if calm >= 2:
                break
            if time.time() - last > 60:
                last = time.time()
                next_due = f" (next due {host['next_due']:%H:%M:%S} UTC)" if host["next_due"] else ""
                self.note(f"draining: enrolments waiting {host['waiting'] or 'none'}{next_due}, "
                          f"inbox {host['inbox']}, cycles finished since {host['finished']}")
            self.wait(5)
        self.drain["seconds"] = time.time() - started
        self.drain["timed_out"] = calm < 2
        self.poll()

    # ------------------------------------------------------------------ verdict and report
    def verdict(self) -> dict[str, Any]:
        store, account = self.churn.store(), self.poll()
        differences = state_differences(store, account, CUSTOMERS_BOOK, SUBSCRIBERS_BOOK)
        due = due_enrolments(store, self.churn.log, self.churn.period)
        enrolments = compare_enrolments(due, sent_by_trigger(account, PROGRAMS), self.seen)
        rows = self.enrolment_rows()
        failed = transient_failures(self.rows_before_disconnect + rows)
        unsettled = [row for row in rows if row["state"] in UNSETTLED_STATES]
        self.save(store, account, rows)
        return {
            "store": store, "account": account, "differences": differences, "enrolments": enrolments,
            "rows": rows, "transient_failures": failed, "unsettled": unsettled,
            "checks": {
                "queues drained": not self.drain.get("timed_out") and not unsettled,
                "Engagement Cloud holds what the store says": not differences,
                "every due enrolment exactly once": enrolments.ok,
                "no enrolment failed for a transient reason": not failed,
                "no page showed internal error text": not self.page_problems,
                "every disconnect and reconnect went through the pages": all(self.disconnects),
            },
        }

    def save(self, store, account, rows) -> None:
        (self.workdir / "bigcommerce.json").write_text(json.dumps(store, indent=1, ensure_ascii=False))
        (self.workdir / "engagement_cloud.json").write_text(json.dumps(account, indent=1, ensure_ascii=False))
        (self.workdir / "changes.json").write_text(json.dumps([asdict(c) for c in self.churn.log], indent=1))
        (self.workdir / "enrolment_rows.json").write_text(json.dumps(self.rows_before_disconnect + rows, indent=1))
        (self.workdir / "events.json").write_text(json.dumps(self.events, indent=1))

    def numbers(self, result: dict[str, Any]) -> dict[str, Any]:
        account = result["account"]
        enrolments = account.get("enrolments") or []
        attempts = sum(n for call, n in self.ec_requests.items()
                       if call.startswith("POST ") and call.endswith("/programs/enrolments"))
        times = sorted(self.enrolment_times)
        busiest = max((sum(1 for t in times if start <= t < start + 3600) for start in times), default=0)
        injected = {}
        for name, server in (("Engagement Cloud", self.world.engagement_cloud), ("BigCommerce", self.world.bigcommerce)):
            injected[name] = self.get(server.url, "/_emulator/faults")["injected"]
        waits = result["enrolments"].waits
        return {
            "changes": self.churn.by_kind(),
            "calls": len(enrolments),
            "contacts": sum(len(e["contacts"]) for e in enrolments),
            "by_program": sum((Counter({trigger: n}) for (trigger, _), n in sent_by_trigger(account, PROGRAMS).items()),
                              Counter()),
            "attempts": attempts,
            "busiest_hour": busiest,
            "injected": injected,
            "longest_wait": max(waits, default=0.0),
            "median_wait": statistics.median(waits) if waits else 0.0,
            "within_5": sum(1 for wait in waits if wait <= 300),
        }

    def report(self, result: dict[str, Any], argv: list[str]) -> tuple[str, Table]:
        numbers, enrolments = self.numbers(result), result["enrolments"]
        changes = numbers["changes"]
        soak_faults = [f"{name} ×{n}" for name, n in self.faults.items()]
        if self.stuck:
            held = self.stuck.get("released_at", 0) - self.stuck.get("held_at", 0) if "held_at" in self.stuck else 0
            soak_faults.append(f"imports held by the stuck-import fault: {len(self.stuck['held'])} ({held:.0f} s)")
        hits = sum(1 for s in self.sync_now if s["hit"])
        honoured = sum(1 for s in self.sync_now if s["honoured"])
        rows = [
            ("Command", f"`bench/soak.py {shlex.join(argv)}`"),
            ("Store", f"{self.args.customers} customers, {self.args.subscribers} subscribers, "
                      f"{self.args.orders} orders, {self.args.products} products (seed {self.args.seed})"),
            ("Duration", f"{self.args.minutes:g} min of churn, {self.paused / 60:.1f} min paused for the reconnect, "
                         f"{self.drain.get('seconds', 0) / 60:.1f} min draining"
                         f"{' (TIMED OUT)' if self.drain.get('timed_out') else ''}"),
            ("Changes made", f"{sum(changes.values())}: " + ", ".join(f"{k} {n}" for k, n in changes.most_common())
             + (f" (refused by the emulator: {dict(self.churn.errors)})" if self.churn.errors else "")),
            ("Enrolments due", f"{enrolments.due_exact} exactly once"
                               + (f", {enrolments.due_at_most_once} at most once (before the disconnect; "
                                  f"{enrolments.dropped_by_disconnect} not sent)" if enrolments.due_at_most_once else "")),
            ("Enrolments sent", f"{numbers['contacts']} contacts in {numbers['calls']} calls ("
                                + ", ".join(f"{k} {n}" for k, n in sorted(numbers["by_program"].items())) + ")"),
            ("Allowance used", f"{numbers['calls']} calls accepted, {numbers['attempts']} POSTs in all; "
                               f"busiest hour {numbers['busiest_hour']} of {ALLOWANCE_PER_HOUR}"),
            ("Longest enrolment wait", f"{numbers['longest_wait'] / 60:.1f} min (median "
                                       f"{numbers['median_wait'] / 60:.1f} min; {numbers['within_5']} of "
                                       f"{len(enrolments.waits)} within 5 min; trigger to first seen, "
                                       f"±{self.args.poll_seconds:g} s)"),
            ("Faults injected", "; ".join(
                [f"{name}: " + (", ".join(f"{k} {n}" for k, n in sorted(counts.items())) or "none")
                 for name, counts in numbers["injected"].items()]
                + [", ".join(soak_faults)]
                + [f"Sync now during a cycle: {hits} of {len(self.sync_now)} landed mid-cycle, {honoured} followed by a cycle"]
                + [f"enrolment calls applied with their answer lost: {sum(self.lost_answers)} of {len(self.lost_answers)} tries"])),
            ("Pages checked", f"{self.pages_checked} (Store tab and status JSON every {self.args.page_seconds:g} s, "
                              f"and every page of the faults)"),
            ("Host errors logged", str(sum(self.errors.messages.values()))),
        ]
        for check, ok in result["checks"].items():
            rows.append((check, "pass" if ok else "FAIL"))
        table = Table(title="Soak run")
        table.add_column("")
        table.add_column("")
        for name, value in rows:
            table.add_row(name, value.replace("`", ""), style=None if value != "FAIL" else "bold red")
        lines = [
            "## Soak",
            "",
            f"Python {platform.python_version()}, {platform.machine()}, {date.today().isoformat()}; "
            f"cycles every {self.args.interval_seconds:g} s after the last, fast lane every 5 s, "
            f"the enrolment allowance at {ALLOWANCE_PER_HOUR} calls an hour.",
            "",
            "| | |",
            "|---|---|",
            *[f"| {name} | {value} |" for name, value in rows],
        ]
        problems = self.problem_lines(result)
        if problems:
            lines += ["", "What failed:", "", *[f"- {line}" for line in problems]]
        return "\n".join(lines), table

    def problem_lines(self, result: dict[str, Any]) -> list[str]:
        lines = [f"Engagement Cloud {part}: {text}" for part, text in result["differences"].items()]
        enrolments = result["enrolments"]
        lines += [f"{trigger} {email}: due {due}, sent {got}" for trigger, email, due, got in enrolments.missing[:10]]
        lines += [f"{trigger} {email}: due at most {due}, sent {got}" for trigger, email, due, got in enrolments.extra[:10]]
        if len(enrolments.missing) + len(enrolments.extra) > 20:
            lines.append(f"... {len(enrolments.missing)} missing and {len(enrolments.extra)} extra in all")
        lines += [f"enrolment {r['trigger']} {r['email']} failed: {r['reason']}" for r in result["transient_failures"][:10]]
        states = Counter(r["state"] for r in result["unsettled"])
        if states:
            lines.append("still queued at the end: " + ", ".join(f"{s} {n}" for s, n in states.items()))
        lines += [f"page {label}: {problem}" for _, label, problem in self.page_problems[:10]]
        return lines


def parse(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=30, help="how long the store churns (default 30)")
    parser.add_argument("--drain-minutes", type=float, default=70,
                        help="how long to wait for the queues afterwards (enrolments may wait for the hourly allowance)")
    parser.add_argument("--every", type=float, default=15, help="seconds between rounds of store changes")
    parser.add_argument("--changes", type=int, default=2, help="changes per round")
    parser.add_argument("--interval-seconds", type=float, default=300,
                        help="a cycle starts this long after the last finished (the product's 300)")
    parser.add_argument("--quiet-minutes", type=float, default=15,
                        help="at most this long for the quiet moment before the disconnect")
    parser.add_argument("--stuck-seconds", type=float, default=None,
                        help="how long the stuck import stays stuck (default 12%% of the run, at most 180 s)")
    parser.add_argument("--poll-seconds", type=float, default=15, help="how often Engagement Cloud's state is read")
    parser.add_argument("--page-seconds", type=float, default=60, help="how often the Store tab is fetched")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--customers", type=int, default=300)
    parser.add_argument("--subscribers", type=int, default=120)
    parser.add_argument("--orders", type=int, default=600)
    parser.add_argument("--products", type=int, default=60)
    parser.add_argument("--workdir", help="keep the host database, its log and the final states here")
    parser.add_argument("--no-write", action="store_true", help="print the results only")
    return parser.parse_args(argv)


def _interrupt(*_: object) -> None:
    raise KeyboardInterrupt


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    args = parse(argv)
    console = Console(width=None if sys.stdout.isatty() else 160)
    soak = Soak(args, console)
    signal.signal(signal.SIGTERM, _interrupt)
    try:
        soak.start()
        soak.run()
        result = soak.verdict()
        text, table = soak.report(result, argv)
    except KeyboardInterrupt:
        console.print("[red]interrupted[/red]")
        return 130
    finally:
        soak.stop()
    console.print(table)
    for line in soak.problem_lines(result):
        console.print(f"[red]✗[/red] {line}")
    for message, n in soak.errors.messages.most_common(10):
        console.print(f"host logged ×{n}: {message}")
    console.print(f"work folder: {soak.workdir}")
    if not args.no_write:
        write_section("soak", text, doc=DOC, title="Reliability")
        console.print(f"wrote the Soak section of {DOC.relative_to(ROOT)}")
    return 0 if all(result["checks"].values()) else 1


if __name__ == "__main__":
    sys.exit(main())
