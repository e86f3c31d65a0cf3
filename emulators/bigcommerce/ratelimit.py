"""Per-store request quota in fixed windows, and the ``X-Rate-Limit-*`` headers (§5).

Off by default: the headers are still sent, with a quota too large to reach.
``--rate-limit 150/30`` gives the Standard plan (150 requests per 30 s, shared by every
client of the store). A 429 carries the four ``X-Rate-Limit-*`` headers with
``Requests-Left: 0``; ``X-Retry-After`` (seconds) is added unless turned off, because the
docs do not guarantee it; ``rate_headers_on_429="none"`` mimics the "platform load" 429.
"""

from __future__ import annotations

import math
import threading
import time
from dataclasses import asdict, dataclass

UNLIMITED_QUOTA = 1_000_000


@dataclass
class RateLimitSettings:
    enabled: bool = False
    quota: int = 150
    window_ms: int = 30_000
    send_retry_after: bool = True
    rate_headers_on_429: str = "all"  # "all" or "none"
    burst_reset_ms: int = 1_000  # Time-Reset-Ms sent with an injected (fault) 429


class RateLimiter:
    """Fixed windows per store hash, starting at each store's first request. Thread-safe."""

    def __init__(self, settings: RateLimitSettings | None = None) -> None:
        self.settings = settings or RateLimitSettings()
        self._lock = threading.Lock()
        self._windows: dict[str, tuple[float, int]] = {}

    def configure(self, **changes: object) -> RateLimitSettings:
        with self._lock:
            self.settings = RateLimitSettings(**(asdict(self.settings) | changes))
            self._windows.clear()
            return self.settings

    def reset(self) -> None:
        with self._lock:
            self._windows.clear()

    def _window(self, store_hash: str, now: float) -> tuple[float, int]:
        start, used = self._windows.get(store_hash, (now, 0))
        if now - start >= self.settings.window_ms / 1000:
            start, used = now, 0
        return start, used

    def _headers(self, start: float, used: int, now: float) -> dict[str, str]:
        s = self.settings
        quota = s.quota if s.enabled else UNLIMITED_QUOTA
        reset_ms = max(0, int(s.window_ms - (now - start) * 1000))
        return {
            "X-Rate-Limit-Time-Window-Ms": str(s.window_ms),
            "X-Rate-Limit-Time-Reset-Ms": str(reset_ms),
            "X-Rate-Limit-Requests-Quota": str(quota),
            "X-Rate-Limit-Requests-Left": str(max(0, quota - used)),
        }

    def consume(self, store_hash: str) -> tuple[bool, dict[str, str]]:
        """Count one request; return (allowed, headers to send)."""
        with self._lock:
            now = time.monotonic()
            start, used = self._window(store_hash, now)
            if self.settings.enabled and used >= self.settings.quota:
                self._windows[store_hash] = (start, used)
                return False, self.too_many_headers(start, now)
            self._windows[store_hash] = (start, used + 1)
            return True, self._headers(start, used + 1, now)

    def peek(self, store_hash: str) -> dict[str, str]:
        """Headers for a response that did not count (e.g. 401)."""
        with self._lock:
            now = time.monotonic()
            start, used = self._window(store_hash, now)
            return self._headers(start, used, now)

    def too_many_headers(self, start: float | None = None, now: float | None = None) -> dict[str, str]:
        """Headers of a 429: Requests-Left 0, and X-Retry-After unless disabled."""
        if self.settings.rate_headers_on_429 == "none":
            return {}
        now = time.monotonic() if now is None else now
        start = now if start is None else start
        headers = self._headers(start, 0, now)
        headers["X-Rate-Limit-Requests-Left"] = "0"
        if self.settings.send_retry_after:
            headers["X-Retry-After"] = str(max(1, math.ceil(int(headers["X-Rate-Limit-Time-Reset-Ms"]) / 1000)))
        return headers

    def injected_burst_headers(self, store_hash: str) -> dict[str, str]:
        """Headers for an injected 429 (fault burst): the store's current window, nothing left."""
        with self._lock:
            now = time.monotonic()
            start, _ = self._window(store_hash, now)
            headers = self.too_many_headers(start, now)
        if headers:
            headers["X-Rate-Limit-Time-Reset-Ms"] = str(self.settings.burst_reset_ms)
            if "X-Retry-After" in headers:
                headers["X-Retry-After"] = str(max(1, math.ceil(self.settings.burst_reset_ms / 1000)))
        return headers
