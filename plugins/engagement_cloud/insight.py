"""Insight data: order history (``Orders``, contact-scoped) and catalog (``Catalog_Default``).

Records go in v3 bulk imports (``PUT /insightData/v3/import``, reference §7.2), pipelined
(``imports``) and as large as the API takes, upserted by key: order id or product id. A contact-scoped record is applied only when its contact exists;
otherwise the import refuses it (``ContactEmailDoesNotExist``) and the ledger retries it after
the contact has synced, so an order is never attached to nobody.

Records the store no longer counts (an order archived, a product hidden) are deleted by key
with the v3 ``deleteRecords`` calls (``delete_records``).

A feature the account lacks (Insight data for orders, AccountInsight for the catalog) is
learnt from the service's 403 and remembered until the next sync cycle
(``forget_features``), so each cycle asks once and the other parts sync on.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from host.destinations import DestinationRecord, WriteResult
from host.errors import ConfigurationError

from . import imports, jobs
from .client import ApiError, EngagementCloudClient
from .config import Settings

if TYPE_CHECKING:
    from host.models import Connection

ORDERS = "Orders"
CATALOG = "Catalog_Default"
DELETE_BATCH = 5000  # keys per deleteRecords call (the spec's maxItems)
GONE_CODES = ("insightData:contactNotFound", "insightData:collectionNotFound")


@dataclass(frozen=True)
class Collection:
    name: str
    scope: str  # contact | account
    type: str  # orders | catalog | custom
    area: str  # the part of the sync it belongs to
    feature_code: str
    feature_message: str


COLLECTIONS = {
    ORDERS.lower(): Collection(
        ORDERS, "contact", "orders", "orders", "insight_disabled",
        "Order history is not synced: Insight data is not enabled on this Engagement Cloud account. "
        "Ask Engagement Cloud support to enable it; customers and subscribers keep syncing.",
    ),
    CATALOG.lower(): Collection(
        CATALOG, "account", "catalog", "catalog", "catalog_disabled",
        "Products are not synced: Insight data and AccountInsight are not both enabled on this "
        "Engagement Cloud account. Ask Engagement Cloud support to enable them; the rest keeps syncing.",
    ),
}
ALIASES = {"orders": ORDERS, "order": ORDERS, "catalog": CATALOG, "products": CATALOG, "product": CATALOG}


def collection_for(name: str) -> Collection:
    """The collection for ``Orders``/``Catalog_Default`` (or ``orders``/``catalog``); others are custom."""
    canonical = ALIASES.get(name.lower(), name)
    found = COLLECTIONS.get(canonical.lower())
    if found is not None:
        return found
    if canonical.lower().startswith("catalog_"):
        return Collection(canonical, "account", "catalog", "catalog", "catalog_disabled",
                          COLLECTIONS[CATALOG.lower()].feature_message)
    return Collection(canonical, "contact", "custom", canonical.lower(), "insight_disabled",
                      COLLECTIONS[ORDERS.lower()].feature_message)


class FeatureMemory:
    """Features found missing, per connection and account, until the next cycle starts."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._missing: dict[int, dict[tuple[str, str, str], ConfigurationError]] = {}

    @staticmethod
    def _key(client: EngagementCloudClient, area: str) -> tuple[str, str, str]:
        return (client.base_url, client.username.lower(), area)

    def known_missing(self, connection_id: int, client: EngagementCloudClient, area: str) -> ConfigurationError | None:
        with self._lock:
            return self._missing.get(connection_id, {}).get(self._key(client, area))

    def remember(self, connection_id: int, client: EngagementCloudClient, error: ConfigurationError) -> None:
        with self._lock:
            self._missing.setdefault(connection_id, {})[self._key(client, error.area or "")] = error

    def forget(self, connection_id: int) -> None:
        with self._lock:
            self._missing.pop(connection_id, None)

    def clear(self) -> None:
        with self._lock:
            self._missing.clear()


features = FeatureMemory()


def _feature_error(collection: Collection) -> ConfigurationError:
    return ConfigurationError(collection.feature_message, area=collection.area, code=collection.feature_code)


def _is_feature_refusal(error: ApiError) -> bool:
    return error.status == 403 or "featurenotactive" in (error.code + error.message).lower()


