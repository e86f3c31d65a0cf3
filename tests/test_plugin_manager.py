"""The plugin manager trusts plugins no further than it must (issue #16): names are unique and
match the entry point, a failing lifecycle hook is logged without stopping the others, and
``flask --app host plugins`` says what is enabled."""

from __future__ import annotations

import logging
from importlib.metadata import EntryPoint, version

import pytest

import host.plugins
from host.hookspecs import hookimpl
from host.plugins import ENTRY_POINT_GROUP, PluginError
from tests.test_plugins import ThrowawaySource
from tests.web.fakes import FakeDestination


class SourcePlugin:
    """Registers a ThrowawaySource named ``source_name``."""

    def __init__(self, source_name: str = "throwaway"):
        self.source_name = source_name

    @hookimpl
    def register_sources(self, register):
        source = ThrowawaySource()
        source.name = self.source_name
        register(source)


class FirstShop(SourcePlugin):
    pass


class SecondShop(SourcePlugin):
    pass


class CloudA:
    @hookimpl
    def register_destinations(self, register):
        register(FakeDestination())


class CloudB(CloudA):
    pass


class MisnamedPlugin:
    """Installed as entry point ``acme_shop`` but registering a source named ``acme``."""

    @hookimpl
    def register_sources(self, register):
        source = ThrowawaySource()
        source.name = "acme"
        register(source)


class WellNamedPlugin:
    @hookimpl
    def register_sources(self, register):
        source = ThrowawaySource()
        source.name = "acme_shop"
        register(source)


misnamed_plugin = MisnamedPlugin()
well_named_plugin = WellNamedPlugin()


@pytest.fixture
def install(monkeypatch):
    """Make ``connector_host.plugins`` entry points appear installed, next to the real ones."""

    def install_(name: str, attribute: str) -> None:
        real = host.plugins.entry_points
        fake = EntryPoint(name=name, value=f"{__name__}:{attribute}", group=ENTRY_POINT_GROUP)
        monkeypatch.setattr(host.plugins, "entry_points", lambda group: [*real(group=group), fake])

    return install_


# ---------------------------------------------------------------- names: unique, after the entry point
def test_two_plugins_registering_one_source_name_stop_start_up_naming_both(make_app):
    with pytest.raises(PluginError) as refused:
        make_app(PLUGINS={"enabled": ["smtp"]}, PLUGIN_MODULES=[FirstShop(), SecondShop()])
    message = str(refused.value)
    assert "FirstShop" in message and "SecondShop" in message
    assert "'throwaway'" in message


def test_a_plugin_claiming_a_built_in_source_name_stops_start_up_naming_both(make_app):
    with pytest.raises(PluginError) as refused:
        make_app(PLUGIN_MODULES=[SourcePlugin("bigcommerce")])
    message = str(refused.value)
    assert "'bigcommerce'" in message and "SourcePlugin" in message
    assert "both register a source named 'bigcommerce'" in message


def test_two_plugins_registering_one_destination_stop_start_up(make_app):
    with pytest.raises(PluginError, match=r"'CloudA' and 'CloudB' both register a destination named 'fake_cloud'"):
        make_app(PLUGINS={"enabled": ["smtp"]}, PLUGIN_MODULES=[CloudA(), CloudB()])


def test_one_plugin_registering_a_name_twice_is_refused(make_app):
    class Twice:
        @hookimpl
        def register_sources(self, register):
            register(ThrowawaySource())
            register(ThrowawaySource())

    with pytest.raises(PluginError, match=r"'Twice' registers a source named 'throwaway' twice"):
        make_app(PLUGINS={"enabled": ["smtp"]}, PLUGIN_MODULES=[Twice()])


def test_a_source_not_named_after_its_entry_point_stops_start_up(make_app, install):
    install("acme_shop", "misnamed_plugin")
    with pytest.raises(PluginError) as refused:
        make_app()
    message = str(refused.value)
    assert "'acme_shop'" in message and "'acme'" in message
    assert "named after its plugin's entry point" in message


def test_a_source_named_after_its_entry_point_is_enabled(make_app, install):
    install("acme_shop", "well_named_plugin")
    app = make_app()
    assert app.extensions["host.plugins"].source("acme_shop").title == "Throwaway shop"
    app = make_app(PLUGINS={"disabled": ["acme_shop"]})  # and it can be turned off by that name
    assert "acme_shop" not in app.extensions["host.plugins"].sources


def test_a_plugin_failing_to_register_stops_start_up_naming_it(make_app):
    class Broken:
        @hookimpl
        def register_destinations(self, register):
            raise RuntimeError("cannot build the destination")

    with pytest.raises(PluginError, match=r"'Broken' raised RuntimeError in register_destinations") as refused:
        make_app(PLUGINS={"enabled": ["smtp"]}, PLUGIN_MODULES=[Broken()])
    assert isinstance(refused.value.__cause__, RuntimeError)


def test_a_wrapper_implementation_is_refused(make_app):
    class Wrapping:
        @hookimpl(wrapper=True)
        def connection_ready(self, connection):
            return (yield)

    with pytest.raises(PluginError, match=r"'Wrapping' implements connection_ready as a wrapper"):
        make_app(PLUGINS={"enabled": ["smtp"]}, PLUGIN_MODULES=[Wrapping()])


# ---------------------------------------------------------------- lifecycle hooks are isolated
class Recording:
    def __init__(self):
        self.calls = []

    @hookimpl
    def connection_removed(self, connection):
        self.calls.append(("removed", connection.id))

    @hookimpl
    def after_sync_cycle(self, connection, run):
        self.calls.append(("after", connection.id, run))


