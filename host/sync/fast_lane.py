"""The fast lane: events from the webhook inbox trigger a targeted sync of just those ids.

It runs only for connections whose first cycle has finished (so a first order is judged against
the whole order history) and never while a cycle holds the connection: the events then wait in
the inbox, and the periodic cycle remains the safety net. Events are marked processed in the
same transaction as the records they brought, so none is lost or applied twice. An id the store
no longer returns was deleted there: a record sent before is removed at the destination.
"""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import delete, select, update

from host.db import get_db
from host.enrolments import IN_FLIGHT, WAITING
from host.errors import ConfigurationError, SyncError
from host.models import Connection, Enrolment, WebhookEvent, utcnow
from host.sync.collection_writes import MAPPERS
from host.sync.context import cycle_scope
from host.sync.cycle import process_enrolments, send_removals
from host.sync.pages import process_page
from host.sync.phases import send_everything
from host.sync.removals import settle_gone

BATCH = 200  # ids per targeted read
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
                            WebhookEvent.processed_at.is_(None)
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


def _sync_events_of(context, stream) -> None:
    session = context.session
    while True:
        events = session.execute(  # plain rows: an ORM entity would keep a stale received_at
            select(WebhookEvent.id, WebhookEvent.record_id, WebhookEvent.received_at)
            .where(
                WebhookEvent.connection_id == context.connection.id,
                WebhookEvent.stream == stream.name,
                WebhookEvent.processed_at.is_(None),
            )
            .order_by(WebhookEvent.id)
            .limit(BATCH)
        ).all()
        if not events:
            return
        ids = sorted({event.record_id for event in events})
        picked_at = max(event.received_at for event in events)
        context.run.phase(f"fast lane: {stream.name}")
        try:
            seen: set[str] = set()
            for page in context.source.read(context.connection, stream, ids=ids):
                seen.update(str(record[stream.primary_key]) for record in page.records)
                process_page(context, stream, page.records)
            # Ids the store no longer returns were deleted there: their removal waits in the
            # outbox, committed with the events that named them.
            waiting = settle_gone(
                context, stream, set(ids) - seen, removable=stream.kind in MAPPERS
            )
            # An event received again meanwhile (the receiver re-queues it) must stay queued.
            session.execute(
                update(WebhookEvent)
                .where(
                    WebhookEvent.id.in_([event.id for event in events]),
                    WebhookEvent.received_at <= picked_at,
                )
                .values(processed_at=utcnow())
            )
            context.commit()
            context.run.page_done(stream.name)
            if waiting:
                send_removals(context, stream)
            if context.should_stop():  # a page boundary: the rest waits in the inbox
                return
        except ConfigurationError as error:
            session.rollback()
            context.pause(stream.name, error)
            return
        except SyncError as error:
            session.rollback()
            context.run.error(stream.name, error.message)
            return
