"""Insight data v3 routes (reference §7.2): bulk import and status, collections, records, and
deletes (``deleteRecords`` per account or contact, single records).

Record lists (``GET /insightData/v3/account/{collectionName}``,
``/insightData/v3/contacts/{collectionName}`` and
``/insightData/v3/contacts/{identifier}/{value}/{collectionName}``) answer the spec's
``{"_links", "_items"}``: ``_links.self`` and ``_links.first`` always, ``_links.next`` when more
records follow, each ``{"marker", "link"}`` (``paginationLinks``); ``limit`` 1..5000 and an
opaque ``marker`` page them, ``~modified=gte::<ISO 8601 UTC>`` keeps records updated since.
UNCONFIRMED choices: records come in ascending ``key`` order; a page holds at most 1000
records whatever ``limit`` says (the spec caps ``_items`` at 1000 on the account and
all-contacts lists; default ``limit`` 1000, the spec's example); ``prev``/``last`` (optional in
the spec) are not given; the first page's marker is the empty string; a malformed ``limit``,
``marker`` or ``~modified`` is 400 ``insightData:badRequest``.
"""

from __future__ import annotations

import base64
import binascii
import bisect
from datetime import datetime
from urllib.parse import urlencode

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
        return jsonify(_record_page(collection, owner.id))


@blueprint.get("/insightData/v3/account/<collectionName>")
def account_records(collectionName: str):
    with state().lock:
        return jsonify(_record_page(_collection(collectionName, "account")))


@blueprint.get("/insightData/v3/contacts/<collectionName>")
def all_contacts_records(collectionName: str):
    """Every contact's records of a contact-scoped collection (each with ``ownerContactId``)."""
    with state().lock:
        return jsonify(_record_page(_collection(collectionName, "contact")))


MAX_PAGE_ITEMS = 1000  # the spec's ``maxItems`` of ``_items``
MAX_LIMIT = 5000  # the spec's ``limit`` maximum


def _bad_parameter(text: str):
    return v3_error(400, "insightData:badRequest", text)


def _encode_marker(key: str) -> str:
    return base64.urlsafe_b64encode(key.encode()).decode()


def _decode_marker(marker: str) -> str | None:
    if not marker:
        return None
    try:
        return base64.b64decode(marker.encode(), altchars=b"-_", validate=True).decode()
    except (binascii.Error, UnicodeDecodeError, ValueError):
        raise _bad_parameter(f"The marker '{marker}' is not valid") from None


def _utc(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def _modified_since() -> datetime | None:
    raw = request.args.get("~modified")
    if raw is None:
        return None
    if not raw.startswith("gte::"):
        raise _bad_parameter("~modified must be 'gte::' followed by an ISO 8601 UTC date")
    try:
        return _utc(raw[len("gte::") :])
    except ValueError:
        raise _bad_parameter(f"~modified has an invalid date '{raw[5:]}'") from None


def _record_page(collection, owner_id: int | None = None) -> dict:
    """One page of a collection's records (the owner's only when ``owner_id`` is given)."""
    try:
        limit = int(request.args.get("limit", MAX_PAGE_ITEMS))
    except ValueError:
        raise _bad_parameter("limit must be a whole number") from None
    if not 1 <= limit <= MAX_LIMIT:
        raise _bad_parameter(f"limit must be between 1 and {MAX_LIMIT}")
    marker = request.args.get("marker", "")
    after, since = _decode_marker(marker), _modified_since()
    keys = sorted(collection.records)
    start = 0 if after is None else bisect.bisect_right(keys, after)
    size, page, more = min(limit, MAX_PAGE_ITEMS), [], False
    for key in keys[start:]:
        record = collection.records[key]
        if owner_id is not None and record.contact_id != owner_id:
            continue
        if since is not None and _utc(record.updated) < since:
            continue
        if len(page) == size:
            more = True
            break
        page.append(record)
    links = {"self": _page_link(marker, limit), "first": _page_link("", limit)}
    if more:
        links["next"] = _page_link(_encode_marker(page[-1].key), limit)
    return {"_links": links, "_items": [insight.as_returned(r) for r in page]}


def _page_link(marker: str, limit: int) -> dict:
    others = [(k, v) for k, v in request.args.items(multi=True) if k not in ("limit", "marker")]
    query = urlencode([*others, ("limit", limit), *([("marker", marker)] if marker else [])])
    return {"marker": marker, "link": f"{request.base_url}?{query}"}


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
