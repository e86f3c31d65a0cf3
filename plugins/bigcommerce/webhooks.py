"""Webhooks: registered when a connection is ready, received into the inbox, deleted on removal.

Each hook points at the host's public URL and carries the connection's secret in a custom
header (bigcommerce-api.md §6.5). The receiver finds the connection from that header alone
(by the secret's digest) before it reads the body, reads at most a few kilobytes, refuses an
event whose record id is not a positive integer (400: never stored), stores what the host needs
of the thin event in the inbox once (deduplicated on the event's hash and time, safe under
concurrent deliveries; written by the process's inbox writer, ``host.inbox``) and answers 200
at once, holding at most one database connection, and none while its event is written; the
sync engine's fast lane reads the named records later.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from flask import Blueprint, current_app, g, request
from sqlalchemy import bindparam, select
from sqlalchemy.orm import Session, object_session
from werkzeug.exceptions import RequestEntityTooLarge

from host import connections, public_url
from host.db import db_session, get_db
from host.errors import SyncError
from host.inbox import InboxUnavailable, inbox_writer
from host.models import Connection, secret_digest, utcnow
from host.web.security import parse_json
from plugins.bigcommerce import webhook_problems
from plugins.bigcommerce.client import BigCommerceClient
from plugins.bigcommerce.pacing import RetryPolicy
from plugins.bigcommerce.settings import ROUTE_PREFIX, AppSettings
from plugins.bigcommerce.streams import V3_PAGES

log = logging.getLogger(__name__)
blueprint = Blueprint("bigcommerce_webhooks", __name__, url_prefix=ROUTE_PREFIX)
blueprint.csrf_exempt = True  # authenticated by the per-connection secret header, not a session

SECRET_HEADER = "X-Connector-Webhook-Secret"
HOOK_SCOPES = (
    "store/customer/created", "store/customer/updated", "store/customer/deleted",
    "store/customer/address/created", "store/customer/address/updated", "store/customer/address/deleted",
    "store/subscriber/created", "store/subscriber/updated", "store/subscriber/deleted",
    "store/order/created", "store/order/updated", "store/order/archived", "store/order/statusUpdated",
    "store/product/created", "store/product/updated", "store/product/deleted",
)  # fmt: skip
SOURCE = "bigcommerce"
# BigCommerce's events are a few hundred bytes (reference §6.3) and three levels deep.
WEBHOOK_MAX_BYTES = 16 * 1024
EVENT_MAX_DEPTH = 8
MAX_SECRET_LENGTH = 256
MAX_RECORD_ID = 2**63 - 1
REGISTRATION_RETRY_EVERY = timedelta(hours=1)
# source_data keys of a failed registration: why, when, and whether the public URL was the cause
# (then no call was made, and fixing the URL is enough: the next cycle registers at once).
WEBHOOK_ERROR_KEYS = ("webhooks_error", "webhooks_failed_at", "webhooks_blocked")
HOOK_RETRY = RetryPolicy(max_attempts=3, max_rate_limited_attempts=4, max_delay=5.0)


def _client(connection: Connection) -> BigCommerceClient:
    token = (connection.source_secrets or {}).get("access_token", "")
    return BigCommerceClient(
        AppSettings.current().api_base_url, connection.source_account, token, retry=HOOK_RETRY
    )


def _our_hooks(client: BigCommerceClient, destination: str) -> list[dict[str, Any]]:
    found = []
    for page in client.pages("/v3/hooks", V3_PAGES, {"destination": destination}, area="webhooks"):
        found.extend(hook for hook in page.records if hook.get("destination") == destination)
    return found


def register(connection: Connection) -> dict[str, int]:
    """Make sure every hook exists, is active and carries the current secret; returns {scope: hook id}."""
    destination = AppSettings.current().url_for("webhooks")
    headers = {SECRET_HEADER: connection.webhook_secret["value"]}
    client = _client(connection)
    registered: dict[str, int] = {}
    for hook in _our_hooks(client, destination):
        if hook.get("scope") not in HOOK_SCOPES or hook["scope"] in registered:
            continue
        if hook.get("headers") != headers or not hook.get("is_active"):
            client.request(
                "PUT",
                f"/v3/hooks/{hook['id']}",
                json={"headers": headers, "is_active": True},
                area="webhooks",
            )
        registered[hook["scope"]] = hook["id"]
    for scope in HOOK_SCOPES:
        if scope not in registered:
            body = {
                "scope": scope,
                "destination": destination,
                "is_active": True,
                "headers": headers,
            }
            response = client.request("POST", "/v3/hooks", json=body, area="webhooks")
            registered[scope] = response.json()["data"]["id"]
    return registered


def unregister(connection: Connection) -> int:
    """Delete this connection's hooks; returns how many were deleted."""
    client = _client(connection)
    hooks = _our_hooks(client, AppSettings.current().url_for("webhooks"))
    for hook in hooks:
        client.request("DELETE", f"/v3/hooks/{hook['id']}", area="webhooks", missing_ok=True)
    return len(hooks)


