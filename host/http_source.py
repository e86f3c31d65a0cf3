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
"""

from __future__ import annotations

import copy
import email.utils
import json
import logging
import re
import threading
import time
from array import array
from bisect import bisect_left
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
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
    ids_paginator: Paginator | None = None  # pages of a read by ``ids_param``; None: ``paginator``


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


_ID_SEGMENT = re.compile(r"/\d+(?=/|$)")


class PageSizes:
    """The page sizes one account's endpoints were found to serve: an API may refuse a size above
    its maximum or serve fewer rows than asked, and later calls then ask what it serves. An
    endpoint is its path with numeric ids folded (``/orders/{id}/items``). Thread-safe."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._max: dict[str, int] = {}  # the largest size the endpoint accepts / serves
        self._served: dict[str, int] = {}  # the largest page it served

    @staticmethod
    def endpoint(path: str) -> str:
        return _ID_SEGMENT.sub("/{id}", path)

    def size_for(self, path: str, wanted: int) -> int:
        with self._lock:
            known = self._max.get(self.endpoint(path))
        return min(wanted, known) if known else wanted

    def refused(self, path: str, sent: int, named: int) -> int | None:
        """The smaller size to ask after ``sent`` was refused: the maximum the answer ``named``,
        else half (None: nothing smaller to ask); the endpoint's later calls ask it too."""
        smaller = named if 0 < named < sent else sent // 2
        if smaller < 1:
            return None
        with self._lock:
            key = self.endpoint(path)
            self._max[key] = min(self._max.get(key, smaller), smaller)
        return smaller

    def observe(self, path: str, sent: int | None, count: int, per_page: Any = None) -> int:
        """A page of ``count`` rows answered a call for ``sent`` (``per_page``: the size the API
        says it served). Returns the largest page the endpoint served before this one."""
        with self._lock:
            key = self.endpoint(path)
            before = self._served.get(key, 0)
            self._served[key] = max(before, count)
            if sent and isinstance(per_page, int) and 0 < per_page < sent:
                self._max[key] = min(self._max.get(key, per_page), per_page)
        return before


class Account:
    """What the reads of one account share: one ``requests.Session`` (its connection pool), the
    pacer of its quota and the page sizes learned from it."""

    def __init__(self, source: HttpSource) -> None:
        self.session = requests.Session()
        self.session.headers.update({"Accept": "application/json", "User-Agent": source.user_agent})
        self.pacer = Pacer(source.rate_limit)
        self.page_sizes = PageSizes()


class ReadStopped(Exception):
    """The listing that asked for this page was closed: the page is no longer wanted."""


