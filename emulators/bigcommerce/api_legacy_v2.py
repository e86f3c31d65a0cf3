"""Legacy v2 customers and products, as older clients (the ``bigcommerce`` Python client,
tap-bigcommerce's customers stream) still read them (reference §2.1, §3.8, §4.3):

- ``GET /v2/customers``, ``/v2/customers/{id}``, ``/v2/customers/count``,
  ``/v2/customers/{id}/addresses`` (scope ``store_v2_customers``; shapes ``customer_Full``,
  ``customerAddress_Full``, ``count_Full`` of BigCommerce's ``reference/customers.v2.yml``,
  which the shared spec folder does not hold);
- ``GET /v2/products``, ``/v2/products/{id}``, ``/v2/products/count`` (scope
  ``store_v2_products``; the archived v2 products reference).

v2 rules throughout: bare arrays, ``page``/``limit`` (default 50, max 250, above it 413 — the
``listing.paging`` rule), 204 with an empty body for an empty page, 404 with the v2 error array
for an unknown id, RFC-2822 dates and 4-decimal money strings. Both are views of the same
records the v3 endpoints serve.

UNCONFIRMED choices:
- filters: customers ``min_id``/``max_id``, ``min_/max_date_created``,
  ``min_/max_date_modified`` (inclusive, as on ``/v2/orders``), ``email``, ``first_name``,
  ``last_name``, ``company``, ``phone``, ``customer_group_id`` (exact, e-mail case-insensitive);
  products ``min_id``/``max_id``, the date ranges, ``name``, ``sku``, ``brand_id``,
  ``is_visible``. Other documented filters are accepted and ignored;
- a v2 customer's ``store_credit`` is its first v3 store-credit amount; ``accepts_marketing``
  is the v3 ``accepts_product_review_abandoned_cart_emails``;
- a v2 product carries the common v2 fields (``custom_url`` a string, prices as strings,
  ``primary_image`` an object); its sub-resource links (images, skus, ...) are left out, as
  the emulator does not serve them.
"""

from __future__ import annotations

from flask import Blueprint, g, request

from .context import requires_scope
from .formats import money, rfc2822
from .listing import bool_arg, date_arg, int_arg, page_of, paging, select
from .responses import json_response, v2_error

blueprint = Blueprint("bc_legacy_v2", __name__)


def _ranges() -> dict[str, tuple[int | None, int | None]]:
    return {"id": (int_arg("min_id"), int_arg("max_id")),
            "created": (date_arg("min_date_created"), date_arg("max_date_created")),
            "modified": (date_arg("min_date_modified"), date_arg("max_date_modified"))}


def _link(store_hash: str, resource: str) -> dict:
    return {"url": f"{request.host_url}stores/{store_hash}/v2{resource}", "resource": resource}


# ---------------------------------------------------------------------------- customers
def present_customer(record: dict, store_hash: str, created: int, modified: int) -> dict:
    credit = record.get("store_credit_amounts") or [{"amount": 0}]
    return {
        "id": record["id"], "company": record["company"], "first_name": record["first_name"],
        "last_name": record["last_name"], "email": record["email"], "phone": record["phone"],
        "form_fields": [{"name": f["name"], "value": f["value"]} for f in record.get("form_fields") or []] or None,
        "date_created": rfc2822(created), "date_modified": rfc2822(modified),
        "store_credit": money(float(credit[0]["amount"])),
        "registration_ip_address": record["registration_ip_address"],
        "customer_group_id": record["customer_group_id"], "notes": record["notes"],
        "tax_exempt_category": record["tax_exempt_category"],
        "reset_pass_on_login": bool((record.get("authentication") or {}).get("force_password_reset")),
        "accepts_marketing": bool(record.get("accepts_product_review_abandoned_cart_emails")),
        "addresses": _link(store_hash, f"/customers/{record['id']}/addresses"),
    }


def present_customer_address(address: dict) -> dict:
    return {
        "id": address["id"], "customer_id": address["customer_id"],
        "first_name": address["first_name"], "last_name": address["last_name"],
        "company": address["company"], "street_1": address["address1"], "street_2": address["address2"],
        "city": address["city"], "state": address["state_or_province"], "zip": address["postal_code"],
        "country": address["country"], "country_iso2": address["country_code"], "phone": address["phone"],
        "address_type": address["address_type"],
    }


def _customer_selection() -> list[int] | object:
    store = g.store
    ids = None
    email = request.args.get("email")
    if email:
        ids = store.customer_ids_by_email({email.strip().lower()})
    checks = []
    for name in ("first_name", "last_name", "company", "phone"):
        if request.args.get(name):
            checks.append(lambda r, n=name, v=request.args[name]: r[n] == v)
    group = int_arg("customer_group_id")
    if group is not None:
        checks.append(lambda r: r["customer_group_id"] == group)
    keep = (lambda r: all(check(r) for check in checks)) if checks else None
    return select(store.customers, "id", False, _ranges(), ids, keep)


@blueprint.get("/v2/customers")
@requires_scope("customers")
def list_customers(store_hash: str):
    page, limit = paging()
    store = g.store
    with store.lock:
        chunk = page_of(_customer_selection(), page, limit)
        table = store.customers
        data = [present_customer(table.get(i), store_hash, table.created[i], table.modified[i]) for i in chunk]
    if not data:
        return "", 204
    return json_response(data)


