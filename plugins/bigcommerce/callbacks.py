"""The app's control-panel callbacks: auth (install), load, uninstall and remove_user.

Auth exchanges the one-time code for the store's token, stores it encrypted with the scopes and
the store's name and URL, opens the merchant's session and leads to the Engagement Cloud
credentials page. The other three carry a ``signed_payload_jwt`` that must verify before
anything happens; a bad one answers 401 and changes nothing. In the merchant's browser (load)
that 401 is the settings pages' own error page, framed like the rest, saying in plain words that
the link has expired (``LINK_EXPIRED``): an expired, reused or tampered link all end there, and
the way out is the same: open the app again from the control panel.

Each signed token is accepted once (its ``jti``, or the hash of a token without one, is kept in
``used_callback_tokens`` until it expires), in the same transaction as what it does, so a failed
uninstall can be delivered again but a replayed one is refused. Uninstall and remove_user are
also idempotent by time: one issued before the store's current installation (or before the user
was last added) changes nothing.
"""

from __future__ import annotations

import hashlib
import logging
from datetime import UTC, datetime, timedelta
from typing import Any

import requests
from flask import Blueprint, abort, redirect, request, url_for
from markupsafe import escape
from sqlalchemy import delete
from sqlalchemy.exc import IntegrityError
from werkzeug.routing import BuildError

from host import connections
from host.db import db_session
from host.errors import ConfigurationError, SyncError
from host.models import UsedCallbackToken, utcnow
from host.plugins import get_plugins
from host.web.session import login_merchant
from plugins.bigcommerce.client import BigCommerceClient
from plugins.bigcommerce.pacing import RetryPolicy
from plugins.bigcommerce.settings import ROUTE_PREFIX, AppSettings
from plugins.bigcommerce.signed_payload import LEEWAY_SECONDS, InvalidCallback, verify

log = logging.getLogger(__name__)
blueprint = Blueprint("bigcommerce", __name__, url_prefix=ROUTE_PREFIX)
blueprint.csrf_exempt = True  # every callback is verified by its signed JWT or code, not a session

# Read access each stream needs (the full-access variant of a scope covers its read-only one).
REQUIRED_SCOPES = {
    "store_v2_customers": "customers and newsletter subscribers",
    "store_v2_orders": "orders",
    "store_v2_products": "products",
    "store_v2_information": "store information",
}
INTERACTIVE_RETRY = RetryPolicy(max_attempts=3, max_rate_limited_attempts=3, max_delay=5.0)
LINK_EXPIRED = "This link has expired: open the app again from your BigCommerce control panel."


def missing_scopes(granted: str) -> list[str]:
    names = set(granted.split())
    return [
        scope
        for scope in REQUIRED_SCOPES
        if scope not in names and f"{scope}_read_only" not in names
    ]


def _page(message: str, status: int):
    body = (
        f"<!doctype html><title>BigCommerce connection</title><main><p>{escape(message)}</p></main>"
    )
    return body, status, {"Content-Type": "text/html; charset=utf-8"}


def _settings_page(endpoint: str, fallback: str) -> str:
    try:
        return url_for(endpoint)
    except BuildError:  # the settings pages are not registered (e.g. a minimal app)
        return fallback


def _exchange_code(settings: AppSettings, args: dict[str, str]) -> dict[str, Any]:
    try:
        response = requests.post(
            f"{settings.login_base_url}/oauth2/token",
            json={
                "client_id": settings.client_id,
                "client_secret": settings.client_secret,
                "code": args["code"],
                "scope": args["scope"],
                "context": args["context"],
                "grant_type": "authorization_code",
                "redirect_uri": settings.url_for("auth"),
            },
            headers={"Accept": "application/json"},
            timeout=(5, 30),
        )
    except requests.RequestException:
        raise ConfigurationError(
            "BigCommerce could not be reached to finish the installation; try again."
        ) from None
    body = (
        response.json()
        if response.headers.get("Content-Type", "").startswith("application/json")
        else {}
    )
    if response.status_code >= 400 or not isinstance(body, dict) or not body.get("access_token"):
        log.warning("BigCommerce token exchange failed with HTTP %s", response.status_code)
        raise ConfigurationError(
            "BigCommerce did not accept the installation code (it may have expired). Start the installation again "
            "from your control panel."
        )
    return body


@blueprint.get("/auth")
def auth():
    args = {
        name: request.args.get(name, "") for name in ("code", "scope", "context", "account_uuid")
    }
    if not (args["code"] and args["context"].startswith("stores/")):
        return _page("This page is opened by BigCommerce when you install the app.", 400)
    settings = AppSettings.current()
    try:
        token = _exchange_code(settings, args)
        granted = str(token.get("scope") or args["scope"])
        missing = missing_scopes(granted)
        if missing:
            needs = ", ".join(REQUIRED_SCOPES[scope] for scope in missing)
            raise ConfigurationError(
                f"The app was installed without access to {needs}. Ask the app's administrator to request "
                "these permissions, then install it again.",
                area="store",
                code="bigcommerce_scope",
            )
        store_hash = str(token.get("context") or args["context"]).removeprefix("stores/")
        client = BigCommerceClient(
            settings.api_base_url, store_hash, token["access_token"], retry=INTERACTIVE_RETRY
        )
        store = client.get_json("/v2/store", area="store") or {}
    except SyncError as error:
        return _page(error.message, 400)
    user = token.get("user") or {}
    added = {str(user.get("id")): utcnow().isoformat()} if user.get("id") is not None else {}
    session = db_session()
    connection = connections.install(
        session,
        source="bigcommerce",
        account=store_hash,
        store_name=str(store.get("name") or store_hash),
        store_url=str(
            store.get("secure_url") or (f"https://{store['domain']}" if store.get("domain") else "")
        ),
        secrets_={"access_token": token["access_token"]},
        data={
            "scopes": granted.split(),
            "user": user,
            "owner": token.get("owner") or {},
            "account_uuid": token.get("account_uuid") or args["account_uuid"],
            "store_id": store.get("store_id"),
            "currency": store.get("currency"),  # the store's default currency (lifetime order fields)
            # The control panel that frames the settings pages (host.web.security allows it).
            "control_panel_base_url": store.get("control_panel_base_url"),
            "users": {str(user.get("id")): user.get("email")} if user.get("id") is not None else {},
            "users_added_at": added,  # remove_user issued before these times changes nothing
        },
    )
    session.commit()
    login_merchant(connection, user)
    return redirect(_settings_page("settings.connect", "/settings/connect"))


