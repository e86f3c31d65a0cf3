"""A compact record table: generated records built on demand, changed ones kept whole.

Each record has an integer id (1..n) and two sort keys held in arrays (date_created and
date_modified as unix seconds). Sorted id orders (``index.SortedIndex``, ``index.IdBlocks``)
are built on first use and then updated record by record on every change, so a page of a
million-row table is a bisect and a slice, however often the store changes.
Callers hold the store lock; the table itself is not synchronised.
"""

from __future__ import annotations

from array import array
from bisect import bisect_left, bisect_right
from collections.abc import Callable, Sequence

from .index import IdBlocks, SortedIndex

KEYS = ("id", "created", "modified")
# Tables up to this size keep generated records once built (fast repeated reads of small
# stores). Bigger tables rebuild per request: caching millions of dicts would slow every
# garbage collection and cost gigabytes.
BUILT_CACHE_LIMIT = 50_000


class LazyTable:
    """Records by id; ``build(id)`` makes a generated record (never mutated by the table)."""

    def __init__(self, build: Callable[[int], dict], created: array, modified: array) -> None:
        self._build = build
        self.created = created
        self.modified = modified
        self.alive = bytearray(b"\x01") * len(created)
        self.alive[0] = 0
        self.overrides: dict[int, dict] = {}
        self.deleted = 0
        self.version = 0
        self._cache: dict[tuple, tuple[int, Sequence[int]]] = {}
        self._indexes: dict[tuple, SortedIndex] = {}
        self._blocks: dict[tuple, IdBlocks] = {}
        # called as listener(record_id, old_record_or_None, new_record_or_None) on each change
        self.listeners: list[Callable[[int, dict | None, dict | None], None]] = []
        self._built: dict[int, dict] = {}  # generated records never change: keep some

    # ------------------------------------------------------------------ reading
    @property
    def next_id(self) -> int:
        return len(self.created)

    def __len__(self) -> int:
        return len(self.created) - 1 - self.deleted

    def exists(self, record_id: int) -> bool:
        return 0 < record_id < len(self.created) and bool(self.alive[record_id])

    def get(self, record_id: int) -> dict | None:
        """The current record, or None. Do not mutate the result: copy it first."""
        if not self.exists(record_id):
            return None
        found = self.overrides.get(record_id)
        if found is not None:
            return found
        found = self._built.get(record_id)
        if found is None:
            found = self._build(record_id)
            if len(self.created) <= BUILT_CACHE_LIMIT:
                self._built[record_id] = found
        return found

    def key_array(self, key: str) -> Sequence[int] | None:
        return {"created": self.created, "modified": self.modified}.get(key)

    def index(self, key: str = "id", descending: bool = False, view: str = "all",
              member: Callable[[int], bool] | None = None) -> SortedIndex:
        """The ``SortedIndex`` of a named view (``member`` says who is in it), built on first
        use and then kept up to date by every ``put``/``delete``."""
        found = self._indexes.get((key, descending, view))
        if found is None:
            found = self._indexes[(key, descending, view)] = SortedIndex(self, key, descending, member)
        return found

    def id_blocks(self, key: str, view: str = "all", member: Callable[[int], bool] | None = None) -> IdBlocks:
        """The ``IdBlocks`` of a named view by ``key`` (id-ordered lists filtered by ``key``)."""
        found = self._blocks.get((key, view))
        if found is None:
            found = self._blocks[(key, view)] = IdBlocks(self, key, member)
        return found

    def ordered(self, key: str = "id", descending: bool = False,
                view: str = "all", keep: Callable[[int], bool] | None = None) -> Sequence[int]:
        """Alive ids sorted by ``key`` (ties by id ascending), restricted to a named ``view``
        (``keep`` says who is in it)."""
        return self.index(key, descending, view, keep).range(None, None)

    def ordered_by(self, name: str, sort_key: Callable[[int], object], descending: bool = False) -> Sequence[int]:
        """Alive ids sorted by a computed key (e.g. last name); cached until the next change."""
        cache_key = ("computed", name, descending)
        cached = self._cache.get(cache_key)
        if cached and cached[0] == self.version:
            return cached[1]
        ids = array("q", sorted(self.ordered("id"), key=sort_key, reverse=descending))
        self._cache[cache_key] = (self.version, ids)
        return ids

    def narrow(self, ids: Sequence[int], key: str, descending: bool,
               low: int | None, high: int | None) -> Sequence[int]:
        """The part of ``ids`` (sorted by ``key``) whose key lies in [low, high], by bisection."""
        values = self.key_array(key)
        value_of = (lambda i: i) if values is None else values.__getitem__
        if descending:
            start = 0 if high is None else bisect_left(ids, -high, key=lambda i: -value_of(i))
            end = len(ids) if low is None else bisect_right(ids, -low, key=lambda i: -value_of(i))
        else:
            start = 0 if low is None else bisect_left(ids, low, key=value_of)
            end = len(ids) if high is None else bisect_right(ids, high, key=value_of)
        return ids[start:end]

    def in_range(self, key: str, record_id: int, low: int | None, high: int | None) -> bool:
        values = self.key_array(key)
        value = record_id if values is None else values[record_id]
        return (low is None or value >= low) and (high is None or value <= high)

    # ------------------------------------------------------------------ writing
    def put(self, record_id: int, record: dict, created: int, modified: int) -> None:
        """Replace (or create, when ``record_id == next_id``) a record. Per-record flags kept
        outside the table (e.g. an order's status) must be changed before this call: the
        indexes re-read them here."""
        new = record_id == len(self.created)
        old_record = None if new else self.get(record_id) if self.listeners else None
        old = None if new else {"id": record_id, "created": self.created[record_id],
                                "modified": self.modified[record_id]}
        if new:
            self.created.append(created)
            self.modified.append(modified)
            self.alive.append(1)
        self.overrides[record_id] = record
        self.created[record_id] = created
        self.modified[record_id] = modified
        self.version += 1
        self._reindex(record_id, old)
        for listener in self.listeners:
            listener(record_id, old_record, record)

    def delete(self, record_id: int) -> None:
        if self.exists(record_id):
            old_record = self.get(record_id) if self.listeners else None
            self.alive[record_id] = 0
            self.overrides.pop(record_id, None)
            self.deleted += 1
            self.version += 1
            self._reindex(record_id, {"id": record_id, "created": self.created[record_id],
                                      "modified": self.modified[record_id]})
            for listener in self.listeners:
                listener(record_id, old_record, None)

    def _reindex(self, record_id: int, old: dict | None) -> None:
        for index in self._indexes.values():
            index.update(record_id, None if old is None else old[index.key])
        for blocks in self._blocks.values():
            blocks.update(record_id, None if old is None else old[blocks.key])
