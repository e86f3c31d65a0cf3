"""Paginators for BigCommerce listings (bigcommerce-api.md §4).

v3 answers ``{"data": [...], "meta": {"pagination": {...}}}`` and says how many pages there are;
v2 answers a bare array and ends with ``204 No Content`` (or a page shorter than the limit,
which saves the last, empty call).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import requests

from host.sources import Paginator


def body(response: requests.Response) -> Any:
    """The decoded JSON of a response, decoded once however often it is asked for (None when empty)."""
    if "_decoded_body" not in response.__dict__:
        empty = response.status_code == 204 or not response.content
        response.__dict__["_decoded_body"] = None if empty else response.json()
    return response.__dict__["_decoded_body"]


def rows(response: requests.Response) -> list[dict[str, Any]]:
    """The records of one page of either API generation."""
    body_ = body(response)
    if body_ is None:
        return []
    if isinstance(body_, dict):
        return list(body_.get("data") or [])
    return list(body_ or [])


class V3PagePaginator(Paginator):
    """``page``/``limit`` with ``meta.pagination.current_page < total_pages`` as the rule to go on."""

    def __init__(self, page_size: int = 250):
        self.page_size = page_size

    def first_page(self) -> Mapping[str, Any]:
        return {"page": 1, "limit": self.page_size}

    def next_page(
        self, previous: Mapping[str, Any], response: requests.Response
    ) -> Mapping[str, Any] | None:
        decoded = body(response)
        if not isinstance(decoded, dict):
            return None
        pagination = (decoded.get("meta") or {}).get("pagination") or {}
        current = int(pagination.get("current_page") or previous["page"])
        total = pagination.get("total_pages")
        if total is None:  # no meta: fall back to "a short page is the last"
            return (
                None if len(rows(response)) < self.page_size else {**previous, "page": current + 1}
            )
        return {**previous, "page": current + 1} if current < int(total) else None


class V2PagePaginator(Paginator):
    """``page``/``limit``; a 204, an empty or a short page ends the listing."""

    def __init__(self, page_size: int = 250):
        self.page_size = page_size

    def first_page(self) -> Mapping[str, Any]:
        return {"page": 1, "limit": self.page_size}

    def next_page(
        self, previous: Mapping[str, Any], response: requests.Response
    ) -> Mapping[str, Any] | None:
        if len(rows(response)) < int(previous["limit"]):
            return None
        return {**previous, "page": int(previous["page"]) + 1}