def record_writer(
    client: EngagementCloudClient,
    settings: Settings,
    *,
    connection: Connection,
    collection_name: str,
) -> imports.ImportWriter:
    """Records upserted by key through pipelined bulk imports (``imports``); the last version
    of a key in one import wins. Raises ``ConfigurationError`` when the feature is known missing
    (and when the first import meets the service's 403)."""
    collection = collection_for(collection_name)
    known = features.known_missing(connection.id, client, collection.area)
    if known is not None:
        raise known

    def encode_record(record: DestinationRecord) -> tuple[str, bytes]:
        return str(record.key), imports.encode(_import_record(record, collection))

    def on_api_error(error: ApiError) -> Exception | None:
        if not _is_feature_refusal(error):
            return None
        missing = _feature_error(collection)
        features.remember(connection.id, client, missing)
        return missing

    envelope = {"collectionName": collection.name, "collectionScope": collection.scope,
                "collectionType": collection.type}
    return imports.ImportWriter(
        client, settings, jobs.INSIGHT, connection=connection, kind=f"insight:{collection.name}",
        head=imports.encode(envelope)[:-1] + b',"records":[', encode_record=encode_record,
        read_report=_read_report, on_api_error=on_api_error,
        max_records=settings.order_batch_size if collection.scope == "contact" else settings.catalog_batch_size,
        max_active=settings.max_active_insight_imports,
    )


def _import_record(record: DestinationRecord, collection: Collection) -> dict[str, Any]:
    item: dict[str, Any] = {"key": str(record.key), "json": record.payload["json"]}
    if collection.scope == "contact":
        item["contactIdentity"] = record.payload["contactIdentity"]
    return item


def _read_report(status: dict[str, Any], keys: list[str]) -> dict[str, WriteResult]:
    if status.get("status") in jobs.FAILED:
        reason = f"{status.get('status')}: the import was not processed by Engagement Cloud"
        return {key: WriteResult(key, False, None, reason) for key in keys}
    refused: dict[str, str] = {}
    for failure in status.get("failures") or []:
        key = str(failure.get("key") or "")
        why = str(failure.get("failureReason") or "Unknown")
        details = "; ".join(str(d) for d in failure.get("details") or [])
        if why == "ContactEmailDoesNotExist":
            details = "the contact is not in Engagement Cloud yet; retried after it syncs"
        refused[key] = f"{why}: {details}" if details else why
    return {key: WriteResult(key, key not in refused, None if key in refused else key, refused.get(key))
            for key in keys}


def delete_records(
    client: EngagementCloudClient,
    settings: Settings,
    *,
    connection: Connection,
    collection_name: str,
    records: Sequence[DestinationRecord],
) -> list[WriteResult]:
    """Delete records by key (reference §7.2 ``deleteRecords``); one answer per record, in order.

    Catalog records go to the account-scoped call (up to ``DELETE_BATCH`` keys each); orders to
    the contact-scoped one, one call per contact (the email in the record's
    ``contactIdentity``). A key, contact or collection not found is already gone: removed.
    Deletes are idempotent, so the client retries them through 429s and 5xx like upserts.
    """
    collection = collection_for(collection_name)
    known = features.known_missing(connection.id, client, collection.area)
    if known is not None:
        raise known
    answers: dict[str, WriteResult] = {}
    if collection.scope == "account":
        groups = {"": [str(record.key) for record in records]}
    else:
        groups = {}
        for record in records:
            email = str((record.payload.get("contactIdentity") or {}).get("value") or "").strip()
            if not email:
                answers[str(record.key)] = WriteResult(
                    record.source_id, False,
                    reason="InvalidContactIdentifier: the record names no contact email to remove it from")
                continue
            groups.setdefault(email, []).append(str(record.key))
    size = min(DELETE_BATCH, settings.catalog_batch_size)
    for email, keys in groups.items():
        keys = list(dict.fromkeys(keys))
        path = (f"/insightData/v3/accounts/{quote(collection.name)}/deleteRecords" if not email else
                f"/insightData/v3/contacts/email/{quote(email, safe='')}/{quote(collection.name)}/deleteRecords")
        for start in range(0, len(keys), size):
            chunk = keys[start:start + size]
            reason = _delete_chunk(client, connection, collection, path, chunk)
            answers.update((key, WriteResult(key, reason is None, None, reason)) for key in chunk)
    return [WriteResult(r.source_id, answers[str(r.key)].ok, None, answers[str(r.key)].reason)
            for r in records]


def _delete_chunk(client, connection, collection: Collection, path: str, keys: list[str]) -> str | None:
    """None when the keys are gone; else why they were not removed."""
    try:
        client.send("DELETE", path, json={"keys": keys})
    except ApiError as error:
        if _is_feature_refusal(error):
            missing = _feature_error(collection)
            features.remember(connection.id, client, missing)
            raise missing from None
        if error.status == 404 and error.code in GONE_CODES:
            return None  # no such contact or collection: nothing of it is left to delete
        return f"{error.code or error.status}: {error.message}"
    return None
