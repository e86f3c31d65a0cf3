"""`flask --app host login-link`: a signed, expiring, single-use link that signs a merchant in to
the settings pages of one connection, for sources without a marketplace load callback."""

from __future__ import annotations

import logging
import time
from urllib.parse import parse_qs, urlsplit

import pytest
from itsdangerous import URLSafeTimedSerializer

from host import connections
from host.db import get_db
from host.hookspecs import hookimpl
from host.models import Base, Connection
from host.plugins import get_plugins
from host.sources import Source
from host.web import login_link
from host.web.security import scrub
from host.web.session import session_values
from tests.web.conftest import page_text
from tests.web.fakes import ACCOUNTS

ACCOUNT = "shared-1"


class StrictSource(Source):
    """A source that would refuse every store user (as BigCommerce refuses a removed one)."""

    name = "strictshop"
    title = "Strict Shop"

    def streams(self):
        return []

    def read(self, connection, stream, *, since=None, ids=None):
        return iter(())

    def user_allowed(self, connection, user_id):
        return False


class StrictPlugin:
    @hookimpl
    def register_sources(self, register):
        register(StrictSource())


@pytest.fixture
def app(make_app, fake_cloud):
    app = make_app(PLUGINS={"enabled": ["smtp"]}, PLUGIN_MODULES=[fake_cloud, StrictPlugin()])
    with app.app_context():
        Base.metadata.create_all(get_db().engine)
    return app


def install(app, source: str, name: str, *, account: str = ACCOUNT, connect: bool = True) -> int:
    with app.app_context(), get_db().transaction() as session:
        connection = connections.install(
            session, source=source, account=account, store_name=name,
            store_url=f"https://{source}.example.test", secrets_={"access_token": "t"}, data={},
        )
        if connect:
            credentials = {"username": "api-staging@example.com", "password": ACCOUNTS["api-staging@example.com"]}
            connections.connect(session, get_plugins(), connection, "fake_cloud", credentials)
        return connection.id


def link(app, *args: str) -> str:
    result = app.test_cli_runner().invoke(args=["login-link", *args])
    assert result.exit_code == 0, result.output
    return result.output.strip()


def local(url: str) -> str:
    """The link as the test client opens it (path and query on the host's public URL)."""
    parts = urlsplit(url)
    assert f"{parts.scheme}://{parts.netloc}" == "http://127.0.0.1:5000"
    return f"{parts.path}?{parts.query}"


def token_of(url: str) -> str:
    return parse_qs(urlsplit(url).query)["login_token"][0]


def test_a_login_link_signs_in_to_the_store_tab_of_its_own_connection(app):
    install(app, "fakeshop", "Acme Outfitters")
    install(app, "strictshop", "Strict Emporium")  # same account id, another source
    url = link(app, "--source", "strictshop", ACCOUNT)
    assert url.startswith("http://127.0.0.1:5000/login-link?login_token=")

    client = app.test_client()
    assert client.get("/settings/store").status_code == 401  # not signed in yet
    response = client.get(local(url))
    assert response.status_code == 302 and response.headers["Location"].endswith("/settings/store")
    assert response.headers["Cache-Control"] == "no-store"

    page = page_text(client.get("/settings/store"))
    assert "Strict Emporium" in page and "Acme Outfitters" not in page
    # The source refuses every store user; the admin's link names none, so it is not asked.
    assert client.get("/settings/store").status_code == 200

    other = app.test_client()
    other.get(local(link(app, "--source", "fakeshop", ACCOUNT)))
    page = page_text(other.get("/settings/store"))
    assert "Acme Outfitters" in page and "Strict Emporium" not in page


def test_a_store_not_yet_connected_opens_the_connect_page(app):
    install(app, "fakeshop", "Acme Outfitters", connect=False)
    response = app.test_client().get(local(link(app, ACCOUNT)))  # one source: --source may be left out
    assert response.status_code == 302 and response.headers["Location"].endswith("/settings/connect")


def test_a_link_is_used_once(app):
    install(app, "fakeshop", "Acme Outfitters")
    url = link(app, ACCOUNT)
    assert app.test_client().get(local(url)).status_code == 302

    again = app.test_client()
    response = again.get(local(url))
    assert response.status_code == 410 and "already been used" in page_text(response)
    assert again.get("/settings/store").status_code == 401


def test_an_expired_link_is_refused(app, monkeypatch):
    install(app, "fakeshop", "Acme Outfitters")
    url = link(app, "--minutes", "1", ACCOUNT)
    later = time.time() + 61
    monkeypatch.setattr(login_link, "time", type("Clock", (), {"time": staticmethod(lambda: later)}))

    client = app.test_client()
    response = client.get(local(url))
    assert response.status_code == 410 and "has expired" in page_text(response)
    assert client.get("/settings/store").status_code == 401


