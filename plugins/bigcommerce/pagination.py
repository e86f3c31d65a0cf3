"""Paginators for BigCommerce listings (bigcommerce-api.md §4), on ``host.http_source``'s pages.

v3 answers ``{"data": [...], "meta": {"pagination": {...}}}`` and says how many pages there are;
v2 answers a bare array and ends with ``204 No Content``, or a page shorter than the limit, which
saves the last, empty call, when the store is known to serve longer pages there (a short v2 page
may also be the store's own cap, and then the listing goes on: ``limits``).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

import orjson
import requests

from host.http_source import HttpPage, PageNumberPaginator

PAGE_SIZE = 250  # the documented (v2, products) and peer-used (v3 customers) maximum


def decode_json(content: bytes) -> Any:
    """JSON decoded by orjson (several times faster than ``json`` on listing pages); what orjson
    refuses (e.g. a BOM) is left to ``json``, which raises ``ValueError`` as ``Response.json`` did."""
    try:
        return orjson.loads(content)
    except orjson.JSONDecodeError:
        return json.loads(content.decode("utf-8-sig"))


def _body(response: requests.Response) -> Any:
    return None if response.status_code == 204 or not response.content else decode_json(response.content)


def _rows(body: Any) -> list[dict[str, Any]]:
    return list(body.get("data") or []) if isinstance(body, dict) else list(body or [])


def rows(response: requests.Response) -> list[dict[str, Any]]:
    """The records of one answer of either API generation."""
    return _rows(_body(response))


def as_page(page: HttpPage | requests.Response, params: Mapping[str, Any]) -> HttpPage:
    """A page as paginators see it, from a bare response too (one read outside a client)."""
    if isinstance(page, HttpPage):
        return page
    body = _body(page)
    return HttpPage(params, page, body, _rows(body))


class V3PagePaginator(PageNumberPaginator):
    """``page``/``limit`` up to ``meta.pagination.total_pages`` (no meta: a short page ends)."""

    def __init__(self, page_size: int = PAGE_SIZE) -> None:
        super().__init__(pages_field="meta.pagination.total_pages", short_page_ends=True)
        self.page_size = page_size


class V2PagePaginator(PageNumberPaginator):
    """``page``/``limit``; a 204 or an empty page ends the listing, and a page shorter than the
    ``limit`` sent does unless the store may cap pages at that length: it never served a longer
    page on that endpoint (a page read outside a client knows nothing: a short page ends it)."""

    def __init__(self, page_size: int = PAGE_SIZE) -> None:
        super().__init__()
        self.page_size = page_size

    def is_last(self, number: int, page: HttpPage) -> bool:
        count = len(page.records)
        if count == 0:
            return True
        if count >= int(page.params.get("limit") or self.page_size):
            return False
        return page.served_before is None or count < page.served_before


class IdWindowPaginator(V2PagePaginator):
    """The v2 pages of one ``min_id``..``max_id`` window: none past the window's width of ids
    (a window of 250 ids fits one page of 250, unless the store serves shorter pages)."""

    def __init__(self, width: int, page_size: int = PAGE_SIZE) -> None:
        super().__init__(page_size)
        self.width = width

    def next_page(self, previous: Mapping[str, Any], response: HttpPage) -> Mapping[str, Any] | None:
        following = super().next_page(previous, response)
        # pages hold as many as this one (the limit sent, or the store's own cap)
        if following is None or int(previous["page"]) * len(response.records) >= self.width:
            return None
        return following
