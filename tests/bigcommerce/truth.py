"""What the emulated store holds, per stream, in canonical terms, computed from ``/_emulator/state``.

Independent of the plugin's own transforms: these are the expectations reads are checked against.
"""

from __future__ import annotations

import ipaddress
import unicodedata
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from functools import lru_cache
from typing import Any

import pycountry


def iso(value: str) -> str:
    if "," in value:
        return parsedate_to_datetime(value).astimezone(UTC).isoformat()
    return datetime.fromisoformat(value.replace("Z", "+00:00")).astimezone(UTC).isoformat()


STORE_URL = "https://test-goods.example"  # the store URL of ``BigCommerceWorld.connection()``


def text(value: Any) -> str | None:
    """A store text as the canonical records hold it: stripped, None when empty."""
    value = str(value).strip() if value is not None else ""
    return value or None


def _plain(value: str) -> str:
    decomposed = unicodedata.normalize("NFKD", value)
    return "".join(c for c in decomposed if not unicodedata.combining(c)).casefold().strip()


@lru_cache(maxsize=512)
def region(state: str | None, country_code: str | None) -> str | None:
    """The ISO 3166-2 code of a state named in full (a top-level subdivision wins a name clash)."""
    if not state or not country_code:
        return None
    named = [
        s for s in pycountry.subdivisions.get(country_code=country_code.upper()) or []
        if _plain(s.name) == _plain(state) or _plain(s.code.split("-", 1)[1]) == _plain(state)
    ]
    named.sort(key=lambda s: (s.parent_code is not None, _plain(s.name) != _plain(state)))
    return named[0].code if named else None


def address(raw: dict | None) -> dict[str, Any] | None:
    """The address fields the conformance suite compares, from a saved (v3) or order (v2) address."""
    if not raw:
        return None
    state = text(raw.get("state_or_province", raw.get("state")))
    code = text(raw.get("country_code", raw.get("country_iso2")))
    return {
        "first_name": text(raw.get("first_name")),
        "last_name": text(raw.get("last_name")),
        "address1": text(raw.get("address1", raw.get("street_1"))),
        "city": text(raw.get("city")),
        "state": state,
        "region": region(state, code),
        "postcode": text(raw.get("postal_code", raw.get("zip"))),
        "country": text(raw.get("country")),
        "country_code": code.upper() if code else None,
    }


def _ip(value: Any) -> str | None:
    try:
        return str(ipaddress.ip_address(str(value or "").strip()))
    except ValueError:
        return None


def consent_ip(state: dict, subscriber: dict) -> str | None:
    """DESIGN §1 (consent) and plugins/bigcommerce/consent.py's rule, from the store's records:
    a checkout opt-in's order IP, else the registration IP of the account with that email."""
    if not opted_in(subscriber):
        return None
    order_id = subscriber.get("order_id")
    if order_id:
        for order in state["orders"]:
            if order["id"] == int(order_id):
                ip = _ip(order.get("ip_address")) or _ip(order.get("ip_address_v6"))
                if ip:
                    return ip
    email = str(subscriber.get("email") or "").strip().lower()
    for customer in state["customers"]:
        if str(customer.get("email") or "").strip().lower() == email:
            return _ip(customer.get("registration_ip_address"))
    return None


def listed_orders(state: dict) -> list[dict]:
    """Orders the default ``/v2/orders`` view lists: neither incomplete nor archived."""
    return [o for o in state["orders"] if o["status_id"] != 0 and not o["is_deleted"]]


def opted_in(subscriber: dict) -> bool:
    return "consents" not in subscriber or "marketing_newsletter" in subscriber["consents"]


def truth(
    state: dict, stream: str, store_url: str | None = STORE_URL, *, by_id: bool = False
) -> dict[str, dict[str, Any]]:
    """Per stream, what a full read returns (``by_id``: what reads by id return, which for
    orders includes the Incomplete and archived ones the listing leaves out, flagged)."""
    if stream == "customers":
        return {
            str(c["id"]): {
                "email": c["email"],
                "first_name": c["first_name"],
                "last_name": c["last_name"],
                "company": c["company"] or None,
                "date_created": iso(c["date_created"]),
                "date_modified": iso(c["date_modified"]),
                "is_guest": False,
                "addresses": [address(a) for a in c.get("addresses") or []],
            }
            for c in state["customers"]
        }
    if stream == "subscribers":
        return {
            str(s["id"]): {
                "email": s["email"],
                "opted_in": opted_in(s),
                "consent": {
                    "date": iso(s["date_created"]),
                    "url": store_url,
                    "ip": consent_ip(state, s),
                },
                "order_id": str(s["order_id"]) if s["order_id"] else None,
                "date_modified": iso(s["date_modified"]),
            }
            for s in state["subscribers"]
        }
    if stream == "orders":
        return {
            str(o["id"]): {
                "email": o["billing_address"]["email"],
                "customer_id": str(o["customer_id"]) if o["customer_id"] else None,
                "total": o["total_inc_tax"],
                "refunded": o["refunded_amount"],
                "is_deleted": bool(o["is_deleted"]),
                "is_incomplete": o["status_id"] == 0,
                "billing_address": address(o.get("billing_address")),
                "shipping_address": address((o.get("shipping_addresses") or [None])[0]),
                "date_modified": iso(o["date_modified"]),
            }
            for o in (state["orders"] if by_id else listed_orders(state))
        }
    if stream == "products":
        return {
            str(p["id"]): {
                "name": p["name"],
                "sku": p["sku"],
                "is_visible": p["is_visible"],  # hidden ones are listed too, flagged
                "date_modified": iso(p["date_modified"]),
            }
            for p in state["products"]
        }
    raise KeyError(stream)


def served_page(modes: Any, asked: int = 250) -> int:
    """How many records a page holds when ``asked`` a page, as the emulator's modes serve them
    (``modes``: a ``Modes`` or what ``GET /_emulator/modes`` answers)."""
    return min(asked, _mode(modes, "max_page_size"))


def refusals(modes: Any, asked: int = 250) -> int:
    """Calls refused before the client asks the maximum (once per endpoint: it remembers)."""
    return int(_mode(modes, "max_page_size") < asked and _mode(modes, "over_limit") == "refused")


def listing_calls(modes: Any, records: int, asked: int = 250) -> int:
    """Calls to list ``records`` records, every page once (an empty listing: one call)."""
    return max(1, -(-records // served_page(modes, asked))) + refusals(modes, asked)


def _mode(modes: Any, name: str) -> Any:
    if isinstance(modes, dict):
        value = modes[name]
        return value["value"] if isinstance(value, dict) else value
    return getattr(modes, name)

