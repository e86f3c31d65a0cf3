"""The Store tab's needs-attention list: refused records and enrolments, each with a plain
reason (``host.reasons``), filtered by area, and the same list as a CSV download.

Records are the connection's failed ledger rows: those refused ``max_attempts`` times need the
merchant's Retry; the others are still being retried on their own. Events are webhook events
whose record the store kept refusing to give (``host.sync.fast_lane``): shown with the store's
reason, without Retry (a new change to the record in the store queues it again). Enrolments are those the
destination refused (``failed``) or could not take because the program was not active or is
gone (``deactivated``): both wait for Retry, which queues them again (``RETRYABLE_ENROLMENTS``).
Everything is scoped to the merchant's own connection.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from flask import Response, request
from sqlalchemy import case, func, select
from sqlalchemy.orm import Session

from host.db import db_session
from host.destinations import Destination, noun_forms
from host.models import Connection, Enrolment, LedgerEntry, WebhookEvent, utcnow
from host.plugins import get_plugins
from host.reasons import AREAS, OTHER, area_of, area_titles, explain, ledger_areas
from host.web.merchant import blueprint, destination_nouns, format_when
from host.web.merchant.lookups import lookup
from host.web.merchant.status import TRIGGER_LABELS, kind_label, max_attempts_setting, record_name
from host.web.session import current_connection, merchant_required

SHOWN = 50  # rows of each list on the page; the CSV has them all
RETRYABLE_ENROLMENTS = ("failed", "deactivated")
CSV_COLUMNS = ("Area", "Record", "What happened", "What to do", "Code", "Details", "Refused",
               "Status", "Next try", "Last refused")
# A cell a spreadsheet would run as a formula (CSV injection): shown as text instead.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


@dataclass
class Item:
    """One row of the list."""

    id: int
    kind: str  # record | enrolment
    area: str
    area_label: str
    label: str  # what it is: "Order 100", "jo@example.com: New customer, Welcome series"
    sentence: str
    fix: str | None
    code: str | None
    reason: str  # the raw reason, as stored
    attempts: int
    needs_attention: bool
    next_attempt_at: datetime | None = None
    updated_at: datetime | None = None


@dataclass
class NeedsAttention:
    area: str  # the chosen filter ("" = every area)
    counts: dict[str, int]  # area → rows in it
    records: list[Item] = field(default_factory=list)  # need Retry
    retrying: list[Item] = field(default_factory=list)  # still retried on their own
    enrolments: list[Item] = field(default_factory=list)
    events: list[Item] = field(default_factory=list)  # store events the store would not let us read
    records_total: int = 0
    needing_total: int = 0  # of records_total, those refused max_attempts times
    enrolments_total: int = 0
    events_total: int = 0
    max_attempts: int = 5
    titles: dict[str, str] = field(default_factory=area_titles)  # area → what the merchant reads

    @property
    def total(self) -> int:
        return sum(self.counts.values())

    @property
    def retrying_total(self) -> int:
        return self.records_total - self.needing_total

    @property
    def shown_total(self) -> int:
        return self.counts.get(self.area, 0) if self.area else self.total

    @property
    def areas(self) -> list[tuple[str, str, int]]:
        """(key, label, count) of each area that has something, in the usual order."""
        order = [*AREAS, OTHER]
        return [(key, self.titles.get(key, "Other"), self.counts[key])
                for key in order if self.counts.get(key)]


def _destination(connection: Connection) -> Destination | None:
    return get_plugins().destinations.get(connection.destination or "")


def _declared_areas(connection: Connection) -> dict[str, str]:
    source = get_plugins().sources.get(connection.source)
    return ledger_areas(source.streams() if source is not None else ())


def _areas(session: Session, connection: Connection) -> dict[str, str]:
    """Area of each ledger kind this connection has refused rows of."""
    source = get_plugins().sources.get(connection.source)
    declared = ledger_areas(source.streams() if source is not None else ())
    kinds = session.scalars(
        select(LedgerEntry.kind).where(
            LedgerEntry.connection_id == connection.id, LedgerEntry.state == "failed"
        ).distinct()
    )
    return {kind: area_of(kind, declared) for kind in kinds}


def chosen_area(value: str | None) -> str:
    return value if value in AREAS or value == OTHER else ""


def _record_filter(connection: Connection, areas: dict[str, str], area: str) -> list:
    conditions = [LedgerEntry.connection_id == connection.id, LedgerEntry.state == "failed"]
    if area:
        conditions.append(LedgerEntry.kind.in_(sorted(k for k, found in areas.items() if found == area)))
    return conditions


def _event_filter(connection: Connection, areas: dict[str, str], area: str) -> list:
    conditions = [WebhookEvent.connection_id == connection.id, WebhookEvent.failed_reason.is_not(None),
                  WebhookEvent.processed_at.is_not(None)]
    if area:
        conditions.append(WebhookEvent.stream.in_(sorted(k for k, found in areas.items() if found == area)))
    return conditions


def _event_areas(session: Session, connection: Connection) -> dict[str, str]:
    """Area of each stream this connection has failed events of."""
    declared = _declared_areas(connection)
    streams = session.scalars(select(WebhookEvent.stream).where(*_event_filter(connection, {}, "")).distinct())
    return {stream: area_of(stream, declared) for stream in streams}


def _enrolment_filter(connection: Connection) -> list:
    return [Enrolment.connection_id == connection.id, Enrolment.state.in_(RETRYABLE_ENROLMENTS)]


def _counts(session: Session, connection: Connection, areas: dict[str, str]) -> dict[str, int]:
    counts: dict[str, int] = {}
    rows = session.execute(
        select(LedgerEntry.kind, func.count())
        .where(*_record_filter(connection, areas, ""))
        .group_by(LedgerEntry.kind)
    ).all()
    for kind, count in rows:
        area = areas.get(kind, OTHER)
        counts[area] = counts.get(area, 0) + count
    event_areas = _event_areas(session, connection)
    for stream, count in session.execute(
        select(WebhookEvent.stream, func.count())
        .where(*_event_filter(connection, event_areas, ""))
        .group_by(WebhookEvent.stream)
    ).all():
        area = event_areas.get(stream, OTHER)
        counts[area] = counts.get(area, 0) + count
    enrolments = session.scalar(select(func.count()).select_from(Enrolment).where(*_enrolment_filter(connection)))
    if enrolments:
        counts["enrolments"] = enrolments
    return counts


def _record_item(entry: LedgerEntry, areas: dict[str, str], destination, max_attempts: int,
                 now: datetime, nouns: dict[str, str]) -> Item:
    area = areas.get(entry.kind, OTHER)
    explained = explain(entry.reason, area=area, destination=destination)
    needs = entry.attempts >= max_attempts
    next_try = entry.next_attempt_at
    return Item(
        id=entry.id, kind="record", area=area, area_label=area_titles(nouns).get(area, "Other"),
        label=f"{kind_label(entry.kind, nouns)} {record_name(entry)}",
        sentence=explained.sentence, fix=explained.fix, code=explained.code,
        reason=entry.reason or "", attempts=entry.attempts, needs_attention=needs,
        next_attempt_at=next_try if next_try and next_try > now and not needs else None,
        updated_at=entry.updated_at,
    )


def _event_item(row: WebhookEvent, areas: dict[str, str], nouns: dict[str, str]) -> Item:
    area = areas.get(row.stream, OTHER)
    return Item(
        id=row.id, kind="event", area=area, area_label=area_titles(nouns).get(area, "Other"),
        label=f"{kind_label(row.stream, nouns)} {row.record_id}",
        sentence=f"The store said this record changed, then kept refusing to give it ({row.attempts} times).",
        fix="Check the record in your store. A new change to it is read again; the regular sync goes on.",
        code=None, reason=row.failed_reason or "", attempts=row.attempts, needs_attention=True,
        updated_at=row.processed_at,
    )


def _program_name(program_id: str, nouns: dict[str, str]) -> str:
    program = lookup("programs").by_id(program_id)
    return program.name if program is not None else f"{nouns['program']} {program_id}"


def _enrolment_item(row: Enrolment, destination, nouns: dict[str, str]) -> Item:
    explained = explain(row.reason, area="enrolments", destination=destination)
    trigger = TRIGGER_LABELS.get(row.trigger, row.trigger.replace("_", " ").capitalize())
    return Item(
        id=row.id, kind="enrolment", area="enrolments", area_label=area_titles(nouns)["enrolments"],
        label=f"{row.contact_key}: {trigger}, {_program_name(row.program_id, nouns)}",
        sentence=explained.sentence, fix=explained.fix, code=explained.code,
        reason=row.reason or "", attempts=row.attempts, needs_attention=True, updated_at=row.updated_at,
    )


def needs_attention(session: Session, connection: Connection, area: str = "", *,
                    limit: int | None = SHOWN, max_attempts: int | None = None) -> NeedsAttention:
    """The connection's refused records and enrolments, in ``area`` ("" = all), explained."""
    max_attempts = max_attempts_setting() if max_attempts is None else max_attempts
    areas, destination, now = _areas(session, connection), _destination(connection), utcnow()
    nouns = noun_forms(destination.nouns if destination is not None else {})
    result = NeedsAttention(area=area, counts=_counts(session, connection, areas), max_attempts=max_attempts,
                            titles=area_titles(nouns))
    if area != "enrolments":
        needing = LedgerEntry.attempts >= max_attempts
        statement = (
            select(LedgerEntry)
            .where(*_record_filter(connection, areas, area))
            .order_by(case((needing, 0), else_=1), LedgerEntry.updated_at.desc(), LedgerEntry.id.desc())
        )
        total, needing_total = session.execute(
            select(func.count(), func.coalesce(func.sum(case((needing, 1), else_=0)), 0))
            .select_from(LedgerEntry)
            .where(*_record_filter(connection, areas, area))
        ).one()
        result.records_total, result.needing_total = total, int(needing_total)
        for entry in session.scalars(statement.limit(limit) if limit else statement):
            item = _record_item(entry, areas, destination, max_attempts, now, nouns)
            (result.records if item.needs_attention else result.retrying).append(item)
    if area != "enrolments":
        event_areas = _event_areas(session, connection)
        statement = (
            select(WebhookEvent)
            .where(*_event_filter(connection, event_areas, area))
            .order_by(WebhookEvent.processed_at.desc(), WebhookEvent.id.desc())
        )
        result.events_total = session.scalar(
            select(func.count()).select_from(WebhookEvent).where(*_event_filter(connection, event_areas, area))
        ) or 0
        result.events = [_event_item(row, event_areas, nouns)
                         for row in session.scalars(statement.limit(limit) if limit else statement)]
    if area in ("", "enrolments"):
        statement = (
            select(Enrolment)
            .where(*_enrolment_filter(connection))
            .order_by(Enrolment.updated_at.desc(), Enrolment.id.desc())
        )
        result.enrolments_total = result.counts.get("enrolments", 0)
        result.enrolments = [_enrolment_item(row, destination, nouns)
                             for row in session.scalars(statement.limit(limit) if limit else statement)]
    return result


