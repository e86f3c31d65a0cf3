"""Every settings page passes axe-core's automated accessibility check (issue 12).

axe-core comes from the npm registry (``tools/ensure_axe.sh``, run by ``make test``), is injected
into each page and run with its default rules (WCAG 2.x A and AA, and best practices). A
*serious* or *critical* violation fails the test; lesser findings are printed. Each tab is
checked in the states a merchant meets: empty and with inline errors, before and after a sync.
"""

from __future__ import annotations

import os
import subprocess
from datetime import timedelta
from pathlib import Path

import pytest
from playwright.sync_api import expect
from sqlalchemy import select

from host.db import get_db
from host.models import Enrolment, LedgerEntry, utcnow
from tests.browser.conftest import ACCOUNT, REPOSITORY, SMTP_PASSWORD, SMTP_USER
from tests.browser.test_merchant_flow import connect_account, open_app_from_control_panel

pytestmark = pytest.mark.browser

AXE_JS = REPOSITORY / "tools" / "axe" / "node_modules" / "axe-core" / "axe.min.js"
BLOCKING = ("serious", "critical")


def axe_path() -> Path | None:
    if not AXE_JS.exists() and os.geteuid() == 0:  # the test set-up installs what it needs
        subprocess.run(["bash", str(REPOSITORY / "tools" / "ensure_axe.sh")], check=False, timeout=600)
    return AXE_JS if AXE_JS.exists() else None


@pytest.fixture(scope="session")
def axe():
    path = axe_path()
    if path is None:
        pytest.skip("axe-core is not installed: run tools/ensure_axe.sh")
    return path


@pytest.fixture
def page(chromium):
    """As the conftest's page, with the app's Content-Security-Policy bypassed only so axe can be injected."""
    context = chromium.new_context(viewport={"width": 1280, "height": 900}, bypass_csp=True)
    context.set_default_timeout(15_000)
    page = context.new_page()
    yield page
    context.close()


def axe_violations(page, axe: Path) -> list[dict]:
    """axe-core's violations on the page as it is now."""
    page.add_script_tag(path=str(axe))
    result = page.evaluate(
        """async () => {
            const result = await axe.run(document, {resultTypes: ['violations']});
            return result.violations.map(v => ({
                id: v.id, impact: v.impact, help: v.help,
                nodes: v.nodes.map(n => ({target: n.target.join(' '), summary: n.failureSummary}))}));
        }"""
    )
    return result


def describe(page_name: str, violations: list[dict]) -> str:
    lines = []
    for violation in violations:
        lines.append(f"{page_name}: [{violation['impact']}] {violation['id']}: {violation['help']}")
        lines.extend(f"    {node['target']}: {node['summary']}".replace("\n", " ") for node in violation["nodes"][:5])
    return "\n".join(lines)


class Checker:
    """Visits pages at the top level (same browser session as the framed app) and runs axe on each."""

    def __init__(self, page, world, axe: Path):
        self.page, self.world, self.axe = page, world, axe
        self.findings: dict[str, list[dict]] = {}

    def check_here(self, name: str, page=None) -> None:
        self.findings[name] = axe_violations(page or self.page, self.axe)

    def check(self, name: str, path: str, showing: str | None = None) -> None:
        top = self.page.context.new_page()
        try:
            response = top.goto(f"{self.world.host_url}{path}")
            assert response is not None and response.ok, f"{path}: {response and response.status}"
            if showing:
                expect(top.locator(showing).first).to_be_visible()
            self.check_here(name, top)
        finally:
            top.close()
            self.page.bring_to_front()

    def assert_clean(self) -> None:
        report = "\n".join(describe(name, found) for name, found in self.findings.items() if found)
        if report:
            print(report)  # the minor and moderate findings, for the record (pytest -s shows them)
        blocking = {name: [v for v in found if v["impact"] in BLOCKING] for name, found in self.findings.items()}
        blocking = {name: found for name, found in blocking.items() if found}
        assert not blocking, "axe-core found serious or critical violations:\n" + "\n".join(
            describe(name, found) for name, found in blocking.items())


