"""Insight data v3 routes (reference §7.2): bulk import and status, collections, records, and
deletes (``deleteRecords`` per account or contact, single records)."""

from __future__ import annotations

from flask import Blueprint, jsonify, request

from . import api_imports, insight
from .errors import v3_error
from .web import account, json_body, state

blueprint = Blueprint("ec_insight", __name__)


def _require_insight(scope: str) -> None:
    me = account()
    if not me.features.get("insight_data"):
        raise insight.feature_error("Insight data")
    if scope == "account" and not me.features.get("account_insight"):
        raise insight.feature_error("AccountInsight")


@blueprint.put("/insightData/v3/import")
def start_import():
    """202 ``{"importId"}``; more than 5 running imports answer 429 (status UNCONFIRMED)."""
    body = json_body()
    emulator = state()
    with emulator.lock:
        me = account()
        payload = insight.validate_import(me, body)
        return api_imports.start(
            "insight", "insightData", payload, emulator.options.max_active_insight_imports
        )


@blueprint.get("/insightData/v3/import/<importId>")
def import_status(importId: str):
    return api_imports.status(
        "insight", "insightData", importId, f"The import request '{importId}' could not be found!"
    )


def _summary(collection) -> dict:
    return {
        "collectionName": collection.name,
        "collectionType": collection.type,
        "collectionScope": collection.scope,
        "recordCount": len(collection.records),
    }


@blueprint.get("/insightData/v3/collections")
def list_collections():
    with state().lock:
        _require_insight("contact")
        return jsonify([_summary(c) for c in account().collections.values()])


@blueprint.get("/insightData/v3/account")
def list_account_collections():
    with state().lock:
        _require_insight("account")
        return jsonify(
            [_summary(c) for c in account().collections.values() if c.scope == "account"]
        )


def _collection(name: str, scope: str):
    _require_insight(scope)
    collection = account().collections.get(name.lower())
    if collection is None or collection.scope != scope:
        raise v3_error(
            404, "insightData:collectionNotFound", f"The collection '{name}' could not be found"
        )
    return collection


@blueprint.get("/insightData/v3/account/<collectionName>/<recordId>")
def get_account_record(collectionName: str, recordId: str):
    with state().lock:
        record = _collection(collectionName, "account").records.get(recordId)
        if record is None:
            raise v3_error(
                404, "insightData:recordNotFound", f"The record '{recordId}' could not be found"
            )
        return jsonify(insight.as_returned(record))


@blueprint.put("/insightData/v3/account/<collectionName>/<recordId>")
@blueprint.put("/insightData/v3/account/<collectionName>/<recordId>/")
def put_account_record(collectionName: str, recordId: str):
    """201 created / 204 replaced; a missing collection is 404 (no implicit creation)."""
    body = json_body()
    if not isinstance(body, dict):
        raise v3_error(400, "insightData:badJson", "The request JSON is badly formed")
    with state().lock:
        collection = _collection(collectionName, "account")
        created = insight.upsert_record(collection, recordId, body, None, None, state().clock.iso())
        return ("", 201) if created else ("", 204)


@blueprint.put("/insightData/v3/contacts/<identifier>/<value>/<collectionName>/<recordId>")
def put_contact_record(identifier: str, value: str, collectionName: str, recordId: str):
    body = json_body()
    if not isinstance(body, dict):
        raise v3_error(400, "insightData:badJson", "The request JSON is badly formed")
    with state().lock:
        collection = _collection(collectionName, "contact")
        identity = {"identifier": identifier, "value": value}
        owner, reason = insight.owner_of(account(), identity)
        if owner is None:
            raise v3_error(
                404,
                "insightData:contactNotFound",
                f"No contact found for {identifier} '{value}' ({reason})",
            )
        existing = collection.records.get(recordId)
        if existing is not None and existing.contact_id != owner.id:
            raise v3_error(
                400, "insightData:badRequest", f"Key '{recordId}' exists for a different contact"
            )
        created = insight.upsert_record(
            collection, recordId, body, owner, identity, state().clock.iso()
        )
        return ("", 201) if created else ("", 204)


@blueprint.get("/insightData/v3/contacts/<identifier>/<value>/<collectionName>")
def contact_records(identifier: str, value: str, collectionName: str):
    with state().lock:
        collection = _collection(collectionName, "contact")
        owner, _ = insight.owner_of(account(), {"identifier": identifier, "value": value})
        if owner is None:
            raise v3_error(
                404, "insightData:contactNotFound", f"No contact found for {identifier} '{value}'"
            )
        items = [
            insight.as_returned(r) for r in collection.records.values() if r.contact_id == owner.id
        ]
        return jsonify(
            {
                "_links": {"self": {"link": request.base_url}, "first": {"link": request.base_url}},
                "_items": items,
            }
        )


def _owner(identifier: str, value: str):
    owner, _ = insight.owner_of(account(), {"identifier": identifier, "value": value})
    if owner is None:
        raise v3_error(
            404,
            "insightData:contactNotFound",
            "The following contacts could not be found",
            [{"item": value, "description": f"Not found using the identifier '{identifier}'"}],
        )
    return owner


def _record_not_found(record_id: str, collection_name: str):
    return v3_error(
        404,
        "insightData:recordNotFound",
        "The Insight data record could not be found",
        [{"item": record_id, "description": f"Not found in the collection '{collection_name}'"}],
    )


@blueprint.delete("/insightData/v3/accounts/<collectionName>/deleteRecords")
def delete_account_records(collectionName: str):
    """200 ``{"summary", "notFound"}``; note the plural ``accounts`` (reference §7.2)."""
    keys = insight.keys_to_delete(json_body())
    with state().lock:
        collection = _collection(collectionName, "account")
        return jsonify(insight.delete_records(collection, keys))


@blueprint.delete("/insightData/v3/contacts/<identifier>/<value>/<collectionName>/deleteRecords")
def delete_contact_records(identifier: str, value: str, collectionName: str):
    """Only the contact's own records are deleted; other keys are ``notFound``."""
    keys = insight.keys_to_delete(json_body())
    with state().lock:
        collection = _collection(collectionName, "contact")
        owner = _owner(identifier, value)
        return jsonify(insight.delete_records(collection, keys, owner))


@blueprint.delete("/insightData/v3/account/<collectionName>/<recordId>")
def delete_account_record(collectionName: str, recordId: str):
    with state().lock:
        collection = _collection(collectionName, "account")
        if collection.records.pop(recordId, None) is None:
            raise _record_not_found(recordId, collectionName)
        return "", 204


@blueprint.delete("/insightData/v3/contacts/<identifier>/<value>/<collectionName>/<recordId>")
def delete_contact_record(identifier: str, value: str, collectionName: str, recordId: str):
    with state().lock:
        collection = _collection(collectionName, "contact")
        owner = _owner(identifier, value)
        record = collection.records.get(recordId)
        if record is None or record.contact_id != owner.id:
            raise _record_not_found(recordId, collectionName)
        del collection.records[recordId]
        return "", 204
