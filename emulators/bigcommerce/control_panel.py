"""Control-panel simulator: drives an app the way a merchant's browser and BigCommerce do.

- ``install``: a browser ``GET {auth_callback}?code&scope&context&account_uuid`` (Referer
  ``https://login.bigcommerce.com/``), following redirects with a cookie jar; the code can be
  exchanged once at ``POST /oauth2/token``.
- ``load``: a browser ``GET {load_callback}?signed_payload_jwt=...`` (same cookie jar).
- ``uninstall`` / ``remove_user``: server-to-server ``GET`` with ``Accept: application/json``.
  After uninstall the app's tokens for the store stop working and its hooks are deleted.

Each call returns what the app answered: ``{"status", "url", "headers", "body", "history",
"request_url", "code_exchanged"}``. Whether the legacy ``signed_payload`` is still sent next
to ``signed_payload_jwt`` is UNCONFIRMED; only the JWT is sent.
"""

from __future__ import annotations

import threading
from urllib.parse import urlencode

import requests

from .accounts import AppRegistration, store_users
from .signed_payload import signed_payload_jwt

BROWSER_HEADERS = {"User-Agent": "Mozilla/5.0 (BigCommerce control-panel emulator)", "Accept": "text/html,*/*"}
SERVER_HEADERS = {"User-Agent": "BigCommerce-Callbacks (emulator)", "Accept": "application/json"}
BODY_LIMIT = 20_000


class ControlPanelError(ValueError):
    """Unknown app/store, or the app lacks the callback URL needed."""


class ControlPanel:
    """One per emulator; browser sessions are kept per (app, store, user)."""

    def __init__(self, emulator, timeout: float = 15.0) -> None:
        self.emulator = emulator
        self.timeout = timeout
        self._sessions: dict[tuple[str, str, int], requests.Session] = {}
        self._lock = threading.Lock()

    def _app(self, client_id: str, store_hash: str, callback: str) -> AppRegistration:
        app = self.emulator.accounts.apps.get(client_id)
        if app is None:
            raise ControlPanelError(f"no app registered with client_id {client_id!r}")
        if self.emulator.store(store_hash) is None:
            raise ControlPanelError(f"no store {store_hash!r}")
        if not getattr(app, callback):
            raise ControlPanelError(f"app {client_id!r} has no {callback} URL")
        return app

    def _user(self, store_hash: str, user: dict | str | None) -> dict:
        users = store_users(store_hash)
        if user is None or isinstance(user, str):
            return users[user or "owner"]
        return {"locale": "en-US", "username": user.get("email"), **user}

    def _browser(self, client_id: str, store_hash: str, user_id: int) -> requests.Session:
        with self._lock:
            key = (client_id, store_hash, user_id)
            if key not in self._sessions:
                session = requests.Session()
                session.headers.update(BROWSER_HEADERS)
                self._sessions[key] = session
            return self._sessions[key]

    def _call(self, session: requests.Session, url: str, params: dict, headers: dict) -> dict:
        full = f"{url}{'&' if '?' in url else '?'}{urlencode(params)}"
        response = session.get(full, headers=headers, timeout=self.timeout, allow_redirects=True)
        return {
            "request_url": full, "status": response.status_code, "url": response.url,
            "headers": dict(response.headers), "body": response.text[:BODY_LIMIT],
            "history": [{"status": r.status_code, "url": r.url, "location": r.headers.get("Location")}
                        for r in response.history],
        }

    def install(self, client_id: str, store_hash: str, user: dict | str | None = None) -> dict:
        app = self._app(client_id, store_hash, "auth_callback")
        who = self._user(store_hash, user)
        code = self.emulator.accounts.issue_code(client_id, store_hash, who)
        params = {"account_uuid": app.account_uuid, "code": code, "context": f"stores/{store_hash}",
                  "scope": " ".join(app.scopes)}
        result = self._call(self._browser(client_id, store_hash, who["id"]), app.auth_callback, params,
                            {"Referer": "https://login.bigcommerce.com/"})
        result["code_exchanged"] = code not in self.emulator.accounts.codes
        return result

    def _jwt(self, app: AppRegistration, store_hash: str, who: dict, url: str, channel_id: int | None) -> str:
        owner = store_users(store_hash)["owner"]
        return signed_payload_jwt(app.client_id, app.client_secret, store_hash, who, owner, url, channel_id)

    def load(self, client_id: str, store_hash: str, user: dict | str | None = None, url: str = "/",
             channel_id: int | None = None) -> dict:
        app = self._app(client_id, store_hash, "load_callback")
        who = self._user(store_hash, user)
        token = self._jwt(app, store_hash, who, url, channel_id)
        referer = f"https://store-{store_hash}.mybigcommerce.com/manage/app/{client_id}"
        return self._call(self._browser(client_id, store_hash, who["id"]), app.load_callback,
                          {"signed_payload_jwt": token}, {"Referer": referer})

    def uninstall(self, client_id: str, store_hash: str, user: dict | str | None = None) -> dict:
        app = self._app(client_id, store_hash, "uninstall_callback") if self._has(client_id, "uninstall_callback") else None
        result: dict = {"status": None, "note": "app has no uninstall_callback; uninstalled silently"}
        if app is not None:
            who = self._user(store_hash, user)
            with requests.Session() as server:
                result = self._call(server, app.uninstall_callback,
                                    {"signed_payload_jwt": self._jwt(app, store_hash, who, "/", None)}, SERVER_HEADERS)
        self.emulator.accounts.uninstall(client_id, store_hash)
        store = self.emulator.store(store_hash)
        if store is not None:
            with store.lock:
                for hook_id in [h["id"] for h in store.hooks.values() if h["client_id"] == client_id]:
                    del store.hooks[hook_id]
        return result

    def remove_user(self, client_id: str, store_hash: str, user: dict | str | None = "staff") -> dict:
        app = self._app(client_id, store_hash, "remove_user_callback")
        who = self._user(store_hash, user)
        with requests.Session() as server:
            return self._call(server, app.remove_user_callback,
                              {"signed_payload_jwt": self._jwt(app, store_hash, who, "/", None)}, SERVER_HEADERS)

    def _has(self, client_id: str, callback: str) -> bool:
        app = self.emulator.accounts.apps.get(client_id)
        return bool(app and getattr(app, callback))
