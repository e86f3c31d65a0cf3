"""The hostile corpus, settings pages: posts with unknown ids, wrong types and over-long strings,
forms without (or with forged) CSRF tokens, script and SQL strings in store data, oversized
requests; isolation of every merchant route between two stores; the session's limits.

Each case asserts the status, that nothing was stored wrongly (the whole database is compared
with its state before the request, or the other store's part of it), and that no page can run
an injected script (the marker never appears unescaped; the policy allows no inline script).
"""

from __future__ import annotations

import json
import time

import pytest
from sqlalchemy import select

from host import connections as connection_service
from host.db import get_db
from host.models import (
    Base,
    Connection,
    ConnectionSetting,
    Enrolment,
    LedgerEntry,
    WebhookEvent,
    utcnow,
)
from host.settings import save_settings
from tests.web.conftest import Merchant, install_store
from tests.web.fakes import FakeCloudPlugin, FakeEngagementCloud, FakeShopPlugin

SCRIPT = '<script>alert("owned")</script>'
IMG = '"><img src=x onerror=alert(1)>'
SQL = "x'; DROP TABLE connections; --"
MARKERS = ('<script>alert("owned")', "<img src=x onerror", "onerror=alert(1)>")
STORE_B_NAME = f"Bravo {SCRIPT} {SQL}"


def assert_no_script_runs(response) -> None:
    if response.mimetype != "text/html":
        return
    policy = response.headers["Content-Security-Policy"]
    assert "script-src 'self'" in policy and "unsafe-inline" not in policy and "unsafe-eval" not in policy
    body = response.get_data(as_text=True)
    assert not any(marker in body for marker in MARKERS), "an injected script would run"


class Stores:
    """Two connected stores in one app: A (the merchant's) and B (someone else's)."""

    def __init__(self, app):
        self.app = app
        self.a = self.b = 0

    def reset(self) -> Stores:
        with self.app.app_context():
            engine = get_db().engine
            Base.metadata.create_all(engine)
            with engine.begin() as connection:
                for table in reversed(Base.metadata.sorted_tables):
                    connection.execute(table.delete())
        self.a = install_store(self.app, "abc123", "Alpha Outfitters", connect_as="api-staging@example.com")
        self.b = install_store(self.app, "zzz999", STORE_B_NAME, connect_as="api-live@example.com")
        self._seed_b()
        return self

    def _seed_b(self) -> None:
        """Store B has something on every tab: settings, refused records and enrolments, a failed event."""
        with self.app.app_context(), get_db().transaction() as session:
            connection = session.get(Connection, self.b)
            save_settings(session, connection, "contacts", {"customers_book_id": "12", "consent_text": "B-consent"})
            save_settings(session, connection, "smtp", {"username": "b-smtp-user", "port": 587})
            session.add(LedgerEntry(connection_id=self.b, kind="orders", source_id="B-ORDER-1", state="failed",
                                    attempts=9, reason=f"B refused {SCRIPT}"))
            session.add(Enrolment(connection_id=self.b, trigger="first_order", contact_key="b-shopper@example.com",
                                  program_id="21", state="failed", reason="B enrolment refused"))
            session.add(WebhookEvent(connection_id=self.b, dedupe_key="b", stream="customers", record_id="424242",
                                     attempts=5, processed_at=utcnow(), failed_reason="B event refused"))

    def merchant(self, store: str = "a") -> Merchant:
        return Merchant(self.app.test_client(), self.a if store == "a" else self.b)

    def snapshot(self, connection_id: int | None = None) -> dict:
        """Every row (of one connection, when told) as plain values."""
        with self.app.app_context(), get_db().transaction() as session:
            def rows(model, *order):
                statement = select(model).order_by(*order)
                if connection_id is not None:
                    statement = statement.where(
                        (model.id if model is Connection else model.connection_id) == connection_id)
                return [
                    {column.key: _plain(getattr(row, column.key)) for column in model.__table__.columns
                     if column.key not in ("updated_at", "heartbeat_at")}
                    for row in session.scalars(statement)
                ]

            return {
                "connections": rows(Connection, Connection.id),
                "settings": rows(ConnectionSetting, ConnectionSetting.id),
                "ledger": rows(LedgerEntry, LedgerEntry.id),
                "enrolments": rows(Enrolment, Enrolment.id),
                "inbox": rows(WebhookEvent, WebhookEvent.id),
            }


