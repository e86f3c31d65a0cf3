"""``/v2/orders`` and its sub-resources (scope ``store_v2_orders``): bare arrays, 204 when empty.

UNCONFIRMED choices:
- the default list leaves out Incomplete orders (status_id 0) and archived ones
  (``is_deleted``); ``status_id=0`` lists the incomplete ones, ``is_deleted=true`` the
  archived ones (the legacy filter is still accepted);
- ``/shipping_addresses`` of a digital order answers 204; ``/shippingaddresses`` is an alias;
- without ``consignment_structure=object`` consignments come as a one-element array (the
  "legacy array structure").

Readings played as modes (``modes.py``; the reference leaves each open):
- ``order_max_date_modified``: ``inclusive`` (``max_date_modified`` keeps orders changed in
  that very second) or ``exclusive`` (only those changed before it); ``min_date_modified`` is
  inclusive either way;
- ``order_is_deleted``: ``honoured`` (``is_deleted=true`` lists the archived orders),
  ``ignored`` (the parameter is dropped: the default view, live orders, is answered) or
  ``refused`` (400 naming the parameter);
- ``guest_order_filter``: ``honoured`` (``customer_id=0`` lists guest orders only) or
  ``ignored`` (the parameter is dropped: every order of the view is listed);
- ``max_page_size``/``over_limit``: see ``listing.paging``.
"""

from __future__ import annotations

from collections.abc import Sequence

from flask import Blueprint, g, request

from .context import emulator, requires_scope
from .listing import BadRequest, date_arg, int_arg, page_of, paging, select
from .responses import json_response, v2_error
from .store import ORDER_GUEST

blueprint = Blueprint("bc_orders", __name__)
ORDER_SORTS = {"id": "id", "date_created": "created", "date_modified": "modified",
               "customer_id": "customer_id", "status_id": "status_id", "channel_id": "id", "external_id": "id"}
LINE_ITEM_LIMIT = 50
_CONSIGNMENT_DROP = ("order_id", "items_total", "items_shipped")
_NUMERIC_COSTS = ("base_cost", "cost_ex_tax", "cost_inc_tax", "cost_tax", "base_handling_cost",
                  "handling_cost_ex_tax", "handling_cost_inc_tax", "handling_cost_tax")


def _link(store_hash: str, oid: int, name: str) -> dict:
    resource = f"/orders/{oid}/{name}"
    return {"url": f"{request.host_url}stores/{store_hash}/v2{resource}", "resource": resource}


def present_order(record: dict, store_hash: str, includes: set[str], object_structure: bool) -> dict:
    oid = record["id"]
    shown = {k: v for k, v in record.items() if k not in ("products", "shipping_addresses")}
    shown["products"] = _link(store_hash, oid, "products")
    shown["shipping_addresses"] = _link(store_hash, oid, "shipping_addresses")
    shown["coupons"] = _link(store_hash, oid, "coupons")
    if includes & {"consignments", "consignments.line_items"}:
        consignments = _consignments(record, store_hash, "consignments.line_items" in includes)
        shown["consignments"] = consignments if object_structure else [consignments]
    else:
        shown["consignments"] = _link(store_hash, oid, "consignments")
    if "fees" in includes:
        shown["fees"] = []
    return shown


def _line_items(items: list[dict], store_hash: str, oid: int, full: bool) -> tuple[list, dict | None]:
    shown = [dict(i) if full else _link(store_hash, oid, f"products/{i['id']}") for i in items[:LINE_ITEM_LIMIT]]
    warning = None
    if len(items) > LINE_ITEM_LIMIT:
        warning = {"message": f"Not all line items of this consignment are returned with this response, only "
                              f"{LINE_ITEM_LIMIT} are included. Please use the /v2/orders/{oid}/products endpoint "
                              f"to retrieve all line items."}
    return shown, warning


def _consignments(record: dict, store_hash: str, full: bool) -> dict:
    oid, items = record["id"], record["products"]
    shipping = []
    for address in record["shipping_addresses"]:
        entry = {k: v for k, v in address.items() if k not in _CONSIGNMENT_DROP}
        for key in _NUMERIC_COSTS:
            entry[key] = float(entry[key])
        mine = [i for i in items if i["order_address_id"] == address["id"]]
        entry["line_items"], warning = _line_items(mine, store_hash, oid, full)
        if warning:
            entry["__warning__"] = warning
        entry["shipping_quotes"] = _link(store_hash, oid, f"consignments/shipping/{address['id']}/shipping_quotes")
        shipping.append(entry)
    downloads = []
    if not record["shipping_addresses"] and items:
        line_items, _ = _line_items(items, store_hash, oid, full)
        downloads.append({"recipient_email": record["billing_address"]["email"], "line_items": line_items})
    return {"pickups": [], "shipping": shipping, "downloads": downloads, "email": {"gift_certificates": []}}


def _view(store, deleted: str, status_id: int | None, guests: bool) -> tuple[str, object]:
    """The named subset of orders a listing shows, and who is in it (by per-order flags)."""
    statuses, flags = store.order_status, store.order_flags
    if deleted == "true":
        if status_id is None:
            view, keep = "archived", (lambda i: flags[i] & 1)
        else:
            view, keep = f"archived-status-{status_id}", (lambda i: flags[i] & 1 and statuses[i] == status_id)
    elif status_id is not None:
        view, keep = f"status-{status_id}", (lambda i: not flags[i] & 1 and statuses[i] == status_id)
    else:
        view, keep = "default", store.order_is_listed_by_default
    if guests:  # customer_id=0: the guest flag is kept with the order (see mutations.create_order)
        return f"{view}+guests", (lambda i, inner=keep: flags[i] & ORDER_GUEST and inner(i))
    return view, keep


