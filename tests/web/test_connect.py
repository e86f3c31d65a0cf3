"""Connecting a store to a marketing account, and moving it to another (staging → production)."""

from __future__ import annotations

from sqlalchemy import func, select, text

from host.db import get_db
from host.models import Connection, LedgerEntry, SyncRun, utcnow
from host.settings import get_settings, save_settings
from tests.web.conftest import Merchant, load_connection, page_text


def test_wrong_credentials_show_inline_keep_the_username_and_never_echo_the_password(web_app, store_id):
    merchant = Merchant(web_app.test_client(), store_id)
    page = page_text(merchant.get("/settings/connect"))
    assert 'name="password"' in page and 'type="hidden" name="destination" value="fake_cloud"' in page

    response = merchant.post(
        "/settings/connect", {"username": "api-staging@example.com", "password": "not-the-password"}
    )

    body = page_text(response)
    assert response.status_code == 400
    assert "Fake Cloud did not accept this API username and password." in body
    assert 'value="api-staging@example.com"' in body
    assert "not-the-password" not in body
    assert not load_connection(web_app, store_id).is_connected


def test_missing_fields_are_refused_inline(web_app, store_id):
    merchant = Merchant(web_app.test_client(), store_id)
    response = merchant.post("/settings/connect", {"username": "", "password": ""})
    body = page_text(response)
    assert response.status_code == 400
    assert "Enter the API username." in body and "Enter the API password." in body
    assert 'aria-invalid="true"' in body


def test_good_credentials_connect_and_the_password_is_encrypted_at_rest(web_app, store_id):
    merchant = Merchant(web_app.test_client(), store_id)
    response = merchant.post("/settings/connect", {"username": "api-staging@example.com", "password": "staging-pass"})

    assert response.status_code == 302 and response.headers["Location"].endswith("/settings/store")
    connection = load_connection(web_app, store_id)
    assert connection.destination == "fake_cloud"
    assert connection.destination_account == "api-staging@example.com"
    with web_app.app_context(), get_db().engine.connect() as raw:
        stored = raw.execute(text("SELECT destination_secrets FROM connections WHERE id = :id"), {"id": store_id}).scalar()
    assert "staging-pass" not in stored
    for page in ("/settings/connect", "/settings/store", "/settings/field-mapping", "/settings/smtp"):
        assert "staging-pass" not in page_text(merchant.get(page))


def test_disconnect_then_connect_another_account_starts_its_settings_afresh(web_app, merchant):
    with web_app.app_context(), get_db().transaction() as session:
        connection = session.get(Connection, merchant.connection_id)
        save_settings(session, connection, "contacts", {"customers_book_id": "11"})
    page = page_text(merchant.get("/settings/connect"))
    assert "Disconnect api-staging@example.com" in page

    response = merchant.post("/settings/disconnect")
    assert response.status_code == 302
    assert not load_connection(web_app, merchant.connection_id).is_connected
    assert merchant.get("/settings/store").headers["Location"].endswith("/settings/connect")

    merchant.get("/settings/connect")
    merchant.post("/settings/connect", {"username": "api-live@example.com", "password": "live-pass"})

    connection = load_connection(web_app, merchant.connection_id)
    assert connection.destination_account == "api-live@example.com"
    with web_app.app_context(), get_db().transaction() as session:
        assert get_settings(session, connection, "contacts")["customers_book_id"] is None


def test_disconnect_asks_first_and_cancel_keeps_the_account(web_app, merchant):
    page = merchant.get("/settings/connect").get_data(as_text=True)
    assert 'action="/settings/disconnect"' not in page  # the button only opens the confirmation
    assert 'href="/settings/disconnect"' in page

    confirm = page_text(merchant.get("/settings/disconnect"))

    assert "Disconnect api-staging@example.com?" in confirm
    assert "Yes, disconnect" in confirm and "Contacts and data already in this account stay there." in confirm
    assert load_connection(web_app, merchant.connection_id).is_connected  # asking changed nothing
    merchant.post("/settings/disconnect")
    assert not load_connection(web_app, merchant.connection_id).is_connected
    assert merchant.get("/settings/disconnect").headers["Location"].endswith("/settings/connect")


def test_connecting_another_account_asks_for_its_full_sync_at_once_and_shows_none_of_the_old(web_app, merchant):
    with web_app.app_context(), get_db().transaction() as session:
        session.get(Connection, merchant.connection_id).last_sync_at = utcnow()
        session.add(SyncRun(connection_id=merchant.connection_id, trigger="scheduled", status="failed",
                            errors={"customers": "old account trouble"}, finished_at=utcnow()))
        session.add(LedgerEntry(connection_id=merchant.connection_id, kind="contact", source_id="a@example.com",
                                state="synced", destination_id="1"))
    merchant.post("/settings/disconnect")

    response = merchant.post("/settings/connect", {"username": "api-live@example.com", "password": "live-pass"})

    assert response.headers["Location"].endswith("/settings/store")
    connection = load_connection(web_app, merchant.connection_id)
    assert connection.sync_requested_at is not None and connection.last_sync_at is None
    with web_app.app_context(), get_db().transaction() as session:
        assert session.scalar(select(func.count(LedgerEntry.id))) == 0
    page = page_text(merchant.get("/settings/store"))
    assert "old account trouble" not in page and 'id="last-sync">Never<' in page
    assert "Waiting for the sync to start" in page
