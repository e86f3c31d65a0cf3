"""The HTTP client of ``host.http_source``: one account's calls, paced, retried and sorted by
the source, through the session, pacer and page sizes the account's reads share (``Account``),
its listings walked page by page (a page read ahead on a thread where the source asks it)."""

from __future__ import annotations

import logging
import re
import threading
import time
from collections.abc import Iterator, Mapping
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import requests

from host.errors import RecordError
from host.http_pacing import Pacer, RetryPolicy
from host.http_paging import URL_KEY, HttpPage, HttpPaginator, dig
from host.sources import Paginator

if TYPE_CHECKING:
    from host.http_source import HttpSource, HttpStream

log = logging.getLogger(__name__)
# A 5xx or a lost answer may come after the call took effect: only these are sent again then
# (a 429 is a refusal, retried whatever the method).
IDEMPOTENT_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "PUT", "DELETE"})


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
