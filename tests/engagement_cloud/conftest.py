"""Fixtures: the Engagement Cloud emulator on a loopback port, a host app pointed at it and a
connected connection. Polling and back-off are tuned short so the suite stays quick."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
import requests

from emulators.common import start_server
from emulators.engagement_cloud import create_app as create_emulator
from host.connections import connect
from host.db import get_db
from host.models import Base, Connection
from host.plugins import get_plugins
from plugins.engagement_cloud import insight, lookups, throttle

DEMO = {"api_user": "apiuser-demo@apiconnector.com", "password": "demo-password",
        "address_books": ["Customers", "Subscribers"]}
NORTH_AMERICA = {"api_user": "apiuser-na@apiconnector.com", "password": "na-password", "region": "r2",
                 "address_books": ["NA customers"]}
NO_INSIGHT = {"api_user": "apiuser-noinsight@apiconnector.com", "password": "ni-password",
              "features": {"insight_data": False, "account_insight": False},
              "address_books": ["Customers"]}
FAST = {"poll_interval": 0.02, "poll_max_interval": 0.1, "retry_base_seconds": 0.01,
        "retry_max_seconds": 0.05, "max_attempts": 8, "single_upsert_max": 0}


class Emulator:
    """The running emulator and a few shortcuts to its ``/_emulator`` controls."""

    def __init__(self, url: str):
        self.url = url

    def state(self, api_user: str = DEMO["api_user"]) -> dict:
        accounts = requests.get(f"{self.url}/_emulator/state", timeout=30).json()["accounts"]
        return next(a for a in accounts if a["api_user"] == api_user)

    def requests(self) -> dict[str, int]:
        return requests.get(f"{self.url}/_emulator/state?summary=1", timeout=30).json()["requests"]

    def faults(self, **settings) -> None:
        requests.post(f"{self.url}/_emulator/faults", json=settings, timeout=5).raise_for_status()

    def control(self, method: str, path: str, **body) -> dict:
        answer = requests.request(method, f"{self.url}/_emulator{path}", json=body, timeout=5)
        answer.raise_for_status()
        return answer.json()

    def book_id(self, name: str, api_user: str = DEMO["api_user"]) -> str:
        return str(next(b["id"] for b in self.state(api_user)["address_books"] if b["name"] == name))


@pytest.fixture(scope="session")
def emulator_server():
    app = create_emulator([DEMO, NORTH_AMERICA, NO_INSIGHT], processing_delay=0.02)
    with start_server(app) as server:
        yield Emulator(server.url)


@pytest.fixture
def emulator(emulator_server):
    """The shared emulator, back to its seeded accounts; the plugin's caches emptied with it."""
    emulator_server.control("POST", "/reset")
    lookups.cache.clear()
    insight.features.clear()
    throttle._throttles.clear()
    return emulator_server


@pytest.fixture
def make_ec_app(make_app, emulator):
    """A host app whose engagement_cloud plugin talks to the emulator; tables created."""

    def factory(**overrides):
        settings = {"api_base_url": emulator.url, **FAST, **overrides}
        app = make_app(PLUGINS={"enabled": ["engagement_cloud"], "engagement_cloud": settings})
        with app.app_context():
            Base.metadata.create_all(get_db().engine)
        return app

    return factory


@pytest.fixture
def ec_app(make_ec_app):
    app = make_ec_app()
    with app.app_context():
        yield app


@pytest.fixture
def destination(ec_app):
    return get_plugins().destination("engagement_cloud")


@pytest.fixture
def mapper(ec_app):
    return get_plugins().mapper_for("engagement_cloud")


def make_connection(account: dict, *, connected_at: datetime | None = None) -> Connection:
    """A store connected to ``account`` through the host's own ``connect``."""
    session = get_db().session
    connection = Connection(source="bigcommerce", source_account=f"store-{account['api_user'][:12]}",
                            store_name="Demo store", store_url="https://demo-store.example.com")
    session.add(connection)
    session.flush()
    connect(session, get_plugins(), connection, "engagement_cloud",
            {"username": account["api_user"], "password": account["password"]})
    if connected_at is not None:
        connection.connected_at = connected_at
    session.commit()
    return connection


@pytest.fixture
def connection(ec_app):
    return make_connection(DEMO, connected_at=datetime(2024, 1, 1, tzinfo=UTC))
