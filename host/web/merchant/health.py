"""Health at a glance, for the top of the Store tab: per area, how many records are in sync,
waiting, excluded (and why) and need attention — counted from the ledger and the enrolments
(what was last sent and answered), not from the last run — with one plain sentence, the next
sync time, the last *full* sync and the latest instant updates shown apart.

Areas: the customers book (ledger kind ``customer_contact``), the subscribers book
(``subscriber_contact``), each stream written to a collection (Orders, Catalog: the ledger kind
is the stream's name), and each chosen program (its enrolments). A record the destination
refused fewer than ``max_attempts`` times backs off and is tried again: it is *waiting*; one
refused ``max_attempts`` times *needs attention* (Retry). A configuration problem pauses an area
(``ConnectionProblem.area``): the area says so.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import case, func, select, true
from sqlalchemy.orm import Session

from host.destinations import noun_forms
from host.models import (
    Connection,
    ConnectionProblem,
    Enrolment,
    LedgerEntry,
    SyncRun,
    WebhookEvent,
    utcnow,
)
from host.reasons import area_of, area_titles, ledger_areas
from host.settings import get_settings
from host.sync.erasure import COUNTS as DELETED_COUNTS
from host.sync.runs import SLICED, added_counts, cycle_of
from host.sync.tally import CONTACTS, OUTCOMES
from host.web.merchant import indefinite, upper_first
from host.web.merchant.status import deleted_in_run

COLUMNS = ("read", *OUTCOMES)
DEFAULT_INTERVAL_SECONDS = 300
FAST_LANE = "fast_lane"
COMPLETED = ("finished", "partial", "stopped")  # a full sync that ran its course (or was stopped)
PROGRAM_TRIGGERS = {
    "new_customer_program_id": "new customers",
    "new_subscriber_program_id": "new subscribers",
    "first_order_program_id": "first orders",
}
# Why records are excluded, in a few plain categories (matched on the ledger's reason).
EXCLUSIONS = (
    ("not opted in", "Not opted in to marketing"),
    ("unsubscribed", "Unsubscribed in the store"),
    ("no store account", "No store account any more"),
    ("incomplete order", "Incomplete order (abandoned checkout)"),
    ("archived", "Archived order"),
    ("hidden", "Hidden product"),
    ("deleted in the store", "Deleted in the store"),
    ("no book", "No {book} chosen"),  # {book}: what the destination calls an address book, said again
)
OTHER_EXCLUSION = "Other reasons"
# Enrolment states → the health buckets (the rest wait: pending, pending_opt_in, sending, uncertain).
ENROLLED = ("active",)
ENROLMENT_ATTENTION = ("failed", "deactivated")  # refused, or the program was not active: Retry
ENROLMENT_EXCLUSIONS = {
    "suppressed": "Suppressed or unsubscribed {contact}",
    "cancelled": "Not a first order after all",
    "expired": "Double opt-in not confirmed within 24 hours",
}


def contacts_note(nouns: dict[str, str]) -> str:
    """What the Contacts row of a run's counts is, in the destination's words (``noun_forms``)."""
    return (f"{upper_first(nouns['contacts'])}: people built from customers, subscribers "
            f"and guests; each is sent once per {nouns['address_book_short']}.")


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment else None


def _plural(count: int, one: str, many: str | None = None) -> str:
    return f"{count} {one if count == 1 else (many or one + 's')}"


def exclusion_category(reason: str | None, nouns: dict[str, str] | None = None) -> str:
    text = (reason or "").lower()
    label = next((label for key, label in EXCLUSIONS if key in text), OTHER_EXCLUSION)
    return label.format(book=(nouns or noun_forms({}))["address_book_short"])


def _area(key: str, title: str, *, kind: str, note: str | None = None, **extra: Any) -> dict[str, Any]:
    return {
        "key": key, "title": title, "kind": kind, "note": note, "paused": None,
        "in_sync": 0, "waiting": 0, "excluded": 0, "attention": 0,
        "waiting_detail": {}, "excluded_detail": {}, **extra,
    }


def _add(detail: dict[str, int], label: str, count: int) -> None:
    if count:
        detail[label] = detail.get(label, 0) + count


# ---------------------------------------------------------------------- records (the ledger)
def _record_areas(
    session: Session, connection: Connection, source, max_attempts: int, nouns: dict[str, str]
) -> list[dict[str, Any]]:
    contacts = get_settings(session, connection, "contacts")
    needing = case((LedgerEntry.attempts >= max_attempts, 1), else_=0)
    why = case((LedgerEntry.state == "excluded", LedgerEntry.reason), else_=None)
    rows = session.execute(
        select(LedgerEntry.kind, LedgerEntry.state, needing.label("needing"), why.label("why"), func.count())
        .where(LedgerEntry.connection_id == connection.id)
        .group_by(LedgerEntry.kind, LedgerEntry.state, needing, why)
    ).all()
    keys = ledger_areas(source.streams() if source is not None else ())
    found = {area_of(row.kind, keys) for row in rows}
    declared = set(keys.values())
    customers_book, subscribers_book = contacts.get("customers_book_id"), contacts.get("subscribers_book_id")
    book = nouns["address_book_short"]
    notes = {
        "customers": None if customers_book else (
            f"No customers {book} chosen: only people with orders are sent, without {indefinite(book)}, "
            "for their order history."),
        "subscribers": None if subscribers_book else f"No subscribers {book} chosen: subscribers are not synced.",
    }
    titles = area_titles(nouns)
    shown = {
        "customers": bool(customers_book) or "customers" in found,
        "subscribers": bool(subscribers_book) or "subscribers" in found,
        "orders": "orders" in declared or "orders" in found,
        "catalog": "catalog" in declared or "catalog" in found,
    }
    areas = {
        key: _area(key, titles[key], kind="book" if key in ("customers", "subscribers") else "collection",
                   note=notes.get(key), streams=sorted(k for k, v in keys.items() if v == key))
        for key, show in shown.items() if show
    }
    for row in rows:
        area = areas.get(area_of(row.kind, keys))
        if area is None:  # a kind no area claims
            continue
        count = row[4]
        if row.state == "synced":
            area["in_sync"] += count
        elif row.state == "excluded":
            area["excluded"] += count
            _add(area["excluded_detail"], exclusion_category(row.why, nouns), count)
        elif row.state == "failed" and row.needing:
            area["attention"] += count
        elif row.state == "failed":
            area["waiting"] += count
            _add(area["waiting_detail"], "Retrying after a refusal", count)
        else:  # pending: new, or waiting in the outbox
            area["waiting"] += count
            _add(area["waiting_detail"], "Queued for the next sync", count)
    # store changes the store kept refusing to read (the fast lane's failed events) need attention too
    for stream, count in session.execute(
        select(WebhookEvent.stream, func.count())
        .where(WebhookEvent.connection_id == connection.id, WebhookEvent.failed_reason.is_not(None),
               WebhookEvent.processed_at.is_not(None))
        .group_by(WebhookEvent.stream)
    ).all():
        area = areas.get(area_of(stream, keys))
        if area is not None:
            area["attention"] += count
            area["attention_changes"] = area.get("attention_changes", 0) + count
    return list(areas.values())


# ---------------------------------------------------------------------- programs (enrolments)
def _program_areas(
    session: Session, connection: Connection, now: datetime, nouns: dict[str, str]
) -> list[dict[str, Any]]:
    program, contact = upper_first(nouns["program"]), nouns["contact"]
    automation = get_settings(session, connection, "automation")
    chosen: dict[str, list[str]] = {}
    for setting, trigger in PROGRAM_TRIGGERS.items():
        if automation.get(setting):
            chosen.setdefault(str(automation[setting]), []).append(trigger)
    waiting_why = case(
        (Enrolment.state == "pending_opt_in", f"Waiting for the {contact} to confirm the double opt-in"),
        (Enrolment.state.in_(("sending", "uncertain")), "Sent, being confirmed"),
        (Enrolment.reason.like("%allowance%"), "Waiting for the hourly enrolment allowance"),
        (Enrolment.reason.like("waiting for the contact%"), f"Waiting for the {contact} to be synced"),
        (Enrolment.attempts > 0, "Retrying after a refusal"),
        else_="Queued for the next batch",
    )
    rows = session.execute(
        select(Enrolment.program_id, Enrolment.state, waiting_why.label("why"), func.count())
        .where(Enrolment.connection_id == connection.id)
        .group_by(Enrolment.program_id, Enrolment.state, waiting_why)
    ).all()
    areas: dict[str, dict[str, Any]] = {}
    for program_id, triggers in chosen.items():
        areas[program_id] = _area(
            f"program:{program_id}", f"{program} {program_id}", kind="program",
            program_id=program_id, note=f"Enrols {' and '.join(triggers)}.",
        )
    for program_id, state, why, count in rows:
        program_id = str(program_id)
        area = areas.get(program_id)
        if area is None:
            if state in ENROLLED or state in ENROLMENT_EXCLUSIONS:
                continue  # history of a program no longer chosen
            area = areas[program_id] = _area(
                f"program:{program_id}", f"{program} {program_id}", kind="program",
                program_id=program_id, note="No longer chosen: what was waiting still goes out.",
            )
        if state in ENROLLED:
            area["in_sync"] += count
        elif state in ENROLMENT_ATTENTION:
            area["attention"] += count
        elif state in ENROLMENT_EXCLUSIONS:
            area["excluded"] += count
            _add(area["excluded_detail"], ENROLMENT_EXCLUSIONS[state].format(contact=contact), count)
        else:
            area["waiting"] += count
            _add(area["waiting_detail"], why, count)
    return list(areas.values())


# ---------------------------------------------------------------------- runs
def _duration(started_at: datetime | None, finished_at: datetime | None) -> float | None:
    if finished_at is None or started_at is None:
        return None
    return max((finished_at - started_at).total_seconds(), 0.0)


def duration_text(seconds: float | None) -> str:
    if seconds is None:
        return ""
    seconds = round(seconds)
    if seconds < 60:
        return _plural(seconds, "second")
    minutes, seconds = divmod(seconds, 60)
    if minutes < 60:
        return f"{minutes} min {seconds} s" if seconds else f"{minutes} min"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes} min"


def run_rows(counts: dict[str, Any] | None) -> tuple[list[dict], dict | None, dict[str, int]]:
    """A run's counts as the Store tab shows them: the streams (each adds up), the contacts
    area, and the enrolments by state (shown with the programs, not as a stream)."""
    streams, contacts, enrolments = [], None, {}
    for name, values in (counts or {}).items():
        values = values or {}
        if name == "enrolments":
            enrolments = {state: int(n) for state, n in values.items() if n and state not in COLUMNS}
            continue
        if name == DELETED_COUNTS:  # people, not records of a stream (``status.deleted_in_run``)
            continue
        row = {"name": name, **{column: int(values.get(column) or 0) for column in COLUMNS}}
        if name == CONTACTS:
            contacts = row
        else:
            streams.append(row)
    return streams, contacts, enrolments


def _full_run(session: Session, run: SyncRun | None, nouns: dict[str, str]) -> dict[str, Any] | None:
    """A full sync as the Store tab shows it: a cycle cut into slices (the ``celery``
    executor) is shown whole, from its first slice's start, with the counts of all its slices."""
    if run is None:
        return None
    slices = cycle_of(session, run)
    counts = added_counts([part.counts for part in slices])
    errors = {key: value for part in slices for key, value in (part.errors or {}).items()}
    first = slices[0]
    streams, contacts, enrolments = run_rows(counts)
    seconds = _duration(first.started_at, run.finished_at)
    return {
        "id": run.id, "trigger": first.trigger, "status": run.status,
        "started_at": _iso(first.started_at), "finished_at": _iso(run.finished_at),
        "duration_seconds": seconds, "duration": duration_text(seconds),
        "streams": streams, "contacts": contacts, "contacts_note": contacts_note(nouns),
        "enrolments": enrolments, "errors": errors,
        "deleted_contacts": deleted_in_run(counts),
    }


