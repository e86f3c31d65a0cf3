"""App install through the control-panel simulator, the token exchange and signed JWTs."""

from __future__ import annotations

import time

import jwt
import pytest
import requests
from flask import Flask, redirect, request, session

from emulators.bigcommerce import BAD_KINDS, StoreSpec, bad_payload_jwt, create_app
from emulators.common import start_server

from .bigcommerce_support import STORE

CLIENT_ID, SECRET = "app-client", "app-secret-" + "0123456789abcdef" * 4


class TinyApp:
    """A minimal BigCommerce app: exchanges the code, sets a session cookie, verifies JWTs."""

    def __init__(self) -> None:
        self.seen: list[dict] = []
        self.login_url = ""
        app = Flask("tiny_app")
        app.secret_key = "x"

        @app.get("/auth")
        def auth():
            self.seen.append({"path": "auth", "args": request.args.to_dict(), "referer": request.headers.get("Referer")})
            form = {"client_id": CLIENT_ID, "client_secret": SECRET, "code": request.args["code"],
                    "scope": request.args["scope"], "grant_type": "authorization_code",
                    "redirect_uri": f"{self.url}/auth", "context": request.args["context"]}
            token = requests.post(f"{self.login_url}/oauth2/token", data=form, timeout=5)  # form-encoded, like the Python client
            self.seen.append({"path": "token", "status": token.status_code, "body": token.json()})
            if token.status_code != 200:
                return "install failed", 401
            session["store"] = token.json()["context"]
            return redirect("/welcome")

        @app.get("/welcome")
        def welcome():
            return f"<h1>Connected {session.get('store')}</h1>"

        @app.get("/<name>")
        def callback(name: str):
            try:
                claims = jwt.decode(request.args["signed_payload_jwt"], SECRET, algorithms=["HS256"], audience=CLIENT_ID,
                                    issuer="bc", leeway=10)
            except jwt.PyJWTError as error:
                return str(error), 401
            self.seen.append({"path": name, "claims": claims, "cookie_store": session.get("store")})
            return ("", 204) if name != "load" else "<p>app page</p>"

        self.server = start_server(app)
        self.url = self.server.url


@pytest.fixture
def setup():
    tiny = TinyApp()
    emulator_app = create_app([StoreSpec(customers=5, subscribers=2, orders=5, products=2)], apps=[{
        "client_id": CLIENT_ID, "client_secret": SECRET, "auth_callback": f"{tiny.url}/auth",
        "load_callback": f"{tiny.url}/load", "uninstall_callback": f"{tiny.url}/uninstall",
        "remove_user_callback": f"{tiny.url}/remove_user", "scopes": "store_v2_customers_read_only store_v2_orders"}],
        modes={"webhook_destinations": "any"})  # the tiny app's hook is on loopback http
    emulator = start_server(emulator_app)
    tiny.login_url = emulator.url
    yield tiny, emulator, emulator_app
    emulator.stop()
    tiny.server.stop()


