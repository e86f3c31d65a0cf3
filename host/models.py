"""What the host keeps: connections and their settings, cursors, the record ledger, runs,
enrolments, destination jobs and the webhook inbox. No platform is named here: plugins are
referred to by name and keep their own details in the JSON and encrypted columns.
"""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    event,
    text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship
from sqlalchemy.types import TypeDecorator

from host.crypto import EncryptedJSON


def utcnow() -> datetime:
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator):
    """Aware UTC datetimes on every database (SQLite would otherwise hand back naive ones)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect) -> datetime | None:
        if value is not None and value.tzinfo is not None:
            value = value.astimezone(UTC)
        return value

    def process_result_value(self, value: datetime | None, dialect) -> datetime | None:
        if value is not None and value.tzinfo is None:
            value = value.replace(tzinfo=UTC)
        return value


class Base(DeclarativeBase):
    type_annotation_map = {dict[str, Any]: JSON, datetime: UTCDateTime}


class Connection(Base):
    """A store (source account) linked to a marketing account (destination account)."""

    __tablename__ = "connections"
    __table_args__ = (UniqueConstraint("source", "source_account"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    source: Mapped[str] = mapped_column(String(64))  # source plugin name
    source_account: Mapped[str] = mapped_column(String(255))  # e.g. the store's hash
    store_name: Mapped[str] = mapped_column(String(255), default="")
    store_url: Mapped[str] = mapped_column(String(1024), default="")
    source_data: Mapped[dict[str, Any]] = mapped_column(default=dict)  # scopes, owner, ...
    source_secrets: Mapped[dict[str, Any] | None] = mapped_column(EncryptedJSON, default=None)
    destination: Mapped[str | None] = mapped_column(String(64), default=None)
    destination_account: Mapped[str | None] = mapped_column(String(255), default=None)
    destination_data: Mapped[dict[str, Any]] = mapped_column(default=dict)  # region endpoint, ...
    destination_secrets: Mapped[dict[str, Any] | None] = mapped_column(EncryptedJSON, default=None)
    webhook_secret: Mapped[dict[str, Any] | None] = mapped_column(EncryptedJSON, default=None)
    sync_enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    installed_at: Mapped[datetime] = mapped_column(default=utcnow)
    # Records created before this instant are history: the backfill enrols nobody.
    connected_at: Mapped[datetime | None] = mapped_column(default=None)
    last_sync_at: Mapped[datetime | None] = mapped_column(default=None)
    # A cross-process lease: no two cycles of one connection at once.
    lock_owner: Mapped[str | None] = mapped_column(String(255), default=None)
    lock_expires_at: Mapped[datetime | None] = mapped_column(default=None)
    # The fast lane's own lease (``host.sync.lock``): never two fast-lane runs of one
    # connection at once, while a fast-lane run and a cycle may run side by side.
    fast_lane_owner: Mapped[str | None] = mapped_column(String(255), default=None)
    fast_lane_expires_at: Mapped[datetime | None] = mapped_column(default=None)
    # "Sync now": the scheduler runs a cycle at once, or right after the running one.
    sync_requested_at: Mapped[datetime | None] = mapped_column(default=None)
    # SHA-256 of the webhook secret (set with it): the receiver finds the connection from the
    # secret header alone, before it reads a byte of the body.
    webhook_secret_digest: Mapped[str | None] = mapped_column(String(64), default=None, index=True)

    settings: Mapped[list[ConnectionSetting]] = relationship(
        back_populates="connection", cascade="all, delete-orphan"
    )

    @property
    def is_connected(self) -> bool:
        return self.destination is not None and self.destination_secrets is not None

    def __repr__(self) -> str:
        return f"<Connection {self.id} {self.source}:{self.source_account} → {self.destination}>"


class ConnectionSetting(Base):
    """One namespace of a connection's settings (e.g. "contacts", "field_mapping", "smtp")."""

    __tablename__ = "connection_settings"
    __table_args__ = (UniqueConstraint("connection_id", "namespace"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    connection_id: Mapped[int] = mapped_column(ForeignKey("connections.id", ondelete="CASCADE"))
    namespace: Mapped[str] = mapped_column(String(64))
    values: Mapped[dict[str, Any]] = mapped_column(default=dict)
    secrets: Mapped[dict[str, Any] | None] = mapped_column(EncryptedJSON, default=None)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    connection: Mapped[Connection] = relationship(back_populates="settings")


class StreamCursor(Base):
    """How far a stream has been read and accepted by the destination."""

    __tablename__ = "stream_cursors"
    __table_args__ = (UniqueConstraint("connection_id", "stream"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    connection_id: Mapped[int] = mapped_column(ForeignKey("connections.id", ondelete="CASCADE"))
    stream: Mapped[str] = mapped_column(String(64))
    value: Mapped[str | None] = mapped_column(String(255), default=None)
    last_full_refresh_at: Mapped[datetime | None] = mapped_column(default=None)
    # The read in progress, kept page by page so a cycle cut into slices (or a crash) goes on
    # from where it was: ``host.sync.reads.ReadState``. None when no read is under way.
    read_state: Mapped[dict[str, Any] | None] = mapped_column(default=None)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class WholeReadMark(Base):
    """A record listed by the whole read in progress of a stream whose deletions only a whole
    read reveals: the read's later slices add theirs, and the read's end judges the records it
    never listed (``host.sync.erasure.reconcile``)."""

    __tablename__ = "whole_read_marks"
    __table_args__ = (Index("ix_whole_read_marks_stream", "connection_id", "stream"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    connection_id: Mapped[int] = mapped_column(ForeignKey("connections.id", ondelete="CASCADE"))
    stream: Mapped[str] = mapped_column(String(64))
    source_id: Mapped[str] = mapped_column(String(255))


class LedgerEntry(Base):
    """What was last sent for one source record, so nothing is lost, re-sent or duplicated."""

    __tablename__ = "ledger"
    __table_args__ = (
        UniqueConstraint("connection_id", "kind", "source_id"),
        # The outbox's batches and the retry pass, without a scan of the connection's rows.
        Index("ix_ledger_outbox", "connection_id", "kind", "id",
              sqlite_where=text("outbox IS NOT NULL"), postgresql_where=text("outbox IS NOT NULL")),
        Index("ix_ledger_state", "connection_id", "kind", "state"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    connection_id: Mapped[int] = mapped_column(ForeignKey("connections.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(32))  # contact, subscriber, order, product, ...
    source_id: Mapped[str] = mapped_column(String(255))
    destination_id: Mapped[str | None] = mapped_column(String(255), default=None)
    payload_hash: Mapped[str | None] = mapped_column(String(64), default=None)
    state: Mapped[str] = mapped_column(String(16), default="pending")  # synced/pending/excluded/failed
    reason: Mapped[str | None] = mapped_column(Text, default=None)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    # The mapped record waiting to be sent ({key, payload, hash}) when it must wait for others
    # (an order waits for its contact); cleared once the destination answered for it.
    outbox: Mapped[dict[str, Any] | None] = mapped_column(JSON(none_as_null=True), default=None)
    # A record the destination refused is tried again no sooner than this (a back-off of its own).
    next_attempt_at: Mapped[datetime | None] = mapped_column(default=None)
    # A subscriber contact's consent the destination accepted in the current subscription (a
    # hash of the consent record sent, ``LEGACY_CONSENT`` for one accepted before this was kept),
    # None while none was: the consent is sent with the contact until accepted, then never again
    # unless it changes or the contact subscribes again (``host.sync.contacts``).
    consent: Mapped[str | None] = mapped_column(String(64), default=None)
    first_seen_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class ContactProfile(Base):
    """What the host knows of one email: its customer, subscriber and order facts.

    Contacts are built from several streams (customers, subscribers, orders, guests); keeping
    the canonical facts here lets a cycle re-map any contact locally (a mapping change, an
    address from a newer order) and detect events (a first order, a re-subscription).
    """

    __tablename__ = "contact_profiles"
    __table_args__ = (
        UniqueConstraint("connection_id", "email"),
        # A page's changed-email check and the contacts phase's batches, without a scan.
        Index("ix_contact_profiles_customer", "connection_id", "customer_id"),
        Index("ix_contact_profiles_dirty", "connection_id", "dirty", "id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    connection_id: Mapped[int] = mapped_column(ForeignKey("connections.id", ondelete="CASCADE"))
    email: Mapped[str] = mapped_column(String(320))  # lower-cased
    customer: Mapped[dict[str, Any] | None] = mapped_column(JSON, default=None)  # canonical customer
    # The store account's id while this email belongs to one: an email change is noticed by it.
    customer_id: Mapped[str | None] = mapped_column(String(255), default=None)
    is_guest: Mapped[bool] = mapped_column(Boolean, default=False)
    subscriber: Mapped[dict[str, Any] | None] = mapped_column(JSON, default=None)  # canonical subscriber
    subscribed: Mapped[bool] = mapped_column(Boolean, default=False)
    # The latest unsubscribe the destination reported for this email (``host.sync.unsubscribes``):
    # a store subscribe dated at or before it is stale and never puts the contact back.
    unsubscribed_at: Mapped[datetime | None] = mapped_column(default=None)
    episode: Mapped[int] = mapped_column(Integer, default=0)  # subscription episodes begun so far
    latest_order: Mapped[dict[str, Any] | None] = mapped_column(JSON, default=None)  # id, date, addresses
    first_order: Mapped[dict[str, Any] | None] = mapped_column(JSON, default=None)  # id, date
    # The lifetime order fields of this email (count, total spent, ...), derived from its
    # ``OrderFact`` rows (``host.sync.order_facts``); None while no order of it counts.
    lifetime: Mapped[dict[str, Any] | None] = mapped_column(JSON, default=None)
    # Which stream gave the customer and subscriber facts ({"customer": "guests", ...}): the
    # run counts a contact sent under the stream a merchant would expect.
    sources: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    # Facts changed since the contacts were last sent: the cycle's contacts phase checks it.
    dirty: Mapped[bool] = mapped_column(Boolean, default=False)
    # Counts the changes of this row (``host.sync.versions``): a lane that sent the contact
    # clears ``dirty`` only where the version is still the one it read, so a change made by the
    # other lane meanwhile is sent again, never lost.
    version: Mapped[int] = mapped_column(Integer, default=0, server_default=text("0"))
    # The records read by the run under way that describe this profile's contacts, counted
    # when its contacts are checked ({"run": id, "customer_contact": {"customers": 1}}; see
    # ``host.sync.tally``): kept here, not in memory, so a backfill's memory stays flat.
    run_reads: Mapped[dict[str, Any] | None] = mapped_column(JSON, default=None)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class OrderFact(Base):
    """What one order adds to its email's lifetime order fields, as last read: the aggregates
    are derived from these rows, so re-reading an order, a status change or a new email never
    counts it twice."""

    __tablename__ = "order_facts"
    __table_args__ = (
        UniqueConstraint("connection_id", "order_id"),
        Index("ix_order_facts_email", "connection_id", "email"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    connection_id: Mapped[int] = mapped_column(ForeignKey("connections.id", ondelete="CASCADE"))
    order_id: Mapped[str] = mapped_column(String(255))
    email: Mapped[str] = mapped_column(String(320))  # lower-cased
    counts: Mapped[bool] = mapped_column(Boolean, default=True)  # neither Incomplete nor archived
    # Decimal text in the store's own currency: what was paid, and what was refunded of it.
    amount: Mapped[str] = mapped_column(String(40), default="0")
    refunded: Mapped[str] = mapped_column(String(40), default="0")
    number: Mapped[str] = mapped_column(String(255))  # the order number the store shows
    date_created: Mapped[datetime] = mapped_column()
    # The copy these facts come from: an older copy read later (a cycle's page read before the
    # fast lane applied a change) changes nothing.
    date_modified: Mapped[datetime | None] = mapped_column(default=None)


class SyncRun(Base):
    """One cycle: its phase and heartbeat while running, its counts and errors afterwards."""

    __tablename__ = "sync_runs"

    id: Mapped[int] = mapped_column(primary_key=True)
    connection_id: Mapped[int] = mapped_column(ForeignKey("connections.id", ondelete="CASCADE"))
    trigger: Mapped[str] = mapped_column(String(32))  # scheduled, manual, fast_lane, cli
    status: Mapped[str] = mapped_column(String(16), default="running")  # running/finished/partial/stopped/failed/interrupted
    phase: Mapped[str | None] = mapped_column(String(64), default=None)
    counts: Mapped[dict[str, Any]] = mapped_column(default=dict)  # {stream: {read, sent, ...}}
    errors: Mapped[dict[str, Any]] = mapped_column(default=dict)
    started_at: Mapped[datetime] = mapped_column(default=utcnow)
    heartbeat_at: Mapped[datetime] = mapped_column(default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(default=None)


class Enrolment(Base):
    """One contact's enrolment for one trigger in one subscription episode."""

    __tablename__ = "enrolments"
    __table_args__ = (
        UniqueConstraint("connection_id", "trigger", "contact_key", "episode"),
        # Each cycle and fast-lane run looks for the waiting ones among all ever enrolled.
        Index("ix_enrolments_state", "connection_id", "state"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    connection_id: Mapped[int] = mapped_column(ForeignKey("connections.id", ondelete="CASCADE"))
    trigger: Mapped[str] = mapped_column(String(32))  # new_customer, new_subscriber, first_order
    contact_key: Mapped[str] = mapped_column(String(255))  # the contact's email
    episode: Mapped[int] = mapped_column(Integer, default=1)
    source_id: Mapped[str | None] = mapped_column(String(255), default=None)  # e.g. the first order's id
    program_id: Mapped[str | None] = mapped_column(String(64), default=None)
    # pending, pending_opt_in, sending, uncertain, active, deactivated, failed, suppressed,
    # cancelled, expired (see host.enrolments)
    state: Mapped[str] = mapped_column(String(16), default="pending")
    reason: Mapped[str | None] = mapped_column(Text, default=None)
    destination_id: Mapped[str | None] = mapped_column(String(64), default=None)
    attempts: Mapped[int] = mapped_column(Integer, default=0)  # refusals of this contact only
    expires_at: Mapped[datetime | None] = mapped_column(default=None)
    # Not before this instant: the allowance is spent, or a refused enrolment backs off.
    due_at: Mapped[datetime | None] = mapped_column(default=None)
    sent_at: Mapped[datetime | None] = mapped_column(default=None)  # set when marked "sending"
    call_id: Mapped[int | None] = mapped_column(
        ForeignKey("enrolment_calls.id", ondelete="SET NULL"), default=None
    )
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class EnrolmentCall(Base):
    """One enrolment call to a destination account: the hourly allowance is counted from these
    rows (per account, so every connection and process sharing it agrees), and a call whose
    answer was lost is settled from them."""

    __tablename__ = "enrolment_calls"

    id: Mapped[int] = mapped_column(primary_key=True)
    connection_id: Mapped[int | None] = mapped_column(
        ForeignKey("connections.id", ondelete="SET NULL"), default=None
    )
    account_key: Mapped[str] = mapped_column(String(320), index=True)  # destination:account
    program_id: Mapped[str] = mapped_column(String(64))
    contact_count: Mapped[int] = mapped_column(Integer, default=0)
    # sending, accepted, uncertain, refused, allowance (refused: the allowance was spent)
    outcome: Mapped[str] = mapped_column(String(16), default="sending")
    destination_id: Mapped[str | None] = mapped_column(String(64), default=None)
    made_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)


class DestinationJob(Base):
    """An asynchronous job at the destination (a bulk import), kept so a restart resumes polling."""

    __tablename__ = "destination_jobs"

    id: Mapped[int] = mapped_column(primary_key=True)
    connection_id: Mapped[int] = mapped_column(ForeignKey("connections.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(32))  # contacts, insight:Orders, ...
    remote_id: Mapped[str | None] = mapped_column(String(255), default=None)
    state: Mapped[str] = mapped_column(String(16), default="submitted")  # submitted/finished/failed
    record_count: Mapped[int] = mapped_column(Integer, default=0)
    detail: Mapped[dict[str, Any]] = mapped_column(default=dict)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class WebhookEvent(Base):
    """A thin event from the source, kept until the fast lane has synced it."""

    __tablename__ = "webhook_inbox"
    __table_args__ = (
        UniqueConstraint("connection_id", "dedupe_key"),
        # the fast lane's question: which events of this stream still wait?
        Index("ix_webhook_inbox_waiting", "connection_id", "stream", "processed_at"),
        # the scheduler's look at the inbox, five times a second: which connections have any?
        Index("ix_webhook_inbox_unprocessed", "connection_id",
              sqlite_where=text("processed_at IS NULL"), postgresql_where=text("processed_at IS NULL")),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    connection_id: Mapped[int] = mapped_column(ForeignKey("connections.id", ondelete="CASCADE"))
    dedupe_key: Mapped[str] = mapped_column(String(255))
    stream: Mapped[str] = mapped_column(String(64))  # which stream to read the ids from
    record_id: Mapped[str] = mapped_column(String(255))
    payload: Mapped[dict[str, Any]] = mapped_column(default=dict)
    received_at: Mapped[datetime] = mapped_column(default=utcnow)
    processed_at: Mapped[datetime | None] = mapped_column(default=None)
    # The source refused to read this id: tried again no sooner than ``next_attempt_at``; after
    # the last attempt ``failed_reason`` says why and the event counts as processed.
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime | None] = mapped_column(default=None)
    failed_reason: Mapped[str | None] = mapped_column(Text, default=None)


class ConnectionProblem(Base):
    """A configuration problem the merchant must fix (shown plainly on the Store tab)."""

    __tablename__ = "connection_problems"
    __table_args__ = (UniqueConstraint("connection_id", "code"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    connection_id: Mapped[int] = mapped_column(ForeignKey("connections.id", ondelete="CASCADE"))
    code: Mapped[str] = mapped_column(String(64))  # e.g. insight_disabled
    area: Mapped[str] = mapped_column(String(64))  # which part is paused: orders, catalog, ...
    message: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class UsedCallbackToken(Base):
    """A signed callback already accepted (its ``jti``, or a hash of the token), kept until the
    token expires so that it is accepted once only."""

    __tablename__ = "used_callback_tokens"

    id: Mapped[int] = mapped_column(primary_key=True)
    token_key: Mapped[str] = mapped_column(String(255), unique=True)
    source: Mapped[str] = mapped_column(String(64))
    account: Mapped[str] = mapped_column(String(255))
    callback: Mapped[str] = mapped_column(String(32))  # load, uninstall, remove_user
    used_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(index=True)


def secret_digest(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


@event.listens_for(Connection.webhook_secret, "set")
def _remember_secret_digest(target: Connection, value, _old, _initiator) -> None:
    secret = (value or {}).get("value") if isinstance(value, dict) else None
    target.webhook_secret_digest = secret_digest(str(secret)) if secret else None