@blueprint.get("/v2/customers/count")
@requires_scope("customers")
def count_customers(store_hash: str):
    with g.store.lock:
        return json_response({"count": len(_customer_selection())})


@blueprint.get("/v2/customers/<int:customer_id>")
@requires_scope("customers")
def get_customer(store_hash: str, customer_id: int):
    table = g.store.customers
    with g.store.lock:
        record = table.get(customer_id)
        if record is None:
            return v2_error(404)
        shown = present_customer(record, store_hash, table.created[customer_id], table.modified[customer_id])
    return json_response(shown)


@blueprint.get("/v2/customers/<int:customer_id>/addresses")
@requires_scope("customers")
def customer_addresses(store_hash: str, customer_id: int):
    page, limit = paging()
    with g.store.lock:
        record = g.store.customers.get(customer_id)
        if record is None:
            return v2_error(404)
        rows = page_of(record["addresses"], page, limit)
        data = [present_customer_address(a) for a in rows]
    if not data:
        return "", 204
    return json_response(data)


# ---------------------------------------------------------------------------- products
def present_product(record: dict, created: int, modified: int) -> dict:
    image = (record.get("images") or [None])[0]
    return {
        "id": record["id"], "keyword_filter": None, "name": record["name"], "type": record["type"],
        "sku": record["sku"], "description": record["description"],
        "search_keywords": record["search_keywords"],
        "availability_description": record["availability_description"],
        "price": money(record["price"]), "cost_price": money(record["cost_price"]),
        "retail_price": money(record["retail_price"]), "sale_price": money(record["sale_price"]),
        "calculated_price": money(record["calculated_price"]), "sort_order": record["sort_order"],
        "is_visible": record["is_visible"], "is_featured": record["is_featured"],
        "related_products": ",".join(str(p) for p in record["related_products"]),
        "inventory_level": record["inventory_level"], "inventory_warning_level": record["inventory_warning_level"],
        "warranty": record["warranty"], "weight": money(record["weight"]), "width": money(record["width"]),
        "height": money(record["height"]), "depth": money(record["depth"]),
        "fixed_cost_shipping_price": money(record["fixed_cost_shipping_price"]),
        "is_free_shipping": record["is_free_shipping"],
        "inventory_tracking": "simple" if record["inventory_tracking"] == "product" else record["inventory_tracking"],
        "rating_total": record["reviews_rating_sum"], "rating_count": record["reviews_count"],
        "total_sold": record["total_sold"], "date_created": rfc2822(created), "brand_id": record["brand_id"],
        "view_count": record["view_count"], "page_title": record["page_title"],
        "meta_keywords": record["meta_keywords"] or None, "meta_description": record["meta_description"],
        "layout_file": record["layout_file"], "is_price_hidden": record["is_price_hidden"],
        "price_hidden_label": record["price_hidden_label"], "categories": list(record["categories"]),
        "date_modified": rfc2822(modified), "condition": record["condition"],
        "is_condition_shown": record["is_condition_shown"], "preorder_release_date": record["preorder_release_date"],
        "is_preorder_only": record["is_preorder_only"], "preorder_message": record["preorder_message"],
        "order_quantity_minimum": record["order_quantity_minimum"],
        "order_quantity_maximum": record["order_quantity_maximum"], "upc": record["upc"],
        "tax_class_id": record["tax_class_id"], "option_set_id": None,
        "option_set_display": record["option_set_display"], "bin_picking_number": record["bin_picking_number"],
        "custom_url": record["custom_url"]["url"], "availability": record["availability"],
        "primary_image": {
            "id": image["id"], "zoom_url": image["url_zoom"], "thumbnail_url": image["url_thumbnail"],
            "standard_url": image["url_standard"], "tiny_url": image["url_tiny"],
        } if image else None,
    }


def _product_selection():
    checks = []
    for name in ("name", "sku"):
        if request.args.get(name):
            checks.append(lambda r, n=name, v=request.args[name]: r[n] == v)
    brand = int_arg("brand_id")
    if brand is not None:
        checks.append(lambda r: r["brand_id"] == brand)
    visible = bool_arg("is_visible")
    if visible is not None:
        checks.append(lambda r: r["is_visible"] is visible)
    keep = (lambda r: all(check(r) for check in checks)) if checks else None
    return select(g.store.products, "id", False, _ranges(), None, keep)


@blueprint.get("/v2/products")
@requires_scope("products")
def list_products(store_hash: str):
    page, limit = paging()
    store = g.store
    with store.lock:
        chunk = page_of(_product_selection(), page, limit)
        table = store.products
        data = [present_product(table.get(i), table.created[i], table.modified[i]) for i in chunk]
    if not data:
        return "", 204
    return json_response(data)


@blueprint.get("/v2/products/count")
@requires_scope("products")
def count_products(store_hash: str):
    with g.store.lock:
        return json_response({"count": len(_product_selection())})


@blueprint.get("/v2/products/<int:product_id>")
@requires_scope("products")
def get_product(store_hash: str, product_id: int):
    table = g.store.products
    with g.store.lock:
        record = table.get(product_id)
        if record is None:
            return v2_error(404)
        shown = present_product(record, table.created[product_id], table.modified[product_id])
    return json_response(shown)
