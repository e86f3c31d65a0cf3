"""Program enrolments: which events enrol which contacts in which programs, one row each.

The sync engine detects events (a new customer, a new subscriber, a first order) and hands
each to every registered ``Enroller`` inside the transaction that read the record, so an event
is recorded exactly when its record is. At the end of a cycle the engine asks each enroller to
``process`` what is waiting. The built-in enroller (this module is the ``enrolments`` plugin)
keeps one ``Enrolment`` row per (trigger, contact, subscription episode) — the unique key is
what prevents a double enrolment — and moves it through:

    pending → pending_opt_in → (expired)
    pending → sending → active | deactivated | failed
    pending → suppressed | cancelled | failed

Enrolling is not idempotent at the destination, so a row is committed as ``sending`` before the
call and the returned enrolment id is committed right after. A crash between the two leaves the
outcome unknown: if the destination offers ``find_enrolment(connection, program_id,
contact_ids, since)`` the row is resolved from it; otherwise it is marked failed rather than
re-sent (at most once: a contact may miss one welcome, never get two). Batches are small (at
most ``BATCH_SIZE`` contacts per call), which keeps that window to one call.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, ClassVar

from sqlalchemy import select
from sqlalchemy.orm import Session

from host.errors import ConfigurationError, RecordError, TransientError
from host.hookspecs import hookimpl
from host.models import Enrolment
from host.settings import get_settings

if TYPE_CHECKING:
    from host.destinations import Destination
    from host.models import Connection

# Each trigger and the automation setting naming its program.
TRIGGERS = {
    "new_customer": "new_customer_program_id",
    "new_subscriber": "new_subscriber_program_id",
    "first_order": "first_order_program_id",
}
OPT_IN_WINDOW = timedelta(hours=24)  # an unconfirmed double opt-in expires after this
BATCH_SIZE = 25  # contacts per enrolment call (the API documents 25 as a maximum)
WAITING = ("pending", "pending_opt_in")
INTERRUPTED = "interrupted while sending; not re-sent, so the contact is never enrolled twice"


@dataclass(frozen=True)
class Event:
    """Something that happened in the store after the connection was made."""

    trigger: str  # new_customer, new_subscriber, first_order
    email: str  # lower-cased
    source_id: str  # the record behind it: customer, subscriber or order id
    episode: int = 1  # subscription episode (new_subscriber); 1 otherwise


@dataclass
class EnrolmentContext:
    """What an enroller may use while processing: the engine's knowledge, without its internals."""

    session: Session
    connection: Connection
    destination: Destination
    now: datetime
    max_attempts: int
    contact_id: Callable[[str], str | None]  # the destination's contact id for an email
    first_order_id: Callable[[str], str | None]  # the email's earliest known order


class Enroller(ABC):
    """Decides which events enrol which contacts, and tracks each enrolment."""

    name: ClassVar[str]

    @abstractmethod
    def handle_event(self, session: Session, connection: Connection, event: Event) -> None:
        """Record what ``event`` asks for, in the caller's transaction (do not commit)."""

    @abstractmethod
    def process(self, context: EnrolmentContext) -> Counter:
        """Send what is ready, re-check what waits; answer counts by resulting state."""


