"""One emulated account: its settings, collections, id sequences and rate-limit windows."""

from __future__ import annotations

import itertools
from collections import deque

from .model import (
    DEFAULT_DATA_FIELDS,
    DEFAULT_PROGRAMS,
    AccountSeed,
    AddressBook,
    Contact,
    DataField,
    Enrolment,
    ImportJob,
    InsightCollection,
    Program,
    Suppression,
)
from .modes import Modes

FIRST_ACCOUNT_ID = 410001


class Account:
    """Everything one API user's account holds. Callers hold the state lock."""

    def __init__(self, seed: AccountSeed, now_iso: str, default_id: int = FIRST_ACCOUNT_ID) -> None:
        self.seed = seed
        self.id = seed.account_id or default_id
        self.api_user = seed.api_user
        self.password = seed.password
        self.region = seed.region
        self.features = dict(seed.features)
        self.enforce_double_opt_in = seed.enforce_double_opt_in
        self.rate_limit_per_minute = seed.rate_limit_per_minute
        self.enrolments_per_hour = seed.enrolments_per_hour
        self.locked = seed.locked
        self.disabled = seed.disabled
        self.keep_every_consent_record = seed.keep_every_consent_record
        self.modes = Modes()  # the emulator's modes (``EmulatorState.modes`` keeps this current)
        self._contact_ids = itertools.count(1000001)
        self._book_ids = itertools.count(2001)
        self._program_ids = itertools.count(301)
        self.data_fields: dict[str, DataField] = {}
        self.contacts: dict[int, Contact] = {}
        self.contact_id_by_email: dict[str, int] = {}
        self.contact_id_by_mobile: dict[str, int] = {}  # a hint, checked on use (see contact_by_mobile)
        self._sorted_contact_ids: list[int] = []  # contacts are never removed: ids only grow
        self.books: dict[int, AddressBook] = {}
        self.collections: dict[str, InsightCollection] = {}
        self.programs: dict[int, Program] = {}
        self.enrolments: dict[str, Enrolment] = {}
        self.imports: dict[str, ImportJob] = {}
        self.confirmation_emails: list[dict] = []
        self.suppressions: list[Suppression] = []  # in the order they happened (``unsubscribes``)
        self.rate_window_start = 0.0
        self.rate_window_count = 0
        self.enrolment_times: deque[float] = deque()
        self.api_calls: deque[float] = deque()
        for name, kind in DEFAULT_DATA_FIELDS:
            self.add_data_field(DataField(name=name, type=kind, visibility="Public"))
        for extra in seed.data_fields:
            self.add_data_field(
                DataField(
                    name=extra["name"],
                    type=extra.get("type", "String"),
                    visibility=extra.get("visibility", "Private"),
                    default_value=extra.get("defaultValue"),
                )
            )
        for book_name in seed.address_books:
            self.add_book(book_name, "Private")
        programs = seed.programs
        if programs is None:
            programs = [{"name": n, "status": s} for n, s in DEFAULT_PROGRAMS]
        for program in programs:
            name, status = (
                (program["name"], program.get("status", "Active"))
                if isinstance(program, dict)
                else (program.name, program.status)
            )
            self.add_program(name, status, now_iso)

    @property
    def may_sign_in(self) -> bool:
        """A locked or disabled API user is refused whatever the password."""
        return not (self.locked or self.disabled)

    # ------------------------------------------------------------------ lookups and creation
    def data_field(self, name: str) -> DataField | None:
        """Data-field names match case-insensitively (reference §4.4, UNCONFIRMED server rule)."""
        return self.data_fields.get(name.lower())

    def add_data_field(self, field: DataField) -> DataField:
        self.data_fields[field.name.lower()] = field
        return field

    def contact_by_email(self, email: str) -> Contact | None:
        contact_id = self.contact_id_by_email.get(email.strip().lower())
        return self.contacts.get(contact_id) if contact_id is not None else None

    def contact_by_mobile(self, number: str) -> Contact | None:
        """The first contact (by id) with this mobile number."""
        contact = self.contacts.get(self.contact_id_by_mobile.get(number, 0))
        if contact is not None and contact.mobile_number == number:
            return contact
        found = next((c for c in self.contacts.values() if c.mobile_number == number), None)
        if found is not None:  # the hint was stale (a number moved): walk once, remember
            self.contact_id_by_mobile[number] = found.id
        return found

    def set_mobile(self, contact: Contact, number: str) -> None:
        contact.mobile_number = number
        known = self.contacts.get(self.contact_id_by_mobile.get(number, 0))
        if known is None or known.mobile_number != number or contact.id < known.id:
            self.contact_id_by_mobile[number] = contact.id

    def contact_ids(self) -> list[int]:
        """Every contact id, ascending (ids come from a counter and contacts are never removed,
        so the dict's insertion order is id order)."""
        if len(self._sorted_contact_ids) != len(self.contacts):
            self._sorted_contact_ids = list(self.contacts)
        return self._sorted_contact_ids

    def new_contact(self, email: str, now_iso: str) -> Contact:
        contact = Contact(id=next(self._contact_ids), email=email, created=now_iso, updated=now_iso)
        self.contacts[contact.id] = contact
        self.contact_id_by_email[email.lower()] = contact.id
        return contact

    def change_email(self, contact: Contact, email: str) -> None:
        self.contact_id_by_email.pop(contact.email.lower(), None)
        contact.email = email
        self.contact_id_by_email[email.lower()] = contact.id

    def book_by_name(self, name: str) -> AddressBook | None:
        lowered = name.strip().lower()
        return next((b for b in self.books.values() if b.name.lower() == lowered), None)

    def add_book(self, name: str, visibility: str) -> AddressBook:
        book = AddressBook(id=next(self._book_ids), name=name, visibility=visibility)
        self.books[book.id] = book
        return book

    def add_program(self, name: str, status: str, now_iso: str) -> Program:
        program = Program(next(self._program_ids), name, status, now_iso)
        self.programs[program.id] = program
        return program

    def book_ids_of(self, contact_id: int) -> list[int]:
        return [b.id for b in self.books.values() if contact_id in b.contact_ids]
