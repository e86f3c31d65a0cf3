"""The plugin test kit (``host.testing``) does what the guide says, for the project's tests and,
through the ``pytest11`` entry point, for a plugin author's tests in a project of their own."""

from __future__ import annotations

import configparser
import os
import shutil
import socket
import subprocess
import sys
import textwrap
import xml.etree.ElementTree as ET
import zipfile
from datetime import UTC, datetime
from pathlib import Path

import pytest
import requests
from flask import Flask

import host.testing.pytest_plugin
from host.db import get_db
from host.errors import ConfigurationError
from host.hookspecs import hookimpl
from host.settings import get_settings
from host.testing import (
    FakeDestination,
    FakeDestinationPlugin,
    connect,
    create_schema,
    install,
    ledger,
    load_connection,
    serve,
    sync,
)
from tests.sync.fakes import FakeSource, at, customer, order
from tests.web.fakes import FakeCloudPlugin


def run_pytest(project: Path, env: dict[str, str] | None = None) -> dict[str, str]:
    """Run pytest in a fresh process in ``project`` (outside this repository's tests and
    conftest, as a plugin's own test suite runs); answer each test's outcome by node id."""
    report = project / "report.xml"
    environ = {name: value for name, value in os.environ.items() if name != "PYTEST_ADDOPTS"}
    environ.update(env or {})
    finished = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", f"--junitxml={report}",
         "--rootdir", str(project), str(project)],
        cwd=project, env=environ, capture_output=True, text=True, timeout=300,
    )
    assert report.exists(), finished.stdout + finished.stderr
    outcomes = {}
    for case in ET.parse(report).iter("testcase"):
        failed = [child.tag for child in case if child.tag in ("failure", "error", "skipped")]
        outcomes[f"{case.get('classname')}.{case.get('name')}"] = failed[0] if failed else "passed"
    assert outcomes, finished.stdout + finished.stderr
    return outcomes | {"_output": finished.stdout + finished.stderr}


def test_the_fixtures_are_the_installed_pytest_plugin(request):
    manager = request.config.pluginmanager
    assert manager.get_plugin("connector_host") is host.testing.pytest_plugin
    (distribution,) = [
        dist for plugin, dist in manager.list_plugin_distinfo()
        if plugin is host.testing.pytest_plugin
    ]
    assert distribution.metadata["Name"] == "connector-host"  # the installed package's entry point
    (entry_point,) = [ep for ep in distribution.entry_points if ep.group == "pytest11"]
    assert (entry_point.name, entry_point.value) == ("connector_host", "host.testing.pytest_plugin")
    for name in ("make_app", "app", "client", "runner", "no_real_network", "isolated_environment"):
        (definition,) = request._fixturemanager.getfixturedefs(name, request.node)
        assert definition.func.__module__ == "host.testing.pytest_plugin", name


def test_the_wheel_ships_the_kit_and_its_entry_point(tmp_path):
    """What ``pip install connector-host`` installs: the kit, and nothing of ``tests/``."""
    repository = Path(__file__).resolve().parents[1]
    source = tmp_path / "source"  # pip builds in place: build a copy, keep the repository clean
    shutil.copytree(repository, source, ignore=shutil.ignore_patterns(
        ".git", ".venv", "instance", "build", "dist", "*.egg-info", "__pycache__", "node_modules",
        "demo-state", ".pytest_cache", ".ruff_cache",
    ))
    built = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "--no-build-isolation",
         "--no-index", "-w", str(tmp_path / "wheels"), str(source)],
        capture_output=True, text=True, timeout=300,
    )
    assert built.returncode == 0, built.stderr
    (wheel,) = (tmp_path / "wheels").glob("connector_host-*.whl")
    with zipfile.ZipFile(wheel) as archive:
        names = set(archive.namelist())
        (metadata,) = [name for name in names if name.endswith(".dist-info/entry_points.txt")]
        declared = configparser.ConfigParser()
        declared.read_string(archive.read(metadata).decode())
    kit = {f"host/testing/{module}.py" for module in
           ("__init__", "pytest_plugin", "server", "destination", "connections", "source_conformance")}
    assert kit <= names
    assert not [name for name in names if name.startswith("tests/")]
    assert dict(declared["pytest11"]) == {"connector_host": "host.testing.pytest_plugin"}


