"""`make run`'s demo, as a newcomer meets it: a short status and the login link last, no request
logs, the link again on demand, and an SMTP test that never leaves the machine (issue 12)."""

from __future__ import annotations

import io
import os
import queue
import re
import signal
import subprocess
import sys
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import SimpleNamespace

import pytest

from demo.browser import Browser
from demo.console import (
    LINK_PREFIX,
    DemoConsole,
    configure_request_log,
    listen_for_keys,
    sync_summary,
)

REPOSITORY = Path(__file__).resolve().parents[2]
FLASK = str(Path(sys.executable).with_name("flask"))
REQUEST_LOG = re.compile(r'"(GET|POST|PUT|PATCH|DELETE|HEAD) \S+ HTTP/1\.[01]" \d{3}')
LINK = re.compile(re.escape(LINK_PREFIX) + r"(http://127\.0\.0\.1:\d+/bigcommerce/load\?signed_payload_jwt=[\w.-]+)$")


class Demo:
    """`flask --app host demo` in a child process, its output read line by line as it comes."""

    def __init__(self, instance: Path, *args: str):
        self.env = {**os.environ, "HOST_INSTANCE_PATH": str(instance), "PYTHONUNBUFFERED": "1"}
        self.env.pop("DATABASE_URL", None)
        self.process = subprocess.Popen(
            [FLASK, "--app", "host", "demo", "--port", "0", "--seed", "3", "--customers", "20", "--subscribers", "10",
             "--orders", "30", "--products", "6", "--activity-seconds", "3600", *args],
            cwd=REPOSITORY, env=self.env, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
            text=True, bufsize=1,
        )
        self.lines: list[str] = []
        self._queue: queue.Queue[str | None] = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        for line in self.process.stdout:
            self._queue.put(line.rstrip("\n"))
        self._queue.put(None)

    def wait_for(self, pattern: re.Pattern | str, seconds: float = 120) -> str:
        """Read until a line matches; answer it."""
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            try:
                line = self._queue.get(timeout=0.5)
            except queue.Empty:
                continue
            if line is None:
                raise AssertionError("the demo stopped:\n" + "\n".join(self.lines[-40:]))
            self.lines.append(line)
            if re.search(pattern, line):
                return line
        raise AssertionError(f"no line like {pattern!r} within {seconds} s:\n" + "\n".join(self.lines[-40:]))

    def settle(self, seconds: float = 1.5) -> None:
        """Take in whatever else is printed within a moment."""
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            try:
                line = self._queue.get(timeout=0.1)
            except queue.Empty:
                continue
            if line is not None:
                self.lines.append(line)

    def last_line(self) -> str:
        return next(line for line in reversed(self.lines) if line.strip())

    def stop(self) -> int:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        try:
            return self.process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
            raise


@pytest.fixture
def demo(tmp_path):
    running = Demo(tmp_path / "instance")
    try:
        yield running
    finally:
        running.stop()


