"""The destination contract: a marketing platform the host writes contacts and records to.

Writes take batches of ``DestinationRecord`` made by the destination's mapper and answer one
``WriteResult`` per record, so one bad record fails alone. Writes must be idempotent by key
(contacts by email, records by key): the host may repeat a batch after a crash.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Collection, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any, ClassVar

if TYPE_CHECKING:
    from host.models import Connection
    from host.reasons import Explanation


@dataclass(frozen=True)
class Option:
    """An address book, program or data field offered in the settings dropdowns."""

    id: str
    name: str
    active: bool = True  # programs: whether enrolments are accepted
    type: str | None = None  # data fields: String, Numeric, Date, Boolean
    # Data fields: False for a field the destination fills in itself (a system field such as the
    # date of the last subscription), which the connector must never write: it is not offered.
    writable: bool = True


@dataclass
class AccountInfo:
    """What a successful credentials check learned; kept on the connection."""

    account: str  # the API user or account name shown to the merchant
    data: dict[str, Any] = field(default_factory=dict)  # e.g. the region endpoint
    secrets: dict[str, Any] = field(default_factory=dict)  # stored encrypted


@dataclass
class DestinationRecord:
    """One record ready to send; ``payload`` is what is hashed to skip unchanged records."""

    kind: str  # contact, order, product, ...
    source_id: str
    key: str  # the destination's identity for it: an email, an order id
    payload: dict[str, Any]


@dataclass
class WriteResult:
    source_id: str
    ok: bool
    destination_id: str | None = None
    reason: str | None = None  # why a record was refused, for the ledger


class Destination(ABC):
    name: ClassVar[str]  # e.g. "engagement_cloud"
    title: ClassVar[str]
    # Enrolments (``host.enrolments``): most contacts per ``enrol`` call; the allowance of
    # enrolment calls as (calls, seconds) per destination account, None when unlimited; how long
    # after a lost answer the destination's records can tell whether the call landed.
    enrolment_batch_size: int = 25
    enrolment_allowance: tuple[int, float] | None = None
    enrolment_settle_seconds: float = 0.0

    @abstractmethod
    def check_credentials(self, credentials: dict[str, str]) -> AccountInfo:
        """Verify what the merchant typed; raise ``ConfigurationError`` with a clear message."""

    @abstractmethod
    def address_books(self, connection: Connection) -> list[Option]: ...

    @abstractmethod
    def programs(self, connection: Connection) -> list[Option]: ...

    @abstractmethod
    def data_fields(self, connection: Connection) -> list[Option]: ...

    @abstractmethod
    def create_data_field(self, connection: Connection, name: str, type: str) -> Option: ...

    @abstractmethod
    def write_contacts(
        self, connection: Connection, records: Sequence[DestinationRecord], *, book_id: str | None
    ) -> list[WriteResult]:
        """Create or update contacts (by email), adding them to ``book_id`` when given."""

    @abstractmethod
    def remove_from_book(self, connection: Connection, book_id: str, emails: Sequence[str]) -> None:
        """Take contacts out of one book (an unsubscribe), without suppressing them globally."""

    @abstractmethod
    def write_records(
        self, connection: Connection, collection: str, records: Sequence[DestinationRecord]
    ) -> list[WriteResult]:
        """Create or replace records (by key) in a collection such as order history or catalog."""

    def delete_records(
        self, connection: Connection, collection: str, records: Sequence[DestinationRecord]
    ) -> list[WriteResult]:
        """Remove records (by key) sent earlier to a collection: an order archived or a product
        hidden in the store after it was synced must not stay at the destination.

        ``records`` are mapped as for ``write_records`` (a contact-scoped record names its
        contact in its payload). A record already gone counts as removed (``ok``): the host may
        repeat a removal after a crash. Not abstract, so a destination written before this
        method existed keeps working: the default cannot remove, and the host then only marks
        such records excluded in its ledger.
        """
        raise NotImplementedError(f"{type(self).__name__} cannot remove records")

    @abstractmethod
    def enrol(self, connection: Connection, program_id: str, contact_ids: Sequence[str]) -> str:
        """Enrol contacts in a program; answer the destination's enrolment id.

        Make exactly one call: raise ``UncertainWriteError`` when it may have landed without an
        answer (the host settles it with ``find_enrolment``), ``QuotaExceededError`` when the
        destination's allowance is spent (the host waits), ``RecordError`` when the contacts
        were refused, ``ConfigurationError`` (code ``program_not_active`` / ``program_not_found``
        ends the enrolments deactivated; any other code pauses them)."""

    def find_enrolment(
        self, connection: Connection, program_id: str, contact_ids: Sequence[str],
        created_after: datetime, exclude: Collection[str] = (),
    ) -> str | None:
        """The id of an enrolment in ``program_id`` that includes ``contact_ids``, created after
        ``created_after`` and not in ``exclude``, or None: settles a call whose answer was lost.
        The default cannot look: such enrolments then need the merchant's attention (Retry)
        rather than risk enrolling anyone twice."""
        raise NotImplementedError

    def explain(self, reason: str, *, area: str | None = None) -> Explanation | None:
        """A reason this destination gave for refusing a record or an enrolment (``WriteResult.reason``,
        a ``RecordError`` message), in a merchant's words: one sentence, a fix, and the raw code
        (``host.reasons``). ``area`` is where the refusal happened: customers, subscribers,
        orders, catalog or enrolments. None: the host shows the reason as it is. The default
        explains nothing, so a destination whose reasons are already sentences needs no table."""
        return None

    @abstractmethod
    def contact_status(self, connection: Connection, email: str) -> str | None:
        """subscribed, pending_opt_in, unsubscribed, ... or None when the contact does not exist."""

    @abstractmethod
    def enrolment_status(self, connection: Connection, enrolment_id: str) -> str:
        """The enrolment's state at the destination: processing, finished, deactivated, ..."""
