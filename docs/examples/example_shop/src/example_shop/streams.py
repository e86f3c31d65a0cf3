"""The streams Example Shop offers, declared as data: ``host.http_source.HttpSource`` reads them.

Each names the canonical record kind it emits, the API path, the canonical primary key and
cursor field, a page size, a paginator, the overlap and this API's filters (``updated_since``
and ``ids``, the same for every resource here). The host reads them in this order.
"""

from __future__ import annotations

from datetime import timedelta

from host.sources import HttpStream, PageNumberPaginator

PAGE_SIZE = 100
# ``page``/``limit``; the API may cap ``limit``, so the end is its page count, not a short page.
PAGES = PageNumberPaginator("page", "limit", pages_field="meta.pages")
# updated_since is compared with second precision: re-read one minute, the ledger skips repeats.
OVERLAP = timedelta(minutes=1)
SHOP_LISTING = dict(
    primary_key="id",
    cursor_field="date_modified",
    page_size=PAGE_SIZE,
    paginator=PAGES,
    cursor_overlap=OVERLAP,
    since_param="updated_since",
    ids_param="ids",
)

CUSTOMERS = HttpStream(name="customers", kind="customer", path="/customers", **SHOP_LISTING)
SUBSCRIBERS = HttpStream(name="subscribers", kind="subscriber", path="/subscribers", **SHOP_LISTING)
ORDERS = HttpStream(name="orders", kind="order", path="/orders", **SHOP_LISTING)
PRODUCTS = HttpStream(name="products", kind="product", path="/products", **SHOP_LISTING)

# Customers first, then subscribers, then orders (guests come from orders), then products.
STREAMS: tuple[HttpStream, ...] = (CUSTOMERS, SUBSCRIBERS, ORDERS, PRODUCTS)