def _records_brought(counts: dict[str, Any] | None) -> int:
    streams, _, _ = run_rows(counts)
    return sum(row["read"] for row in streams)


def _instant_updates(session: Session, connection: Connection, now: datetime) -> dict[str, Any]:
    """The fast lane's runs: the latest, and what they brought in the last hour and day."""
    runs = session.execute(
        select(SyncRun.started_at, SyncRun.finished_at, SyncRun.status, SyncRun.counts, SyncRun.errors)
        .where(
            SyncRun.connection_id == connection.id,
            SyncRun.trigger == FAST_LANE,
            SyncRun.status != "running",
            SyncRun.started_at >= now - timedelta(days=1),
        )
        .order_by(SyncRun.started_at.desc(), SyncRun.id.desc())
    ).all()
    latest = runs[0] if runs else session.execute(
        select(SyncRun.started_at, SyncRun.finished_at, SyncRun.status, SyncRun.counts, SyncRun.errors)
        .where(SyncRun.connection_id == connection.id, SyncRun.trigger == FAST_LANE, SyncRun.status != "running")
        .order_by(SyncRun.started_at.desc(), SyncRun.id.desc())
        .limit(1)
    ).first()
    hour_ago = now - timedelta(hours=1)
    last_hour = [run for run in runs if run.started_at >= hour_ago]
    return {
        "latest_at": _iso(latest.finished_at or latest.started_at) if latest else None,
        "latest_status": latest.status if latest else None,
        "latest_records": _records_brought(latest.counts) if latest else 0,
        "latest_errors": (latest.errors or {}) if latest and latest.status == "failed" else {},
        "runs_last_hour": len(last_hour),
        "records_last_hour": sum(_records_brought(run.counts) for run in last_hour),
        "runs_last_day": len(runs),
        "records_last_day": sum(_records_brought(run.counts) for run in runs),
    }


