"""``HttpSource``: the one loop that reads declared streams from an HTTP API.

A source built on it declares its streams (``HttpStream``: path, params, paginator, page size,
cursor field and overlap, the names of its filter parameters) and fills in a few small methods:
where the API is (``base_url``), how a call proves who it is (``auth``) and how a raw record
becomes a canonical one (``transform``). The loop does the rest, the same way for every source:

- the filters: an incremental read sends ``since_param`` = the cursor minus the stream's
  ``cursor_overlap`` (``format_since``); a stream without one is read whole and filtered on its
  ``cursor_field`` here; a read by id sends ``ids_param`` (``ids_per_call`` ids a call) or,
  without one, GETs ``{path}/{id}`` for each id (a 404 is a record gone);
- the pages, as the stream's paginator walks them (``PageNumberPaginator``,
  ``OffsetPaginator``, ``CursorPaginator``, ``NextLinkPaginator``; each takes the stream's
  ``page_size`` and can be subclassed), the rows of each found by ``parse_page``;
- retries (``RetryPolicy``): 429 waits ``Retry-After`` (or the declared reset header), 5xx,
  timeouts and dropped connections back off exponentially, each a bounded number of times;
- pacing (``RateLimit``): when the declared "requests left" header runs down to the reserve,
  the next call waits until the declared reset;
- the sorting of failures (``classify``): 401 and 403 are a ``ConfigurationError``, what
  outlived its retries a ``TransientError``, any other refusal a ``RecordError``;
- a record ``transform`` cannot make sense of is passed on, never dropped nor raised
  (``invalid_record``): the host fails just that one in its ledger, with the reason.

And, for an API that needs them, parts a source switches on or swaps: the next page read ahead
on a thread (``read_ahead``), page sizes learned per endpoint from "over the limit" refusals
(``page_size_param``, ``refused_page_size``), its own JSON decoder (``decode_json``), keyset
walks over change dates (``KeysetPaginator``) and listings read again when they shrank
(``RereadWhenShrunkPaginator``). One ``requests.Session`` (its connection pool), one pacer and
the learned page sizes are kept per account (``Account``) and shared by its reads.

Every wait goes through ``RetryPolicy.sleep``: tests pass one that records instead of waiting.
The parts live in small modules, all importable from here: ``http_paging`` (pages, the four
paginators), ``http_walks`` (keyset and re-read walks), ``http_pacing`` (retries, rate limits)
and ``http_client`` (the client and what an account's reads share).
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, ClassVar
from urllib.parse import quote

import requests

from host.errors import ConfigurationError, RecordError, SyncError, TransientError
from host.http_client import Account, HttpClient, PageSizes, ReadStopped
from host.http_pacing import RETRYABLE_STATUSES, Pacer, RateLimit, RetryPolicy
from host.http_paging import (
    URL_KEY,
    CursorPaginator,
    HttpPage,
    HttpPaginator,
    NextLinkPaginator,
    OffsetPaginator,
    PageNumberPaginator,
    _instant,
    dig,
)
from host.http_walks import KeysetPaginator, RereadWhenShrunkPaginator
from host.sources import Page, Paginator, Source, Stream

if TYPE_CHECKING:
    from host.models import Connection

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class HttpStream(Stream):
    """A stream plus how its API filters it: by change date and by id, and where its rows are."""

    since_param: str | None = None  # e.g. "updated_since"; None: read whole, filtered here
    since_format: str = "%Y-%m-%dT%H:%M:%SZ"  # strftime of the filter value, in UTC
    ids_param: str | None = None  # e.g. "ids" (comma-separated); None: GET {path}/{id} each
    ids_per_call: int = 50  # keeps ``ids=`` URLs short
    records_field: str | None = "data"  # dotted path of the rows in a page; None: the body is
    ids_paginator: Paginator | None = None  # pages of a read by ``ids_param``; None: ``paginator``



# ---------------------------------------------------------------------------- the source
class HttpSource(Source):
    """A source that reads ``HttpStream`` declarations over HTTP (see the module docstring).

    Fill in ``streams``, ``base_url``, ``auth`` and ``transform``; override any other method
    where your API differs (``parse_page``, ``format_since``, ``classify`` and its messages,
    ``invalid_record``, ``transform_page``, ``read_listing``, ``read_ids``, ``decode_json``,
    ``refused_page_size``). ``retry`` is per instance: tests swap in one that does not wait."""

    rate_limit: ClassVar[RateLimit] = RateLimit()
    retry_statuses: ClassVar[frozenset[int]] = RETRYABLE_STATUSES
    user_agent: ClassVar[str] = "connector-host"
    read_ahead: ClassVar[bool] = False  # ask for the next page on a thread while this one is read
    # The query parameter of a page's size: declared, the sizes an endpoint serves are learned
    # (``refused_page_size``, ``per_page_field``: the dotted path of the size a page says it served).
    page_size_param: ClassVar[str | None] = None
    per_page_field: ClassVar[str | None] = None

    def __init__(self, retry: RetryPolicy | None = None) -> None:
        self.retry = retry or RetryPolicy()
        self._accounts: dict[str, Account] = {}
        self._accounts_lock = threading.Lock()

    # ------------------------------------------------------------------ what a source fills in
    def base_url(self, connection: Connection) -> str:
        """The API root of this connection's account; stream paths are relative to it."""
        raise NotImplementedError

    def auth(self, connection: Connection) -> Mapping[str, str] | requests.auth.AuthBase | None:
        """Headers for every call (``{"X-Api-Key": ...}``), or a ``requests`` auth object. Raise
        ``ConfigurationError`` when the connection holds no usable credentials."""
        return None

    def timeout(self, connection: Connection) -> float | tuple[float, float]:
        return 30.0

    def transform(self, stream: HttpStream, raw: Any, connection: Connection) -> dict[str, Any]:
        """One raw row → one canonical record (``host.records``). It may raise on a row it cannot
        read: the row is passed on as an invalid record (``invalid_record``)."""
        return dict(raw)

    # ------------------------------------------------------------------ the loop
    def read(
        self,
        connection: Connection,
        stream: Stream,
        *,
        since: str | None = None,
        ids: Sequence[str] | None = None,
    ) -> Iterator[Page]:
        declared = self.stream(stream.name)  # our own declaration, with its filters
        assert isinstance(declared, HttpStream), f"{declared.name}: declare it as an HttpStream"
        with self.open(connection) as client:
            if ids is None:
                yield from self.read_listing(client, declared, connection, since)
            else:
                yield from self.read_ids(client, declared, connection, [str(i) for i in ids])

    def read_listing(
        self, client: HttpClient, stream: HttpStream, connection: Connection, since: str | None
    ) -> Iterator[Page]:
        """A full (``since`` None) or incremental read: the stream's listing, page by page."""
        keep = self._since_filter(stream, since) if since and not stream.since_param else None
        for rows in self.listing(client, stream, self.listing_params(stream, since)):
            records = self.transform_page(client, stream, rows, connection) if rows else []
            if keep is not None:
                records = [record for record in records if keep(record)]
            if records:
                yield Page(records=records)

    def listing_params(self, stream: HttpStream, since: str | None) -> dict[str, Any]:
        """The stream's fixed parameters, and its change-date filter for an incremental read."""
        params = dict(stream.params)
        if since and stream.since_param:
            params[stream.since_param] = self.since_value(stream, since)
        return params

    def transform_page(
        self, client: HttpClient, stream: HttpStream, rows: list[Any], connection: Connection
    ) -> list[dict[str, Any]]:
        """The canonical records of one page's raw rows. Override where rows lack what a record
        needs and a few calls a page (``client``) fetch it."""
        return [self.canonical(stream, raw, connection) for raw in rows]

    def open(self, connection: Connection) -> HttpClient:
        """A client for this connection (close it: ``with source.open(connection) as client``)."""
        base_url = self.base_url(connection)
        return HttpClient(self, base_url, self.auth(connection), self.timeout(connection))

    def account(self, base_url: str) -> Account:
        """One session, pacer and set of learned page sizes per account (base URL), shared by its
        reads: the connections are reused, and the quota is the account's."""
        with self._accounts_lock:
            if base_url not in self._accounts:
                self._accounts[base_url] = Account(self)
            return self._accounts[base_url]

    def listing(
        self, client: HttpClient, stream: HttpStream, params: Mapping[str, Any],
        paginator: Paginator | None = None,
    ) -> Iterator[list[Any]]:
        """The raw rows of every page of one listing, as the stream's paginator (or ``paginator``)
        walks it."""
        walker = paginator or stream.paginator
        return client.listing(stream.path, walker, params, area=stream.name, stream=stream)

    def parse_page(self, stream: HttpStream | None, body: Any, response: requests.Response) -> list[Any]:
        """The raw rows of one page: ``stream.records_field`` of the body (``data`` for a page
        read without a stream), or the body itself when it is a list."""
        if isinstance(body, list):
            return body
        rows = dig(body, stream.records_field if stream else "data")
        return list(rows) if isinstance(rows, list) else []

    def parse_record(self, stream: HttpStream, body: Any) -> Any:
        """The raw row of a ``{path}/{id}`` answer: ``records_field`` of it when present."""
        inner = dig(body, stream.records_field) if isinstance(body, Mapping) else None
        return inner if isinstance(inner, Mapping) else body

    def read_ids(self, client: HttpClient, stream: HttpStream, connection: Connection, ids: list[str]) -> Iterator[Page]:
        """A read by id: ``ids_param`` with ``ids_per_call`` ids a call (paged by ``ids_paginator``
        or the stream's own), or one ``GET {path}/{id}`` per id (a 404: gone)."""
        if stream.ids_param:
            for start in range(0, len(ids), stream.ids_per_call):
                chunk = ",".join(ids[start : start + stream.ids_per_call])
                params = {**stream.params, stream.ids_param: chunk}
                for rows in self.listing(client, stream, params, stream.ids_paginator):
                    if rows:
                        yield Page(records=self.transform_page(client, stream, rows, connection))
            return
        for start in range(0, len(ids), stream.ids_per_call):
            found = []
            for record_id in ids[start : start + stream.ids_per_call]:
                path = f"{stream.path}/{quote(record_id, safe='')}"
                body = client.get_json(path, stream.params, area=stream.name, missing_ok=True)
                if body is not None:  # None: deleted since it was named
                    found.append(self.parse_record(stream, body))
            if found:
                yield Page(records=self.transform_page(client, stream, found, connection))

    def decode(self, response: requests.Response, area: str | None) -> Any:
        """The decoded body of an answer (None when empty); not JSON is a transient failure."""
        if response.status_code == 204 or not response.content:
            return None
        try:
            return self.decode_json(response.content)
        except ValueError as error:
            raise TransientError(
                f"{self.title} answered something other than JSON; the sync will try again at the "
                "next cycle.",
                area=area,
            ) from error

    def decode_json(self, content: bytes) -> Any:
        """JSON bytes → Python; swap in a faster decoder (it raises ``ValueError`` on bad JSON)."""
        return json.loads(content)

    def refused_page_size(self, response: requests.Response) -> int | None:
        """For an answer refusing a call's page size as too large: the maximum it names (0 when
        it names none: half is asked); None when it refuses something else. Only asked with
        ``page_size_param`` declared."""
        return 0 if response.status_code == 413 else None

    def canonical(self, stream: HttpStream, raw: Any, connection: Connection) -> dict[str, Any]:
        """``transform`` of one row, or ``invalid_record`` when it raised."""
        try:
            return self.transform(stream, raw, connection)
        except Exception as error:  # noqa: BLE001 (one unreadable row must not stop the read)
            log.warning("%s %s: a row could not be read (%s): passed on as invalid",
                        self.title, stream.name, type(error).__name__)
            return self.invalid_record(stream, raw, error)

    def invalid_record(self, stream: HttpStream, raw: Any, error: Exception) -> dict[str, Any]:
        """What a row ``transform`` raised on becomes: its key alone, which the host's validation
        refuses (every canonical kind requires more), so that just this record is failed."""
        key = raw.get(stream.primary_key) if isinstance(raw, Mapping) else None
        return {stream.primary_key: None if key is None else str(key)}

    # ------------------------------------------------------------------ the cursor
    def since_value(self, stream: HttpStream, since: str) -> str:
        """The change-date filter: the cursor minus the stream's overlap, as the API writes it."""
        return self.format_since(stream, _instant(since) - stream.cursor_overlap)

    def format_since(self, stream: HttpStream, moment: datetime) -> str:
        return moment.astimezone(UTC).strftime(stream.since_format)

    def _since_filter(self, stream: HttpStream, since: str) -> Callable[[dict[str, Any]], bool] | None:
        """For an API that cannot filter by change date: keep records changed at or after the
        cursor minus the overlap (and any whose date cannot be read: the host judges those)."""
        if not stream.cursor_field:
            return None
        start = _instant(since) - stream.cursor_overlap

        def keep(record: dict[str, Any]) -> bool:
            try:
                return _instant(str(record[stream.cursor_field])) >= start
            except (KeyError, ValueError):
                return True

        return keep

    # ------------------------------------------------------------------ sorting failures
    def classify(self, response: requests.Response, area: str | None) -> SyncError:
        """The error to raise for a failed answer (after the retries, for retryable ones)."""
        status = response.status_code
        if status == 401:
            return ConfigurationError(self.unauthorized_message(area), area=area, code=f"{self.name}_unauthorized")
        if status == 403:
            return ConfigurationError(self.forbidden_message(area), area=area, code=f"{self.name}_forbidden")
        if status in self.retry_statuses:
            return TransientError(
                f"{self.title} kept answering {status}; the sync will try again at the next cycle.",
                area=area,
            )
        return RecordError(f"{self.title} refused the request: HTTP {status}", area=area)

    def unreachable(self, error: Exception, area: str | None) -> TransientError:
        return TransientError(
            f"{self.title} could not be reached; the sync will try again at the next cycle.", area=area
        )

    def unauthorized_message(self, area: str | None) -> str:
        return f"{self.title} no longer accepts this store's credentials: connect the store again."

    def forbidden_message(self, area: str | None) -> str:
        return f"{self.title} does not let this store's credentials read {area}: grant that access."



__all__ = [
    "URL_KEY",
    "Account",
    "CursorPaginator",
    "HttpClient",
    "HttpPage",
    "HttpPaginator",
    "HttpSource",
    "HttpStream",
    "KeysetPaginator",
    "NextLinkPaginator",
    "OffsetPaginator",
    "PageNumberPaginator",
    "PageSizes",
    "Pacer",
    "RateLimit",
    "ReadStopped",
    "RereadWhenShrunkPaginator",
    "RetryPolicy",
    "dig",
]
