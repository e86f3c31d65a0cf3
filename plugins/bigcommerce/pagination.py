"""Paginators for BigCommerce listings (bigcommerce-api.md §4).

v3 answers ``{"data": [...], "meta": {"pagination": {...}}}`` and says how many pages there are
(and, in ``per_page``, how many a page holds: a store may serve fewer than the ``limit`` asked);
v2 answers a bare array and ends with ``204 No Content``, or a page shorter than the limit, which
saves the last, empty call, when the store is known to serve longer pages there (``limits``: a
short v2 page may also be the store's own cap, and then the listing goes on).
"""

from __future__ import annotations

import json
from array import array
from bisect import bisect_left
from collections.abc import Mapping
from itertools import chain
from typing import Any

import orjson
import requests

from host.sources import Paginator


def decode_json(content: bytes) -> Any:
    """JSON decoded by orjson (several times faster than ``json`` on listing pages); what orjson
    refuses (e.g. a BOM) is left to ``json``, which raises ``ValueError`` as ``Response.json`` did."""
    try:
        return orjson.loads(content)
    except orjson.JSONDecodeError:
        return json.loads(content.decode("utf-8-sig"))


def body(response: requests.Response) -> Any:
    """The decoded JSON of a response, decoded once however often it is asked for (None when empty)."""
    if "_decoded_body" not in response.__dict__:
        empty = response.status_code == 204 or not response.content
        response.__dict__["_decoded_body"] = None if empty else decode_json(response.content)
    return response.__dict__["_decoded_body"]


def rows(response: requests.Response) -> list[dict[str, Any]]:
    """The records of one page of either API generation."""
    body_ = body(response)
    if body_ is None:
        return []
    if isinstance(body_, dict):
        return list(body_.get("data") or [])
    return list(body_ or [])


class ListingPaginator(Paginator):
    """A paginator that may keep state for one listing: ``walk()`` gives the walker of one read,
    ``records(response)`` the rows of a page not emitted before. Offset paginators walk themselves."""

    def walk(self) -> ListingPaginator:
        return self

    def records(self, response: requests.Response) -> list[dict[str, Any]]:
        return rows(response)


class PageLimitPaginator(ListingPaginator):
    """Numbered pages of ``limit`` records; subclasses say when the listing has ended."""

    def __init__(self, page_size: int = 250):
        self.page_size = page_size

    def first_page(self) -> Mapping[str, Any]:
        return {"page": 1, "limit": self.page_size}


class V3PagePaginator(PageLimitPaginator):
    """``page``/``limit`` with ``meta.pagination.current_page < total_pages`` as the rule to go on."""

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


def is_last_v2_page(response: requests.Response, limit: Any) -> bool:
    """Whether a v2 page ends its listing: a 204 or an empty page does; a page shorter than the
    ``limit`` sent does unless the store may cap pages at that length (it never served a longer
    page on that endpoint: ``limits``). Responses not read through the client carry no such
    knowledge: a short page ends them."""
    count = len(rows(response))
    if count == 0:
        return True
    sent = int(response.__dict__.get("sent_limit") or limit)
    if count >= sent:
        return False
    served_before = response.__dict__.get("served_before")
    return served_before is None or count < served_before


class V2PagePaginator(PageLimitPaginator):
    """``page``/``limit``; a 204, an empty or a short page ends the listing (``is_last_v2_page``)."""

    def next_page(
        self, previous: Mapping[str, Any], response: requests.Response
    ) -> Mapping[str, Any] | None:
        if is_last_v2_page(response, previous["limit"]):
            return None
        return {**previous, "page": int(previous["page"]) + 1}


class IdWindowPaginator(V2PagePaginator):
    """The v2 pages of one ``min_id``..``max_id`` window: none past the window's width of ids
    (a window of 250 ids fits one page of 250, unless the store serves shorter pages)."""

    def __init__(self, width: int, page_size: int = 250) -> None:
        super().__init__(page_size)
        self.width = width

    def next_page(
        self, previous: Mapping[str, Any], response: requests.Response
    ) -> Mapping[str, Any] | None:
        following = super().next_page(previous, response)
        # pages hold as many as this one (the limit sent, or the store's own cap): past the
        # window's width there is nothing more
        if following is None or int(previous["page"]) * len(rows(response)) >= self.width:
            return None
        return following


class RereadWhenShrunkPaginator(ListingPaginator):
    """Offset pages over a listing kept in id order (subscribers take no ``sort``).

    A change keeps a record in its place there, but a record deleted from a page already read
    moves every later one back a place, so the one at the next page boundary would be skipped.
    When the listing's ``total`` drops during a pass, the listing is read again from its first
    page (up to ``max_passes``); records already emitted unchanged are not emitted twice.
    """

    def __init__(self, offsets: V3PagePaginator, max_passes: int = 3):
        self.offsets = offsets
        self.max_passes = max_passes

    def walk(self) -> ListingPaginator:
        return _RereadWhenShrunkWalk(self)

    def first_page(self) -> Mapping[str, Any]:
        return self.offsets.first_page()

    def next_page(
        self, previous: Mapping[str, Any], response: requests.Response
    ) -> Mapping[str, Any] | None:
        return self.offsets.next_page(previous, response)  # walked without state: offsets only


class _RereadWhenShrunkWalk(ListingPaginator):
    """One read. What it emitted is kept as 8-byte hashes of (id, date_modified), not as
    records: a 200,000-subscriber listing costs 1.6 MB, not tens. Within a pass only the page
    before can repeat a record (an insertion shifts the listing by a place or so); a pass read
    again from the start skips what the earlier passes emitted unchanged."""

    def __init__(self, declaration: RereadWhenShrunkPaginator) -> None:
        self.declaration = declaration
        self.earlier = array("q")  # sorted: emitted by the passes before this one
        self.this_pass = array("q")  # emitted by this pass, in listing order
        self.previous_page: set[int] = set()
        self.pass_total: int | None = None
        self.shrunk = False
        self.passes = 1

    def first_page(self) -> Mapping[str, Any]:
        return self.declaration.first_page()

    def _emitted_earlier(self, key: int) -> bool:
        at = bisect_left(self.earlier, key)
        return at < len(self.earlier) and self.earlier[at] == key

    def records(self, response: requests.Response) -> list[dict[str, Any]]:
        if "_unseen_records" not in response.__dict__:
            fresh, page_keys = [], set()
            for row in rows(response):
                key = hash((row.get("id"), row.get("date_modified")))
                if key in page_keys or key in self.previous_page or self._emitted_earlier(key):
                    continue
                page_keys.add(key)
                self.this_pass.append(key)
                fresh.append(row)
            self.previous_page = page_keys
            response.__dict__["_unseen_records"] = fresh
        return response.__dict__["_unseen_records"]

    def _read_again(self) -> Mapping[str, Any]:
        self.earlier = array("q", sorted(chain(self.earlier, self.this_pass)))
        self.this_pass, self.previous_page = array("q"), set()
        self.passes, self.pass_total, self.shrunk = self.passes + 1, None, False
        return self.first_page()

    def next_page(
        self, previous: Mapping[str, Any], response: requests.Response
    ) -> Mapping[str, Any] | None:
        self.records(response)
        decoded = body(response)
        meta = (decoded.get("meta") or {}) if isinstance(decoded, dict) else {}
        total = (meta.get("pagination") or {}).get("total")
        if total is not None:
            if self.pass_total is not None and int(total) < self.pass_total:
                self.shrunk = True
            self.pass_total = int(total)
        following = self.declaration.next_page(previous, response)
        if following is None and self.shrunk and self.passes < self.declaration.max_passes:
            return self._read_again()
        return following