def record_ids_in_area(connection: Connection, area: str) -> list[int] | None:
    """The refused records Retry all takes: None for every area, else the ids in ``area``."""
    if not area:
        return None
    if area == "enrolments":
        return []
    session = db_session()
    conditions = _record_filter(connection, _areas(session, connection), area)
    return list(session.scalars(select(LedgerEntry.id).where(*conditions)))


def current_needs_attention() -> NeedsAttention:
    """For the Store tab (``settings/_needs_attention.html``): this connection, the chosen area."""
    return needs_attention(db_session(), current_connection(), chosen_area(request.args.get("area")))


@blueprint.app_context_processor
def attention_context() -> dict:
    return {"needs_attention": current_needs_attention, "attention_areas": area_titles(destination_nouns())}


# ---------------------------------------------------------------------- CSV download
def safe_cell(value: Any) -> str:
    """A CSV cell that a spreadsheet shows as text, never runs (``=``, ``+``, ``-``, ``@`` …)."""
    text = "" if value is None else str(value)
    return "'" + text if text.startswith(FORMULA_STARTS) else text


def csv_rows(attention: NeedsAttention) -> list[list[str]]:
    rows = []
    for item in [*attention.records, *attention.retrying, *attention.enrolments, *attention.events]:
        if item.kind == "enrolment":
            status = "Needs Retry"
        elif item.kind == "event":
            status = "Not read: the store refused it"
        elif item.needs_attention:
            status = f"Needs Retry (refused {attention.max_attempts} times)"
        else:
            status = "Retried automatically"
        rows.append([safe_cell(value) for value in (
            item.area_label, item.label, item.sentence, item.fix or "", item.code or "", item.reason,
            item.attempts, status, format_when(item.next_attempt_at) if item.next_attempt_at else "",
            format_when(item.updated_at) if item.updated_at else "",
        )])
    return rows


def render_csv(attention: NeedsAttention) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, quoting=csv.QUOTE_MINIMAL, lineterminator="\r\n")
    writer.writerow(CSV_COLUMNS)
    writer.writerows(csv_rows(attention))
    return buffer.getvalue()


@blueprint.get("/store/needs-attention.csv")
@merchant_required
def needs_attention_csv():
    """The whole needs-attention list of this connection (the chosen area only, if any)."""
    area = chosen_area(request.args.get("area"))
    attention = needs_attention(db_session(), current_connection(), area, limit=None)
    name = f"needs-attention{'-' + area if area else ''}-{utcnow():%Y-%m-%d}.csv"
    # A byte-order mark, so spreadsheet programs read the file as UTF-8.
    return Response(
        "\ufeff" + render_csv(attention),
        mimetype="text/csv",
        headers={"Content-Disposition": f'attachment; filename="{name}"', "Cache-Control": "no-store"},
    )
