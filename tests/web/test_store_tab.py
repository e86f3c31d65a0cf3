"""The Store tab: books, programs and double opt-in saved with validation; sync status; removal."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

from host.db import get_db
from host.models import Connection, ConnectionProblem, LedgerEntry, SyncRun
from host.settings import get_settings
from host.sync.context import unexpected_error_message
from tests.web.conftest import Merchant, install_store, load_connection, page_text

VALID = {
    "double_opt_in": "yes",
    "customers_book_id": "11",
    "subscribers_book_id": "12",
    "consent_text": "Send me offers",
    "new_customer_program_id": "21",
    "new_subscriber_program_id": "",
    "first_order_program_id": "22",
}


def saved(app, connection_id: int, namespace: str) -> dict:
    with app.app_context(), get_db().transaction() as session:
        return get_settings(session, session.get(Connection, connection_id), namespace)


def test_books_programs_and_double_opt_in_are_saved_and_shown(web_app, merchant):
    page = page_text(merchant.get("/settings/store"))
    assert "Old promo (inactive)" in page
    assert "cannot be read through the API" in page  # the account-level double opt-in override
    assert "Send campaigns to the subscribers address book only" in page

    response = merchant.post("/settings/store", VALID)

    assert response.status_code == 302
    assert saved(web_app, merchant.connection_id, "contacts") == {
        "double_opt_in": True,
        "customers_book_id": "11",
        "subscribers_book_id": "12",
        "consent_text": "Send me offers",
        "write_back_unsubscribes": True,  # not in the form: a form from before the setting keeps it on
        "deleted_contacts": "remove",
    }
    assert saved(web_app, merchant.connection_id, "automation") == {
        "new_customer_program_id": "21",
        "new_subscriber_program_id": None,
        "first_order_program_id": "22",
    }
    page = page_text(merchant.get("/settings/store"))
    assert '<option value="12" selected>' in page
    assert "Old promo is not active in Fake Cloud" in page


def test_the_same_book_for_customers_and_subscribers_is_refused_inline(web_app, merchant):
    response = merchant.post("/settings/store", {**VALID, "subscribers_book_id": "11"})

    body = page_text(response)
    assert response.status_code == 400
    assert "Customers and subscribers must go to different address books" in body
    assert 'id="subscribers_book_id-error"' in body
    assert saved(web_app, merchant.connection_id, "contacts")["customers_book_id"] is None


def test_books_and_programs_missing_from_the_account_are_refused(web_app, merchant):
    response = merchant.post("/settings/store", {**VALID, "customers_book_id": "999", "first_order_program_id": "998"})

    body = page_text(response)
    assert response.status_code == 400
    assert "This address book does not exist in your Fake Cloud account." in body
    assert "This program does not exist in your Fake Cloud account." in body
    assert saved(web_app, merchant.connection_id, "automation")["first_order_program_id"] is None


def test_an_unreadable_account_is_shown_plainly_and_nothing_unverified_is_saved(web_app, merchant, fake_cloud):
    fake_cloud.destination.lookups_fail = "Engagement Cloud did not accept the saved API password."
    page = merchant.get("/settings/store")
    assert page.status_code == 200
    assert "Engagement Cloud did not accept the saved API password." in page_text(page)

    response = merchant.post("/settings/store", VALID)
    assert response.status_code == 400
    assert saved(web_app, merchant.connection_id, "contacts")["customers_book_id"] is None


def _record_runs(app, connection_id: int) -> None:
    now = datetime.now(UTC)
    with app.app_context(), get_db().transaction() as session:
        session.add(SyncRun(
            connection_id=connection_id, trigger="manual", status="finished", phase="done",
            counts={"customers": {"read": 120, "sent": 118, "unchanged": 0, "excluded": 0, "failed": 2},
                    "orders": {"read": 40, "sent": 40, "unchanged": 0, "excluded": 3, "failed": 0}},
            started_at=now - timedelta(minutes=3), finished_at=now - timedelta(minutes=2),
        ))
        session.add(LedgerEntry(connection_id=connection_id, kind="contact", source_id="42", state="failed",
                                reason="Email address is not valid: jo@@example", attempts=2))
        session.add(ConnectionProblem(connection_id=connection_id, code="insight_disabled", area="orders",
                                      message="Insight data is not enabled on your Engagement Cloud account."))


def test_the_last_run_its_counts_failures_and_problems_are_shown(web_app, merchant):
    _record_runs(web_app, merchant.connection_id)
    other = install_store(web_app, account="other", name="Other store", connect_as="api-live@example.com")
    with web_app.app_context(), get_db().transaction() as session:
        session.add(LedgerEntry(connection_id=other, kind="contact", source_id="7", state="failed", reason="secret of other"))

    page = page_text(merchant.get("/settings/store"))

    assert "Insight data is not enabled on your Engagement Cloud account." in page
    assert "<td>118</td>" in page and "<td>40</td>" in page
    assert "Email address is not valid: jo@@example" in page
    assert "secret of other" not in page
    status = merchant.get("/settings/store/status").get_json()
    assert status["running"] is None
    assert status["last_run"]["streams"][0] == {
        "name": "customers", "read": 120, "sent": 118, "unchanged": 0, "excluded": 0, "failed": 2}
    assert status["failed_total"] == 1


def test_a_running_sync_shows_its_phase_and_counts_live(web_app, merchant):
    with web_app.app_context(), get_db().transaction() as session:
        session.add(SyncRun(connection_id=merchant.connection_id, trigger="manual", status="running",
                            phase="orders", counts={"customers": {"read": 10, "sent": 9}}))

    page = page_text(merchant.get("/settings/store"))
    assert 'data-poll="1"' in page and "Syncing now" in page
    assert 'id="sync-now" disabled' in page
    running = merchant.get("/settings/store/status").get_json()["running"]
    assert running["phase"] == "orders"
    assert running["streams"] == [{"name": "customers", "read": 10, "sent": 9, "unchanged": 0, "excluded": 0, "failed": 0}]


def test_data_sync_can_be_turned_off_and_on(web_app, merchant):
    merchant.get("/settings/store")
    merchant.post("/settings/store/data-sync", {"enabled": "off"})
    assert load_connection(web_app, merchant.connection_id).sync_enabled is False
    assert "Turn Data sync on to sync." in page_text(merchant.get("/settings/store"))
    merchant.post("/settings/store/data-sync", {"enabled": "on"})
    assert load_connection(web_app, merchant.connection_id).sync_enabled is True


def test_remove_asks_first_then_ends_the_connection_and_the_session(web_app, merchant, fake_cloud):
    confirm = page_text(merchant.get("/settings/store/remove"))
    assert "Yes, remove the connection" in confirm
    assert load_connection(web_app, merchant.connection_id) is not None

    response = merchant.post("/settings/store/remove")

    assert response.status_code == 200
    assert "Connection removed" in page_text(response)
    assert fake_cloud.removed == [merchant.connection_id]
    assert load_connection(web_app, merchant.connection_id) is None
    assert merchant.get("/settings/store").status_code == 401


def test_a_store_changes_only_its_own_settings(web_app, merchant):
    other = install_store(web_app, account="other", name="Other store", connect_as="api-live@example.com")
    Merchant(web_app.test_client(), other)  # another merchant is signed in elsewhere
    merchant.post("/settings/store", VALID)
    assert saved(web_app, other, "contacts")["customers_book_id"] is None
    assert saved(web_app, merchant.connection_id, "contacts")["customers_book_id"] == "11"


def test_sync_now_asks_the_scheduler_and_the_page_waits_for_the_run(web_app, merchant):
    merchant.get("/settings/store")
    response = merchant.post("/settings/store/sync-now")

    assert response.status_code == 302
    assert load_connection(web_app, merchant.connection_id).sync_requested_at is not None
    page = page_text(merchant.get("/settings/store"))
    assert 'data-poll="1"' in page and "Waiting for the sync to start" in page
    assert 'id="sync-now" disabled aria-disabled="true">Sync requested' in page


def test_sync_now_is_refused_while_data_sync_is_off(web_app, merchant):
    merchant.get("/settings/store")
    merchant.post("/settings/store/data-sync", {"enabled": "off"})
    merchant.post("/settings/store/sync-now")
    assert load_connection(web_app, merchant.connection_id).sync_requested_at is None


def test_a_sync_ended_by_an_unexpected_error_is_told_in_plain_words(web_app, merchant):
    message = unexpected_error_message("scheduled", "3f9a1c2e", {"interval_seconds": 300})
    with web_app.app_context(), get_db().transaction() as session:
        session.add(SyncRun(connection_id=merchant.connection_id, trigger="scheduled", status="failed",
                            errors={"cycle": message}, finished_at=datetime.now(UTC)))

    page = page_text(merchant.get("/settings/store"))

    assert "<li>The sync stopped because of an unexpected error (reference 3f9a1c2e). It will try again at " in page
    assert "contact support with the reference." in page
    assert "Cycle:" not in page


def test_an_unexpected_error_on_a_page_shows_a_reference_and_no_internal_text(web_app, merchant, monkeypatch, caplog):
    from host.web.merchant import store

    def broken(*args, **kwargs):
        raise RuntimeError("StaleDataError: UPDATE statement on table 'enrolments'")

    monkeypatch.setattr(store, "sync_status", broken)
    web_app.config["PROPAGATE_EXCEPTIONS"] = False

    response = merchant.get("/settings/store")

    body = page_text(response)
    assert response.status_code == 500
    reference = re.search(r"unexpected error \(reference ([0-9a-f]{8})\)", body).group(1)
    assert "StaleDataError" not in body and "RuntimeError" not in body and "Traceback" not in body
    logged = [record for record in caplog.records if reference in record.getMessage()]
    assert logged and logged[0].exc_info is not None
