"""Webhooks: registered when a connection is ready, received into the inbox, deleted on removal.

Each hook points at the host's public URL and carries the connection's secret in a custom
header (bigcommerce-api.md §6.5). The receiver checks that header, stores the thin event in the
inbox once (deduplicated on the event's hash and time, safe under concurrent deliveries) and
answers 200 at once; the sync engine's fast lane reads the named records later.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
from datetime import datetime, timedelta
from typing import Any

from flask import Blueprint, request
from sqlalchemy import update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError

from host import connections
from host.db import db_session, get_db
from host.errors import SyncError
from host.models import Connection, WebhookEvent, utcnow
from plugins.bigcommerce import webhook_problems
from plugins.bigcommerce.client import BigCommerceClient
from plugins.bigcommerce.pacing import RetryPolicy
from plugins.bigcommerce.pagination import rows
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
REGISTRATION_RETRY_EVERY = timedelta(hours=1)
HOOK_RETRY = RetryPolicy(max_attempts=3, max_rate_limited_attempts=4, max_delay=5.0)


def _client(connection: Connection) -> BigCommerceClient:
    token = (connection.source_secrets or {}).get("access_token", "")
    return BigCommerceClient(
        AppSettings.current().api_base_url, connection.source_account, token, retry=HOOK_RETRY
    )


def _our_hooks(client: BigCommerceClient, destination: str) -> list[dict[str, Any]]:
    found = []
    for response in client.pages(
        "/v3/hooks", V3_PAGES, {"destination": destination}, area="webhooks"
    ):
        found.extend(hook for hook in rows(response) if hook.get("destination") == destination)
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


def event_target(payload: dict[str, Any]) -> tuple[str, str] | None:
    """(stream to re-read, primary key) named by a thin event; None for events the host ignores."""
    scope = str(payload.get("scope") or "")
    data = payload.get("data") if isinstance(payload.get("data"), dict) else {}
    if scope.startswith("store/customer/address/"):
        stream, record_id = "customers", (data.get("address") or {}).get("customer_id")
    elif scope.startswith("store/customer/"):
        stream, record_id = "customers", data.get("id")
    elif scope.startswith("store/subscriber/"):
        stream, record_id = "subscribers", data.get("id")
    elif scope.startswith("store/order/") or (
        scope.startswith("store/channel/") and "/order/" in scope
    ):
        stream, record_id = (
            "orders",
            data.get("id", data.get("order_id")),
        )  # orders imply their guest
    elif scope.startswith("store/product/"):
        stream, record_id = (
            "products",
            data.get("id", (data.get("inventory") or {}).get("product_id")),
        )
    else:
        return None
    return (stream, str(record_id)) if record_id not in (None, "") else None


def dedupe_key(payload: dict[str, Any], body: bytes) -> str:
    """BigCommerce re-sends an event with the same ``hash``; its time tells two changes apart."""
    if payload.get("hash"):
        return f"{payload['hash']}:{payload.get('created_at', '')}"[:255]
    return hashlib.sha256(body).hexdigest()


def _store_once(values: dict[str, Any]) -> None:
    """Keep one inbox row per event; an event seen again after its row was processed queues it again.

    BigCommerce's redelivery of an event and a second change to the same record within the same
    second look alike (same ``hash``, same ``created_at``). Dropping the later one would lose the
    second change until the next cycle, so a repeat clears ``processed_at`` and moves
    ``received_at`` on: the fast lane marks processed only what it received before it read.
    """
    requeue = {"processed_at": None, "received_at": utcnow(), "payload": values["payload"]}
    with get_db().transaction() as session:
        dialect = session.get_bind().dialect.name
        if dialect in ("postgresql", "sqlite"):
            insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
            statement = insert(WebhookEvent).values(**values)
            session.execute(
                statement.on_conflict_do_update(
                    index_elements=["connection_id", "dedupe_key"], set_=requeue
                )
            )
            return
        try:
            with session.begin_nested():
                session.add(WebhookEvent(**values))
        except IntegrityError:
            session.execute(
                update(WebhookEvent)
                .where(
                    WebhookEvent.connection_id == values["connection_id"],
                    WebhookEvent.dedupe_key == values["dedupe_key"],
                )
                .values(**requeue)
            )


@blueprint.post("/webhooks")
def receive():
    body = request.get_data(cache=False)
    try:
        payload = json.loads(body)
    except ValueError:
        payload = None
    if not isinstance(payload, dict):
        return "", 400
    store_hash = str(payload.get("producer") or "").removeprefix("stores/")
    connection = connections.find(db_session(), "bigcommerce", store_hash) if store_hash else None
    expected = ((connection.webhook_secret or {}) if connection else {}).get("value") or ""
    given = request.headers.get(SECRET_HEADER, "")
    if not expected or not hmac.compare_digest(given.encode(), expected.encode()):
        return "", 401
    target = event_target(payload)
    if target is not None:
        stream, record_id = target
        _store_once(
            {
                "connection_id": connection.id,
                "dedupe_key": dedupe_key(payload, body),
                "stream": stream,
                "record_id": record_id[:255],
                "payload": {
                    key: payload.get(key)
                    for key in ("scope", "store_id", "data", "hash", "created_at", "producer")
                },
            }
        )
    return "", 200


def on_connection_ready(connection: Connection) -> None:
    """Register the hooks. A failure never blocks connecting: it is logged, shown to the merchant as
    a ``webhooks_not_registered`` problem, and tried again hourly (``retry_if_due``)."""
    destination = AppSettings.current().url_for("webhooks")
    try:
        hook_ids = register(connection)
    except SyncError as error:
        log.warning(
            "Could not register BigCommerce webhooks for %s: %s",
            connection.source_account,
            error.message,
        )
        connection.source_data = {
            **connection.source_data,
            "webhooks_error": error.message,
            "webhooks_failed_at": utcnow().isoformat(),
        }
        webhook_problems.show(connection, destination, error.message)
        return
    data = {
        key: value
        for key, value in connection.source_data.items()
        if key not in ("webhooks_error", "webhooks_failed_at")
    }
    connection.source_data = {**data, "webhooks": hook_ids}
    webhook_problems.clear(connection)


def retry_if_due(connection: Connection) -> None:
    """Before a sync cycle: hooks that failed to register are tried again at most once an hour, so
    fixing the public URL is enough. Never lets the cycle fail: the periodic sync is the safety net."""
    if "webhooks_error" not in (connection.source_data or {}):
        return
    failed_at = connection.source_data.get("webhooks_failed_at")
    if failed_at and utcnow() - datetime.fromisoformat(failed_at) < REGISTRATION_RETRY_EVERY:
        return
    try:
        on_connection_ready(connection)
    except Exception:  # a bug here must not stop the sync
        log.exception("Retrying the BigCommerce webhooks of %s failed", connection.source_account)


def on_connection_removed(connection: Connection) -> None:
    """Delete the hooks. After an uninstall BigCommerce has already deleted them and refuses the token:
    that is expected, logged and ignored, so removal always completes."""
    try:
        unregister(connection)
    except SyncError as error:
        log.info(
            "BigCommerce webhooks of %s not deleted: %s", connection.source_account, error.message
        )
