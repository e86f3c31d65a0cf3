"""Install, load, uninstall and remove_user, driven by the emulator's control-panel simulator."""

from __future__ import annotations

import time

import jwt
import pytest
from sqlalchemy import func, select

from host.db import get_db
from host.models import Connection
from tests.bigcommerce.conftest import CLIENT_ID, CLIENT_SECRET, STORE_HASH


def stored_connection(world) -> Connection | None:
    with world.app.app_context():
        return get_db().session.scalar(
            select(Connection).where(Connection.source_account == STORE_HASH)
        )


def test_install_load_uninstall_end_to_end(bigcommerce):
    installed = bigcommerce.panel("install")
    assert installed["code_exchanged"], "the host exchanged the one-time code for a token"
    assert installed["history"][0]["location"].endswith("/settings/connect"), (
        "the merchant is led to the credentials"
    )
    connection = stored_connection(bigcommerce)
    assert connection.store_name == "Test Goods"
    assert connection.store_url.startswith("http")
    assert connection.source_secrets["access_token"], "the token is kept"
    assert "store_v2_orders_read_only" in connection.source_data["scopes"]
    with bigcommerce.app.app_context():  # encrypted at rest: the raw column holds no token
        raw = (
            get_db()
            .engine.connect()
            .exec_driver_sql("SELECT source_secrets FROM connections")
            .scalar()
        )
    assert connection.source_secrets["access_token"] not in raw

    loaded = bigcommerce.panel("load", user="staff")
    assert loaded["history"][0]["location"].endswith(
        "/settings/connect"
    )  # not connected to Engagement Cloud yet
    assert "staff@" in str(stored_connection(bigcommerce).source_data["users"])

    removed_user = bigcommerce.panel("remove_user", user="staff")
    assert removed_user["status"] == 204
    assert "staff@" not in str(stored_connection(bigcommerce).source_data["users"])
    assert stored_connection(bigcommerce) is not None, "removing a user keeps the connection"

    uninstalled = bigcommerce.panel("uninstall")
    assert uninstalled["status"] == 204
    assert stored_connection(bigcommerce) is None, (
        "uninstall removes the connection and its secrets"
    )


def test_install_without_a_required_scope_explains_what_is_missing(bigcommerce):
    accounts = bigcommerce.emulator.extensions["bigcommerce_emulator"].accounts
    accounts.register_app(
        client_id=CLIENT_ID, scopes=["store_v2_customers_read_only", "store_v2_information"]
    )
    installed = bigcommerce.panel("install")
    assert installed["status"] == 400
    assert "orders" in installed["body"] and "products" in installed["body"]
    assert stored_connection(bigcommerce) is None


def _token(**changes) -> str:
    now = int(time.time())
    claims = {
        "aud": CLIENT_ID,
        "iss": "bc",
        "iat": now,
        "nbf": now - 5,
        "exp": now + 86400,
        "sub": f"stores/{STORE_HASH}",
        "user": {"id": 1, "email": "intruder@example.com"},
        "owner": {"id": 1, "email": "o@example.com"},
    }
    secret = changes.pop("secret", CLIENT_SECRET)
    claims.update(changes)
    return jwt.encode(claims, secret, algorithm="HS256")


@pytest.mark.parametrize(
    "token",
    [
        _token(secret="forged-secret-of-the-same-length-as-real-ones"),
        _token(
            exp=int(time.time()) - 3600, iat=int(time.time()) - 90000, nbf=int(time.time()) - 90000
        ),
        _token(aud="someone-elses-app"),
        _token(iss="not-bc"),
        _token(nbf=int(time.time()) + 3600),
        "not.a.jwt",
    ],
    ids=["forged", "expired", "wrong-audience", "wrong-issuer", "not-yet-valid", "garbage"],
)
@pytest.mark.parametrize("callback", ["load", "uninstall", "remove_user"])
def test_bad_signed_payloads_answer_401_and_change_nothing(bigcommerce, token, callback):
    bigcommerce.panel("install")
    before = stored_connection(bigcommerce)
    client = bigcommerce.app.test_client()
    response = client.get(f"/bigcommerce/{callback}", query_string={"signed_payload_jwt": token})
    assert response.status_code == 401
    after = stored_connection(bigcommerce)
    assert after is not None and after.source_data == before.source_data
    with bigcommerce.app.app_context():
        assert get_db().session.scalar(select(func.count()).select_from(Connection)) == 1
    with client.session_transaction() as session:
        assert "connection_id" not in session, "no merchant session is opened"
