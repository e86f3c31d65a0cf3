"""Program enrolments: which events enrol which contacts in which programs, one row each.

The sync engine detects events (a new customer, a new subscriber, a first order) and hands
each to every registered ``Enroller`` inside the transaction that read the record, so an event
is recorded exactly when its record is. After each cycle and fast-lane batch, and whenever a
waiting enrolment falls due, the engine asks each enroller to ``process`` what is due. The
built-in enroller (this module is the ``enrolments`` plugin) keeps one ``Enrolment`` row per
(trigger, contact, subscription episode) — the unique key is what prevents a double
enrolment — and moves it through:

    pending → pending_opt_in → (expired)
    pending → sending → active | deactivated | pending (waiting again) | failed
    sending → uncertain → active (it landed) | pending (it certainly did not)
    pending → suppressed | cancelled

**Batches, spent wisely.** A destination may allow few enrolment calls (Engagement Cloud: 20
an hour per account, across all programs) of up to ``enrolment_batch_size`` contacts each.
Due rows wait per program; a program calls when its batch is full, or when its last call is
``interval`` ago (a few minutes), so 20 calls carry up to 500 enrolments an hour and a lone
welcome still goes within minutes. A partial batch never waits longer than ``interval`` while the
allowance has a call left, however much of it is used: each enrolment goes within minutes of
its trigger while the allowance lasts (DESIGN §1); only once it is spent do rows wait, for
the next free place. Programs take turns, the one that called longest ago first,
so a flash sale in one program does not starve the others. The allowance is counted from
``EnrolmentCall`` rows per destination account, so every connection and process sharing the
account agrees and a restart forgets nothing; a call is committed before it is counted, so
processes racing for the allowance's last place never both take it. A spent allowance — our count, or the
destination's own ``QuotaExceededError`` — leaves rows *waiting* with the time the next call
may go (``due_at``); it is never an attempt.

**Exactly once when the answer is lost.** Enrolling is not idempotent. A batch is committed
as ``sending`` with its ``EnrolmentCall`` before the call, and its outcome right after. A lost
answer (``UncertainWriteError``: a 5xx, a dropped connection) or a crash in between leaves
the rows ``sending``/``uncertain``; once the destination's request timeout has passed
(``enrolment_settle_seconds``) the rows are settled from the destination's own enrolment
records (``find_enrolment``): found → active; not found → pending, sent again. A destination
that cannot look enrolments up leaves them failed (needs attention) rather than risk a double.

**Waiting is not failing.** Only a refusal of the contacts themselves (``RecordError``)
counts an attempt; a refused batch is retried one contact per call so one bad contact cannot
hold the others, on a back-off, and after ``max_attempts`` the row is ``failed`` (needs
attention, with a Retry on the Store tab). Outages and rate limits never count.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, ClassVar

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from host.errors import (
    ConfigurationError,
    QuotaExceededError,
    RecordError,
    TransientError,
    UncertainWriteError,
)
from host.hookspecs import hookimpl
from host.models import Enrolment, EnrolmentCall
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
WAITING = ("pending", "pending_opt_in")
IN_FLIGHT = ("sending", "uncertain")
# Calls that may have reached the destination: they count against its allowance.
COUNTED_CALLS = ("sending", "uncertain", "accepted", "refused")
RECHECK_CONTACT = timedelta(minutes=1)  # the contact is not at the destination yet
RECHECK_OPT_IN = timedelta(minutes=5)  # waiting for a double opt-in confirmation
RETRY_UNSENT = timedelta(minutes=1)  # an outage: the call certainly did not land
RETRY_QUOTA = timedelta(minutes=10)  # the destination said the allowance is spent
# A destination's clock and ours may differ a little: look this far back for a lost call.
CLOCK_SKEW = timedelta(minutes=2)


def _unsettled(destination: Destination) -> str:
    """Why an enrolment whose answer was lost failed: the destination's records could not say."""
    return (
        f"The answer to this enrolment was lost and {destination.title}'s records could not be checked: "
        f"it was not sent again, so the {destination.noun('contact')} is never enrolled twice. Retry if they are "
        f"not in the {destination.noun('program')}."
    )


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
    interval: timedelta = timedelta(minutes=4)  # a program's partial batches, at most this often


class Enroller(ABC):
    """Decides which events enrol which contacts, and tracks each enrolment."""

    name: ClassVar[str]

    @abstractmethod
    def handle_event(self, session: Session, connection: Connection, event: Event) -> None:
        """Record what ``event`` asks for, in the caller's transaction (do not commit)."""

    @abstractmethod
    def process(self, context: EnrolmentContext) -> Counter:
        """Send what is due, settle what is uncertain; answer counts by resulting state."""


