"""The hostile corpus, control-panel callbacks: forged, expired, replayed and wrong-subject JWTs
on load, uninstall and remove_user; the install callback's bad requests; tokens kept out of logs.
Each case asserts the status, that the stores are as they were, and that no session was opened."""

from __future__ import annotations

import base64
import json
import logging
import time
import warnings

import jwt
import pytest
import requests
from sqlalchemy import func, select

from host.db import get_db
from host.models import Connection, UsedCallbackToken
from host.testing import serve
from tests.security.conftest import CLIENT_ID, CLIENT_SECRET, USER, install

CALLBACKS = ("load", "uninstall", "remove_user")
SCRIPT = '<script>alert("owned")</script>'


def _unsigned(claims: dict) -> str:
    def part(value: dict) -> str:
        return base64.urlsafe_b64encode(json.dumps(value).encode()).rstrip(b"=").decode()

    return f"{part({'alg': 'none', 'typ': 'JWT'})}.{part(claims)}."


def _claims(**changes) -> dict:
    now = int(time.time())
    claims = {"aud": CLIENT_ID, "iss": "bc", "iat": now, "nbf": now - 5, "exp": now + 86400,
              "jti": "fixed", "sub": "stores/store_a", "user": USER, "owner": USER}
    claims.update(changes)
    return {key: value for key, value in claims.items() if value is not None}


def bad_tokens() -> dict:
    now = int(time.time())
    sign = lambda **changes: jwt.encode(_claims(**changes), CLIENT_SECRET, algorithm="HS256")  # noqa: E731
    return {
        "missing": None,
        "empty": "",
        "garbage": "not.a.jwt",
        "script": SCRIPT,
        "forged": jwt.encode(_claims(), "forged-secret-of-the-same-length-as-the-real-one!", algorithm="HS256"),
        "expired": sign(iat=now - 90000, nbf=now - 90000, exp=now - 3600),
        "not-yet-valid": sign(nbf=now + 3600),
        "wrong-audience": sign(aud="someone-elses-app"),
        "wrong-issuer": sign(iss="not-bc"),
        "subject-not-a-store": sign(sub="users/store_a"),
        "subject-empty-store": sign(sub="stores/"),
        "subject-nested": sign(sub="stores/store_a/../store_b"),
        "no-subject": sign(sub=None),
        "no-expiry": sign(exp=None),
        "no-user": sign(user=None),
        "user-without-id": sign(user={"email": "x@example.com"}),
        "user-not-object": sign(user="owner"),
        "alg-none": _unsigned(_claims()),
        "hs512": _hs512(_claims()),
    }


