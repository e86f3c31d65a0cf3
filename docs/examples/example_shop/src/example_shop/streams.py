"""The streams Example Shop offers, declared as data, and the paginator that walks its listings.

A stream names the canonical record kind it emits, the API path, the canonical primary key and
cursor field, a page size and a paginator; ``ExampleShopStream`` adds how this API filters by
change date and by id. ``source.ExampleShopSource`` reads them in this order.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from host.sources import Paginator, Stream

PAGE_SIZE = 100


class NextLinkPaginator(Paginator):
    """``page``/``limit``: follow ``links.next`` while there is one, else compare page counts.

    The API may cap ``limit`` below what was asked, so a short page does not mean the end.
    """

    def __init__(self, page_size: int = PAGE_SIZE) -> None:
        self.page_size = page_size

    def first_page(self) -> Mapping[str, Any]:
        return {"page": 1, "limit": self.page_size}

    def next_page(self, previous: Mapping[str, Any], response: Any) -> Mapping[str, Any] | None:
        links = response.get("links") or {}
        if links.get("next"):
            query = dict(parse_qsl(urlsplit(links["next"]).query))
            return {**previous, "page": int(query.get("page", int(previous["page"]) + 1))}
        meta = response.get("meta") or {}
        if "pages" in meta and int(meta.get("page", previous["page"])) < int(meta["pages"]):
            return {**previous, "page": int(previous["page"]) + 1}
        return None


@dataclass(frozen=True)
class ExampleShopStream(Stream):
    """A stream plus this API's filters (the same for every resource here)."""

    since_param: str = "updated_since"
    ids_param: str = "ids"


PAGES = NextLinkPaginator(PAGE_SIZE)
# updated_since is compared with second precision: re-read one minute, the ledger skips repeats.
OVERLAP = timedelta(minutes=1)

CUSTOMERS = ExampleShopStream(
    name="customers",
    kind="customer",
    path="/customers",
    primary_key="id",
    cursor_field="date_modified",
    page_size=PAGE_SIZE,
    paginator=PAGES,
    cursor_overlap=OVERLAP,
)
SUBSCRIBERS = ExampleShopStream(
    name="subscribers",
    kind="subscriber",
    path="/subscribers",
    primary_key="id",
    cursor_field="date_modified",
    page_size=PAGE_SIZE,
    paginator=PAGES,
    cursor_overlap=OVERLAP,
)
ORDERS = ExampleShopStream(
    name="orders",
    kind="order",
    path="/orders",
    primary_key="id",
    cursor_field="date_modified",
    page_size=PAGE_SIZE,
    paginator=PAGES,
    cursor_overlap=OVERLAP,
)
PRODUCTS = ExampleShopStream(
    name="products",
    kind="product",
    path="/products",
    primary_key="id",
    cursor_field="date_modified",
    page_size=PAGE_SIZE,
    paginator=PAGES,
    cursor_overlap=OVERLAP,
)

# Customers first, then subscribers, then orders (guests come from orders), then products.
STREAMS: tuple[ExampleShopStream, ...] = (CUSTOMERS, SUBSCRIBERS, ORDERS, PRODUCTS)
