"""How BigCommerce refuses a too-large page (bigcommerce-api.md §2.3, §4.4).

The references leave open what an endpoint does with a ``limit`` above its maximum (250 by the
references' reading, UNCONFIRMED for customers, subscribers and hooks): v2 is on record answering
``413`` with ``details.max_limit``; another endpoint might refuse with another 4xx, or silently
serve fewer records (v3 then says so in ``meta.pagination.per_page``; v2 has no meta at all).
``host.http_source`` copes with each reading and remembers, per store and endpoint, what it
learned (``PageSizes``): a refusal is answered by asking again with the maximum named, else half;
a v2 page shorter than its ``limit`` ends a listing only where the endpoint served more before
(``pagination.V2PagePaginator``). This module reads the refusals.
"""

from __future__ import annotations

import re

import requests


def refused_limit(response: requests.Response) -> int | None:
    """For an answer refusing a request's ``limit`` as too large (413, or a 400/422 whose body
    names ``limit``): the maximum it names (0 when it names none); None for another refusal."""
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
