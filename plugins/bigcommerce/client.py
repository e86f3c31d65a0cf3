"""The BigCommerce REST client: one ``requests.Session`` per store, paced, retried and classified.

URLs are ``{api_base_url}/stores/{store_hash}{path}`` with ``path`` like ``/v3/customers``, so
the same code talks to api.bigcommerce.com or to the emulator. The access token travels only
in the ``X-Auth-Token`` header and is never logged.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator, Mapping
from typing import Any

import requests

from host.sources import Paginator
from plugins.bigcommerce.failures import RETRYABLE_STATUSES, classify, unreachable
from plugins.bigcommerce.pacing import Pacer, RetryPolicy
from plugins.bigcommerce.pagination import ListingPaginator

log = logging.getLogger(__name__)
USER_AGENT = "connector-host (+https://github.com/connector-host)"
DEFAULT_TIMEOUT = (5.0, 60.0)  # connect, read

_sessions: dict[tuple[str, str], tuple[requests.Session, Pacer]] = {}
_sessions_lock = threading.Lock()


def store_session(api_base_url: str, store_hash: str) -> tuple[requests.Session, Pacer]:
    """The shared session (connection reuse) and pacer of one store."""
    key = (api_base_url.rstrip("/"), store_hash)
    with _sessions_lock:
        if key not in _sessions:
            session = requests.Session()
            session.headers.update({"Accept": "application/json", "User-Agent": USER_AGENT})
            _sessions[key] = (session, Pacer())
        return _sessions[key]


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
        self.session, self.pacer = store_session(api_base_url, store_hash)

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
    ) -> requests.Response:
        """One call, waiting for the quota, retrying 429/5xx/timeouts; a final failure is raised classified.

        With ``missing_ok`` a 404 is returned instead of raised (a record deleted since its event)."""
        failures = rate_limited = 0
        while True:
            wait = self.pacer.wait_needed()
            if wait:
                self.retry.sleep(wait)
                self.pacer.spent_wait()
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
                self.retry.sleep(self.retry.backoff(failures))
                continue
            self.pacer.observe(response.headers)
            status = response.status_code
            if status == 429:
                rate_limited += 1
                if rate_limited >= self.retry.max_rate_limited_attempts:
                    raise classify(response, area=area)
                self.retry.sleep(self.retry.rate_limited_wait(response.headers, rate_limited))
                continue
            if status in RETRYABLE_STATUSES:
                failures += 1
                if failures >= self.retry.max_attempts:
                    raise classify(response, area=area)
                log.info("BigCommerce %s %s answered %s; retrying", method, path, status)
                self.retry.sleep(self.retry.backoff(failures))
                continue
            if status == 404 and missing_ok:
                return response
            if status >= 400:
                raise classify(response, area=area)
            return response

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
        return response.json()

    def pages(
        self,
        path: str,
        paginator: Paginator,
        params: Mapping[str, Any] | None = None,
        *,
        area: str | None = None,
    ) -> Iterator[requests.Response]:
        """Every page of a listing, as the paginator walks it."""
        page_params: Mapping[str, Any] | None = paginator.first_page()
        while page_params is not None:
            response = self.request(
                "GET", path, params={**(params or {}), **page_params}, area=area
            )
            yield response
            page_params = paginator.next_page(page_params, response)

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
        for response in self.pages(path, walk, params, area=area):
            yield walk.records(response)
