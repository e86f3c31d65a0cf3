"""The v2 order sub-resources an order links to, beyond ``/products`` and ``/shipping_addresses``
(scope ``store_v2_orders``; ``orders.v2.oas2.yml``, reference §3.5):

- ``GET /v2/orders/{id}/coupons`` (``getOrderCoupons``): paged, bare array, 204 when empty;
- ``GET /v2/orders/{id}/products/{line_id}`` (``getOrderProduct``): the line items the
  consignments' ``line_items`` links point at;
- ``GET /v2/orders/{id}/shipping_addresses/{address_id}`` (``getOrderShippingAddress``);
- ``GET /v2/orders/{id}/consignments`` (``getOrderConsignments``): one ``orderConsignment_Get``
  object, line items as links unless ``include=consignments.line_items``;
- ``GET /v2/orders/{id}/shipping_addresses/{address_id}/shipping_quotes`` and
  ``GET /v2/orders/{id}/consignments/shipping/{consignment_id}/shipping_quotes``: one
  ``shippingQuotes_Base`` object.

An unknown order (or line, address, consignment of it) answers 404 with the v2 error array.

UNCONFIRMED choices:
- generated orders carry no coupons (their ``coupon_discount`` is 0), so ``/coupons`` answers
  204 unless a changed order record holds a ``coupons`` list;
- the spec says a quote is persisted only for storefront checkouts ("orders created in the
  control panel or using the API return a 204"); an order whose ``order_source`` is ``www``
  (every generated order) has one quote per shipping address, a fixed-rate one
  (``shipping_provider_id`` ``bcstatic``, empty ``shipping_provider_quote``, as the spec's
  "Fixed Shipping" example); any other order source answers 204;
- the shipping consignment id is the shipping address id (as in ``include=consignments``).
"""

from __future__ import annotations

import uuid

from flask import Blueprint, g, request

from .api_orders import _consignments, _link
from .context import requires_scope
from .listing import BadRequest, page_of, paging
from .responses import json_response, v2_error

blueprint = Blueprint("bc_order_resources", __name__)
STOREFRONT_SOURCE = "www"
_QUOTE_NAMESPACE = uuid.UUID("6c21e6ba-3080-4def-991b-ae79ace4dfac")


def _order(order_id: int) -> dict | None:
    with g.store.lock:
        return g.store.orders.get(order_id)


@blueprint.get("/v2/orders/<int:order_id>/coupons")
@requires_scope("orders")
def order_coupons(store_hash: str, order_id: int):
    page, limit = paging()
    record = _order(order_id)
    if record is None:
        return v2_error(404)
    rows = page_of(record.get("coupons") or [], page, limit)
    if not rows:
        return "", 204
    return json_response([dict(row) for row in rows])


@blueprint.get("/v2/orders/<int:order_id>/products/<int:line_id>")
@requires_scope("orders")
def order_product(store_hash: str, order_id: int, line_id: int):
    record = _order(order_id)
    line = next((i for i in record["products"] if i["id"] == line_id), None) if record else None
    if line is None:
        return v2_error(404)
    return json_response(dict(line))


def _address(record: dict | None, address_id: int) -> dict | None:
    if record is None:
        return None
    return next((a for a in record["shipping_addresses"] if a["id"] == address_id), None)


@blueprint.get("/v2/orders/<int:order_id>/shipping_addresses/<int:address_id>")
@blueprint.get("/v2/orders/<int:order_id>/shippingaddresses/<int:address_id>")
@requires_scope("orders")
def order_shipping_address(store_hash: str, order_id: int, address_id: int):
    address = _address(_order(order_id), address_id)
    if address is None:
        return v2_error(404)
    link = _link(store_hash, order_id, f"shipping_addresses/{address_id}/shipping_quotes")
    return json_response(dict(address) | {"shipping_quotes": link})


@blueprint.get("/v2/orders/<int:order_id>/consignments")
@requires_scope("orders")
def order_consignments(store_hash: str, order_id: int):
    includes = {p.strip() for p in request.args.get("include", "").split(",") if p.strip()}
    if includes - {"consignments.line_items"}:
        raise BadRequest("include", f"has unknown values {sorted(includes - {'consignments.line_items'})}")
    record = _order(order_id)
    if record is None:
        return v2_error(404)
    return json_response(_consignments(record, store_hash, "consignments.line_items" in includes))


@blueprint.get("/v2/orders/<int:order_id>/shipping_addresses/<int:address_id>/shipping_quotes")
@blueprint.get("/v2/orders/<int:order_id>/consignments/shipping/<int:address_id>/shipping_quotes")
@requires_scope("orders")
def shipping_quotes(store_hash: str, order_id: int, address_id: int):
    record = _order(order_id)
    address = _address(record, address_id)
    if address is None:
        return v2_error(404)
    if record.get("order_source") != STOREFRONT_SOURCE:
        return "", 204
    return json_response(shipping_quote(record, address))


def shipping_quote(record: dict, address: dict) -> dict:
    """The quote persisted at checkout for one shipping address (see the module docstring)."""
    free = address["shipping_method"] == "Free Shipping"
    return {
        "id": str(address["id"]),
        "uuid": str(uuid.uuid5(_QUOTE_NAMESPACE, f"{record['id']}:{address['id']}")),
        "timestamp": record["date_created"],
        "shipping_provider_id": "bcstatic",
        "shipping_provider_quote": [],
        "provider_code": "free" if free else "flatrate",
        "carrier_code": "",
        "rate_code": "",
        "rate_id": "",
        "method_id": 1 if free else 2,
    }
