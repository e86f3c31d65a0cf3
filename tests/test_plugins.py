"""The plugin manager: built-ins and third-party plugins alike, enabled by configuration."""

from collections.abc import Iterator

import pytest
from pluggy import PluginValidationError

from host.config import ConfigError
from host.hookspecs import hookimpl
from host.sources import Page, Source, Stream


class ThrowawaySource(Source):
    name = "throwaway"
    title = "Throwaway shop"

    def streams(self):
        return [Stream(name="customers", kind="customer", path="/customers", primary_key="id",
                       cursor_field="date_modified", page_size=10)]

    def read(self, connection, stream, *, since=None, ids=None) -> Iterator[Page]:
        yield Page(records=[])


class ThrowawayPlugin:
    def __init__(self):
        self.lifecycle_calls = []

    @hookimpl
    def register_sources(self, register):
        register(ThrowawaySource())

    @hookimpl
    def register_commands(self, cli):
        @cli.command("throwaway-hello")
        def hello():
            print("hello from a plugin")

    @hookimpl
    def connection_removed(self, connection):
        self.lifecycle_calls.append(("removed", connection))


def test_a_registered_plugin_has_its_hooks_called(make_app):
    plugin = ThrowawayPlugin()
    app = make_app(PLUGIN_MODULES=[plugin])
    plugins = app.extensions["host.plugins"]

    assert plugins.source("throwaway").title == "Throwaway shop"
    result = app.test_cli_runner().invoke(args=["throwaway-hello"])
    assert result.output.strip() == "hello from a plugin"
    plugins.connection_removed("a connection")
    assert plugin.lifecycle_calls == [("removed", "a connection")]


def test_built_in_plugins_are_loaded_through_the_entry_point_group(app):
    names = app.extensions["host.plugins"].plugin_names()
    assert {"bigcommerce", "engagement_cloud", "smtp"} <= set(names)


def test_a_built_in_disabled_in_config_is_absent(make_app):
    app = make_app(PLUGINS={"disabled": ["smtp"]})
    assert "smtp" not in app.extensions["host.plugins"].plugin_names()
    assert "bigcommerce" in app.extensions["host.plugins"].plugin_names()


def test_enabled_list_loads_only_the_named_plugins(make_app):
    app = make_app(PLUGINS={"enabled": ["bigcommerce"]})
    assert app.extensions["host.plugins"].plugin_names() == ["bigcommerce"]


def test_an_unknown_plugin_name_stops_start_up_naming_it(make_app):
    with pytest.raises(ConfigError, match="shopfiy"):
        make_app(PLUGINS={"enabled": ["bigcommerce", "shopfiy"]})
    with pytest.raises(ConfigError, match="mailchump"):
        make_app(PLUGINS={"disabled": ["mailchump"]})


def test_a_misspelled_hook_implementation_fails_at_start_up(make_app):
    class Misspelled:
        @hookimpl
        def register_source(self, register):  # the hook is register_sources
            register(ThrowawaySource())

    with pytest.raises(PluginValidationError, match="register_source"):
        make_app(PLUGIN_MODULES=[Misspelled()])


def test_asking_for_a_source_that_is_not_enabled_is_a_clear_error(app):
    with pytest.raises(ConfigError, match="shopify"):
        app.extensions["host.plugins"].source("shopify")
