"""A throwaway source plugin for the engine's unit tests, beside the kit's fake destination.

The source keeps canonical records in dicts (guests are the host's to derive from orders); the
destination (``host.testing.FakeDestination``) keeps books, contacts, collections and enrolments
in memory and counts every write, so a test can say exactly what a user would find there.
"""

from __future__ import annotations

from datetime import timedelta

from host.hookspecs import hookimpl
from host.sources import Page, Source, Stream
from host.testing import FakeDestinationPlugin


def at(day: int, hour: int = 0) -> str:
    """An ISO 8601 UTC instant in June 2025 (the connection is made on day 10)."""
    return f"2025-06-{day:02d}T{hour:02d}:00:00+00:00"


CONNECTED_AT = at(10)


def customer(cid, email, created, *, modified=None, **extra):
    return {
        "id": str(cid),
        "email": email,
        "first_name": f"First{cid}",
        "last_name": f"Last{cid}",
        "company": None,
        "phone": None,
        "notes": None,
        "is_guest": False,
        "addresses": [],
        "date_created": created,
        "date_modified": modified or created,
        **extra,
    }


def subscriber(sid, email, created, *, opted_in=True, modified=None):
    return {
        "id": str(sid),
        "email": email,
        "first_name": None,
        "last_name": None,
        "opted_in": opted_in,
        "source": "storefront",
        "order_id": None,
        "consent": {"date": created, "url": "https://shop.example", "ip": None, "user_agent": None},
        "date_created": created,
        "date_modified": modified or created,
    }


def order(oid, email, created, *, customer_id=None, postcode="AB1", modified=None, **flags):
    address = {"first_name": "Bill", "last_name": "Payer", "postcode": postcode, "city": "Town"}
    return {
        "id": str(oid),
        "email": email,
        "customer_id": customer_id,
        "status": "Completed",
        "is_incomplete": False,
        "is_deleted": False,
        "total": "10.00",
        "billing_address": address,
        "shipping_address": address,
        "items": [],
        "date_created": created,
        "date_modified": modified or created,
        **flags,
    }


def product(pid, modified, *, visible=True, name=None):
    return {
        "id": str(pid),
        "name": name or f"Product {pid}",
        "is_visible": visible,
        "date_modified": modified,
    }


class FakeSource(Source):
    name = "fake_store"
    title = "Fake store"

    def __init__(self, page_size: int = 3):
        self.customers, self.subscribers, self.orders, self.products = {}, {}, {}, {}
        self.page_size = page_size
        self.pages_served = 0
        self.fail_after_pages: int | None = None  # simulate a crash mid-cycle

    def streams(self):
        return [
            Stream("customers", "customer", "/customers", "id", "date_modified", self.page_size),
            Stream(
                "subscribers", "subscriber", "/subscribers", "id", "date_modified", self.page_size
            ),
            Stream("orders", "order", "/orders", "id", "date_modified", self.page_size),
            Stream(
                "products",
                "product",
                "/products",
                "id",
                "date_modified",
                self.page_size,
                full_refresh_every=timedelta(days=1),
            ),
        ]

    def read(self, connection, stream, *, since=None, ids=None):
        table = getattr(self, stream.name)
        records = [r for r in table.values() if (ids is None or r["id"] in ids)]
        if ids is None and since is not None:
            records = [r for r in records if r["date_modified"] >= since]
        records.sort(key=lambda r: (r["date_modified"], r["id"]))
        for start in range(0, len(records), stream.page_size):
            if self.fail_after_pages is not None and self.pages_served >= self.fail_after_pages:
                raise RuntimeError("the process died here")
            self.pages_served += 1
            yield Page([dict(r) for r in records[start : start + stream.page_size]])


class FakePlugin(FakeDestinationPlugin):
    """Registers one fake source, and the kit's fake destination and mapper."""

    def __init__(self):
        super().__init__()
        self.source = FakeSource()

    @hookimpl
    def register_sources(self, register):
        register(self.source)
