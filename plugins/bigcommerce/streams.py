"""The streams BigCommerce offers, declared as data (``host.http_source.HttpStream``: name, path,
key, cursor and overlap, page size, paginator, filters); ``source.BigCommerceSource`` reads them
through the host's ``HttpSource`` loop.
Guests (orders without a store account) have no stream: the host derives them from the orders
it reads (``host.sync.profiles``), so orders are listed once.

Choices where bigcommerce-api.md says UNCONFIRMED:
- ``/v2/orders`` may leave out Incomplete (status 0) and archived orders by default (the
  emulator does); listings then never show abandoned checkouts (the host excludes them anyway),
  and reads by id (the webhook fast lane, which ``store/order/archived`` triggers) see every
  order, flagged. As a safety net for a lost webhook, an incremental orders read adds an
  ``is_deleted=true`` pass so an archived order reaches the host flagged ``is_deleted``. That
  pass costs a call, so it runs only when it can matter: when the default pass found an order
  changed after the cursor, when no cycle has finished yet, and otherwise once per
  ``ARCHIVED_EVERY`` (the first cycle whose read falls in another hour than the last finished
  cycle). It then lists from the cursor or from ``ARCHIVED_LOOKBACK`` before the last finished
  cycle, whichever is earlier, so the cycles that skipped it leave no gap. A store that lists
  archived orders by default would make the pass redundant; nothing documents such a store, so
  the pass is kept (``source.archived_since`` is the one place to change).
  The ``is_deleted`` filter itself left the current spec: a store may honour it, ignore it
  (answering live orders) or refuse it (400). The pass lists ``is_deleted=true`` newest change
  first without a date filter, so its first page tells the readings apart; ignored or refused,
  the ids the live and Incomplete listings leave out are read by id, ``ARCHIVED_SWEEP_IDS`` ids a
  pass (``source.BigCommerceSource._archived_orders``).
- ``max_date_modified`` may or may not keep its own second: a second tied over more than a page
  is paged as ``min = T, max = T + 1 s`` (``keyset``), right either way.
- The largest page of each listing (250 by the references) may be refused above it (413) or
  served silently shorter: the host's loop learns it per endpoint (``limits``).
- ``customer_id=0`` as a guest filter is not needed (nor trusted: whether it filters is
  UNCONFIRMED): guests come from every order read.
- subscribers take no ``sort``: they are listed in id order and emitted page by page as read
  (flat memory). Their stream is declared ``ordered_by_cursor=False``, so the host moves its
  cursor (the latest ``date_modified`` read) only once the whole listing was read; listed in id
  order, only a deletion shifts them, which ``host.http_source.RereadWhenShrunkPaginator`` detects.

Products are listed visible and hidden alike (each flagged ``is_visible``): hiding a product bumps
its ``date_modified``, so incremental reads and the daily full refresh see it become hidden and
the host removes it from the catalog even when no webhook arrives.

Listings sorted by change date are walked by keyset (``keyset.KeysetPaginator``), not by offset,
so a record changed during a long read cannot push another one past a page boundary unseen.
"""

from __future__ import annotations

from datetime import timedelta

from host.http_source import HttpStream, RereadWhenShrunkPaginator
from plugins.bigcommerce.keyset import KeysetPaginator
from plugins.bigcommerce.pagination import PAGE_SIZE, V2PagePaginator, V3PagePaginator

V3_PAGES = V3PagePaginator(PAGE_SIZE)
V2_PAGES = V2PagePaginator(PAGE_SIZE)
V3_BY_CHANGE_DATE = KeysetPaginator(V3_PAGES, "date_modified:min", "date_modified:max")
V2_BY_CHANGE_DATE = KeysetPaginator(
    V2_PAGES, "min_date_modified", "max_date_modified", date_style="rfc2822"
)
# The archived-orders pass (see above): how often it runs when nothing changed, and how far
# before the last finished cycle it looks (more than the gap its skipped cycles can leave).
ARCHIVED_EVERY = timedelta(hours=1)
ARCHIVED_LOOKBACK = 3 * ARCHIVED_EVERY
ARCHIVED_PAGE_SIZE = 50  # its pages: usually the first one ends it (older archived orders follow)
# Where the store ignores or refuses ``is_deleted`` (see above): ids checked per pass, per listing
# call, and how many ids in a row beyond the listed ones may be missing before the search stops.
ARCHIVED_SWEEP_IDS = 25_000
ARCHIVED_WINDOW = 250
ARCHIVED_EDGE_MISSES = 3
ORDER_EMBEDS = {"include": "consignments.line_items", "consignment_structure": "object"}
V3_SINCE = "%Y-%m-%dT%H:%M:%SZ"  # full timestamps
V2_SINCE = "%a, %d %b %Y %H:%M:%S +0000"  # RFC 2822, as v2 writes its dates (in UTC)
# A deleted customer or subscriber changes no date a cursor can see: when its webhook was missed,
# only a whole read notices it is gone (``host.sync.erasure.reconcile``), so one runs daily.
DELETIONS_FOUND_WITHIN = timedelta(hours=24)
V3_FILTERS = dict(since_param="date_modified:min", ids_param="id:in", ids_paginator=V3_PAGES)

CUSTOMERS = HttpStream(
    name="customers",
    kind="customer",
    path="/v3/customers",
    primary_key="id",
    cursor_field="date_modified",
    page_size=PAGE_SIZE,
    paginator=V3_BY_CHANGE_DATE,
    params={"include": "addresses,formfields", "sort": "date_modified:asc"},
    cursor_overlap=timedelta(days=1),  # stores that read the filter by the day lose nothing
    full_refresh_every=DELETIONS_FOUND_WITHIN,
    **V3_FILTERS,
)
SUBSCRIBERS = HttpStream(
    name="subscribers",
    kind="subscriber",
    path="/v3/customers/subscribers",
    primary_key="id",
    cursor_field="date_modified",
    page_size=PAGE_SIZE,
    paginator=RereadWhenShrunkPaginator(
        V3_PAGES, "meta.pagination.total", key_fields=("id", "date_modified")
    ),
    ordered_by_cursor=False,  # id order: the cursor moves once the whole listing was read
    cursor_overlap=timedelta(days=1),
    full_refresh_every=DELETIONS_FOUND_WITHIN,
    **V3_FILTERS,
)
ORDERS = HttpStream(
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
    since_format=V2_SINCE,
    ids_per_call=PAGE_SIZE,  # read one by one (``GET /v2/orders/{id}``), a page of records
)
PRODUCTS = HttpStream(
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
    **V3_FILTERS,
)

STREAMS: tuple[HttpStream, ...] = (CUSTOMERS, SUBSCRIBERS, ORDERS, PRODUCTS)
