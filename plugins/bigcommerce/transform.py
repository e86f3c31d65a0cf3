"""BigCommerce customers, subscribers and products as the host's canonical records.

Dates become ISO 8601 in UTC; ids become strings. Only what the mapper and sinks need is
kept. Fax comes from an address form field whose name contains "fax" (BigCommerce has no fax
field); region is the ISO 3166-2 code of the state.
"""

from __future__ import annotations

from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any

from plugins.bigcommerce.regions import region_code


def iso_utc(value: str | None) -> str | None:
    """ISO 8601 UTC from v3 (``...Z`` / ``+00:00``) or v2 (RFC 2822) dates; None when empty."""
    if not value:
        return None
    text = value.strip()
    if "," in text:
        parsed = parsedate_to_datetime(text)
    else:
        parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC).isoformat()


def parse_iso(value: str) -> datetime:
    parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def clean_text(value: Any) -> str | None:
    if value is None:
        return None
    text = str(value).strip()
    return text or None


def fax_from(form_fields: list[dict[str, Any]] | None) -> str | None:
    """The value of the first form field whose name contains "fax" (any case)."""
    for field in form_fields or []:
        if "fax" in str(field.get("name", "")).casefold():
            return clean_text(field.get("value"))
    return None


def address(raw: dict[str, Any]) -> dict[str, Any]:
    """A saved (v3) or order (v2) address in canonical form; both spellings are understood."""
    state = clean_text(raw.get("state_or_province", raw.get("state")))
    country = clean_text(raw.get("country"))
    code = clean_text(raw.get("country_code", raw.get("country_iso2")))
    return {
        "first_name": clean_text(raw.get("first_name")),
        "last_name": clean_text(raw.get("last_name")),
        "company": clean_text(raw.get("company")),
        "address1": clean_text(raw.get("address1", raw.get("street_1"))),
        "address2": clean_text(raw.get("address2", raw.get("street_2"))),
        "city": clean_text(raw.get("city")),
        "state": state,
        "region": region_code(state, country, code),
        "postcode": clean_text(raw.get("postal_code", raw.get("zip"))),
        "country": country,
        "country_code": code.upper() if code else None,
        "phone": clean_text(raw.get("phone")),
        "fax": fax_from(raw.get("form_fields")),
    }


def customer(raw: dict[str, Any]) -> dict[str, Any]:
    """A v3 customer read with ``include=addresses,formfields``."""
    return {
        "id": str(raw["id"]),
        "email": str(raw.get("email") or "").strip(),
        "first_name": clean_text(raw.get("first_name")),
        "last_name": clean_text(raw.get("last_name")),
        "company": clean_text(raw.get("company")),
        "phone": clean_text(raw.get("phone")),
        "notes": clean_text(raw.get("notes")),
        "is_guest": False,
        "addresses": [address(item) for item in raw.get("addresses") or []],
        "date_created": iso_utc(raw.get("date_created")),
        "date_modified": iso_utc(raw.get("date_modified")),
    }


def is_opted_in(raw: dict[str, Any]) -> bool:
    """DESIGN §1: opted in with ``marketing_newsletter`` among the consents; an empty list means
    unsubscribed; records from older stores without a ``consents`` field count as opted in."""
    if "consents" not in raw or raw["consents"] is None:
        return True
    return "marketing_newsletter" in raw["consents"]


def subscriber(raw: dict[str, Any], store_url: str | None, ip: str | None = None) -> dict[str, Any]:
    """A v3 newsletter subscriber with the consent record: date = creation, URL = the store's,
    IP = the one the store recorded for the opt-in (``consent.consent_ips``), never a browser:
    BigCommerce keeps no user agent."""
    created = iso_utc(raw.get("date_created"))
    order_id = raw.get("order_id")
    return {
        "id": str(raw["id"]),
        "email": str(raw.get("email") or "").strip(),
        "first_name": clean_text(raw.get("first_name")),
        "last_name": clean_text(raw.get("last_name")),
        "opted_in": is_opted_in(raw),
        "source": clean_text(raw.get("source")),
        "order_id": str(order_id) if order_id else None,
        "consent": {"date": created, "url": store_url or None, "ip": ip or None, "user_agent": None},
        "date_created": created,
        "date_modified": iso_utc(raw.get("date_modified")),
    }


def _image_url(raw: dict[str, Any]) -> str | None:
    images = raw.get("images") or []
    primary = raw.get("primary_image") or next((i for i in images if i.get("is_thumbnail")), None)
    primary = primary or (images[0] if images else None)
    return clean_text(primary.get("url_standard") or primary.get("url_zoom")) if primary else None


def product(
    raw: dict[str, Any], store_url: str | None, brands: dict[int, str], categories: dict[int, str]
) -> dict:
    """A v3 catalog product; the page URL is the store URL plus the product's custom URL."""
    path = (raw.get("custom_url") or {}).get("url")
    sale_price = raw.get("sale_price")
    return {
        "id": str(raw["id"]),
        "name": str(raw.get("name") or ""),
        "sku": clean_text(raw.get("sku")),
        "type": clean_text(raw.get("type")),
        "url": f"{(store_url or '').rstrip('/')}{path}" if path else None,
        "image_url": _image_url(raw),
        "description": clean_text(raw.get("description")),
        "brand": brands.get(raw.get("brand_id") or 0),
        "categories": [categories.get(c, str(c)) for c in raw.get("categories") or []],
        "price": str(raw["price"]) if raw.get("price") is not None else None,
        "sale_price": str(sale_price) if sale_price else None,
        "inventory": raw.get("inventory_level"),
        "is_visible": bool(raw.get("is_visible")),
        "date_created": iso_utc(raw.get("date_created")),
        "date_modified": iso_utc(raw.get("date_modified")),
    }
