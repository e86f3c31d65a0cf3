"""A stuck import is found within minutes, shown plainly, checked again later, never resubmitted,
and holds nothing (the write ends at once the second time)."""

from __future__ import annotations

import time
from datetime import timedelta

import pytest
from sqlalchemy import select

from host.db import get_db
from host.errors import TransientError
from host.models import ConnectionProblem, DestinationJob
from host.plugins import get_plugins
from tests.engagement_cloud import records
from tests.engagement_cloud.conftest import DEMO, make_connection


def problems() -> list[ConnectionProblem]:
    with get_db().transaction() as session:
        return list(session.scalars(select(ConnectionProblem)))


def age_jobs(minutes: float) -> None:
    with get_db().transaction() as session:
        for job in session.scalars(select(DestinationJob)):
            job.created_at = job.created_at - timedelta(minutes=minutes)


def test_a_stuck_import_is_reported_checked_again_and_never_resubmitted(make_ec_app, emulator):
    app = make_ec_app(import_timeout=3600, stuck_import_seconds=0.3)
    with app.app_context():
        destination, mapper = get_plugins().destination("engagement_cloud"), get_plugins().mapper_for("engagement_cloud")
        connection = make_connection(DEMO)
        batch = [mapper.map_contact(connection, email=c["email"], fields={}, mapping={})
                 for c in map(records.customer, range(4))]
        emulator.control("POST", "/stuck-imports", count=1)

        started = time.monotonic()
        with pytest.raises(TransientError) as stuck:
            destination.write_contacts(connection, batch, book_id=None)
        assert time.monotonic() - started < 5, "found stuck after stuck_import_seconds, not import_timeout"
        assert "without finishing" in stuck.value.message and "sends nothing twice" in stuck.value.message
        [problem] = problems()
        assert problem.code == "import_stuck" and "importing contacts" in problem.message
        job = get_db().session.scalars(select(DestinationJob)).one()
        assert job.state == "submitted" and "stuck_since" in job.detail

        started = time.monotonic()  # the next sync: checked once, not waited on, not resubmitted
        with pytest.raises(TransientError):
            destination.write_contacts(connection, batch, book_id=None)
        assert time.monotonic() - started < 1.5
        assert emulator.requests()["PUT /contacts/v3/import"] == 1

        emulator.control("POST", f"/imports/{job.remote_id}/release")
        results = destination.write_contacts(connection, batch, book_id=None)
        assert all(result.ok for result in results)
        assert emulator.requests()["PUT /contacts/v3/import"] == 1, "the stuck import finished: no new one"
        assert problems() == [], "the problem goes once the import is done"


def test_a_cycle_start_reports_an_old_import_and_clears_it_when_done(make_ec_app, emulator):
    app = make_ec_app(import_timeout=0.2, stuck_import_seconds=600)
    with app.app_context():
        destination, mapper = get_plugins().destination("engagement_cloud"), get_plugins().mapper_for("engagement_cloud")
        connection = make_connection(DEMO)
        batch = [mapper.map_contact(connection, email="slow@example.com", fields={}, mapping={})] * 2
        emulator.control("POST", "/stuck-imports", count=1)
        with pytest.raises(TransientError):  # import_timeout ends the write; not stuck yet
            destination.write_contacts(connection, batch, book_id=None)
        assert problems() == []
        age_jobs(minutes=11)
        destination.start_cycle(connection)
        assert [problem.code for problem in problems()] == ["import_stuck"]
        job = get_db().session.scalars(select(DestinationJob)).one()
        emulator.control("POST", f"/imports/{job.remote_id}/release")
        destination.start_cycle(connection)
        assert problems() == []
        with get_db().transaction() as session:
            assert session.scalars(select(DestinationJob.state)).all() == ["finished"]
