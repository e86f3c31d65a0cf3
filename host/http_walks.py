"""Walkers for listings a long read can shift under, for ``host.http_source``: by keyset over a
change date (``KeysetPaginator``) and again from the start when a listing shrank
(``RereadWhenShrunkPaginator``). Each drops the rows it gives twice (``new_rows``)."""

from __future__ import annotations

from array import array
from bisect import bisect_left
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from host.http_paging import HttpPage, HttpPaginator, _instant, _number, dig


class KeysetPaginator(HttpPaginator):
    """Walks a listing sorted by change date by keyset, not by offset: offset pages shift under a
    long read (a row changed meanwhile jumps to the end, every later one moves back a place and
    the one at the next page boundary is never seen). Each next page asks again from the last
    row's date (``since_param``, inclusive) and drops the rows already given at that date. A
    whole page sharing one date cannot move that boundary: that date is paged by offset within
    ``since_param = T, until_param = T + step`` (right whether the API's ``until`` is inclusive
    or not), and the walk goes on after it. ``offsets`` pages one query and says when it ends;
    override ``moment`` and ``format_moment`` for dates not written in ISO 8601."""

    step = timedelta(seconds=1)  # the dates' precision: nothing lies between two steps

    def __init__(
        self,
        offsets: HttpPaginator,
        since_param: str,
        until_param: str,
        *,
        cursor_field: str = "date_modified",
        key_field: str = "id",
    ) -> None:
        self.offsets, self.since_param, self.until_param = offsets, since_param, until_param
        self.cursor_field, self.key_field = cursor_field, key_field
        self.page_size = offsets.page_size
        self.begin()

    def start(self, page_size: int | None = None) -> KeysetPaginator:
        walker = super().start(page_size)
        walker.offsets = self.offsets.start(page_size)
        return walker

    def begin(self) -> None:
        self.boundary: datetime | None = None  # the date of the latest row given
        self.at_boundary: set[Any] = set()  # the keys given at that date
        self.paging_a_tie = False
        self._taken: tuple[Any, list[Any]] = (None, [])

    def moment(self, value: Any) -> datetime | None:
        try:
            return _instant(str(value)) if value else None
        except ValueError:
            return None

    def format_moment(self, moment: datetime) -> str:
        return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")

    def first_page(self) -> Mapping[str, Any]:
        return self.offsets.first_page()

    def new_rows(self, page: HttpPage) -> list[Any]:
        if self._taken[0] is not page.response:  # decided once per page, however often asked
            self._taken = (page.response, self._take(page.records))
        return self._taken[1]

    def _take(self, rows: list[Any]) -> list[Any]:
        fresh = []
        for row in rows:
            moment, key = self.moment(row.get(self.cursor_field)), row.get(self.key_field)
            if moment is not None and (self.boundary is None or moment > self.boundary):
                self.boundary, self.at_boundary = moment, set()
            if moment is not None and moment == self.boundary:
                if key in self.at_boundary:
                    continue
                self.at_boundary.add(key)
            fresh.append(row)
        return fresh

    def next_page(self, previous: Mapping[str, Any], response: HttpPage) -> Mapping[str, Any] | None:
        self.new_rows(response)  # the boundary must include this page
        following = self.offsets.next_page(previous, response)
        if self.paging_a_tie:
            if following is not None:
                return following  # keeps the tied window
            self.paging_a_tie = False
            return self._from(self.boundary + self.step)
        if self.boundary is None:  # rows without dates: nothing to key on
            return following
        if following is None or not response.records:
            return None
        if self.moment(response.records[0].get(self.cursor_field)) == self.boundary:
            self.paging_a_tie = True  # a whole page at one date
            return {**self._from(self.boundary), self.until_param: self.format_moment(self.boundary + self.step)}
        return self._from(self.boundary)

    def _from(self, moment: datetime) -> dict[str, Any]:
        return {**self.offsets.first_page(), self.since_param: self.format_moment(moment)}


class RereadWhenShrunkPaginator(HttpPaginator):
    """Pages (``offsets``) over a listing kept in a stable order, e.g. by id, that no change
    reorders but a deletion shifts: every row after it moves back a place, and the one at the
    next page boundary would be skipped. When the listing's row count (``total_field``) drops
    during a pass, it is read again from its first page (up to ``max_passes``); rows given
    unchanged (same ``key_fields``) are not given twice. What was given is kept as 8-byte hashes:
    200,000 rows cost 1.6 MB."""

    def __init__(
        self, offsets: HttpPaginator, total_field: str, *, key_fields: Sequence[str] = ("id",), max_passes: int = 3
    ) -> None:
        self.offsets, self.total_field, self.key_fields = offsets, total_field, tuple(key_fields)
        self.max_passes, self.page_size = max_passes, offsets.page_size
        self.begin()

    def start(self, page_size: int | None = None) -> RereadWhenShrunkPaginator:
        walker = super().start(page_size)
        walker.offsets = self.offsets.start(page_size)
        return walker

    def begin(self) -> None:
        self.earlier = array("q")  # sorted: given by the passes before this one
        self.this_pass = array("q")  # given by this pass
        self.previous_page: set[int] = set()  # an insertion may repeat the page before's rows
        self.pass_total: int | None = None
        self.shrunk, self.passes = False, 1
        self._taken: tuple[Any, list[Any]] = (None, [])

    def first_page(self) -> Mapping[str, Any]:
        return self.offsets.first_page()

    def _given_earlier(self, key: int) -> bool:
        at = bisect_left(self.earlier, key)
        return at < len(self.earlier) and self.earlier[at] == key

    def new_rows(self, page: HttpPage) -> list[Any]:
        if self._taken[0] is not page.response:
            fresh, keys = [], set()
            for row in page.records:
                key = hash(tuple(row.get(field) for field in self.key_fields))
                if key in keys or key in self.previous_page or self._given_earlier(key):
                    continue
                keys.add(key)
                self.this_pass.append(key)
                fresh.append(row)
            self.previous_page = keys
            self._taken = (page.response, fresh)
        return self._taken[1]

    def next_page(self, previous: Mapping[str, Any], response: HttpPage) -> Mapping[str, Any] | None:
        self.new_rows(response)
        total = _number(dig(response.body, self.total_field))
        if total is not None:
            self.shrunk = self.shrunk or (self.pass_total is not None and total < self.pass_total)
            self.pass_total = int(total)
        following = self.offsets.next_page(previous, response)
        if following is None and self.shrunk and self.passes < self.max_passes:
            self.earlier = array("q", sorted([*self.earlier, *self.this_pass]))
            self.this_pass, self.previous_page = array("q"), set()
            self.passes, self.pass_total, self.shrunk = self.passes + 1, None, False
            return self.first_page()
        return following
