"""A merchant's whole journey in a real browser, inside the control panel's iframe."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import ACCOUNT, SMTP_PASSWORD, SMTP_USER, STORE, screenshot

pytestmark = pytest.mark.browser


def open_app_from_control_panel(page, world, action: str = "app"):
    """Open the app as BigCommerce does (install or load, in an iframe); answer the app's frame."""
    page.goto(f"{world.control_panel_url}/manage/{action}")
    return page.frame_locator("#app")


def connect_account(app, username: str, password: str) -> None:
    app.get_by_label("API username").fill(username)
    app.get_by_label("API password").fill(password)
    app.get_by_role("button", name="Connect").click()


def test_install_connect_choose_books_and_programs_map_a_field_and_sync(page, world):
    app = open_app_from_control_panel(page, world, "install")
    expect(app.get_by_role("heading", name="Connect your Engagement Cloud account")).to_be_visible()

    screenshot_tab(page, world, "/settings/connect", "connect")
    connect_account(app, ACCOUNT["api_user"], "not-the-password")
    expect(app.get_by_role("alert")).to_contain_text("did not accept this API username and password")
    expect(app.get_by_label("API username")).to_have_value(ACCOUNT["api_user"])
    expect(app.get_by_label("API password")).to_have_value("")

    connect_account(app, ACCOUNT["api_user"], ACCOUNT["password"])
    expect(app.get_by_role("link", name="Store", exact=True)).to_have_attribute("aria-current", "page")
    expect(app.locator(".store-title")).to_have_text(STORE.name)

    # The same book twice is refused inline, next to the field.
    app.get_by_label("Sync customers to").select_option(label="Store customers")
    app.get_by_label("Sync subscribers to").select_option(label="Store customers")
    app.get_by_role("button", name="Save", exact=True).click()
    expect(app.locator("#subscribers_book_id-error")).to_have_text(
        "Customers and subscribers must go to different address books: choose another book.")
    expect(app.get_by_label("Sync subscribers to")).to_have_attribute("aria-invalid", "true")

    app.get_by_label("Sync subscribers to").select_option(label="Newsletter subscribers")
    app.get_by_role("group", name="Enforce double opt-in for new subscribers").get_by_text("Yes", exact=True).check()
    expect(app.get_by_label("Customers' first order").locator("option", has_text="Spring promotion (inactive)")).to_have_count(1)
    app.get_by_label("New customers").select_option(label="Welcome series")
    app.get_by_label("Customers' first order").select_option(label="First order thank-you")
    app.get_by_role("button", name="Save", exact=True).click()
    expect(app.get_by_role("status").first).to_contain_text("Settings saved")
    expect(app.get_by_label("Sync subscribers to")).to_have_value(
        app.get_by_label("Sync subscribers to").locator("option", has_text="Newsletter subscribers").get_attribute("value"))

    # Field mapping: create the missing BILLING_CITY field and map it.
    app.get_by_role("link", name="Field mapping").click()
    expect(app.get_by_label("First name", exact=True)).to_have_value("FIRSTNAME")
    app.get_by_role("button", name="Create BILLING_CITY for Billing city").click()
    expect(app.get_by_role("status").first).to_contain_text("Data field BILLING_CITY created")
    expect(app.get_by_label("Billing city")).to_have_value("BILLING_CITY")
    assert any(field["name"] == "BILLING_CITY" for field in world.ec_account()["data_fields"])
    # (docs/screenshots/field-mapping-tab.png is taken after a sync, with examples: test_field_mapping)

    # Sync now: the live status is polled, then the finished run shows with its counts.
    app.get_by_role("link", name="Store", exact=True).click()
    app.get_by_role("button", name="Sync now").click()
    expect(app.locator("#last-run-status")).to_be_visible(timeout=60_000)
    assert app.locator("#last-run-status").text_content() == "Finished", app.locator("#last-run").inner_text()
    store = world.store_state()
    customers = app.locator('#last-run-counts tr[data-stream="customers"] td')
    expect(customers).to_have_text([str(len(store["customers"])), str(len(store["customers"])), "0", "0", "0"])
    screenshot_tab(page, world, "/settings/store", "store-tab")

    # The new mapping is in the synced data: each contact's BILLING_CITY is one of that person's cities.
    account = world.ec_account()
    books = {book["name"]: set(book["contacts"]) for book in account["address_books"]}
    in_customers_book = [contact for contact in account["contacts"] if contact["id"] in books["Store customers"]]
    assert {contact["email"] for contact in in_customers_book} >= {customer["email"] for customer in store["customers"]}
    cities: dict[str, set[str]] = {}
    for customer in store["customers"]:
        cities.setdefault(customer["email"], set()).update(address["city"] for address in customer["addresses"])
    for order in store["orders"]:
        cities.setdefault(order["billing_address"]["email"], set()).add(order["billing_address"]["city"])
    mapped = {contact["email"]: contact["dataFields"].get("BILLING_CITY") for contact in in_customers_book}
    assert any(mapped.values()), "the newly mapped field was sent"
    assert all(city in cities[email] for email, city in mapped.items() if city)