def _plain(value):
    return json.dumps(value, sort_keys=True, default=str)


@pytest.fixture(scope="module")
def web_world(tmp_path_factory, database_server):
    import os

    from host import create_app

    folder = tmp_path_factory.mktemp("hostile-web")
    url = database_server or f"sqlite:///{folder / 'host.db'}"
    with pytest.MonkeyPatch.context() as patch:
        for name in [name for name in os.environ if name.startswith("HOST_") or name == "DATABASE_URL"]:
            patch.delenv(name)
        app = create_app({
            "TESTING": True, "INSTANCE_PATH": str(folder / "instance"), "DATABASE": {"url": url},
            "SCHEDULER": {"enabled": False}, "HOST": {"public_url": "http://127.0.0.1:5000"},
            "WTF_CSRF_ENABLED": True, "PLUGINS": {"enabled": ["smtp"]}, "PLUGIN_MODULES": [FakeCloudPlugin(FakeEngagementCloud()), FakeShopPlugin()],
        })
    yield Stores(app)
    database = app.extensions["host.db"]
    database.sessions.remove()
    if database.engine.dialect.name == "postgresql":
        Base.metadata.drop_all(database.engine)
    database.engine.dispose()


@pytest.fixture
def stores(web_world) -> Stores:
    return web_world.reset()


VALID_STORE_FORM = {"double_opt_in": "no", "customers_book_id": "11", "subscribers_book_id": "12",
                    "consent_text": "I agree to receive emails.", "new_customer_program_id": "21",
                    "new_subscriber_program_id": "", "first_order_program_id": ""}
STORE_POSTS = {
    "unknown-book": ({"customers_book_id": "999999"}, 400),
    "unknown-program": ({"new_customer_program_id": "424242"}, 400),
    "book-is-script": ({"customers_book_id": SCRIPT}, 400),
    "book-is-sql": ({"subscribers_book_id": SQL}, 400),
    "book-over-long": ({"customers_book_id": "1" * 300}, 400),
    "program-is-script": ({"first_order_program_id": IMG}, 400),
    "same-book-twice": ({"customers_book_id": "11", "subscribers_book_id": "11"}, 400),
    "opt-in-not-yes-or-no": ({"double_opt_in": "maybe"}, 400),
    "opt-in-missing": ({"double_opt_in": None}, 400),
    "opt-in-script": ({"double_opt_in": SCRIPT}, 400),
    "consent-empty": ({"consent_text": ""}, 400),
    "consent-1001": ({"consent_text": "c" * 1001}, 400),
    "consent-5000": ({"consent_text": "c" * 5000}, 413),
    "field-name-over-long": ({"x" * 300: "1"}, 413),
    "too-many-fields": ({f"extra{n}": "1" for n in range(250)}, 413),
}


def _form(changes: dict) -> dict:
    return {key: value for key, value in {**VALID_STORE_FORM, **changes}.items() if value is not None}


@pytest.mark.parametrize(("changes", "status"), STORE_POSTS.values(), ids=STORE_POSTS.keys())
def test_a_bad_store_tab_post_is_refused_and_saves_nothing(stores, changes, status):
    merchant = stores.merchant()
    before = stores.snapshot()
    response = merchant.post("/settings/store", _form(changes))
    assert response.status_code == status
    assert stores.snapshot() == before
    assert_no_script_runs(response)


def test_a_valid_store_tab_post_keeps_only_the_known_fields(stores):
    merchant = stores.merchant()
    response = merchant.post("/settings/store", _form({"admin": "1", "connection_id": str(stores.b)}))
    assert response.status_code == 302
    with stores.app.app_context(), get_db().transaction() as session:
        saved = {row.namespace: row.values for row in session.scalars(
            select(ConnectionSetting).where(ConnectionSetting.connection_id == stores.a))}
    assert set(saved) == {"contacts", "automation"}
    assert set(saved["contacts"]) == {"customers_book_id", "subscribers_book_id", "consent_text", "double_opt_in",
                                      "write_back_unsubscribes", "deleted_contacts"}
    assert set(saved["automation"]) == {"new_customer_program_id", "new_subscriber_program_id",
                                        "first_order_program_id"}


