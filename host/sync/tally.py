"""Counts that add up: each record a run takes up is counted once under its stream, as sent,
unchanged, excluded or failed, so that a finished run's row reads read = sent + unchanged +
excluded + failed.

Customers and subscribers are not sent themselves: they describe people, whose contacts (one
per book) the contacts phase sends. A record read from one of those streams is counted with
the outcome of the contact it describes — a customer record with its customers-book contact, a
subscriber record with its subscribers-book contact — and one whose contact has no book to go
to is excluded. A guest has no record of its own (its orders describe it): its orders count
under orders, its contact in ``contacts``. The contacts are counted once more in their own area, ``contacts``
(its "read" is the contacts checked): a contact checked because an order or a setting changed,
or retried, counts there only. A contact checked twice in one run (a retry after a held send)
counts once, with its last outcome.

Orders wait in the outbox and are counted when the destination answered for them; a record
read twice in one run while its write waits counts as unchanged the second time, and an outbox
row left by an earlier run is taken up (read) by the run that sends it.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable

CONTACTS = "contacts"
OUTCOMES = ("sent", "unchanged", "excluded", "failed")


class RunTally:
    """The bookkeeping of one run behind its counts (``add`` is ``RunRecorder.add``)."""

    def __init__(self, add: Callable[..., None]):
        self._add = add
        # (ledger kind of the contact, email) → stream → records read this run describing it
        self._reads: dict[tuple[str, str], Counter] = {}
        # the same key → (its outcome so far, the stream records counted with it)
        self._contacts: dict[tuple[str, str], tuple[str, Counter]] = {}
        self._queued: dict[str, set[str]] = {}  # stream → source ids waiting in the outbox

    # ------------------------------------------------------------------ contacts
    def described(self, contact_kind: str, email: str, stream: str) -> None:
        """A record of ``stream`` read this run describes this contact."""
        self._reads.setdefault((contact_kind, email), Counter())[stream] += 1

    def contact(self, contact_kind: str, email: str, outcome: str) -> None:
        """What happened to one contact (``contact_kind``: its ledger kind, i.e. its book)."""
        key = (contact_kind, email)
        if key in self._contacts:  # checked again this run: the last outcome stands
            previous, streams = self._contacts[key]
            self._add(CONTACTS, **{previous: -1})
            for stream, records in streams.items():
                self._add(stream, **{previous: -records})
        else:
            streams = Counter()
            self._add(CONTACTS, read=1)
        streams = streams + self._reads.pop(key, Counter())
        self._add(CONTACTS, **{outcome: 1})
        for stream, records in streams.items():
            self._add(stream, **{outcome: records})
        self._contacts[key] = (outcome, streams)

    def contacts_settled(self) -> None:
        """After the contacts phase: records whose contact went nowhere (no book chosen for
        it) are excluded."""
        for streams in self._reads.values():
            for stream, records in streams.items():
                self._add(stream, excluded=records)
        self._reads.clear()

    # ------------------------------------------------------------------ the outbox
    def queued(self, stream: str, source_id: str) -> bool:
        """A record of ``stream`` waits in the outbox; False when it already waited for this
        run (read twice): that read counts as unchanged."""
        waiting = self._queued.setdefault(stream, set())
        if source_id in waiting:
            self._add(stream, unchanged=1)
            return False
        waiting.add(source_id)
        return True

    def taken_from_outbox(self, stream: str, source_id: str) -> None:
        """An outbox row is sent now: one read this run was counted already; one left by an
        earlier run is taken up by this one."""
        waiting = self._queued.get(stream, set())
        if source_id in waiting:
            waiting.discard(source_id)
        else:
            self._add(stream, read=1)
