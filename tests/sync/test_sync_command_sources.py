"""`flask --app host sync [--source NAME] ACCOUNT`: two sources may each have a store with the same
id; the command then refuses to guess, naming both, and `--source` picks the right one."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from host.db import get_db
from host.hookspecs import hookimpl
from host.models import Base, Connection, SyncRun
from host.settings import save_settings
from host.sync.cursors import parse_time
from tests.sync.fakes import CONNECTED_AT, FakePlugin, FakeSource, at, customer

ACCOUNT = "shared-1"


class OtherSource(FakeSource):
    name = "other_store"
    title = "Other store"


class OtherPlugin:
    def __init__(self):
        self.source = OtherSource()

    @hookimpl
    def register_sources(self, register):
        register(self.source)


@pytest.fixture
def two_sources(make_app):
    fake, other = FakePlugin(), OtherPlugin()
    app = make_app(PLUGIN_MODULES=[fake, other])
    ids = {}
    with app.app_context(), get_db().transaction() as session:
        Base.metadata.create_all(get_db().engine)
        for source in ("fake_store", "other_store"):
            connection = Connection(
                source=source,
                source_account=ACCOUNT,
                destination="fake_dest",
                destination_secrets={"password": "secret"},
                connected_at=parse_time(CONNECTED_AT),
            )
            session.add(connection)
            session.flush()
            save_settings(session, connection, "contacts", {"customers_book_id": f"B-{source}"})
            ids[source] = connection.id
    fake.source.customers["1"] = customer(1, "fake@example.com", at(1))
    other.source.customers["1"] = customer(1, "other@example.com", at(1))
    return app, ids, fake.destination


def runs(app) -> list[int]:
    with app.app_context(), get_db().transaction() as session:
        return list(session.scalars(select(SyncRun.connection_id).order_by(SyncRun.id)))


def test_without_source_two_connections_with_the_same_id_are_refused_by_name(two_sources):
    app, _, destination = two_sources
    result = app.test_cli_runner().invoke(args=["sync", ACCOUNT])

    assert result.exit_code == 1
    assert f"store {ACCOUNT} has connections from more than one source (fake_store, other_store)" in result.output
    assert "--source" in result.output
    assert runs(app) == [] and not destination.book("B-fake_store") and not destination.book("B-other_store")


def test_with_source_the_right_connection_is_synced(two_sources):
    app, ids, destination = two_sources
    result = app.test_cli_runner().invoke(args=["sync", "--source", "other_store", ACCOUNT])

    assert result.exit_code == 0, result.output
    assert runs(app) == [ids["other_store"]]
    assert destination.book("B-other_store") == {"other@example.com"}
    assert not destination.book("B-fake_store")

    result = app.test_cli_runner().invoke(args=["sync", ACCOUNT, "--source", "fake_store", "--full"])
    assert result.exit_code == 0, result.output
    assert runs(app) == [ids["other_store"], ids["fake_store"]]
    assert destination.book("B-fake_store") == {"fake@example.com"}


def test_an_unknown_source_is_named_with_the_ones_the_store_has(two_sources):
    app, _, _ = two_sources
    result = app.test_cli_runner().invoke(args=["sync", "--source", "bigcommerce", ACCOUNT])

    assert result.exit_code == 1
    assert f"no connection for store {ACCOUNT} from source bigcommerce" in result.output
    assert "fake_store, other_store" in result.output and runs(app) == []


def test_one_source_needs_no_source_option(world):
    """The old single-argument form (benches, the demo) still works when it is unambiguous."""
    result = world.app.test_cli_runner().invoke(args=["sync", "store-1"])
    assert result.exit_code == 0, result.output
    assert runs(world.app) == [world.connection_id]
