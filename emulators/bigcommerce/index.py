"""Sorted indexes over a ``LazyTable``, kept up to date record by record.

A listing page must cost O(page) + O(log n), whatever the store's size and however often it
changes, so nothing here is rebuilt on a change:

- ``SortedIndex``: the ids of one *view* (a subset of the table: e.g. the orders listed by
  default, or the guest orders) in the order of one key (id, date_created or date_modified,
  ascending or descending; ties by id ascending). Each entry is one 64-bit integer
  ``(key << 32) | id`` (the key mirrored for a descending order), kept in a blocked sorted list:
  a range of keys is two bisections, a page is a slice, a change is one removal and one
  insertion in a block of about a thousand entries.
- ``IdBlocks``: for lists in id order filtered by a range of another key (subscribers by
  ``date_modified:min``): the ids are cut into blocks of ``BLOCK`` consecutive ids, each with the
  sorted keys of its members; counting the matches is a bisection per block, a page scans
  one or two blocks.

Both keep a membership byte per id, so a record that leaves or joins the view (an order
archived, its status changed) is moved by ``update(id, old_key)``, called by the table after
the record's keys and the store's per-record flags have changed.
"""

from __future__ import annotations

from array import array
from bisect import bisect_left, bisect_right
from collections.abc import Callable, Iterator, Sequence
from itertools import accumulate

SHIFT = 32
ID_MASK = (1 << SHIFT) - 1
TOP = (1 << 31) - 1  # keys are unix seconds or ids: below 2**31
LOAD = 1000  # entries per block of a SortedKeys (split at twice this)
BLOCK = 2048  # ids per block of an IdBlocks


class SortedKeys:
    """A sorted list of distinct ints in blocks (``array('q')``): bisect, insert, remove, slice."""

    def __init__(self, ordered: Sequence[int]) -> None:
        data = ordered if isinstance(ordered, array) else array("q", ordered)
        self.blocks = [data[i:i + LOAD] for i in range(0, len(data), LOAD)]
        self.maxes = [block[-1] for block in self.blocks]
        self.size = len(data)
        self._offsets: list[int] | None = None

    def __len__(self) -> int:
        return self.size

    def _starts(self) -> list[int]:
        if self._offsets is None:
            self._offsets = [0, *accumulate(len(b) for b in self.blocks)]
        return self._offsets

    def insert(self, key: int) -> None:
        blocks, maxes = self.blocks, self.maxes
        self.size += 1
        self._offsets = None
        if not blocks:
            blocks.append(array("q", [key]))
            maxes.append(key)
            return
        i = bisect_left(maxes, key)
        if i == len(maxes):
            i -= 1
        block = blocks[i]
        block.insert(bisect_left(block, key), key)
        maxes[i] = block[-1]
        if len(block) > 2 * LOAD:
            blocks[i:i + 1] = [block[:LOAD], block[LOAD:]]
            maxes[i:i + 1] = [block[LOAD - 1], block[-1]]

    def remove(self, key: int) -> bool:
        blocks, maxes = self.blocks, self.maxes
        i = bisect_left(maxes, key)
        if i == len(maxes):
            return False
        block = blocks[i]
        j = bisect_left(block, key)
        if j == len(block) or block[j] != key:
            return False
        del block[j]
        if block:
            maxes[i] = block[-1]
        else:
            del blocks[i]
            del maxes[i]
        self.size -= 1
        self._offsets = None
        return True

    def position(self, key: int) -> int:
        """How many entries are below ``key`` (bisect_left over the whole list)."""
        i = bisect_left(self.maxes, key)
        if i == len(self.maxes):
            return self.size
        return self._starts()[i] + bisect_left(self.blocks[i], key)

    def slice(self, start: int, stop: int) -> list[int]:
        """Entries ``start`` (inclusive) to ``stop`` (exclusive), 0 <= start <= stop <= len."""
        if start >= stop:
            return []
        starts = self._starts()
        i = bisect_right(starts, start) - 1
        out: list[int] = []
        offset = start - starts[i]
        need = stop - start
        blocks = self.blocks
        while need > 0 and i < len(blocks):
            part = blocks[i][offset:offset + need]
            out.extend(part)
            need -= len(part)
            i, offset = i + 1, 0
        return out


