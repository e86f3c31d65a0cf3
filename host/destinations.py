"""The destination contract: a marketing platform the host writes contacts and records to.

Writes take batches of ``DestinationRecord`` made by the destination's mapper and answer one
``WriteResult`` per record, so one bad record fails alone. Writes must be idempotent by key
(contacts by email, records by key): the host may repeat a batch after a crash.

The sync engine writes through a ``BatchWriter`` per target (a book, a collection):
``contact_writer`` / ``record_writer``. It hands the writer records as it reads them and applies
the answers as they come back, so a destination decides how big its writes are and may work on
one while the host builds the next (bulk imports polled in the background). The default writers
buffer ``write_batch_size`` records and call ``write_contacts`` / ``write_records``, so a
destination that only implements those keeps working unchanged.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any, ClassVar

from host.errors import RecordError

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


@dataclass(frozen=True)
class CredentialField:
    """One field of the connect form, which the host builds from the destination's
    ``credential_fields``: what the merchant types to connect an account.

    ``type`` is ``"text"`` (kept in the form when a check fails) or ``"password"`` (never
    rendered back, never kept); ``help`` is a hint shown under the label. Every field is
    required; ``max_length`` defaults to 255 characters for text and 1024 for a password.
    ``check_credentials`` receives ``{name: what was typed}``.
    """

    name: str
    label: str
    type: str = "text"
    help: str | None = None
    autocomplete: str = "off"  # the input's autocomplete token, e.g. "username"
    max_length: int | None = None

    def __post_init__(self) -> None:
        if self.type not in ("text", "password"):
            raise ValueError(f"credential field {self.name!r}: type must be 'text' or 'password'")

    @property
    def longest(self) -> int:
        return self.max_length or (1024 if self.type == "password" else 255)


# What the settings pages call the destination's things, unless it says otherwise (``nouns``):
# lower case, singular. Each noun has a plural under its key plus "s" (``address_books``), which
# is the singular plus "s" unless declared too ("properties").
DEFAULT_NOUNS: Mapping[str, str] = {
    "account": "account",
    "address_book": "address book",  # a list of contacts: "Sync customers to an address book"
    "address_book_short": "book",  # the same, said again: "the customers book", "choose another book"
    "program": "program",  # what contacts are enrolled in: "Enrol contacts in a program"
    "data_field": "data field",  # a contact's field: "Choose the data field each customer field is copied to"
    "contact": "contact",  # a person at the destination: "1 contact will be re-sent"
}
# A noun that says another one again: when a destination names the other one only, it is that.
SAYS_AGAIN = {"address_book_short": "address_book"}


def noun_forms(declared: Mapping[str, str]) -> dict[str, str]:
    """Every noun of ``DEFAULT_NOUNS``, singular under its key and plural under its key plus "s",
    with ``declared`` (a destination's ``nouns``) over the defaults."""
    unknown = set(declared) - {*DEFAULT_NOUNS, *(key + "s" for key in DEFAULT_NOUNS)}
    if unknown:
        raise KeyError(f"unknown nouns {sorted(unknown)}: the keys are those of DEFAULT_NOUNS (plus 's')")
    forms: dict[str, str] = {}
    for key, default in DEFAULT_NOUNS.items():
        said = key
        if not declared.get(key) and declared.get(SAYS_AGAIN.get(key, "")):
            said = SAYS_AGAIN[key]
        singular = declared.get(said) or default
        forms[key] = singular
        forms[key + "s"] = declared.get(said + "s") or singular + "s"
    return forms


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


@dataclass(frozen=True)
class Unsubscribe:
    """A contact who unsubscribed at the destination (``Destination.unsubscribes_since``): from
    the subscribers book or from everything (an unsubscribe, a suppression), and when."""

    email: str
    at: datetime  # aware, UTC
    reason: str = "unsubscribed"  # the destination's word for it, shown to merchants


@dataclass
class WriteResult:
    source_id: str
    ok: bool
    destination_id: str | None = None
    reason: str | None = None  # why a record was refused, for the ledger


class BatchWriter(ABC):
    """Writes records to one target (a book, a collection), in batches of the writer's choosing.

    ``add`` hands over more records and answers the ``WriteResult`` of records added earlier
    (this call's or earlier calls') whose answer is ready now, perhaps none; ``finish`` sends
    what is left, waits, and answers every remaining record. Each record added is answered
    exactly once over the writer's life; a record left unanswered by ``finish`` counts as
    refused ("no answer"). A refused record (``ok=False``) fails alone; an error raised (a
    ``SyncError``) means the answers not yet handed back are lost: the host keeps those records
    pending and sends them again later, so writes must stay idempotent by key.

    ``waiting`` is how many records were added and not answered yet; ``drain(most)`` waits for
    answers until at most ``most`` wait, so the host bounds what it holds for a long backlog.
    """

    @abstractmethod
    def add(self, records: Sequence[DestinationRecord]) -> list[WriteResult]: ...

    @abstractmethod
    def finish(self) -> list[WriteResult]: ...

    @property
    def waiting(self) -> int:
        return 0

    def drain(self, most: int) -> list[WriteResult]:
        return []


class BufferedWriter(BatchWriter):
    """The default writer: buffers ``batch_size`` records, then writes them at once with
    ``write`` (``write_contacts`` or ``write_records``). A ``RecordError`` refuses the batch's
    records, each with its message."""

    def __init__(
        self, write: Callable[[Sequence[DestinationRecord]], list[WriteResult]], batch_size: int
    ):
        self._write = write
        self.batch_size = max(1, int(batch_size))
        self._buffer: list[DestinationRecord] = []

    def add(self, records: Sequence[DestinationRecord]) -> list[WriteResult]:
        self._buffer.extend(records)
        results: list[WriteResult] = []
        while len(self._buffer) >= self.batch_size:
            batch = self._buffer[: self.batch_size]
            del self._buffer[: self.batch_size]
            results += self._send(batch)
        return results

    def finish(self) -> list[WriteResult]:
        return self.drain(0)

    @property
    def waiting(self) -> int:
        return len(self._buffer)

    def drain(self, most: int) -> list[WriteResult]:
        if len(self._buffer) <= most:
            return []
        batch, self._buffer = self._buffer, []
        return self._send(batch)

    def _send(self, batch: list[DestinationRecord]) -> list[WriteResult]:
        try:
            return list(self._write(batch))
        except RecordError as error:
            return [WriteResult(record.source_id, False, reason=error.message) for record in batch]


class Destination(ABC):
    name: ClassVar[str]  # e.g. "engagement_cloud"
    title: ClassVar[str]  # shown to merchants in the settings pages, e.g. "Connect your <title> account"
    # The connect form's fields, in order (``CredentialField``); ``check_credentials`` gets them.
    credential_fields: ClassVar[Sequence[CredentialField]] = (
        CredentialField("username", "Username", autocomplete="username"),
        CredentialField("password", "Password", type="password", autocomplete="current-password"),
    )
    # One sentence on the connect page: which credentials to enter and where to find them. Plain
    # text is escaped; a ``markupsafe.Markup`` is your own trusted HTML (``<strong>``, say).
    connect_help: ClassVar[str] = ""
    # What the pages call this destination's things (keys of ``DEFAULT_NOUNS``, lower case,
    # singular; a plural under the key plus "s" where adding "s" is wrong); the ones left out
    # keep their default.
    nouns: ClassVar[Mapping[str, str]] = {}
    # A field the destination fills in itself (``Option.writable`` False), named on the Field
    # mapping tab as the example of fields that are not offered; None: no example is named.
    system_field_example: ClassVar[str | None] = None

    def noun(self, key: str, *, plural: bool = False) -> str:
        """What the settings pages call ``key`` (``address_book``, ``program``, ...) here."""
        return noun_forms(self.nouns)[key + "s" if plural else key]

    def suggested_data_field_name(self, key: str) -> str:
        """The name of the data field the Field mapping tab offers to create for the store field
        ``key`` (a key of ``host.records.CONTACT_FIELDS``, e.g. ``billing_city``)."""
        return key.upper()

    def data_field_name_problem(self, name: str) -> str | None:
        """Why ``name`` cannot name a new data field here, in a sentence; None when it can."""
        return None if name.strip() else f"Enter a name for the {self.noun('data_field')}."

    # The default writers' batch: records per ``write_contacts`` / ``write_records`` call.
    write_batch_size: int = 500
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

    def contact_writer(self, connection: Connection, *, book_id: str | None) -> BatchWriter:
        """The writer the sync engine sends contacts for ``book_id`` through (``BatchWriter``).
        The default buffers ``write_batch_size`` contacts per ``write_contacts`` call."""
        return BufferedWriter(
            lambda records: self.write_contacts(connection, records, book_id=book_id),
            self.write_batch_size,
        )

    def record_writer(self, connection: Connection, collection: str) -> BatchWriter:
        """The writer the sync engine sends a collection's records through (``BatchWriter``).
        The default buffers ``write_batch_size`` records per ``write_records`` call."""
        return BufferedWriter(
            lambda records: self.write_records(connection, collection, records),
            self.write_batch_size,
        )

    @abstractmethod
    def remove_from_book(self, connection: Connection, book_id: str, emails: Sequence[str]) -> None:
        """Take contacts out of one book (an unsubscribe), without suppressing them globally."""

    def unsubscribes_since(
        self, connection: Connection, since: datetime, *, book_id: str | None
    ) -> list[Unsubscribe]:
        """Contacts who unsubscribed at the destination at or after ``since``: from ``book_id``
        (the subscribers book, when one is chosen) or from the whole account (including
        suppressions such as hard bounces), in any order; the host keeps the latest per email.
        Raise ``host.errors`` classes on failure. Not abstract: the default cannot tell, and the
        host then syncs unsubscribes one way only (store to destination)."""
        raise NotImplementedError(f"{type(self).__name__} cannot read unsubscribes")

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

    def erase_contacts(self, connection: Connection, emails: Sequence[str]) -> list[WriteResult]:
        """Delete these contacts outright, with the records the destination keeps for them
        (order history and the like): the merchant asked that people deleted in the store be
        erased, not just taken out of the books. One ``WriteResult`` per email (``source_id``:
        the email as given); a contact already gone counts as erased (``ok``): the host may
        repeat an erasure after a crash. A refusal (``ok=False``) fails that contact alone;
        raise ``SyncError`` for an outage (all of them are tried again later). Not abstract:
        the default cannot erase, and the settings pages then do not offer erasure
        (``supports_erasure``): deleted contacts are only taken out of the books.
        """
        raise NotImplementedError(f"{type(self).__name__} cannot erase contacts")

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


def supports_erasure(destination: Destination | None) -> bool:
    """Whether ``destination`` implements ``erase_contacts`` (the default cannot erase)."""
    return destination is not None and type(destination).erase_contacts is not Destination.erase_contacts
