"""When to wait before a request: rate-limit pacing, 429 waits and back-off with jitter.

Both parts take an injectable ``sleep`` so tests never wait for real. The rules follow
bigcommerce-api.md §5: slow down before the quota runs out (``X-Rate-Limit-Requests-Left``
and ``X-Rate-Limit-Time-Reset-Ms``); on a 429 wait ``X-Retry-After`` seconds when present,
else ``X-Rate-Limit-Time-Reset-Ms``, else (a 429 without headers means platform load) back off.
"""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field


def _number(headers: Mapping[str, str], name: str) -> float | None:
    value = headers.get(name)
    try:
        return float(value) if value not in (None, "") else None
    except ValueError:
        return None


@dataclass
class RetryPolicy:
    """How often and how long to retry transient failures (429, 5xx, timeouts, dropped connections)."""

    max_attempts: int = 6  # per request, the first try included
    max_rate_limited_attempts: int = 12  # 429s are expected under load: be more patient with them
    base_delay: float = 0.5
    max_delay: float = 60.0
    sleep: Callable[[float], None] = time.sleep
    jitter: Callable[[], float] = field(default=random.random)

    def backoff(self, attempt: int) -> float:
        """Exponential back-off with full jitter (attempt 1 = the first retry)."""
        ceiling = min(self.max_delay, self.base_delay * 2 ** (attempt - 1))
        return ceiling / 2 + self.jitter() * ceiling / 2

    def rate_limited_wait(self, headers: Mapping[str, str], attempt: int) -> float:
        retry_after = _number(headers, "X-Retry-After")
        if retry_after is not None:
            return min(self.max_delay, retry_after)
        reset_ms = _number(headers, "X-Rate-Limit-Time-Reset-Ms")
        if reset_ms is not None:
            return min(self.max_delay, reset_ms / 1000)
        return self.backoff(attempt)


class Pacer:
    """Remembers the last rate-limit headers of one store and waits for the window when it runs dry.

    ``reserve`` requests are left for the store's other apps (the quota is shared).
    """

    def __init__(self, reserve: int = 2) -> None:
        self.reserve = reserve
        self._lock = threading.Lock()
        self._left: float | None = None
        self._reset_at: float | None = None

    def observe(self, headers: Mapping[str, str]) -> None:
        left = _number(headers, "X-Rate-Limit-Requests-Left")
        reset_ms = _number(headers, "X-Rate-Limit-Time-Reset-Ms")
        with self._lock:
            self._left = left
            self._reset_at = time.monotonic() + reset_ms / 1000 if reset_ms is not None else None

    def wait_needed(self) -> float:
        """Seconds to wait before the next request (0 when the quota has room)."""
        with self._lock:
            if self._left is None or self._reset_at is None or self._left > self.reserve:
                return 0.0
            return max(0.0, self._reset_at - time.monotonic())

    def spent_wait(self) -> None:
        with self._lock:
            self._left = None
