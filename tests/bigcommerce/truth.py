"""What the emulated store holds, per stream, in canonical terms, computed from ``/_emulator/state``.

Independent of the plugin's own transforms: these are the expectations reads are checked against.
"""

from __future__ import annotations

from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any


def iso(value: str) -> str:
    if "," in value:
        return parsedate_to_datetime(value).astimezone(UTC).isoformat()
    return datetime.fromisoformat(value.replace("Z", "+00:00")).astimezone(UTC).isoformat()


def listed_orders(state: dict) -> list[dict]:
    """Orders the default ``/v2/orders`` view lists: neither incomplete nor archived."""
    return [o for o in state["orders"] if o["status_id"] != 0 and not o["is_deleted"]]


def opted_in(subscriber: dict) -> bool:
    return "consents" not in subscriber or "marketing_newsletter" in subscriber["consents"]


def truth(state: dict, stream: str) -> dict[str, dict[str, Any]]:
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
            }
            for c in state["customers"]
        }
    if stream == "subscribers":
        return {
            str(s["id"]): {
                "email": s["email"],
                "opted_in": opted_in(s),
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
                "is_deleted": False,
                "is_incomplete": False,
                "date_modified": iso(o["date_modified"]),
            }
            for o in listed_orders(state)
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