OTHER_POSTS = {
    "connect-unknown-destination": ("/settings/connect", {"destination": "evil", "username": "u", "password": "p"}, 400),
    "connect-username-256": ("/settings/connect", {"destination": "fake_cloud", "username": "u" * 256,
                                                   "password": "p"}, 400),
    "connect-password-1025": ("/settings/connect", {"destination": "fake_cloud", "username": "api-live@example.com",
                                                    "password": "p" * 1025}, 400),
    "connect-wrong-password": ("/settings/connect", {"destination": "fake_cloud", "username": "api-live@example.com",
                                                     "password": "guess"}, 400),
    "connect-script-username": ("/settings/connect", {"destination": "fake_cloud", "username": SCRIPT,
                                                      "password": IMG}, 400),
    "mapping-unknown-field": ("/settings/field-mapping", {"map.first_name": "NOT_A_FIELD"}, 400),
    "mapping-script": ("/settings/field-mapping", {"map.first_name": SCRIPT}, 400),
    "mapping-sql": ("/settings/field-mapping", {"map.last_name": SQL}, 400),
    "mapping-one-field-twice": ("/settings/field-mapping", {"map.first_name": "FIRSTNAME",
                                                            "map.last_name": "FIRSTNAME"}, 400),
    "mapping-over-long": ("/settings/field-mapping", {"map.first_name": "F" * 5000}, 413),
    "create-unknown-row": ("/settings/field-mapping/data-fields", {"create": SCRIPT}, 400),
    "create-sql-row": ("/settings/field-mapping/data-fields", {"create": SQL}, 400),
    "smtp-password-1025": ("/settings/smtp", {"action": "save", "username": "u", "password": "p" * 1025,
                                              "port": "587"}, 400),
    "smtp-port-letters": ("/settings/smtp", {"action": "save", "username": "u", "password": "p", "port": "abc"}, 400),
    "smtp-port-22": ("/settings/smtp", {"action": "save", "username": "u", "password": "p", "port": "22"}, 400),
    "smtp-username-256": ("/settings/smtp", {"action": "save", "username": "u" * 256, "password": "p",
                                             "port": "587"}, 400),
    "smtp-recipient-not-email": ("/settings/smtp", {"action": "test", "username": "u", "password": "p",
                                                    "port": "587", "test_recipient": SCRIPT}, 400),
    "smtp-recipient-400-chars": ("/settings/smtp", {"action": "test", "username": "u", "password": "p",
                                                    "port": "587", "test_recipient": "a" * 390 + "@example.com"}, 400),
    "smtp-password-400kb": ("/settings/smtp", {"action": "save", "username": "u", "password": "p" * 400_000,
                                               "port": "587"}, 413),
}


@pytest.mark.parametrize(("path", "form", "status"), OTHER_POSTS.values(), ids=OTHER_POSTS.keys())
def test_a_bad_settings_post_is_refused_and_saves_nothing(stores, path, form, status):
    merchant = stores.merchant()
    before = stores.snapshot()
    response = merchant.post(path, form)
    assert response.status_code == status
    assert stores.snapshot() == before
    assert_no_script_runs(response)


RETRY_POSTS = {
    "letters": {"record": "abc"},
    "negative": {"record": "-1"},
    "sql": {"record": "1 OR 1=1"},
    "script-area": {"all": "1", "area": SCRIPT},
    "enrolment-letters": {"enrolment": "x"},
}


@pytest.mark.parametrize("form", RETRY_POSTS.values(), ids=RETRY_POSTS.keys())
def test_a_retry_with_bad_ids_retries_nothing(stores, form):
    merchant = stores.merchant()
    before = stores.snapshot()
    response = merchant.post("/settings/store/retry", form)
    assert response.status_code == 302
    assert stores.snapshot() == before


POST_ROUTES = ("/settings/store", "/settings/store/retry", "/settings/store/data-sync", "/settings/store/sync-now",
               "/settings/store/remove", "/settings/connect", "/settings/disconnect", "/settings/field-mapping",
               "/settings/field-mapping/data-fields", "/settings/smtp")


@pytest.mark.parametrize("token", [None, "forged-token"], ids=["without-token", "forged-token"])
@pytest.mark.parametrize("path", POST_ROUTES)
def test_a_form_without_its_csrf_token_changes_nothing(stores, path, token):
    merchant = stores.merchant()
    before = stores.snapshot()
    form = {"enabled": "off", "all": "1"} | ({"csrf_token": token} if token else {})
    response = merchant.client.post(path, data=form)
    assert response.status_code == 400
    assert stores.snapshot() == before
    assert_no_script_runs(response)


