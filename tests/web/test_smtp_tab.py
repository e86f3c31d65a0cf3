"""The SMTP tab: the region's relay, credentials stored encrypted, and a real STARTTLS test email."""

from __future__ import annotations

import pytest
from sqlalchemy import text

from host.db import get_db
from host.models import Base
from tests.web.conftest import Merchant, install_store, page_text
from tests.web.fakes import FakeCloudPlugin, FakeEngagementCloud, FakeShopPlugin
from tests.web.smtp_server import local_smtp_server

SMTP_USER, SMTP_PASSWORD = "smtp-user@example.com", "right-horse-battery"


@pytest.fixture
def fake_cloud():
    """The tab applies to Engagement Cloud accounts only: the fake account goes by that name here."""
    return FakeCloudPlugin(FakeEngagementCloud())


@pytest.fixture
def smtp_merchant(make_app, fake_cloud, tmp_path):
    """A connected merchant whose test emails go to a local STARTTLS server."""
    with local_smtp_server(tmp_path, SMTP_USER, SMTP_PASSWORD) as mailbox:
        app = make_app(
            PLUGINS={
                "enabled": ["smtp"],
                "smtp": {"smtp_host_override": "127.0.0.1", "smtp_port_override": mailbox.port, "smtp_tls_insecure": True},
            },
            PLUGIN_MODULES=[fake_cloud],
        )
        with app.app_context():
            Base.metadata.create_all(get_db().engine)
        merchant = Merchant(app.test_client(), install_store(app, connect_as="api-staging@example.com"))
        yield app, merchant, mailbox


def test_the_tab_shows_the_relay_of_the_accounts_region_and_the_steps_in_bigcommerce(web_app):
    merchant = Merchant(web_app.test_client(),
                        install_store(web_app, connect_as="api-staging@example.com", source="bigcommerce"))
    page = page_text(merchant.get("/settings/smtp"))
    assert "r2-smtp.dotdigital.com" in page  # the fake account is in region r2
    assert "587" in page and "2525" in page and "25" in page and "STARTTLS" in page
    assert "Enter these settings in BigCommerce" in page
    assert "Let me specify my own SMTP server details" in page
    assert '<a href="/settings/smtp" aria-current="page" class="active">SMTP</a>' in page


def test_another_sources_store_is_told_to_enter_the_settings_in_its_own_platform(make_app, fake_cloud):
    app = make_app(PLUGINS={"enabled": ["smtp"]}, PLUGIN_MODULES=[fake_cloud, FakeShopPlugin()])
    with app.app_context():
        Base.metadata.create_all(get_db().engine)
    merchant = Merchant(app.test_client(), install_store(app, connect_as="api-staging@example.com"))
    page = page_text(merchant.get("/settings/smtp"))
    assert "r2-smtp.dotdigital.com" in page
    assert "Enter these settings in Fake Shop" in page and "In Fake Shop, open the email settings" in page
    assert "BigCommerce" not in page and "Let me specify my own SMTP server details" not in page


def test_the_tab_is_neither_shown_nor_served_for_another_destinations_account(make_app):
    app = make_app(PLUGINS={"enabled": ["smtp"]}, PLUGIN_MODULES=[FakeCloudPlugin()])  # "fake_cloud"
    with app.app_context():
        Base.metadata.create_all(get_db().engine)
    merchant = Merchant(app.test_client(), install_store(app, connect_as="api-staging@example.com"))
    store = page_text(merchant.get("/settings/store"))
    assert '<a href="/settings/field-mapping">Field mapping</a>' in store  # the tab bar is there
    assert "/settings/smtp" not in store
    assert merchant.get("/settings/smtp").status_code == 404
    response = merchant.post("/settings/smtp", {"action": "save", "username": SMTP_USER, "password": "x", "port": "587"})
    assert response.status_code == 404


def test_a_test_email_goes_out_over_starttls_and_the_settings_are_saved_encrypted(smtp_merchant):
    app, merchant, mailbox = smtp_merchant
    merchant.get("/settings/smtp")
    response = merchant.post("/settings/smtp", {
        "action": "test", "username": SMTP_USER, "password": SMTP_PASSWORD, "port": "587",
        "test_recipient": "owner@example.com"})

    page = page_text(response)
    assert response.status_code == 200
    assert "Test passed." in page and "250 2.0.0 Ok: queued as TEST123" in page
    assert [message["to"] for message in mailbox.messages] == [["owner@example.com"]]
    assert SMTP_PASSWORD not in page
    with app.app_context(), get_db().engine.connect() as raw:
        secrets = raw.execute(text("SELECT secrets FROM connection_settings WHERE namespace = 'smtp'")).scalar()
    assert secrets and SMTP_PASSWORD not in secrets
    follow_up = page_text(merchant.get("/settings/smtp"))
    assert "A password is saved" in follow_up and SMTP_PASSWORD not in follow_up


def test_a_wrong_password_fails_with_the_servers_answer_explained(smtp_merchant):
    app, merchant, mailbox = smtp_merchant
    merchant.get("/settings/smtp")
    response = merchant.post("/settings/smtp", {
        "action": "test", "username": SMTP_USER, "password": "wrong", "port": "2525",
        "test_recipient": "owner@example.com"})

    page = page_text(response)
    assert response.status_code == 400
    assert "Test failed." in page and "refused the username or password" in page
    assert "535" in page
    assert mailbox.messages == [] and set(mailbox.logins) == {SMTP_USER}  # smtplib tries PLAIN, then LOGIN
    assert "A password is saved" not in page_text(merchant.get("/settings/smtp"))


def test_a_port_outside_25_587_2525_is_refused(merchant):
    merchant.get("/settings/smtp")
    response = merchant.post("/settings/smtp", {"action": "save", "username": SMTP_USER, "password": "x", "port": "465"})
    assert response.status_code == 400
    assert "Choose port 587, 2525 or 25." in page_text(response)
