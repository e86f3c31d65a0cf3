"""One throttle per Engagement Cloud account, shared by every connection and thread using it.

Rate limits are counted per account (reference §10.1), so two connections to one account
must slow down together. The throttle reads ``X-RateLimit-Remaining`` / ``X-RateLimit-Reset``
from every answer: when nothing remains, or after a 429, every caller waits until the window
resets. ``X-RateLimit-Reset`` is read as seconds until the reset (the official SDK's reading)
unless it looks like an epoch timestamp (> 10^9), as the reference advises.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping

EPOCH_THRESHOLD = 1_000_000_000


def reset_delay(headers: Mapping[str, str], now_epoch: float | None = None) -> float | None:
    """Seconds until the rate-limit window resets, from ``X-RateLimit-Reset``; None when absent."""
    raw = _header(headers, "X-RateLimit-Reset") or _header(headers, "Retry-After")
    if raw is None:
        return None
    try:
        value = float(raw)
    except ValueError:
        return None
    if value > EPOCH_THRESHOLD:
        value -= time.time() if now_epoch is None else now_epoch
    return max(value, 0.0)


def _header(headers: Mapping[str, str], name: str) -> str | None:
    value = headers.get(name)
    if value is None:
        value = next((v for k, v in headers.items() if k.lower() == name.lower()), None)
    return value


class AccountThrottle:
    """Pauses callers while the account's rate-limit window is spent."""

    def __init__(self, clock: Callable[[], float] = time.monotonic, sleep: Callable[[float], None] = time.sleep):
        self._lock = threading.Lock()
        self._clock = clock
        self._sleep = sleep
        self._blocked_until = 0.0

    def wait(self) -> None:
        """Block until the current window allows calls again."""
        while True:
            with self._lock:
                delay = self._blocked_until - self._clock()
            if delay <= 0:
                return
            self._sleep(delay)

    def block_for(self, seconds: float) -> None:
        with self._lock:
            self._blocked_until = max(self._blocked_until, self._clock() + seconds)

    def observe(self, status: int, headers: Mapping[str, str], max_wait: float) -> float | None:
        """Learn from an answer; return the pause it imposes (None when none)."""
        remaining = _header(headers, "X-RateLimit-Remaining")
        spent = status == 429 or (remaining is not None and remaining.strip() == "0")
        if not spent:
            return None
        delay = reset_delay(headers)
        if delay is None:
            return None  # the caller backs off on its own
        delay = min(delay, max_wait)
        self.block_for(delay)
        return delay


_throttles: dict[tuple[str, str], AccountThrottle] = {}
_registry_lock = threading.Lock()


def throttle_for(base_url: str, username: str) -> AccountThrottle:
    """The shared throttle of one account (API user at its region endpoint)."""
    key = (base_url.rstrip("/").lower(), username.lower())
    with _registry_lock:
        if key not in _throttles:
            _throttles[key] = AccountThrottle()
        return _throttles[key]