GET_QUERIES = {
    "store-area-script": ("/settings/store", {"area": SCRIPT}, 200),
    "store-area-sql": ("/settings/store", {"area": SQL}, 200),
    "csv-area-sql": ("/settings/store/needs-attention.csv", {"area": SQL}, 200),
    "status-extra": ("/settings/store/status", {"connection_id": "2"}, 200),
    "mapping-script": ("/settings/field-mapping", {"x": IMG}, 200),
    "query-9kb": ("/settings/store", {"q": "q" * 9000}, 414),
    "unknown-page": ("/settings/" + "nothing-here", {}, 404),
}


@pytest.mark.parametrize(("path", "query", "status"), GET_QUERIES.values(), ids=GET_QUERIES.keys())
def test_a_page_asked_for_with_hostile_query_strings_answers_safely(stores, path, query, status):
    merchant = stores.merchant()
    response = merchant.get(path, query_string=query)
    assert response.status_code == status
    assert_no_script_runs(response)
    assert "Bravo" not in response.get_data(as_text=True)


def test_a_body_over_the_limit_is_refused_before_it_is_parsed(stores):
    merchant = stores.merchant()
    before = stores.snapshot()
    response = merchant.client.post("/settings/store", data=b"x=" + b"y" * (2 * 1024 * 1024),
                                    content_type="application/x-www-form-urlencoded")
    assert response.status_code == 413
    assert stores.snapshot() == before
    assert_no_script_runs(response)


MERCHANT_PAGES = ("/settings/store", "/settings/connect", "/settings/field-mapping", "/settings/smtp",
                  "/settings/store/status", "/settings/store/needs-attention.csv", "/settings/store/remove",
                  "/settings/disconnect", "/settings/")


@pytest.mark.parametrize("path", MERCHANT_PAGES)
def test_script_and_sql_in_store_data_are_shown_as_text(stores, path):
    merchant = stores.merchant("b")  # store B's own name and reasons hold the markers
    response = merchant.get(path, follow_redirects=True)
    assert response.status_code == 200
    assert_no_script_runs(response)
    if path.endswith(".csv"):
        assert "B refused" in response.get_data(as_text=True)


@pytest.mark.parametrize("path", MERCHANT_PAGES)
def test_no_page_of_store_a_shows_anything_of_store_b(stores, path):
    response = stores.merchant("a").get(path, follow_redirects=True)
    assert response.status_code == 200
    body = response.get_data(as_text=True)
    for secret_of_b in ("Bravo", "zzz999", "B-ORDER-1", "b-shopper@", "424242", "B-consent", "b-smtp-user",
                        "api-live@example.com"):
        assert secret_of_b not in body, secret_of_b


ISOLATION_POSTS = {
    "retry-b-record": ("/settings/store/retry", lambda s: {"record": str(s.ledger_id_of_b())}),
    "retry-b-enrolment": ("/settings/store/retry", lambda s: {"enrolment": str(s.enrolment_id_of_b())}),
    "retry-all": ("/settings/store/retry", lambda s: {"all": "1"}),
    "store-settings": ("/settings/store", lambda s: _form({"connection_id": str(s.b)})),
    "data-sync-off": ("/settings/store/data-sync", lambda s: {"enabled": "off", "connection_id": str(s.b)}),
    "sync-now": ("/settings/store/sync-now", lambda s: {"connection_id": str(s.b)}),
    "field-mapping": ("/settings/field-mapping", lambda s: {"map.first_name": "FIRSTNAME"}),
    "create-data-field": ("/settings/field-mapping/data-fields", lambda s: {"create": "company"}),
    "smtp": ("/settings/smtp", lambda s: {"action": "save", "username": "a-user", "password": "a", "port": "587"}),
    "connect-again": ("/settings/connect", lambda s: {"destination": "fake_cloud",
                                                       "username": "api-staging@example.com",
                                                       "password": "staging-pass"}),
    "disconnect": ("/settings/disconnect", lambda s: {}),
    "remove": ("/settings/store/remove", lambda s: {"connection_id": str(s.b)}),
}


def _ids_of_b(stores: Stores, model) -> int:
    with stores.app.app_context(), get_db().transaction() as session:
        return session.scalar(select(model.id).where(model.connection_id == stores.b))