def test_the_demo_prints_a_short_status_and_the_login_link_last_and_tests_smtp_offline(demo, tmp_path):
    link_line = demo.wait_for(LINK)
    demo.settle()
    output = "\n".join(demo.lines)
    assert demo.last_line() == link_line, output
    assert not REQUEST_LOG.search(output), f"request logs are off by default:\n{output}"
    assert "First sync (cycle 1) finished" in output
    assert re.search(r"^  customers\s+20 read, 20 sent$", output, re.M), output
    assert re.search(r"SMTP test server\s+127\.0\.0\.1:\d+", output)
    assert len(demo.lines) <= 30, f"a short status:\n{output}"

    # The link logs in; the SMTP tab's test goes to the demo's own server, on this machine.
    host = LINK.search(link_line).group(1).split("/bigcommerce/")[0]
    browser = Browser(timeout=30)
    browser.open(LINK.search(link_line).group(1))
    assert browser.page.url.startswith(f"{host}/settings/"), browser.page.url
    browser.open(f"{host}/settings/smtp")
    assert re.search(r'id="smtp-test-server".*?<code>127\.0\.0\.1:\d+</code>', browser.page.text, re.S), \
        "the tab says where its test really goes"
    form = browser.form("username")
    form.fields.update({"username": "newcomer@example.com", "password": "anything", "port": "587"})
    browser.submit(form, ("action", "test"))
    assert "Test passed." in browser.page.text
    assert "250 2.0.0 Ok: queued as TEST123" in browser.page.text
    received = demo.wait_for(r"^The demo SMTP server received a test email for owner@")
    outbox = tmp_path / "instance" / "demo" / "outbox"
    [message] = list(outbox.glob("*.eml"))
    assert str(message.name) in received
    assert "Subject: Test email from Demo Outdoor Goods through Engagement Cloud SMTP" in message.read_text()
    demo.wait_for(LINK)
    demo.settle(0.5)
    assert LINK.search(demo.last_line()), "after a message, the link is printed again, last"

    # Again on demand: Enter prints a fresh link; `flask --app host demo-link` prints one elsewhere.
    before = len([line for line in demo.lines if LINK.search(line)])
    demo.process.stdin.write("\n")
    demo.process.stdin.flush()
    demo.wait_for(LINK, seconds=20)
    assert len([line for line in demo.lines if LINK.search(line)]) == before + 1
    other = subprocess.run([FLASK, "--app", "host", "demo-link"], cwd=REPOSITORY, env=demo.env,
                           capture_output=True, text=True, timeout=60)
    assert other.returncode == 0, other.stderr
    [printed] = other.stdout.splitlines()
    assert LINK.search(printed)
    Browser(timeout=30).open(LINK.search(printed).group(1))  # it logs in too

    assert demo.stop() == 0
    assert not (tmp_path / "instance" / "demo" / "session.json").exists()
    gone = subprocess.run([FLASK, "--app", "host", "demo-link"], cwd=REPOSITORY, env=demo.env,
                          capture_output=True, text=True, timeout=60)
    assert gone.returncode != 0 and "no demo is running" in gone.stderr


def test_the_console_ends_every_message_with_a_fresh_link_once_ready():
    out = io.StringIO()
    console = DemoConsole(out)
    console.echo("Started: the emulators")
    assert LINK_PREFIX not in out.getvalue()
    links = iter(["http://127.0.0.1:5000/bigcommerce/load?signed_payload_jwt=a.b.c",
                  "http://127.0.0.1:5000/bigcommerce/load?signed_payload_jwt=d.e.f"])
    console.ready(lambda: next(links), "Ready.")
    console.echo("The demo SMTP server received a test email for owner@example.com")
    lines = out.getvalue().splitlines()
    assert lines[-1] == LINK_PREFIX + "http://127.0.0.1:5000/bigcommerce/load?signed_payload_jwt=d.e.f"
    assert lines.count("Ready.") == 1


def test_keys_print_the_link_again_and_q_stops():
    out = io.StringIO()
    console = DemoConsole(out)
    console.ready(lambda: "http://127.0.0.1:5000/bigcommerce/load?signed_payload_jwt=x.y.z")
    stop = threading.Event()
    listen_for_keys(console, stop, io.StringIO("\nl\nq\n\n")).join(timeout=5)
    assert out.getvalue().count(LINK_PREFIX) == 3  # on ready, then Enter and "l"; nothing after "q"
    assert stop.is_set()
    listen_for_keys(console, threading.Event(), io.StringIO("")).join(timeout=5)  # no terminal: ends quietly


def test_the_first_sync_summary_is_a_few_lines_per_stream():
    started = datetime(2026, 1, 1, tzinfo=UTC)
    run = SimpleNamespace(
        id=1, status="finished", started_at=started, finished_at=started + timedelta(seconds=2.5), errors={},
        counts={"products": {"read": 12, "sent": 8, "excluded": 4}, "customers": {"read": 40, "sent": 40},
                "enrolments": {"read": 0, "sent": 0}},
    )
    assert sync_summary(run) == [
        "First sync (cycle 1) finished in 2.5 s:",
        "  customers  40 read, 40 sent",
        "  products   12 read, 8 sent, 4 excluded",
    ]


def test_request_logs_are_a_switch():
    import logging

    try:
        configure_request_log(True)
        assert logging.getLogger("werkzeug").isEnabledFor(logging.INFO)
        configure_request_log(False)
        assert not logging.getLogger("werkzeug").isEnabledFor(logging.INFO)
        assert logging.getLogger("werkzeug").isEnabledFor(logging.WARNING)
    finally:
        logging.getLogger("werkzeug").setLevel(logging.NOTSET)
        logging.getLogger("mail.log").setLevel(logging.NOTSET)
