"""A host with two BigCommerce stores installed and connected, for hostile requests.

No emulator: the receiver and the callbacks need none. ``hostile.post_event`` delivers a
webhook, ``hostile.jwt`` signs (or forges) a callback token, ``hostile.inbox`` reads the inbox.
"""

from __future__ import annotations

import json
import os
import time
import uuid
from dataclasses import dataclass
from typing import Any

import jwt
import pytest
from sqlalchemy import select

from host import connections, create_app
from host.db import get_db
from host.models import Base, Connection, WebhookEvent
from plugins.bigcommerce.webhooks import SECRET_HEADER
from tests.engagement_cloud.conftest import (  # noqa: F401  (the Engagement Cloud emulator)
    emulator,
    emulator_server,
    make_ec_app,
)
from tests.sync.conftest import world  # noqa: F401  (the fake store's world, for the fast lane)
from tests.web.conftest import (  # noqa: F401  (the settings pages' fixtures)
    connected_store_id,
    fake_cloud,
    merchant,
    web_app,
)

CLIENT_ID = "hostile-world-app"
CLIENT_SECRET = "hostile-world-client-secret-long-enough-for-hs256"
STORES = ("store_a", "store_b")
USER = {"id": 41, "email": "owner-a@example.com"}


@dataclass
class Hostile:
    app: Any
    ids: dict[str, int]  # store hash → connection id
    secrets: dict[str, str]  # store hash → webhook secret

    def client(self):
        return self.app.test_client()

    def event(self, store: str = "store_a", **changes: Any) -> dict[str, Any]:
        body = {
            "scope": "store/customer/updated",
            "store_id": "1025646",
            "data": {"type": "customer", "id": 32},
            "hash": uuid.uuid4().hex + "abcdefgh",
            "created_at": int(time.time()),
            "producer": f"stores/{store}",
        }
        body.update(changes)
        return body

    def post_event(self, body: Any = None, *, secret: str | None = "store_a", raw: bytes | None = None,
                   headers: dict[str, str] | None = None, client=None):
        """POST to the receiver; ``secret`` is a store hash (its secret), a literal, or None."""
        sent_headers = {"Content-Type": "application/json", **(headers or {})}
        if secret is not None:
            sent_headers[SECRET_HEADER] = self.secrets.get(secret, secret)
        data = raw if raw is not None else json.dumps(body if body is not None else self.event()).encode()
        return (client or self.client()).post("/bigcommerce/webhooks", data=data, headers=sent_headers)

    def inbox(self) -> list[WebhookEvent]:
        with self.app.app_context(), get_db().transaction() as session:
            return list(session.scalars(select(WebhookEvent).order_by(WebhookEvent.id)))

    def connection(self, store: str) -> Connection | None:
        with self.app.app_context(), get_db().transaction() as session:
            return connections.find(session, "bigcommerce", store)

    def jwt(self, store: str = "store_a", *, secret: str = CLIENT_SECRET, user: dict | None = None,
            **changes: Any) -> str:
        now = int(time.time())
        claims = {
            "aud": CLIENT_ID, "iss": "bc", "iat": now, "nbf": now - 5, "exp": now + 86400,
            "jti": str(uuid.uuid4()), "sub": f"stores/{store}",
            "user": user or USER, "owner": USER, "url": "/", "channel_id": None,
        }
        claims.update(changes)
        claims = {key: value for key, value in claims.items() if value is not None or key == "channel_id"}
        return jwt.encode(claims, secret, algorithm="HS256")


def install(app, store: str) -> tuple[int, str]:
    with app.app_context(), get_db().transaction() as session:
        connection = connections.install(
            session, source="bigcommerce", account=store, store_name=f"Shop {store}",
            store_url=f"https://{store}.example.test", secrets_={"access_token": f"token-{store}"},
            data={"users": {str(USER["id"]): USER["email"]}, "user": USER,
                  "control_panel_base_url": f"https://store-{store}.mybigcommerce.com"},
        )
        return connection.id, connection.webhook_secret["value"]


def _reset(hostile_world: Hostile) -> Hostile:
    """Back to two freshly installed stores and nothing else (the shared app's per-test state)."""
    with hostile_world.app.app_context():
        engine = get_db().engine
        Base.metadata.create_all(engine)
        with engine.begin() as connection:
            for table in reversed(Base.metadata.sorted_tables):
                connection.execute(table.delete())
    hostile_world.ids, hostile_world.secrets = {}, {}
    for store in STORES:
        hostile_world.ids[store], hostile_world.secrets[store] = install(hostile_world.app, store)
    return hostile_world


@pytest.fixture(scope="module")
def shared_world(tmp_path_factory, database_server):
    """One app for a module's many small cases (creating an app per case would cost seconds)."""
    folder = tmp_path_factory.mktemp("hostile")
    url = database_server or f"sqlite:///{folder / 'host.db'}"
    with pytest.MonkeyPatch.context() as patch:
        for name in [name for name in os.environ if name.startswith("HOST_") or name == "DATABASE_URL"]:
            patch.delenv(name)
        app = create_app({
            "TESTING": True, "INSTANCE_PATH": str(folder / "instance"), "DATABASE": {"url": url},
            "SCHEDULER": {"enabled": False}, "HOST": {"public_url": "http://127.0.0.1:5000"},
            "WTF_CSRF_ENABLED": True,
            "PLUGINS": {"bigcommerce": {"client_id": CLIENT_ID, "client_secret": CLIENT_SECRET,
                                        "login_base_url": "http://127.0.0.1:9"}},
        })
    yield Hostile(app, {}, {})
    database = app.extensions["host.db"]
    database.sessions.remove()
    if database.engine.dialect.name == "postgresql":
        Base.metadata.drop_all(database.engine)
    database.engine.dispose()


@pytest.fixture
def shared(shared_world) -> Hostile:
    """The module's app, reset to two freshly installed stores."""
    return _reset(shared_world)


@pytest.fixture
def hostile(make_app) -> Hostile:
    app = make_app(PLUGINS={"bigcommerce": {"client_id": CLIENT_ID, "client_secret": CLIENT_SECRET}})
    with app.app_context():
        Base.metadata.create_all(get_db().engine)
    ids, secrets = {}, {}
    for store in STORES:
        ids[store], secrets[store] = install(app, store)
    return Hostile(app, ids, secrets)
