"""The streams BigCommerce offers, declared as data (name, path, key, cursor, page size, paginator).

A future source declares its own the same way; ``source.BigCommerceSource`` reads them.
Choices where bigcommerce-api.md says UNCONFIRMED:
- ``/v2/orders`` may leave out Incomplete (status 0) and archived orders by default; listings then
  never show abandoned checkouts (the host excludes them anyway), incremental order reads add an
  ``is_deleted=true`` pass so an archived order reaches the host flagged ``is_deleted``, and reads by
  id (the webhook fast lane) see every order, flagged.
- ``customer_id=0`` may be ignored as a filter: guest reads also check ``customer_id`` themselves.
- subscribers take no ``sort``: their pages are gathered and sorted by ``date_modified`` here;
  listed in id order, only a deletion shifts them, which ``RereadWhenShrunkPaginator`` detects.

Products are listed visible and hidden alike (each flagged ``is_visible``): hiding a product bumps
its ``date_modified``, so incremental reads and the daily full refresh see it become hidden and
the host removes it from the catalog even when no webhook arrives.

Listings sorted by change date are walked by keyset (``keyset.KeysetPaginator``), not by offset,
so a record changed during a long read cannot push another one past a page boundary unseen.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from host.sources import Stream
from plugins.bigcommerce.keyset import KeysetPaginator
from plugins.bigcommerce.pagination import (
    RereadWhenShrunkPaginator,
    V2PagePaginator,
    V3PagePaginator,
)

PAGE_SIZE = 250  # the documented (v2, products) and peer-used (v3 customers) maximum
V3_PAGES = V3PagePaginator(PAGE_SIZE)
V2_PAGES = V2PagePaginator(PAGE_SIZE)
V3_BY_CHANGE_DATE = KeysetPaginator(V3_PAGES, "date_modified:min", "date_modified:max")
V2_BY_CHANGE_DATE = KeysetPaginator(
    V2_PAGES, "min_date_modified", "max_date_modified", date_style="rfc2822"
)
ORDER_EMBEDS = {"include": "consignments.line_items", "consignment_structure": "object"}


@dataclass(frozen=True)
class BigCommerceStream(Stream):
    """A stream plus how BigCommerce filters it by change date and by id."""

    since_param: str | None = None  # e.g. "date_modified:min" (v3) or "min_date_modified" (v2)
    since_style: str = "iso"  # "iso" (v3, full timestamps) or "rfc2822" (v2)
    ids_param: str | None = None  # e.g. "id:in"; None = one call per id


CUSTOMERS = BigCommerceStream(
    name="customers",
    kind="customer",
    path="/v3/customers",
    primary_key="id",
    cursor_field="date_modified",
    page_size=PAGE_SIZE,
    paginator=V3_BY_CHANGE_DATE,
    params={"include": "addresses,formfields", "sort": "date_modified:asc"},
    cursor_overlap=timedelta(days=1),  # stores that read the filter by the day lose nothing
    since_param="date_modified:min",
    ids_param="id:in",
)
SUBSCRIBERS = BigCommerceStream(
    name="subscribers",
    kind="subscriber",
    path="/v3/customers/subscribers",
    primary_key="id",
    cursor_field="date_modified",
    page_size=PAGE_SIZE,
    paginator=RereadWhenShrunkPaginator(V3_PAGES),
    cursor_overlap=timedelta(days=1),
    since_param="date_modified:min",
    ids_param="id:in",
)
ORDERS = BigCommerceStream(
    name="orders",
    kind="order",
    path="/v2/orders",
    primary_key="id",
    cursor_field="date_modified",
    page_size=PAGE_SIZE,
    paginator=V2_BY_CHANGE_DATE,
    params={**ORDER_EMBEDS, "sort": "date_modified:asc"},
    cursor_overlap=timedelta(minutes=5),
    since_param="min_date_modified",
    since_style="rfc2822",
)
GUESTS = BigCommerceStream(
    name="guests",
    kind="customer",
    path="/v2/orders",
    primary_key="id",  # the lower-cased email
    cursor_field="date_modified",
    page_size=PAGE_SIZE,
    paginator=V2_BY_CHANGE_DATE,
    params={"customer_id": 0, "sort": "date_modified:asc"},
    cursor_overlap=timedelta(minutes=5),
    since_param="min_date_modified",
    since_style="rfc2822",
    ids_param="email",
)
PRODUCTS = BigCommerceStream(
    name="products",
    kind="product",
    path="/v3/catalog/products",
    primary_key="id",
    cursor_field="date_modified",
    page_size=PAGE_SIZE,
    paginator=V3_BY_CHANGE_DATE,
    params={"include": "images", "sort": "date_modified", "direction": "asc"},  # hidden ones too
    cursor_overlap=timedelta(minutes=5),
    full_refresh_every=timedelta(hours=24),  # variant changes do not bump the product's date
    since_param="date_modified:min",
    ids_param="id:in",
)

STREAMS: tuple[BigCommerceStream, ...] = (CUSTOMERS, SUBSCRIBERS, ORDERS, GUESTS, PRODUCTS)
