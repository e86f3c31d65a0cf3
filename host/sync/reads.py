"""The read in progress of each stream, kept in its cursor row so that a cycle cut into slices
(``[sync] slice_seconds``), or one that crashed, goes on from where it was.

What a page feeds is durable once the page commits (the profiles marked dirty, the outbox, the
order facts): the position saved with it may therefore move at once, while the stream's cursor
still moves only after the destination accepted what the stream fed
(``host.sync.phases.promote_cursors``). A ``ReadState`` says:

- ``position``: the cursor value of the latest record read. Listings in cursor order have read
  everything at or before it, so a later slice lists from exactly there (``continue_since``).
  A listing in another order (``ordered_by_cursor=False``) is never cut: its state is written
  once, when it was read to its end.
- ``whole_since``: the read lists the stream whole (a backfill, the periodic full refresh), and
  began then. Its end settles it: the refresh date, and for streams whose deletions only a whole
  read reveals the records it never listed (``host.sync.erasure.reconcile``). Those need every
  id the read listed, so each slice that stops keeps its ids (``WholeReadMark``) and says up to
  where (``marked``); a read that went further than its marks (a crash) lists again from the
  start rather than judge a record it may have listed unseen.
- ``complete``: the listing was read to its end (its records may still wait to be accepted).
  The later slices of the same cycle do not read it again; the next cycle begins a new read
  from its position.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import delete, insert, select
from sqlalchemy.orm import Session

from host.models import StreamCursor, WholeReadMark
from host.sources import Stream
from host.sync.cursors import parse_time

MARKS_PER_INSERT = 1000


@dataclass
class ReadState:
    position: str | None = None
    whole_since: datetime | None = None
    complete: bool = False
    marked: str | None = None  # the position up to which this whole read's ids are kept

    @property
    def whole(self) -> bool:
        return self.whole_since is not None

    @classmethod
    def of(cls, row: StreamCursor) -> ReadState | None:
        saved = row.read_state
        if not saved:
            return None
        whole_since = saved.get("whole_since")
        return cls(
            position=saved.get("position"),
            whole_since=parse_time(whole_since) if whole_since else None,
            complete=bool(saved.get("complete")),
            marked=saved.get("marked"),
        )

    def save(self, row: StreamCursor) -> None:
        row.read_state = {  # a new dict: the JSON column notices only a new value
            "position": self.position,
            "whole_since": self.whole_since.isoformat() if self.whole_since else None,
            "complete": self.complete,
            "marked": self.marked,
        }


def continue_since(stream: Stream, position: str) -> str:
    """The ``since`` that makes the source list from exactly ``position``: a source takes the
    stream's overlap off every ``since``, which a continued read must not repeat. Within one
    read the source's own paging already trusts exact dates between pages; a read continued in
    a later slice trusts them the same way."""
    return (parse_time(position) + stream.cursor_overlap).isoformat()


def keep_marks(session: Session, connection_id: int, stream: Stream, ids: Iterable[str]) -> None:
    """Keep the ids this slice of a whole read listed, for the slice that ends the read."""
    rows = [{"connection_id": connection_id, "stream": stream.name, "source_id": i} for i in ids]
    for start in range(0, len(rows), MARKS_PER_INSERT):
        session.execute(insert(WholeReadMark), rows[start : start + MARKS_PER_INSERT])


def kept_marks(session: Session, connection_id: int, stream: Stream) -> set[str]:
    return set(
        session.scalars(
            select(WholeReadMark.source_id).where(
                WholeReadMark.connection_id == connection_id, WholeReadMark.stream == stream.name
            )
        )
    )


def drop_marks(session: Session, connection_id: int, stream: Stream) -> None:
    session.execute(
        delete(WholeReadMark).where(
            WholeReadMark.connection_id == connection_id, WholeReadMark.stream == stream.name
        )
    )
