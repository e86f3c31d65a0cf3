"""A burst of BigCommerce webhooks against a running host: every one answered 200, and stored?

Open-loop load over loopback: request *i* is due at ``start + i / rate`` whether or not the
earlier ones were answered (so a slow server shows as latency, not as a politely slower
client), each on its own TCP connection like BigCommerce's deliveries, each a distinct event
(its own ``hash``) naming one of the store's customers. It reports how many were sent,
answered 200, answered otherwise, lost (no answer within ``--timeout``), the answer times
(p50, p95, p99, max — counted from when each request was due), and, when it can read the
host's database, how many of the events were stored.

Three targets:

    # what `make run` serves: the demo (threaded werkzeug server, scheduler and fast lane
    # running, store changing) started as a subprocess exactly as `make run` starts it
    .venv/bin/python bench/webhook_burst.py --demo [--rate 200] [--seconds 30]

    # gunicorn's sync workers on a fresh SQLite database with one connection
    # (`.venv/bin/pip install gunicorn` first)
    .venv/bin/python bench/webhook_burst.py --gunicorn 4 [--rate 200] [--seconds 30]

    # Flask's threaded development server alone (no emulators, no scheduler)
    .venv/bin/python bench/webhook_burst.py --flask-run [--rate 200] [--seconds 30]

    # any running host, given its receiver, a store hash and that store's webhook secret
    .venv/bin/python bench/webhook_burst.py --url http://127.0.0.1:5000/bigcommerce/webhooks \\
        --store STORE_HASH --secret SECRET [--database-url URL --instance-path PATH]

The load is bounded (``--rate`` at most 1,000 a second, ``--seconds`` at most 300) and goes to
loopback only. Figures are written down in docs/reliability.md ("Webhook burst").
"""

from __future__ import annotations

import argparse
import hashlib
import http.client
import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

SECRET_HEADER = "X-Connector-Webhook-Secret"
MAX_RATE = 1000
MAX_SECONDS = 300


@dataclass
class Result:
    sent: int = 0
    statuses: Counter = field(default_factory=Counter)
    lost: int = 0
    errors: Counter = field(default_factory=Counter)
    latencies: list[float] = field(default_factory=list)
    late_starts: int = 0  # requests the generator itself sent more than 50 ms after they were due
    hashes: list[str] = field(default_factory=list)
    wall: float = 0.0

    def percentile(self, share: float) -> float:
        if not self.latencies:
            return float("nan")
        ordered = sorted(self.latencies)
        return ordered[min(len(ordered) - 1, int(share * len(ordered)))]

    def summary(self) -> dict:
        return {
            "sent": self.sent,
            "answered_200": self.statuses.get(200, 0),
            "other_statuses": {str(k): v for k, v in self.statuses.items() if k != 200},
            "lost": self.lost,
            "errors": dict(self.errors),
            "p50_ms": round(self.percentile(0.50) * 1000, 1),
            "p95_ms": round(self.percentile(0.95) * 1000, 1),
            "p99_ms": round(self.percentile(0.99) * 1000, 1),
            "max_ms": round(max(self.latencies, default=float("nan")) * 1000, 1),
            "achieved_rate": round(self.sent / self.wall, 1) if self.wall else 0,
            "generator_late_starts": self.late_starts,
        }


def event(store_hash: str, run: str, number: int, customers: int) -> tuple[str, bytes]:
    digest = hashlib.sha1(f"{run}:{number}".encode()).hexdigest()
    body = {
        "scope": "store/customer/updated",
        "store_id": "1025646",
        "data": {"type": "customer", "id": 1 + number % customers},
        "hash": digest,
        "created_at": int(time.time()),
        "producer": f"stores/{store_hash}",
    }
    return digest, json.dumps(body).encode()