def account_key(connection: Connection) -> str:
    """Allowances are per destination account, whichever connection uses it."""
    return f"{connection.destination}:{connection.destination_account}"


def back_off(attempts: int) -> timedelta:
    """After a refusal: 5 minutes, 15, 45, … at most 6 hours."""
    return min(timedelta(minutes=5) * 3 ** max(attempts - 1, 0), timedelta(hours=6))


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
        session, now = context.session, context.now
        rows = session.scalars(
            select(Enrolment)
            .where(
                Enrolment.connection_id == context.connection.id,
                Enrolment.state.in_((*WAITING, *IN_FLIGHT)),
                (Enrolment.due_at.is_(None)) | (Enrolment.due_at <= now),
            )
            .order_by(Enrolment.id)
        ).all()
        self._settle(context, [row for row in rows if row.state in IN_FLIGHT])
        double_opt_in = get_settings(session, context.connection, "contacts")["double_opt_in"]
        ready: dict[str, list[tuple[Enrolment, str]]] = {}
        for row in rows:
            if row.state in WAITING:
                contact_id = self._check(context, row, double_opt_in)
                if contact_id is not None:
                    ready.setdefault(row.program_id, []).append((row, contact_id))
        session.commit()
        Pacer(context).send(ready, self._send)
        return Counter(row.state for row in rows)

    # ---------------------------------------------------------------- before sending
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
            _wait(row, context.now + RECHECK_CONTACT, "waiting for the contact to reach the destination")
            return None
        if double_opt_in:
            status = context.destination.contact_status(context.connection, row.contact_key)
            if status == "pending_opt_in":
                row.expires_at = row.expires_at or row.created_at + OPT_IN_WINDOW
                if context.now >= row.expires_at:
                    _set(row, "expired", "the contact did not confirm the double opt-in within 24 hours")
                else:
                    _set(row, "pending_opt_in", "waiting for the contact to confirm the double opt-in")
                    row.due_at = min(context.now + RECHECK_OPT_IN, row.expires_at)
                return None
            if status in ("suppressed", "unsubscribed"):
                _set(row, "suppressed", f"the contact is {status} at the destination")
                return None
        return contact_id

    # ---------------------------------------------------------------- the call
    def _send(self, context: EnrolmentContext, program_id: str, batch: list[tuple[Enrolment, str]]) -> str:
        """One enrolment call for ``batch``; answer the call's outcome."""
        session, connection = context.session, context.connection
        call = EnrolmentCall(
            connection_id=connection.id,
            account_key=account_key(connection),
            program_id=program_id,
            contact_count=len(batch),
            outcome="sending",
            made_at=context.now,
        )
        session.add(call)
        session.flush()
        for row, _ in batch:
            _set(row, "sending", None)
            row.sent_at, row.call_id, row.due_at = context.now, call.id, None
        session.commit()  # from here on, a crash leaves the rows to be settled, never re-sent blindly
        rows = [row for row, _ in batch]
        slot = _beyond_allowance(context, call)
        if slot is not None:  # another process's call took the allowance's last place meanwhile
            call.outcome = "withdrawn"
            for row in rows:
                _wait(row, slot, _allowance_reason(context.destination, slot))
            session.commit()
            return "unsent"
        try:
            enrolment_id = context.destination.enrol(
                connection, program_id, [contact_id for _, contact_id in batch]
            )
        except UncertainWriteError as error:
            call.outcome = "uncertain"
            settle_at = context.now + _settle_delay(context.destination)
            for row in rows:
                _wait(row, settle_at, f"the answer was lost ({error.message}); checking before sending again",
                      state="uncertain")
        except QuotaExceededError as error:
            call.outcome = "allowance"
            retry = timedelta(seconds=error.retry_after) if error.retry_after else RETRY_QUOTA
            for row in rows:
                _wait(row, context.now + retry, _allowance_reason(context.destination, context.now + retry))
        except ConfigurationError as error:  # not about these contacts: not counted
            call.outcome = "configuration"
            if error.code in ("program_not_active", "program_not_found"):
                for row in rows:
                    _set(row, "deactivated", getattr(error, "reason", None) or error.message)
            else:  # credentials, a feature switched off: the area pauses, the rows wait
                for row in rows:
                    _wait(row, context.now + RETRY_QUOTA, error.message)
                session.commit()
                raise
        except RecordError as error:
            call.outcome = "refused"
            for row in rows:
                _refused(row, context, error.message, alone=len(rows) == 1)
        except TransientError as error:  # certainly not applied (could not connect, 429s)
            call.outcome = "unsent"
            for row in rows:
                _wait(row, context.now + RETRY_UNSENT, error.message)
        else:
            call.outcome, call.destination_id = "accepted", enrolment_id
            for row in rows:
                _set(row, "active", None)
                row.destination_id = enrolment_id
        session.commit()
        return call.outcome

    # ---------------------------------------------------------------- lost answers
    def _settle(self, context: EnrolmentContext, rows: list[Enrolment]) -> None:
        """Rows whose call may or may not have landed, now past the request timeout: ask the
        destination's own records, one call at a time, oldest first."""
        by_call: dict[int | None, list[Enrolment]] = {}
        for row in rows:
            by_call.setdefault(row.call_id, []).append(row)
        for call_id, group in sorted(by_call.items(), key=lambda item: item[0] or 0):
            call = context.session.get(EnrolmentCall, call_id) if call_id else None
            sent_at = min(row.sent_at or context.now for row in group)
            if context.now < sent_at + _settle_delay(context.destination):
                for row in group:  # a crash right after sending: wait for the timeout to pass
                    _wait(row, sent_at + _settle_delay(context.destination),
                          "the answer was lost; checking before sending again", state="uncertain")
                continue
            contact_ids = [context.contact_id(row.contact_key) for row in group]
            known = set(
                context.session.scalars(
                    select(EnrolmentCall.destination_id).where(
                        EnrolmentCall.account_key == account_key(context.connection),
                        EnrolmentCall.destination_id.is_not(None),
                    )
                )
            )
            try:
                if None in contact_ids:
                    raise NotImplementedError  # a contact gone from the ledger: nothing to look for
                found = context.destination.find_enrolment(
                    context.connection, group[0].program_id, contact_ids, sent_at - CLOCK_SKEW,
                    exclude=known,
                )
            except NotImplementedError:  # cannot tell: never risk a second enrolment
                for row in group:
                    _set(row, "failed", _unsettled(context.destination))
                    row.due_at = None
                continue
            except TransientError as error:
                for row in group:
                    _wait(row, context.now + RETRY_UNSENT, error.message, state="uncertain")
                continue
            if found:
                for row in group:
                    _set(row, "active", None)
                    row.destination_id = found
                if call is not None:
                    call.outcome, call.destination_id = "accepted", found
            else:  # it certainly did not land: send it again
                for row in group:
                    _set(row, "pending", None)
                    row.due_at = None
                if call is not None:
                    call.outcome = "lost"
        context.session.commit()


