"""BigCommerce v2 orders as canonical orders (the host derives guests from them).

Orders are read with ``include=consignments.line_items&consignment_structure=object`` so line
items and shipping addresses come embedded (no extra call per order). BigCommerce embeds at
most 50 line items per consignment and then adds a ``__warning__``; only such orders (or
responses without consignments) need the ``/products`` and ``/shipping_addresses`` calls.
"""

from __future__ import annotations

from typing import Any

from plugins.bigcommerce.transform import address, clean_text, iso_utc

INCOMPLETE_STATUS_ID = 0


def _consignment_groups(raw: dict[str, Any]) -> tuple[list[dict], list[dict]] | None:
    """(shipping consignments, every consignment) or None when the order carries none."""
    consignments = raw.get("consignments")
    if consignments is None:
        return None
    if isinstance(
        consignments, list
    ):  # the legacy array structure: a list of objects of the same shape
        merged: dict[str, list] = {
            "shipping": [],
            "pickups": [],
            "downloads": [],
            "gift_certificates": [],
        }
        for part in consignments:
            for key in merged:
                merged[key].extend(part.get(key) or [])
            merged["gift_certificates"].extend(
                (part.get("email") or {}).get("gift_certificates") or []
            )
        shipping = merged["shipping"]
        every = shipping + merged["pickups"] + merged["downloads"] + merged["gift_certificates"]
        return shipping, every
    shipping = list(consignments.get("shipping") or [])
    every = (
        shipping
        + list(consignments.get("pickups") or [])
        + list(consignments.get("downloads") or [])
        + list((consignments.get("email") or {}).get("gift_certificates") or [])
    )
    return shipping, every


def embedded_parts(raw: dict[str, Any]) -> tuple[list[dict] | None, list[dict] | None]:
    """(line items, shipping addresses) found in the order itself; None for a part that must be fetched."""
    items = raw.get("products") if isinstance(raw.get("products"), list) else None
    addresses = (
        raw.get("shipping_addresses") if isinstance(raw.get("shipping_addresses"), list) else None
    )
    groups = _consignment_groups(raw)
    if groups is not None:
        shipping, every = groups
        if addresses is None:
            addresses = shipping
        if items is None and not any("__warning__" in group for group in every):
            seen: dict[Any, dict] = {}
            for group in every:
                for line in group.get("line_items") or []:
                    if isinstance(line, dict) and "name" in line:
                        seen.setdefault(line.get("id", len(seen)), line)
                    else:  # links only ({url, resource}): the full lines must be fetched
                        return None, addresses
            items = sorted(seen.values(), key=lambda line: line.get("id") or 0)
    return items, addresses


def _money(value: Any) -> str | None:
    if value is None or value == "":
        return None
    return str(value)


def line_item(raw: dict[str, Any]) -> dict[str, Any]:
    product_id = raw.get("product_id")
    variant_id = raw.get("variant_id")
    return {
        "product_id": str(product_id) if product_id else None,
        "variant_id": str(variant_id) if variant_id else None,
        "sku": clean_text(raw.get("sku")),
        "name": str(raw.get("name") or raw.get("name_customer") or ""),
        "quantity": int(raw.get("quantity") or 0),
        "price": _money(raw.get("price_inc_tax", raw.get("base_price"))) or "0",
        "total": _money(raw.get("total_inc_tax", raw.get("base_total"))),
    }


def _exchange_rate(raw: dict[str, Any]) -> str | None:
    """Units of the order's (transactional) currency per unit of the store's default currency:
    multi-currency stores give it (``store_default_to_transactional_exchange_rate``); None when
    the order is in the store's own currency."""
    rate = raw.get("store_default_to_transactional_exchange_rate")
    store_currency = raw.get("store_default_currency_code")
    paid_in = raw.get("default_currency_code") or raw.get("currency_code")
    if rate in (None, "") or (store_currency and paid_in and store_currency == paid_in):
        return None
    try:
        return None if float(rate) in (0.0, 1.0) else str(rate)
    except ValueError:
        return None


def order_email(raw: dict[str, Any]) -> str:
    return str((raw.get("billing_address") or {}).get("email") or "").strip()


def order(raw: dict[str, Any], items: list[dict], shipping_addresses: list[dict]) -> dict[str, Any]:
    """A canonical order; ``items`` and ``shipping_addresses`` are the raw v2 lists."""
    customer_id = raw.get("customer_id")
    billing = raw.get("billing_address")
    return {
        "id": str(raw["id"]),
        "email": order_email(raw),
        "customer_id": str(customer_id) if customer_id else None,
        "status": str(raw.get("custom_status") or raw.get("status") or ""),
        "is_incomplete": raw.get("status_id") == INCOMPLETE_STATUS_ID,
        "is_deleted": bool(raw.get("is_deleted")),
        "currency": clean_text(raw.get("currency_code")),
        "subtotal": _money(raw.get("subtotal_ex_tax")),
        "discount": _money(raw.get("discount_amount")),
        "shipping": _money(raw.get("shipping_cost_inc_tax")),
        "tax": _money(raw.get("total_tax")),
        "total": _money(raw.get("total_inc_tax")) or "0",
        "refunded": _money(raw.get("refunded_amount")),
        "exchange_rate": _exchange_rate(raw),
        "payment_method": clean_text(raw.get("payment_method")),
        "billing_address": address(billing) if billing else None,
        "shipping_address": address(shipping_addresses[0]) if shipping_addresses else None,
        "items": [line_item(item) for item in items],
        "date_created": iso_utc(raw.get("date_created")),
        "date_modified": iso_utc(raw.get("date_modified")),
    }
