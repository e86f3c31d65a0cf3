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

Nothing of this grows with the store (a backfill of a million customers and two million orders
would otherwise hold them all until its end): the records read are kept on the profile they
describe (``ContactProfile.run_reads``, marked with the run) until its contacts are checked, and
an outbox row carries the run that queued it; in memory are only the contacts waiting for the
destination's answer and the ones refused this run (the retry pass checks those again).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Collection
from typing import Any

CONTACTS = "contacts"
OUTCOMES = ("sent", "unchanged", "excluded", "failed")
CONTACT_KINDS = ("customer_contact", "subscriber_contact")


class RunTally:
    """The bookkeeping of one run behind its counts (``add`` is ``RunRecorder.add``)."""

    def __init__(self, add: Callable[..., None], run_id: int | None = None):
        self._add = add
        self.run_id = run_id
        # (ledger kind of the contact, email) → stream → records read this run describing it,
        # from the moment its contact is checked until its outcome is known
        self._reads: dict[tuple[str, str], Counter] = {}
        # contacts refused this run → the stream records counted with that outcome
        self._refused: dict[tuple[str, str], Counter] = {}

    # ------------------------------------------------------------------ contacts
    def described(self, profile: Any, contact_kind: str, stream: str) -> None:
        """A record of ``stream`` read this run describes this profile's ``contact_kind``
        contact: kept on the profile, in the page's transaction."""
        reads = profile.run_reads if (profile.run_reads or {}).get("run") == self.run_id else None
        reads = {"run": self.run_id} if reads is None else dict(reads)
        streams = dict(reads.get(contact_kind) or {})
        streams[stream] = streams.get(stream, 0) + 1
        reads[contact_kind] = streams
        profile.run_reads = reads

    def checking(self, profile: Any, checked: Collection[str]) -> None:
        """The contacts phase takes up ``profile``: its contacts of the ``checked`` kinds are
        about to get an outcome; the records describing a contact that goes nowhere (no book
        for it) are excluded now."""
        reads = profile.run_reads or {}
        if reads.get("run") != self.run_id:
            return
        for kind in CONTACT_KINDS:
            streams = reads.get(kind)
            if not streams:
                continue
            if kind in checked:
                self._reads[(kind, profile.email)] = Counter(streams)
            else:
                for stream, records in streams.items():
                    self._add(stream, excluded=records)

    def contact(self, contact_kind: str, email: str, outcome: str) -> None:
        """What happened to one contact (``contact_kind``: its ledger kind, i.e. its book)."""
        key = (contact_kind, email)
        streams = self._refused.pop(key, None)
        if streams is not None:  # checked again this run (the retry pass): the last outcome stands
            self._add(CONTACTS, failed=-1)
            for stream, records in streams.items():
                self._add(stream, failed=-records)
        else:
            streams = Counter()
            self._add(CONTACTS, read=1)
        streams = streams + self._reads.pop(key, Counter())
        self._add(CONTACTS, **{outcome: 1})
        for stream, records in streams.items():
            self._add(stream, **{outcome: records})
        if outcome == "failed":
            self._refused[key] = streams

    def contacts_settled(self) -> None:
        """After the contacts phase: records whose contact was taken up but got no outcome
        are excluded."""
        for streams in self._reads.values():
            for stream, records in streams.items():
                self._add(stream, excluded=records)
        self._reads.clear()

    # ------------------------------------------------------------------ the outbox
    def queued(self, stream: str, waiting: dict[str, Any] | None) -> bool:
        """A record of ``stream`` is about to wait in the outbox, where ``waiting`` is (the
        ledger marks it with the run that queues it); False when it already waited for this
        run (read twice): that read counts as unchanged."""
        if waiting is not None and waiting.get("run") == self.run_id:
            self._add(stream, unchanged=1)
            return False
        return True

    def taken_from_outbox(self, stream: str, waiting: dict[str, Any]) -> None:
        """An outbox row is sent now: one queued by this run was counted already; one left by
        an earlier run is taken up (read) by this one."""
        if waiting.get("run") != self.run_id:
            self._add(stream, read=1)
