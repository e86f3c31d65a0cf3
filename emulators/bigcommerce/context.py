"""The emulator's shared state (stores, accounts, limits, faults, webhooks) and the API guard.

Every request under ``/stores/{store_hash}/`` passes the guard: known store, a valid
``X-Auth-Token`` for that store (``X-Auth-Client`` is ignored, as live), the scope the
endpoint needs (read-only scopes cover GET/HEAD), then the store's rate-limit window.
Every API response carries the ``X-Rate-Limit-*`` headers.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from functools import wraps

from flask import Blueprint, Flask, Response, current_app, g, request

from emulators.common import FaultInjector, RequestCounter

from .accounts import Accounts, scope_allows
from .modes import Modes
from .ratelimit import RateLimiter
from .responses import api_error
from .store import Store
from .webhooks import WebhookDispatcher

STORE_VERSION = "7.6.0"


@dataclass
class Emulator:
    """Everything one emulator app holds."""

    stores: dict[str, Store]
    accounts: Accounts
    limiter: RateLimiter
    faults: FaultInjector
    counter: RequestCounter
    dispatcher: WebhookDispatcher
    settings: dict = field(default_factory=dict)
    modes: Modes = field(default_factory=Modes)  # UNCONFIRMED readings played (``modes.py``)

    def store(self, store_hash: str) -> Store | None:
        return self.stores.get(store_hash)


def emulator(app: Flask | None = None) -> Emulator:
    return (app or current_app).extensions["bigcommerce_emulator"]


def requires_scope(resource: str | None) -> Callable:
    """Mark a view with the OAuth scope family it needs ("customers", "orders", ... or None)."""

    def mark(view: Callable) -> Callable:
        @wraps(view)
        def wrapper(*args, **kwargs):
            return view(*args, **kwargs)

        wrapper.required_scope = resource
        return wrapper

    return mark


def guard_api(blueprint: Blueprint) -> None:
    """Install authentication, scope checks and rate limiting on a store-API blueprint."""

    @blueprint.before_request
    def _authenticate() -> Response | None:
        state = emulator()
        store_hash = (request.view_args or {}).get("store_hash", "")
        store = state.store(store_hash)
        if store is None:
            return api_error(404, "Store not found.")
        g.store = store
        grant = state.accounts.grant_for(request.headers.get("X-Auth-Token"), store_hash)
        if grant is None:
            return api_error(401)
        g.grant = grant
        view = current_app.view_functions.get(request.endpoint)
        if not scope_allows(grant.scopes, getattr(view, "required_scope", None), request.method):
            return api_error(403)
        allowed, headers = state.limiter.consume(store_hash)
        g.rate_headers = headers
        if not allowed:
            return api_error(429)
        return None

    @blueprint.after_app_request
    def _rate_headers(response: Response) -> Response:
        if not request.path.startswith("/stores/"):
            return response
        headers = getattr(g, "rate_headers", None)
        if headers is None and response.status_code != 429:
            store_hash = (request.view_args or {}).get("store_hash", "")
            headers = emulator().limiter.peek(store_hash)
        for name, value in (headers or {}).items():
            response.headers.setdefault(name, value)
        response.headers.setdefault("X-BC-Store-Version", STORE_VERSION)
        return response


def int_arg(name: str, default: int, minimum: int = 1) -> int:
    """An integer query parameter; ``ValueError`` if malformed or below ``minimum``."""
    raw = request.args.get(name)
    if raw is None or raw == "":
        return default
    value = int(raw)
    if value < minimum:
        raise ValueError(name)
    return value