def _selection() -> Sequence[int]:
    store = g.store
    table = store.orders
    sort = request.args.get("sort", "id:asc")
    field, _, direction = sort.partition(":")
    if field not in ORDER_SORTS or direction not in ("asc", "desc", ""):
        raise BadRequest("sort", "is not a valid sort")
    key, descending = ORDER_SORTS[field], direction == "desc"
    modes = emulator().modes
    deleted = request.args.get("is_deleted", "").lower()
    if "is_deleted" in request.args and modes.order_is_deleted != "honoured":
        if modes.order_is_deleted == "refused":
            raise BadRequest("is_deleted", "is not a supported filter")
        deleted = ""  # "ignored": the default view is answered
    status_id = int_arg("status_id")
    customer_id = int_arg("customer_id")
    if customer_id == 0 and modes.guest_order_filter == "ignored":
        customer_id = None  # dropped: every order of the view, guests or not
    view, keep = _view(store, deleted, status_id, customer_id == 0)
    modified_until = date_arg("max_date_modified")
    if modified_until is not None and modes.order_max_date_modified == "exclusive":
        modified_until -= 1  # whole seconds: "before that second"
    ranges = {"id": (int_arg("min_id"), int_arg("max_id")),
              "created": (date_arg("min_date_created"), date_arg("max_date_created")),
              "modified": (date_arg("min_date_modified"), modified_until)}
    ids = None  # a customer's or an e-mail's orders: found by lookup, not by a walk
    if customer_id is not None and customer_id != 0:
        ids = store.order_ids_by_customer(customer_id) if customer_id > 0 else set()
    email = request.args.get("email")
    if email:
        by_email = store.order_ids_by_email(email)
        ids = by_email if ids is None else ids & by_email
    checks = []
    for name in ("cart_id", "payment_method"):
        if request.args.get(name):
            value = request.args[name]
            checks.append(lambda r, n=name, v=value: r[n] == v)
    for name, compare in (("min_total", float.__ge__), ("max_total", float.__le__)):
        if request.args.get(name):
            bound = float(request.args[name])
            checks.append(lambda r, c=compare, b=bound: c(float(r["total_inc_tax"]), b))
    if key in ("customer_id", "status_id"):  # computed orders: walk them (not indexed)
        seq = table.ordered_by(key, lambda i: (table.get(i)[key], i), descending)
        seq = [i for i in seq if keep(i) and (ids is None or i in ids)
               and all(table.in_range(name, i, *r) for name, r in ranges.items())]
    else:
        seq = select(table, key, descending, ranges, ids, None, view=view, member=keep)
    if checks:
        seq = [i for i in seq if all(check(table.get(i)) for check in checks)]
    return seq


def _includes() -> tuple[set[str], bool]:
    includes = {p.strip() for p in request.args.get("include", "").split(",") if p.strip()}
    unknown = includes - {"consignments", "consignments.line_items", "fees"}
    if unknown:
        raise BadRequest("include", f"has unknown values {sorted(unknown)}")
    return includes, request.args.get("consignment_structure") == "object"


@blueprint.get("/v2/orders")
@requires_scope("orders")
def list_orders(store_hash: str):
    page, limit = paging()
    includes, object_structure = _includes()
    with g.store.lock:
        chunk = page_of(_selection(), page, limit)
        data = [present_order(g.store.orders.get(i), store_hash, includes, object_structure) for i in chunk]
    if not data:
        return "", 204
    return json_response(data)


@blueprint.get("/v2/orders/count")
@requires_scope("orders")
def count_orders(store_hash: str):
    from .generator import STATUS_NAMES

    with g.store.lock:
        seq = _selection()
        counts = {}
        for i in seq:
            counts[g.store.order_status[i]] = counts.get(g.store.order_status[i], 0) + 1
    statuses = [{"id": sid, "name": name, "system_label": name, "custom_label": name, "system_description": name,
                 "count": counts.get(sid, 0), "sort_order": sid} for sid, name in STATUS_NAMES.items()]
    return json_response({"statuses": statuses, "count": len(seq)})


def _order_or_404(oid: int) -> dict | None:
    with g.store.lock:
        return g.store.orders.get(oid)


@blueprint.get("/v2/orders/<int:order_id>")
@requires_scope("orders")
def get_order(store_hash: str, order_id: int):
    includes, object_structure = _includes()
    record = _order_or_404(order_id)
    if record is None:
        return v2_error(404)
    return json_response(present_order(record, store_hash, includes, object_structure))


@blueprint.get("/v2/orders/<int:order_id>/products")
@requires_scope("orders")
def order_products(store_hash: str, order_id: int):
    return _sub_list(order_id, "products")


@blueprint.get("/v2/orders/<int:order_id>/shipping_addresses")
@blueprint.get("/v2/orders/<int:order_id>/shippingaddresses")
@requires_scope("orders")
def order_shipping_addresses(store_hash: str, order_id: int):
    return _sub_list(order_id, "shipping_addresses")


def _sub_list(order_id: int, name: str):
    page, limit = paging()
    record = _order_or_404(order_id)
    if record is None:
        return v2_error(404)
    rows = page_of(record[name], page, limit)
    if not rows:
        return "", 204
    if name == "shipping_addresses":
        rows = [r | {"shipping_quotes": _link(g.store.spec.store_hash, order_id,
                                               f"shipping_addresses/{r['id']}/shipping_quotes")} for r in rows]
    return json_response([dict(r) for r in rows])
