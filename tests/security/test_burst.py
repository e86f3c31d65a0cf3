"""A burst of webhooks: one database connection per delivery, every event stored, pool from config."""

from __future__ import annotations

import json
import stat
import threading
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import requests
from sqlalchemy import event, text

from host.db import get_db
from host.inbox import InboxUnavailable, InboxWriter, _Pending, upsert_events
from host.models import Base, Connection
from host.testing import serve
from plugins.bigcommerce.webhooks import SECRET_HEADER
from tests.security.conftest import CLIENT_ID, CLIENT_SECRET, install
from tests.web.conftest import Merchant, install_store


def test_a_burst_on_a_one_connection_pool_is_answered_and_stored_in_full(make_app):
    """Two connections held by one delivery would starve a pool of one; none is lost or late."""
    app = make_app(
        PLUGINS={"bigcommerce": {"client_id": CLIENT_ID, "client_secret": CLIENT_SECRET}},
        DATABASE={"pool_size": 1, "max_overflow": 0, "pool_timeout": 10},
    )
    engine = app.extensions["host.db"].engine
    with app.app_context():
        Base.metadata.create_all(engine)
    _id, secret = install(app, "store_a")
    held: Counter = Counter()
    most_held_by_a_thread = [0]
    lock = threading.Lock()

    @event.listens_for(engine, "checkout")
    def _checkout(*_args):
        with lock:
            held[threading.get_ident()] += 1
            most_held_by_a_thread[0] = max(most_held_by_a_thread[0], held[threading.get_ident()])

    @event.listens_for(engine, "checkin")
    def _checkin(*_args):
        with lock:
            held[threading.get_ident()] -= 1

    def deliver(number: int) -> int:
        body = {"scope": "store/order/created", "data": {"type": "order", "id": number + 1},
                "hash": f"{number:040d}", "created_at": 1700000000, "producer": "stores/store_a"}
        return requests.post(f"{url}/bigcommerce/webhooks", data=json.dumps(body),
                             headers={SECRET_HEADER: secret}, timeout=30).status_code

    with serve(app) as url, ThreadPoolExecutor(max_workers=24) as pool:
        statuses = list(pool.map(deliver, range(240)))
    assert statuses == [200] * 240
    assert most_held_by_a_thread[0] == 1, "no thread ever holds two connections at once"
    with app.app_context(), get_db().transaction() as session:
        stored = session.scalar(text("SELECT COUNT(DISTINCT record_id) FROM webhook_inbox"))
    assert stored == 240


def test_the_pool_is_sized_from_the_configuration(make_app):
    app = make_app(DATABASE={"pool_size": 3, "max_overflow": 4, "pool_timeout": 2.5})
    pool = app.extensions["host.db"].engine.pool
    assert (pool.size(), pool._max_overflow, pool._timeout) == (3, 4, 2.5)
    default = make_app().extensions["host.db"].engine.pool
    assert (default.size(), default._max_overflow, default._timeout) == (10, 20, 10.0)


def test_sqlite_files_are_readable_by_their_owner_only(make_app, tmp_path):
    database = tmp_path / "private" / "host.db"
    database.parent.mkdir()
    database.touch(mode=0o644)  # an older installation's file is narrowed too
    database.chmod(0o644)
    app = make_app(DATABASE={"url": f"sqlite:///{database}"})
    with app.app_context():
        Base.metadata.create_all(get_db().engine)
        with get_db().transaction() as session:
            session.add(Connection(source="s", source_account="a", webhook_secret={"value": "x"}))
    for path in Path(database.parent).iterdir():  # host.db, host.db-wal, host.db-shm
        assert stat.S_IMODE(path.stat().st_mode) == 0o600, path.name


def test_the_inbox_writer_stores_a_batch_once_per_event_and_isolates_a_bad_one(hostile):
    database = hostile.app.extensions["host.db"]
    good = [{"connection_id": hostile.ids["store_a"], "dedupe_key": f"k{n % 3}", "stream": "orders",
             "record_id": str(n), "payload": {"n": n}} for n in range(6)]
    with database.engine.begin() as connection:
        upsert_events(connection, good)  # three events, each delivered twice in the batch
    orphan = {**good[0], "connection_id": 999_999, "dedupe_key": "orphan"}  # its store is gone
    batch = [_Pending(orphan), _Pending({**good[0], "dedupe_key": "fresh"})]
    InboxWriter(database)._write(batch)
    assert batch[0].error is not None and batch[1].error is None
    assert all(pending.done.is_set() for pending in batch)
    rows = {row.dedupe_key: row.payload.get("n") for row in hostile.inbox()}
    assert rows == {"k0": 3, "k1": 4, "k2": 5, "fresh": 0}  # the last delivery of each


def test_a_delivery_the_inbox_cannot_take_is_answered_503_for_a_later_retry(hostile, monkeypatch):
    def unavailable(self, values, timeout=0):
        raise InboxUnavailable("the database is locked")

    monkeypatch.setattr(InboxWriter, "store", unavailable)
    assert hostile.post_event().status_code == 503


def test_a_secret_kept_before_its_digest_is_recognised_once_and_then_by_the_header(hostile):
    """A connection from before migration 0003 whose key was not at hand: found by its store."""
    from sqlalchemy import text

    from host.db import get_db

    with hostile.app.app_context(), get_db().engine.begin() as connection:
        connection.execute(text("UPDATE connections SET webhook_secret_digest = NULL"))
    assert hostile.post_event(hostile.event("store_a"), secret="wrong").status_code == 401
    assert hostile.post_event(hostile.event("store_b"), secret="store_a").status_code == 401
    assert hostile.post_event(hostile.event("store_a")).status_code == 200
    assert hostile.connection("store_a").webhook_secret_digest is not None
    assert hostile.connection("store_b").webhook_secret_digest is None
    assert len(hostile.inbox()) == 1


def test_the_session_cookie_is_secure_httponly_samesite_none_and_partitioned_on_https(make_app, fake_cloud):
    app = make_app(PLUGINS={"enabled": ["smtp"]}, PLUGIN_MODULES=[fake_cloud],
                   HOST={"public_url": "https://connector.example.com"})
    with app.app_context():
        Base.metadata.create_all(get_db().engine)
    store = install_store(app, connect_as="api-staging@example.com")
    cookie = Merchant(app.test_client(), store).get("/settings/store").headers["Set-Cookie"]
    for attribute in ("Secure", "HttpOnly", "SameSite=None", "Partitioned"):
        assert attribute in cookie
    assert "Expires=" in cookie
    assert app.permanent_session_lifetime.total_seconds() == 8 * 3600