class Failing:
    @hookimpl
    def connection_removed(self, connection):
        raise RuntimeError("webhook service down")

    @hookimpl
    def after_sync_cycle(self, connection, run):
        raise ValueError("bad counts")


class SecretConnection:
    id = 7

    def __repr__(self):
        return "<Connection 7 token=s3cr3t-token>"


@pytest.mark.parametrize("order", ["failing_first", "failing_last"])
def test_a_failing_lifecycle_hook_is_logged_and_the_others_still_run(make_app, caplog, order):
    recording, failing = Recording(), Failing()
    # pluggy calls the plugin registered last first: both orders are tried
    modules = [recording, failing] if order == "failing_first" else [failing, recording]
    plugins = make_app(PLUGINS={"enabled": ["smtp"]}, PLUGIN_MODULES=modules).extensions["host.plugins"]
    connection = SecretConnection()

    with caplog.at_level(logging.ERROR, logger="host.plugins"):
        plugins.connection_removed(connection)
        plugins.after_sync_cycle(connection, "the run")

    assert recording.calls == [("removed", 7), ("after", 7, "the run")]
    failures = [record for record in caplog.records if record.name == "host.plugins"]
    assert [record.getMessage().split(" (reference")[0] for record in failures] == [
        "plugin 'Failing' failed in connection_removed for connection 7; "
        "the host carries on and still calls the other plugins",
        "plugin 'Failing' failed in after_sync_cycle for connection 7; "
        "the host carries on and still calls the other plugins",
    ]
    assert [record.exc_info[0] for record in failures] == [RuntimeError, ValueError]  # with the traceback
    assert "s3cr3t" not in caplog.text


def test_a_failing_before_sync_cycle_does_not_stop_the_others(make_app, caplog):
    class Before:
        def __init__(self):
            self.seen = []

        @hookimpl
        def before_sync_cycle(self, connection, run):
            self.seen.append(run)

    class BeforeFails:
        @hookimpl
        def before_sync_cycle(self, connection, run):
            raise KeyError("missing")

    before = Before()
    plugins = make_app(PLUGINS={"enabled": ["smtp"]}, PLUGIN_MODULES=[before, BeforeFails()]).extensions[
        "host.plugins"
    ]
    with caplog.at_level(logging.ERROR, logger="host.plugins"):
        plugins.before_sync_cycle(SecretConnection(), "run 1")
    assert before.seen == ["run 1"]
    assert "plugin 'BeforeFails' failed in before_sync_cycle" in caplog.text


def test_a_connection_deleted_under_the_hook_is_still_notified_and_failures_logged(make_app, caplog):
    """after_sync_cycle may get a connection row removed during the cycle: its id cannot load."""

    class DeletedConnection:
        @property
        def id(self):
            raise RuntimeError("Instance has been deleted")  # as SQLAlchemy's ObjectDeletedError

    class Seeing:
        def __init__(self):
            self.seen = []

        @hookimpl
        def after_sync_cycle(self, connection, run):
            self.seen.append(run)

    seeing = Seeing()
    plugins = make_app(PLUGINS={"enabled": ["smtp"]}, PLUGIN_MODULES=[seeing, Failing()]).extensions[
        "host.plugins"
    ]
    with caplog.at_level(logging.ERROR, logger="host.plugins"):
        plugins.after_sync_cycle(DeletedConnection(), "the run")
    assert seeing.seen == ["the run"]
    assert "plugin 'Failing' failed in after_sync_cycle; the host carries on" in caplog.text


# ---------------------------------------------------------------- flask --app host plugins
def plugin_blocks(output: str) -> dict[str, list[str]]:
    blocks: dict[str, list[str]] = {}
    current = None
    for line in output.splitlines():
        if line.startswith("  "):
            blocks[current].append(line.strip())
        elif not line.startswith("installed but not enabled"):
            current = line
            blocks[current] = []
    return blocks


def test_flask_plugins_lists_the_shipped_plugins_with_version_kinds_and_hooks(app):
    result = app.test_cli_runner().invoke(args=["plugins"])

    assert result.exit_code == 0, result.output
    shipped = f"connector-host {version('connector-host')}"
    assert plugin_blocks(result.output) == {
        f"bigcommerce  ({shipped})": [
            "kinds: source",
            "hooks: before_sync_cycle, connection_ready, connection_removed, register_blueprints, register_sources",
        ],
        f"demo  ({shipped})": ["kinds: other", "hooks: register_commands"],
        f"engagement_cloud  ({shipped})": [
            "kinds: destination, mapper",
            "hooks: before_sync_cycle, register_destinations, register_mappers",
        ],
        f"enrolments  ({shipped})": ["kinds: enroller", "hooks: register_enrollers"],
        f"smtp  ({shipped})": ["kinds: other", "hooks: register_blueprints, register_settings_tabs"],
    }


def test_flask_plugins_says_unknown_for_a_plugin_not_from_a_distribution(make_app):
    app = make_app(PLUGINS={"disabled": ["demo", "smtp"]}, PLUGIN_MODULES=[FirstShop()])
    result = app.test_cli_runner().invoke(args=["plugins"])

    assert result.exit_code == 0, result.output
    blocks = plugin_blocks(result.output)
    assert blocks["FirstShop  (unknown)"] == ["kinds: source", "hooks: register_sources"]
    assert not any(line.startswith(("demo", "smtp")) for line in blocks)
    assert result.output.splitlines()[-1] == "installed but not enabled: demo, smtp"