# ---------------------------------------------------------------------- next sync
def next_sync(
    connection: Connection,
    *,
    running: bool,
    interval_seconds: float,
    scheduler=None,
    now: datetime | None = None,
) -> dict[str, Any]:
    """When the next full sync starts: the scheduler's own job when it runs in this process,
    otherwise about an interval after the last one finished."""
    now = now or utcnow()
    if not connection.sync_enabled:
        return {"at": None, "approximate": False, "text": "None: Data sync is off."}
    if running:
        return {"at": None, "approximate": False, "text": "Syncing now."}
    if connection.sync_requested_at is not None:
        return {"at": None, "approximate": False, "text": "In a few seconds (Sync now was pressed)."}
    moment, approximate = None, False
    if scheduler is not None and getattr(scheduler, "running", False):
        moment = scheduler.next_cycle_at(connection.id)
    if moment is None and connection.last_sync_at is not None:
        moment, approximate = connection.last_sync_at + timedelta(seconds=interval_seconds), True
    if moment is None:
        return {"at": None, "approximate": False, "text": "As soon as the scheduler starts it."}
    if moment <= now:
        return {"at": _iso(moment), "approximate": approximate, "text": "Any moment now."}
    from host.web.merchant import format_when

    return {"at": _iso(moment), "approximate": approximate,
            "text": f"{'About ' if approximate else ''}{format_when(moment)}."}


