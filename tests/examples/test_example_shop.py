"""The example plugin of the developer guide, installed like any third-party package, works.

docs/examples/example_shop is pip-installed into a temporary directory (never imported from the
docs tree), found by the host through the ``connector_host.plugins`` entry-point group, and run
through the source conformance suite and a sync cycle against a fake Example Shop API.
"""

from __future__ import annotations

import importlib
import importlib.util
import shutil
import subprocess
import sys
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib.metadata import entry_points
from pathlib import Path
from typing import Any

import pytest
import requests
import responses
from sqlalchemy import text

from host import connections
from host.db import get_db
from host.errors import ConfigurationError, TransientError
from host.models import Connection
from host.plugins import ENTRY_POINT_GROUP
from host.records import validation_errors
from host.testing import (
    FakeDestination,
    FakeDestinationPlugin,
    connect,
    create_schema,
    load_connection,
    serve,
    sync,
)
from host.testing.source_conformance import SourceConformance, read_all
from tests.examples.fake_shop import API_KEY, SHOP, FakeShop

EXAMPLE_PACKAGE = Path(__file__).resolve().parents[2] / "docs" / "examples" / "example_shop"


@pytest.fixture(scope="module")
def installed_example(tmp_path_factory):
    """``pip install`` the example into a directory on ``sys.path``, for this module only."""
    assert importlib.util.find_spec("example_shop") is None, (
        "example_shop is already importable here: `pip uninstall connector-host-example-shop` "
        "so this test proves its own install"
    )
    work = tmp_path_factory.mktemp("example_shop")
    copy = work / "package"  # pip builds in place: build there, keep the repository clean
    shutil.copytree(EXAMPLE_PACKAGE, copy, ignore=shutil.ignore_patterns("build", "*.egg-info"))
    target = work / "site-packages"
    pip = [sys.executable, "-m", "pip", "install", "--no-deps", "--no-build-isolation"]
    installed = subprocess.run(
        [*pip, "--no-index", "--quiet", "--target", str(target), str(copy)],
        capture_output=True,
        text=True,
    )
    assert installed.returncode == 0, installed.stderr
    sys.path.insert(0, str(target))
    importlib.invalidate_caches()
    yield target
    sys.path.remove(str(target))
    for name in [name for name in sys.modules if name.split(".")[0] == "example_shop"]:
        del sys.modules[name]
    importlib.invalidate_caches()


@dataclass
class ShopWorld:
    app: Any
    shop: FakeShop
    sleeps: list[float]
    destination: FakeDestination

    def source(self):
        return self.app.extensions["host.plugins"].source("example_shop")

    def connect(self, api_key: str = API_KEY):
        return self.app.test_cli_runner().invoke(
            args=["example-shop-connect", SHOP], env={"EXAMPLE_SHOP_API_KEY": api_key}
        )

    def connection(self) -> Connection | None:
        with self.app.app_context(), get_db().transaction() as session:
            return connections.find(session, "example_shop", SHOP)


class ShopServer:
    """One loopback server for the module, answering as whichever fake shop the test made."""

    def __init__(self) -> None:
        self.shop: FakeShop | None = None

    def __call__(self, environ, start_response):
        return self.shop.app(environ, start_response)


@pytest.fixture(scope="module")
def shop_server():
    server = ShopServer()
    with serve(server) as url:  # one server: stopping one takes half a second
        yield server, url


@pytest.fixture
def example(make_app, installed_example, shop_server):
    """A fresh fake shop behind the loopback server and the host configured to read it."""
    from host.sources import RetryPolicy

    server, url = shop_server
    server.shop, plugin = FakeShop(), FakeDestinationPlugin()  # the kit's in-memory destination
    app = make_app(PLUGINS={"example_shop": {"base_url": url}}, PLUGIN_MODULES=[plugin])
    create_schema(app)
    sleeps: list[float] = []
    app.extensions["host.plugins"].source("example_shop").retry = RetryPolicy(sleep=sleeps.append)
    return ShopWorld(app, server.shop, sleeps, plugin.destination)


@pytest.fixture
def connected(example) -> Connection:
    result = example.connect()
    assert result.exit_code == 0, result.output
    return example.connection()


STORE_URL = "https://acme.example"  # what the fake shop answers as the shop's URL


def instant(value: str) -> str:
    return datetime.fromisoformat(value.replace("Z", "+00:00")).astimezone(UTC).isoformat()