@pytest.mark.parametrize("tamper", ["payload", "signature", "other_key", "empty"])
def test_a_tampered_link_is_refused_and_signs_nothing_in(app, tamper):
    first = install(app, "fakeshop", "Acme Outfitters")
    install(app, "fakeshop", "Other Store", account="other-2")
    url = link(app, ACCOUNT)
    token = token_of(url)
    if tamper == "payload":  # the original timestamp and signature on a link to another connection
        serializer = URLSafeTimedSerializer("any key", salt=login_link.SALT)
        claims = serializer.loads_unsafe(token)[1]
        payload = serializer.dump_payload({**claims, "c": first + 1}).decode()
        token = ".".join([payload, *token.rsplit(".", 2)[1:]])
    elif tamper == "signature":
        token = token[:-2] + ("AA" if not token.endswith("AA") else "BB")
    elif tamper == "other_key":
        token = URLSafeTimedSerializer("another host's key", salt=login_link.SALT).dumps(
            {"c": first, "s": "fakeshop:shared-1:0", "j": "x", "e": int(time.time()) + 600}
        )
    else:
        token = ""

    client = app.test_client()
    response = client.get(f"/login-link?login_token={token}")
    assert response.status_code == 400 and "not valid" in page_text(response)
    assert client.get("/settings/store").status_code == 401


def test_a_link_for_a_removed_store_opens_nothing(app):
    connection_id = install(app, "fakeshop", "Acme Outfitters")
    url = link(app, ACCOUNT)
    with app.app_context(), get_db().transaction() as session:
        connections.remove(session, get_plugins(), session.get(Connection, connection_id))

    client = app.test_client()
    response = client.get(local(url))
    assert response.status_code == 410 and "removed or installed again" in page_text(response)
    assert client.get("/settings/store").status_code == 401


def test_the_token_is_never_logged(app, caplog):
    install(app, "fakeshop", "Acme Outfitters")
    url = link(app, ACCOUNT)
    token = token_of(url)
    with caplog.at_level(logging.INFO):
        app.test_client().get(local(url))
        app.test_client().get(local(url))  # refused: used
    assert "sign-in link" in caplog.text and token not in caplog.text
    assert token not in scrub(f'"GET {local(url)} HTTP/1.1" 302 -')  # the access log's line


def test_the_command_refuses_unknown_or_ambiguous_stores_and_bad_lifetimes(app):
    install(app, "fakeshop", "Acme Outfitters")
    install(app, "strictshop", "Strict Emporium")
    runner = app.test_cli_runner()

    ambiguous = runner.invoke(args=["login-link", ACCOUNT])
    assert ambiguous.exit_code == 1
    assert "more than one source (fakeshop, strictshop)" in ambiguous.output and "--source" in ambiguous.output
    assert "login_token" not in ambiguous.output

    unknown = runner.invoke(args=["login-link", "--source", "nosuch", ACCOUNT])
    assert unknown.exit_code == 1 and "no connection for store shared-1 from source nosuch" in unknown.output

    too_long = runner.invoke(args=["login-link", "--minutes", "100000", "--source", "fakeshop", ACCOUNT])
    assert too_long.exit_code == 2 and "login_token" not in too_long.output


def test_only_a_sign_in_link_opens_a_session_that_names_no_store_user(app):
    """A callback's user dict cannot claim to be a link's session: the strict source refuses it."""
    connection_id = install(app, "strictshop", "Strict Emporium")
    client = app.test_client()
    with app.app_context(), get_db().transaction() as session:
        values = session_values(session.get(Connection, connection_id), {"id": 7, "via": login_link.VIA})
    assert "via" not in values["user"]
    with client.session_transaction() as browser:
        browser.update(values)
    assert client.get("/settings/store").status_code == 401


def test_a_bigcommerce_store_signs_in_by_link_too(make_app, fake_cloud):
    app = make_app(PLUGINS={"enabled": ["smtp", "bigcommerce"]}, PLUGIN_MODULES=[fake_cloud])
    with app.app_context(), get_db().transaction() as session:
        Base.metadata.create_all(get_db().engine)
        connection = connections.install(
            session, source="bigcommerce", account="abc123", store_name="BC Outfitters",
            store_url="https://bc.example.test", secrets_={"access_token": "t"},
            data={"users": {"5": "owner@example.com"}},  # the users BigCommerce's callbacks allow
        )
        credentials = {"username": "api-staging@example.com", "password": ACCOUNTS["api-staging@example.com"]}
        connections.connect(session, get_plugins(), connection, "fake_cloud", credentials)

    client = app.test_client()
    response = client.get(local(link(app, "--source", "bigcommerce", "abc123")))
    assert response.status_code == 302 and response.headers["Location"].endswith("/settings/store")
    assert "BC Outfitters" in page_text(client.get("/settings/store"))
