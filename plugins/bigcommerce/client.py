"""The BigCommerce REST client: one ``requests.Session`` per store, paced, retried and classified.

URLs are ``{api_base_url}/stores/{store_hash}{path}`` with ``path`` like ``/v3/customers``, so
the same code talks to api.bigcommerce.com or to the emulator. The access token travels only
in the ``X-Auth-Token`` header and is never logged.

A listing reads one page ahead: as soon as a page is decoded and the paginator knows the next
one, that next page is requested (and decoded) in a background thread while the caller works on
the current one. One request at most is in flight per listing; it is paced, retried and
classified exactly like any other (``request``), and its error is raised when its page is
consumed. A listing closed early (the caller stopped reading) cancels the request ahead: it
makes no further attempt nor wait, and the listing's close returns once that thread ended (at
most one attempt, bounded by the timeout, may still be under way).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterator, Mapping
from typing import Any

import requests

from host.sources import Paginator
from plugins.bigcommerce.failures import RETRYABLE_STATUSES, classify, unreachable
from plugins.bigcommerce.limits import PageLimits, refused_limit
from plugins.bigcommerce.pacing import Pacer, RetryPolicy
from plugins.bigcommerce.pagination import ListingPaginator, body, decode_json, rows

log = logging.getLogger(__name__)
USER_AGENT = "connector-host (+https://github.com/connector-host)"
DEFAULT_TIMEOUT = (5.0, 60.0)  # connect, read

_sessions: dict[tuple[str, str], tuple[requests.Session, Pacer, PageLimits]] = {}
_sessions_lock = threading.Lock()


def store_session(api_base_url: str, store_hash: str) -> tuple[requests.Session, Pacer, PageLimits]:
    """The shared session (connection reuse), pacer and learned page sizes of one store."""
    key = (api_base_url.rstrip("/"), store_hash)
    with _sessions_lock:
        if key not in _sessions:
            session = requests.Session()
            session.headers.update({"Accept": "application/json", "User-Agent": USER_AGENT})
            _sessions[key] = (session, Pacer(), PageLimits())
        return _sessions[key]


class ReadStopped(Exception):
    """The listing that asked for this page was closed: the page is no longer wanted."""


class _PageAhead:
    """The next page of a listing, requested and decoded in a background thread."""

    def __init__(self, client: BigCommerceClient, path: str, params: Mapping[str, Any], area: str | None):
        self.cancelled = threading.Event()
        self._response: requests.Response | None = None
        self._error: BaseException | None = None
        self._thread = threading.Thread(
            target=self._fetch, args=(client, path, params, area), name="bigcommerce-page-ahead", daemon=True
        )
        self._thread.start()

    def _fetch(self, client: BigCommerceClient, path: str, params: Mapping[str, Any], area: str | None) -> None:
        try:
            response = client.request("GET", path, params=params, area=area, cancelled=self.cancelled)
            body(response)  # decoded here, off the caller's time
            self._response = response
        except ReadStopped:
            pass
        except BaseException as error:  # raised to the caller when it takes this page
            self._error = error

    def result(self) -> requests.Response:
        self._thread.join()
        if self._error is not None:
            error, self._error = self._error, None
            raise error
        assert self._response is not None
        return self._response

    def cancel(self) -> None:
        self.cancelled.set()
        self._thread.join()


class BigCommerceClient:
    """Calls one store's API; raises ``host.errors`` classes when a call finally fails."""

    def __init__(
        self,
        api_base_url: str,
        store_hash: str,
        access_token: str,
        *,
        retry: RetryPolicy | None = None,
        timeout: tuple[float, float] = DEFAULT_TIMEOUT,
    ) -> None:
        self.base_url = f"{api_base_url.rstrip('/')}/stores/{store_hash}"
        self.store_hash = store_hash
        self._token = access_token
        self.retry = retry or RetryPolicy()
        self.timeout = timeout
        self.session, self.pacer, self.limits = store_session(api_base_url, store_hash)

    def __repr__(self) -> str:  # never show the token
        return f"<BigCommerceClient {self.base_url}>"

    def request(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, Any] | None = None,
        json: Any = None,
        area: str | None = None,
        missing_ok: bool = False,
        cancelled: threading.Event | None = None,
    ) -> requests.Response:
        """One call, waiting for the quota, retrying 429/5xx/timeouts; a final failure is raised classified.

        With ``missing_ok`` a 404 is returned instead of raised (a record deleted since its event).
        Once ``cancelled`` is set (a page read ahead for a listing since closed), no further wait
        or attempt is made: ``ReadStopped`` is raised instead.

        A GET's ``limit`` is lowered to what the endpoint is known to serve, and a refusal of a
        too-large ``limit`` is answered by asking again with a smaller one (``limits``); the
        limit sent is kept on the response (``sent_limit``)."""
        failures = rate_limited = 0
        sent_limit = self._page_limit(path, params) if method == "GET" else None
        if sent_limit is not None and params is not None and str(params["limit"]) != str(sent_limit):
            params = {**params, "limit": sent_limit}
        while True:
            wait = self.pacer.wait_needed()
            if wait:
                self._sleep(wait, cancelled)
                self.pacer.spent_wait()
            if cancelled is not None and cancelled.is_set():
                raise ReadStopped
            try:
                response = self.session.request(
                    method,
                    self.base_url + path,
                    params=params,
                    json=json,
                    headers={"X-Auth-Token": self._token},
                    timeout=self.timeout,
                )
            except (requests.ConnectionError, requests.Timeout) as error:
                failures += 1
                if failures >= self.retry.max_attempts:
                    raise unreachable(error, area=area) from None
                log.info(
                    "BigCommerce %s %s failed (%s); retrying", method, path, type(error).__name__
                )
                self._sleep(self.retry.backoff(failures), cancelled)
                continue
            self.pacer.observe(response.headers)
            status = response.status_code
            if status == 429:
                rate_limited += 1
                if rate_limited >= self.retry.max_rate_limited_attempts:
                    raise classify(response, area=area)
                self._sleep(self.retry.rate_limited_wait(response.headers, rate_limited), cancelled)
                continue
            if status in RETRYABLE_STATUSES:
                failures += 1
                if failures >= self.retry.max_attempts:
                    raise classify(response, area=area)
                log.info("BigCommerce %s %s answered %s; retrying", method, path, status)
                self._sleep(self.retry.backoff(failures), cancelled)
                continue
            if status == 404 and missing_ok:
                return response
            if sent_limit is not None and status in (400, 413, 422):
                named = refused_limit(response)
                smaller = self.limits.refused(path, sent_limit, named) if named is not None else None
                if smaller is not None:
                    log.info("BigCommerce %s %s refused limit %s; asking %s a page", method, path, sent_limit, smaller)
                    sent_limit, params = smaller, {**(params or {}), "limit": smaller}
                    continue
            if status >= 400:
                raise classify(response, area=area)
            response.__dict__["sent_limit"] = sent_limit
            return response

    def _page_limit(self, path: str, params: Mapping[str, Any] | None) -> int | None:
        """The ``limit`` to send for this endpoint (None when the request names none)."""
        try:
            wanted = int((params or {})["limit"])
        except (KeyError, TypeError, ValueError):
            return None
        return self.limits.limit_for(path, wanted) if wanted > 0 else None

    def _note_page(self, path: str, response: requests.Response) -> None:
        """What a listing page says of the endpoint's page size; ``served_before`` (the largest page
        it served earlier) is kept on the response for the paginator (``limits``)."""
        if "served_before" in response.__dict__:
            return
        decoded = body(response)
        meta = (decoded.get("meta") or {}) if isinstance(decoded, dict) else {}
        per_page = (meta.get("pagination") or {}).get("per_page")
        response.__dict__["served_before"] = self.limits.served_before(path)
        self.limits.observe(path, response.__dict__.get("sent_limit"), len(rows(response)), per_page)

    def _sleep(self, seconds: float, cancelled: threading.Event | None) -> None:
        """The policy's wait; a real one (``time.sleep``) ends early when ``cancelled`` is set."""
        if cancelled is not None and self.retry.sleep is time.sleep:
            cancelled.wait(seconds)
        else:
            self.retry.sleep(seconds)

    def get_json(
        self,
        path: str,
        params: Mapping[str, Any] | None = None,
        *,
        area: str | None = None,
        missing_ok: bool = False,
    ) -> Any:
        """The decoded body of a GET (None for 204 No Content, and for 404 with ``missing_ok``)."""
        response = self.request("GET", path, params=params, area=area, missing_ok=missing_ok)
        if response.status_code in (204, 404) or not response.content:
            return None
        return decode_json(response.content)

    def pages(
        self,
        path: str,
        paginator: Paginator,
        params: Mapping[str, Any] | None = None,
        *,
        area: str | None = None,
    ) -> Iterator[requests.Response]:
        """Every page of a listing, as the paginator walks it, each decoded; the next page is
        requested in the background while the caller works on this one (see the module's
        docstring)."""
        page_params: Mapping[str, Any] | None = paginator.first_page()
        if page_params is None:
            return
        ahead: _PageAhead | None = None
        try:
            response = self.request("GET", path, params={**(params or {}), **page_params}, area=area)
            while True:
                self._note_page(path, response)
                following = paginator.next_page(page_params, response)
                if following is not None:
                    ahead = _PageAhead(self, path, {**(params or {}), **following}, area)
                yield response
                if following is None:
                    return
                response, ahead, page_params = ahead.result(), None, following
        finally:
            if ahead is not None:  # the caller stopped reading: the page ahead is not wanted
                ahead.cancel()

    def listing(
        self,
        path: str,
        paginator: ListingPaginator,
        params: Mapping[str, Any] | None = None,
        *,
        area: str | None = None,
    ) -> Iterator[list[dict[str, Any]]]:
        """The rows of every page of a listing, each emitted once, walked afresh for this read."""
        walk = paginator.walk()
        pages = self.pages(path, walk, params, area=area)
        try:
            for response in pages:
                yield walk.records(response)
        finally:
            pages.close()  # a listing closed early closes its walk (and the page ahead) at once
