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

Every wait goes through ``RetryPolicy.sleep``: tests pass one that records instead of waiting.
"""

from __future__ import annotations

import copy
import email.utils
import logging
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, ClassVar
from urllib.parse import quote, urlsplit

import requests

from host.errors import ConfigurationError, RecordError, SyncError, TransientError
from host.sources import Page, Paginator, Source, Stream

if TYPE_CHECKING:
    from host.models import Connection

log = logging.getLogger(__name__)

URL_KEY = "@url"  # page parameters holding only this key: GET that absolute URL as it is
RETRYABLE_STATUSES = frozenset({429, 500, 502, 503, 504})
# A 5xx or a lost answer may come after the call took effect: only these are sent again then
# (a 429 is a refusal, retried whatever the method).
IDEMPOTENT_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "PUT", "DELETE"})


# ---------------------------------------------------------------------------- declarations
@dataclass(frozen=True)
class HttpStream(Stream):
    """A stream plus how its API filters it: by change date and by id, and where its rows are."""

    since_param: str | None = None  # e.g. "updated_since"; None: read whole, filtered here
    since_format: str = "%Y-%m-%dT%H:%M:%SZ"  # strftime of the filter value, in UTC
    ids_param: str | None = None  # e.g. "ids" (comma-separated); None: GET {path}/{id} each
    ids_per_call: int = 50  # keeps ``ids=`` URLs short
    records_field: str | None = "data"  # dotted path of the rows in a page; None: the body is


@dataclass
class RetryPolicy:
    """How often and how long to retry; tests pass a ``sleep`` that records instead of waiting."""

    max_attempts: int = 5  # per request, the first try included (5xx, timeouts, dropped connections)
    max_rate_limited_attempts: int = 10  # 429s are expected under load: more patience for them
    base_delay: float = 1.0
    max_delay: float = 60.0
    sleep: Callable[[float], None] = time.sleep
    jitter: Callable[[], float] | None = None  # e.g. random.random: waits between half and all

    def backoff(self, attempt: int) -> float:
        """The wait after the ``attempt``-th failure: doubling from ``base_delay``."""
        ceiling = min(self.max_delay, self.base_delay * 2 ** (attempt - 1))
        return ceiling if self.jitter is None else ceiling / 2 + self.jitter() * ceiling / 2


@dataclass(frozen=True)
class RateLimit:
    """The API's rate-limit headers. With ``remaining_header`` and ``reset_header`` declared, a
    call that leaves ``reserve`` requests or fewer makes the next one wait for the reset."""

    retry_after_header: str = "Retry-After"  # seconds or an HTTP date, on a 429 (or 503)
    remaining_header: str | None = None  # e.g. "X-RateLimit-Remaining"
    reset_header: str | None = None  # e.g. "X-RateLimit-Reset"
    reset_unit: str = "seconds"  # of the reset header: "seconds", "milliseconds" (both: from
    #                              now) or "epoch" (a Unix time)
    reserve: int = 0  # requests left for the account's other apps (the quota may be shared)

    def reset_in(self, headers: Mapping[str, str], now: float | None = None) -> float | None:
        """Seconds until the quota resets, from the reset header (None when absent)."""
        value = _number(headers.get(self.reset_header)) if self.reset_header else None
        if value is None:
            return None
        if self.reset_unit == "milliseconds":
            return max(0.0, value / 1000)
        if self.reset_unit == "epoch":
            return max(0.0, value - (time.time() if now is None else now))
        return max(0.0, value)

    def retry_after(self, headers: Mapping[str, str]) -> float | None:
        value = headers.get(self.retry_after_header)
        if not value:
            return None
        seconds = _number(value)
        if seconds is not None:
            return max(0.0, seconds)
        try:  # an HTTP date
            moment = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError):
            return None
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=UTC)
        return max(0.0, (moment - datetime.now(UTC)).total_seconds())


def _number(value: Any) -> float | None:
    try:
        return float(value) if value not in (None, "") else None
    except (TypeError, ValueError):
        return None


class Pacer:
    """The last rate-limit headers of one account: how long the next call must wait."""

    def __init__(self, limit: RateLimit, clock: Callable[[], float] = time.monotonic) -> None:
        self.limit, self.clock = limit, clock
        self._lock = threading.Lock()
        self._resume_at: float | None = None

    def observe(self, headers: Mapping[str, str]) -> None:
        if not (self.limit.remaining_header and self.limit.reset_header):
            return
        left = _number(headers.get(self.limit.remaining_header))
        if left is None:
            return
        reset = self.limit.reset_in(headers)
        with self._lock:
            spent = left <= self.limit.reserve and reset is not None
            self._resume_at = self.clock() + reset if spent else None

    def wait_needed(self) -> float:
        """Seconds to wait before the next call (0 while the quota has room); asked once."""
        with self._lock:
            resume_at, self._resume_at = self._resume_at, None
        return 0.0 if resume_at is None else max(0.0, resume_at - self.clock())

    def clear(self) -> None:
        """A retry waited already: the wait it covered is not waited twice."""
        with self._lock:
            self._resume_at = None


# ---------------------------------------------------------------------------- pages
@dataclass
class HttpPage:
    """One answered page, as paginators see it."""

    params: Mapping[str, Any]  # what was asked (the paginator's own parameters included)
    response: requests.Response
    body: Any  # the decoded JSON
    records: list[Any]  # the raw rows (``HttpSource.parse_page``)


def dig(body: Any, path: str | None) -> Any:
    """The value at a dotted ``path`` ("meta.next_cursor") of a decoded body (None if absent)."""
    if path is None:
        return body
    for part in path.split("."):
        if not isinstance(body, Mapping):
            return None
        body = body.get(part)
    return body


class HttpPaginator(Paginator):
    """A paginator whose page size comes from the stream: ``start(page_size)`` gives a fresh copy
    for one listing (so one may keep state while it walks). ``size_param`` None sends no size."""

    size_param: str | None = "limit"
    page_size: int | None = None

    def start(self, page_size: int) -> HttpPaginator:
        walker = copy.copy(self)
        walker.page_size = page_size
        return walker

    def _size(self) -> dict[str, Any]:
        return {self.size_param: self.page_size} if self.size_param and self.page_size else {}


class PageNumberPaginator(HttpPaginator):
    """``page=1, 2, …``. Ends at ``pages_field`` (the body's page count) when the API gives one,
    else at an empty page, or at a short one with ``short_page_ends`` (only where the API never
    serves fewer rows than asked: many cap the page size silently)."""

    def __init__(
        self,
        page_param: str = "page",
        size_param: str | None = "limit",
        *,
        first: int = 1,
        pages_field: str | None = None,
        short_page_ends: bool = False,
    ) -> None:
        self.page_param, self.size_param, self.first = page_param, size_param, first
        self.pages_field, self.short_page_ends = pages_field, short_page_ends

    def first_page(self) -> Mapping[str, Any]:
        return {self.page_param: self.first, **self._size()}

    def next_page(self, previous: Mapping[str, Any], response: HttpPage) -> Mapping[str, Any] | None:
        number = int(previous[self.page_param])
        if self.is_last(number, response):
            return None
        return {**previous, self.page_param: number + 1}

    def is_last(self, number: int, page: HttpPage) -> bool:
        pages = _number(dig(page.body, self.pages_field)) if self.pages_field else None
        if pages is not None:
            return number - self.first + 1 >= pages
        return not page.records or (
            self.short_page_ends and self.page_size is not None and len(page.records) < self.page_size
        )


class OffsetPaginator(HttpPaginator):
    """``offset=0, n, 2n, …`` (n: the rows the last page held). Ends at ``total_field`` (the
    body's row count) when the API gives one, else at an empty (or, as above, a short) page."""

    def __init__(
        self,
        offset_param: str = "offset",
        size_param: str | None = "limit",
        *,
        total_field: str | None = None,
        short_page_ends: bool = False,
    ) -> None:
        self.offset_param, self.size_param = offset_param, size_param
        self.total_field, self.short_page_ends = total_field, short_page_ends

    def first_page(self) -> Mapping[str, Any]:
        return {self.offset_param: 0, **self._size()}

    def next_page(self, previous: Mapping[str, Any], response: HttpPage) -> Mapping[str, Any] | None:
        offset = int(previous[self.offset_param]) + len(response.records)
        total = _number(dig(response.body, self.total_field)) if self.total_field else None
        if not response.records or (total is not None and offset >= total):
            return None
        if total is None and self.short_page_ends and len(response.records) < (self.page_size or 0):
            return None
        return {**previous, self.offset_param: offset}


class CursorPaginator(HttpPaginator):
    """An opaque token from each page (``token_field`` of the body, or ``token_header``) sent back
    as ``token_param``; no token ends the listing. Override ``next_token`` for other places."""

    def __init__(
        self,
        token_param: str = "cursor",
        token_field: str | None = "meta.next_cursor",
        size_param: str | None = "limit",
        *,
        token_header: str | None = None,
    ) -> None:
        self.token_param, self.token_field = token_param, token_field
        self.size_param, self.token_header = size_param, token_header

    def first_page(self) -> Mapping[str, Any]:
        return self._size()

    def next_page(self, previous: Mapping[str, Any], response: HttpPage) -> Mapping[str, Any] | None:
        token = self.next_token(response)
        if token in (None, "") or token == previous.get(self.token_param):
            return None  # no token, or the same one again (which would loop for ever)
        return {**previous, self.token_param: token}

    def next_token(self, page: HttpPage) -> Any:
        if self.token_header:
            return page.response.headers.get(self.token_header)
        return dig(page.body, self.token_field)


class NextLinkPaginator(HttpPaginator):
    """Follows the link to the next page as it is (it already holds the filters): ``link_field``
    of the body ("links.next"), or the ``Link: <…>; rel="next"`` header when that is None."""

    def __init__(self, link_field: str | None = "links.next", size_param: str | None = "limit") -> None:
        self.link_field, self.size_param = link_field, size_param

    def first_page(self) -> Mapping[str, Any]:
        return self._size()

    def next_page(self, previous: Mapping[str, Any], response: HttpPage) -> Mapping[str, Any] | None:
        link = self.next_link(response)
        return {URL_KEY: link} if link else None

    def next_link(self, page: HttpPage) -> str | None:
        if self.link_field is None:
            return (page.response.links.get("next") or {}).get("url")
        link = dig(page.body, self.link_field)
        return str(link) if link else None


# ---------------------------------------------------------------------------- the client
class HttpClient:
    """One read's session against one account: paced, retried, failures sorted by the source."""

    def __init__(self, source: HttpSource, base_url: str, auth: Any, timeout: Any, pacer: Pacer) -> None:
        self.source, self.base_url, self.timeout, self.pacer = source, base_url.rstrip("/"), timeout, pacer
        self.session = requests.Session()
        self.session.headers.update({"Accept": "application/json", "User-Agent": source.user_agent})
        if isinstance(auth, Mapping):
            self.session.headers.update(auth)
        else:
            self.session.auth = auth

    def __repr__(self) -> str:  # never shows the credentials
        return f"<HttpClient {self.base_url}>"

    def __enter__(self) -> HttpClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.session.close()

    def url(self, path: str) -> str:
        return self.base_url + path

    def request(
        self,
        method: str,
        path: str,
        params: Mapping[str, Any] | None = None,
        *,
        area: str | None = None,
        missing_ok: bool = False,
        **kwargs: Any,
    ) -> requests.Response:
        """One call, paced and retried; a final failure is raised as ``source.classify`` sorts it.
        ``path`` is relative to the base URL, or page parameters ``{URL_KEY: url}`` name the
        URL itself (a next link: only one under the base URL is followed, credentials and all).
        With ``missing_ok`` a 404 is answered rather than raised. A call that is not idempotent
        (POST, PATCH) is not sent again after a 5xx or a lost answer, only after a 429."""
        url = self.url(path)
        if params and URL_KEY in params:
            url, params = str(params[URL_KEY]), None
            if not _same_origin(url, self.base_url):
                raise RecordError(
                    f"{self.source.title} linked a page outside {self.base_url}: it is not followed",
                    area=area,
                )
        retry, limit = self.source.retry, self.source.rate_limit
        attempts = retry.max_attempts if method.upper() in IDEMPOTENT_METHODS else 1
        failures = rate_limited = 0
        while True:
            wait = self.pacer.wait_needed()
            if wait:
                log.info("%s quota spent: waiting %.1fs", self.source.title, wait)
                retry.sleep(min(wait, retry.max_delay))
            response = None
            try:
                response = self.session.request(method, url, params=params, timeout=self.timeout, **kwargs)
            except (requests.ConnectionError, requests.Timeout) as error:
                failures += 1
                if failures >= attempts:
                    raise self.source.unreachable(error, area) from error
                log.info("%s %s %s failed (%s); retrying", self.source.title, method, path, type(error).__name__)
                retry.sleep(retry.backoff(failures))
                continue
            self.pacer.observe(response.headers)
            status = response.status_code
            if status < 400 or (status == 404 and missing_ok):
                return response
            if status not in self.source.retry_statuses:
                raise self.source.classify(response, area)
            if status == 429:
                rate_limited += 1
                if rate_limited >= retry.max_rate_limited_attempts:
                    raise self.source.classify(response, area)
                told = limit.retry_after(response.headers)
                told = limit.reset_in(response.headers) if told is None else told
                wait = retry.backoff(rate_limited) if told is None else min(retry.max_delay, told)
            else:
                failures += 1
                if failures >= attempts:
                    raise self.source.classify(response, area)
                told = limit.retry_after(response.headers)
                wait = retry.backoff(failures) if told is None else min(retry.max_delay, told)
            log.info("%s %s %s answered %s; retrying in %.1fs", self.source.title, method, path, status, wait)
            retry.sleep(wait)
            self.pacer.clear()

    def get_json(
        self, path: str, params: Mapping[str, Any] | None = None, *, area: str | None = None,
        missing_ok: bool = False,
    ) -> Any:
        """The decoded body of a GET (None for an empty answer, and a 404 with ``missing_ok``)."""
        response = self.request("GET", path, params, area=area, missing_ok=missing_ok)
        if response.status_code in (204, 404) or not response.content:
            return None
        try:
            return response.json()
        except ValueError as error:
            raise TransientError(
                f"{self.source.title} answered something other than JSON; the sync will try again "
                "at the next cycle.",
                area=area,
            ) from error


def _same_origin(url: str, base_url: str) -> bool:
    link, base = urlsplit(url), urlsplit(base_url)
    return (link.scheme, link.netloc) == (base.scheme, base.netloc) and link.path.startswith(base.path)


# ---------------------------------------------------------------------------- the source
class HttpSource(Source):
    """A source that reads ``HttpStream`` declarations over HTTP (see the module docstring).

    Fill in ``streams``, ``base_url``, ``auth`` and ``transform``; override any other method
    where your API differs (``parse_page``, ``format_since``, ``classify`` and its messages,
    ``invalid_record``). ``retry`` is per instance: tests swap in one that does not wait."""

    rate_limit: ClassVar[RateLimit] = RateLimit()
    retry_statuses: ClassVar[frozenset[int]] = RETRYABLE_STATUSES
    user_agent: ClassVar[str] = "connector-host"

    def __init__(self, retry: RetryPolicy | None = None) -> None:
        self.retry = retry or RetryPolicy()
        self._pacers: dict[str, Pacer] = {}
        self._pacers_lock = threading.Lock()

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
            if ids is not None:
                yield from self._read_ids(client, declared, connection, [str(i) for i in ids])
                return
            params = dict(declared.params)
            if since and declared.since_param:
                params[declared.since_param] = self.since_value(declared, since)
            keep = self._since_filter(declared, since) if since and not declared.since_param else None
            for rows in self.listing(client, declared, params):
                records = [self._canonical(declared, raw, connection) for raw in rows]
                if keep is not None:
                    records = [record for record in records if keep(record)]
                if records:
                    yield Page(records=records)

    def open(self, connection: Connection) -> HttpClient:
        """A client for this connection (close it: ``with source.open(connection) as client``)."""
        base_url = self.base_url(connection)
        return HttpClient(self, base_url, self.auth(connection), self.timeout(connection), self.pacer(base_url))

    def pacer(self, base_url: str) -> Pacer:
        """One pacer per account (base URL), shared by its reads: the quota is the account's."""
        with self._pacers_lock:
            return self._pacers.setdefault(base_url, Pacer(self.rate_limit))

    def listing(
        self, client: HttpClient, stream: HttpStream, params: Mapping[str, Any]
    ) -> Iterator[list[Any]]:
        """The raw rows of every page of one listing, as the stream's paginator walks it."""
        paginator = stream.paginator
        if isinstance(paginator, HttpPaginator):
            paginator = paginator.start(stream.page_size)
        page_params: Mapping[str, Any] | None = paginator.first_page() if paginator else {}
        while page_params is not None:
            asked = {**params, **page_params}
            response = client.request("GET", stream.path, asked, area=stream.name)
            body = self._decode(response, stream)
            rows = self.parse_page(stream, body, response)
            yield rows
            if paginator is None:
                return
            page_params = paginator.next_page(page_params, HttpPage(asked, response, body, rows))

    def parse_page(self, stream: HttpStream, body: Any, response: requests.Response) -> list[Any]:
        """The raw rows of one page: ``stream.records_field`` of the body, or the body itself
        when it is a list."""
        if isinstance(body, list):
            return body
        rows = dig(body, stream.records_field)
        return list(rows) if isinstance(rows, list) else []

    def parse_record(self, stream: HttpStream, body: Any) -> Any:
        """The raw row of a ``{path}/{id}`` answer: ``records_field`` of it when present."""
        inner = dig(body, stream.records_field) if isinstance(body, Mapping) else None
        return inner if isinstance(inner, Mapping) else body

    def _read_ids(self, client, stream: HttpStream, connection, ids: list[str]) -> Iterator[Page]:
        if stream.ids_param:
            for start in range(0, len(ids), stream.ids_per_call):
                chunk = ",".join(ids[start : start + stream.ids_per_call])
                for rows in self.listing(client, stream, {**stream.params, stream.ids_param: chunk}):
                    if rows:
                        yield Page(records=[self._canonical(stream, raw, connection) for raw in rows])
            return
        for start in range(0, len(ids), stream.ids_per_call):
            found = []
            for record_id in ids[start : start + stream.ids_per_call]:
                path = f"{stream.path}/{quote(record_id, safe='')}"
                body = client.get_json(path, stream.params, area=stream.name, missing_ok=True)
                if body is not None:  # None: deleted since it was named
                    found.append(self._canonical(stream, self.parse_record(stream, body), connection))
            if found:
                yield Page(records=found)

    def _decode(self, response: requests.Response, stream: HttpStream) -> Any:
        if response.status_code == 204 or not response.content:
            return None
        try:
            return response.json()
        except ValueError as error:
            raise TransientError(
                f"{self.title} answered a page of {stream.name} that is not JSON; the sync will "
                "try again at the next cycle.",
                area=stream.name,
            ) from error

    def _canonical(self, stream: HttpStream, raw: Any, connection: Connection) -> dict[str, Any]:
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


def _instant(value: str) -> datetime:
    parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


__all__ = [
    "URL_KEY",
    "CursorPaginator",
    "HttpClient",
    "HttpPage",
    "HttpPaginator",
    "HttpSource",
    "HttpStream",
    "NextLinkPaginator",
    "OffsetPaginator",
    "PageNumberPaginator",
    "Pacer",
    "RateLimit",
    "RetryPolicy",
    "dig",
]
