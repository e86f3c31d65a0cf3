"""The whole product over loopback: both emulators, a live host, the real plugins.

Shared by the end-to-end tests and ``bench/sync_end_to_end.py``. The host is installed the
way a merchant installs it (the BigCommerce control-panel simulator drives the OAuth callback)
and connected with ``host.connections.connect``; books and programs are saved as the Store tab
saves them. ``expected_state`` (from ``demo.expected``) says, from the store alone, what
Engagement Cloud must hold.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import requests
from sqlalchemy import func, select
from werkzeug.serving import make_server

from demo import expected
from demo.expected import enrolled, expected_state  # noqa: F401  (the tests import them from here)
from emulators import bigcommerce as bigcommerce_emulator
from emulators import engagement_cloud as engagement_cloud_emulator
from emulators.common import RunningServer, start_server
from host import connections
from host.db import get_db
from host.models import Base, Connection, WebhookEvent
from host.plugins import get_plugins
from host.settings import save_settings

STORE_HASH = "loop1234"
CLIENT_ID = "connector-host-loopback"
CLIENT_SECRET = "loopback-client-secret-long-enough-for-hs256"
API_USER = "apiuser-loopback@apiconnector.com"
API_PASSWORD = "loopback-password"
CUSTOMERS_BOOK, SUBSCRIBERS_BOOK = "Store customers", "Store subscribers"
PROGRAMS = {
    "new_customer_program_id": "Welcome customers",
    "new_subscriber_program_id": "Welcome subscribers",
    "first_order_program_id": "First order thanks",
}
# Engagement Cloud calls that change something (everything else only reads).
WRITE_METHODS = ("PUT ", "POST ", "PATCH ", "DELETE ")


@dataclass(frozen=True)
class StoreSize:
    customers: int
    subscribers: int
    orders: int
    products: int
    seed: int = 11


@dataclass
class Emulators:
    bigcommerce: RunningServer
    engagement_cloud: RunningServer

    def store(self, store_hash: str = STORE_HASH) -> dict[str, Any]:
        state = self.bigcommerce_state()
        return next(s for s in state["stores"] if s["store_hash"] == store_hash)

    def account(self, api_user: str = API_USER) -> dict[str, Any]:
        state = self.engagement_cloud_state()
        return next(a for a in state["accounts"] if a["api_user"] == api_user)

    def bigcommerce_state(self) -> dict[str, Any]:
        return requests.get(f"{self.bigcommerce.url}/_emulator/state", timeout=120).json()

    def engagement_cloud_state(self) -> dict[str, Any]:
        return requests.get(f"{self.engagement_cloud.url}/_emulator/state", timeout=120).json()

    def engagement_cloud_writes(self) -> int:
        """How many API calls so far changed something at Engagement Cloud."""
        counts = self.engagement_cloud_state()["requests"]
        return sum(n for call, n in counts.items() if call.startswith(WRITE_METHODS))

    def create(self, kind: str, **fields: Any) -> dict[str, Any]:
        """A change in the store, as the emulator's control endpoints make it (webhooks fire)."""
        response = requests.post(
            f"{self.bigcommerce.url}/_emulator/stores/{STORE_HASH}/{kind}", json=fields, timeout=30
        )
        response.raise_for_status()
        return response.json()["data"]

    def update(self, kind: str, record_id: int, **fields: Any) -> dict[str, Any]:
        response = requests.put(
            f"{self.bigcommerce.url}/_emulator/stores/{STORE_HASH}/{kind}/{record_id}", json=fields, timeout=30
        )
        response.raise_for_status()
        return response.json()["data"]

    def delete(self, kind: str, record_id: int) -> None:
        """A record deleted in the store (an order is archived; the others are gone)."""
        response = requests.delete(
            f"{self.bigcommerce.url}/_emulator/stores/{STORE_HASH}/{kind}/{record_id}", timeout=30
        )
        response.raise_for_status()

    def stop(self) -> None:
        self.bigcommerce.stop()
        self.engagement_cloud.stop()