Stores.ledger_id_of_b = lambda self: _ids_of_b(self, LedgerEntry)
Stores.enrolment_id_of_b = lambda self: _ids_of_b(self, Enrolment)


@pytest.mark.parametrize(("path", "form"), ISOLATION_POSTS.values(), ids=ISOLATION_POSTS.keys())
def test_no_form_of_store_a_changes_anything_of_store_b(stores, path, form):
    before = stores.snapshot(stores.b)
    response = stores.merchant("a").post(path, form(stores))
    assert response.status_code in (200, 302), response.status_code
    assert stores.snapshot(stores.b) == before


@pytest.mark.parametrize("path", MERCHANT_PAGES)
def test_a_session_whose_connection_id_points_at_another_store_opens_nothing(stores, path):
    """As after an uninstall whose connection id was given to another store (SQLite reuses ids)."""
    merchant = stores.merchant("a")
    with merchant.client.session_transaction() as session:
        session["connection_id"] = stores.b  # the rest still names store A's installation
    response = merchant.client.get(path)
    assert response.status_code == 401
    assert "Bravo" not in response.get_data(as_text=True)
    with merchant.client.session_transaction() as session:
        assert "connection_id" not in session, "the session ends"


def test_an_uninstalled_stores_session_does_not_open_the_store_installed_in_its_place(stores):
    merchant = stores.merchant("a")
    assert merchant.get("/settings/store").status_code == 200
    with stores.app.app_context(), get_db().transaction() as session:
        from host.plugins import get_plugins

        connection_service.remove(session, get_plugins(), session.get(Connection, stores.a))
    time.sleep(1.1)  # a later installation, as would happen
    with stores.app.app_context(), get_db().transaction() as session:
        session.add(Connection(id=stores.a, source="fakeshop", source_account="newcomer", store_name="Newcomer"))
    response = merchant.client.get("/settings/store")
    assert response.status_code == 401 and "Newcomer" not in response.get_data(as_text=True)


def test_a_session_idle_for_a_working_day_ends_and_its_401_page_stays_framed(stores):
    merchant = stores.merchant("a")
    assert merchant.get("/settings/store").status_code == 200
    with merchant.client.session_transaction() as session:
        session["seen"] = int(time.time()) - 8 * 3600 - 60
    response = merchant.client.get("/settings/store")
    assert response.status_code == 401
    assert "working day" in response.get_data(as_text=True)
    policy = response.headers["Content-Security-Policy"]
    assert "https://store-abc123.mybigcommerce.com" in policy.split("frame-ancestors", 1)[1]
    assert merchant.client.get("/settings/store").status_code == 401, "ended for good"


def test_an_active_session_lives_on_and_a_fresh_one_needs_no_more_than_its_cookie(stores):
    merchant = stores.merchant("a")
    with merchant.client.session_transaction() as session:
        session["seen"] = int(time.time()) - 7 * 3600
    assert merchant.get("/settings/store").status_code == 200
    with merchant.client.session_transaction() as session:
        assert time.time() - session["seen"] < 60, "each request moves the idle clock on"


@pytest.mark.parametrize("code", [400, 401, 404, 405, 413, 414])
def test_every_error_page_is_framed_by_the_same_policy(stores, code):
    merchant = stores.merchant("a")
    reference = merchant.get("/settings/store").headers["Content-Security-Policy"]
    requests_for = {
        400: lambda: merchant.client.post("/settings/store", data={"csrf_token": "forged"}),
        401: lambda: stores.app.test_client().get("/settings/store"),
        404: lambda: merchant.client.get("/settings/nothing-here"),
        405: lambda: merchant.client.delete("/settings/store"),
        413: lambda: merchant.post("/settings/store", {"consent_text": "c" * 5000}),
        414: lambda: merchant.client.get("/settings/store", query_string={"q": "q" * 9000}),
    }
    response = requests_for[code]()
    assert response.status_code == code and response.mimetype == "text/html"
    policy = response.headers["Content-Security-Policy"]
    ancestors = policy.split("frame-ancestors", 1)[1]
    if code == 401:  # no session at all: the control panels allowed for every store
        assert ancestors.split() == ["'self'", "https://*.bigcommerce.com"]
    else:
        assert ancestors == reference.split("frame-ancestors", 1)[1]
    assert response.headers["X-Content-Type-Options"] == "nosniff"
