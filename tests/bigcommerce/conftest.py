"""BigCommerce tests: the emulator on a loopback port, the host served live beside it.

``bigcommerce`` gives the host app (pointed at the emulator), the emulator's URL and state, and
helpers to install the app through the emulator's control-panel simulator.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest
import requests

from emulators.bigcommerce.app import create_app as create_emulator
from emulators.bigcommerce.generator import StoreSpec
from emulators.common import start_server
from host.db import get_db
from host.models import Base, Connection
from host.testing import serve
from plugins.bigcommerce.pacing import RetryPolicy

CLIENT_ID = "connector-host-test-app"
CLIENT_SECRET = "test-client-secret-3f9a-long-enough-for-hs256"
STORE_HASH = "teststore1"
API_TOKEN = "emulator-api-token"
SMALL_STORE = StoreSpec(
    store_hash=STORE_HASH,
    name="Test Goods",
    seed=11,
    customers=60,
    subscribers=30,
    orders=120,
    products=25,
)


@dataclass
class BigCommerceWorld:
    app: Any  # the host
    host_url: str
    emulator: Any  # the emulator's Flask app
    emulator_url: str
    sleeps: list[float]

    def control(self, path: str, body: dict | None = None, method: str = "POST") -> Any:
        response = requests.request(
            method, f"{self.emulator_url}/_emulator/{path}", json=body, timeout=30
        )
        assert response.status_code < 500, response.text
        return response.json()

    def state(self) -> dict:
        return self.control(f"state?store={STORE_HASH}", method="GET")["stores"][0]

    def requests_made(self) -> dict[str, int]:
        return self.control("state?summary=1", method="GET")["requests"]

    def panel(self, action: str, **body: Any) -> dict:
        return self.control(
            f"control-panel/{action}", {"client_id": CLIENT_ID, "store_hash": STORE_HASH, **body}
        )

    def source(self):
        return self.app.extensions["host.plugins"].source("bigcommerce")

    def connection(self) -> Connection:
        """A connection with an API-account token (no install needed), for the stream tests."""
        with self.app.app_context():
            session = get_db().session
            connection = Connection(
                source="bigcommerce",
                source_account=STORE_HASH,
                store_name="Test Goods",
                store_url="https://test-goods.example",
                source_secrets={"access_token": API_TOKEN},
                webhook_secret={"value": "hook-secret-for-tests"},
            )
            session.add(connection)
            session.commit()
            return connection


def build_world(make_app, store: StoreSpec, **emulator_options: Any):
    # The host is served on loopback http: the emulator must accept that webhook destination
    # (``make_app`` allows the host's insecure public URL likewise).
    emulator = create_emulator(
        [store], access_token=API_TOKEN, webhook_retry_scale=0.001,
        modes={"webhook_destinations": "any"}, **emulator_options
    )
    server = start_server(emulator)
    app = make_app(
        PLUGINS={
            "bigcommerce": {
                "client_id": CLIENT_ID,
                "client_secret": CLIENT_SECRET,
                "api_base_url": server.url,
                "login_base_url": server.url,
            }
        }
    )
    with app.app_context():
        Base.metadata.create_all(get_db().engine)
    sleeps: list[float] = []
    app.extensions["host.plugins"].source("bigcommerce").retry = RetryPolicy(sleep=sleeps.append)
    return app, emulator, server, sleeps


@pytest.fixture
def bigcommerce(make_app):
    """A small generated store behind the emulator, the host served live, the app registered."""
    app, emulator, server, sleeps = build_world(make_app, SMALL_STORE)
    with serve(app) as host_url:
        app.config["HOST"]["public_url"] = host_url
        emulator.extensions["bigcommerce_emulator"].accounts.register_app(
            client_id=CLIENT_ID,
            client_secret=CLIENT_SECRET,
            auth_callback=f"{host_url}/bigcommerce/auth",
            load_callback=f"{host_url}/bigcommerce/load",
            uninstall_callback=f"{host_url}/bigcommerce/uninstall",
            remove_user_callback=f"{host_url}/bigcommerce/remove_user",
            scopes=[
                "store_v2_customers_read_only",
                "store_v2_orders_read_only",
                "store_v2_products_read_only",
                "store_v2_information_read_only",
            ],
        )
        yield BigCommerceWorld(app, host_url, emulator, server.url, sleeps)
    server.stop()
