"""The Store tab's health panel in Chromium, on a live host and both emulators: its numbers equal
an independent count of the emulators' state, and the last full sync stays in view after an
instant update."""

from __future__ import annotations

import time

import pytest
import requests
from playwright.sync_api import expect
from sqlalchemy import func, select

from demo.expected import actual_state, enrolled, expected_state, is_opted_in
from host.db import get_db
from host.models import WebhookEvent
from host.sync import run_fast_lane
from tests.browser.conftest import SCREENSHOTS, STORE
from tests.browser.test_merchant_flow import install_and_connect, open_app_from_control_panel

pytestmark = pytest.mark.browser
CUSTOMERS_BOOK, SUBSCRIBERS_BOOK, WELCOME = "Store customers", "Newsletter subscribers", "Welcome series"
SCREENSHOT_LIMIT = 250_000  # bytes: docs/screenshots stay light


def count(app, area: str, column: str) -> int:
    return int(app.locator(f'#health-areas tr[data-area="{area}"] td[data-count="{column}"] .count').inner_text())


def program_row(app, name: str):
    return app.locator("#health-areas tr", has_text=f"Program: {name}")


def wait_for_inbox(world, at_least: int, seconds: float = 20) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        with world.app.app_context(), get_db().transaction() as session:
            waiting = session.scalar(select(func.count(WebhookEvent.id)).where(WebhookEvent.processed_at.is_(None)))
        if waiting >= at_least:
            return
        time.sleep(0.1)
    raise AssertionError("the store's webhooks did not reach the host")


def test_the_health_panel_counts_what_engagement_cloud_holds(page, world):
    app = install_and_connect(page, world)
    app.get_by_label("Sync customers to").select_option(label=CUSTOMERS_BOOK)
    app.get_by_label("Sync subscribers to").select_option(label=SUBSCRIBERS_BOOK)
    app.get_by_label("New customers").select_option(label=WELCOME)
    app.get_by_role("button", name="Save", exact=True).click()
    expect(app.get_by_role("status").first).to_contain_text("Settings saved")

    app.get_by_role("button", name="Sync now").click()
    expect(app.locator("#last-run-status")).to_have_text("Finished", timeout=60_000)
    full_run_id = app.locator("#last-run").get_attribute("data-run-id")

    store = world.store_state()
    expected = expected_state(store)
    actual = actual_state(world.ec_account(), CUSTOMERS_BOOK, SUBSCRIBERS_BOOK)
    for area, part in (("customers", "customers_book"), ("subscribers", "subscribers_book"),
                       ("orders", "orders"), ("catalog", "products")):
        assert count(app, area, "in_sync") == len(expected[part]) == len(actual[part]), area
        assert count(app, area, "attention") == 0, area
    assert count(app, "customers", "in_sync") > 0 and count(app, "orders", "in_sync") > 0
    hidden = [product for product in store["products"] if not product.get("is_visible")]
    assert count(app, "catalog", "excluded") == len(hidden)
    not_opted_in = {s["email"].lower() for s in store["subscribers"] if not is_opted_in(s)}
    assert count(app, "subscribers", "excluded") == len(not_opted_in)
    expect(app.locator("#health-sentence")).to_have_text("Everything is in sync.")
    expect(app.locator("#next-sync")).not_to_be_empty()
    # each stream's row adds up; contacts are their own, explained, row
    for row in app.locator("#last-run-counts tbody tr").all():
        read, sent, unchanged, excluded, failed = (int(text) for text in row.locator("td").all_inner_texts())
        assert read == sent + unchanged + excluded + failed, row.inner_text()
    contacts = app.locator('#last-run-counts tr[data-stream="contacts"] td').all_inner_texts()
    assert int(contacts[1]) == len(actual["customers_book"]) + len(actual["subscribers_book"])
    expect(app.locator("#last-run-counts-note")).to_contain_text(
        "people built from customers, subscribers and guests; each is sent once per book")
    expect(app.locator('#last-run-counts tr[data-stream="enrolments"]')).to_have_count(0)

    # A new customer arrives by an instant update and is welcomed; the full sync stays in view.
    response = requests.post(f"{world.bigcommerce_url}/_emulator/stores/{STORE.store_hash}/customers",
                             json={"email": "new.in.town@example.org"}, timeout=30)
    response.raise_for_status()
    wait_for_inbox(world, 1)
    with world.app.app_context():
        instant = run_fast_lane(_connection_id(world))
    assert instant is not None and instant.status == "finished", instant and instant.errors

    app = open_app_from_control_panel(page, world)
    expect(app.locator("#last-run")).to_have_attribute("data-run-id", full_run_id)
    expect(app.locator("#instant-latest")).to_contain_text("1 record")
    account = world.ec_account()
    actual = actual_state(account, CUSTOMERS_BOOK, SUBSCRIBERS_BOOK)
    expected = expected_state(world.store_state())
    assert count(app, "customers", "in_sync") == len(expected["customers_book"]) == len(actual["customers_book"])
    welcomed = sum(times for (program, _), times in enrolled(account).items() if program == WELCOME)
    assert welcomed == 1
    expect(program_row(app, WELCOME).locator('td[data-count="in_sync"] .count')).to_have_text(str(welcomed))

    store_tab_picture(page, world)
    assert (SCREENSHOTS / "store-tab.png").stat().st_size < SCREENSHOT_LIMIT


def store_tab_picture(page, world) -> None:
    """docs/screenshots/store-tab.png: the top of the Store tab (health, the store, the last full
    sync, the instant updates), taken at the top level in the same browser session."""
    top = page.context.new_page()
    top.goto(f"{world.host_url}/settings/store")
    box = top.locator("#instant-updates").bounding_box()
    width = top.evaluate("document.documentElement.scrollWidth")
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    top.screenshot(path=str(SCREENSHOTS / "store-tab.png"), full_page=True,
                   clip={"x": 0, "y": 0, "width": width, "height": box["y"] + box["height"] + 24})
    top.close()
    page.bring_to_front()


def _connection_id(world) -> int:
    from host.models import Connection

    with world.app.app_context(), get_db().transaction() as session:
        return session.scalar(select(Connection.id).where(Connection.source_account == STORE.store_hash))
