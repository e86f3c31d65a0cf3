"""``BigCommerceSource``: the declared streams, read by the host's ``HttpSource`` loop.

The loop pages (keyset walks, a page read ahead, page sizes learned per store), retries, paces
and sorts failures; this fills in the store's client, the row transforms, the calls a page needs
beyond its rows (consent IPs, catalog names, order parts) and the archived-orders pass.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import requests

from host.errors import ConfigurationError, RecordError, SyncError, TransientError
from host.http_source import Account, HttpSource, HttpStream
from host.sources import Page
from plugins.bigcommerce import consent, failures, transform, writeback
from plugins.bigcommerce import orders as order_records
from plugins.bigcommerce.client import BigCommerceClient, store_account
from plugins.bigcommerce.keyset import moment_of
from plugins.bigcommerce.limits import refused_limit
from plugins.bigcommerce.orders import INCOMPLETE_STATUS_ID
from plugins.bigcommerce.pacing import RATE_LIMIT, RetryPolicy
from plugins.bigcommerce.pagination import IdWindowPaginator, V2PagePaginator, decode_json
from plugins.bigcommerce.settings import AppSettings
from plugins.bigcommerce.streams import (
    ARCHIVED_EDGE_MISSES,
    ARCHIVED_EVERY,
    ARCHIVED_LOOKBACK,
    ARCHIVED_PAGE_SIZE,
    ARCHIVED_SWEEP_IDS,
    ARCHIVED_WINDOW,
    ORDER_EMBEDS,
    STREAMS,
    V2_PAGES,
    V3_PAGES,
)

if TYPE_CHECKING:
    from host.models import Connection

log = logging.getLogger(__name__)
# Brand and category names change rarely, and renaming one does not touch its products (the
# daily full refresh re-sends them): keep them a while instead of listing them again for every
# product webhook the fast lane reads.
CATALOG_NAMES_SECONDS = 900
# Asking the store for its facts from a settings page: a few quick tries, never a long wait.
STORE_FACTS_RETRY = RetryPolicy(max_attempts=2, max_rate_limited_attempts=2, max_delay=2.0)


def utcnow() -> datetime:
    return datetime.now(UTC)


def archived_since(connection: Connection, since: str, changed: bool, now: datetime) -> str | None:
    """Where the archived-orders pass of an incremental orders read starts, or None when it is
    not due (``streams`` says why and when it runs)."""
    last = connection.last_sync_at
    if last is None:
        return since
    every = ARCHIVED_EVERY.total_seconds()
    if not changed and int(now.timestamp() // every) == int(last.timestamp() // every):
        return None
    earliest = last - ARCHIVED_LOOKBACK
    return since if transform.parse_iso(since) <= earliest else earliest.isoformat()


def archived_sweep_due(connection: Connection, now: datetime) -> bool:
    """Whether the archived orders are to be looked for by id in this read: in the first read
    of each ``ARCHIVED_EVERY`` (or before any cycle finished), not whenever an order changed."""
    last = connection.last_sync_at
    every = ARCHIVED_EVERY.total_seconds()
    return last is None or int(now.timestamp() // every) != int(last.timestamp() // every)


class BigCommerceSource(HttpSource):
    name = "bigcommerce"
    title = "BigCommerce"
    # Every store's control panel lives under bigcommerce.com (its own origin is added per store).
    frame_origins = ("https://*.bigcommerce.com",)
    rate_limit = RATE_LIMIT
    retry_statuses = failures.RETRYABLE_STATUSES
    user_agent = "connector-host (+https://github.com/connector-host)"
    read_ahead = True
    page_size_param = "limit"
    per_page_field = "meta.pagination.per_page"  # v3 says how many a page holds

    def __init__(self, retry: RetryPolicy | None = None) -> None:
        super().__init__(retry or RetryPolicy())  # tests swap in one whose sleep does not wait
        self._catalog_names_cache: dict[str, tuple[float, tuple[dict, dict]]] = {}

    def streams(self) -> Sequence[HttpStream]:
        return STREAMS

    def user_allowed(self, connection: Connection, user_id: object) -> bool:
        """Users are recorded by the auth and load callbacks and forgotten by remove_user."""
        users = (connection.source_data or {}).get("users")
        return users is None or str(user_id) in users

    def control_panel_url(self, connection: Connection) -> str | None:
        """The store's control panel, saved by the auth callback (``control_panel_base_url``)."""
        return (connection.source_data or {}).get("control_panel_base_url") or None

    def currency(self, connection: Connection) -> str | None:
        """The store's default currency, saved by the auth callback; a store installed before
        that is asked once (``/v2/store``) and the answer kept on the connection (the caller
        commits). None when the store cannot be asked now."""
        saved = (connection.source_data or {}).get("currency")
        if saved:
            return str(saved)
        token = (connection.source_secrets or {}).get("access_token")
        if not token:
            return None
        client = BigCommerceClient(
            AppSettings.current().api_base_url, connection.source_account, token, retry=STORE_FACTS_RETRY
        )
        try:
            store = client.get_json("/v2/store", area="store") or {}
        except SyncError:
            return None
        currency = str(store.get("currency") or "") or None
        if currency:
            connection.source_data = {**(connection.source_data or {}), "currency": currency}
        return currency

    write_access_help = writeback.WRITE_ACCESS_HELP

    def can_write_unsubscribes(self, connection: Connection) -> bool:
        return writeback.can_write(connection)

    def write_unsubscribe(self, connection: Connection, email: str, unsubscribed_at: datetime) -> str:
        """``writeback``: the subscriber loses ``marketing_newsletter`` unless it subscribed later."""
        return writeback.write_unsubscribe(self.open(connection), email, unsubscribed_at)


    # ------------------------------------------------------------------ the host loop's parts
    def open(self, connection: Connection) -> BigCommerceClient:
        token = (connection.source_secrets or {}).get("access_token")
        if not token:
            raise ConfigurationError(
                "This store has no BigCommerce access token: open the app from your control panel to reinstall it.",
                area="store",
                code="bigcommerce_unauthorized",
            )
        return BigCommerceClient(AppSettings.current().api_base_url, connection.source_account, token, source=self)

    def account(self, base_url: str) -> Account:
        return store_account(self, base_url)  # shared with the store's other clients

    def decode_json(self, content: bytes) -> Any:
        return decode_json(content)

    def refused_page_size(self, response: requests.Response) -> int | None:
        return refused_limit(response)

    def classify(self, response: requests.Response, area: str | None) -> SyncError:
        return failures.classify(response, area=area)

    def unreachable(self, error: Exception, area: str | None) -> TransientError:
        return failures.unreachable(error, area=area)

    def transform(self, stream: HttpStream, raw: Any, connection: Connection) -> dict[str, Any]:
        return transform.customer(raw)  # customers; the other kinds need calls (transform_page)

    def transform_page(self, client, stream, rows, connection) -> list[dict[str, Any]]:
        """Subscribers need their consent IPs, products their brand and category names (orders
        their parts: ``_order``, in the orders' own reads)."""
        if stream.kind == "subscriber":
            return self._subscribers(client, rows, connection, None)
        if stream.kind == "product":
            brands, categories = self._catalog_names(client)
            return [transform.product(raw, connection.store_url, brands, categories) for raw in rows]
        return super().transform_page(client, stream, rows, connection)

    def read_listing(self, client, stream, connection, since) -> Iterator[Page]:
        if stream.name == "subscribers":
            return self._subscribers_listing(client, stream, connection, since)
        if stream.name == "orders":
            return self._orders_listing(client, stream, connection, since)
        return super().read_listing(client, stream, connection, since)

    def read_ids(self, client, stream, connection, ids) -> Iterator[Page]:
        if stream.name != "orders":
            return super().read_ids(client, stream, connection, ids)
        return self._orders_by_id(client, ids, stream.ids_per_call)

    # ------------------------------------------------------------------ subscribers
    def _subscribers_listing(self, client, stream, connection, since) -> Iterator[Page]:
        """Page by page, in the listing's id order: the host moves this stream's cursor only once
        the whole listing was read (``ordered_by_cursor=False``), so no page order is needed.
        A listing longer than a page first looks up its checkout opt-ins' order IPs together
        (``consent.checkout_order_ips``): their orders are scattered over the pages."""
        known: consent.KnownOrderIps | None = None
        for number, raws in enumerate(self.listing(client, stream, self.listing_params(stream, since))):
            if not raws:
                continue
            if number == 0 and len(raws) >= stream.page_size:
                known = consent.checkout_order_ips(client, self._checkout_order_ids(client, stream, since))
            yield Page(records=self._subscribers(client, raws, connection, known))

    def _subscribers(self, client, raws, connection, known) -> list[dict[str, Any]]:
        """The IP of each opt-in, from its order or the person's store account (``consent``)."""
        ips = consent.consent_ips(client, [raw for raw in raws if transform.is_opted_in(raw)], known)
        return [transform.subscriber(raw, connection.store_url, ips.get(str(raw["id"]))) for raw in raws]

    def _checkout_order_ids(self, client, stream, since) -> Iterator[int]:
        """The order ids of the listing's opted-in checkout sign-ups (``source=order``)."""
        params = {**self.listing_params(stream, since), "source": "order"}
        for raws in self.listing(client, stream, params):
            for raw in raws:
                order_id = str(raw.get("order_id") or "")
                if order_id.isdigit() and transform.is_opted_in(raw):
                    yield int(order_id)

    # ------------------------------------------------------------------ products
    def _catalog_names(self, client: BigCommerceClient) -> tuple[dict[int, str], dict[int, str]]:
        """Brand and category names by id, kept ``CATALOG_NAMES_SECONDS`` per store."""
        cached = self._catalog_names_cache.get(client.base_url)
        if cached is not None and cached[0] > time.monotonic():
            return cached[1]
        names = self._list_catalog_names(client)
        self._catalog_names_cache[client.base_url] = (time.monotonic() + CATALOG_NAMES_SECONDS, names)
        return names

    def _list_catalog_names(self, client: BigCommerceClient) -> tuple[dict[int, str], dict[int, str]]:
        """Brand and category names by id (empty when the store will not list them)."""
        names: list[dict[int, str]] = []
        for path in ("/v3/catalog/brands", "/v3/catalog/categories"):
            found: dict[int, str] = {}
            try:
                for page in client.pages(path, V3_PAGES, {"include_fields": "name"}, area="products"):
                    found.update({row["id"]: row.get("name") for row in page.records if "id" in row})
            except RecordError:
                pass
            names.append(found)
        return names[0], names[1]

    # ------------------------------------------------------------------ orders
    def _orders_by_id(self, client, ids: list[str], per_page: int) -> Iterator[Page]:
        """Orders read one by one (a read by id shows every order, archived ones flagged)."""
        for start in range(0, len(ids), per_page):
            found = (self._order_by_id(client, order_id) for order_id in ids[start : start + per_page])
            yield Page(records=[self._order(client, raw) for raw in found if raw])

    def _orders_listing(self, client, stream, connection, since) -> Iterator[Page]:
        """Orders changed since the cursor; their guests are the host's to derive
        (``host.sync.profiles``). An incremental read adds the archived-orders pass when due."""
        cursor = transform.parse_iso(since) if since else None
        changed = False  # an order changed after the cursor (not only re-read in its overlap)
        for raw_rows in self.listing(client, stream, self.listing_params(stream, since)):
            if raw_rows:
                changed = changed or cursor is None or any(
                    (moment_of(raw.get("date_modified")) or cursor) > cursor for raw in raw_rows
                )
                yield Page(records=[self._order(client, raw) for raw in raw_rows])
        now = utcnow()
        archived_from = archived_since(connection, since, changed, now) if since else None
        if archived_from:  # archived orders may be missing from the default view: ask for them
            yield from self._archived_orders(client, connection, stream, archived_from, now)

    def _archived_orders(self, client, connection, stream, archived_from: str, now: datetime) -> Iterator[Page]:
        """The archived-orders pass (``streams`` says when it runs): orders archived since
        ``archived_from``, flagged ``is_deleted``.

        The ``is_deleted`` filter left the current spec (UNCONFIRMED, §3.5): a store may honour
        it, ignore it (answering live orders) or refuse it (400). So the archived orders are
        listed newest change first and without a date filter, which tells the readings apart
        from the first page: live orders in it mean the filter is ignored; the walk stops at
        the first order changed before ``archived_from``. When the filter is ignored or refused,
        archived orders are found by id instead (``_archived_by_id``), once per
        ``ARCHIVED_EVERY`` (``archived_sweep_due``) however often the pass runs."""
        cutoff = transform.parse_iso(archived_from) - stream.cursor_overlap
        params = {**ORDER_EMBEDS, "is_deleted": "true", "sort": "date_modified:desc"}
        pages = client.pages(stream.path, V2PagePaginator(ARCHIVED_PAGE_SIZE), params, area=stream.name)
        try:
            for page in pages:
                raw_rows = page.records
                if any(not raw.get("is_deleted") for raw in raw_rows):
                    log.info("BigCommerce ignores the is_deleted filter: archived orders are read by id")
                    break
                recent = [raw for raw in raw_rows if (moment_of(raw.get("date_modified")) or cutoff) >= cutoff]
                if recent:
                    yield Page(records=[self._order(client, raw) for raw in recent])
                if len(recent) < len(raw_rows):
                    return  # older ones follow: the pass is done
            else:
                return
        except RecordError as error:
            log.info("BigCommerce refused the is_deleted filter (%s): archived orders are read by id", error.message)
        finally:
            pages.close()
        if archived_sweep_due(connection, now):
            yield from self._archived_by_id(client, stream, now, cutoff)

    def _archived_by_id(self, client, stream, now: datetime, cutoff: datetime) -> Iterator[Page]:
        """Archived orders where the store will not list them: the ids its listings leave out.

        The live orders (default view) and the Incomplete ones (``status_id=0``) are listed by id
        window; an id in neither is archived or deleted, and is read by id (a read by id shows
        every order, flagged). Beyond the highest and below the lowest listed id, ids are read
        until ``ARCHIVED_EDGE_MISSES`` in a row are not found. A pass checks at most
        ``ARCHIVED_SWEEP_IDS`` ids: a larger store is checked a segment per pass, in turn
        (``ARCHIVED_EVERY`` apart), so every archived order is found within a few passes: those
        changed since ``cutoff`` or since the segment's previous turn (with a turn to spare and
        ``ARCHIVED_LOOKBACK``), whichever is earlier, are emitted (older ones were emitted then)."""
        lowest = self._edge_order_id(client, "asc")
        highest = self._edge_order_id(client, "desc")
        if lowest is None or highest is None:
            return
        segments = -(-(highest - lowest + 1) // ARCHIVED_SWEEP_IDS)
        segment = int(now.timestamp() // ARCHIVED_EVERY.total_seconds()) % segments
        low = lowest + segment * ARCHIVED_SWEEP_IDS
        high = min(highest, low + ARCHIVED_SWEEP_IDS - 1)
        unlisted: list[int] = []
        for first in range(low, high + 1, ARCHIVED_WINDOW):
            last = min(high, first + ARCHIVED_WINDOW - 1)
            gaps = set(range(first, last + 1)) - self._listed_ids(client, stream, first, last, {})
            if gaps:
                gaps -= self._listed_ids(client, stream, first, last, {"status_id": INCOMPLETE_STATUS_ID})
            unlisted.extend(sorted(gaps))
        found = [raw for raw in (self._order_by_id(client, oid) for oid in unlisted) if raw]
        if segment == 0:
            found += self._beyond(client, lowest - 1, -1)
        if segment == segments - 1:
            found += self._beyond(client, highest + 1, 1)
        since = min(cutoff, now - (segments + 1) * ARCHIVED_EVERY - ARCHIVED_LOOKBACK)
        archived = [self._order(client, raw) for raw in found
                    if raw.get("is_deleted") and (moment_of(raw.get("date_modified")) or now) >= since]
        if archived:
            yield Page(records=archived)

    def _edge_order_id(self, client, direction: str) -> int | None:
        """The lowest or highest id among live and Incomplete orders (None: the store has none)."""
        ends = []
        for extra in ({}, {"status_id": INCOMPLETE_STATUS_ID}):
            found = client.get_json("/v2/orders", {"sort": f"id:{direction}", "limit": 1, "page": 1, **extra},
                                    area="orders")
            if isinstance(found, list) and found:
                ends.append(int(found[0]["id"]))
        if not ends:
            return None
        return min(ends) if direction == "asc" else max(ends)

    def _listed_ids(self, client, stream, first: int, last: int, extra: dict) -> set[int]:
        params = {"min_id": first, "max_id": last, "sort": "id:asc", **extra}
        listed: set[int] = set()
        for page in client.pages(stream.path, IdWindowPaginator(last - first + 1), params, area=stream.name):
            listed.update(int(raw["id"]) for raw in page.records if "id" in raw)
        return listed

    def _order_by_id(self, client, order_id: int) -> dict[str, Any] | None:
        found = client.get_json(f"/v2/orders/{order_id}", ORDER_EMBEDS, area="orders", missing_ok=True)
        return found if isinstance(found, dict) else None

    def _beyond(self, client, start: int, step: int) -> list[dict[str, Any]]:
        """Orders read by id from ``start`` outwards until ``ARCHIVED_EDGE_MISSES`` are not found."""
        found, misses, order_id = [], 0, start
        while misses < ARCHIVED_EDGE_MISSES and order_id > 0:
            raw = self._order_by_id(client, order_id)
            if raw is None:
                misses += 1
            else:
                misses = 0
                found.append(raw)
            order_id += step
        return found

    def _order(self, client: BigCommerceClient, raw: dict[str, Any]) -> dict[str, Any]:
        items, addresses = order_records.embedded_parts(raw)
        if items is None:
            items = self._sub_resource(client, raw["id"], "products")
        if addresses is None:
            addresses = self._sub_resource(client, raw["id"], "shipping_addresses")
        return order_records.order(raw, items, addresses)

    def _sub_resource(self, client: BigCommerceClient, order_id: int, name: str) -> list[dict]:
        found: list[dict] = []
        for page in client.pages(f"/v2/orders/{order_id}/{name}", V2_PAGES, area="orders"):
            found.extend(page.records)
        return found