def address_truth(raw: dict[str, Any] | None) -> dict[str, Any] | None:
    """The canonical address fields the suite compares, from the shop's own address."""
    if not raw:
        return None
    return {
        "first_name": raw["first_name"],
        "last_name": raw["last_name"],
        "address1": raw["line1"],
        "city": raw["city"],
        "state": raw["state"],
        "region": f"{raw['country_code']}-{raw['state_code']}",  # ISO 3166-2, from the shop's codes
        "postcode": raw["postcode"],
        "country": raw["country"],
        "country_code": raw["country_code"],
    }


def truth(shop: FakeShop, stream: str) -> dict[str, dict[str, Any]]:
    """What each stream must say, read from the shop's own records."""
    rows = shop.resources[stream].values()
    if stream == "customers":
        return {
            str(row["id"]): {
                "email": row.get("email"),
                "first_name": row["first_name"],
                "last_name": row["last_name"],
                "company": row.get("company"),
                "notes": row.get("note") or None,
                "is_guest": False,
                "addresses": [address_truth(item) for item in row.get("addresses") or []],
            }
            for row in rows
        }
    if stream == "subscribers":
        return {
            str(row["id"]): {
                "email": row["email"],
                "opted_in": row["status"] == "subscribed",
                "consent": {
                    "date": instant(row["created_at"]),
                    "url": (row.get("consent") or {}).get("page_url") or STORE_URL,
                    "ip": (row.get("consent") or {}).get("ip"),
                },
            }
            for row in rows
        }
    if stream == "orders":
        return {
            str(row["id"]): {
                "email": row["email"],
                "customer_id": str(row["customer_id"]) if row["customer_id"] else None,
                "total": row["total"],
                "is_incomplete": row["status"] == "abandoned",
                "is_deleted": bool(row.get("archived")),
                "billing_address": address_truth(row.get("billing_address")),
                "shipping_address": address_truth(row.get("shipping_address")),
            }
            for row in rows
        }
    return {
        str(row["id"]): {
            "name": row["title"],
            "price": row["price"],
            "is_visible": row["published"],
        }
        for row in rows
    }


class TestExampleShopConformance(SourceConformance):
    @pytest.fixture
    def conformance_source(self, example):
        with example.app.app_context():
            yield example.source()

    @pytest.fixture
    def conformance_connection(self, connected):
        return connected

    @pytest.fixture
    def conformance_truth(self, example):
        return lambda stream: truth(example.shop, stream)

    @pytest.fixture
    def conformance_mutate(self, example):
        def mutate() -> dict[str, set[str]]:
            shop = example.shop
            shop.change("customers", 3, first_name="Renamed")
            new_customer = shop.add(
                "customers", email="new.person@example.com", first_name="New", last_name="Person"
            )
            shop.change("subscribers", 2, status="unsubscribed")
            new_subscriber = shop.add("subscribers", email="fresh@example.com", status="subscribed")
            shop.change("orders", 4, status="shipped")
            shop.change("orders", 5, archived=True)
            guest_order = shop.add(
                "orders",
                customer_id=None,
                email="walk.in@example.net",
                status="paid",
                total="12.00",
            )
            shop.change("products", 2, price="99.50")
            shop.change("products", 3, published=False)  # still read, flagged not visible
            new_product = shop.add(
                "products", title="Brand New Thing", published=True, price="5.00"
            )
            return {
                "customers": {"3", str(new_customer["id"])},
                "subscribers": {"2", str(new_subscriber["id"])},
                "orders": {"4", "5", str(guest_order["id"])},
                "products": {"2", "3", str(new_product["id"])},
            }

        return mutate

    @pytest.fixture
    def conformance_break(self, example):
        def break_(kind: str) -> None:
            if kind == "credentials":
                example.shop.revoke_key()
            else:
                example.shop.failing_status = 503

        return break_

    @pytest.fixture
    def conformance_page_limit(self, example):
        def shorten() -> int:
            example.shop.max_limit = 5
            return 5

        return shorten

    @pytest.fixture
    def conformance_malformed(self, example):
        def inject() -> tuple[str, str]:
            broken = example.shop.add("customers", first_name="No", last_name="Email")  # no email
            return "customers", str(broken["id"])

        return inject


def test_the_installed_package_is_found_by_name_and_can_be_disabled(make_app, installed_example):
    (entry_point,) = [
        ep for ep in entry_points(group=ENTRY_POINT_GROUP) if ep.name == "example_shop"
    ]
    assert entry_point.value == "example_shop.plugin"

    plugins = make_app().extensions["host.plugins"]
    assert plugins.sources["example_shop"].title == "Example Shop"
    assert "example_shop" in plugins.plugin_names()
    assert sys.modules["example_shop.plugin"].__file__.startswith(str(installed_example))

    plugins = make_app(PLUGINS={"disabled": ["example_shop"]}).extensions["host.plugins"]
    assert "example_shop" not in plugins.sources
    assert "bigcommerce" in plugins.sources


