"""The three kinds of failure, each carrying a message a merchant can act on."""

from __future__ import annotations


class SyncError(Exception):
    """Base of the failures a plugin reports to the host."""

    def __init__(self, message: str, *, area: str | None = None):
        super().__init__(message)
        self.message = message
        self.area = area  # which part of the sync it concerns: contacts, orders, catalog, ...


class ConfigurationError(SyncError):
    """Bad credentials, a missing scope, a deleted book, a feature not enabled: the merchant must act.

    The host pauses the part named by ``area`` and shows the message on the Store tab. ``code``
    names the problem so the same one is shown once and cleared when it is gone.
    """

    def __init__(self, message: str, *, area: str | None = None, code: str | None = None):
        super().__init__(message, area=area)
        self.code = code or (area and f"{area}_configuration") or "configuration"


class TransientError(SyncError):
    """A 429, 5xx or timeout that outlived the client's own retries: try again next cycle."""


class RecordError(SyncError):
    """One record was refused: the ledger marks it failed with this reason; the rest go on."""

    def __init__(self, message: str, *, source_id: str | None = None, area: str | None = None):
        super().__init__(message, area=area)
        self.source_id = source_id


class UncertainWriteError(TransientError):
    """A write that is not idempotent (an enrolment) failed after it may have reached the
    destination (a 5xx, a lost answer): it must be settled, never blindly repeated."""


class QuotaExceededError(TransientError):
    """The destination's allowance for this kind of call is spent (e.g. enrolments an hour):
    waiting, never a failure. ``retry_after``: seconds until a call may succeed, when known."""

    def __init__(self, message: str, *, retry_after: float | None = None, area: str | None = None):
        super().__init__(message, area=area)
        self.retry_after = retry_after