class ProgramEnroller(Enroller):
    """Enrols contacts in the programs chosen on the Automation settings."""

    name = "programs"

    def handle_event(self, session: Session, connection: Connection, event: Event) -> None:
        program_id = get_settings(session, connection, "automation").get(TRIGGERS[event.trigger])
        if not program_id:
            return
        existing = session.scalar(
            select(Enrolment).where(
                Enrolment.connection_id == connection.id,
                Enrolment.trigger == event.trigger,
                Enrolment.contact_key == event.email,
                Enrolment.episode == event.episode,
            )
        )
        if existing is None:
            session.add(
                Enrolment(
                    connection_id=connection.id,
                    trigger=event.trigger,
                    contact_key=event.email,
                    episode=event.episode,
                    source_id=event.source_id,
                    program_id=str(program_id),
                    state="pending",
                )
            )
            session.flush()
        elif existing.state in WAITING and event.trigger == "first_order":
            existing.source_id = event.source_id  # an earlier order turned up: it is the first

    def process(self, context: EnrolmentContext) -> Counter:
        rows = context.session.scalars(
            select(Enrolment)
            .where(
                Enrolment.connection_id == context.connection.id,
                Enrolment.state.in_((*WAITING, "sending")),
            )
            .order_by(Enrolment.id)
        ).all()
        double_opt_in = get_settings(context.session, context.connection, "contacts")[
            "double_opt_in"
        ]
        ready: dict[str, list[tuple[Enrolment, str]]] = {}
        for row in rows:
            if row.state == "sending":
                self._resolve_interrupted(context, row)
            else:
                contact_id = self._check(context, row, double_opt_in)
                if contact_id is not None:
                    ready.setdefault(row.program_id, []).append((row, contact_id))
        context.session.commit()
        for program_id, batch in ready.items():
            for start in range(0, len(batch), BATCH_SIZE):
                self._send(context, program_id, batch[start : start + BATCH_SIZE])
        return Counter(row.state for row in rows)

    def _check(self, context: EnrolmentContext, row: Enrolment, double_opt_in: bool) -> str | None:
        """The contact id when the row may be sent now; otherwise move the row along and answer None."""
        if (
            row.trigger == "first_order"
            and context.first_order_id(row.contact_key) != row.source_id
        ):
            _set(row, "cancelled", "an earlier order of this email was found: not a first order")
            return None
        contact_id = context.contact_id(row.contact_key)
        if contact_id is None:
            _retry_later(row, context.max_attempts, "the contact is not at the destination yet")
            return None
        if double_opt_in:
            status = context.destination.contact_status(context.connection, row.contact_key)
            if status == "pending_opt_in":
                row.expires_at = row.expires_at or row.created_at + OPT_IN_WINDOW
                if context.now >= row.expires_at:
                    _set(
                        row,
                        "expired",
                        "the contact did not confirm the double opt-in within 24 hours",
                    )
                else:
                    _set(
                        row,
                        "pending_opt_in",
                        "waiting for the contact to confirm the double opt-in",
                    )
                return None
            if status in ("suppressed", "unsubscribed"):
                _set(row, "suppressed", f"the contact is {status} at the destination")
                return None
        return contact_id

    def _send(self, context: EnrolmentContext, program_id: str, batch: list) -> None:
        for row, _ in batch:
            _set(row, "sending", None)
            row.sent_at = context.now
            row.attempts += 1
        context.session.commit()  # from here on, a crash must not lead to a second call
        try:
            enrolment_id = context.destination.enrol(
                context.connection, program_id, [contact_id for _, contact_id in batch]
            )
        except ConfigurationError as error:
            outcome, reason, enrolment_id = "deactivated", error.message, None
        except RecordError as error:
            outcome, reason, enrolment_id = "failed", error.message, None
        except TransientError as error:
            outcome, reason, enrolment_id = "pending", error.message, None
        else:
            outcome, reason = "active", None
        for row, _ in batch:
            if outcome == "pending":
                _retry_later(row, context.max_attempts, reason, counted=True)
            else:
                _set(row, outcome, reason)
                row.destination_id = enrolment_id
        context.session.commit()

    def _resolve_interrupted(self, context: EnrolmentContext, row: Enrolment) -> None:
        find = getattr(context.destination, "find_enrolment", None)
        contact_id = context.contact_id(row.contact_key)
        found = None
        if find is not None and contact_id is not None:
            found = find(context.connection, row.program_id, [contact_id], row.sent_at)
        if found:
            _set(row, "active", None)
            row.destination_id = found
        else:
            _set(row, "failed", INTERRUPTED)


def _set(row: Enrolment, state: str, reason: str | None) -> None:
    row.state = state
    row.reason = reason


def _retry_later(
    row: Enrolment, max_attempts: int, reason: str | None, *, counted: bool = False
) -> None:
    """Keep the row pending for a later cycle, until it has been tried ``max_attempts`` times."""
    if not counted:
        row.attempts += 1
    _set(row, "failed" if row.attempts >= max_attempts else "pending", reason)


@hookimpl
def register_enrollers(register):
    register(ProgramEnroller())


def queue_status(session: Session, connection: Connection) -> dict:
    """What the Store tab says about enrolments: how many wait, and when the next call may go.

    ``waiting``: queued (for their batch, the contact, or the allowance); ``pending_opt_in``:
    waiting for a double opt-in confirmation; ``uncertain``: sent, answer lost, being settled;
    ``needs_attention``: refused by the destination ``max_attempts`` times (state ``failed``);
    ``next_send_at``: the earliest ``due_at`` of the waiting rows (None: as soon as ready).
    """
    from sqlalchemy import func

    rows = session.execute(
        select(Enrolment.state, func.count(), func.min(Enrolment.due_at))
        .where(Enrolment.connection_id == connection.id)
        .group_by(Enrolment.state)
    ).all()
    by_state = {state: (count, due) for state, count, due in rows}
    waiting, due = by_state.get("pending", (0, None))
    return {
        "waiting": waiting,
        "pending_opt_in": by_state.get("pending_opt_in", (0, None))[0],
        "uncertain": sum(by_state.get(s, (0, None))[0] for s in ("sending", "uncertain")),
        "needs_attention": by_state.get("failed", (0, None))[0],
        "next_send_at": due,
    }