def test_every_settings_page_passes_axe_core(page, world, axe):
    checker = Checker(page, world, axe)

    # Connect: the empty form, then the same form refusing a wrong password (alert, invalid field).
    app = open_app_from_control_panel(page, world, "install")
    expect(app.get_by_role("heading", name="Connect your Engagement Cloud account")).to_be_visible()
    checker.check("Connect", "/settings/connect")
    connect_account(app, ACCOUNT["api_user"], "not-the-password")
    expect(app.get_by_role("alert")).to_be_visible()
    checker.check_here("Connect (wrong password, framed)", _app_frame(page, "/settings/connect"))
    connect_account(app, ACCOUNT["api_user"], ACCOUNT["password"])
    expect(app.get_by_role("heading", name="Connected store")).to_be_visible()

    # Store: as first opened, with an inline error, then after a sync with its counts.
    checker.check("Store", "/settings/store")
    app.get_by_label("Sync customers to").select_option(label="Store customers")
    app.get_by_label("Sync subscribers to").select_option(label="Store customers")
    app.get_by_role("button", name="Save", exact=True).click()
    expect(app.get_by_label("Sync subscribers to")).to_have_attribute("aria-invalid", "true")
    checker.check_here("Store (same book twice, framed)", _app_frame(page, "/settings/store"))
    app.get_by_label("Sync subscribers to").select_option(label="Newsletter subscribers")
    app.get_by_role("button", name="Save", exact=True).click()
    expect(app.get_by_role("status").first).to_contain_text("Settings saved")
    app.get_by_role("button", name="Sync now").click()
    expect(app.locator("#last-run-status")).to_be_visible(timeout=60_000)
    checker.check("Store (after a sync)", "/settings/store", showing="#health-areas")
    refuse_some_records(world)
    checker.check("Store (refused records and enrolments)", "/settings/store", showing="#needs-attention table")

    checker.check("Field mapping", "/settings/field-mapping")

    # SMTP: empty, then with a failed test's answer.
    checker.check("SMTP", "/settings/smtp")
    app.get_by_role("link", name="SMTP").click()
    app.get_by_label("SMTP username").fill(SMTP_USER)
    app.get_by_label("SMTP password").fill(SMTP_PASSWORD + "-wrong")
    app.get_by_role("button", name="Test settings").click()
    expect(app.locator("#smtp-test-result")).to_contain_text("Test failed.")
    checker.check_here("SMTP (failed test, framed)", _app_frame(page, "/settings/smtp"))

    checker.check("Connect (connected)", "/settings/connect")
    checker.check("Disconnect confirmation", "/settings/disconnect")
    checker.check("Remove confirmation", "/settings/store/remove")

    # The page after Remove, and the page a visitor without a session gets.
    app.get_by_role("link", name="Store", exact=True).click()
    app.get_by_role("link", name="Remove BigCommerce connection").click()
    app.get_by_role("button", name="Yes, remove the connection").click()
    expect(app.get_by_role("heading", name="Connection removed")).to_be_visible()
    checker.check_here("Connection removed (framed)", _app_frame(page, "/settings/store/remove"))
    signed_out = page.context.browser.new_context(bypass_csp=True)
    try:
        stranger = signed_out.new_page()
        stranger.goto(f"{world.host_url}/settings/store")
        checker.check_here("Not signed in", stranger)
    finally:
        signed_out.close()

    assert {name for name in checker.findings} >= {
        "Connect", "Store", "Field mapping", "SMTP", "Disconnect confirmation", "Remove confirmation"}
    checker.assert_clean()


def refuse_some_records(world) -> None:
    """Records and an enrolment as Engagement Cloud's refusals leave them, for the needs-attention list."""
    program = next(p for p in world.ec_account()["programs"] if p["name"] == "Spring promotion")
    with world.app.app_context(), get_db().transaction() as session:
        first, second = session.scalars(select(LedgerEntry).where(LedgerEntry.state == "synced").limit(2)).all()
        first.state, first.reason, first.attempts = "failed", "contacts:invalidEmail: the email address is not valid", 5
        second.state, second.reason, second.attempts = "failed", "HTTP 400 ERROR_PARAMETER_INVALID", 1
        second.next_attempt_at = utcnow() + timedelta(hours=1)
        session.add(Enrolment(connection_id=first.connection_id, trigger="new_customer", contact_key="pat@example.com",
                              program_id=str(program["id"]), state="failed", attempts=1,
                              reason="ERROR_PROGRAM_NOT_ACTIVE: the program is not active"))


def _app_frame(page, path_part: str):
    """The app's frame inside the control panel (its URL after the last navigation)."""
    frame = page.frame_locator("#app")
    frame.locator("body").wait_for()
    for candidate in page.frames:
        if candidate is not page.main_frame and path_part in candidate.url:
            return candidate
    return next(candidate for candidate in page.frames if candidate is not page.main_frame)