def _verified_connection():
    """(claims, connection or None) for a verified callback whose token is used for the first
    time (recorded in the request's transaction: commit it with what the callback does); 401 for
    a token that does not verify or was used before."""
    settings = AppSettings.current()
    callback = request.path.rsplit("/", 1)[-1]
    token = request.args.get("signed_payload_jwt")
    try:
        claims = verify(token, client_id=settings.client_id, client_secret=settings.client_secret)
    except InvalidCallback as error:
        log.warning("Rejected a BigCommerce %s callback: %s", callback, error)
        abort(401, description=LINK_EXPIRED)
    session = db_session()
    if not _first_use(session, claims, str(token), callback):
        log.warning(
            "Rejected a replayed BigCommerce %s callback for %s", callback, claims["store_hash"]
        )
        abort(401, description=LINK_EXPIRED)
    return claims, connections.find(session, "bigcommerce", claims["store_hash"])


def _first_use(session, claims: dict[str, Any], token: str, callback: str) -> bool:
    """Remember the token until it expires; False when it was remembered already."""
    now = utcnow()
    session.execute(delete(UsedCallbackToken).where(UsedCallbackToken.expires_at < now))
    jti = claims.get("jti")
    key = f"jti:{jti}" if isinstance(jti, str) and jti else f"sha256:{hashlib.sha256(token.encode()).hexdigest()}"
    expires = datetime.fromtimestamp(int(claims["exp"]), UTC) + timedelta(seconds=LEEWAY_SECONDS)
    try:
        with session.begin_nested():
            session.add(
                UsedCallbackToken(
                    token_key=key[:255], source="bigcommerce", account=claims["store_hash"][:255],
                    callback=callback, used_at=now, expires_at=max(expires, now),
                )
            )
    except IntegrityError:
        return False
    return True


def _issued_at(claims: dict[str, Any]) -> datetime:
    return datetime.fromtimestamp(int(claims["iat"]), UTC)


def _issued_before(claims: dict[str, Any], moment: datetime | str | None) -> bool:
    """Was the callback issued before ``moment`` (with the clock-skew leeway)?"""
    if moment is None:
        return False
    if isinstance(moment, str):
        try:
            moment = datetime.fromisoformat(moment)
        except ValueError:
            return False
    return _issued_at(claims) < moment - timedelta(seconds=LEEWAY_SECONDS)


@blueprint.get("/load")
def load():
    claims, connection = _verified_connection()
    if connection is None:
        return _page(
            "The app is not installed for this store any more. Install it again from your control panel.",
            404,
        )
    user = claims["user"]
    users = dict(connection.source_data.get("users") or {})
    if users.get(str(user["id"])) != user.get("email"):
        if str(user["id"]) not in users:  # (re-)added: a remove_user issued earlier is stale
            added = {**(connection.source_data.get("users_added_at") or {}), str(user["id"]): utcnow().isoformat()}
            connection.source_data = {**connection.source_data, "users_added_at": added}
        users[str(user["id"])] = user.get("email")
        connection.source_data = {**connection.source_data, "users": users}
    db_session().commit()  # the token is used, with the user it recorded
    login_merchant(connection, user)
    if connection.is_connected:
        return redirect(_settings_page("settings.store", "/settings/store"))
    return redirect(_settings_page("settings.connect", "/settings/connect"))


@blueprint.get("/uninstall")
def uninstall():
    claims, connection = _verified_connection()
    session = db_session()
    if connection is not None and _issued_before(claims, connection.installed_at):
        log.warning(
            "Ignored a BigCommerce uninstall of %s issued before its current installation",
            claims["store_hash"],
        )
    elif connection is not None:
        connections.remove(session, get_plugins(), connection)
    session.commit()  # the token is used only if the removal is done
    return "", 204


@blueprint.get("/remove_user")
def remove_user():
    claims, connection = _verified_connection()
    user_id = str(claims["user"]["id"])
    added_at = ((connection.source_data or {}).get("users_added_at") or {}).get(user_id) if connection else None
    if connection is not None and (
        _issued_before(claims, connection.installed_at) or _issued_before(claims, added_at)
    ):
        log.warning(
            "Ignored a BigCommerce remove_user for %s issued before the user was added", claims["store_hash"]
        )
    elif connection is not None:
        data = dict(connection.source_data)
        data["users"] = {
            key: value for key, value in (data.get("users") or {}).items() if key != user_id
        }
        data["users_added_at"] = {
            key: value for key, value in (data.get("users_added_at") or {}).items() if key != user_id
        }
        if str((data.get("user") or {}).get("id")) == user_id:
            data.pop("user")
        connection.source_data = data
    db_session().commit()
    return "", 204