class Pacer:
    """Which programs may call now, within the destination's allowance, fairly.

    A full batch calls at once; a partial one when its program last called ``interval`` ago
    (never later, whatever share of the allowance is used); any call only while the allowance
    has a place (``_next_slot``), else every waiting row waits for that place, never failing."""

    def __init__(self, context: EnrolmentContext):
        self.context = context
        self.batch_size = max(int(context.destination.enrolment_batch_size), 1)
        self.allowance = context.destination.enrolment_allowance  # (calls, seconds) or None
        self.key = account_key(context.connection)

    def send(self, ready: dict[str, list[tuple[Enrolment, str]]], send: Callable) -> None:
        now = self.context.now
        last_call = self._last_calls(list(ready))
        queues = {program: _solo_first(rows) for program, rows in ready.items()}
        while queues:
            # Programs take turns: the one that called longest ago goes first.
            program = min(queues, key=lambda p: (last_call.get(p) or datetime.min.replace(tzinfo=now.tzinfo), p))
            queue = queues[program]
            size = 1 if queue[0][0].attempts else self.batch_size  # a refused contact goes alone
            full = len(queue) >= size
            called = last_call.get(program)
            interval = self.context.interval
            if not full and called is not None and now < called + interval:
                self._hold(queue, called + interval,
                           "waiting for its batch: one call per program every few minutes")
                del queues[program]
                continue
            next_slot = self._next_slot()
            if next_slot is not None:
                for rows in queues.values():
                    self._hold(rows, next_slot, _allowance_reason(self.context.destination, next_slot))
                return
            batch, queues[program] = queue[:size], queue[size:]
            outcome = send(self.context, program, batch)
            last_call[program] = now
            if outcome in ("allowance", "unsent") or not queues[program]:
                if outcome in ("allowance", "unsent"):
                    self._hold(queues[program], batch[0][0].due_at, batch[0][0].reason)
                del queues[program]

    def _hold(self, rows: list[tuple[Enrolment, str]], until: datetime | None, reason: str | None) -> None:
        for row, _ in rows:
            _wait(row, until, reason)
        self.context.session.commit()

    def _last_calls(self, programs: list[str]) -> dict[str, datetime]:
        rows = self.context.session.execute(
            select(EnrolmentCall.program_id, func.max(EnrolmentCall.made_at))
            .where(
                EnrolmentCall.account_key == self.key,
                EnrolmentCall.program_id.in_(programs),
                EnrolmentCall.outcome.in_(COUNTED_CALLS),
            )
            .group_by(EnrolmentCall.program_id)
        ).all()
        return dict(rows)

    def _calls_in_window(self) -> list[datetime]:
        """When the calls counting against the allowance were made, oldest first."""
        if not self.allowance:
            return []
        window = timedelta(seconds=self.allowance[1])
        return list(
            self.context.session.scalars(
                select(EnrolmentCall.made_at)
                .where(
                    EnrolmentCall.account_key == self.key,
                    EnrolmentCall.outcome.in_(COUNTED_CALLS),
                    EnrolmentCall.made_at > self.context.now - window,
                )
                .order_by(EnrolmentCall.made_at)
            )
        )

    def _next_slot(self) -> datetime | None:
        """None when a call may go now; else when the allowance next allows one."""
        refused = self.context.session.scalar(
            select(func.max(EnrolmentCall.made_at)).where(
                EnrolmentCall.account_key == self.key,
                EnrolmentCall.outcome == "allowance",
                EnrolmentCall.made_at > self.context.now - RETRY_QUOTA,
            )
        )
        if refused is not None:
            return refused + RETRY_QUOTA
        if not self.allowance:
            return None
        calls, seconds = self.allowance
        made = self._calls_in_window()
        if len(made) < calls:
            return None
        return made[len(made) - calls] + timedelta(seconds=seconds)


