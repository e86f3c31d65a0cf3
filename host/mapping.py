"""The mapper contract: canonical records in, destination records out, under a field mapping.

A field mapping is ``{canonical contact field key: destination data field name}`` over the keys
of ``host.records.CONTACT_FIELDS``; an absent key is unmapped and is not sent.

A contact's payload (what the host hashes to skip unchanged contacts) carries only the fields
that have a value: mapping a new field then changes nothing for the contacts without one, and a
mapping change re-sends only the contacts whose mapped values changed. To clear a value that
went away (an address removed, a field unmapped), the host asks ``with_cleared`` for the record
it sends. Which destination fields a contact field may go into is the mapper's to say
(``accepted_types``); which fields must never be written is the destination's
(``Option.writable`` of its data fields).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Collection, Mapping
from typing import TYPE_CHECKING, Any, ClassVar

if TYPE_CHECKING:
    from host.destinations import DestinationRecord
    from host.models import Connection


class Mapper(ABC):
    destination: ClassVar[str]  # name of the destination whose records it makes
    # Where the engine writes each canonical kind with write_records, e.g. {"order": "Orders"};
    # a kind not listed is written to a collection named after the kind itself.
    collections: ClassVar[dict[str, str]] = {}

    @abstractmethod
    def default_mapping(self) -> dict[str, str]:
        """The mapping a new connection starts with (the destination's default fields)."""

    @abstractmethod
    def map_contact(
        self,
        connection: Connection,
        *,
        email: str,
        fields: Mapping[str, Any],
        mapping: Mapping[str, str],
        subscriber: Mapping[str, Any] | None = None,
    ) -> DestinationRecord:
        """A contact from the 26 field values (``host.records.contact_fields``) and, for a
        subscriber, its canonical subscriber record (opt-in and consent)."""

    def accepted_types(self, key: str) -> tuple[str, ...] | None:
        """The destination data field types (``Option.type``) that can take the contact field
        ``key``, the preferred one first (used to create a missing field); None: any type."""
        return None

    def with_cleared(self, record: DestinationRecord, names: Collection[str]) -> DestinationRecord:
        """The contact ``record`` as sent: with an empty value for each data field in ``names``
        it carries no value for, which clears it at the destination. The default cannot clear
        and sends the record as it is."""
        return record

    def with_consent(
        self, connection: Connection, record: DestinationRecord, subscriber: Mapping[str, Any]
    ) -> DestinationRecord:
        """The subscriber contact ``record`` as sent when its consent is new (the contact was not
        accepted in the subscribers book since it opted in): with the consent record made from
        the subscriber's ``consent``. The consent is not part of what ``map_contact`` answers,
        which the host hashes: so it is sent once, when given, and never again because another
        field changed. The default sends the record as it is (a mapper that puts the consent in
        its payload sends it whenever the contact is sent)."""
        return record

    def consent_key(self, connection: Connection, subscriber: Mapping[str, Any]) -> str | None:
        """What tells one consent of ``subscriber`` from another (at most 64 characters), e.g.
        when it was given: the host sends the consent again, while the contact is in the book,
        only when this changes (a new consent). A changed wording or a newly known IP of the
        same consent is not a new consent. None (the default): the consent is sent once per
        subscription (again only after an unsubscribe)."""
        return None

    @abstractmethod
    def map_order(self, connection: Connection, order: Mapping[str, Any]) -> DestinationRecord: ...

    @abstractmethod
    def map_product(self, connection: Connection, product: Mapping[str, Any]) -> DestinationRecord: ...