def test_a_plugin_project_gets_the_fixtures_without_any_conftest(tmp_path):
    project = tmp_path / "my_plugin_tests"
    project.mkdir()
    (project / "test_uses_the_kit.py").write_text(textwrap.dedent(
        """
        import os

        import pytest
        import requests


        def test_the_app_is_isolated(make_app, tmp_path):
            assert "HOST_SYNC__MAX_ATTEMPTS" not in os.environ
            app = make_app(SYNC={"interval_seconds": 7})
            assert app.config["SYNC"]["max_attempts"] == 5  # the default, not the shell's 9
            assert app.config["SYNC"]["interval_seconds"] == 7
            assert app.instance_path == str(tmp_path / "instance")


        def test_the_app_fixture_has_its_tables(app, client):
            assert client.get("/healthz").status_code == 200


        def test_a_test_without_the_guard_is_not_guarded():
            assert os.environ["HOST_SYNC__MAX_ATTEMPTS"] == "9"


        def test_the_guard_keeps_to_loopback(no_real_network):
            with pytest.raises(RuntimeError, match="may not reach 192.0.2.1"):
                requests.get("http://192.0.2.1/", timeout=1)
        """
    ))
    outcomes = run_pytest(project, {"HOST_SYNC__MAX_ATTEMPTS": "9"})
    output = outcomes.pop("_output")
    assert outcomes == {
        "test_uses_the_kit.test_the_app_is_isolated": "passed",
        "test_uses_the_kit.test_the_app_fixture_has_its_tables": "passed",
        "test_uses_the_kit.test_a_test_without_the_guard_is_not_guarded": "passed",
        "test_uses_the_kit.test_the_guard_keeps_to_loopback": "passed",
    }, output


def test_make_app_keeps_each_test_in_its_own_folder_and_database(make_app, tmp_path, database_url):
    app = make_app(PLUGINS={"enabled": ["smtp"]})
    assert Path(app.instance_path) == tmp_path / "instance"
    assert app.config["PLUGINS"]["enabled"] == ["smtp"]
    assert app.config["PLUGINS"]["smtp"]["timeout_seconds"] == 20  # merged into the defaults
    assert app.config["SCHEDULER"]["enabled"] is False
    with app.app_context():
        assert get_db().engine.url.render_as_string(hide_password=False) == database_url
    if database_url.startswith("sqlite"):
        assert database_url == f"sqlite:///{tmp_path / 'host.db'}"


def test_only_loopback_can_be_reached():
    with pytest.raises(RuntimeError, match="may not reach 192.0.2.1"):
        socket.create_connection(("192.0.2.1", 80), timeout=1)
    with pytest.raises(RuntimeError, match="may not reach 198.51.100.7"):
        requests.get("http://198.51.100.7/", timeout=1)


def test_serve_answers_on_loopback_until_the_block_ends():
    api = Flask("fake_platform")
    api.get("/ping")(lambda: {"pong": True})
    with serve(api) as url:
        assert url.startswith("http://127.0.0.1:")
        assert requests.get(f"{url}/ping", timeout=5).json() == {"pong": True}
    with pytest.raises(requests.ConnectionError):
        requests.get(f"{url}/ping", timeout=5)


class ShopPlugin:
    """A throwaway source, and what ``connection_ready`` was told."""

    def __init__(self):
        self.source = FakeSource()
        self.ready: list[tuple[str, str]] = []

    @hookimpl
    def register_sources(self, register):
        register(self.source)

    @hookimpl
    def connection_ready(self, connection):
        self.ready.append((connection.source_account, connection.destination))