def _ids(keys: list[int]) -> list[int]:
    return [k & ID_MASK for k in keys]


class SortedIndex:
    """The members of one view, ordered by one key; see the module docstring."""

    def __init__(self, table, key: str, descending: bool, member: Callable[[int], bool] | None) -> None:
        self.table, self.key, self.descending, self.member = table, key, descending, member
        values = table.key_array(key)
        alive = table.alive
        if member is None:
            ids = [i for i in range(1, len(alive)) if alive[i]] if table.deleted else range(1, len(alive))
        else:
            ids = [i for i in range(1, len(alive)) if alive[i] and member(i)]
        self.inside = bytearray(len(alive))
        if isinstance(ids, range):
            self.inside[1:] = b"\x01" * (len(alive) - 1)
        else:
            for i in ids:
                self.inside[i] = 1
        if values is None:  # by id: the key is the id
            keys = [(i << SHIFT) | i for i in ids]
            if descending:
                keys = [((TOP - i) << SHIFT) | i for i in reversed(ids)]
        elif descending:
            keys = sorted([((TOP - values[i]) << SHIFT) | i for i in ids])
        else:
            keys = sorted([(values[i] << SHIFT) | i for i in ids])
        self.keys = SortedKeys(array("q", keys))

    def entry(self, value: int, record_id: int) -> int:
        return (((TOP - value) if self.descending else value) << SHIFT) | record_id

    def value_of(self, record_id: int) -> int:
        values = self.table.key_array(self.key)
        return record_id if values is None else values[record_id]

    def update(self, record_id: int, old_value: int | None) -> None:
        """Record ``record_id`` changed (or was created: ``old_value`` None); its key was ``old_value``."""
        inside = self.inside
        if record_id >= len(inside):
            inside.extend(bytes(record_id + 1 - len(inside)))
        if inside[record_id] and old_value is not None:
            self.keys.remove(self.entry(old_value, record_id))
        now = self.table.exists(record_id) and (self.member is None or bool(self.member(record_id)))
        inside[record_id] = now
        if now:
            self.keys.insert(self.entry(self.value_of(record_id), record_id))

    def range(self, low: int | None, high: int | None) -> IndexView:
        """Members whose key lies in [low, high] (inclusive; None = open)."""
        keys = self.keys
        if self.descending:
            start = 0 if high is None else keys.position(max(0, TOP - high) << SHIFT)
            end = len(keys) if low is None else keys.position(max(0, TOP - low + 1) << SHIFT)
        else:
            start = 0 if low is None else keys.position(max(0, low) << SHIFT)
            end = len(keys) if high is None else keys.position(max(0, high + 1) << SHIFT)
        return IndexView(self, start, max(start, end))


class IndexView(Sequence):
    """A contiguous run of a ``SortedIndex``: ids by position, without copying the run."""

    def __init__(self, index: SortedIndex, start: int, end: int) -> None:
        self.index_, self.start, self.end = index, start, end

    def __len__(self) -> int:
        return self.end - self.start

    def __getitem__(self, item):
        if isinstance(item, slice):
            start, stop, step = item.indices(len(self))
            if step != 1:
                return list(self)[item]
            return _ids(self.index_.keys.slice(self.start + start, self.start + max(start, stop)))
        if item < 0:
            item += len(self)
        if not 0 <= item < len(self):
            raise IndexError(item)
        return self.index_.keys.slice(self.start + item, self.start + item + 1)[0] & ID_MASK

    def __iter__(self) -> Iterator[int]:
        for at in range(self.start, self.end, 4096):
            yield from _ids(self.index_.keys.slice(at, min(self.end, at + 4096)))

    def index(self, record_id, start=0, stop=None) -> int:
        index = self.index_
        if 0 < record_id < len(index.inside) and index.inside[record_id]:
            at = index.keys.position(index.entry(index.value_of(record_id), record_id)) - self.start
            if 0 <= at < len(self):
                return at
        raise ValueError(f"{record_id} is not in the list")

    def __contains__(self, record_id) -> bool:
        try:
            self.index(record_id)
        except ValueError:
            return False
        return True


