"""Insight data v3 (reference §7.2): bulk import validation and record upserts.

Records are keyed by ``key`` within a collection: a re-sent key replaces the record. In a
contact-scoped collection (``Orders``) each record names its owner through
``contactIdentity`` and the contact must already exist; account-scoped collections
(``Catalog_Default``) have no owner. Choices where the reference is silent (UNCONFIRMED):
a key repeated within one import fails as ``DuplicateKey`` (the first wins); a key already
owned by another contact fails as ``DuplicateKey`` with a detail saying so; importing into
an existing collection with the other scope is refused with 400
``insightData:invalidCollectionScope``.

Deletes (``deleteRecords``, single records) answer as reference §7.2 says: 200
``{"summary", "notFound"}`` (the spec also lists ``failures`` as required without defining it;
left out, as the reference shows), 204 for one record, 404 ``recordNotFound`` /
``contactNotFound`` / ``collectionNotFound``. More than 5000 keys is refused with 400
``insightData:badJson`` (code UNCONFIRMED).
"""

from __future__ import annotations

import re
from typing import Any

from .account import Account
from .errors import v3_error
from .model import ImportJob, InsightCollection, InsightRecord

COLLECTION_NAME = re.compile(r"^[-A-Za-z_][-A-Za-z0-9_]{1,255}$")
COLLECTION_TYPES = (
    "cartInsight",
    "catalog",
    "consentInsight",
    "custom",
    "easyEditorExtensions",
    "nostoEmailCampaigns",
    "orders",
    "productCategories",
    "webInsight",
    "wishList",
    "event",
)
FEATURE_NOT_ACTIVE = "Error: ERROR_FEATURENOTACTIVE"


def feature_error(feature: str):
    """The refusal when Insight data or AccountInsight is off (403, by analogy with §8)."""
    return v3_error(
        403,
        "insightData:featureNotActive",
        f"{FEATURE_NOT_ACTIVE} - the account does not have {feature} enabled",
    )


def validate_import(account: Account, body: Any) -> dict[str, Any]:
    """Check an import request synchronously; return it normalised or raise a 4xx ApiError."""
    if not isinstance(body, dict):
        raise v3_error(400, "insightData:badJson", "The request JSON is badly formed")
    missing = [
        k
        for k in ("collectionName", "collectionScope", "collectionType", "records")
        if k not in body
    ]
    if missing:
        raise v3_error(
            400,
            "insightData:badJson",
            "The request JSON is badly formed",
            [{"item": k, "description": f"'{k}' is required"} for k in missing],
        )
    name, scope = body["collectionName"], str(body["collectionScope"]).lower()
    if not isinstance(name, str) or not COLLECTION_NAME.match(name):
        raise v3_error(400, "insightData:badJson", f"Invalid collection name '{name}'")
    if scope not in ("account", "contact"):
        raise v3_error(400, "insightData:badJson", f"Invalid collectionScope '{scope}'")
    kind = next(
        (t for t in COLLECTION_TYPES if t.lower() == str(body["collectionType"]).lower()), None
    )
    if kind is None:
        raise v3_error(400, "insightData:badJson", "Invalid collectionType")
    records = body["records"]
    if not isinstance(records, list) or not records:
        raise v3_error(400, "insightData:noRecordsSpecified", "No records were specified")
    if not account.features.get("insight_data"):
        raise feature_error("Insight data")
    if scope == "account" and not account.features.get("account_insight"):
        raise feature_error("AccountInsight")
    existing = account.collections.get(name.lower())
    if existing is not None and existing.scope != scope:
        raise v3_error(
            400,
            "insightData:invalidCollectionScope",
            f"Collection '{existing.name}' is {existing.scope} scoped",
        )
    return {
        "collectionName": name,
        "collectionScope": scope,
        "collectionType": kind,
        "records": records,
    }


def _has_nested_array(value: Any, inside_array: bool = False) -> bool:
    if isinstance(value, list):
        return inside_array or any(_has_nested_array(v, True) for v in value)
    if isinstance(value, dict):
        return any(_has_nested_array(v) for v in value.values())
    return False


def owner_of(account: Account, identity: Any):
    """Return ``(contact, failure_reason)`` for a record's ``contactIdentity``."""
    if not isinstance(identity, dict) or "identifier" not in identity:
        return None, "InvalidContactIdentifier"
    identifier, value = str(identity["identifier"]).lower(), identity.get("value")
    if identifier == "email":
        contact = account.contact_by_email(str(value or ""))
        return contact, None if contact else "ContactEmailDoesNotExist"
    if identifier == "contactid":
        contact = account.contacts.get(int(value)) if str(value).isdigit() else None
        return contact, None if contact else "ContactIdDoesNotExist"
    return None, "InvalidContactIdentifier"


def collection_for(account: Account, name: str, scope: str, kind: str) -> InsightCollection:
    collection = account.collections.get(name.lower())
    if collection is None:  # the import creates a missing collection (§7.2)
        collection = InsightCollection(name=name, scope=scope, type=kind)
        account.collections[name.lower()] = collection
    return collection


