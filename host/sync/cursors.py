"""Stream cursors: how far each stream was read and accepted, and when it was last read whole.

A cursor only moves after the destination accepted the page that carried it. The same table
keeps the fingerprint of the contact settings (mapping, books, opt-in) under a reserved name,
so a change to them is noticed by the next cycle.
"""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from host.models import StreamCursor
from host.sources import Stream

CONTACT_SETTINGS = "~contact_settings"  # reserved: never a source stream name


def cursor_row(session: Session, connection_id: int, name: str) -> StreamCursor:
    row = session.scalar(
        select(StreamCursor).where(
            StreamCursor.connection_id == connection_id, StreamCursor.stream == name
        )
    )
    if row is None:
        row = StreamCursor(connection_id=connection_id, stream=name)
        session.add(row)
    return row


def full_refresh_due(row: StreamCursor, stream: Stream, now: datetime) -> bool:
    """A stream whose changes the cursor cannot see is read whole every so often."""
    if stream.cursor_field is None or row.value is None:
        return True
    if stream.full_refresh_every is None:
        return False
    return (
        row.last_full_refresh_at is None
        or now - row.last_full_refresh_at >= stream.full_refresh_every
    )


def later(current: str | None, candidate: str | None) -> str | None:
    """The later of two ISO 8601 UTC cursor values (they compare as instants)."""
    if candidate is None:
        return current
    if current is None:
        return candidate
    return candidate if parse_time(candidate) > parse_time(current) else current


def parse_time(value: str | datetime) -> datetime:
    """An aware UTC datetime from an ISO 8601 string (naive values are taken as UTC)."""
    parsed = (
        value
        if isinstance(value, datetime)
        else datetime.fromisoformat(value.replace("Z", "+00:00"))
    )
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=UTC)
