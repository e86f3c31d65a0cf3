"""Canonical records for the tests, shaped as a source emits them."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

BASE = datetime(2023, 6, 1, 12, 0, tzinfo=UTC)


def customer(n: int) -> dict:
    return {
        "id": str(n), "email": f"shopper{n}@example.com", "first_name": f"First{n}",
        "last_name": f"Last{n}", "company": None, "phone": None, "notes": None, "is_guest": False,
        "addresses": [{"address1": f"{n} High St", "city": "Leeds", "postcode": f"LS{n % 9} 1AA",
                       "country": "United Kingdom", "country_code": "GB", "state": "West Yorkshire"}],
        "date_created": (BASE + timedelta(minutes=n)).isoformat(),
        "date_modified": (BASE + timedelta(minutes=n)).isoformat(),
    }


def subscriber(n: int, *, opted_in: bool = True, created: datetime | None = None) -> dict:
    created = created or BASE + timedelta(minutes=n)
    return {
        "id": f"s{n}", "email": f"shopper{n}@example.com", "first_name": f"First{n}", "last_name": f"Last{n}",
        "opted_in": opted_in, "source": "storefront", "order_id": None,
        "consent": {"date": created.isoformat(), "url": "https://demo-store.example.com/signup",
                    "ip": f"203.0.113.{n % 250 + 1}", "user_agent": "Mozilla/5.0 (test)"},
        "date_created": created.isoformat(), "date_modified": created.isoformat(),
    }


def order(n: int, email: str, *, status: str = "Completed") -> dict:
    return {
        "id": str(100 + n), "email": email, "customer_id": None, "status": status, "currency": "GBP",
        "subtotal": "40.00", "discount": "4.00", "shipping": "5.00", "tax": "8.00", "total": "49.00",
        "payment_method": "Card",
        "billing_address": {"address1": "1 High St", "city": "Leeds", "state": "West Yorkshire",
                            "country_code": "GB", "postcode": "LS1 1AA"},
        "shipping_address": {"address1": "2 Low St", "city": "York", "country_code": "GB", "postcode": "YO1 1AA"},
        "items": [{"product_id": "7", "variant_id": "71", "sku": "TEE-M", "name": "Tee", "quantity": 2,
                   "price": "20.00", "total": "40.00"}],
        "date_created": (BASE + timedelta(days=n)).isoformat(), "date_modified": BASE.isoformat(),
    }


def product(n: int) -> dict:
    return {
        "id": str(n), "name": f"Product {n}", "sku": f"SKU-{n}", "type": "physical",
        "url": f"https://demo-store.example.com/p{n}", "image_url": f"https://cdn.example.com/{n}.jpg",
        "description": "A fine thing", "brand": "Acme", "categories": ["Shirts", "Sale"],
        "price": "19.99", "sale_price": None, "inventory": 5, "is_visible": True,
        "date_created": BASE.isoformat(), "date_modified": BASE.isoformat(),
    }
