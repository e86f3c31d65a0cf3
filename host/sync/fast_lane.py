"""The fast lane: events from the webhook inbox trigger a targeted sync of just those ids.

It runs only for connections whose first cycle has finished (so a first order is judged against
the whole order history) and never while a cycle holds the connection: the events then wait in
the inbox, and the periodic cycle remains the safety net. Events are marked processed in the
same transaction as the records they brought, so none is lost or applied twice. An id the store
no longer returns was deleted there: a record sent before is removed at the destination.

An id the store refuses to read (a 4xx) never holds the others back: the batch is split until
the refused ids stand alone, those back off (``[sync] event_retry_base_seconds``, three times
longer after each refusal) and after ``[sync] max_attempts`` refusals their events are failed
with the store's reason (``failed_events``), while the rest of the batch syncs at once.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from flask import current_app
from sqlalchemy import delete, func, select, update
from sqlalchemy.orm import Session

from host.db import get_db
from host.enrolments import IN_FLIGHT, WAITING
from host.errors import ConfigurationError, RecordError, SyncError
from host.models import Connection, Enrolment, WebhookEvent, utcnow
from host.sync.collection_writes import MAPPERS
from host.sync.context import cycle_scope
from host.sync.cycle import process_enrolments, send_removals
from host.sync.pages import process_page
from host.sync.phases import send_everything
from host.sync.removals import settle_gone

log = logging.getLogger(__name__)
BATCH = 200  # distinct ids per targeted read
RETRY_BASE = 60.0  # seconds before a refused event's second try (``[sync] event_retry_base_seconds``)
ENROLMENT_WORK = (*WAITING, *IN_FLIGHT)
# Processed events are kept so a redelivery is recognised; after this long the source has stopped
# retrying, and a late duplicate would only queue one more (harmless) read.
KEEP_PROCESSED = timedelta(days=7)


def connections_with_events() -> list[int]:
    """Connections that are on, past their first cycle, and have unprocessed events or an
    enrolment that falls due (a batch's turn, the allowance back, a lost answer to settle)."""
    now = utcnow()
    with get_db().transaction() as session:
        return list(
            session.scalars(
                select(Connection.id)
                .where(
                    Connection.sync_enabled.is_(True),
                    Connection.last_sync_at.is_not(None),
                    Connection.id.in_(
                        select(WebhookEvent.connection_id).where(
                            WebhookEvent.processed_at.is_(None),
                            # not while every event waits out a refusal's back-off
                            WebhookEvent.next_attempt_at.is_(None)
                            | (WebhookEvent.next_attempt_at <= now),
                        )
                    )
                    | Connection.id.in_(
                        select(Enrolment.connection_id).where(
                            Enrolment.state.in_(ENROLMENT_WORK),
                            Enrolment.due_at.is_(None) | (Enrolment.due_at <= now),
                        )
                    ),
                )
                .order_by(Connection.id)
            )
        )


def purge_processed_events(older_than: timedelta = KEEP_PROCESSED) -> int:
    """Forget events synced long ago, so the inbox does not grow forever; answer how many."""
    with get_db().transaction() as session:
        result = session.execute(
            delete(WebhookEvent).where(WebhookEvent.processed_at < utcnow() - older_than)
        )
        return result.rowcount or 0


def run_fast_lane(connection_id: int):
    """Sync the records named by the connection's waiting events; answer the run row, or None
    when it could not start now (a cycle is running, sync is off)."""
    with cycle_scope(connection_id, "fast_lane") as context:
        if context is None:
            return None
        for stream in context.source.streams():
            if context.should_stop():
                break
            _sync_events_of(context, stream)
        if not context.should_stop():
            send_everything(context)
        if not context.should_stop():  # the contacts phase may be long: look again
            process_enrolments(context)
    return context.run.row()


def _due(connection_id: int, stream_name: str, now: datetime) -> tuple:
    """Waiting events of one stream whose back-off (if the source refused them) is over."""
    return (
        WebhookEvent.connection_id == connection_id,
        WebhookEvent.stream == stream_name,
        WebhookEvent.processed_at.is_(None),
        WebhookEvent.next_attempt_at.is_(None) | (WebhookEvent.next_attempt_at <= now),
    )


def _sync_events_of(context, stream) -> None:
    """Read the records the stream's waiting events name, ``BATCH`` distinct ids at a time (a
    burst of events about the same records is one read).

    A run takes the events received before it began and, when those were few (under one
    batch), once more those received while it read; later ones wait for the next run. Under a
    steady stream of deliveries a run therefore ends, and reads each record at most twice,
    instead of reading the same records again and again for as long as the deliveries last."""
    session = context.session
    cutoff, passes, read = utcnow(), 1, 0
    while True:
        picked = session.execute(  # plain rows: an ORM entity would keep a stale received_at
            select(WebhookEvent.record_id, func.max(WebhookEvent.received_at).label("received_at"))
            .where(
                *_due(context.connection.id, stream.name, utcnow()),
                WebhookEvent.received_at <= cutoff,
            )
            .group_by(WebhookEvent.record_id)
            .order_by(func.min(WebhookEvent.id))
            .limit(BATCH)
        ).all()
        session.commit()  # no read transaction stays open while the store is asked
        if not picked:
            if passes == 2 or read >= BATCH:  # a busy run leaves the newest to the next one
                return
            cutoff, passes = utcnow(), 2  # what arrived while this run read
            continue
        read += len(picked)
        context.run.phase(f"fast lane: {stream.name}")
        picked_at = max(row.received_at for row in picked)
        try:
            _sync_ids(context, stream, sorted(row.record_id for row in picked), picked_at)
        except ConfigurationError as error:
            session.rollback()
            context.pause(stream.name, error)
            return
        except SyncError as error:  # an outage: the events wait for the next tick
            session.rollback()
            context.run.error(stream.name, error.message)
            return
        if context.should_stop():  # a page boundary: the rest waits in the inbox
            return


def _sync_ids(context, stream, ids: list[str], picked_at: datetime) -> None:
    """Read ``ids`` and apply them with their events, in one transaction.

    A refusal of the read (``RecordError``: a 4xx for these ids) is narrowed down by halves to
    the ids the source refuses on their own; those back off and, after ``max_attempts``, fail
    (``_refused``), while every other id of the batch syncs now. Nothing waits for a poison id."""
    session = context.session
    try:
        # The whole batch is read before anything is written, and each page is committed with
        # its events: the write lock (SQLite: shared with the webhook receiver) is held only
        # while a page is applied, never while the store answers.
        pages = list(context.source.read(context.connection, stream, ids=ids))
        seen: set[str] = set()
        for page in pages:
            page_ids = {str(record[stream.primary_key]) for record in page.records}
            seen.update(page_ids)
            process_page(context, stream, page.records)
            _mark_processed(context, stream, page_ids, picked_at)
            context.commit()
        # Ids the store no longer returns were deleted there: their removal waits in the
        # outbox, committed with the events that named them.
        gone = set(ids) - seen
        waiting = settle_gone(context, stream, gone, removable=stream.kind in MAPPERS)
        _mark_processed(context, stream, gone, picked_at)
        context.commit()
    except RecordError as error:
        session.rollback()
        if len(ids) == 1:
            _refused(context, stream, ids[0], picked_at, error)
            return
        half = len(ids) // 2
        for part in (ids[:half], ids[half:]):
            _sync_ids(context, stream, part, picked_at)
            if context.should_stop():
                return
        return
    context.run.page_done(stream.name)
    if waiting:
        send_removals(context, stream)


def _mark_processed(context, stream, ids: set[str], picked_at: datetime) -> None:
    """The events of ``ids`` received before the read are done (an event received again
    meanwhile, re-queued by the receiver, stays queued)."""
    if not ids:
        return
    context.session.execute(
        update(WebhookEvent)
        .where(
            WebhookEvent.connection_id == context.connection.id,
            WebhookEvent.stream == stream.name,
            WebhookEvent.record_id.in_(sorted(ids)),
            WebhookEvent.processed_at.is_(None),
            WebhookEvent.received_at <= picked_at,
        )
        .values(processed_at=utcnow(), attempts=0, next_attempt_at=None, failed_reason=None)
        .execution_options(synchronize_session=False)
    )


def event_backoff(attempts: int, base_seconds: float) -> timedelta:
    """1, 3, 9, 27 … times ``base_seconds`` after the 1st, 2nd, 3rd, 4th refusal (at most a day)."""
    return timedelta(seconds=min(base_seconds * 3 ** max(attempts - 1, 0), 86400))


def _refused(context, stream, record_id: str, picked_at: datetime, error: RecordError) -> None:
    """The source refuses to read this one id: its events back off, and after ``max_attempts``
    refusals they are failed with the source's reason (and count as processed)."""
    session = context.session
    now = utcnow()
    base = float(current_app.config.get("SYNC", {}).get("event_retry_base_seconds", RETRY_BASE))
    events = session.scalars(
        select(WebhookEvent).where(
            WebhookEvent.connection_id == context.connection.id,
            WebhookEvent.stream == stream.name,
            WebhookEvent.record_id == record_id,
            WebhookEvent.processed_at.is_(None),
            WebhookEvent.received_at <= picked_at,
        )
    ).all()
    attempts = max((event.attempts for event in events), default=0) + 1
    failed = attempts >= context.max_attempts
    for event in events:
        event.attempts = attempts
        event.failed_reason = error.message[:2000]
        event.next_attempt_at = None if failed else now + event_backoff(attempts, base)
        event.processed_at = now if failed else None
    context.commit()
    if failed:
        log.warning(
            "connection %s: %s %s failed after %s refusals: %s",
            context.connection.id, stream.name, record_id, attempts, error.message,
        )
        context.run.add(stream.name, read=1, failed=1)  # taken up, though never read
    else:
        log.info(
            "connection %s: %s %s refused (attempt %s), tried again later: %s",
            context.connection.id, stream.name, record_id, attempts, error.message,
        )


def failed_events(session: Session, connection_id: int, limit: int = 50) -> list[WebhookEvent]:
    """Events whose record the source kept refusing, latest first (for the Store tab)."""
    return list(
        session.scalars(
            select(WebhookEvent)
            .where(
                WebhookEvent.connection_id == connection_id,
                WebhookEvent.failed_reason.is_not(None),
                WebhookEvent.processed_at.is_not(None),
            )
            .order_by(WebhookEvent.processed_at.desc(), WebhookEvent.id.desc())
            .limit(limit)
        )
    )