def run_import(account: Account, job: ImportJob, now_iso: str) -> dict[str, Any]:
    """Apply an accepted import; return the status body's summary and failures."""
    body = job.payload
    scope = body["collectionScope"]
    collection = collection_for(account, body["collectionName"], scope, body["collectionType"])
    failures: list[dict[str, Any]] = []
    seen: set[str] = set()
    imported = 0
    for raw in body["records"]:
        record = raw if isinstance(raw, dict) else {}
        key = record.get("key")
        key = str(key) if key is not None and str(key) != "" else None
        payload = record.get("json")
        identity = record.get("contactIdentity")
        owner, reason, details = None, None, []
        if key is None:
            reason, details = "InvalidClientKey", ["Field 'key' is required"]
        elif not isinstance(payload, dict):
            reason, details = "InvalidJson", ["Field 'json' must be a JSON object"]
        elif _has_nested_array(payload):
            reason, details = "JsonContainsNestedArray", ["Arrays may not contain arrays"]
        elif key in seen:
            reason, details = "DuplicateKey", [f"Key '{key}' appears more than once"]
        elif scope == "contact":
            owner, reason = owner_of(account, identity)
            existing = collection.records.get(key)
            if owner and existing and existing.contact_id != owner.id:
                reason, details = "DuplicateKey", [f"Key '{key}' exists for a different contact"]
        if reason:
            failure_owner: dict[str, Any] = {"ownerType": scope}
            if scope == "contact" and isinstance(identity, dict):
                failure_owner["contactIdentity"] = identity
            failures.append(
                {
                    "collectionOwner": failure_owner,
                    "failureReason": reason,
                    "details": details,
                    "key": key or "",
                    "json": payload if isinstance(payload, dict) else {},
                }
            )
            continue
        seen.add(key)
        upsert_record(collection, key, payload, owner, identity, now_iso)
        imported += 1
    result: dict[str, Any] = {
        "collectionName": collection.name,
        "summary": {
            "totalRecords": len(body["records"]),
            "totalImported": imported,
            "totalRejected": len(failures),
        },
    }
    if failures:  # the schema gives failures minItems 1, so an empty list is left out
        result["failures"] = failures
    return result


def upsert_record(
    collection: InsightCollection, key: str, payload: dict, owner, identity, now_iso: str
) -> bool:
    """Create or replace one record; True when it was created."""
    existing = collection.records.get(key)
    if existing is not None:
        existing.json, existing.updated = payload, now_iso
        if owner is not None:
            existing.contact_id = owner.id
            existing.contact_identity = {
                "identifier": identity["identifier"],
                "value": identity["value"],
            }
        return False
    collection.records[key] = InsightRecord(
        key=key,
        json=payload,
        created=now_iso,
        updated=now_iso,
        contact_id=owner.id if owner else None,
        contact_identity=(
            {"identifier": identity["identifier"], "value": identity["value"]} if owner else None
        ),
    )
    return True


def as_returned(record: InsightRecord) -> dict[str, Any]:
    body = {
        "key": record.key,
        "json": record.json,
        "created": record.created,
        "updated": record.updated,
    }
    if record.contact_id is not None:
        body["ownerContactId"] = record.contact_id
    return body


MAX_DELETE_KEYS = 5000  # the spec's maxItems for deleteRecords


def keys_to_delete(body: Any) -> list[str]:
    """The ``keys`` of a ``deleteRecords`` body (1..5000), as strings; else a 400 ApiError."""
    keys = body.get("keys") if isinstance(body, dict) else None
    if not isinstance(keys, list) or not keys:
        raise v3_error(
            400,
            "insightData:noRecordsSpecified",
            "You must specify the keys for the records to be deleted from the collection.",
        )
    if len(keys) > MAX_DELETE_KEYS:
        raise v3_error(
            400,
            "insightData:badJson",
            f"At most {MAX_DELETE_KEYS} keys can be deleted in one call",
        )
    if any(isinstance(key, (dict, list)) or key is None for key in keys):
        raise v3_error(400, "insightData:badJson", "Each key must be a string")
    return [str(key) for key in keys]


def delete_records(collection: InsightCollection, keys: list[str], owner=None) -> dict[str, Any]:
    """Delete by key (only the owner's records when ``owner`` is given); the 200 body.

    A key not in the collection (or another contact's) is reported in ``notFound``; a key
    repeated in one call is found the first time only (UNCONFIRMED).
    """
    not_found = []
    for key in keys:
        record = collection.records.get(key)
        if record is None or (owner is not None and record.contact_id != owner.id):
            not_found.append(key)
        else:
            del collection.records[key]
    summary = {
        "totalRecords": len(keys),
        "totalDeleted": len(keys) - len(not_found),
        "totalNotFound": len(not_found),
    }
    return {"summary": summary, "notFound": not_found}
