"""``/v3/customers/subscribers`` (newsletter; scope ``store_v2_customers``).

No ``sort`` is documented; the list is in id order (UNCONFIRMED default). The spec marks the
shared ``id`` parameter required; here it is optional, as it plainly is on the list.
Writes go through ``mutations`` so they bump ``date_modified`` and fire webhooks.
"""

from __future__ import annotations

from flask import Blueprint, current_app, g, request

from . import mutations
from .context import requires_scope
from .listing import BadRequest, date_range, int_list, offset_meta, page_of, paging, select
from .responses import json_response, v3_error

blueprint = Blueprint("bc_subscribers", __name__)
SUBSCRIBER_FIELDS = ("email", "first_name", "last_name", "source", "order_id", "channel_id", "consents")


def _selection() -> list[int]:
    store = g.store
    ids = int_list("id:in")
    if request.args.get("id"):
        single = int_list("id")
        ids = single if ids is None else ids & single
    email = request.args.get("email")
    if email:
        found = store.subscriber_id_by_email(email)
        by_email = {found} if found else set()
        ids = by_email if ids is None else ids & by_email
    source = request.args.get("source")
    if source:  # indexed (``Store.subscriber_ids_by_source``): no record is built to filter
        by_source = set(store.subscriber_ids_by_source(source))
        ids = by_source if ids is None else ids & by_source
    checks = []
    for name in ("first_name", "last_name"):
        if request.args.get(name):
            checks.append(lambda r, n=name, v=request.args[name]: (r[n] or "") == v)
    if request.args.get("order_id"):
        order_ids = int_list("order_id")
        checks.append(lambda r: r["order_id"] in order_ids)
    ranges = {"created": date_range("date_created"), "modified": date_range("date_modified")}
    keep = (lambda r: all(check(r) for check in checks)) if checks else None
    return select(store.subscribers, "id", False, ranges, ids, keep)


@blueprint.get("/v3/customers/subscribers")
@requires_scope("customers")
def list_subscribers(store_hash: str):
    page, limit = paging()
    with g.store.lock:
        seq = _selection()
        chunk = page_of(seq, page, limit)
        data = [dict(g.store.subscribers.get(i)) for i in chunk]
    return json_response({"data": data, "meta": offset_meta(len(seq), len(data), page, limit)})


def _body() -> dict:
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        raise BadRequest("body", "must be a JSON object")
    unknown = set(body) - set(SUBSCRIBER_FIELDS)
    if unknown:
        raise BadRequest(sorted(unknown)[0], "is not a subscriber field")
    return body


@blueprint.post("/v3/customers/subscribers")
@requires_scope("customers")
def create_subscriber(store_hash: str):
    body = _body()
    if not body.get("email") or "@" not in body["email"]:
        raise BadRequest("email", "is required")
    try:
        record = mutations.create_subscriber(current_app, g.store, body)
    except mutations.Conflict as conflict:
        return v3_error(409, str(conflict), {"email": "already exists"})
    return json_response({"data": record, "meta": {}})


@blueprint.delete("/v3/customers/subscribers")
@requires_scope("customers")
def delete_subscribers(store_hash: str):
    """Bulk delete: everything matching the filters (all subscribers if none!), 204."""
    with g.store.lock:
        ids = list(_selection())
    for sid in ids:
        mutations.delete_subscriber(current_app, g.store, sid)
    return "", 204


@blueprint.get("/v3/customers/subscribers/<int:subscriber_id>")
@requires_scope("customers")
def get_subscriber(store_hash: str, subscriber_id: int):
    with g.store.lock:
        record = g.store.subscribers.get(subscriber_id)
        record = dict(record) if record else None
    if record is None:
        return v3_error(404, "Subscriber not found")
    return json_response({"data": record, "meta": {}})


@blueprint.put("/v3/customers/subscribers/<int:subscriber_id>")
@requires_scope("customers")
def update_subscriber(store_hash: str, subscriber_id: int):
    body = _body()
    try:
        record = mutations.update_subscriber(current_app, g.store, subscriber_id, body)
    except mutations.Conflict as conflict:
        return v3_error(409, str(conflict), {"email": "already exists"})
    if record is None:
        return v3_error(404, "Subscriber not found")
    return json_response({"data": record, "meta": {}})


@blueprint.delete("/v3/customers/subscribers/<int:subscriber_id>")
@requires_scope("customers")
def delete_subscriber(store_hash: str, subscriber_id: int):
    if not mutations.delete_subscriber(current_app, g.store, subscriber_id):
        return v3_error(404, "Subscriber not found")
    return "", 204
