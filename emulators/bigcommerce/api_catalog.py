"""``/v3/catalog/products`` (scope ``store_v2_products``) and ``/v2/store``, ``/v2/time``."""

from __future__ import annotations

import time

from flask import Blueprint, g, request

from .context import requires_scope
from .listing import (
    BadRequest,
    bool_arg,
    date_range,
    int_list,
    offset_meta,
    page_of,
    paging,
    select,
)
from .responses import json_response, v3_error

blueprint = Blueprint("bc_catalog", __name__)
PRODUCT_INCLUDES = {"bulk_pricing_rules", "channels", "custom_fields", "images", "modifiers", "options",
                    "parent_relations", "primary_image", "reviews", "variants", "videos"}
PRODUCT_SORTS = {"id", "name", "sku", "price", "date_modified", "date_last_imported", "inventory_level",
                 "is_visible", "total_sold", "calculated_price"}
_EXTRAS = ("images", "variants", "custom_fields")


def present_product(record: dict, includes: set[str], fields: set[str] | None, excluded: set[str]) -> dict:
    shown = {k: v for k, v in record.items() if k not in _EXTRAS}
    for name in ("images", "variants", "custom_fields"):
        if name in includes:
            shown[name] = [dict(x) for x in record.get(name, [])]
    if "primary_image" in includes:
        shown["primary_image"] = dict(record["images"][0]) if record.get("images") else None
    for name in includes & {"bulk_pricing_rules", "modifiers", "options", "reviews", "videos", "channels",
                            "parent_relations"}:
        shown[name] = []
    if fields:
        shown = {k: v for k, v in shown.items() if k in fields or k == "id" or k in includes}
    return {k: v for k, v in shown.items() if k not in excluded or k == "id"}


@blueprint.get("/v3/catalog/products")
@requires_scope("products")
def list_products(store_hash: str):
    includes = {p.strip() for p in request.args.get("include", "").split(",") if p.strip()}
    if includes - PRODUCT_INCLUDES:
        raise BadRequest("include", "has unknown values")
    page, limit = paging()
    if includes & {"options", "modifiers"}:
        limit = min(limit, 10)  # documented: 10 per page with options/modifiers
    sort, direction = request.args.get("sort", "id"), request.args.get("direction", "asc")
    if sort not in PRODUCT_SORTS or direction not in ("asc", "desc"):
        raise BadRequest("sort", "is not a valid sort")
    fields = {f for f in request.args.get("include_fields", "").split(",") if f} or None
    excluded = {f for f in request.args.get("exclude_fields", "").split(",") if f}
    ids = int_list("id:in")
    if request.args.get("id"):
        single = int_list("id")
        ids = single if ids is None else ids & single
    checks = []
    wanted = bool_arg("is_visible")
    if wanted is not None:
        checks.append(lambda r: r["is_visible"] is wanted)
    for name in ("name", "sku"):
        if request.args.get(name):
            checks.append(lambda r, n=name, v=request.args[name]: r[n] == v)
    table = g.store.products
    with g.store.lock:
        if sort in ("id", "date_modified"):
            key = "id" if sort == "id" else "modified"
            ordered = None
        else:
            key = "id"
            ordered = table.ordered_by(sort, lambda i, s=sort: (table.get(i)[s], i), direction == "desc")
        id_range = (_int_arg("id:min"), _int_arg("id:max"))
        ranges = {"modified": date_range("date_modified", date_only_means_now=True), "id": id_range}
        keep = (lambda r: all(c(r) for c in checks)) if checks else None
        seq = select(table, key, direction == "desc", ranges, ids, keep, ordered)
        chunk = page_of(seq, page, limit)
        data = [present_product(table.get(i), includes, fields, excluded) for i in chunk]
    return json_response({"data": data, "meta": offset_meta(len(seq), len(data), page, limit)})


def _int_arg(name: str) -> int | None:
    raw = request.args.get(name)
    if not raw:
        return None
    try:
        return int(raw)
    except ValueError as error:
        raise BadRequest(name, "must be an integer") from error


@blueprint.get("/v3/catalog/products/<int:product_id>")
@requires_scope("products")
def get_product(store_hash: str, product_id: int):
    includes = {p.strip() for p in request.args.get("include", "").split(",") if p.strip()}
    with g.store.lock:
        record = g.store.products.get(product_id)
        shown = present_product(record, includes, None, set()) if record else None
    if shown is None:
        return v3_error(404, "The requested product was not found.")
    return json_response({"data": shown, "meta": {}})


@blueprint.get("/v2/store")
@requires_scope("information")
def store_information(store_hash: str):
    spec = g.store.spec
    domain = f"{store_hash}.example-store.com"
    return json_response({
        "id": store_hash, "account_uuid": "00000000-0000-4000-8000-" + f"{spec.store_id:012d}",
        "domain": domain, "secure_url": f"https://{domain}", "control_panel_base_url": f"https://store-{store_hash}.mybigcommerce.com",
        "status": "live", "name": spec.name, "first_name": "Store", "last_name": "Owner",
        "address": "1 Emulator Way\nAustin, Texas 78701\nUnited States", "country": "United States", "country_code": "US",
        "infrastructure_region": "us-central1", "phone": "+1 555 0100", "admin_email": f"owner@{store_hash}.example.com",
        "order_email": f"orders@{store_hash}.example.com", "favicon_url": "", "timezone": {
            "name": "Etc/UTC", "raw_offset": 0, "dst_offset": 0, "dst_correction": False,
            "date_format": {"display": "jS M Y", "export": "M jS Y", "extended_display": "M jS Y @ g:i A"}},
        "language": "en", "currency": "USD", "currency_symbol": "$", "decimal_separator": ".",
        "thousands_separator": ",", "decimal_places": 2, "currency_symbol_location": "left", "weight_units": "LBS",
        "dimension_units": "Inches", "dimension_decimal_places": 2, "dimension_decimal_token": ".",
        "dimension_thousands_token": ",", "plan_name": "Standard", "plan_level": "Standard", "plan_is_trial": False,
        "industry": "Home & Garden", "logo": [], "is_price_entered_with_tax": False, "store_id": spec.store_id,
        "default_channel_id": 1, "default_site_id": 1000, "active_comparison_modules": [],
        "features": {"stencil_enabled": True, "sitewidehttps_enabled": True, "facebook_catalog_id": "",
                     "checkout_type": "optimized", "wishlists_enabled": True, "graphql_storefront_api_enabled": True,
                     "shopper_consent_tracking_enabled": True, "multi_storefront_enabled": True,
                     "storefront_limits": {"active": 1, "total_including_inactive": 1}},
    })


@blueprint.get("/v2/time")
@requires_scope(None)
def store_time(store_hash: str):
    return json_response({"time": int(time.time())})