class InvalidEvent(ValueError):
    """An event no store could have sent: refused with 400, never stored."""


def record_id_of(value: Any) -> str:
    """A record id as the store's API knows it: a positive integer (sent as a number, or as its
    digits); anything else (``"abc"``, ``1.5``, ``[1, 2]``, ``"../../v2/store"``) is refused."""
    if isinstance(value, bool):
        raise InvalidEvent(f"not a record id: {value!r}")
    if isinstance(value, int):
        number = value
    elif isinstance(value, str) and value.isascii() and value.isdigit() and len(value) <= 19:
        number = int(value)
    else:
        raise InvalidEvent(f"not a record id: {str(value)[:40]!r}")
    if not 0 < number <= MAX_RECORD_ID:
        raise InvalidEvent(f"not a record id: {number}")
    return str(number)


def event_target(payload: dict[str, Any]) -> tuple[str, str] | None:
    """(stream to re-read, primary key) named by a thin event; None for events the host ignores.

    Raises ``InvalidEvent`` when an event the host reads names no valid record id."""
    scope = payload.get("scope")
    if not isinstance(scope, str):
        raise InvalidEvent("the event has no scope")
    data = payload.get("data")
    if not isinstance(data, dict):
        data = {}
    if scope.startswith("store/customer/address/"):
        address = data.get("address") if isinstance(data.get("address"), dict) else {}
        stream, record_id = "customers", address.get("customer_id")
    elif scope.startswith("store/customer/"):
        stream, record_id = "customers", data.get("id")
    elif scope.startswith("store/subscriber/"):
        stream, record_id = "subscribers", data.get("id")
    elif scope.startswith("store/order/") or (
        scope.startswith("store/channel/") and "/order/" in scope
    ):
        stream, record_id = "orders", data.get("id", data.get("order_id"))  # and their guest
    elif scope.startswith("store/product/"):
        inventory = data.get("inventory") if isinstance(data.get("inventory"), dict) else {}
        stream, record_id = "products", data.get("id", inventory.get("product_id"))
    else:
        return None
    return stream, record_id_of(record_id)


def dedupe_key(payload: dict[str, Any], body: bytes) -> str:
    """BigCommerce re-sends an event with the same ``hash``; its time tells two changes apart."""
    event_hash, created_at = payload.get("hash"), payload.get("created_at")
    if isinstance(event_hash, str) and event_hash:
        moment = created_at if isinstance(created_at, int) and not isinstance(created_at, bool) else ""
        return f"{event_hash}:{moment}"[:255]
    return hashlib.sha256(body).hexdigest()


def kept_payload(payload: dict[str, Any]) -> dict[str, Any]:
    """Only what the host needs of an event (what it was, when, its hash): the rest is dropped."""
    kept: dict[str, Any] = {"scope": str(payload["scope"])[:128]}
    created_at = payload.get("created_at")
    if isinstance(created_at, int) and not isinstance(created_at, bool):
        kept["created_at"] = created_at
    if isinstance(payload.get("hash"), str):
        kept["hash"] = payload["hash"][:64]
    return kept


