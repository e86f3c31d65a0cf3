"""Pipelined imports: bodies as large as allowed, answers handed back while the next body fills,
a refused record failed alone in a big import, a crash between submit and answer resumed."""

from __future__ import annotations

import time

import pytest
from sqlalchemy import select

from host.db import get_db
from host.errors import TransientError
from host.models import DestinationJob
from host.plugins import get_plugins

from . import records
from .conftest import DEMO, make_connection
from .test_contacts import contact_records


def test_a_big_write_is_one_import_and_a_refused_contact_fails_alone(connection, destination, mapper, emulator):
    batch = contact_records(mapper, connection, range(1, 1201))
    bad = mapper.map_contact(connection, email="not-an-email", fields={}, mapping={})
    batch.insert(600, bad)

    results = destination.write_contacts(connection, batch, book_id=emulator.book_id("Customers"))

    refused = [r for r in results if not r.ok]
    assert [r.source_id for r in refused] == [bad.source_id] and "invalidEmail" in refused[0].reason
    assert sum(r.ok for r in results) == 1200
    state = emulator.state()
    assert [i["records"] for i in state["imports"]] == [1201]  # one import, one status call
    assert emulator.requests()["GET /contacts/v3/import/{importId}"] == 1


def test_imports_end_at_the_byte_limit_and_answers_come_back_while_the_next_body_fills(make_ec_app, emulator):
    app = make_ec_app(import_max_bytes=3000)
    with app.app_context():
        destination, mapper = get_plugins().destination("engagement_cloud"), get_plugins().mapper_for("engagement_cloud")
        connection = make_connection(DEMO)
        batch = contact_records(mapper, connection, range(1, 61))
        writer = destination.contact_writer(connection, book_id=None)

        first = writer.add(batch[:30])  # the bodies so far are submitted; none answered yet
        time.sleep(0.3)  # the imports finish meanwhile
        second = writer.add(batch[30:])  # polled while the next bodies fill
        rest = writer.finish()

        assert first == []
        assert second and all(r.ok for r in second)
        assert {r.source_id for r in second} < {r.source_id for r in batch[:30]}
        answered = [r.source_id for r in first + second + rest]
        assert sorted(answered) == sorted(r.source_id for r in batch)  # each answered once
        imports = emulator.state()["imports"]
        assert len(imports) > 3 and sum(i["records"] for i in imports) == 60
        jobs = get_db().session.scalars(select(DestinationJob)).all()
        assert {job.state for job in jobs} == {"finished"} and len(jobs) == len(imports)


def test_no_more_imports_in_flight_than_allowed(make_ec_app, emulator):
    app = make_ec_app(import_max_bytes=2000, max_active_insight_imports=2)
    with app.app_context():
        destination, mapper = get_plugins().destination("engagement_cloud"), get_plugins().mapper_for("engagement_cloud")
        connection = make_connection(DEMO)
        emulator.control("PATCH", "/options", max_active_insight_imports=2)
        products = [mapper.map_product(connection, records.product(n)) for n in range(40)]

        results = destination.write_records(connection, "Catalog_Default", products)

        assert all(r.ok for r in results)
        assert len(emulator.state()["insight"]["Catalog_Default"]) == 40
        calls = emulator.requests()
        imports = calls["PUT /insightData/v3/import"]
        assert imports == len(emulator.state()["imports"]) > 2  # never refused for too many active


def test_a_crash_after_submit_resumes_the_same_import_when_the_records_come_again(make_ec_app, emulator):
    app = make_ec_app(import_timeout=0.2)
    with app.app_context():
        destination, mapper = get_plugins().destination("engagement_cloud"), get_plugins().mapper_for("engagement_cloud")
        connection = make_connection(DEMO)
        batch = contact_records(mapper, connection, range(1, 101))
        emulator.control("POST", "/stuck-imports", count=1)
        writer = destination.contact_writer(connection, book_id=None)
        assert writer.add(batch) == []
        with pytest.raises(TransientError):  # the answer never came: the process gives up here
            writer.finish()

        job = get_db().session.scalars(select(DestinationJob)).one()
        emulator.control("POST", f"/imports/{job.remote_id}/release")
        again = destination.contact_writer(connection, book_id=None)  # the restart sends them again
        results = again.add(batch) + again.finish()

        assert sorted(r.source_id for r in results) == sorted(r.source_id for r in batch)
        assert all(r.ok for r in results)
        assert emulator.requests()["PUT /contacts/v3/import"] == 1  # the same body: polled, not resent
        assert len(emulator.state()["contacts"]) == 100


def test_a_record_handed_over_twice_before_its_import_is_sent_once_in_its_latest_version(
        connection, destination, mapper, emulator):
    products = [mapper.map_product(connection, records.product(n)) for n in range(6)]
    renamed = mapper.map_product(connection, {**records.product(2), "name": "Short"})
    writer = destination.record_writer(connection, "Catalog_Default")

    results = writer.add(products) + writer.add([renamed]) + writer.finish()

    assert sorted(r.source_id for r in results) == sorted([p.source_id for p in products] + [renamed.source_id])
    assert all(r.ok for r in results)
    catalog = {r["key"]: r["json"] for r in emulator.state()["insight"]["Catalog_Default"]}
    assert len(catalog) == 6 and catalog[str(renamed.key)]["name"] == "Short"
    assert [i["records"] for i in emulator.state()["imports"]] == [6]


def test_drain_bounds_what_waits_without_cutting_an_import_while_another_runs(connection, destination, mapper, emulator):
    batch = contact_records(mapper, connection, range(1, 21))
    writer = destination.contact_writer(connection, book_id=None)
    assert writer.add(batch[:10]) == [] and writer.waiting == 10

    answered = writer.drain(5)  # nothing in flight: the body goes now, and is waited for

    assert len(answered) == 10 and writer.waiting == 0
    assert writer.add(batch[10:]) == [] and writer.waiting == 10
    assert len(writer.drain(100)) == 0 and writer.waiting == 10  # within the bound: nothing to do
    assert len(writer.finish()) == 10
    assert [i["records"] for i in emulator.state()["imports"]] == [10, 10]
