"""BigCommerce's rate-limit headers and retry defaults (bigcommerce-api.md §5), for the host's loop.

``host.http_source`` paces and retries by them: it slows down before the quota runs out
(``X-Rate-Limit-Requests-Left`` and ``X-Rate-Limit-Time-Reset-Ms``, leaving ``reserve`` requests
to the store's other apps: the quota is shared); on a 429 it waits ``X-Retry-After`` seconds when
present, else ``X-Rate-Limit-Time-Reset-Ms``, else (a 429 without headers means platform load)
backs off with jitter.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass

from host import http_source

RATE_LIMIT = http_source.RateLimit(
    retry_after_header="X-Retry-After",
    remaining_header="X-Rate-Limit-Requests-Left",
    reset_header="X-Rate-Limit-Time-Reset-Ms",
    reset_unit="milliseconds",
    reserve=2,
)


@dataclass
class RetryPolicy(http_source.RetryPolicy):
    """The host's policy with BigCommerce's defaults: more attempts, a shorter first wait, jitter."""

    max_attempts: int = 6
    max_rate_limited_attempts: int = 12
    base_delay: float = 0.5
    jitter: Callable[[], float] | None = random.random
