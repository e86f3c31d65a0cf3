"""Changes of connection while a cycle runs, end to end over loopback: the merchant disconnects
from the settings pages in the middle of a sync, then connects another Engagement Cloud account,
which receives the store's full state; an unexpected error is told in plain words."""

from __future__ import annotations

import logging
import re
import threading

import pytest
import requests
from sqlalchemy import select

from host.db import get_db
from host.models import Connection, LedgerEntry
from host.plugins import get_plugins
from host.settings import save_settings
from host.sync import run_cycle
from tests.sync.loopback import (
    CUSTOMERS_BOOK,
    SUBSCRIBERS_BOOK,
    StoreSize,
    actual_state,
    connected_loop,
    expected_state,
)
from tests.web.conftest import Merchant, page_text

SIZE = StoreSize(customers=40, subscribers=15, orders=60, products=8)
LIVE_USER, LIVE_PASSWORD = "apiuser-live@apiconnector.com", "live-password"
INTERNAL_TEXT = ("StaleDataError", "Traceback", "Error:", "sqlalchemy")


@pytest.fixture
def loop(make_app):
    with connected_loop(make_app, SIZE) as parts:
        yield parts


def signed_in(app, connection_id: int) -> Merchant:
    """A merchant on the settings pages, as one of the store's users opened them."""
    with app.app_context(), get_db().transaction() as session:
        users = session.get(Connection, connection_id).source_data.get("users") or {"1": {}}
    merchant = Merchant(app.test_client(), connection_id)
    with merchant.client.session_transaction() as session:
        session["user"] = {"id": int(next(iter(users))), "email": "owner@example.com"}
    return merchant


def pause_after_first_page(app):
    """Hold the cycle between its first page and the next: (paused, resume) events."""
    paused, resume = threading.Event(), threading.Event()
    with app.app_context():
        source = get_plugins().source("bigcommerce")
    read = source.read

    def reading(connection, stream, **kwargs):
        for page in read(connection, stream, **kwargs):
            yield page
            if not paused.is_set():
                paused.set()
                assert resume.wait(60)

    source.read = reading
    return paused, resume


def test_disconnect_mid_sync_then_another_account_gets_everything_at_once(loop):
    app, emulators, connection_id = loop
    requests.post(
        f"{emulators.engagement_cloud.url}/_emulator/accounts",
        json={"api_user": LIVE_USER, "password": LIVE_PASSWORD, "address_books": [CUSTOMERS_BOOK, SUBSCRIBERS_BOOK]},
        timeout=30,
    ).raise_for_status()
    merchant = signed_in(app, connection_id)
    writes_before = emulators.engagement_cloud_writes()
    paused, resume = pause_after_first_page(app)
    outcome = {}

    def cycle():
        with app.app_context():
            outcome["run"] = run_cycle(connection_id)

    worker = threading.Thread(target=cycle)
    worker.start()
    assert paused.wait(60)
    assert "Yes, disconnect" in page_text(merchant.get("/settings/disconnect"))
    assert merchant.post("/settings/disconnect").status_code == 302
    resume.set()
    worker.join(60)

    assert outcome["run"].status == "stopped" and outcome["run"].errors == {}
    assert emulators.engagement_cloud_writes() == writes_before  # it stopped before writing anything
    with app.app_context(), get_db().transaction() as session:
        assert session.scalars(select(LedgerEntry)).first() is None  # the old account is forgotten

    response = merchant.post("/settings/connect", {"username": LIVE_USER, "password": LIVE_PASSWORD})
    assert response.headers["Location"].endswith("/settings/store")
    with app.app_context(), get_db().transaction() as session:
        connection = session.get(Connection, connection_id)
        assert connection.sync_requested_at is not None  # the scheduler's next tick starts it
        destination = get_plugins().destination("engagement_cloud")
        books = {book.name: book.id for book in destination.address_books(connection)}
        save_settings(session, connection, "contacts", {
            "customers_book_id": books[CUSTOMERS_BOOK], "subscribers_book_id": books[SUBSCRIBERS_BOOK],
        })
    with app.app_context():
        assert run_cycle(connection_id, trigger="manual").status == "finished"

    state = emulators.engagement_cloud_state()
    live = next(account for account in state["accounts"] if account["api_user"] == LIVE_USER)
    expected, actual = expected_state(emulators.store()), actual_state(live)
    for part in ("customers_book", "subscribers_book", "orders", "products"):
        assert actual[part] == expected[part], part
    assert actual_state(emulators.account())["customers_book"] == set()  # the staging account got nothing
    page = page_text(merchant.get("/settings/store"))
    assert 'id="last-run-status">Finished<' in page
    assert not [text for text in INTERNAL_TEXT if text in page]


def test_an_unexpected_error_shows_a_plain_sentence_and_its_reference_is_in_the_log(loop, caplog):
    app, emulators, connection_id = loop
    with app.app_context():
        source = get_plugins().source("bigcommerce")

    def broken(connection, stream, **kwargs):
        raise RuntimeError("StaleDataError: UPDATE statement on table 'enrolments' expected to update 1 row(s)")
        yield  # pragma: no cover - a generator, like the real one

    source.read = broken
    with caplog.at_level(logging.ERROR), app.app_context(), pytest.raises(RuntimeError):
        run_cycle(connection_id)

    page = page_text(signed_in(app, connection_id).get("/settings/store"))
    found = re.search(
        r"The sync stopped because of an unexpected error \(reference ([0-9a-f]{8})\)\. "
        r"It will try again at \d\d:\d\d UTC; if this keeps happening, contact support with the reference\.",
        page,
    )
    assert found, page
    assert not [text for text in (*INTERNAL_TEXT, "RuntimeError", "enrolments'") if text in page]
    logged = [record for record in caplog.records if found.group(1) in record.getMessage()]
    assert logged and "StaleDataError" in str(logged[0].exc_info[1])
