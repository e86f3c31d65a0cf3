"""The fast lane: events from the webhook inbox trigger a targeted sync of just those ids.

It is its own lane: a fast-lane run takes the connection's fast-lane lease, never the cycle's
(``host.sync.lock``), so it runs while a cycle (a multi-hour backfill included) holds the
connection; two fast-lane runs of one connection never overlap. The scheduler looks at the
inbox every ``[sync] fast_lane_poll_seconds`` (0.2 s) and at once when the receiver of the same
process stored an event (``host.inbox.wake_fast_lane``).

A run sends only what it read itself: the contacts of the profiles its events changed and the
outbox rows its events queued, never the cycle's backlog (the cycle sends that). Where both
lanes send one contact, the profile's version decides (``host.sync.versions``): a lane clears
``dirty`` only where nothing changed since it read the profile, so the newest facts are sent
again and never left clean-but-stale (a lane that finds it sent an older copy queues a
``_contacts`` event, and the next fast-lane run sends the profile again); an older record read
by the cycle never overwrites what the fast lane applied (``ProfileUpdater`` compares
``date_modified``). Orders it queued are sent
at once when no cycle runs, and otherwise left in the outbox for the cycle, which sends it
after its contacts (a cycle sending an older copy of the same order could land after it).
Enrolments are processed by one lane at a time: a fast-lane run processes them only when it
can take the cycle's lease for that moment; otherwise the running cycle does, as it ends.

While a connection's first cycle (the backfill) runs, customers, subscribers and products
sync at once; order events wait for the backfill to finish, so a first order is judged against
the whole order history. Events are marked processed in the same transaction as the records
they brought, so none is lost or applied twice. An id the store no longer returns was deleted
there: a record sent before is removed at the destination.

An id the store refuses to read (a 4xx) never holds the others back: the batch is split until
the refused ids stand alone, those back off (``[sync] event_retry_base_seconds``, three times
longer after each refusal) and after ``[sync] max_attempts`` refusals their events are failed
with the store's reason (``failed_events``), while the rest of the batch syncs at once.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from flask import current_app
from sqlalchemy import delete, func, select, update
from sqlalchemy import event as orm_event
from sqlalchemy.exc import DBAPIError, IntegrityError, OperationalError
from sqlalchemy.orm import Session

from host.db import get_db
from host.enrolments import IN_FLIGHT, WAITING
from host.errors import ConfigurationError, RecordError, SyncError
from host.models import Connection, ContactProfile, Enrolment, LedgerEntry, WebhookEvent, utcnow
from host.plugins import get_plugins
from host.sync.collection_writes import MAPPERS, QUEUED_KINDS, flush_outbox
from host.sync.contacts import CONTACT_AREA, sync_contacts
from host.sync.context import cycle_scope, writing
from host.sync.cycle import process_enrolments
from host.sync.erasure import ERASURE, erasure_phase
from host.sync.lock import CYCLE, Lease, lane_busy
from host.sync.pages import process_page
from host.sync.removals import settle_gone
from host.sync.versions import RESEND_STREAM, read_versions, settle_sent

log = logging.getLogger(__name__)
BATCH = 200  # distinct ids per targeted read
CONTACT_BATCH = 500
RESEND_ROUNDS = 3  # a contact the cycle changed while this lane sent it is sent again, this often
RETRY_BASE = 60.0  # seconds before a refused event's second try (``[sync] event_retry_base_seconds``)
ENROLMENT_WORK = (*WAITING, *IN_FLIGHT)
# Processed events are kept so a redelivery is recognised; after this long the source has stopped
# retrying, and a late duplicate would only queue one more (harmless) read.
KEEP_PROCESSED = timedelta(days=7)
# Record kinds whose events wait until the connection's first cycle finished.
AFTER_BACKFILL_KINDS = frozenset({"order"})


_after_backfill: dict[int, list[str]] = {}


def _after_backfill_streams() -> list[str]:
    """Names of the streams (of every source plugin) whose events wait for the first cycle."""
    plugins = get_plugins()
    names = _after_backfill.get(id(plugins))
    if names is None:
        found = {
            stream.name
            for source in plugins.sources.values()
            for stream in source.streams()
            if stream.kind in AFTER_BACKFILL_KINDS
        }
        names = _after_backfill[id(plugins)] = sorted(found) or ["orders"]
    return names


def connections_with_events(*, enrolments: bool = True) -> list[int]:
    """Connections that are on and connected and have unprocessed events the fast lane may take
    now (order events only once the first cycle finished) or, with ``enrolments``, an enrolment
    that falls due (a batch's turn, the allowance back, a lost answer to settle) while no cycle
    runs (a running cycle processes them as it ends)."""
    now = utcnow()
    due_events = select(WebhookEvent.connection_id).where(
        WebhookEvent.processed_at.is_(None),
        # not while every event waits out a refusal's back-off
        WebhookEvent.next_attempt_at.is_(None) | (WebhookEvent.next_attempt_at <= now),
    )
    waiting = (Connection.last_sync_at.is_not(None) & Connection.id.in_(due_events)) | Connection.id.in_(
        due_events.where(WebhookEvent.stream.not_in(_after_backfill_streams()))
    )
    if enrolments:
        cycle_free = Connection.lock_owner.is_(None) | (Connection.lock_expires_at < now)
        waiting = waiting | (
            Connection.last_sync_at.is_not(None)
            & cycle_free
            & Connection.id.in_(
                select(Enrolment.connection_id).where(
                    Enrolment.state.in_(ENROLMENT_WORK),
                    Enrolment.due_at.is_(None) | (Enrolment.due_at <= now),
                )
            )
        )
    with get_db().transaction() as session:
        return list(
            session.scalars(
                select(Connection.id)
                .where(
                    Connection.sync_enabled.is_(True),
                    Connection.destination.is_not(None),
                    waiting,
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


@dataclass
class Touched:
    """What this run's events changed: the profiles they dirtied and the outbox rows they queued."""

    emails: set[str] = field(default_factory=set)
    outbox: dict[str, set[str]] = field(default_factory=dict)  # ledger kind (stream) → source ids
    watching: bool = True

    def listen(self, session: Session) -> None:
        orm_event.listen(session, "before_flush", self._before_flush)

    def _before_flush(self, session: Session, _context, _instances) -> None:
        if not self.watching:
            return
        for instance in (*session.new, *session.dirty):
            loaded = instance.__dict__  # never load an expired attribute in the middle of a flush
            if isinstance(instance, ContactProfile) and loaded.get("dirty"):
                self.emails.add(loaded.get("email") or instance.email)
            elif isinstance(instance, LedgerEntry) and loaded.get("outbox"):
                self.outbox.setdefault(instance.kind, set()).add(instance.source_id)


def run_fast_lane(connection_id: int):
    """Sync the records named by the connection's waiting events; answer the run row, or None
    when it could not start now (another fast-lane run holds the connection, sync is off)."""
    with cycle_scope(connection_id, "fast_lane") as context:
        if context is None:
            return None
        touched = Touched()
        touched.listen(context.session)
        _take_resends(context, touched)
        backfilling = context.connection.last_sync_at is None
        for stream in context.source.streams():
            if context.should_stop():
                break
            if backfilling and stream.kind in AFTER_BACKFILL_KINDS:
                continue  # judged against the whole history once the backfill is done
            _sync_events_of(context, stream)
        touched.watching = False
        if not context.should_stop():
            send_touched(context, touched)
        if not context.should_stop() and touched.outbox.get(ERASURE):
            _erase_unless_cycle_runs(context, touched.outbox[ERASURE])
        if not context.should_stop():  # the contacts phase may be long: look again
            _enrol_unless_cycle_runs(context)
    return context.run.row()


def _take_resends(context, touched: Touched) -> None:
    """Profiles a lane sent while the other changed them (``versions.ask_resend``): sent again
    by this run, with their newest facts (no store read needed)."""
    session = context.session
    rows = session.execute(
        select(WebhookEvent.record_id, WebhookEvent.received_at)
        .where(*_due(context.connection.id, RESEND_STREAM, utcnow()))
        .order_by(WebhookEvent.id)
        .limit(BATCH * 10)
    ).all()
    if rows:
        emails = {row.record_id for row in rows}
        touched.emails.update(emails)
        session.execute(
            update(WebhookEvent)
            .where(
                WebhookEvent.connection_id == context.connection.id,
                WebhookEvent.stream == RESEND_STREAM,
                WebhookEvent.record_id.in_(sorted(emails)),
                WebhookEvent.processed_at.is_(None),
                WebhookEvent.received_at <= max(row.received_at for row in rows),
            )
            .values(processed_at=utcnow())
            .execution_options(synchronize_session=False)
        )
    session.commit()


def send_touched(context, touched: Touched) -> None:
    """Send the contacts of the profiles this run's events changed, then (when no cycle runs)
    the outbox rows they queued; nothing of the cycle's backlog."""
    if not _send_contacts(context, touched.emails):
        return
    if not touched.outbox:
        return
    with context.database.transaction() as session:
        cycle_running = lane_busy(session, context.connection.id, CYCLE)
    if cycle_running:  # the cycle sends the outbox after its contacts: no older copy lands later
        return
    for stream in context.source.streams():
        ids = touched.outbox.get(stream.name)
        if not ids or stream.kind not in MAPPERS or stream.name in context.paused:
            continue
        context.run.phase(f"sending {stream.name}")
        _write_outbox(context, stream, ids)
        if context.should_stop():
            return


def _erase_unless_cycle_runs(context, keys: set[str]) -> None:
    """The people this run found deleted in the store leave the destination now, unless a cycle
    runs: it may still send their queued orders, so it removes or erases them after those."""
    with context.database.transaction() as session:
        if lane_busy(session, context.connection.id, CYCLE):
            return
    erasure_phase(context, keys)


def _send_contacts(context, emails: set[str]) -> bool:
    """Send the contacts of these profiles (those still dirty); answer whether all were
    answered. A profile the other lane changed meanwhile is sent again, a few rounds at most."""
    if not emails:
        return True
    if CONTACT_AREA in context.paused:
        return False
    context.run.phase("sending contacts")
    context.run.stream(CONTACT_AREA)
    wanted = sorted(emails)
    with writing(context, CONTACT_AREA):
        for _ in range(RESEND_ROUNDS):
            conflicts: set[str] = set()
            for start in range(0, len(wanted), CONTACT_BATCH):
                profiles = _dirty_profiles(context, wanted[start : start + CONTACT_BATCH])
                if not profiles:
                    continue
                sent = read_versions(profiles)
                context.writing = CONTACT_AREA
                try:
                    sync_contacts(context, profiles, CONTACT_AREA)
                    changed = settle_sent(context.session, context.connection.id, sent)
                    context.commit()
                except DBAPIError as error:
                    if not _lost_race(error):
                        raise
                    context.session.rollback()  # the cycle created a ledger row of these first
                    changed = set(sent)
                conflicts.update(p.email for p in profiles if p.id in changed)
                context.run.all_done()
                if context.should_stop():
                    return False
            if not conflicts:
                break
            wanted = sorted(conflicts)
        context.run.tally.contacts_settled()
        context.run.all_done()
        return True
    return False


def _dirty_profiles(context, emails: list[str]) -> list[ContactProfile]:
    """The dirty profiles of these emails, read afresh (facts and version of one read)."""
    profiles = list(
        context.session.scalars(
            select(ContactProfile)
            .where(
                ContactProfile.connection_id == context.connection.id,
                ContactProfile.email.in_(emails),
                ContactProfile.dirty.is_(True),
            )
            .order_by(ContactProfile.id)
            .execution_options(populate_existing=True)
        )
    )
    context.session.commit()  # no read transaction stays open while the destination works
    return profiles


def _write_outbox(context, stream, ids: set[str]) -> bool:
    """``phases.write_outbox`` for just these rows of the stream's outbox."""
    with writing(context, stream.name):
        return flush_outbox(context, stream, only=ids)
    return False


def _enrol_unless_cycle_runs(context) -> None:
    """Enrolments are processed by one lane at a time: this run takes the cycle's lease for the
    moment (a cycle starting meanwhile waits for its next turn), or leaves them to the running
    cycle, which processes them as it ends."""
    if not _enrolment_work(context):
        return
    config = current_app.config.get("SYNC", {})
    lease = Lease(
        context.database, context.connection.id, seconds=float(config.get("lock_seconds", 120))
    )
    if not lease.acquire():
        return
    try:
        lease.start_heartbeat()
        process_enrolments(context)
    finally:
        lease.release()


def _enrolment_work(context) -> bool:
    now = utcnow()
    found = context.session.scalar(
        select(Enrolment.id)
        .where(
            Enrolment.connection_id == context.connection.id,
            Enrolment.state.in_(ENROLMENT_WORK),
            Enrolment.due_at.is_(None) | (Enrolment.due_at <= now),
        )
        .limit(1)
    )
    context.session.commit()
    return found is not None


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
        except DBAPIError as error:
            if not _lost_race(error):
                raise
            # The cycle wrote one of these rows at the same moment (a profile or ledger row it
            # created first, a deadlock): the events stay, and the next look reads them again.
            session.rollback()
            log.info("connection %s: %s met the cycle's write of the same row; read again next time",
                     context.connection.id, stream.name)
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
    if waiting and stream.kind not in QUEUED_KINDS and stream.name not in context.paused:
        _write_outbox(context, stream, gone)  # products: just the removals these events queued


def _lost_race(error: DBAPIError) -> bool:
    """A unique row the other lane inserted first, or a deadlock with it (PostgreSQL)."""
    if isinstance(error, IntegrityError):
        return True
    return isinstance(error, OperationalError) and "deadlock" in str(error.orig).lower()


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
