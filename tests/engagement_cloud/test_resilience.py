"""Under 429 bursts, 5xx answers, dropped connections and a crash mid-import, everything lands once."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from host.db import get_db
from host.errors import TransientError
from host.models import DestinationJob
from host.plugins import get_plugins
from host.records import contact_fields

from . import records
from .conftest import DEMO, make_connection


def test_faults_on_every_write_and_poll_still_land_everything_exactly_once(make_ec_app, emulator):
    app = make_ec_app(contact_batch_size=50, order_batch_size=40)
    with app.app_context():
        destination, mapper = get_plugins().destination("engagement_cloud"), get_plugins().mapper_for("engagement_cloud")
        connection = make_connection(DEMO)
        book = emulator.book_id("Customers")
        customers = [records.customer(n) for n in range(120)]
        contacts = [mapper.map_contact(connection, email=c["email"], fields=contact_fields(c, None),
                                       mapping={"first_name": "FIRSTNAME"}) for c in customers]
        orders = [mapper.map_order(connection, records.order(n, c["email"])) for n, c in enumerate(customers)]
        products = [mapper.map_product(connection, records.product(n)) for n in range(30)]
        emulator.faults(error_rate=0.25, drop_rate=0.05, pending_429=2, burst_429_every=40, burst_429_length=1,
                        only_paths=["/contacts/v3", "/insightData/v3"], seed=7)

        sent = [destination.write_contacts(connection, contacts, book_id=book),
                destination.write_records(connection, "Orders", orders),
                destination.write_records(connection, "Catalog_Default", products)]

        injected = requests_injected(emulator)
        emulator.faults(reset=True)
        assert all(r.ok for results in sent for r in results)
        state = emulator.state()
        assert sorted(c["email"] for c in state["contacts"]) == sorted(c["email"] for c in customers)
        members = next(b["contacts"] for b in state["address_books"] if str(b["id"]) == book)
        assert sorted(members) == sorted(c["id"] for c in state["contacts"])
        assert sorted(r["key"] for r in state["insight"]["Orders"]) == sorted(o.key for o in orders)
        assert len(state["insight"]["Catalog_Default"]) == 30
        assert injected["error"] > 0 and injected["429"] > 0  # the faults really happened


def requests_injected(emulator) -> dict:
    import requests

    return requests.get(f"{emulator.url}/_emulator/faults", timeout=5).json()["injected"]


def test_an_import_left_running_by_a_crash_is_resumed_not_resubmitted(make_ec_app, emulator):
    app = make_ec_app(import_timeout=0.2)
    with app.app_context():
        destination, mapper = get_plugins().destination("engagement_cloud"), get_plugins().mapper_for("engagement_cloud")
        connection = make_connection(DEMO)
        batch = [mapper.map_contact(connection, email=c["email"], fields={}, mapping={})
                 for c in map(records.customer, range(5))]
        emulator.control("POST", "/stuck-imports", count=1)

        with pytest.raises(TransientError):
            destination.write_contacts(connection, batch, book_id=None)
        job = get_db().session.scalars(select(DestinationJob)).one()
        assert (job.state, job.record_count) == ("submitted", 5)  # kept before polling

        emulator.control("POST", f"/imports/{job.remote_id}/release")
        results = destination.write_contacts(connection, batch, book_id=None)  # the engine repeats the batch

        assert all(r.ok for r in results)
        assert emulator.requests()["PUT /contacts/v3/import"] == 1
        get_db().session.expire_all()
        assert get_db().session.scalars(select(DestinationJob.state)).all() == ["finished"]
        assert len(emulator.state()["contacts"]) == 5


def test_when_every_import_slot_is_taken_the_write_waits_for_one(make_ec_app, emulator):
    import threading

    app = make_ec_app(retry_base_seconds=0.1, retry_max_seconds=0.2, max_attempts=20, import_timeout=0.3)
    with app.app_context():
        destination, mapper = get_plugins().destination("engagement_cloud"), get_plugins().mapper_for("engagement_cloud")
        connection = make_connection(DEMO)
        emulator.control("PATCH", "/options", max_active_contact_imports=1)
        emulator.control("POST", "/stuck-imports", count=1)
        first = [mapper.map_contact(connection, email="early@example.com", fields={}, mapping={})] * 2
        with pytest.raises(TransientError):  # occupies the only slot, stuck
            destination.write_contacts(connection, first, book_id=None)
        stuck = emulator.state()["imports"][0]["id"]
        threading.Timer(0.5, emulator.control, ("POST", f"/imports/{stuck}/release")).start()

        batch = [mapper.map_contact(connection, email=c["email"], fields={}, mapping={})
                 for c in map(records.customer, range(3))]
        results = destination.write_contacts(connection, batch, book_id=None)

        assert all(r.ok for r in results)
        assert emulator.requests()["PUT /contacts/v3/import"] > 2  # refused while the slot was taken
        assert [i["status"] for i in emulator.state()["imports"]] == ["Finished", "Finished"]