def _read_body() -> bytes | None:
    """The body, at most ``WEBHOOK_MAX_BYTES`` (None when larger: announced or streamed)."""
    if "webhook_body" in g:
        return g.webhook_body
    if (request.content_length or 0) > WEBHOOK_MAX_BYTES:
        return None
    request.max_content_length = WEBHOOK_MAX_BYTES  # a chunked body is cut off at the limit too
    try:
        body = request.get_data(cache=False)
        if len(body) >= WEBHOOK_MAX_BYTES and request.stream.read(1):  # a chunked body went on
            return None
    except RequestEntityTooLarge:
        return None
    g.webhook_body = body
    return body


def _parsed(body: bytes) -> dict[str, Any] | None:
    try:
        payload = parse_json(body, max_depth=EVENT_MAX_DEPTH)
    except ValueError:
        return None
    return payload if isinstance(payload, dict) else None


@dataclass(frozen=True)
class _Sender:
    id: int
    store_hash: str


_CONNECTIONS = Connection.__table__
_SENDER = select(_CONNECTIONS.c.id, _CONNECTIONS.c.source_account).where(
    _CONNECTIONS.c.source == SOURCE, _CONNECTIONS.c.webhook_secret_digest == bindparam("digest")
)


def _sender_for(given: str) -> _Sender | None:
    """The connection whose secret was given, found from the header alone by the secret's
    digest (a match is proof enough: nothing is decrypted on this path). One pooled database
    connection, returned at once."""
    with get_db().engine.connect() as connection:
        row = connection.execute(_SENDER, {"digest": secret_digest(given)}).first()
    return _Sender(row.id, row.source_account) if row else None


def _sender_without_digest(session: Session, given: str) -> _Sender | None:
    """A connection whose secret predates its digest (kept before migration 0003, whose key was
    not at hand): found by the event's store, once, after which the header alone finds it."""
    legacy = select(Connection.id).where(
        Connection.source == SOURCE,
        Connection.webhook_secret.is_not(None),
        Connection.webhook_secret_digest.is_(None),
    )
    if session.scalar(legacy.limit(1)) is None:
        return None
    body = _read_body()
    payload = _parsed(body) if body is not None else None
    producer = payload.get("producer") if payload else None
    if not isinstance(producer, str) or not producer.startswith("stores/"):
        return None
    connection = connections.find(session, SOURCE, producer.removeprefix("stores/"))
    if connection is None or connection.webhook_secret_digest is not None:
        return None
    expected = (connection.webhook_secret or {}).get("value") or ""
    if not expected or not hmac.compare_digest(given.encode(), str(expected).encode()):
        return None
    connection.webhook_secret_digest = secret_digest(str(expected))
    session.commit()
    return _Sender(connection.id, connection.source_account)


@blueprint.post("/webhooks")
def receive():
    """Secret first (from the header, before the body is read), then size, shape and store; a
    valid event is stored once and answered 200 at once. One database connection throughout."""
    given = request.headers.get(SECRET_HEADER, "")
    if not given or len(given) > MAX_SECRET_LENGTH:
        return "", 401
    sender = _sender_for(given)
    if sender is None:
        session = db_session()
        sender = _sender_without_digest(session, given)
        session.close()  # its connection goes back to the pool: the writer stores the event
    if sender is None:
        return "", 401
    body = _read_body()
    if body is None:
        return "", 413
    payload = _parsed(body)
    if payload is None:
        return "", 400
    producer = payload.get("producer")
    if not isinstance(producer, str):
        return "", 400
    if producer != f"stores/{sender.store_hash}":
        return "", 401  # this store's secret does not speak for another store
    try:
        target = event_target(payload)
    except InvalidEvent as error:
        log.info("Refused a webhook event for %s: %s", sender.store_hash, error)
        return "", 400
    if target is not None:
        stream, record_id = target
        try:
            inbox_writer(current_app).store(
                {
                    "connection_id": sender.id,
                    "dedupe_key": dedupe_key(payload, body),
                    "stream": stream,
                    "record_id": record_id,
                    "payload": kept_payload(payload),
                }
            )
        except InboxUnavailable as error:
            log.warning("A webhook event for %s was not stored: %s", sender.store_hash, error)
            return "", 503  # BigCommerce delivers it again later
    return "", 200


