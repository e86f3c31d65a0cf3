"""``EngagementCloud``: the destination the host calls, built on the modules beside it.

Every method reads the plugin settings of the running app and talks to the connection's
region endpoint through the account's shared client session and throttle. Writes are
idempotent by email or record key; ``enrol`` is not (see ``programs``). Import jobs and the
``data_fields_missing`` problem are written as ``jobs.job_session`` says: in their own
short transaction.
"""

from __future__ import annotations

import logging
from collections.abc import Collection, Mapping, Sequence
from datetime import datetime
from typing import ClassVar

from markupsafe import Markup

from host.destinations import (
    AccountInfo,
    BatchWriter,
    CredentialField,
    Destination,
    DestinationRecord,
    Option,
    Unsubscribe,
    WriteResult,
)
from host.errors import SyncError
from host.models import Connection
from host.records import field_kind

from . import account, contacts, imports, insight, jobs, lookups, programs, reasons, unsubscribes
from .client import ApiError
from .config import Settings, current_settings
from .mapper import ACCEPTED_TYPES

log = logging.getLogger(__name__)

MISSING_FIELDS_CODE = "data_fields_missing"


class EngagementCloud(Destination):
    name: ClassVar[str] = "engagement_cloud"
    title: ClassVar[str] = "Engagement Cloud"
    credential_fields: ClassVar[Sequence[CredentialField]] = (
        CredentialField("username", "API username", help="Looks like apiuser-123456789@apiconnector.com",
                        autocomplete="username"),
        CredentialField("password", "API password", type="password", autocomplete="current-password"),
    )
    connect_help: ClassVar[str] = Markup(
        "Enter the username and password of an <strong>API user</strong> of your account\n"
        "    (Settings › Access › API users in Engagement Cloud). They are checked with your account\n"
        "    before anything is saved, and the password is stored encrypted."
    )
    nouns: ClassVar[Mapping[str, str]] = {
        "account": "account", "address_book": "address book", "address_book_short": "book",
        "program": "program", "data_field": "data field", "contact": "contact",
    }
    system_field_example: ClassVar[str] = "LASTSUBSCRIBED"  # a system date field on every contact (§6)
    # Store fields whose plain upper-case name is reserved ("notes") or unclear.
    SUGGESTED_NAMES: ClassVar[Mapping[str, str]] = {
        "notes": "CUSTOMER_NOTE", "date_created": "CUSTOMER_CREATED",
        # the names Engagement Cloud's own connectors give these fields
        "order_count": "NUMBER_OF_ORDERS", "total_spent": "TOTAL_SPEND",
    }

    def settings(self) -> Settings:
        return current_settings()

    def client(self, connection: Connection):
        return account.client_for(connection, self.settings())

    @property
    def enrolment_batch_size(self) -> int:
        """Most contacts the engine should put in one ``enrol`` call."""
        return self.settings().enrolment_batch_size

    @property
    def enrolment_allowance(self) -> tuple[int, float]:
        """(calls, seconds): 20 enrolment calls an hour per account, across all programs (§8)."""
        return self.settings().enrolments_per_hour, 3600.0

    @property
    def enrolment_settle_seconds(self) -> float:
        """After a lost answer, how long until the service's records can say whether it landed:
        the request timeout (a request still in flight may yet be applied), plus a margin."""
        return self.settings().request_timeout + 30.0

    # ------------------------------------------------------------------ account and look-ups
    def region(self, connection: Connection) -> str | None:
        """The connected account's region id (``r1`` Europe, ``r2`` North America, ``r3`` Asia
        Pacific), as its credentials check learned it; None when the connection does not say.
        Public, for the plugins that serve the account's region (the SMTP tab's relay)."""
        data = connection.destination_data or {}
        region = str(data.get("region") or "").lower()
        return region or account.region_of(str(data.get("api_endpoint") or ""))

    def check_credentials(self, credentials: dict[str, str]) -> AccountInfo:
        return account.check_credentials(self.settings(), credentials)

    def _cached(self, connection: Connection, what: str, load) -> list[Option]:
        client = self.client(connection)
        key = lookups.cache_key(connection, client, what)
        return lookups.cache.get_or_load(key, self.settings().lookup_cache_seconds, lambda: load(client))

    def address_books(self, connection: Connection) -> list[Option]:
        return self._cached(connection, "address_books", lookups.address_books)

    def programs(self, connection: Connection) -> list[Option]:
        return self._cached(connection, "programs", lookups.programs)

    def data_fields(self, connection: Connection) -> list[Option]:
        return self._cached(connection, "data_fields", lookups.data_fields)

    def create_data_field(self, connection: Connection, name: str, type: str) -> Option:
        client = self.client(connection)
        try:
            return lookups.create_data_field(client, name, type)
        finally:
            lookups.cache.forget(lookups.cache_key(connection, client, "data_fields"))

    def suggested_data_field_name(self, key: str) -> str:
        """Upper case, within the 20 characters a name may have; a reserved name is said otherwise."""
        return self.SUGGESTED_NAMES.get(key, key.upper()[:20])

    def data_field_name_problem(self, name: str) -> str | None:
        if not lookups.FIELD_NAME.match(name or ""):
            return "Use up to 20 letters, digits, '-' or '_' for a data field name."
        return None

    def missing_data_fields(self, connection: Connection, mapping: Mapping[str, str]) -> list[str]:
        """Fields a mapping names that the account lacks (for the mapping page to offer creating)."""
        return lookups.missing_fields(mapping, self.data_fields(connection))

    def create_missing_data_fields(self, connection: Connection, mapping: Mapping[str, str]) -> list[Option]:
        """Create, on the merchant's request, every field the mapping needs, each of the type its
        store field prefers (dates as ``Date``, numbers as ``Numeric``: ``mapper.ACCEPTED_TYPES``)."""
        missing = set(self.missing_data_fields(connection, mapping))
        return [self.create_data_field(connection, name, ACCEPTED_TYPES[field_kind(key)][0])
                for key, name in mapping.items() if name in missing]

    # ------------------------------------------------------------------ contacts
    def contact_writer(self, connection: Connection, *, book_id: str | None) -> BatchWriter:
        """Contacts into ``book_id`` through pipelined bulk imports (``imports``); fields the
        account lacks are left out and reported once, when the writer finishes, as a
        configuration problem (``data_fields_missing``) instead of failing every contact."""
        fields = self.data_fields(connection)
        known = {field.name.lower(): field.name for field in fields}
        unknown: set[str] = set()
        return contacts.contact_writer(
            self.client(connection), self.settings(), connection=connection, book_id=book_id,
            known_fields=known, unknown=unknown,
            on_finish=lambda: _record_missing_fields(connection, sorted(unknown)),
            field_types={field.name.lower(): field.type for field in fields},
        )

    def write_contacts(
        self, connection: Connection, records: Sequence[DestinationRecord], *, book_id: str | None
    ) -> list[WriteResult]:
        """Upsert contacts by email into ``book_id``: one writer, answers in the records' order."""
        if not records:
            return []
        writer = self.contact_writer(connection, book_id=book_id)
        return imports.in_order(records, writer.add(records) + writer.finish())

    def upsert_contact(self, connection: Connection, record: DestinationRecord, *, book_id: str | None) -> WriteResult:
        """The fast lane: one contact at once, no import to wait for."""
        fields = self.data_fields(connection)
        known = {field.name.lower(): field.name for field in fields}
        types = {field.name.lower(): field.type for field in fields}
        try:
            request = contacts.contact_request(record.payload, book_id, known, types)
        except imports.RecordRefused as refused:
            return WriteResult(record.source_id, False, None, refused.reason)
        answer = contacts.upsert_contact(self.client(connection), request)
        return WriteResult(record.source_id, answer.ok, answer.destination_id, answer.reason)

    def remove_from_book(self, connection: Connection, book_id: str, emails: Sequence[str]) -> None:
        contacts.remove_from_book(self.client(connection), book_id, emails)

    def unsubscribes_since(
        self, connection: Connection, since: datetime, *, book_id: str | None
    ) -> list[Unsubscribe]:
        return unsubscribes.unsubscribes_since(self.client(connection), since, book_id)

    def erase_contacts(self, connection: Connection, emails: Sequence[str]) -> list[WriteResult]:
        """Delete the contacts with their Insight records; "not found" counts as erased."""
        return contacts.erase_contacts(self.client(connection), emails)

    def contact_status(self, connection: Connection, email: str) -> str | None:
        return contacts.contact_status(self.client(connection), email)

    def explain(self, reason: str, *, area: str | None = None):
        """The service's error codes in a merchant's words (``reasons.TABLE``)."""
        return reasons.explain(reason, area)

    # ------------------------------------------------------------------ Insight data
    def record_writer(self, connection: Connection, collection: str) -> BatchWriter:
        """``collection``: ``Orders`` / ``orders`` or ``Catalog_Default`` / ``catalog``, written
        through pipelined bulk imports. Raises ``ConfigurationError`` (``insight_disabled`` /
        ``catalog_disabled``) when the account lacks the feature; that answer is kept until the
        next cycle begins."""
        return insight.record_writer(self.client(connection), self.settings(), connection=connection,
                                     collection_name=collection)

    def write_records(
        self, connection: Connection, collection: str, records: Sequence[DestinationRecord]
    ) -> list[WriteResult]:
        """Upsert records by key: one writer (``record_writer``), answers in the records' order."""
        if not records:
            return []
        writer = self.record_writer(connection, collection)
        return imports.in_order(records, writer.add(records) + writer.finish())

    def delete_records(
        self, connection: Connection, collection: str, records: Sequence[DestinationRecord]
    ) -> list[WriteResult]:
        """Remove orders (per contact) or catalog records by key; "not found" counts as removed.
        Raises ``ConfigurationError`` like ``write_records`` when the feature is off."""
        if not records:
            return []
        return insight.delete_records(self.client(connection), self.settings(), connection=connection,
                                      collection_name=collection, records=records)

    def start_cycle(self, connection: Connection) -> None:
        """A cycle begins: ask about features afresh and close import jobs a crash left open."""
        insight.features.forget(connection.id)
        if not connection.is_connected:
            return
        try:
            jobs.resume_unfinished(self.client(connection), connection, self.settings())
        except (SyncError, ApiError) as error:  # the writes will meet it again and report it
            log.warning("Engagement Cloud: open imports of connection %s not checked: %s", connection.id, error)

    # ------------------------------------------------------------------ programs
    def enrol(self, connection: Connection, program_id: str, contact_ids: Sequence[str]) -> str:
        """One POST, never repeated once it may have arrived; see ``programs`` for the errors
        (an inactive program raises ``ProgramNotActiveError`` carrying the deactivation reason)."""
        return programs.enrol(self.client(connection), self.settings(), program_id, contact_ids)

    def enrolment_status(self, connection: Connection, enrolment_id: str) -> str:
        """``processing``, ``finished`` or ``not_found``."""
        return programs.enrolment_state(self.client(connection), enrolment_id).state

    def find_enrolment(
        self, connection: Connection, program_id: str, contact_ids: Sequence[str], created_after: datetime,
        exclude: Collection[str] = (),
    ) -> str | None:
        """Settle an enrolment left "sending" by a crash or an uncertain answer: the id of one in
        ``program_id`` including ``contact_ids``, created after ``created_after`` (UTC) and not in
        ``exclude`` (ids already accounted for), else None."""
        return programs.find_enrolment(self.client(connection), program_id, contact_ids, created_after, exclude)


def _record_missing_fields(connection: Connection, names: list[str]) -> None:
    """Keep one ``data_fields_missing`` problem while mapped fields are missing; clear it after."""
    message = (
        f"The field mapping uses data fields that do not exist in Engagement Cloud: {', '.join(names)}. "
        "Create them from the Field mapping tab, or unmap them; the other fields keep syncing."
    ) if names else None
    jobs.show_problem(connection, MISSING_FIELDS_CODE, "field_mapping", message)
