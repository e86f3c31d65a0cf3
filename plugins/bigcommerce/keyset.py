"""Keyset pagination over listings sorted by change date (bigcommerce-api.md §4 and §7).

Offset pages shift under a read: a record changed meanwhile jumps to the end of a listing
sorted by ``date_modified``, every later record moves one place back, and the one at the next
page boundary is never seen (nor seen again: the cursor moves past it). So each next page asks
again from the last record's change date, inclusive, and drops the records already emitted at
that exact second. A whole page sharing one second cannot move that boundary: such a second is
paged by offset within itself and the walk goes on after it; BigCommerce dates have whole-second
precision, so nothing lies between two seconds.

Whether a ``max`` filter keeps its own second is UNCONFIRMED for v2 orders (``max_date_modified``,
bigcommerce-api.md §3.5; the emulator plays both, mode ``order_max_date_modified``). So the tied
second T is paged as ``min = T, max = T + 1 s``, which holds every record of T either way: an
exclusive ``max`` answers T alone, an inclusive one T and T + 1 s, both in the listing's order
(T first). The walk then goes on from the second after the latest record emitted (T + 1 s, or
T + 2 s when the inclusive reading gave records of T + 1 s: all of them were paged with T).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from typing import Any

import requests

from plugins.bigcommerce.pagination import ListingPaginator, rows
from plugins.bigcommerce.transform import iso_utc

ONE_SECOND = timedelta(seconds=1)


def format_moment(moment: datetime, style: str) -> str:
    """A change-date filter value: ``iso`` (v3, ``...Z``) or ``rfc2822`` (v2)."""
    moment = moment.astimezone(UTC).replace(microsecond=0)
    if style == "rfc2822":
        return format_datetime(moment).replace("-0000", "+0000")
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def moment_of(value: str | None) -> datetime | None:
    """A v3 (ISO 8601) or v2 (RFC 2822) date as an aware datetime; None when empty."""
    text = iso_utc(value)
    return datetime.fromisoformat(text) if text else None


@dataclass(frozen=True)
class KeysetPaginator(ListingPaginator):
    """Declares a keyset walk: ``offsets`` pages one query and says when it ends; the filters
    ``since_param``/``until_param`` bound the change date, written in ``date_style``."""

    offsets: ListingPaginator
    since_param: str
    until_param: str
    date_style: str = "iso"
    cursor_field: str = "date_modified"
    key_field: str = "id"

    def walk(self) -> KeysetWalk:
        return KeysetWalk(self)

    def first_page(self) -> Mapping[str, Any]:
        raise TypeError("a keyset listing keeps state per read: walk it through walk()")

    def next_page(self, previous: Mapping[str, Any], response: Any) -> Mapping[str, Any] | None:
        raise TypeError("a keyset listing keeps state per read: walk it through walk()")


class KeysetWalk(ListingPaginator):
    """One read of a keyset listing: the boundary second, the keys emitted at it, the tie mode."""

    def __init__(self, declaration: KeysetPaginator) -> None:
        self.declaration = declaration
        self.boundary: datetime | None = None  # change date of the latest record emitted
        self.emitted_at_boundary: set[Any] = set()
        self.paging_a_tie = False  # offset pages within the boundary second

    def first_page(self) -> Mapping[str, Any]:
        return self.declaration.offsets.first_page()

    def records(self, response: requests.Response) -> list[dict[str, Any]]:
        """The page's rows not emitted before (decided once per response, however often asked)."""
        if "_keyset_records" not in response.__dict__:
            response.__dict__["_keyset_records"] = self._take(rows(response))
        return response.__dict__["_keyset_records"]

    def _take(self, page_rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
        fresh = []
        for row in page_rows:
            moment = moment_of(row.get(self.declaration.cursor_field))
            key = row.get(self.declaration.key_field)
            if moment is not None and (self.boundary is None or moment > self.boundary):
                self.boundary, self.emitted_at_boundary = moment, set()
            if moment is not None and moment == self.boundary:
                if key in self.emitted_at_boundary:
                    continue
                self.emitted_at_boundary.add(key)
            fresh.append(row)
        return fresh

    def next_page(
        self, previous: Mapping[str, Any], response: requests.Response
    ) -> Mapping[str, Any] | None:
        self.records(response)  # the boundary must include this page
        page_rows = rows(response)
        offset_next = self.declaration.offsets.next_page(previous, response)
        if self.paging_a_tie:
            if offset_next is not None:
                return offset_next  # keeps the tied window (min = T, max = T + 1 s)
            self.paging_a_tie = False
            return self._from(self.boundary + ONE_SECOND)
        if self.boundary is None:  # rows without change dates: nothing to key on
            return offset_next
        if offset_next is None or not page_rows:
            return None
        first = moment_of(page_rows[0].get(self.declaration.cursor_field))
        if first == self.boundary:  # a whole page in one second: the boundary cannot move
            self.paging_a_tie = True
            until = format_moment(self.boundary + ONE_SECOND, self.declaration.date_style)
            return {**self._from(self.boundary), self.declaration.until_param: until}
        return self._from(self.boundary)

    def _from(self, moment: datetime) -> dict[str, Any]:
        return {
            **self.declaration.offsets.first_page(),
            self.declaration.since_param: format_moment(moment, self.declaration.date_style),
        }