def burst(url: str, store_hash: str, secret: str, rate: float, seconds: float, *,
          customers: int = 100, timeout: float = 30.0, workers: int = 256) -> Result:
    """Send ``rate * seconds`` events, each due at its own instant; answer what came back."""
    target = urlsplit(url)
    if target.hostname not in ("127.0.0.1", "localhost", "::1"):
        raise SystemExit("the burst goes to loopback only")
    total = int(rate * seconds)
    run = secrets.token_hex(6)
    result = Result()
    lock = threading.Lock()

    def deliver(number: int, due: float) -> None:
        digest, body = event(store_hash, run, number, customers)
        if time.monotonic() - due > 0.05:
            with lock:
                result.late_starts += 1
        connection = http.client.HTTPConnection(target.hostname, target.port or 80, timeout=timeout)
        try:
            connection.request("POST", target.path, body=body, headers={
                "Content-Type": "application/json", SECRET_HEADER: secret, "Connection": "close",
            })
            status = connection.getresponse().status
            elapsed = time.monotonic() - due
            with lock:
                result.statuses[status] += 1
                result.latencies.append(elapsed)
                result.hashes.append(digest)
        except (OSError, http.client.HTTPException) as error:
            with lock:
                result.lost += 1
                result.errors[type(error).__name__] += 1
        finally:
            connection.close()

    start = time.monotonic() + 0.2
    with ThreadPoolExecutor(max_workers=workers) as pool:
        for number in range(total):
            due = start + number / rate
            pause = due - time.monotonic()
            if pause > 0:
                time.sleep(pause)
            pool.submit(deliver, number, due)
            result.sent += 1
    result.wall = time.monotonic() - start
    return result


def stored_count(instance_path: str, database_url: str, hashes: list[str]) -> int:
    """How many of the burst's events the host's inbox holds (read with the host's own code)."""
    from sqlalchemy import func, select

    from host import create_app
    from host.db import get_db
    from host.models import WebhookEvent

    app = create_app({"INSTANCE_PATH": instance_path, "DATABASE": {"url": database_url},
                      "SCHEDULER": {"enabled": False}})
    found = 0
    with app.app_context(), get_db().transaction() as session:
        for start in range(0, len(hashes), 500):
            chunk = hashes[start:start + 500]
            found += session.scalar(
                select(func.count()).select_from(WebhookEvent).where(
                    func.substr(WebhookEvent.dedupe_key, 1, 40).in_(chunk)  # "{hash}:{created_at}"
                )
            ) or 0
    app.extensions["host.db"].engine.dispose()
    return found


