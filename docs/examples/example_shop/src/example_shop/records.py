"""Example Shop records → the host's canonical records (``host.records``).

Canonical records are JSON-ready dicts: ids as strings, instants as ISO 8601 UTC, money as
decimal strings. A malformed API record is passed on as it is, never raised: the host validates
every record and marks just that one failed in its ledger, so it never blocks the rest. Everything the 26 contact fields need is here: the customer's own fields and
its saved addresses (the host takes billing and shipping from the latest order when there is
one, and falls back to the first saved address).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

# Example Shop order statuses; "abandoned" is a checkout that never became an order.
ABANDONED = "abandoned"


def parse_instant(value: str) -> datetime:
    """An aware datetime from ISO 8601 ("Z" or an offset; naive values are taken as UTC)."""
    parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def instant(value: str | None) -> str | None:
    """An API timestamp as a canonical ISO 8601 UTC string."""
    return parse_instant(value).astimezone(UTC).isoformat() if value else None


def _text(value: Any) -> str | None:
    return None if value in (None, "") else str(value)


def address(raw: dict[str, Any] | None) -> dict[str, Any] | None:
    if not raw:
        return None
    country_code, state_code = raw.get("country_code"), raw.get("state_code")
    return {
        "first_name": raw.get("first_name"),
        "last_name": raw.get("last_name"),
        "company": _text(raw.get("company")),
        "address1": raw.get("line1"),
        "address2": _text(raw.get("line2")),
        "city": raw.get("city"),
        "state": raw.get("state"),  # the full name
        # ISO 3166-2 is the country code and the subdivision code: "US" + "CA" → "US-CA"
        "region": f"{country_code}-{state_code}" if country_code and state_code else None,
        "postcode": raw.get("postcode"),
        "country": raw.get("country"),
        "country_code": country_code,
        "phone": _text(raw.get("phone")),
        "fax": None,  # Example Shop keeps no fax number
    }


def customer(raw: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": str(raw["id"]),
        "email": raw.get("email"),
        "first_name": raw.get("first_name"),
        "last_name": raw.get("last_name"),
        "company": _text(raw.get("company")),
        "phone": _text(raw.get("phone")),
        "notes": _text(raw.get("note")),
        "is_guest": False,
        "addresses": [address(item) for item in raw.get("addresses") or []],
        "date_created": instant(raw.get("created_at")),
        "date_modified": instant(raw.get("updated_at")),
    }


def subscriber(raw: dict[str, Any], shop_url: str) -> dict[str, Any]:
    """Opted in while ``status`` is "subscribed"; the consent is when and where they agreed."""
    consent = raw.get("consent") or {}
    return {
        "id": str(raw["id"]),
        "email": raw.get("email"),
        "first_name": raw.get("first_name"),
        "last_name": raw.get("last_name"),
        "opted_in": raw.get("status") == "subscribed",
        "source": raw.get("source"),
        "order_id": _text(raw.get("order_id")),
        "consent": {
            "date": instant(consent.get("at") or raw.get("created_at")),
            "url": consent.get("page_url") or shop_url or None,
            "ip": consent.get("ip"),
            "user_agent": consent.get("user_agent"),
        },
        "date_created": instant(raw.get("created_at")),
        "date_modified": instant(raw.get("updated_at")),
    }


def order(raw: dict[str, Any]) -> dict[str, Any]:
    """Guest orders have no ``customer_id``: the host makes a guest contact from their email."""
    return {
        "id": str(raw["id"]),
        "email": raw.get("email"),
        "customer_id": _text(raw.get("customer_id")),
        "status": raw.get("status"),
        "is_incomplete": raw.get("status") == ABANDONED,
        "is_deleted": bool(raw.get("archived")),
        "currency": raw.get("currency"),
        "subtotal": raw.get("subtotal"),
        "discount": raw.get("discount"),
        "shipping": raw.get("shipping"),
        "tax": raw.get("tax"),
        "total": raw.get("total"),
        "payment_method": raw.get("payment_method"),
        "billing_address": address(raw.get("billing_address")),
        "shipping_address": address(raw.get("shipping_address")),
        "items": [
            {
                "product_id": _text(item.get("product_id")),
                "variant_id": None,
                "sku": item.get("sku"),
                "name": item.get("name"),
                "quantity": item.get("quantity"),
                "price": item.get("unit_price"),
                "total": item.get("total"),
            }
            for item in raw.get("items") or []
        ],
        "date_created": instant(raw.get("created_at")),
        "date_modified": instant(raw.get("updated_at")),
    }


def product(raw: dict[str, Any]) -> dict[str, Any]:
    """Unpublished products are emitted too, flagged ``is_visible: False``: the host excludes them."""
    return {
        "id": str(raw["id"]),
        "name": raw.get("title"),
        "sku": raw.get("sku"),
        "type": raw.get("type"),
        "url": raw.get("url"),
        "image_url": raw.get("image"),
        "description": raw.get("description"),
        "brand": raw.get("brand"),
        "categories": list(raw.get("categories") or []),
        "price": raw.get("price"),
        "sale_price": raw.get("sale_price"),
        "inventory": raw.get("stock"),
        "is_visible": bool(raw.get("published")),
        "date_created": instant(raw.get("created_at")),
        "date_modified": instant(raw.get("updated_at")),
    }
