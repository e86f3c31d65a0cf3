"""The Example Shop HTTP client: the one place that retries and classifies failures.

401/403 become ``ConfigurationError`` (the merchant must act), 429, 5xx, timeouts and dropped
connections are retried a bounded number of times and then become ``TransientError`` (the host
tries again next cycle), any other refusal is a ``RecordError``. The API key travels only in a
header and is never logged or shown.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

import requests

from host.errors import ConfigurationError, RecordError, SyncError, TransientError
from host.sources import Paginator

log = logging.getLogger(__name__)
RETRYABLE = frozenset({429, 500, 502, 503, 504})


@dataclass
class RetryPolicy:
    """How often and how long to retry; tests pass a ``sleep`` that does not wait."""

    max_attempts: int = 5  # per request, the first try included
    base_delay: float = 1.0
    max_delay: float = 60.0
    sleep: Callable[[float], None] = time.sleep

    def delay(self, attempt: int, response: requests.Response | None) -> float:
        """``Retry-After`` when the API gives one, else exponential back-off."""
        retry_after = response.headers.get("Retry-After") if response is not None else None
        if retry_after and retry_after.isdigit():
            return min(self.max_delay, float(retry_after))
        return min(self.max_delay, self.base_delay * 2 ** (attempt - 1))


def classify(response: requests.Response, area: str) -> SyncError:
    """The error to raise for a failed answer (after the retries, for retryable ones)."""
    status = response.status_code
    if status == 401:
        return ConfigurationError(
            "Example Shop no longer accepts this shop's API key. Create a new key in the "
            "Example Shop admin and connect the shop again.",
            area=area,
            code="example_shop_unauthorized",
        )
    if status == 403:
        return ConfigurationError(
            f"This shop's API key may not read {area}. Give the key read access to {area} in "
            "the Example Shop admin.",
            area=area,
            code="example_shop_forbidden",
        )
    if status in RETRYABLE:
        return TransientError(
            f"Example Shop kept answering {status}; the sync will try again at the next cycle.",
            area=area,
        )
    return RecordError(f"Example Shop refused the request: HTTP {status}", area=area)


class ExampleShopClient:
    """Calls one shop's API; raises ``host.errors`` classes when a call finally fails."""

    def __init__(
        self, base_url: str, shop: str, api_key: str, *, retry: RetryPolicy, timeout: float = 30.0
    ) -> None:
        self.base_url = f"{base_url.rstrip('/')}/shops/{shop}"
        self.retry = retry
        self.timeout = timeout
        self.session = requests.Session()
        self.session.headers.update({"Accept": "application/json", "X-Api-Key": api_key})

    def __repr__(self) -> str:  # never show the key
        return f"<ExampleShopClient {self.base_url}>"

    def close(self) -> None:
        self.session.close()

    def get(self, path: str, params: Mapping[str, Any] | None = None, *, area: str) -> Any:
        """The decoded body of one GET, retried and classified."""
        attempt = 0
        while True:
            attempt += 1
            response = None
            try:
                response = self.session.get(
                    self.base_url + path, params=params, timeout=self.timeout
                )
            except (requests.ConnectionError, requests.Timeout) as error:
                if attempt >= self.retry.max_attempts:
                    raise TransientError(
                        "Example Shop could not be reached; the sync will try again at the next cycle.",
                        area=area,
                    ) from error
                log.info("Example Shop GET %s failed (%s); retrying", path, type(error).__name__)
            else:
                if response.status_code < 400:
                    return response.json()
                if response.status_code not in RETRYABLE or attempt >= self.retry.max_attempts:
                    raise classify(response, area)
                log.info("Example Shop GET %s answered %s; retrying", path, response.status_code)
            self.retry.sleep(self.retry.delay(attempt, response))

    def pages(
        self, path: str, paginator: Paginator, params: Mapping[str, Any], *, area: str
    ) -> Iterator[Any]:
        """Every page body of one listing, as the paginator walks it."""
        page_params: Mapping[str, Any] | None = paginator.first_page()
        while page_params is not None:
            body = self.get(path, {**params, **page_params}, area=area)
            yield body
            page_params = paginator.next_page(page_params, body)
