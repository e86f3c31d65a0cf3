"""Planner statistics while a backfill fills the tables.

A database plans a query from what it knows of a table's size and values. During a backfill
the ledger and the contact profiles grow from nothing to millions of rows faster than
PostgreSQL's autovacuum notices (it looks once a minute), so the look-ups of a page's 500 ids
are planned as for an empty table: sequential scans, 50 ms where an index takes 4.5. The sync
therefore asks for statistics itself, when the rows it wrote have doubled since the last time
(2,000, 4,000, 8,000, ...): a handful of cheap ``ANALYZE`` runs per backfill, none afterwards.
"""

from __future__ import annotations

import logging
import threading

from sqlalchemy import text
from sqlalchemy.orm import Session

log = logging.getLogger(__name__)
TABLES = ("ledger", "contact_profiles")
FIRST_AT = 2000  # records applied before the first refresh

_lock = threading.Lock()
_progress: dict[int, tuple[int, int]] = {}  # connection id → (records applied, next refresh at)


def records_applied(session: Session, connection_id: int, count: int) -> bool:
    """Count ``count`` records applied for the connection; refresh the statistics when they
    doubled since the last refresh. Answers whether it refreshed them."""
    with _lock:
        applied, due_at = _progress.get(connection_id, (0, FIRST_AT))
        applied += count
        due = applied >= due_at
        _progress[connection_id] = (applied, applied * 2 if due else due_at)
    if due:
        refresh(session)
    return due


def refresh(session: Session) -> None:
    """``ANALYZE`` the tables the sync's batch queries read."""
    dialect = session.get_bind().dialect.name
    if dialect == "postgresql":
        session.execute(text(f"ANALYZE {', '.join(TABLES)}"))
    elif dialect == "sqlite":
        for table in TABLES:
            session.execute(text(f"ANALYZE {table}"))
    log.debug("planner statistics refreshed (%s)", dialect)
