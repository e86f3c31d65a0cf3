"""A destination that records what it receives, and its mapper, for a plugin's tests.

``FakeDestination`` (named ``fake_dest``) keeps address books, contacts, collections and
enrolments in memory and counts every write, so a test can say exactly what a merchant would
find at the destination; ``FakeMapper`` maps canonical records onto it. Register both for one
test with ``make_app(PLUGIN_MODULES=[FakeDestinationPlugin()])`` and attach a connection with
``host.testing.connect(app, ..., destination="fake_dest")``.

Knobs for failure tests: ``refuse`` (source id → reason: that record is refused), ``broken``
(``"contacts"``, a collection, ``"delete:<collection>"``, ``"remove"`` or ``"erase"`` → the
exception that call raises),
``statuses``, ``refuse_enrolment``, ``pipelined`` and ``die_before_answers`` (batch writers
that answer late, or die before answering).
"""

from __future__ import annotations

from collections import Counter, defaultdict

from host.destinations import AccountInfo, BatchWriter, Destination, DestinationRecord, WriteResult
from host.errors import RecordError
from host.hookspecs import hookimpl
from host.mapping import Mapper


class FakeDestination(Destination):
    name = "fake_dest"
    title = "Fake destination"

    def __init__(self):
        self.contacts: dict[str, dict] = {}  # email → {"id", "payload", "books": set}
        self.collections: dict[str, dict] = defaultdict(dict)
        self.enrolments: list[tuple[str, list[str]]] = []
        self.writes: Counter = Counter()  # records written per target
        self.refuse: dict[str, str] = {}  # source id → reason
        # "contacts", a collection or "delete:<collection>" → error raised
        self.broken: dict[str, Exception] = {}
        self.statuses: dict[str, str] = {}  # email → contact status override
        self.refuse_enrolment: set[str] = set()  # emails whose enrolment call is refused
        self.enrolment_allowance: tuple[int, float] | None = None  # (calls, seconds)
        # Pipelined writers (``LaggingWriter``) instead of the default ones: each batch lands at
        # once and is answered by the writer's next call, like an import polled while the next
        # body fills. ``die_before_answers``: targets ("contacts:<book>", a collection) whose
        # writer dies when it would hand its last answers back (after its writes landed).
        self.pipelined = False
        self.die_before_answers: set[str] = set()
        self.batches: Counter = Counter()  # write calls per target ("contacts:<book>", collection)

    def contact_writer(self, connection, *, book_id):
        if not self.pipelined:
            return super().contact_writer(connection, book_id=book_id)
        return LaggingWriter(self, f"contacts:{book_id}",
                             lambda records: self.write_contacts(connection, records, book_id=book_id))

    def record_writer(self, connection, collection):
        if not self.pipelined:
            return super().record_writer(connection, collection)
        return LaggingWriter(self, collection,
                             lambda records: self.write_records(connection, collection, records))

    def check_credentials(self, credentials):
        return AccountInfo(account="fake")

    def address_books(self, connection):
        return []

    def programs(self, connection):
        return []

    def data_fields(self, connection):
        return []

    def create_data_field(self, connection, name, type):
        raise NotImplementedError

    def book(self, book_id) -> set[str]:
        return {email for email, c in self.contacts.items() if book_id in c["books"]}

    def write_contacts(self, connection, records, *, book_id):
        if "contacts" in self.broken:
            raise self.broken["contacts"]
        self.batches[f"contacts:{book_id}"] += 1
        results = []
        for record in records:
            self.writes[f"contacts:{book_id}"] += 1
            if record.source_id in self.refuse:
                results.append(
                    WriteResult(record.source_id, False, reason=self.refuse[record.source_id])
                )
                continue
            contact = self.contacts.setdefault(
                record.key, {"id": str(len(self.contacts) + 1), "books": set()}
            )
            contact["payload"] = record.payload
            if book_id:
                contact["books"].add(book_id)
            results.append(WriteResult(record.source_id, True, destination_id=contact["id"]))
        return results

    def remove_from_book(self, connection, book_id, emails):
        if "remove" in self.broken:
            raise self.broken["remove"]
        for email in emails:
            self.writes[f"remove:{book_id}"] += 1
            if email in self.contacts:  # one not there is not in the book either
                self.contacts[email]["books"].discard(book_id)

    def erase_contacts(self, connection, emails):
        """Deletes each contact and the records that name it (an ``email`` in their payload)."""
        if "erase" in self.broken:
            raise self.broken["erase"]
        results = []
        for email in emails:
            self.writes["erase"] += 1
            if email in self.refuse:
                results.append(WriteResult(email, False, reason=self.refuse[email]))
                continue
            self.contacts.pop(email, None)  # already gone counts as erased
            for records in self.collections.values():
                for key in [k for k, payload in records.items() if (payload or {}).get("email") == email]:
                    del records[key]
            results.append(WriteResult(email, True))
        return results

    def write_records(self, connection, collection, records):
        if collection in self.broken:
            raise self.broken[collection]
        self.batches[collection] += 1
        results = []
        for record in records:
            self.writes[collection] += 1
            if record.source_id in self.refuse:
                results.append(
                    WriteResult(record.source_id, False, reason=self.refuse[record.source_id])
                )
            elif collection == "Orders" and record.payload["email"] not in self.contacts:
                results.append(WriteResult(record.source_id, False, reason="contact not found"))
            else:
                self.collections[collection][record.key] = record.payload
                results.append(WriteResult(record.source_id, True, destination_id=record.key))
        return results

    def delete_records(self, connection, collection, records):
        if f"delete:{collection}" in self.broken:
            raise self.broken[f"delete:{collection}"]
        results = []
        for record in records:
            self.writes[f"delete:{collection}"] += 1
            if record.source_id in self.refuse:
                results.append(
                    WriteResult(record.source_id, False, reason=self.refuse[record.source_id])
                )
            else:  # already gone counts as removed
                self.collections[collection].pop(record.key, None)
                results.append(WriteResult(record.source_id, True))
        return results

    def enrol(self, connection, program_id, contact_ids):
        emails = {c["id"]: email for email, c in self.contacts.items()}
        if self.refuse_enrolment & {emails.get(cid) for cid in contact_ids}:
            raise RecordError("the destination refused a contact of this enrolment")
        self.enrolments.append((program_id, list(contact_ids)))
        return f"enrolment-{len(self.enrolments)}"

    def contact_status(self, connection, email):
        return self.statuses.get(email, "subscribed" if email in self.contacts else None)

    def enrolment_status(self, connection, enrolment_id):
        return "finished"

    def enrolled(self) -> list[tuple[str, str]]:
        """(program, email) of every contact enrolled, repeats included."""
        emails = {c["id"]: email for email, c in self.contacts.items()}
        return [(program, emails[cid]) for program, ids in self.enrolments for cid in ids]