@pytest.fixture
def shop_and_destination(make_app):
    shop, fake = ShopPlugin(), FakeDestinationPlugin()
    app = make_app(PLUGIN_MODULES=[shop, fake])
    create_schema(app)
    return app, shop, fake.destination


def test_connect_installs_attaches_and_saves_the_merchants_choices(shop_and_destination):
    app, shop, _ = shop_and_destination
    connection_id = connect(
        app, "fake_store", "store-1",
        contacts={"customers_book_id": "B-1", "subscribers_book_id": "B-2"},
        automation={"first_order_program_id": "P-9"},
        field_mapping={"mapping": {"first_name": "FIRSTNAME"}},
        connected_at=datetime(2025, 6, 10, tzinfo=UTC),
    )
    connection = load_connection(app, connection_id)
    assert (connection.source, connection.source_account) == ("fake_store", "store-1")
    assert (connection.destination, connection.destination_account) == ("fake_dest", "fake")
    assert connection.is_connected and connection.connected_at == datetime(2025, 6, 10, tzinfo=UTC)
    assert connection.webhook_secret["value"]
    assert shop.ready == [("store-1", "fake_dest")]  # the hooks ran as on the Connect page
    with app.app_context(), get_db().transaction() as session:
        connection = session.merge(connection)
        contacts = get_settings(session, connection, "contacts")
        assert (contacts["customers_book_id"], contacts["subscribers_book_id"]) == ("B-1", "B-2")
        assert contacts["double_opt_in"] is False  # the defaults stay for what was not given
        assert get_settings(session, connection, "automation")["first_order_program_id"] == "P-9"
        assert get_settings(session, connection, "field_mapping")["mapping"] == {
            "first_name": "FIRSTNAME"
        }


def test_connect_keeps_an_existing_install(shop_and_destination):
    app, _, _ = shop_and_destination
    installed = install(app, "fake_store", "store-1", store_name="Acme", secrets={"token": "t-1"})
    assert connect(app, "fake_store", "store-1") == installed
    connection = load_connection(app, installed)
    assert (connection.store_name, connection.source_secrets) == ("Acme", {"token": "t-1"})
    assert connection.destination == "fake_dest"


def test_a_destination_that_refuses_the_credentials_attaches_nothing(make_app):
    app = make_app(PLUGIN_MODULES=[FakeCloudPlugin()])
    create_schema(app)
    connection_id = install(app, "bigcommerce", "store-1")
    with pytest.raises(ConfigurationError, match="did not accept"):
        connect(app, "bigcommerce", "store-1", destination="fake_cloud",
                credentials={"username": "api-live@example.com", "password": "wrong"})
    assert load_connection(app, connection_id).destination is None


def test_the_fake_destination_records_what_a_sync_sends(shop_and_destination):
    app, shop, destination = shop_and_destination
    assert isinstance(destination, FakeDestination)
    shop.source.customers["1"] = customer(1, "ada@example.com", at(1))
    shop.source.customers["2"] = customer(2, "alan@example.com", at(2))
    shop.source.orders["7"] = order(7, "ada@example.com", at(3), customer_id="1")
    destination.refuse["alan@example.com"] = "the address was refused"
    connection_id = connect(app, "fake_store", "store-1", contacts={"customers_book_id": "B-1"})

    assert sync(app, connection_id).status == "finished"
    assert destination.book("B-1") == {"ada@example.com"}
    assert destination.contacts["ada@example.com"]["payload"]["fields"]["FIRSTNAME"] == "First1"
    assert set(destination.collections["Orders"]) == {"7"}
    assert destination.writes["contacts:B-1"] == 2
    entries = ledger(app, connection_id)
    assert entries[("customer_contact", "ada@example.com")] == ("synced", None)
    assert entries[("customer_contact", "alan@example.com")] == ("failed", "the address was refused")