# ---------------------------------------------------------------------- all together
def _paused(areas: Iterable[dict[str, Any]], problems: list[ConnectionProblem]) -> None:
    """Mark the areas a configuration problem pauses (``ConnectionProblem.area``)."""
    for problem in problems:
        for area in areas:
            hit = (
                (problem.area == CONTACTS and area["kind"] == "book")
                or (problem.area == "enrolments" and area["kind"] == "program")
                or problem.area in area.get("streams", ())
                or problem.area == area["key"]
            )
            if hit and area["paused"] is None:
                area["paused"] = problem.message


def _things(areas: list[dict], key: str, *, verb: bool = True) -> str:
    """"3 records and 1 enrolment need": the records, enrolments and store changes of a bucket."""
    changes = sum(area.get(f"{key}_changes", 0) for area in areas)
    records = sum(area[key] for area in areas if area["kind"] != "program") - changes
    enrolments = sum(area[key] for area in areas if area["kind"] == "program")
    counted = ((records, "record"), (enrolments, "enrolment"), (changes, "store change"))
    parts = [_plural(n, noun) for n, noun in counted if n] or ["0 records"]
    text = ", ".join(parts[:-1]) + (" and " if len(parts) > 1 else "") + parts[-1]
    if verb:
        text += " needs" if records + enrolments + changes == 1 else " need"
    return text