def _blocked_reason(check: public_url.PublicUrlCheck) -> str:
    return f"public URL {check.url} {check.problem}; it {public_url.REQUIREMENT}"


def _keep_off(connection: Connection, check: public_url.PublicUrlCheck) -> None:
    """The host's public URL is not https on port 443: BigCommerce would refuse every hook, so none
    is asked for. The merchant sees that instant updates are off; the periodic sync carries on."""
    reason = _blocked_reason(check)
    log.info("BigCommerce webhooks of %s not registered: the %s", connection.source_account, reason)
    connection.source_data = {
        **(connection.source_data or {}),
        "webhooks_error": reason,
        "webhooks_failed_at": utcnow().isoformat(),
        "webhooks_blocked": True,
    }
    webhook_problems.show_message(
        connection, webhook_problems.public_url_message(check.url, str(check.problem))
    )


def on_connection_ready(connection: Connection) -> None:
    """Register the hooks, unless the host's public URL is not https on port 443 (``host.public_url``;
    then nothing is asked of BigCommerce and the merchant is told). A failure never blocks
    connecting: it is logged, shown to the merchant as a ``webhooks_not_registered`` problem, and
    tried again hourly (``retry_if_due``)."""
    check = public_url.check()
    if check.blocking:
        _keep_off(connection, check)
        return
    destination = AppSettings.current().url_for("webhooks")
    try:
        hook_ids = register(connection)
    except SyncError as error:
        log.warning(
            "Could not register BigCommerce webhooks for %s: %s",
            connection.source_account,
            error.message,
        )
        data = {k: v for k, v in connection.source_data.items() if k != "webhooks_blocked"}
        connection.source_data = {
            **data,
            "webhooks_error": error.message,
            "webhooks_failed_at": utcnow().isoformat(),
        }
        webhook_problems.show(connection, destination, error.message)
        return
    data = {
        key: value
        for key, value in connection.source_data.items()
        if key not in WEBHOOK_ERROR_KEYS
    }
    connection.source_data = {**data, "webhooks": hook_ids}
    webhook_problems.clear(connection)


def retry_if_due(connection: Connection) -> None:
    """Before a sync cycle, without calling BigCommerce unless there is a chance: while the public
    URL is not https on port 443, the merchant is told (once; no call is made); once it is fixed,
    the hooks are registered at the next cycle; hooks BigCommerce refused are tried again at most
    once an hour. Never lets the cycle fail: the periodic sync is the safety net."""
    data = connection.source_data or {}
    try:
        check = public_url.check()
        if check.blocking:
            if not data.get("webhooks_blocked") or data.get("webhooks_error") != _blocked_reason(check):
                _keep_off(connection, check)
                _commit(connection)
            return
        if "webhooks_error" not in data:
            return
        failed_at = data.get("webhooks_failed_at")
        recent = failed_at and utcnow() - datetime.fromisoformat(failed_at) < REGISTRATION_RETRY_EVERY
        if recent and not data.get("webhooks_blocked"):
            return
        on_connection_ready(connection)
        _commit(connection)
    except Exception:  # a bug here must not stop the sync
        log.exception("Retrying the BigCommerce webhooks of %s failed", connection.source_account)


def _commit(connection: Connection) -> None:
    """What was written before the cycle is committed at once: the cycle's session must not hold
    a write transaction (SQLite's lock) while the cycle works."""
    session = object_session(connection)
    if session is not None:
        session.commit()


def on_connection_removed(connection: Connection) -> None:
    """Delete the hooks. After an uninstall BigCommerce has already deleted them and refuses the token:
    that is expected, logged and ignored, so removal always completes."""
    try:
        unregister(connection)
    except SyncError as error:
        log.info(
            "BigCommerce webhooks of %s not deleted: %s", connection.source_account, error.message
        )