class IdBlocks:
    """Members of one view by blocks of ids, with each block's keys sorted: id-ordered lists
    filtered by a range of ``key``."""

    def __init__(self, table, key: str, member: Callable[[int], bool] | None) -> None:
        self.table, self.key, self.member = table, key, member
        values, alive = table.key_array(key), table.alive
        self.inside = bytearray(len(alive))
        self.sorted: list[array] = []
        for first in range(0, len(alive), BLOCK):
            ids = [i for i in range(max(1, first), min(len(alive), first + BLOCK))
                   if alive[i] and (member is None or member(i))]
            for i in ids:
                self.inside[i] = 1
            self.sorted.append(array("q", sorted([values[i] for i in ids])))

    def update(self, record_id: int, old_value: int | None) -> None:
        inside = self.inside
        if record_id >= len(inside):
            inside.extend(bytes(record_id + 1 - len(inside)))
        while len(self.sorted) <= record_id // BLOCK:
            self.sorted.append(array("q"))
        block = self.sorted[record_id // BLOCK]
        if inside[record_id] and old_value is not None:
            j = bisect_left(block, old_value)
            if j < len(block) and block[j] == old_value:
                del block[j]
        now = self.table.exists(record_id) and (self.member is None or bool(self.member(record_id)))
        inside[record_id] = now
        if now:
            value = self.table.key_array(self.key)[record_id]
            block.insert(bisect_right(block, value), value)

    def range(self, low: int | None, high: int | None, descending: bool = False) -> BlocksView:
        return BlocksView(self, low, high, descending)


class BlocksView(Sequence):
    """The members of an ``IdBlocks`` whose key lies in [low, high], in id order."""

    def __init__(self, blocks: IdBlocks, low: int | None, high: int | None, descending: bool) -> None:
        self.blocks, self.low, self.high, self.descending = blocks, low, high, descending
        counts = []
        for keys in blocks.sorted:
            first = 0 if low is None else bisect_left(keys, low)
            last = len(keys) if high is None else bisect_right(keys, high)
            counts.append(max(0, last - first))
        if descending:
            counts.reverse()
        self.counts = counts
        self.starts = [0, *accumulate(counts)]

    def __len__(self) -> int:
        return self.starts[-1]

    def _block_ids(self, position: int) -> range:
        number = len(self.counts) - 1 - position if self.descending else position
        first, last = max(1, number * BLOCK), min(len(self.blocks.inside), (number + 1) * BLOCK)
        return range(last - 1, first - 1, -1) if self.descending else range(first, last)

    def _matches(self, ids: range) -> Iterator[int]:
        inside, values = self.blocks.inside, self.blocks.table.key_array(self.blocks.key)
        low, high = self.low, self.high
        for i in ids:
            if inside[i] and (low is None or values[i] >= low) and (high is None or values[i] <= high):
                yield i

    def _take(self, start: int, stop: int) -> list[int]:
        if start >= stop:
            return []
        position = bisect_right(self.starts, start) - 1
        skip, out = start - self.starts[position], []
        while len(out) < stop - start and position < len(self.counts):
            if self.counts[position]:
                for i in self._matches(self._block_ids(position)):
                    if skip:
                        skip -= 1
                        continue
                    out.append(i)
                    if len(out) == stop - start:
                        break
            position, skip = position + 1, 0
        return out

    def __getitem__(self, item):
        if isinstance(item, slice):
            start, stop, step = item.indices(len(self))
            if step != 1:
                return list(self)[item]
            return self._take(start, stop)
        if item < 0:
            item += len(self)
        if not 0 <= item < len(self):
            raise IndexError(item)
        return self._take(item, item + 1)[0]

    def __iter__(self) -> Iterator[int]:
        for position in range(len(self.counts)):
            if self.counts[position]:
                yield from self._matches(self._block_ids(position))

    def index(self, record_id, start=0, stop=None) -> int:
        number = record_id // BLOCK
        if not 0 <= number < len(self.counts):
            raise ValueError(f"{record_id} is not in the list")
        position = len(self.counts) - 1 - number if self.descending else number
        before = self.starts[position]
        for i in self._matches(self._block_ids(position)):
            if i == record_id:
                return before
            before += 1
        raise ValueError(f"{record_id} is not in the list")
