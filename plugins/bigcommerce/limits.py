"""How many records a page of each listing of one store really holds (bigcommerce-api.md §2.3, §4.4).

The references leave open what an endpoint does with a ``limit`` above its maximum (250 by the
references' reading, UNCONFIRMED for customers, subscribers and hooks): v2 is on record answering
``413`` with ``details.max_limit``; another endpoint might refuse with another 4xx, or silently
serve fewer records (v3 then says so in ``meta.pagination.per_page``; v2 has no meta at all).
The client copes with each reading, and remembers what it learned for the store (in this process,
so for the connection's later reads too):

- a refusal of a too-large ``limit`` (413, or a 400/422 whose body names ``limit``) is not fatal:
  the request is sent again with the ``max_limit`` the answer names, else half the limit, and
  that endpoint's later requests use it from the start;
- a v3 page whose ``per_page`` is smaller than the ``limit`` asked says the endpoint's maximum;
- a v2 page shorter than its ``limit`` ends a listing only when the endpoint is known to serve
  more than that on a page (it did before); otherwise the shortness may be the store's own cap,
  and the next page is asked (a 204 or a short page then ends it). ``served_before`` is that
  knowledge: the largest page the endpoint served earlier.

Endpoints are told apart by path with ids folded (``/v2/orders/{id}/products``).
"""

from __future__ import annotations

import re
import threading
from typing import Any

import requests

_ID = re.compile(r"/\d+(?=/|$)")
MIN_LIMIT = 1


def endpoint(path: str) -> str:
    return _ID.sub("/{id}", path)


def refused_limit(response: requests.Response) -> int | None:
    """For an answer refusing a request's ``limit`` as too large: the maximum it names (0 when it
    names none); None when the answer is not such a refusal (another 4xx)."""
    status = response.status_code
    if status not in (400, 413, 422):
        return None
    try:
        body = response.json()
    except ValueError:
        body = None
    named, about_limit = 0, status == 413
    for item in body if isinstance(body, list) else [body]:
        if not isinstance(item, dict):
            continue
        details = item.get("details")
        if isinstance(details, dict) and str(details.get("max_limit", "")).isdigit():
            named, about_limit = int(details["max_limit"]), True
        errors = item.get("errors")
        if isinstance(errors, dict) and "limit" in errors:
            about_limit = True
            number = re.search(r"\d+", str(errors["limit"]))
            named = named or (int(number.group()) if number else 0)
        if "limit" in " ".join(str(item.get(key) or "") for key in ("message", "title")).lower():
            about_limit = True
    return named if about_limit else None


class PageLimits:
    """One store's learned page sizes, per endpoint (thread-safe: pages are read ahead)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._max: dict[str, int] = {}  # the largest limit the endpoint accepts / serves
        self._served: dict[str, int] = {}  # the largest page it served

    def limit_for(self, path: str, wanted: int) -> int:
        with self._lock:
            known = self._max.get(endpoint(path))
        return min(wanted, known) if known else wanted

    def refused(self, path: str, sent: int, named: int) -> int | None:
        """The smaller limit to try after ``sent`` was refused (None: nothing smaller to try)."""
        smaller = named if 0 < named < sent else sent // 2
        if smaller < MIN_LIMIT:
            return None
        with self._lock:
            key = endpoint(path)
            self._max[key] = min(self._max.get(key, smaller), smaller)
        return smaller

    def served_before(self, path: str) -> int:
        with self._lock:
            return self._served.get(endpoint(path), 0)

    def observe(self, path: str, sent: int | None, count: int, per_page: Any = None) -> None:
        """A page of ``count`` records answered a request for ``sent``; ``per_page`` from v3 meta."""
        with self._lock:
            key = endpoint(path)
            self._served[key] = max(self._served.get(key, 0), count)
            if sent and isinstance(per_page, int) and 0 < per_page < sent:
                self._max[key] = min(self._max.get(key, per_page), per_page)
