"""Pages and paginators for ``host.http_source``: an answered page (``HttpPage``) and the four
ways APIs page a listing (page numbers, offsets, cursors, next links), each a small class with one
method to override where an API differs."""

from __future__ import annotations

import copy
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import requests

from host.sources import Paginator

URL_KEY = "@url"  # page parameters holding only this key: GET that absolute URL as it is


def _number(value: Any) -> float | None:
    try:
        return float(value) if value not in (None, "") else None
    except (TypeError, ValueError):
        return None


def _instant(value: str) -> datetime:
    parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


@dataclass
class HttpPage:
    """One answered page, as paginators see it."""

    params: Mapping[str, Any]  # what was asked (the paginator's own parameters included)
    response: requests.Response
    body: Any  # the decoded JSON
    records: list[Any]  # the raw rows (``HttpSource.parse_page``)
    served_before: int | None = None  # with learned page sizes: the largest page served before


def dig(body: Any, path: str | None) -> Any:
    """The value at a dotted ``path`` ("meta.next_cursor") of a decoded body (None if absent)."""
    if path is None:
        return body
    for part in path.split("."):
        if not isinstance(body, Mapping):
            return None
        body = body.get(part)
    return body


class HttpPaginator(Paginator):
    """A paginator whose page size comes from the stream: ``start(page_size)`` gives a fresh copy
    for one listing (``begin`` sets up its state, so one may keep state while it walks; None
    keeps its own size). ``size_param`` None sends no size. ``new_rows`` gives the rows of a page
    not given before: a paginator that reads rows again (a keyset, a second pass) drops them."""

    size_param: str | None = "limit"
    page_size: int | None = None

    def start(self, page_size: int | None = None) -> HttpPaginator:
        walker = copy.copy(self)
        if page_size:
            walker.page_size = page_size
        walker.begin()
        return walker

    def begin(self) -> None:
        """Fresh state for one listing (a copy shares the declaration's until this runs)."""

    def new_rows(self, page: HttpPage) -> list[Any]:
        return page.records

    def _size(self) -> dict[str, Any]:
        return {self.size_param: self.page_size} if self.size_param and self.page_size else {}


class PageNumberPaginator(HttpPaginator):
    """``page=1, 2, …``. Ends at ``pages_field`` (the body's page count) when the API gives one,
    else at an empty page, or at a short one with ``short_page_ends`` (only where the API never
    serves fewer rows than asked: many cap the page size silently)."""

    def __init__(
        self,
        page_param: str = "page",
        size_param: str | None = "limit",
        *,
        first: int = 1,
        pages_field: str | None = None,
        short_page_ends: bool = False,
    ) -> None:
        self.page_param, self.size_param, self.first = page_param, size_param, first
        self.pages_field, self.short_page_ends = pages_field, short_page_ends

    def first_page(self) -> Mapping[str, Any]:
        return {self.page_param: self.first, **self._size()}

    def next_page(self, previous: Mapping[str, Any], response: HttpPage) -> Mapping[str, Any] | None:
        number = int(previous[self.page_param])
        if self.is_last(number, response):
            return None
        return {**previous, self.page_param: number + 1}

    def is_last(self, number: int, page: HttpPage) -> bool:
        pages = _number(dig(page.body, self.pages_field)) if self.pages_field else None
        if pages is not None:
            return number - self.first + 1 >= pages
        return not page.records or (
            self.short_page_ends and self.page_size is not None and len(page.records) < self.page_size
        )


class OffsetPaginator(HttpPaginator):
    """``offset=0, n, 2n, …`` (n: the rows the last page held). Ends at ``total_field`` (the
    body's row count) when the API gives one, else at an empty (or, as above, a short) page."""

    def __init__(
        self,
        offset_param: str = "offset",
        size_param: str | None = "limit",
        *,
        total_field: str | None = None,
        short_page_ends: bool = False,
    ) -> None:
        self.offset_param, self.size_param = offset_param, size_param
        self.total_field, self.short_page_ends = total_field, short_page_ends

    def first_page(self) -> Mapping[str, Any]:
        return {self.offset_param: 0, **self._size()}

    def next_page(self, previous: Mapping[str, Any], response: HttpPage) -> Mapping[str, Any] | None:
        offset = int(previous[self.offset_param]) + len(response.records)
        total = _number(dig(response.body, self.total_field)) if self.total_field else None
        if not response.records or (total is not None and offset >= total):
            return None
        if total is None and self.short_page_ends and len(response.records) < (self.page_size or 0):
            return None
        return {**previous, self.offset_param: offset}


class CursorPaginator(HttpPaginator):
    """An opaque token from each page (``token_field`` of the body, or ``token_header``) sent back
    as ``token_param``; no token ends the listing. Override ``next_token`` for other places."""

    def __init__(
        self,
        token_param: str = "cursor",
        token_field: str | None = "meta.next_cursor",
        size_param: str | None = "limit",
        *,
        token_header: str | None = None,
    ) -> None:
        self.token_param, self.token_field = token_param, token_field
        self.size_param, self.token_header = size_param, token_header

    def first_page(self) -> Mapping[str, Any]:
        return self._size()

    def next_page(self, previous: Mapping[str, Any], response: HttpPage) -> Mapping[str, Any] | None:
        token = self.next_token(response)
        if token in (None, "") or token == previous.get(self.token_param):
            return None  # no token, or the same one again (which would loop for ever)
        return {**previous, self.token_param: token}

    def next_token(self, page: HttpPage) -> Any:
        if self.token_header:
            return page.response.headers.get(self.token_header)
        return dig(page.body, self.token_field)


class NextLinkPaginator(HttpPaginator):
    """Follows the link to the next page as it is (it already holds the filters): ``link_field``
    of the body ("links.next"), or the ``Link: <…>; rel="next"`` header when that is None."""

    def __init__(self, link_field: str | None = "links.next", size_param: str | None = "limit") -> None:
        self.link_field, self.size_param = link_field, size_param

    def first_page(self) -> Mapping[str, Any]:
        return self._size()

    def next_page(self, previous: Mapping[str, Any], response: HttpPage) -> Mapping[str, Any] | None:
        link = self.next_link(response)
        return {URL_KEY: link} if link else None

    def next_link(self, page: HttpPage) -> str | None:
        if self.link_field is None:
            return (page.response.links.get("next") or {}).get("url")
        link = dig(page.body, self.link_field)
        return str(link) if link else None