# ---------------------------------------------------------------------------- pages
@dataclass
class HttpPage:
    """One answered page, as paginators see it."""

    params: Mapping[str, Any]  # what was asked (the paginator's own parameters included)
    response: requests.Response
    body: Any  # the decoded JSON
    records: list[Any]  # the raw rows (``HttpSource.parse_page``)
    served_before: int | None = None  # with learned page sizes: the largest page served before


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
    for one listing (``begin`` sets up its state, so one may keep state while it walks; None
    keeps its own size). ``size_param`` None sends no size. ``new_rows`` gives the rows of a page
    not given before: a paginator that reads rows again (a keyset, a second pass) drops them."""

    size_param: str | None = "limit"
    page_size: int | None = None

    def start(self, page_size: int | None = None) -> HttpPaginator:
        walker = copy.copy(self)
        if page_size:
            walker.page_size = page_size
        walker.begin()
        return walker

    def begin(self) -> None:
        """Fresh state for one listing (a copy shares the declaration's until this runs)."""

    def new_rows(self, page: HttpPage) -> list[Any]:
        return page.records

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


class KeysetPaginator(HttpPaginator):
    """Walks a listing sorted by change date by keyset, not by offset: offset pages shift under a
    long read (a row changed meanwhile jumps to the end, every later one moves back a place and
    the one at the next page boundary is never seen). Each next page asks again from the last
    row's date (``since_param``, inclusive) and drops the rows already given at that date. A
    whole page sharing one date cannot move that boundary: that date is paged by offset within
    ``since_param = T, until_param = T + step`` (right whether the API's ``until`` is inclusive
    or not), and the walk goes on after it. ``offsets`` pages one query and says when it ends;
    override ``moment`` and ``format_moment`` for dates not written in ISO 8601."""

    step = timedelta(seconds=1)  # the dates' precision: nothing lies between two steps

    def __init__(
        self,
        offsets: HttpPaginator,
        since_param: str,
        until_param: str,
        *,
        cursor_field: str = "date_modified",
        key_field: str = "id",
    ) -> None:
        self.offsets, self.since_param, self.until_param = offsets, since_param, until_param
        self.cursor_field, self.key_field = cursor_field, key_field
        self.page_size = offsets.page_size
        self.begin()

    def start(self, page_size: int | None = None) -> KeysetPaginator:
        walker = super().start(page_size)
        walker.offsets = self.offsets.start(page_size)
        return walker

    def begin(self) -> None:
        self.boundary: datetime | None = None  # the date of the latest row given
        self.at_boundary: set[Any] = set()  # the keys given at that date
        self.paging_a_tie = False
        self._taken: tuple[Any, list[Any]] = (None, [])

    def moment(self, value: Any) -> datetime | None:
        try:
            return _instant(str(value)) if value else None
        except ValueError:
            return None

    def format_moment(self, moment: datetime) -> str:
        return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")

    def first_page(self) -> Mapping[str, Any]:
        return self.offsets.first_page()

    def new_rows(self, page: HttpPage) -> list[Any]:
        if self._taken[0] is not page.response:  # decided once per page, however often asked
            self._taken = (page.response, self._take(page.records))
        return self._taken[1]

    def _take(self, rows: list[Any]) -> list[Any]:
        fresh = []
        for row in rows:
            moment, key = self.moment(row.get(self.cursor_field)), row.get(self.key_field)
            if moment is not None and (self.boundary is None or moment > self.boundary):
                self.boundary, self.at_boundary = moment, set()
            if moment is not None and moment == self.boundary:
                if key in self.at_boundary:
                    continue
                self.at_boundary.add(key)
            fresh.append(row)
        return fresh

    def next_page(self, previous: Mapping[str, Any], response: HttpPage) -> Mapping[str, Any] | None:
        self.new_rows(response)  # the boundary must include this page
        following = self.offsets.next_page(previous, response)
        if self.paging_a_tie:
            if following is not None:
                return following  # keeps the tied window
            self.paging_a_tie = False
            return self._from(self.boundary + self.step)
        if self.boundary is None:  # rows without dates: nothing to key on
            return following
        if following is None or not response.records:
            return None
        if self.moment(response.records[0].get(self.cursor_field)) == self.boundary:
            self.paging_a_tie = True  # a whole page at one date
            return {**self._from(self.boundary), self.until_param: self.format_moment(self.boundary + self.step)}
        return self._from(self.boundary)

    def _from(self, moment: datetime) -> dict[str, Any]:
        return {**self.offsets.first_page(), self.since_param: self.format_moment(moment)}


class RereadWhenShrunkPaginator(HttpPaginator):
    """Pages (``offsets``) over a listing kept in a stable order, e.g. by id, that no change
    reorders but a deletion shifts: every row after it moves back a place, and the one at the
    next page boundary would be skipped. When the listing's row count (``total_field``) drops
    during a pass, it is read again from its first page (up to ``max_passes``); rows given
    unchanged (same ``key_fields``) are not given twice. What was given is kept as 8-byte hashes:
    200,000 rows cost 1.6 MB."""

    def __init__(
        self, offsets: HttpPaginator, total_field: str, *, key_fields: Sequence[str] = ("id",), max_passes: int = 3
    ) -> None:
        self.offsets, self.total_field, self.key_fields = offsets, total_field, tuple(key_fields)
        self.max_passes, self.page_size = max_passes, offsets.page_size
        self.begin()

    def start(self, page_size: int | None = None) -> RereadWhenShrunkPaginator:
        walker = super().start(page_size)
        walker.offsets = self.offsets.start(page_size)
        return walker

    def begin(self) -> None:
        self.earlier = array("q")  # sorted: given by the passes before this one
        self.this_pass = array("q")  # given by this pass
        self.previous_page: set[int] = set()  # an insertion may repeat the page before's rows
        self.pass_total: int | None = None
        self.shrunk, self.passes = False, 1
        self._taken: tuple[Any, list[Any]] = (None, [])

    def first_page(self) -> Mapping[str, Any]:
        return self.offsets.first_page()

    def _given_earlier(self, key: int) -> bool:
        at = bisect_left(self.earlier, key)
        return at < len(self.earlier) and self.earlier[at] == key

    def new_rows(self, page: HttpPage) -> list[Any]:
        if self._taken[0] is not page.response:
            fresh, keys = [], set()
            for row in page.records:
                key = hash(tuple(row.get(field) for field in self.key_fields))
                if key in keys or key in self.previous_page or self._given_earlier(key):
                    continue
                keys.add(key)
                self.this_pass.append(key)
                fresh.append(row)
            self.previous_page = keys
            self._taken = (page.response, fresh)
        return self._taken[1]

    def next_page(self, previous: Mapping[str, Any], response: HttpPage) -> Mapping[str, Any] | None:
        self.new_rows(response)
        total = _number(dig(response.body, self.total_field))
        if total is not None:
            self.shrunk = self.shrunk or (self.pass_total is not None and total < self.pass_total)
            self.pass_total = int(total)
        following = self.offsets.next_page(previous, response)
        if following is None and self.shrunk and self.passes < self.max_passes:
            self.earlier = array("q", sorted([*self.earlier, *self.this_pass]))
            self.this_pass, self.previous_page = array("q"), set()
            self.passes, self.pass_total, self.shrunk = self.passes + 1, None, False
            return self.first_page()
        return following


# ---------------------------------------------------------------------------- the client
class HttpClient:
    """One read's session against one account: paced, retried, failures sorted by the source.
    It talks through the account's shared ``requests.Session``; the credentials go with each call."""

    def __init__(
        self, source: HttpSource, base_url: str, auth: Any, timeout: Any, account: Account | None = None
    ) -> None:
        self.source, self.base_url, self.timeout = source, base_url.rstrip("/"), timeout
        self.account = account or source.account(self.base_url)
        self.session, self.pacer = self.account.session, self.account.pacer
        self._headers = dict(auth) if isinstance(auth, Mapping) else {}
        self._auth = None if isinstance(auth, Mapping) else auth

    def __repr__(self) -> str:  # never shows the credentials
        return f"<{type(self).__name__} {self.base_url}>"

    def __enter__(self) -> HttpClient:
        return self

    def __exit__(self, *exc: object) -> None:
        """The session is the account's, kept for its next reads (connection reuse)."""

    @property
    def retry(self) -> RetryPolicy:
        return self.source.retry

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
        cancelled: threading.Event | None = None,
        **kwargs: Any,
    ) -> requests.Response:
        """One call, paced and retried; a final failure is raised as ``source.classify`` sorts it.
        ``path`` is relative to the base URL, or page parameters ``{URL_KEY: url}`` name the
        URL itself (a next link: only one under the base URL is followed, credentials and all).
        With ``missing_ok`` a 404 is answered rather than raised. A call that is not idempotent
        (POST, PATCH) is not sent again after a 5xx or a lost answer, only after a 429. Once
        ``cancelled`` is set (a page read ahead for a listing since closed) no further wait or
        attempt is made: ``ReadStopped`` is raised. With ``source.page_size_param`` declared, a
        GET asks at most the page size learned for its endpoint, and asks again smaller when
        refused as over the limit; the size sent is kept as ``response.page_size_sent``."""
        url = self.url(path)
        if params and URL_KEY in params:
            url, params = str(params[URL_KEY]), None
            if not _same_origin(url, self.base_url):
                raise RecordError(
                    f"{self.source.title} linked a page outside {self.base_url}: it is not followed",
                    area=area,
                )
        source, retry, limit = self.source, self.source.retry, self.source.rate_limit
        size_param = source.page_size_param
        sent = self._page_size(path, params) if method.upper() == "GET" else None
        if sent is not None and params is not None and str(params[size_param]) != str(sent):
            params = {**params, size_param: sent}
        headers = {**self._headers, **(kwargs.pop("headers", None) or {})}
        attempts = retry.max_attempts if method.upper() in IDEMPOTENT_METHODS else 1
        failures = rate_limited = 0
        while True:
            wait = self.pacer.wait_needed()
            if wait:
                log.info("%s quota spent: waiting %.1fs", source.title, wait)
                self._sleep(min(wait, retry.max_delay), cancelled)
            if cancelled is not None and cancelled.is_set():
                raise ReadStopped
            try:
                response = self.session.request(
                    method, url, params=params, headers=headers, auth=self._auth, timeout=self.timeout, **kwargs
                )
            except (requests.ConnectionError, requests.Timeout) as error:
                failures += 1
                if failures >= attempts:
                    raise source.unreachable(error, area) from error
                log.info("%s %s %s failed (%s); retrying", source.title, method, path, type(error).__name__)
                self._sleep(retry.backoff(failures), cancelled)
                continue
            self.pacer.observe(response.headers)
            status = response.status_code
            if status < 400 or (status == 404 and missing_ok):
                response.page_size_sent = sent
                return response
            if status not in source.retry_statuses:
                smaller = self._smaller_page(path, sent, response)
                if smaller is None:
                    raise source.classify(response, area)
                log.info("%s %s %s refused %s a page; asking %s", source.title, method, path, sent, smaller)
                sent, params = smaller, {**(params or {}), size_param: smaller}
                continue
            if status == 429:
                rate_limited += 1
                if rate_limited >= retry.max_rate_limited_attempts:
                    raise source.classify(response, area)
                told = limit.retry_after(response.headers)
                told = limit.reset_in(response.headers) if told is None else told
                wait = retry.backoff(rate_limited) if told is None else min(retry.max_delay, told)
            else:
                failures += 1
                if failures >= attempts:
                    raise source.classify(response, area)
                told = limit.retry_after(response.headers)
                wait = retry.backoff(failures) if told is None else min(retry.max_delay, told)
            log.info("%s %s %s answered %s; retrying in %.1fs", source.title, method, path, status, wait)
            self._sleep(wait, cancelled)
            self.pacer.clear()

    def _page_size(self, path: str, params: Mapping[str, Any] | None) -> int | None:
        """The page size to ask of this endpoint (None: not learned, or the call names none)."""
        size_param = self.source.page_size_param
        try:
            wanted = int((params or {})[size_param]) if size_param else 0
        except (KeyError, TypeError, ValueError):
            return None
        return self.account.page_sizes.size_for(path, wanted) if wanted > 0 else None

    def _smaller_page(self, path: str, sent: int | None, response: requests.Response) -> int | None:
        named = self.source.refused_page_size(response) if sent is not None else None
        return None if named is None else self.account.page_sizes.refused(path, sent, named)

    def _sleep(self, seconds: float, cancelled: threading.Event | None) -> None:
        """The policy's wait; a real one (``time.sleep``) ends early once ``cancelled`` is set."""
        if cancelled is not None and self.source.retry.sleep is time.sleep:
            cancelled.wait(seconds)
        else:
            self.source.retry.sleep(seconds)

    def get_json(
        self, path: str, params: Mapping[str, Any] | None = None, *, area: str | None = None,
        missing_ok: bool = False,
    ) -> Any:
        """The decoded body of a GET (None for an empty answer, and a 404 with ``missing_ok``)."""
        response = self.request("GET", path, params=params, area=area, missing_ok=missing_ok)
        return None if response.status_code == 404 else self.source.decode(response, area)

    def page(
        self, path: str, params: Mapping[str, Any], *, area: str | None = None,
        stream: HttpStream | None = None, cancelled: threading.Event | None = None,
    ) -> HttpPage:
        """One page of a listing, decoded, its rows found (``source.parse_page``)."""
        response = self.request("GET", path, params=params, area=area, cancelled=cancelled)
        body = self.source.decode(response, area)
        rows = self.source.parse_page(stream, body, response)
        page = HttpPage(params, response, body, rows)
        sent = getattr(response, "page_size_sent", None)
        if sent is not None:  # what the page answered, and what the endpoint served before
            page.params = {**params, self.source.page_size_param: sent}
            per_page = dig(body, self.source.per_page_field) if self.source.per_page_field else None
            page.served_before = self.account.page_sizes.observe(path, sent, len(rows), per_page)
        return page

    def pages(
        self, path: str, paginator: Paginator | None, params: Mapping[str, Any] | None = None, *,
        area: str | None = None, stream: HttpStream | None = None,
    ) -> Iterator[HttpPage]:
        """Every page of a listing as ``paginator`` walks it (None: one page). With
        ``source.read_ahead`` the next page is asked for, on a thread, while the caller works on
        this one: one call at most in flight, paced, retried and sorted like any other, its
        failure raised when its page is taken; a listing closed early cancels it."""
        params = params or {}
        page_params = paginator.first_page() if paginator else {}
        if page_params is None:
            return
        ahead: _PageAhead | None = None
        try:
            page = self.page(path, {**params, **page_params}, area=area, stream=stream)
            while True:
                following = paginator.next_page(page_params, page) if paginator else None
                if following is not None and self.source.read_ahead:
                    ahead = _PageAhead(self, path, {**params, **following}, area, stream)
                yield page
                if following is None:
                    return
                if ahead is None:
                    page = self.page(path, {**params, **following}, area=area, stream=stream)
                else:
                    page, ahead = ahead.result(), None
                page_params = following
        finally:
            if ahead is not None:  # the caller stopped reading: the page ahead is not wanted
                ahead.cancel()

    def listing(
        self, path: str, paginator: Paginator | None, params: Mapping[str, Any] | None = None, *,
        area: str | None = None, stream: HttpStream | None = None,
    ) -> Iterator[list[Any]]:
        """The raw rows of every page not given before, ``paginator`` walked afresh (at the
        stream's page size) for this listing."""
        walker = paginator
        if isinstance(paginator, HttpPaginator):
            walker = paginator.start(stream.page_size if stream else None)
        pages = self.pages(path, walker, params, area=area, stream=stream)
        try:
            for page in pages:
                yield walker.new_rows(page) if isinstance(walker, HttpPaginator) else page.records
        finally:
            pages.close()  # a listing closed early closes the page ahead at once


