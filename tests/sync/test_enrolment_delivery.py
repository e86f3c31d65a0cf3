"""Over loopback, with the real plugins: an enrolment whose answer is lost, or whose process is
killed mid-call, ends with the contact in the program exactly once; the service's own
"allowance exceeded" leaves enrolments waiting, and they go out once it allows."""

from __future__ import annotations

from datetime import timedelta

import pytest
import requests
from sqlalchemy import select

from host.db import get_db
from host.models import Enrolment, EnrolmentCall
from host.sync import run_cycle
from plugins.engagement_cloud.destination import EngagementCloud
from tests.sync.loopback import API_USER, PROGRAMS, StoreSize, connected_loop, enrolled

SIZE = StoreSize(customers=20, subscribers=6, orders=30, products=4)
WELCOME_CUSTOMERS = PROGRAMS["new_customer_program_id"]
ENROL = "POST /v2/programs/enrolments"


class Killed(BaseException):
    """The process dies: nothing after this point runs (not an Exception: nothing catches it)."""


@pytest.fixture
def loop(make_app):
    with connected_loop(make_app, SIZE) as (app, emulators, connection_id):
        with app.app_context():
            run_cycle(connection_id)  # the backfill: history, nobody enrolled
        yield app, emulators, connection_id


def _cycle(app, connection_id):
    with app.app_context():
        return run_cycle(connection_id)


def _rows(app) -> list[Enrolment]:
    with app.app_context(), get_db().transaction() as session:
        return list(session.scalars(select(Enrolment).order_by(Enrolment.id)))


def _time_passes(app, minutes: float) -> None:
    """The request timeout passes: the host may now settle what it sent."""
    delta = timedelta(minutes=minutes)
    with app.app_context(), get_db().transaction() as session:
        for row in session.scalars(select(Enrolment)):
            row.due_at = row.due_at and row.due_at - delta
            row.sent_at = row.sent_at and row.sent_at - delta
        for call in session.scalars(select(EnrolmentCall)):
            call.made_at -= delta


def _faults(emulators, **settings) -> None:
    requests.post(f"{emulators.engagement_cloud.url}/_emulator/faults", json=settings, timeout=10).raise_for_status()


def _enrol_posts(emulators) -> int:
    return emulators.engagement_cloud_state()["requests"].get(ENROL, 0)


def test_an_enrolment_applied_then_answered_502_is_enrolled_once(loop):
    app, emulators, connection_id = loop
    new = emulators.create("customers")["email"].lower()
    _faults(emulators, pending_applied_errors=1, error_statuses=[502], only_paths=["/programs/enrolments"])

    _cycle(app, connection_id)
    [row] = _rows(app)
    assert row.state == "uncertain" and row.attempts == 0
    _cycle(app, connection_id)  # before the request timeout has passed: nothing is re-sent
    assert _enrol_posts(emulators) == 1

    _time_passes(app, minutes=3)
    _cycle(app, connection_id)

    assert enrolled(emulators.account())[(WELCOME_CUSTOMERS, new)] == 1
    assert _enrol_posts(emulators) == 1
    [row] = _rows(app)
    assert row.state == "active" and row.destination_id


@pytest.mark.parametrize("landed", [True, False], ids=["killed-after-the-call-landed", "killed-before-it-left"])
def test_a_kill_during_the_enrolment_call_ends_enrolled_once_after_restart(loop, monkeypatch, landed):
    app, emulators, connection_id = loop
    new = emulators.create("customers")["email"].lower()
    real_enrol = EngagementCloud.enrol

    def dies(self, *args, **kwargs):
        if landed:
            real_enrol(self, *args, **kwargs)
        raise Killed

    monkeypatch.setattr(EngagementCloud, "enrol", dies)
    with pytest.raises(Killed):
        _cycle(app, connection_id)
    monkeypatch.setattr(EngagementCloud, "enrol", real_enrol)
    assert [row.state for row in _rows(app)] == ["sending"]

    _cycle(app, connection_id)  # restarted at once: too early to tell, so nothing is sent
    assert _enrol_posts(emulators) == (1 if landed else 0)
    _time_passes(app, minutes=3)
    _cycle(app, connection_id)

    assert enrolled(emulators.account())[(WELCOME_CUSTOMERS, new)] == 1
    assert _enrol_posts(emulators) == 1
    assert [row.state for row in _rows(app)] == ["active"]


def test_the_services_allowance_exceeded_leaves_enrolments_waiting_then_sends_them_once(loop):
    app, emulators, connection_id = loop
    account_url = f"{emulators.engagement_cloud.url}/_emulator/accounts/{API_USER}"
    requests.patch(account_url, json={"enrolments_per_hour": 1}, timeout=10).raise_for_status()
    customer = emulators.create("customers")["email"].lower()
    subscriber = emulators.create("subscribers", email="fresh-signup@example.com")["email"].lower()

    _cycle(app, connection_id)

    states = {row.contact_key: row for row in _rows(app)}
    assert states[customer].state == "active"
    waiting = states[subscriber]
    assert waiting.state == "pending" and waiting.attempts == 0 and "allowance" in waiting.reason

    requests.patch(account_url, json={"enrolments_per_hour": 20}, timeout=10).raise_for_status()
    _time_passes(app, minutes=11)
    _cycle(app, connection_id)

    counts = enrolled(emulators.account())
    assert counts[(WELCOME_CUSTOMERS, customer)] == 1
    assert counts[(PROGRAMS["new_subscriber_program_id"], subscriber)] == 1
    assert {row.state for row in _rows(app)} == {"active"}
