"""What the demo prints: a short status, then the login link as the last line, again on demand.

A newcomer runs ``make run`` and needs one thing from the terminal: the link that logs them in
as the demo merchant. So the demo says what it started and what the first sync sent, then
prints the link last; request logs are off unless asked for (``--request-log``), so nothing
buries it. The link is printed again, freshly signed, when Enter is pressed (any line on
standard input: "l" works too, "q" stops the demo), and ``flask --app host demo-link`` prints one
from another terminal (it reads ``<instance>/demo/session.json``, which the running demo writes).
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import sys
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import IO

import click

LINK_PREFIX = "Log in as the demo merchant: "
SESSION_FILE = "session.json"
# The order in which a sync's streams are told; any other stream follows in its own order.
STREAM_ORDER = ("customers", "subscribers", "orders", "guests", "products", "contacts", "enrolments")
# werkzeug's logger carries the request log of all three web servers (host and both emulators);
# mail.log is the local SMTP server's (a line per connection).
REQUEST_LOGGERS = ("werkzeug", "mail.log")


def configure_request_log(enabled: bool) -> None:
    """Request logs of the host, both emulators and the SMTP server on or off; warnings and errors
    are always shown."""
    for name in REQUEST_LOGGERS:
        logging.getLogger(name).setLevel(logging.INFO if enabled else logging.WARNING)


def link_line(link: str) -> str:
    return LINK_PREFIX + link


def sync_summary(run) -> list[str]:
    """The first sync in a few lines: its outcome, then per stream what was read and sent."""
    duration = (run.finished_at - run.started_at).total_seconds() if run.finished_at and run.started_at else 0.0
    outcome = "finished" if run.status == "finished" else f"ended {run.status}"
    lines = [f"First sync (cycle {run.id}) {outcome} in {duration:.1f} s:"]
    counts = dict(run.counts or {})
    names = [name for name in STREAM_ORDER if name in counts] + sorted(set(counts) - set(STREAM_ORDER))
    rows = []
    for name in names:
        stream = counts[name] or {}
        parts = [f"{stream[key]} {key}" for key in ("read", "sent", "unchanged", "excluded", "failed") if stream.get(key)]
        if parts:
            rows.append((name.replace("_", " "), ", ".join(parts)))
    width = max((len(name) for name, _ in rows), default=0)
    lines.extend(f"  {name:<{width}}  {text}" for name, text in rows)
    if not rows:
        lines.append("  nothing to send")
    for area, message in (run.errors or {}).items():
        lines.append(f"  ! {area}: {message}")
    return lines


@dataclass
class DemoSession:
    """What ``demo-link`` needs to sign a login link for the running demo."""

    host_url: str
    client_id: str
    client_secret: str
    store_hash: str
    pid: int

    def write(self, folder: Path) -> Path:
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / SESSION_FILE
        path.touch(mode=0o600)  # the demo app's client secret: for this user only
        path.write_text(json.dumps(self.__dict__, indent=1))
        return path

    @classmethod
    def read(cls, folder: Path) -> DemoSession | None:
        try:
            return cls(**json.loads((folder / SESSION_FILE).read_text()))
        except (OSError, ValueError, TypeError):
            return None

    def is_running(self) -> bool:
        try:
            os.kill(self.pid, 0)
        except ProcessLookupError:
            return False
        except PermissionError:
            return True
        return True


def remove_session(folder: Path) -> None:
    with contextlib.suppress(OSError):
        (folder / SESSION_FILE).unlink()


class DemoConsole:
    """Prints the demo's lines; once the demo is ready, every message is followed by the link again,
    so the link is always the last line on the screen."""

    def __init__(self, out: IO[str] | None = None):
        self.out = out
        self._lock = threading.Lock()
        self._link: Callable[[], str] | None = None

    def echo(self, *lines: str) -> None:
        with self._lock:
            for line in lines:
                click.echo(line, file=self.out)
            if self._link is not None:
                click.echo("", file=self.out)
                click.echo(link_line(self._link()), file=self.out)

    def ready(self, link: Callable[[], str], *lines: str) -> None:
        """From now on, end every message with a freshly signed login link."""
        self._link = link
        self.echo(*lines)

    def show_link(self) -> None:
        if self._link is not None:
            self.echo()


def listen_for_keys(console: DemoConsole, stop: threading.Event, stream: IO[str] | None = None) -> threading.Thread:
    """Each line on standard input (Enter, "l") prints the link again; "q" stops the demo.

    Without a terminal, standard input may be closed or empty: the listener then simply ends.
    """
    stream = stream if stream is not None else sys.stdin

    def loop():
        with contextlib.suppress(OSError, ValueError):  # closed or unreadable standard input
            for line in stream:
                if stop.is_set():
                    return
                if line.strip().lower() in ("q", "quit", "exit"):
                    stop.set()
                    return
                console.show_link()

    thread = threading.Thread(target=loop, name="demo-keys", daemon=True)
    thread.start()
    return thread
