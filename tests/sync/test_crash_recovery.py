"""A sync process killed mid-cycle (SIGKILL, no clean-up at all) and started again ends in the
exact state the store describes, with no duplicate contact, order or enrolment."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests
from sqlalchemy import select

from host.db import get_db
from host.models import Base, SyncRun
from tests.sync.loopback import (
    STORE_HASH,
    StoreSize,
    actual_state,
    host_config,
    host_environment,
    install_and_connect,
    live_host,
    start_emulators,
)
from tests.sync.test_end_to_end import Loop, assert_exact_state

SIZE = StoreSize(customers=400, subscribers=120, orders=800, products=40, seed=5)
REPOSITORY = Path(__file__).resolve().parents[2]
# Where to pull the plug: (phase the run must be in, what Engagement Cloud must already hold).
KILL_POINTS = [("reading orders", None), ("sending contacts", "contacts"), ("sending orders", "Orders")]


@pytest.fixture
def crash_loop(make_app):
    emulators = start_emulators(SIZE)
    try:
        with live_host() as (host_url, late):
            config = host_config(emulators, host_url)
            # Small batches and slow answers leave room to be killed half way through each phase.
            config["PLUGINS"]["engagement_cloud"].update(contact_batch_size=60, order_batch_size=150)
            app = make_app(**config)
            with app.app_context():
                Base.metadata.create_all(get_db().engine)
            late.app = app
            connection_id = install_and_connect(app, emulators, host_url)
            requests.post(f"{emulators.bigcommerce.url}/_emulator/faults", json={"latency_ms": 15}, timeout=10)
            environment = {
                **{k: v for k, v in os.environ.items() if not k.startswith("HOST_") and k != "DATABASE_URL"},
                **host_environment(config, app.instance_path, app.config["DATABASE"]["url"]),
            }
            yield Loop(app, emulators, connection_id), environment
    finally:
        emulators.stop()


def start_sync(environment) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "flask", "--app", "host", "sync", STORE_HASH],
        cwd=REPOSITORY, env=environment, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )


def reached(loop: Loop, phase: str, holding: str | None) -> bool:
    """The running cycle is in ``phase`` and, if named, some contacts or Orders records arrived."""
    with loop.app.app_context(), get_db().transaction() as session:
        run = session.scalar(select(SyncRun).where(SyncRun.status == "running").order_by(SyncRun.id.desc()))
        if run is None or run.phase != phase:
            return False
    if holding is None:
        return True
    summary = requests.get(
        f"{loop.emulators.engagement_cloud.url}/_emulator/state", params={"summary": 1}, timeout=30
    ).json()["accounts"][0]
    held = summary["contacts"] if holding == "contacts" else summary["insight"].get(holding, 0)
    return held > 0


def test_a_cycle_killed_at_any_phase_and_run_again_ends_exact_without_duplicates(crash_loop):
    loop, environment = crash_loop
    for phase, holding in KILL_POINTS:
        process = start_sync(environment)
        deadline = time.monotonic() + 90
        while not reached(loop, phase, holding):
            assert process.poll() is None, f"the sync ended before {phase}: {process.stderr.read()[-2000:]}"
            assert time.monotonic() < deadline, f"the sync never reached {phase}"
            time.sleep(0.02)
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=30)

    finished = start_sync(environment)
    _, errors = finished.communicate(timeout=240)
    assert finished.returncode == 0, errors[-3000:]

    actual = assert_exact_state(loop)  # every record there, contacts and order keys unique
    assert actual["enrolments"] == []  # history enrols nobody, however often it is re-read
    with loop.app.app_context(), get_db().transaction() as session:
        statuses = [run.status for run in session.scalars(select(SyncRun).order_by(SyncRun.id))]
    assert statuses == ["interrupted"] * len(KILL_POINTS) + ["finished"]
    assert actual_state(loop.emulators.account())["duplicate_contacts"] == {}