def test_connecting_keeps_the_key_encrypted_and_refuses_a_wrong_one(example):
    refused = example.connect(api_key="not-the-key")
    assert refused.exit_code != 0
    assert "no longer accepts this shop's API key" in refused.output
    assert example.connection() is None

    accepted = example.connect()
    assert accepted.exit_code == 0, accepted.output
    connection = example.connection()
    assert (connection.store_name, connection.store_url) == ("Acme Goods", "https://acme.example")
    assert connection.source_secrets == {"api_key": API_KEY}
    with example.app.app_context():
        stored = get_db().session.execute(text("SELECT source_secrets FROM connections")).scalar()
    assert API_KEY not in str(stored)


def test_rate_limited_reads_wait_as_told_and_lose_nothing(example, connected):
    example.shop.faults = [(429, {"Retry-After": "7"}), (429, {"Retry-After": "7"})]
    with example.app.app_context():
        source = example.source()
        records = read_all(source, connected, source.stream("customers"))
    assert sorted(record["id"] for record in records) == sorted(truth(example.shop, "customers"))
    assert example.sleeps == [7.0, 7.0]


def test_timeouts_become_a_transient_error_after_bounded_retries(example, connected):
    with example.app.app_context(), responses.RequestsMock() as mocked:
        source = example.source()
        url = f"{example.app.config['PLUGINS']['example_shop']['base_url']}/shops/{SHOP}/orders"
        mocked.get(url, body=requests.ReadTimeout("read timed out"))
        with pytest.raises(TransientError, match="could not be reached"):
            read_all(source, connected, source.stream("orders"))
        assert len(mocked.calls) == source.retry.max_attempts
    assert example.sleeps == [1.0, 2.0, 4.0, 8.0]  # exponential back-off between the attempts


def test_a_key_without_a_permission_stops_only_that_stream(example, connected):
    example.shop.forbidden = {"orders"}
    with example.app.app_context():
        source = example.source()
        with pytest.raises(ConfigurationError, match="read orders") as raised:
            read_all(source, connected, source.stream("orders"))
        assert raised.value.code == "example_shop_forbidden"
        assert read_all(source, connected, source.stream("products"))


def test_a_malformed_shop_record_never_stops_the_others(example, connected):
    broken = example.shop.add("customers", first_name="No", last_name="Email")  # no email
    with example.app.app_context():
        source = example.source()
        records = read_all(source, connected, source.stream("customers"))
    invalid = [r["id"] for r in records if validation_errors("customer", r)]
    assert invalid == [str(broken["id"])]  # the host fails just this one, with the reason
    assert len(records) == len(example.shop.resources["customers"])


def test_a_sync_cycle_brings_the_shop_to_the_destination_and_then_only_its_changes(
    example, connected
):
    shop, destination = example.shop, example.destination
    books = {"customers_book_id": "B-customers", "subscribers_book_id": "B-subscribers"}
    assert connect(example.app, "example_shop", SHOP, contacts=books) == connected.id
    attached = load_connection(example.app, connected.id)
    assert (attached.destination, attached.destination_account) == ("fake_dest", "fake")
    assert attached.source_secrets == {"api_key": API_KEY}  # the shop's own install is kept
    assert sync(example.app, connected.id).status == "finished"

    orders = shop.resources["orders"].values()
    counting = [o for o in orders if o["status"] != "abandoned" and not o.get("archived")]
    guests = {o["email"] for o in counting if not o["customer_id"]}
    customers = {c["email"] for c in shop.resources["customers"].values()}
    subscribed = {
        s["email"] for s in shop.resources["subscribers"].values() if s["status"] == "subscribed"
    }
    published = {str(p["id"]) for p in shop.resources["products"].values() if p["published"]}
    assert destination.book("B-customers") == customers | guests
    assert destination.book("B-subscribers") == subscribed
    assert set(destination.collections["Orders"]) == {str(o["id"]) for o in counting}
    assert set(destination.collections["Catalog_Default"]) == published

    renamed = shop.resources["customers"][3]
    shop.change("customers", 3, first_name="Renamed")
    written_before = sum(destination.writes.values())
    assert sync(example.app, connected.id).status == "finished"
    assert destination.contacts[renamed["email"]]["payload"]["fields"]["FIRSTNAME"] == "Renamed"
    assert sum(destination.writes.values()) == written_before + 1  # nothing else is re-sent
