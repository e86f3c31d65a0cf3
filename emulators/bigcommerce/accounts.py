"""Registered apps, one-time grant codes, access tokens and their scopes.

An app (client id/secret, callback URLs, scopes) is installed on a store through the
control-panel simulator: it gets a grant code, exchanges it once at ``POST /oauth2/token``
and receives a token for that store. API-account tokens (no install) can be added directly,
e.g. the CLI's ``--access-token``.
"""

from __future__ import annotations

import secrets
import threading
import time
import uuid
from dataclasses import asdict, dataclass, field

from emulators.common import derive_seed

FULL_SCOPES = (
    "store_v2_customers", "store_v2_orders", "store_v2_products", "store_v2_information",
    "store_v2_content", "store_v2_marketing",
)
CODE_LIFETIME_SECONDS = 600  # UNCONFIRMED: BigCommerce does not document how long a code lives.


@dataclass
class AppRegistration:
    """A single-click app as registered in the Developer Portal."""

    client_id: str
    client_secret: str
    auth_callback: str = ""
    load_callback: str = ""
    uninstall_callback: str = ""
    remove_user_callback: str = ""
    scopes: list[str] = field(default_factory=lambda: list(FULL_SCOPES))
    account_uuid: str = field(default_factory=lambda: str(uuid.uuid4()))

    def public(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class Grant:
    """What a token may do: one store, one client, some scopes."""

    token: str
    store_hash: str
    client_id: str
    scopes: frozenset[str]


def store_users(store_hash: str) -> dict[str, dict]:
    """The store owner and a second staff user, stable per store hash."""
    owner_id = 7_000_000 + derive_seed(0, "owner", store_hash) % 1_000_000
    return {
        "owner": {"id": owner_id, "email": f"owner@{store_hash}.example.com", "username": f"owner@{store_hash}.example.com", "locale": "en-US"},
        "staff": {"id": owner_id + 1, "email": f"staff@{store_hash}.example.com", "username": f"staff@{store_hash}.example.com", "locale": "fr-FR"},
    }


def scope_allows(scopes: frozenset[str], resource: str | None, method: str) -> bool:
    """``resource`` like "customers"; a modify scope covers reads; None = default scope."""
    if resource is None:
        return True
    if f"store_v2_{resource}" in scopes:
        return True
    return method in ("GET", "HEAD") and f"store_v2_{resource}_read_only" in scopes


class Accounts:
    """Thread-safe registry of apps, codes and tokens."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.apps: dict[str, AppRegistration] = {}
        self.tokens: dict[str, Grant] = {}
        self.codes: dict[str, dict] = {}
        self.installs: dict[tuple[str, str], dict] = {}

    def register_app(self, **settings: object) -> AppRegistration:
        """Add or replace an app; unspecified settings keep their previous value."""
        with self.lock:
            previous = self.apps.get(str(settings["client_id"]))
            values = (previous.public() if previous else {}) | {k: v for k, v in settings.items() if v is not None}
            if isinstance(values.get("scopes"), str):
                values["scopes"] = values["scopes"].split()
            app = AppRegistration(**values)
            self.apps[app.client_id] = app
            return app

    def add_token(self, token: str, store_hash: str, client_id: str, scopes: list[str] | tuple[str, ...]) -> Grant:
        with self.lock:
            grant = Grant(token, store_hash, client_id, frozenset(scopes))
            self.tokens[token] = grant
            return grant

    def grant_for(self, token: str | None, store_hash: str) -> Grant | None:
        with self.lock:
            grant = self.tokens.get(token or "")
        return grant if grant and grant.store_hash == store_hash else None

    def issue_code(self, client_id: str, store_hash: str, user: dict) -> str:
        with self.lock:
            code = secrets.token_urlsafe(12)
            self.codes[code] = {"client_id": client_id, "store_hash": store_hash, "user": user,
                                "expires": time.time() + CODE_LIFETIME_SECONDS}
            return code

    def exchange(self, form: dict) -> tuple[int, dict]:
        """``POST /oauth2/token``: check client, secret, code (once), redirect_uri, context, grant_type.

        Error bodies are UNCONFIRMED; we answer OAuth 2.0 style (RFC 6749 §5.2)
        ``{"error": ..., "error_description": ...}``: 401 for bad client credentials, 400 otherwise.
        """
        with self.lock:
            app = self.apps.get(form.get("client_id", ""))
            if app is None or not secrets.compare_digest(form.get("client_secret", ""), app.client_secret):
                return 401, {"error": "invalid_client", "error_description": "Invalid client id or secret."}
            if form.get("grant_type") != "authorization_code":
                return 400, {"error": "unsupported_grant_type", "error_description": "grant_type must be authorization_code."}
            pending = self.codes.get(form.get("code", ""))
            if pending is None or pending["client_id"] != app.client_id or pending["expires"] < time.time():
                return 400, {"error": "invalid_grant", "error_description": "Invalid or already used authorization code."}
            if form.get("redirect_uri") != app.auth_callback:
                return 400, {"error": "invalid_grant", "error_description": "redirect_uri does not match the app's auth callback URL."}
            context = f"stores/{pending['store_hash']}"
            if form.get("context", context) != context:
                return 400, {"error": "invalid_request", "error_description": "context does not match the code."}
            if form.get("scope") and sorted(form["scope"].split()) != sorted(app.scopes):
                return 400, {"error": "invalid_scope", "error_description": "scope does not match the app's scopes."}
            del self.codes[form["code"]]
            install = self.installs.get((app.client_id, pending["store_hash"]))
            token = install["access_token"] if install else secrets.token_hex(16)
            self.tokens[token] = Grant(token, pending["store_hash"], app.client_id, frozenset(app.scopes))
            self.installs[(app.client_id, pending["store_hash"])] = {"access_token": token, "user": pending["user"]}
            users = store_users(pending["store_hash"])
            user = pending["user"]
            return 200, {
                "access_token": token,
                "scope": " ".join(app.scopes),
                "user": {"id": user["id"], "username": user.get("username", user["email"]), "email": user["email"]},
                "owner": {k: users["owner"][k] for k in ("id", "username", "email")},
                "context": context,
                "account_uuid": app.account_uuid,
            }

    def uninstall(self, client_id: str, store_hash: str) -> None:
        """Forget the install and revoke its tokens."""
        with self.lock:
            self.installs.pop((client_id, store_hash), None)
            for token, grant in list(self.tokens.items()):
                if grant.client_id == client_id and grant.store_hash == store_hash:
                    del self.tokens[token]