def start_emulators(size: StoreSize) -> Emulators:
    store = bigcommerce_emulator.StoreSpec(
        store_hash=STORE_HASH, name="Loopback Outdoor", seed=size.seed, customers=size.customers,
        subscribers=size.subscribers, orders=size.orders, products=size.products,
    )
    return start_emulators_for([store], [account_seed()])


def account_seed(
    api_user: str = API_USER, password: str = API_PASSWORD,
    books: list[str] | tuple[str, ...] = (CUSTOMERS_BOOK, SUBSCRIBERS_BOOK),
) -> engagement_cloud_emulator.AccountSeed:
    """An Engagement Cloud account with ``books`` and the three active ``PROGRAMS``."""
    return engagement_cloud_emulator.AccountSeed(
        api_user=api_user,
        password=password,
        address_books=list(books),
        programs=[engagement_cloud_emulator.ProgramSeed(name=n, status="Active") for n in PROGRAMS.values()],
        enrolments_per_hour=1000,
    )


def start_emulators_for(
    stores: list[bigcommerce_emulator.StoreSpec], accounts: list[engagement_cloud_emulator.AccountSeed]
) -> Emulators:
    """One BigCommerce emulator with ``stores`` and one Engagement Cloud emulator with ``accounts``."""
    bigcommerce = start_server(
        # The host listens on loopback http: the emulator must accept that webhook destination.
        bigcommerce_emulator.create_app(stores=stores, webhook_retry_scale=0.001,
                                        modes={"webhook_destinations": "any"})
    )
    engagement_cloud = start_server(
        engagement_cloud_emulator.create_app(accounts=accounts, processing_delay=0.01)
    )
    return Emulators(bigcommerce, engagement_cloud)


def host_config(emulators: Emulators, host_url: str) -> dict[str, Any]:
    """The host's configuration sections for these emulators (fast polling, no scheduler)."""
    return {
        "HOST": {"public_url": host_url, "allow_insecure_public_url": True},  # loopback http
        "SCHEDULER": {"enabled": False},
        "PLUGINS": {
            "bigcommerce": {
                "client_id": CLIENT_ID,
                "client_secret": CLIENT_SECRET,
                "login_base_url": emulators.bigcommerce.url,
                "api_base_url": emulators.bigcommerce.url,
            },
            "engagement_cloud": {
                "api_base_url": emulators.engagement_cloud.url + "/r1",
                "poll_interval": 0.02,
                "poll_max_interval": 0.2,
                "retry_base_seconds": 0.05,
            },
        },
    }


def host_environment(config: dict[str, Any], instance_path: str, database_url: str) -> dict[str, str]:
    """The same configuration as ``HOST_*`` variables, for a ``flask --app host`` subprocess."""
    environment = {"HOST_INSTANCE_PATH": instance_path, "HOST_DATABASE__URL": database_url}
    for section, values in config.items():
        for key, value in values.items():
            if isinstance(value, dict):
                for inner, item in value.items():
                    environment[f"HOST_{section}__{key}__{inner}".upper()] = str(item).lower() if isinstance(item, bool) else str(item)
            else:
                environment[f"HOST_{section}__{key}".upper()] = str(value).lower() if isinstance(value, bool) else str(value)
    return environment


