"""A host with two BigCommerce stores installed and connected, for hostile requests.

No emulator: the receiver and the callbacks need none. ``hostile.post_event`` delivers a
webhook, ``hostile.jwt`` signs (or forges) a callback token, ``hostile.inbox`` reads the inbox.
"""

from __future__ import annotations

import json
import time
import uuid
from dataclasses import dataclass
from typing import Any

import jwt
import pytest
from sqlalchemy import select

from host import connections
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


@pytest.fixture
def hostile(make_app) -> Hostile:
    app = make_app(PLUGINS={"bigcommerce": {"client_id": CLIENT_ID, "client_secret": CLIENT_SECRET}})
    with app.app_context():
        Base.metadata.create_all(get_db().engine)
    ids, secrets = {}, {}
    for store in STORES:
        ids[store], secrets[store] = install(app, store)
    return Hostile(app, ids, secrets)
