"""Browser tests: Debian's Chromium, driven by Playwright, against the live host and both emulators.

``world`` serves, on loopback ports: the BigCommerce emulator (a small generated store, the app
registered), the Engagement Cloud emulator (one account with books and programs), a local
STARTTLS SMTP server, the host with every built-in plugin pointed at them, and a stand-in for
the store's control panel that opens the app in an iframe, as BigCommerce does.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import pytest
import requests
from flask import Flask

from emulators.bigcommerce.accounts import store_users
from emulators.bigcommerce.app import create_app as create_bigcommerce_emulator
from emulators.bigcommerce.generator import StoreSpec
from emulators.bigcommerce.signed_payload import signed_payload_jwt
from emulators.common import start_server
from emulators.engagement_cloud import create_app as create_engagement_cloud_emulator
from host.db import get_db
from host.models import Base
from host.scheduler import HostScheduler
from host.testing import serve
from tests.web.smtp_server import local_smtp_server

REPOSITORY = Path(__file__).resolve().parents[2]
SCREENSHOTS = REPOSITORY / "docs" / "screenshots"
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]
CLIENT_ID, CLIENT_SECRET = "connector-browser-test-app", "browser-test-secret-5c1e-long-enough-for-hs256"
STORE = StoreSpec(store_hash="browserstore", name="Harbour & Pine", seed=5, customers=24, subscribers=12,
                  orders=30, products=8)
ACCOUNT = {
    "api_user": "apiuser-harbour@apiconnector.com",
    "password": "harbour-api-password",
    "region": "r2",
    "address_books": ["Store customers", "Newsletter subscribers"],
    "programs": [{"name": "Welcome series"}, {"name": "First order thank-you"},
                 {"name": "Spring promotion", "status": "Deactivated"}],
}
SMTP_USER, SMTP_PASSWORD = "smtp-harbour@example.com", "smtp-secret-password"
FAST_EC = {"poll_interval": 0.02, "poll_max_interval": 0.1, "retry_base_seconds": 0.01,
           "retry_max_seconds": 0.05, "single_upsert_max": 0, "lookup_cache_seconds": 0}


def chromium_path() -> str | None:
    path = shutil.which("chromium")
    if path is None and os.geteuid() == 0:  # the test set-up installs what it needs
        subprocess.run(["bash", str(REPOSITORY / "tools" / "ensure_chromium.sh")], check=False, timeout=600)
        path = shutil.which("chromium")
    return path


@pytest.fixture(scope="session")
def chromium():
    path = chromium_path()
    if path is None:
        pytest.skip("Debian's chromium is not installed: run tools/ensure_chromium.sh")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        # Playwright gives every launch a fresh temporary user-data-dir.
        browser = playwright.chromium.launch(executable_path=path, headless=True, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def page(chromium):
    context = chromium.new_context(viewport={"width": 1280, "height": 900})
    context.set_default_timeout(15_000)
    page = context.new_page()
    yield page
    context.close()


def control_panel(bigcommerce, app_callbacks: dict[str, str]) -> Flask:
    """The store's control panel, as far as the app sees it: a page that frames the app's URL."""
    panel = Flask("control_panel_stand_in")

    def framed(src: str) -> str:
        return (
            "<!doctype html><html lang=en><title>Apps · Control panel</title>"
            "<style>body{margin:0;font-family:sans-serif;background:#f6f7fc}"
            "header{background:#313440;color:#fff;padding:12px 20px;font-size:14px}"
            "iframe{display:block;border:0;width:100%;height:calc(100vh - 44px)}</style>"
            f"<header>{STORE.name} › Apps › Engagement Cloud</header>"
            f'<iframe id="app" title="Engagement Cloud connector" src="{src}"></iframe></html>'
        )

    @panel.get("/manage/install")
    def install():
        accounts = bigcommerce.extensions["bigcommerce_emulator"].accounts
        owner = store_users(STORE.store_hash)["owner"]
        app = accounts.apps[CLIENT_ID]
        query = {"account_uuid": app.account_uuid, "code": accounts.issue_code(CLIENT_ID, STORE.store_hash, owner),
                 "context": f"stores/{STORE.store_hash}", "scope": " ".join(app.scopes)}
        return framed(f"{app_callbacks['auth']}?{urlencode(query)}")

    @panel.get("/manage/app")
    def load():
        users = store_users(STORE.store_hash)
        token = signed_payload_jwt(CLIENT_ID, CLIENT_SECRET, STORE.store_hash, users["owner"], users["owner"], "/", None)
        return framed(f"{app_callbacks['load']}?{urlencode({'signed_payload_jwt': token})}")

    return panel


@dataclass
class World:
    app: Any  # the host
    host_url: str
    control_panel_url: str
    bigcommerce_url: str
    engagement_cloud_url: str
    mailbox: Any

    def ec_account(self) -> dict:
        accounts = requests.get(f"{self.engagement_cloud_url}/_emulator/state", timeout=30).json()["accounts"]
        return next(account for account in accounts if account["api_user"] == ACCOUNT["api_user"])

    def store_state(self) -> dict:
        url = f"{self.bigcommerce_url}/_emulator/state?store={STORE.store_hash}"
        return requests.get(url, timeout=30).json()["stores"][0]


@pytest.fixture
def world(make_app, tmp_path):
    bigcommerce = create_bigcommerce_emulator([STORE], access_token=None, webhook_retry_scale=0.001,
                                              modes={"webhook_destinations": "any"})  # hooks to loopback http
    engagement_cloud = create_engagement_cloud_emulator([ACCOUNT], processing_delay=0.02)
    bc_server, ec_server = start_server(bigcommerce), start_server(engagement_cloud)
    with local_smtp_server(tmp_path, SMTP_USER, SMTP_PASSWORD) as mailbox:
        app = make_app(
            # Cycles start only on "Sync now" during a test: no periodic tick gets in first, nor
            # the fast lane's own thread (a test runs the fast lane itself).
            SYNC={"fast_lane_seconds": 3600, "fast_lane_poll_seconds": 0},
            PLUGINS={
                "bigcommerce": {"client_id": CLIENT_ID, "client_secret": CLIENT_SECRET,
                                "api_base_url": bc_server.url, "login_base_url": bc_server.url},
                "engagement_cloud": {"api_base_url": ec_server.url, **FAST_EC},
                "smtp": {"smtp_host_override": "127.0.0.1", "smtp_port_override": mailbox.port,
                         "smtp_tls_insecure": True},
            },
        )
        with app.app_context():
            Base.metadata.create_all(get_db().engine)
        with serve(app) as host_url:
            callbacks = {name: f"{host_url}/bigcommerce/{name}" for name in ("auth", "load", "uninstall", "remove_user")}
            bigcommerce.extensions["bigcommerce_emulator"].accounts.register_app(
                client_id=CLIENT_ID, client_secret=CLIENT_SECRET,
                auth_callback=callbacks["auth"], load_callback=callbacks["load"],
                uninstall_callback=callbacks["uninstall"], remove_user_callback=callbacks["remove_user"],
                scopes=["store_v2_customers_read_only", "store_v2_orders_read_only",
                        "store_v2_products_read_only", "store_v2_information_read_only"],
            )
            scheduler = HostScheduler(app)
            scheduler.start()
            try:
                with serve(control_panel(bigcommerce, callbacks)) as panel_url:
                    app.config["HOST"]["public_url"] = host_url
                    app.config["HOST"]["frame_ancestors"] = [panel_url]
                    yield World(app, host_url, panel_url, bc_server.url, ec_server.url, mailbox)
            finally:
                scheduler.scheduler.shutdown(wait=True)
    bc_server.stop()
    ec_server.stop()


MAX_SCREENSHOT_BYTES = 250_000  # README pictures stay light


def screenshot(page, name: str) -> None:
    """Keep a picture of a tab for the README (docs/screenshots/<name>.png): the whole page, or as
    much of its top as fits in MAX_SCREENSHOT_BYTES."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    image = page.screenshot(full_page=True)
    height = page.evaluate("document.documentElement.scrollHeight")
    for _ in range(6):
        if len(image) < MAX_SCREENSHOT_BYTES:
            break
        height = int(height * MAX_SCREENSHOT_BYTES / len(image) * 0.9)
        clip = {"x": 0, "y": 0, "width": page.viewport_size["width"], "height": height}
        image = page.screenshot(full_page=True, clip=clip)
    (SCREENSHOTS / f"{name}.png").write_bytes(image)