def cpu_seconds(pid: int) -> float:
    """User + system CPU of a process and its children so far (Linux /proc)."""
    total = 0.0
    ticks = os.sysconf("SC_CLK_TCK")
    pids = [pid]
    try:
        children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
        pids += [int(child) for child in children]
    except OSError:
        pass
    for one in pids:
        try:
            fields = Path(f"/proc/{one}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += (int(fields[11]) + int(fields[12])) / ticks
    return total


def free_port(span: int = 1) -> int:
    """A loopback port free together with the ``span - 1`` after it (the demo's emulators)."""
    for _ in range(100):
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            port = probe.getsockname()[1]
        try:
            for offset in range(1, span):
                with socket.socket() as probe:
                    probe.bind(("127.0.0.1", port + offset))
            return port
        except OSError:
            continue
    raise SystemExit("no free loopback ports")


def wait_for(url: str, seconds: float) -> None:
    deadline = time.monotonic() + seconds
    target = urlsplit(url)
    while time.monotonic() < deadline:
        try:
            connection = http.client.HTTPConnection(target.hostname, target.port, timeout=2)
            connection.request("GET", "/healthz")
            if connection.getresponse().status == 200:
                return
        except OSError:
            pass
        time.sleep(0.3)
    raise SystemExit(f"{url} did not come up within {seconds:.0f} s")


def bench_environment(**values: str) -> dict[str, str]:
    keep = {k: v for k, v in os.environ.items() if not k.startswith("HOST_") and k != "DATABASE_URL"}
    return {**keep, **values}


def stop(process: subprocess.Popen) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def demo_target(folder: str, **extra_env: str):
    """`make run`'s host: `flask --app host demo --port P`, once it says it is ready."""
    port = free_port(span=3)  # the emulators take the next two
    log_path = Path(folder) / "demo.log"
    log = log_path.open("w")
    process = subprocess.Popen(
        [str(ROOT / ".venv" / "bin" / "flask"), "--app", "host", "demo", "--port", str(port)],
        cwd=ROOT, stdout=log, stderr=subprocess.STDOUT,
        env=bench_environment(HOST_INSTANCE_PATH=folder, **extra_env),
    )
    print(f"demo pid {process.pid}, log {log_path}", file=sys.stderr, flush=True)
    deadline = time.monotonic() + 300
    while "Settings pages:" not in log_path.read_text():
        if process.poll() is not None or time.monotonic() > deadline:
            stop(process)
            raise SystemExit(f"the demo did not start:\n{log_path.read_text()[-3000:]}")
        time.sleep(0.5)
    instance = str(Path(folder) / "demo")
    database_url = f"sqlite:///{Path(instance) / 'db' / 'demo.db'}"
    from sqlalchemy import select

    from host import create_app
    from host.db import get_db
    from host.models import Connection

    app = create_app({"INSTANCE_PATH": instance, "DATABASE": {"url": database_url},
                      "SCHEDULER": {"enabled": False}})
    with app.app_context(), get_db().transaction() as session:
        connection = session.scalar(select(Connection).where(Connection.source == "bigcommerce"))
        store_hash, secret = connection.source_account, connection.webhook_secret["value"]
    app.extensions["host.db"].engine.dispose()
    url = f"http://127.0.0.1:{port}/bigcommerce/webhooks"
    return process, url, store_hash, secret, instance, database_url, 300


def prepared_database(folder: str, database_url: str | None) -> tuple[str, str, str]:
    """A database at the current schema holding one BigCommerce connection: (url, store, secret)."""
    from host import create_app, migrations
    from host.db import get_db
    from host.models import Connection

    database_url = database_url or f"sqlite:///{Path(folder) / 'host.db'}"
    app = create_app({"INSTANCE_PATH": folder, "DATABASE": {"url": database_url},
                      "SCHEDULER": {"enabled": False}})
    store_hash, secret = f"burst{secrets.token_hex(3)}", secrets.token_urlsafe(32)
    with app.app_context():
        migrations.upgrade()
        with get_db().transaction() as session:
            session.add(Connection(source="bigcommerce", source_account=store_hash,
                                   store_name="Burst", webhook_secret={"value": secret}))
    app.extensions["host.db"].engine.dispose()
    return database_url, store_hash, secret


def server_target(folder: str, command: list[str], database_url: str | None, port: int):
    """A host server started by ``command`` on a prepared database, once /healthz answers."""
    database_url, store_hash, secret = prepared_database(folder, database_url)
    process = subprocess.Popen(
        command, cwd=ROOT, stdout=subprocess.DEVNULL,
        stderr=(Path(folder) / "server.log").open("w"),
        env=bench_environment(HOST_INSTANCE_PATH=folder, HOST_DATABASE__URL=database_url,
                              HOST_SCHEDULER__ENABLED="false"),
    )
    url = f"http://127.0.0.1:{port}/bigcommerce/webhooks"
    wait_for(url, 60)
    return process, url, store_hash, secret, folder, database_url, 100


def gunicorn_target(folder: str, workers: int, database_url: str | None):
    """gunicorn's sync workers (`host:create_app()`), the README's production server."""
    gunicorn = Path(sys.executable).parent / "gunicorn"
    if not gunicorn.exists():
        raise SystemExit("gunicorn is not installed: .venv/bin/pip install gunicorn")
    port = free_port()
    command = [str(gunicorn), "-w", str(workers), "-b", f"127.0.0.1:{port}",
               "--log-level", "warning", "host:create_app()"]
    return server_target(folder, command, database_url, port)


def flask_run_target(folder: str, database_url: str | None):
    """`flask --app host run`: Flask's threaded development server, nothing else in the process."""
    port = free_port()
    command = [str(Path(sys.executable).parent / "flask"), "--app", "host", "run",
               "--port", str(port), "--with-threads"]
    return server_target(folder, command, database_url, port)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    target = parser.add_mutually_exclusive_group(required=True)
    target.add_argument("--demo", action="store_true", help="start `make run`'s host and burst it")
    target.add_argument("--gunicorn", type=int, metavar="WORKERS", help="gunicorn with this many sync workers")
    target.add_argument("--flask-run", action="store_true", help="`flask --app host run` (threaded, alone)")
    target.add_argument("--url", help="a running host's webhook receiver")
    parser.add_argument("--store", help="with --url: the store hash the events come from")
    parser.add_argument("--secret", help="with --url: that store's webhook secret")
    parser.add_argument("--instance-path", help="with --url: the host's instance folder (to count stored events)")
    parser.add_argument("--database-url", help="the host's database (with --url, to count stored events; "
                                               "with --gunicorn, instead of a fresh SQLite file)")
    parser.add_argument("--rate", type=float, default=200.0, help="requests a second (default 200)")
    parser.add_argument("--seconds", type=float, default=30.0, help="how long (default 30)")
    parser.add_argument("--timeout", type=float, default=30.0, help="a request unanswered this long is lost")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON only")
    parser.add_argument("--keep", action="store_true", help="keep the work folder (server log, database)")
    parser.add_argument("--env", action="append", default=[], metavar="HOST_X=VALUE",
                        help="with --demo: a setting for the demo process (e.g. HOST_SYNC__FAST_LANE_SECONDS=3600)")
    args = parser.parse_args()
    if not (0 < args.rate <= MAX_RATE and 0 < args.seconds <= MAX_SECONDS):
        raise SystemExit(f"--rate must be in (0, {MAX_RATE}] and --seconds in (0, {MAX_SECONDS}]")

    with tempfile.TemporaryDirectory(prefix="webhook-burst-") as folder:
        if args.keep:
            folder = tempfile.mkdtemp(prefix="webhook-burst-kept-")
            print(f"kept: {folder}", file=sys.stderr)
        process = None
        try:
            if args.demo:
                process, url, store_hash, secret, instance, database_url, customers = demo_target(
                    folder, **dict(item.split("=", 1) for item in args.env))
                server = "demo (make run: threaded werkzeug, scheduler running)"
            elif args.gunicorn:
                process, url, store_hash, secret, instance, database_url, customers = gunicorn_target(
                    folder, args.gunicorn, args.database_url)
                server = f"gunicorn -w {args.gunicorn} (sync workers)"
            elif args.flask_run:
                process, url, store_hash, secret, instance, database_url, customers = flask_run_target(
                    folder, args.database_url)
                server = "flask run (threaded werkzeug, alone)"
            else:
                if not (args.store and args.secret):
                    raise SystemExit("--url needs --store and --secret")
                url, store_hash, secret = args.url, args.store, args.secret
                instance, database_url, customers = args.instance_path, args.database_url, 100
                server = url
            cpu_before = cpu_seconds(process.pid) if process else None
            load_before = os.getloadavg()[0]
            result = burst(url, store_hash, secret, args.rate, args.seconds,
                           customers=customers, timeout=args.timeout)
            server_cpu = round(cpu_seconds(process.pid) - cpu_before, 1) if process else None
            load_after = os.getloadavg()[0]
            time.sleep(1.0)
            stored = (stored_count(instance, database_url, result.hashes)
                      if instance and database_url else None)
        finally:
            if process is not None:
                stop(process)
    figures = {"server": server, "rate": args.rate, "seconds": args.seconds, **result.summary(),
               "stored": stored, "server_cpu_seconds": server_cpu,
               "load_average_before_after": [round(load_before, 2), round(load_after, 2)]}
    if args.json:
        print(json.dumps(figures))
        return
    for key, value in figures.items():
        print(f"{key:>22}: {value}")
    print(
        f"\n| {server} | {args.rate:.0f}/s × {args.seconds:.0f} s | {result.sent} | "
        f"{result.statuses.get(200, 0)} | {result.lost + sum(v for k, v in result.statuses.items() if k != 200)} | "
        f"{figures['p50_ms']} | {figures['p99_ms']} | {figures['max_ms']} | {stored if stored is not None else 'n/a'} |"
    )


if __name__ == "__main__":
    main()
