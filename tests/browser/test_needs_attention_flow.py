"""Refused records and enrolments in Chromium, on a live host and both emulators: a refused order
and an enrolment a program could not take appear with their reasons in plain words (the raw code
under Details), the list filters by area and downloads as CSV, and Retry fixes both once the
cause is removed in Engagement Cloud."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
import requests
from playwright.sync_api import expect
from sqlalchemy import func, select

from demo.expected import expected_state
from host.db import get_db
from host.models import SyncRun
from tests.browser.conftest import ACCOUNT, STORE
from tests.browser.test_merchant_flow import install_and_connect

pytestmark = pytest.mark.browser
CUSTOMERS_BOOK, SUBSCRIBERS_BOOK, INACTIVE = "Store customers", "Newsletter subscribers", "Spring promotion"
SOMEONE_ELSE = "left.by.an.old.integration@example.com"
ORDER_TAKEN = "Engagement Cloud already holds an order with this number, for another contact"
PROGRAM_INACTIVE = "The program is not active in Engagement Cloud, so nobody can be enrolled in it."


class EngagementCloudApi:
    """The account's own API, as the merchant's other tools (or an earlier integration) use it."""

    def __init__(self, world):
        self.base = f"{world.engagement_cloud_url}/{ACCOUNT['region']}"
        self.auth = (ACCOUNT["api_user"], ACCOUNT["password"])

    def call(self, method: str, path: str, **kwargs) -> requests.Response:
        response = requests.request(method, self.base + path, auth=self.auth, timeout=30, **kwargs)
        response.raise_for_status()
        return response

    def order_of_someone_else(self, order_id: str) -> None:
        """An Orders record with this order's number, owned by another contact."""
        self.call("PATCH", f"/contacts/v3/email/{SOMEONE_ELSE}", params={"merge-option": "overwrite"},
                  json={"identifiers": {"email": SOMEONE_ELSE}})
        import_id = self.call("PUT", "/insightData/v3/import", json={
            "collectionName": "Orders", "collectionScope": "contact", "collectionType": "orders",
            "records": [{"key": order_id, "contactIdentity": {"identifier": "email", "value": SOMEONE_ELSE},
                         "json": {"id": order_id, "orderTotal": 1.0}}],
        }).json()["importId"]
        for _ in range(200):
            if self.call("GET", f"/insightData/v3/import/{import_id}").json()["status"] == "Finished":
                return
            time.sleep(0.05)
        raise AssertionError("the seeding import did not finish")


def finished_runs(world) -> int:
    with world.app.app_context(), get_db().transaction() as session:
        return session.scalar(select(func.count(SyncRun.id)).where(SyncRun.status != "running"))


def sync_now(app, world) -> None:
    """Press Sync now and wait until that sync has finished."""
    before = finished_runs(world)
    app.get_by_role("button", name="Sync now").click()
    deadline = time.monotonic() + 90
    while finished_runs(world) <= before:
        assert time.monotonic() < deadline, "the sync did not finish"
        time.sleep(0.2)
    app.get_by_role("link", name="Store", exact=True).click()  # the tab as it is now


def row(app, text: str):
    return app.locator("#needs-attention tbody tr", has_text=text)


def test_refusals_in_plain_words_filtered_downloaded_and_fixed_by_retry(page, world):
    app = install_and_connect(page, world)
    app.get_by_label("Sync customers to").select_option(label=CUSTOMERS_BOOK)
    app.get_by_label("Sync subscribers to").select_option(label=SUBSCRIBERS_BOOK)
    app.get_by_label("New customers").select_option(label=f"{INACTIVE} (inactive)")
    app.get_by_role("button", name="Save", exact=True).click()
    expect(app.get_by_role("status").first).to_contain_text("Settings saved")

    # The causes: an earlier integration left an order with one of this store's order numbers,
    # and a customer registers after the store was connected while the program is not active.
    store = world.store_state()
    order_id = sorted(expected_state(store)["orders"], key=int)[0]
    ec = EngagementCloudApi(world)
    ec.order_of_someone_else(order_id)
    time.sleep(1.1)  # the new customer is stamped after the connection's own second
    requests.post(f"{world.bigcommerce_url}/_emulator/stores/{STORE.store_hash}/customers",
                  json={"email": "new.customer@example.org", "first_name": "Nova", "last_name": "Buyer"},
                  timeout=30).raise_for_status()

    sync_now(app, world)

    attention = app.locator("#needs-attention")
    expect(attention).to_be_visible()
    order_row, enrolment_row = row(app, f"Order {order_id}"), row(app, "new.customer@example.org")
    expect(order_row).to_contain_text(ORDER_TAKEN)
    expect(order_row).to_contain_text("What to do: Delete the old record in Engagement Cloud (Insight data), then press Retry.")
    expect(enrolment_row).to_contain_text(f"New customer, {INACTIVE}")
    expect(enrolment_row).to_contain_text(PROGRAM_INACTIVE)
    # the service's own answer is there for support, under Details
    code = order_row.locator("details code").first
    expect(code).to_be_hidden()
    order_row.get_by_text("Details").click()
    expect(code).to_have_text("DuplicateKey")
    expect(order_row.locator("details")).to_contain_text("exists for a different contact")
    enrolment_row.get_by_text("Details").click()
    expect(enrolment_row.locator("details")).to_contain_text("ERROR_PROGRAM_NOT_ACTIVE")

    # Filter by area, and the CSV of what is shown.
    app.get_by_label("Show").select_option("orders")
    app.get_by_role("button", name="Filter").click()
    expect(row(app, f"Order {order_id}")).to_be_visible()
    expect(row(app, "new.customer@example.org")).to_have_count(0)
    with page.expect_download() as download:
        app.locator("#attention-csv").click()
    csv_text = Path(download.value.path()).read_text(encoding="utf-8-sig")
    assert ORDER_TAKEN in csv_text and "DuplicateKey" in csv_text and "new.customer" not in csv_text

    # Remove the causes in Engagement Cloud, then Retry each: the next sync sends both.
    ec.call("DELETE", f"/insightData/v3/contacts/email/{SOMEONE_ELSE}/Orders/{order_id}")
    program = next(p for p in world.ec_account()["programs"] if p["name"] == INACTIVE)
    requests.patch(f"{world.engagement_cloud_url}/_emulator/accounts/{ACCOUNT['api_user']}/programs/{program['id']}",
                   json={"status": "Active"}, timeout=30).raise_for_status()
    row(app, f"Order {order_id}").get_by_role("button", name="Retry").click()
    expect(app.get_by_role("status").first).to_contain_text("1 record will be retried at the next sync.")
    app.get_by_label("Show").select_option("")
    app.get_by_role("button", name="Filter").click()
    row(app, "new.customer@example.org").get_by_role("button", name="Retry").click()
    expect(app.get_by_role("status").first).to_contain_text("1 enrolment will be retried at the next sync.")

    sync_now(app, world)

    expect(app.locator("#needs-attention")).to_have_count(0)
    account = world.ec_account()
    emails = {contact["id"]: contact["email"].lower() for contact in account["contacts"]}
    owner = next(record for record in account["insight"]["Orders"] if record["key"] == order_id)
    buyer = next(o for o in store["orders"] if str(o["id"]) == order_id)["billing_address"]["email"].lower()
    assert emails[owner["contactId"]] == buyer != SOMEONE_ELSE
    enrolled = [emails[contact] for enrolment in account["enrolments"] if enrolment["programId"] == program["id"]
                for contact in enrolment["contacts"]]
    assert enrolled == ["new.customer@example.org"]