class LaggingWriter(BatchWriter):
    """Each ``add`` writes its records at once (they land) and answers the previous call's;
    ``finish`` answers the last ones, unless the target is in ``die_before_answers``."""

    def __init__(self, destination: FakeDestination, target: str, write):
        self.destination, self.target, self._write = destination, target, write
        self._ready: list[WriteResult] = []

    def add(self, records):
        earlier, self._ready = self._ready, (list(self._write(records)) if records else [])
        return earlier

    def finish(self):
        if self.target in self.destination.die_before_answers:
            raise RuntimeError("the process died here")
        ready, self._ready = self._ready, []
        return ready

    @property
    def waiting(self) -> int:
        return len(self._ready)

    def drain(self, most: int):
        return self.finish() if len(self._ready) > most else []


class FakeMapper(Mapper):
    destination = "fake_dest"
    collections = {"order": "Orders", "product": "Catalog_Default"}

    def default_mapping(self):
        return {"first_name": "FIRSTNAME", "last_name": "LASTNAME", "billing_postcode": "POSTCODE"}

    def map_contact(self, connection, *, email, fields, mapping, subscriber=None):
        payload = {
            "email": email,
            "fields": {name: fields.get(key) for key, name in sorted(mapping.items())},
        }
        if subscriber is not None:
            payload["consent"] = subscriber.get("consent")
        return DestinationRecord("contact", email, email, payload)

    def map_order(self, connection, order):
        return DestinationRecord(
            "order",
            order["id"],
            order["id"],
            {"email": order["email"].lower(), "status": order["status"], "total": order["total"]},
        )

    def map_product(self, connection, product):
        return DestinationRecord("product", product["id"], product["id"], {"name": product["name"]})


class FakeDestinationPlugin:
    """Registers one ``FakeDestination`` and its ``FakeMapper``:
    ``make_app(PLUGIN_MODULES=[plugin])``, then read ``plugin.destination``."""

    def __init__(self, destination: FakeDestination | None = None) -> None:
        self.destination = destination if destination is not None else FakeDestination()
        self.mapper = FakeMapper()

    @hookimpl
    def register_destinations(self, register):
        register(self.destination)

    @hookimpl
    def register_mappers(self, register):
        register(self.mapper)
