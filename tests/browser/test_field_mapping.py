"""The Field mapping tab in Chromium, against the live host and both emulators (issue 12): both
mapping mistakes are refused inline, system fields are not offered, each row shows a real
customer's value, and a mapping change asks first, then reaches Engagement Cloud for exactly
the contacts whose mapped value changed."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect
from sqlalchemy import select

from host.db import get_db
from host.models import Connection
from host.plugins import get_plugins
from host.settings import save_settings
from host.sync import run_cycle
from tests.browser.conftest import ACCOUNT, STORE
from tests.browser.test_merchant_flow import (
    connect_account,
    open_app_from_control_panel,
    screenshot_tab,
)

pytestmark = pytest.mark.browser


def with_connection(world, work):
    with world.app.app_context(), get_db().transaction() as session:
        connection = session.scalar(select(Connection).where(Connection.source_account == STORE.store_hash))
        return work(session, connection)


def sync(world) -> None:
    with world.app.app_context():
        connection_id = with_connection(world, lambda _session, connection: connection.id)
        run = run_cycle(connection_id, trigger="cli")
    assert run.status == "finished", run.errors


def contact_rows_imported(world) -> int:
    return sum(job["records"] for job in world.ec_account()["imports"] if job["kind"] == "contacts")


def test_mapping_mistakes_are_refused_inline_and_a_change_reaches_engagement_cloud(page, world):
    app = open_app_from_control_panel(page, world, "install")
    connect_account(app, ACCOUNT["api_user"], ACCOUNT["password"])
    expect(app.get_by_role("heading", name="Connected store")).to_be_visible()

    def choose_books_and_a_numeric_field(session, connection):
        destination = get_plugins().destination("engagement_cloud")
        books = {book.name: book.id for book in destination.address_books(connection)}
        save_settings(session, connection, "contacts", {"customers_book_id": books["Store customers"],
                                                        "subscribers_book_id": books["Newsletter subscribers"]})
        destination.create_data_field(connection, "LOYALTY_POINTS", "Numeric")

    with_connection(world, choose_books_and_a_numeric_field)
    sync(world)  # the backfill: every contact sent once, without a company
    assert not any("COMPANY" in contact["dataFields"] for contact in world.ec_account()["contacts"])
    before = contact_rows_imported(world)

    app.get_by_role("link", name="Field mapping").click()
    expect(app.get_by_role("heading", name="Field mapping")).to_be_visible()
    # Engagement Cloud's system field is not offered; the others are, with their types.
    expect(app.get_by_label("Company", exact=True).locator('option[value="LASTSUBSCRIBED"]')).to_have_count(0)
    expect(app.get_by_label("Company", exact=True).locator('option[value="LOYALTY_POINTS"]')).to_have_text(
        "LOYALTY_POINTS (Numeric)")
    # Each row shows a value from a real customer of the store.
    store = world.store_state()
    companies = {c["company"] for c in store["customers"] if c["company"]} | {
        o["billing_address"].get("company") for o in store["orders"]}
    example = app.locator("tr", has=app.get_by_label("Company", exact=True)).locator(".example-value")
    assert example.inner_text() in companies

    # Mistake 1: one Engagement Cloud field for two store fields. Mistake 2: a type that does not fit.
    app.get_by_label("Last name", exact=True).select_option("FIRSTNAME")
    app.get_by_label("Company", exact=True).select_option("LOYALTY_POINTS")
    app.get_by_role("button", name="Save mapping").click()
    both = "First name and Last name are both mapped to FIRSTNAME: choose one."
    expect(app.locator("#map-first_name-error")).to_have_text(both)
    expect(app.locator("#map-last_name-error")).to_have_text(both)
    expect(app.locator("#map-company-error")).to_have_text(
        "Company is text and cannot go into LOYALTY_POINTS, a Numeric field: choose a String field.")
    expect(app.get_by_label("Last name", exact=True)).to_have_attribute("aria-invalid", "true")
    expect(app.get_by_label("Company", exact=True)).to_have_attribute("aria-invalid", "true")
    assert contact_rows_imported(world) == before

    # Fixed, and Company goes into a new COMPANY field: the page says how many contacts that re-sends.
    app.get_by_label("Last name", exact=True).select_option("LASTNAME")
    app.get_by_label("Company", exact=True).select_option("")
    app.get_by_role("button", name="Save mapping").click()
    expect(app.get_by_role("status").first).to_contain_text("no contact needs to be sent again")
    app.get_by_role("button", name="Create COMPANY for Company").click()
    confirmation = app.locator("#mapping-confirm")
    expect(confirmation).to_contain_text("Data field COMPANY created and mapped to Company.")
    expect(confirmation).to_contain_text("contacts will be re-sent")
    told = int(re.search(r"(\d+) contacts? will be re-sent", confirmation.inner_text()).group(1))
    expect(app.get_by_label("Company", exact=True)).to_have_value("COMPANY")
    app.get_by_role("button", name="Confirm and save").click()
    expect(app.get_by_role("status").first).to_contain_text(f"re-sends {told} contacts")
    expect(app.get_by_label("Company", exact=True)).to_have_value("COMPANY")

    sync(world)
    account = world.ec_account()
    books = {book["name"]: set(book["contacts"]) for book in account["address_books"]}
    with_company = [contact for contact in account["contacts"] if contact["dataFields"].get("COMPANY")]
    assert told == len(with_company) > 0
    # Exactly those contacts were written again, once in each book they are in.
    rows = sum(contact["id"] in books[name] for contact in with_company for name in books)
    assert contact_rows_imported(world) - before == rows

    # The tab as a merchant sees it after a sync: each row with a customer's example value.
    screenshot_tab(page, world, "/settings/field-mapping", "field-mapping-tab")
