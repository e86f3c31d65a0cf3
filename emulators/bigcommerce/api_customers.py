"""``/v3/customers`` and ``/v3/customers/addresses`` (scope ``store_v2_customers``)."""

from __future__ import annotations

from flask import Blueprint, g, request

from .context import requires_scope
from .listing import (
    BadRequest,
    cursor_meta,
    cursor_page,
    date_range,
    int_list,
    offset_meta,
    page_of,
    paging,
    select,
    text_list,
)
from .responses import json_response

blueprint = Blueprint("bc_customers", __name__)
CUSTOMER_SORTS = {"date_created": "created", "date_modified": "modified", "last_name": "last_name"}
CUSTOMER_INCLUDES = {"addresses", "storecredit", "attributes", "formfields", "shopper_profile_id", "segment_ids"}


def present_customer(record: dict, includes: set[str]) -> dict:
    """The customer as the API shows it for these ``include`` values (a new dict)."""
    shown = {k: v for k, v in record.items()
             if k not in ("addresses", "form_fields", "attributes", "store_credit_amounts")}
    if "addresses" in includes:
        shown["addresses"] = [present_address(a, includes) for a in record["addresses"][:10]]
    if "formfields" in includes:
        shown["form_fields"] = list(record["form_fields"])
    if "attributes" in includes:
        shown["attributes"] = list(record["attributes"])
    if "storecredit" in includes:
        shown["store_credit_amounts"] = list(record["store_credit_amounts"])
    return shown


def present_address(address: dict, includes: set[str]) -> dict:
    shown = {k: v for k, v in address.items() if k != "form_fields"}
    if "formfields" in includes:
        shown["form_fields"] = list(address["form_fields"])
    return shown


def _includes(allowed: set[str]) -> set[str]:
    values = {part.strip() for part in request.args.get("include", "").split(",") if part.strip()}
    unknown = values - allowed
    if unknown:
        raise BadRequest("include", f"has unknown values {sorted(unknown)}")
    return values


def _customer_filter() -> tuple[set[int] | None, list]:
    """Explicit id candidates and per-record checks for the non-indexed filters."""
    store = g.store
    ids = int_list("id:in")
    emails = text_list("email:in")
    if emails is not None:
        by_email = store.customer_ids_by_email(emails)
        ids = by_email if ids is None else ids & by_email
    checks = []
    for name, field in (("company:in", "company"), ("phone:in", "phone"),
                        ("registration_ip_address:in", "registration_ip_address")):
        values = text_list(name)
        if values is not None:
            checks.append(lambda r, f=field, v=values: r[f].lower() in v)
    groups = int_list("customer_group_id:in")
    if groups is not None:
        checks.append(lambda r: r["customer_group_id"] in groups)
    names = text_list("name:in")
    if names is not None:
        checks.append(lambda r: f"{r['first_name']} {r['last_name']}".lower() in names)
    like = request.args.get("name:like")
    if like:
        checks.append(lambda r: like.lower() in f"{r['first_name']} {r['last_name']}".lower())
    return ids, checks


@blueprint.get("/v3/customers")
@requires_scope("customers")
def list_customers(store_hash: str):
    store = g.store
    includes = _includes(CUSTOMER_INCLUDES)
    page, limit = paging()
    sort = request.args.get("sort", "id:asc")
    field, _, direction = sort.partition(":")
    if (field not in CUSTOMER_SORTS and field != "id") or direction not in ("asc", "desc", ""):
        raise BadRequest("sort", "must be date_created, last_name or date_modified with :asc or :desc")
    descending = direction == "desc"
    key = CUSTOMER_SORTS.get(field, "id")
    with store.lock:
        table = store.customers
        ids, checks = _customer_filter()
        ordered = None
        if key == "last_name":
            ordered = table.ordered_by("last_name", lambda i: table.get(i)["last_name"].lower(), descending)
            key = "id"
        ranges = {"created": date_range("date_created"), "modified": date_range("date_modified")}
        keep = (lambda r: all(check(r) for check in checks)) if checks else None
        seq = select(table, key, descending, ranges, ids, keep, ordered)
        if "after" in request.args or "before" in request.args:
            chunk, has_previous, has_next = cursor_page(seq, limit)
            meta = {"cursor_pagination": cursor_meta(chunk, limit, has_previous, has_next)}
        else:
            chunk = page_of(seq, page, limit)
            meta = offset_meta(len(seq), len(chunk), page, limit)
            if page == 1:
                meta["cursor_pagination"] = cursor_meta(chunk, limit, False, len(seq) > len(chunk))
        data = [present_customer(table.get(i), includes) for i in chunk]
    return json_response({"data": data, "meta": meta})


@blueprint.get("/v3/customers/addresses")
@requires_scope("customers")
def list_addresses(store_hash: str):
    """All saved addresses, by customer id then address id (offset meta only, as specified)."""
    store = g.store
    includes = _includes({"formfields"})
    page, limit = paging()
    customer_ids, address_ids = int_list("customer_id:in"), int_list("id:in")
    companies, names = text_list("company:in"), text_list("name:in")
    start, end = (page - 1) * limit, page * limit
    total, data = 0, []
    with store.lock:
        table = store.customers
        candidates = sorted(i for i in customer_ids if table.exists(i)) if customer_ids is not None else table.ordered()
        plain = address_ids is None and companies is None and names is None
        for cid in candidates:
            if plain and cid not in table.overrides:
                count = store.address_counts[cid]
                if total + count <= start or total >= end:
                    total += count
                    continue
            for address in table.get(cid)["addresses"]:
                if address_ids is not None and address["id"] not in address_ids:
                    continue
                if companies is not None and address["company"].lower() not in companies:
                    continue
                if names is not None and f"{address['first_name']} {address['last_name']}".lower() not in names:
                    continue
                if start <= total < end:
                    data.append(present_address(address, includes))
                total += 1
    return json_response({"data": data, "meta": offset_meta(total, len(data), page, limit)})