def _beyond_allowance(context: EnrolmentContext, call: EnrolmentCall) -> datetime | None:
    """After ``call`` was committed: None when it fits the account's allowance beside the
    calls every other process has committed; else when the next place frees up. Each process
    commits its call before it counts, so of two racing for the last place the later count sees
    both and withdraws (both may; neither goes beyond the allowance)."""
    allowance = context.destination.enrolment_allowance
    if not allowance:
        return None
    calls, seconds = allowance
    window = timedelta(seconds=seconds)
    others = list(
        context.session.scalars(
            select(EnrolmentCall.made_at)
            .where(
                EnrolmentCall.account_key == call.account_key,
                EnrolmentCall.outcome.in_(COUNTED_CALLS),
                EnrolmentCall.made_at > context.now - window,
                EnrolmentCall.id != call.id,
            )
            .order_by(EnrolmentCall.made_at)
        )
    )
    if len(others) < calls:
        return None
    return others[len(others) - calls] + window


def _solo_first(rows: list[tuple[Enrolment, str]]) -> list[tuple[Enrolment, str]]:
    """Contacts refused before go alone, ahead of the rest (they are the oldest anyway)."""
    return sorted(rows, key=lambda item: (item[0].attempts == 0, item[0].id))


def _settle_delay(destination: Destination) -> timedelta:
    return timedelta(seconds=float(destination.enrolment_settle_seconds))


def _allowance_reason(destination: Destination, when: datetime) -> str:
    return (
        f"waiting for {destination.title}'s hourly enrolment allowance; the next call goes at "
        f"{when:%H:%M} UTC"
    )


def _refused(row: Enrolment, context: EnrolmentContext, reason: str, *, alone: bool) -> None:
    """The destination refused the contacts: an attempt. A refused batch is tried again one
    contact per call (``Pacer``), so only a contact refused alone ends needing attention."""
    row.attempts += 1
    if alone and row.attempts >= context.max_attempts:
        _set(row, "failed", reason)
        row.due_at = None
    else:
        _wait(row, context.now + (back_off(row.attempts) if alone else timedelta(0)), reason)


def _set(row: Enrolment, state: str, reason: str | None) -> None:
    row.state = state
    row.reason = reason


def _wait(row: Enrolment, until: datetime | None, reason: str | None, *, state: str = "pending") -> None:
    """Keep the row waiting (never an attempt) until ``until``."""
    _set(row, state, reason)
    row.due_at = until


def queue_status(session: Session, connection: Connection) -> dict:
    """What the Store tab says about enrolments: how many wait, and when the next call may go.

    ``waiting``: queued (for their batch, the contact, or the allowance); ``pending_opt_in``:
    waiting for a double opt-in confirmation; ``uncertain``: sent, answer lost, being settled;
    ``needs_attention``: refused by the destination ``max_attempts`` times (state ``failed``);
    ``next_send_at``: the earliest ``due_at`` of the waiting rows (None: as soon as ready).
    """
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
        "uncertain": sum(by_state.get(s, (0, None))[0] for s in IN_FLIGHT),
        "needs_attention": by_state.get("failed", (0, None))[0],
        "next_send_at": due,
    }


@hookimpl
def register_enrollers(register):
    register(ProgramEnroller())