class _PageAhead:
    """The next page of a listing, asked for and decoded on a thread."""

    def __init__(self, client: HttpClient, path: str, params: Mapping[str, Any], area: str | None,
                 stream: HttpStream | None) -> None:
        self.cancelled = threading.Event()
        self._page: HttpPage | None = None
        self._error: BaseException | None = None
        self._thread = threading.Thread(
            target=self._fetch, args=(client, path, params, area, stream),
            name=f"{client.source.name}-page-ahead", daemon=True,
        )
        self._thread.start()

    def _fetch(self, client: HttpClient, path: str, params: Mapping[str, Any], area: str | None,
               stream: HttpStream | None) -> None:
        try:
            self._page = client.page(path, params, area=area, stream=stream, cancelled=self.cancelled)
        except ReadStopped:
            pass
        except BaseException as error:  # noqa: BLE001 (raised to the caller when it takes this page)
            self._error = error

    def result(self) -> HttpPage:
        self._thread.join()
        if self._error is not None:
            error, self._error = self._error, None
            raise error
        assert self._page is not None
        return self._page

    def cancel(self) -> None:
        self.cancelled.set()
        self._thread.join()


def _same_origin(url: str, base_url: str) -> bool:
    link, base = urlsplit(url), urlsplit(base_url)
    return (link.scheme, link.netloc) == (base.scheme, base.netloc) and link.path.startswith(base.path)


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


def _instant(value: str) -> datetime:
    parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


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
