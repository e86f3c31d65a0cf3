"""Retries and pacing for ``host.http_source``: how often and how long to retry (``RetryPolicy``),
an API's rate-limit headers (``RateLimit``) and the wait they ask of one account (``Pacer``).

Every wait goes through ``RetryPolicy.sleep``: tests pass one that records instead of waiting.
"""

from __future__ import annotations

import email.utils
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime

from host.http_paging import _number

RETRYABLE_STATUSES = frozenset({429, 500, 502, 503, 504})


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