def sentence(
    connection: Connection, totals: dict[str, int], areas: list[dict], *, running: bool, ever_synced: bool
) -> tuple[str, str]:
    """One plain sentence on the whole, and its tone: ok, waiting, attention, paused, off."""
    if not connection.sync_enabled:
        return "off", "Data sync is off: nothing syncs until you turn it on."
    if not ever_synced and not any(totals.values()):
        return "waiting", "The first sync is running." if running else "The first sync has not run yet."
    if totals["attention"]:
        return "attention", f"{_things(areas, 'attention')} your attention."
    paused = [area["title"] for area in areas if area["paused"]]
    if paused:
        return "paused", f"Paused until a setting is fixed: {', '.join(paused)} (see the message above)."
    if totals["waiting"]:
        return "waiting", f"Syncing: {_things(areas, 'waiting', verb=False)} waiting."
    if running:
        return "waiting", "Syncing now: everything sent so far is in sync."
    return "ok", "Everything is in sync."


def store_health(
    session: Session,
    connection: Connection,
    *,
    max_attempts: int,
    source=None,
    scheduler=None,
    interval_seconds: float = DEFAULT_INTERVAL_SECONDS,
    now: datetime | None = None,
    nouns: dict[str, str] | None = None,
) -> dict[str, Any]:
    """The health panel and the two latest kinds of run, as the page and its status endpoint show them;
    ``nouns`` are the destination's words (``host.destinations.noun_forms``, the defaults when None)."""
    now = now or utcnow()
    nouns = nouns or noun_forms({})
    areas = (_record_areas(session, connection, source, max_attempts, nouns)
             + _program_areas(session, connection, now, nouns))
    problems = session.scalars(
        select(ConnectionProblem).where(ConnectionProblem.connection_id == connection.id)
        .order_by(ConnectionProblem.created_at, ConnectionProblem.id)
    ).all()
    _paused(areas, list(problems))
    for area in areas:
        area["waiting_detail"] = [{"label": k, "count": v} for k, v in area["waiting_detail"].items()]
        area["excluded_detail"] = [
            {"label": k, "count": v} for k, v in sorted(area["excluded_detail"].items(), key=lambda i: -i[1])
        ]
    totals = {key: sum(area[key] for area in areas) for key in ("in_sync", "waiting", "excluded", "attention")}
    runs = select(SyncRun).where(SyncRun.connection_id == connection.id, SyncRun.trigger != FAST_LANE)
    latest = session.scalar(runs.order_by(SyncRun.started_at.desc(), SyncRun.id.desc()).limit(1))
    running = session.scalar(
        select(func.count()).where(SyncRun.connection_id == connection.id, SyncRun.status == "running")
    ) or (latest is not None and latest.status == SLICED)  # between two slices of one cycle
    full = session.scalar(
        runs.where(SyncRun.status.in_(COMPLETED)).order_by(SyncRun.started_at.desc(), SyncRun.id.desc()).limit(1)
    )
    ended_badly = session.scalar(  # a later full sync that failed or was interrupted: said apart
        runs.where(SyncRun.status.not_in((*COMPLETED, "running", SLICED)))
        .where(SyncRun.started_at > full.started_at if full is not None else true())
        .order_by(SyncRun.started_at.desc(), SyncRun.id.desc()).limit(1)
    )
    tone, text = sentence(
        connection, totals, areas, running=bool(running),
        ever_synced=connection.last_sync_at is not None or full is not None,
    )
    return {
        "health": {
            "state": tone,
            "sentence": text,
            "totals": totals,
            "areas": areas,
            "max_attempts": max_attempts,
            "next_sync": next_sync(
                connection, running=bool(running), interval_seconds=interval_seconds, scheduler=scheduler, now=now
            ),
        },
        "last_full_run": _full_run(session, full, nouns),
        "full_run_failure": _full_run(session, ended_badly, nouns),
        "instant_updates": _instant_updates(session, connection, now),
    }


def health_status(session: Session, connection: Connection, *, max_attempts: int) -> dict[str, Any]:
    """``store_health`` with this app's source plugin, scheduler and sync interval."""
    from flask import current_app

    from host.plugins import get_plugins
    from host.web.merchant import destination_nouns

    config = current_app.config.get("SYNC", {})
    return store_health(
        session,
        connection,
        max_attempts=max_attempts,
        source=get_plugins().sources.get(connection.source),
        scheduler=current_app.extensions.get("host.scheduler"),
        interval_seconds=float(config.get("interval_seconds", DEFAULT_INTERVAL_SECONDS)),
        nouns=destination_nouns(connection),
    )
