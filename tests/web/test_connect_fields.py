"""The connect form is built from the destination's declared ``credential_fields``: nothing in the
host names a platform's username or password."""

from __future__ import annotations

import pytest
from sqlalchemy import text

from host.db import get_db
from host.destinations import AccountInfo, CredentialField
from host.errors import ConfigurationError
from host.hookspecs import hookimpl
from host.models import Base
from plugins.engagement_cloud.destination import EngagementCloud
from tests.web.conftest import Merchant, install_store, load_connection, page_text
from tests.web.fakes import FakeCloudPlugin, FakeDestination

API_KEY = "key-7f3a-very-secret"


class KeyedDestination(FakeDestination):
    """A platform connected with an account id and an API key."""

    name = "keyed_cloud"
    title = "Keyed Cloud"
    credential_fields = (
        CredentialField("account_id", "Account ID", help="The number at the top right of your dashboard"),
        CredentialField("api_key", "API key", type="password", max_length=64),
    )
    connect_help = "Create a key under Settings › Keys <b>first</b>."

    def __init__(self):
        super().__init__()
        self.checked: list[dict] = []

    def check_credentials(self, credentials):
        self.checked.append(dict(credentials))
        if credentials != {"account_id": "4711", "api_key": API_KEY}:
            raise ConfigurationError("Keyed Cloud did not accept this account ID and key.")
        return AccountInfo(account="Account 4711", secrets=dict(credentials))


class TwoDestinations:
    def __init__(self):
        self.plugins = [FakeCloudPlugin(KeyedDestination()), FakeCloudPlugin()]

    @hookimpl
    def register_destinations(self, register):
        for plugin in self.plugins:
            plugin.register_destinations(register)

    @hookimpl
    def register_mappers(self, register):
        for plugin in self.plugins:
            plugin.register_mappers(register)


def _app(make_app, *plugins):
    app = make_app(PLUGINS={"enabled": ["smtp"]}, PLUGIN_MODULES=list(plugins))
    with app.app_context():
        Base.metadata.create_all(get_db().engine)
    return app


@pytest.fixture
def keyed(make_app):
    plugin = FakeCloudPlugin(KeyedDestination())
    app = _app(make_app, plugin)
    return app, plugin.destination, Merchant(app.test_client(), install_store(app))


def test_the_form_shows_the_declared_fields_title_and_help(keyed):
    _, _, merchant = keyed
    body = merchant.get("/settings/connect").get_data(as_text=True)
    page = page_text(merchant.get("/settings/connect"))
    assert "Connect your Keyed Cloud account" in page
    assert "Create a key under Settings › Keys &lt;b&gt;first&lt;/b&gt;." in body  # plain text: escaped
    assert '<label for="account_id">Account ID</label>' in body and '<label for="api_key">API key</label>' in body
    assert 'id="account_id-hint">The number at the top right of your dashboard' in body
    assert 'name="api_key" type="password"' in body
    assert 'name="username"' not in body and 'name="password"' not in body and "API username" not in page


def test_the_declared_fields_reach_the_check_the_text_stays_and_the_secret_is_never_shown(keyed):
    app, destination, merchant = keyed
    response = merchant.post("/settings/connect", {"account_id": "4711", "api_key": "key-wrong-guess"})
    body = page_text(response)
    assert response.status_code == 400
    assert destination.checked == [{"account_id": "4711", "api_key": "key-wrong-guess"}]
    assert "Keyed Cloud did not accept this account ID and key." in body
    assert 'value="4711"' in body and "key-wrong-guess" not in body

    missing = page_text(merchant.post("/settings/connect", {"account_id": "", "api_key": "k" * 65}))
    assert "Enter the account ID." in missing and "Enter the API key." in missing  # too long: refused too
    assert len(destination.checked) == 1

    response = merchant.post("/settings/connect", {"account_id": "4711", "api_key": API_KEY})
    assert response.status_code == 302
    connection = load_connection(app, merchant.connection_id)
    assert connection.destination == "keyed_cloud" and connection.destination_account == "Account 4711"
    with app.app_context(), get_db().engine.connect() as raw:
        stored = raw.execute(text("SELECT destination_secrets FROM connections")).scalar()
    assert API_KEY not in stored
    assert API_KEY not in merchant.get("/settings/connect").get_data(as_text=True)


def test_with_two_destinations_the_form_is_the_chosen_ones(make_app):
    app = _app(make_app, TwoDestinations())
    merchant = Merchant(app.test_client(), install_store(app))
    first = page_text(merchant.get("/settings/connect"))
    assert "Connect your Keyed Cloud account" in first and 'name="api_key"' in first
    assert 'href="/settings/connect?destination=fake_cloud"' in first

    other = page_text(merchant.get("/settings/connect?destination=fake_cloud"))
    assert "Connect your Fake Cloud account" in other
    assert 'name="username"' in other and 'name="api_key"' not in other

    response = merchant.post("/settings/connect", {"destination": "fake_cloud", "username": "api-live@example.com",
                                                   "password": "live-pass"})
    assert response.status_code == 302
    assert load_connection(app, merchant.connection_id).destination == "fake_cloud"


def test_engagement_cloud_declares_an_api_users_username_and_password():
    fields = {field.name: field for field in EngagementCloud.credential_fields}
    assert list(fields) == ["username", "password"]
    assert fields["username"].label == "API username" and fields["username"].type == "text"
    assert fields["password"].label == "API password" and fields["password"].type == "password"
    assert "API user" in EngagementCloud.connect_help


def test_a_credential_field_is_text_or_password():
    with pytest.raises(ValueError, match="type must be"):
        CredentialField("pin", "PIN", type="number")
