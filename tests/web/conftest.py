"""Fixtures for the settings pages: an app with a throwaway destination, a store, a merchant."""

from __future__ import annotations

import html
import re

import pytest

from host.db import get_db
from host.models import Base, Connection
from host.testing import connect, install
from host.web.session import session_values
from tests.web.fakes import FakeCloudPlugin

CSRF_FIELD = re.compile(r'name="csrf_token" value="([^"]+)"')


@pytest.fixture
def fake_cloud():
    return FakeCloudPlugin()


@pytest.fixture
def web_app(make_app, fake_cloud):
    app = make_app(PLUGINS={"enabled": ["smtp"]}, PLUGIN_MODULES=[fake_cloud])
    with app.app_context():
        Base.metadata.create_all(get_db().engine)
    return app


def install_store(app, account: str = "abc123", name: str = "Acme Outfitters", connect_as: str | None = None,
                  source: str = "fakeshop") -> int:
    """A store installed by a source (and, with ``connect_as``, connected to the app's one enabled
    destination, a fake); answers its connection id."""
    connection_id = install(app, source, account, store_name=name, secrets={"access_token": f"token-{account}"},
                            data={"control_panel_base_url": f"https://store-{account}.mybigcommerce.com"})
    if connect_as:
        from tests.web.fakes import ACCOUNTS

        (destination,) = app.extensions["host.plugins"].destinations
        connect(app, source, account, destination=destination,
                credentials={"username": connect_as, "password": ACCOUNTS[connect_as]})
    return connection_id


class Merchant:
    """A browser session opened by a verified load callback, posting forms with their CSRF token."""

    def __init__(self, client, connection_id: int):
        self.client = client
        self.connection_id = connection_id
        with client.application.app_context(), get_db().transaction() as db:  # as a load callback would
            values = session_values(db.get(Connection, connection_id), {"id": 7, "email": "owner@example.com"})
        with client.session_transaction() as session:
            session.update(values)
        self._token: str | None = None

    def get(self, path: str, **kwargs):
        response = self.client.get(path, **kwargs)
        found = CSRF_FIELD.search(response.get_data(as_text=True))
        if found:
            self._token = found.group(1)
        return response

    def post(self, path: str, data: dict | None = None, **kwargs):
        for page in ("/settings/connect", "/settings/store"):  # a page with a form has the token
            if self._token is None:
                self.get(page)
        return self.client.post(path, data={"csrf_token": self._token, **(data or {})}, **kwargs)


@pytest.fixture
def store_id(web_app) -> int:
    return install_store(web_app)


@pytest.fixture
def connected_store_id(web_app) -> int:
    return install_store(web_app, connect_as="api-staging@example.com")


@pytest.fixture
def merchant(web_app, connected_store_id) -> Merchant:
    return Merchant(web_app.test_client(), connected_store_id)


def load_connection(app, connection_id: int) -> Connection | None:
    with app.app_context(), get_db().transaction() as session:
        return session.get(Connection, connection_id)


def page_text(response) -> str:
    """The response body with runs of whitespace as single spaces, as a reader sees the text."""
    return " ".join(html.unescape(response.get_data(as_text=True)).split())