def _hs512(claims: dict) -> str:
    """The right secret with another algorithm (PyJWT warns that the key is short for SHA-512)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return jwt.encode(claims, CLIENT_SECRET, algorithm="HS512")


def snapshot(world) -> list[tuple]:
    with world.app.app_context(), get_db().transaction() as session:
        rows = session.scalars(select(Connection).order_by(Connection.id))
        return [(row.id, row.source_account, json.dumps(row.source_data, sort_keys=True)) for row in rows]


def used_tokens(world) -> int:
    with world.app.app_context(), get_db().transaction() as session:
        return session.scalar(select(func.count()).select_from(UsedCallbackToken))


TOKENS = bad_tokens()


@pytest.mark.parametrize("token", TOKENS.values(), ids=TOKENS.keys())
@pytest.mark.parametrize("callback", CALLBACKS)
def test_a_callback_whose_token_does_not_verify_answers_401_and_changes_nothing(shared, callback, token):
    before = snapshot(shared)
    client = shared.client()
    query = {} if token is None else {"signed_payload_jwt": token}
    response = client.get(f"/bigcommerce/{callback}", query_string=query)
    assert response.status_code == 401
    assert snapshot(shared) == before and used_tokens(shared) == 0
    assert SCRIPT not in response.get_data(as_text=True)
    with client.session_transaction() as session:
        assert "connection_id" not in session


@pytest.mark.parametrize("callback", CALLBACKS)
def test_a_replayed_callback_is_refused(shared, callback):
    token = shared.jwt("store_a")
    first = shared.client().get(f"/bigcommerce/{callback}", query_string={"signed_payload_jwt": token})
    assert first.status_code in (302, 204)
    after_first = snapshot(shared)
    client = shared.client()
    again = client.get(f"/bigcommerce/{callback}", query_string={"signed_payload_jwt": token})
    assert again.status_code == 401
    assert snapshot(shared) == after_first
    with client.session_transaction() as session:
        assert "connection_id" not in session
    if callback == "load":
        assert "This link has expired" in again.get_data(as_text=True)


def test_a_replayed_uninstall_does_not_remove_the_store_installed_again(shared):
    token = shared.jwt("store_a")
    assert shared.client().get("/bigcommerce/uninstall", query_string={"signed_payload_jwt": token}).status_code == 204
    assert shared.connection("store_a") is None
    time.sleep(1.1)  # the new installation is later than the uninstall's token
    install(shared.app, "store_a")
    assert shared.client().get("/bigcommerce/uninstall", query_string={"signed_payload_jwt": token}).status_code == 401
    assert shared.connection("store_a") is not None


def test_an_uninstall_issued_before_the_current_installation_changes_nothing(shared):
    """Another token (new jti) but older than the installation: idempotent by store and time."""
    old = shared.jwt("store_a", iat=int(time.time()) - 3600, nbf=int(time.time()) - 3605)
    response = shared.client().get("/bigcommerce/uninstall", query_string={"signed_payload_jwt": old})
    assert response.status_code == 204
    assert shared.connection("store_a") is not None


def test_a_remove_user_issued_before_the_user_was_added_again_changes_nothing(shared):
    staff = {"id": 77, "email": "staff@example.com"}
    removal = shared.jwt("store_a", user=staff, iat=int(time.time()) - 120, nbf=int(time.time()) - 125)
    load = shared.jwt("store_a", user=staff)
    assert shared.client().get("/bigcommerce/load", query_string={"signed_payload_jwt": load}).status_code == 302
    assert shared.client().get("/bigcommerce/remove_user", query_string={"signed_payload_jwt": removal}).status_code == 204
    assert "77" in shared.connection("store_a").source_data["users"]
    fresh_removal = shared.jwt("store_a", user=staff)
    assert shared.client().get("/bigcommerce/remove_user",
                               query_string={"signed_payload_jwt": fresh_removal}).status_code == 204
    assert "77" not in shared.connection("store_a").source_data["users"]


def test_a_token_for_another_store_opens_that_store_only(shared):
    client = shared.client()
    response = client.get("/bigcommerce/load", query_string={"signed_payload_jwt": shared.jwt("store_b")})
    assert response.status_code == 302
    with client.session_transaction() as session:
        assert session["connection_id"] == shared.ids["store_b"] and session["store"].startswith("bigcommerce:store_b:")


@pytest.mark.parametrize("callback", CALLBACKS)
def test_a_valid_token_for_a_store_not_installed_changes_nothing(shared, callback):
    before = snapshot(shared)
    client = shared.client()
    response = client.get(f"/bigcommerce/{callback}", query_string={"signed_payload_jwt": shared.jwt("store_c")})
    assert response.status_code == (404 if callback == "load" else 204)
    assert snapshot(shared) == before
    with client.session_transaction() as session:
        assert "connection_id" not in session


AUTH_QUERIES = {
    "no-code": {"context": "stores/store_c", "scope": "store_v2_orders"},
    "no-context": {"code": "abc"},
    "context-not-a-store": {"code": "abc", "context": "users/1"},
    "script": {"code": SCRIPT, "context": f"stores/{SCRIPT}", "scope": SCRIPT},
    "login-unreachable": {"code": "abc", "context": "stores/store_c", "scope": "store_v2_orders"},
}


@pytest.mark.parametrize("query", AUTH_QUERIES.values(), ids=AUTH_QUERIES.keys())
def test_a_bad_install_request_installs_nothing(shared, query):
    before = snapshot(shared)
    response = shared.client().get("/bigcommerce/auth", query_string=query)
    assert response.status_code == 400
    assert snapshot(shared) == before
    body = response.get_data(as_text=True)
    assert SCRIPT not in body and "script-src 'self'" in response.headers["Content-Security-Policy"]


def test_signed_query_strings_never_reach_the_logs(shared, caplog):
    token = shared.jwt("store_a")
    with caplog.at_level(logging.INFO), serve(shared.app) as url:
        requests.get(f"{url}/bigcommerce/load", params={"signed_payload_jwt": token}, allow_redirects=False,
                     timeout=10)
        requests.get(f"{url}/bigcommerce/load", params={"signed_payload_jwt": token}, timeout=10)  # replayed
        requests.get(f"{url}/bigcommerce/auth", params={"code": "one-time-code-123", "context": "stores/x"},
                     timeout=10)
        logging.getLogger("host").info("opened %s", f"/bigcommerce/load?signed_payload_jwt={token}")
    messages = [record.getMessage() for record in caplog.records]
    assert any("/bigcommerce/load" in message for message in messages), "the access log ran"
    assert any("signed_payload_jwt=[scrubbed]" in message for message in messages)
    assert not any(token in message or "one-time-code-123" in message for message in messages)