def test_install_load_uninstall_as_bigcommerce_does(setup):
    tiny, emulator, _ = setup
    installed = requests.post(f"{emulator.url}/_emulator/control-panel/install",
                              json={"client_id": CLIENT_ID, "store_hash": STORE}, timeout=10).json()
    assert installed["status"] == 200 and f"Connected stores/{STORE}" in installed["body"]
    assert installed["history"][0]["status"] == 302 and installed["code_exchanged"] is True
    auth = tiny.seen[0]
    assert set(auth["args"]) == {"code", "scope", "context", "account_uuid"}
    assert auth["args"]["scope"] == "store_v2_customers_read_only store_v2_orders"
    assert auth["args"]["context"] == f"stores/{STORE}" and auth["referer"] == "https://login.bigcommerce.com/"
    token = tiny.seen[1]["body"]
    assert set(token) == {"access_token", "scope", "user", "owner", "context", "account_uuid"}
    assert set(token["user"]) == {"id", "username", "email"} and token["account_uuid"] == auth["args"]["account_uuid"]
    api = f"{emulator.url}/stores/{STORE}"
    headers = {"X-Auth-Token": token["access_token"]}
    assert requests.get(f"{api}/v3/customers", headers=headers, timeout=5).status_code == 200
    assert requests.get(f"{api}/v3/catalog/products", headers=headers, timeout=5).status_code == 403

    again = requests.post(f"{emulator.url}/oauth2/token", json={
        "client_id": CLIENT_ID, "client_secret": SECRET, "code": auth["args"]["code"], "grant_type": "authorization_code",
        "redirect_uri": f"{tiny.url}/auth", "context": f"stores/{STORE}"}, timeout=5)
    assert again.status_code == 400 and again.json()["error"] == "invalid_grant"  # codes work once

    loaded = requests.post(f"{emulator.url}/_emulator/control-panel/load",
                           json={"client_id": CLIENT_ID, "store_hash": STORE, "url": "/settings", "channel_id": 1},
                           timeout=10).json()
    assert loaded["status"] == 200 and "app page" in loaded["body"]
    claims = tiny.seen[-1]["claims"]
    assert tiny.seen[-1]["cookie_store"] == f"stores/{STORE}"  # the browser kept the install's cookie
    assert set(claims) == {"aud", "iss", "iat", "nbf", "exp", "jti", "sub", "user", "owner", "url", "channel_id"}
    assert claims["sub"] == f"stores/{STORE}" and claims["url"] == "/settings" and claims["channel_id"] == 1
    assert claims["nbf"] == claims["iat"] - 5 and claims["exp"] == claims["iat"] + 86400
    assert set(claims["user"]) == {"id", "email", "locale"} and set(claims["owner"]) == {"id", "email"}
    assert abs(claims["iat"] - time.time()) < 60

    removed = requests.post(f"{emulator.url}/_emulator/control-panel/remove_user",
                            json={"client_id": CLIENT_ID, "store_hash": STORE}, timeout=10).json()
    assert removed["status"] == 204 and tiny.seen[-1]["claims"]["user"]["email"].startswith("staff@")
    hook = requests.post(f"{api}/v3/hooks", headers=headers, json={"scope": "store/order/*", "destination": f"{tiny.url}/h"},
                         timeout=5)
    assert hook.status_code == 200
    gone = requests.post(f"{emulator.url}/_emulator/control-panel/uninstall",
                         json={"client_id": CLIENT_ID, "store_hash": STORE}, timeout=10).json()
    assert gone["status"] == 204 and tiny.seen[-1]["path"] == "uninstall"
    assert requests.get(f"{api}/v3/customers", headers=headers, timeout=5).status_code == 401
    state = requests.get(f"{emulator.url}/_emulator/state", timeout=5).json()
    assert state["stores"][0]["hooks"] == []


def test_token_exchange_checks_every_field(setup):
    tiny, emulator, emulator_app = setup
    accounts = emulator_app.extensions["bigcommerce_emulator"].accounts
    user = {"id": 5, "email": "u@example.com"}
    base = {"client_id": CLIENT_ID, "client_secret": SECRET, "grant_type": "authorization_code",
            "redirect_uri": f"{tiny.url}/auth", "context": f"stores/{STORE}"}
    url = f"{emulator.url}/oauth2/token"
    assert requests.post(url, json=base | {"code": "made-up"}, timeout=5).json()["error"] == "invalid_grant"
    code = accounts.issue_code(CLIENT_ID, STORE, user)
    wrong_secret = requests.post(url, data=base | {"client_secret": "no", "code": code}, timeout=5)
    assert wrong_secret.status_code == 401 and wrong_secret.json()["error"] == "invalid_client"
    wrong_redirect = requests.post(url, data=base | {"code": code, "redirect_uri": f"{tiny.url}/other"}, timeout=5)
    assert wrong_redirect.status_code == 400 and "redirect_uri" in wrong_redirect.json()["error_description"]
    wrong_grant = requests.post(url, json=base | {"code": code, "grant_type": "password"}, timeout=5)
    assert wrong_grant.status_code == 400
    ok = requests.post(url, json=base | {"code": code}, timeout=5)  # JSON body, like the node clients
    assert ok.status_code == 200 and ok.json()["user"]["id"] == 5 and ok.json()["context"] == f"stores/{STORE}"


@pytest.mark.parametrize("kind", BAD_KINDS)
def test_bad_jwts_are_rejected_by_a_strict_verifier(kind):
    token = bad_payload_jwt(kind, CLIENT_ID, SECRET, STORE)
    with pytest.raises(jwt.PyJWTError):
        jwt.decode(token, SECRET, algorithms=["HS256"], audience=CLIENT_ID, issuer="bc", leeway=10)