def install_and_connect(page, world):
    app = open_app_from_control_panel(page, world, "install")
    connect_account(app, ACCOUNT["api_user"], ACCOUNT["password"])
    expect(app.get_by_role("heading", name="Connected store")).to_be_visible()
    return app


def test_smtp_test_email_then_remove_the_connection_and_its_webhooks(page, world):
    app = install_and_connect(page, world)
    assert world.store_state()["hooks"], "connecting registered the store's webhooks"

    app.get_by_role("link", name="SMTP").click()
    expect(app.locator("#smtp-host")).to_have_text("r2-smtp.dotdigital.com")
    app.get_by_label("SMTP username").fill(SMTP_USER)
    app.get_by_label("SMTP password").fill("a-wrong-password")
    app.get_by_label("Port").select_option("2525")
    app.get_by_role("button", name="Test settings").click()
    expect(app.locator("#smtp-test-result")).to_contain_text("Test failed.")
    expect(app.locator("#smtp-test-result")).to_contain_text("refused the username or password")
    expect(app.locator("#smtp-test-result")).to_contain_text("535")
    assert world.mailbox.messages == []

    app.get_by_label("SMTP password").fill(SMTP_PASSWORD)
    app.get_by_role("button", name="Test settings").click()
    expect(app.locator("#smtp-test-result")).to_contain_text("Test passed.")
    expect(app.locator("#smtp-test-result")).to_contain_text("250 2.0.0 Ok: queued as TEST123")
    assert [message["to"] for message in world.mailbox.messages] == [[f"owner@{STORE.store_hash}.example.com"]]
    expect(app.get_by_label("SMTP password")).to_have_value("")
    expect(app.get_by_text("A password is saved")).to_be_visible()
    screenshot_tab(page, world, "/settings/smtp", "smtp-tab")

    app.get_by_role("link", name="Store", exact=True).click()
    app.get_by_role("link", name="Remove BigCommerce connection").click()
    app.get_by_role("button", name="Yes, remove the connection").click()
    expect(app.get_by_role("heading", name="Connection removed")).to_be_visible()
    assert world.store_state()["hooks"] == [], "the store's webhooks were deleted"
    page.goto(f"{world.host_url}/settings/store")
    expect(page.get_by_role("heading", name="Open the app from your control panel")).to_be_visible()


def screenshot_tab(page, world, path: str, name: str) -> None:
    """A full-page picture of one tab, taken at the top level in the same browser session.

    The picture's tab is closed at once: Chromium slows down pages left in the background.
    """
    top = page.context.new_page()
    top.goto(f"{world.host_url}{path}")
    screenshot(top, name)
    top.close()
    page.bring_to_front()