@contextmanager
def host_database(server_url: str | None, folder: str):
    """A fresh database for one measurement: SQLite in ``folder``, or a new PostgreSQL
    database on ``server_url``'s server, dropped afterwards."""
    if not server_url:
        yield f"sqlite:///{folder}/host.db"
        return
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    name = f"bench_{uuid.uuid4().hex[:10]}"
    admin = create_engine(server_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield make_url(server_url).set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


class LateApp:
    """A WSGI app set after its server is bound, so the host can learn its own URL first."""

    app = None

    def __call__(self, environ, start_response):
        return self.app(environ, start_response)


@contextmanager
def live_host() -> Iterator[tuple[str, LateApp]]:
    late = LateApp()
    server = make_server("127.0.0.1", 0, late, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}", late
    finally:
        server.shutdown()
        thread.join(timeout=5)


def install_and_connect(
    app, emulators: Emulators, host_url: str, scopes: list[str] | None = None, *,
    store_hash: str = STORE_HASH, api_user: str = API_USER, password: str = API_PASSWORD,
    books: tuple[str, str] = (CUSTOMERS_BOOK, SUBSCRIBERS_BOOK),
) -> int:
    """Install from the control panel, connect the account, choose books and programs; the app
    asks for ``scopes`` (default: the emulator's, full access). By default the loopback store
    and account; ``store_hash``, ``api_user``/``password`` and ``books`` (customers, subscribers)
    name others."""
    callbacks = {name: f"{host_url}/bigcommerce/{name}" for name in ("auth", "load", "uninstall", "remove_user")}
    requests.post(
        f"{emulators.bigcommerce.url}/_emulator/apps",
        json={"client_id": CLIENT_ID, "client_secret": CLIENT_SECRET,
              **({"scopes": scopes} if scopes else {}),
              **{f"{name}_callback": url for name, url in callbacks.items()}},
        timeout=30,
    ).raise_for_status()
    answer = requests.post(
        f"{emulators.bigcommerce.url}/_emulator/control-panel/install",
        json={"client_id": CLIENT_ID, "store_hash": store_hash, "user": "owner"},
        timeout=120,
    ).json()
    assert answer.get("status") == 200 and answer.get("code_exchanged"), answer
    with app.app_context(), get_db().transaction() as session:
        connection = session.scalar(select(Connection).where(Connection.source_account == store_hash))
        plugins = get_plugins()
        connections.connect(
            session, plugins, connection, "engagement_cloud",
            {"username": api_user, "password": password},
        )
        destination = plugins.destination("engagement_cloud")
        book_ids = {book.name: book.id for book in destination.address_books(connection)}
        programs = {program.name: program.id for program in destination.programs(connection)}
        save_settings(session, connection, "contacts", {
            "customers_book_id": book_ids[books[0]], "subscribers_book_id": book_ids[books[1]],
        })
        save_settings(session, connection, "automation", {
            setting: programs[name] for setting, name in PROGRAMS.items()
        })
        return connection.id


@contextmanager
def connected_loop(
    make_app, size: StoreSize, scopes: list[str] | None = None
) -> Iterator[tuple[Any, Emulators, int]]:
    """Both emulators with a generated store, a live host app on the test database, and a
    connection installed and connected through the real plugins: (app, emulators, id)."""
    emulators = start_emulators(size)
    try:
        with live_host() as (host_url, late):
            app = make_app(**host_config(emulators, host_url))
            with app.app_context():
                Base.metadata.create_all(get_db().engine)
            late.app = app
            yield app, emulators, install_and_connect(app, emulators, host_url, scopes)
    finally:
        emulators.stop()


def wait_for_events(app, connection_id: int, count: int, seconds: float = 15) -> int:
    """Wait until the webhook inbox holds ``count`` unprocessed events; answer how many it holds."""
    deadline = time.monotonic() + seconds
    while True:
        with app.app_context(), get_db().transaction() as session:
            waiting = session.scalar(
                select(func.count(WebhookEvent.id)).where(
                    WebhookEvent.connection_id == connection_id, WebhookEvent.processed_at.is_(None)
                )
            )
        if waiting >= count or time.monotonic() > deadline:
            return waiting
        time.sleep(0.1)


# ---------------------------------------------------------------------- what should be there
# The rules live in demo.expected, shared with the benchmarks and the soak run.


def actual_state(account: dict[str, Any]) -> dict[str, Any]:
    """What the Engagement Cloud account holds, in ``expected_state``'s shape (plus what a test checks)."""
    return expected.actual_state(account, CUSTOMERS_BOOK, SUBSCRIBERS_BOOK)
