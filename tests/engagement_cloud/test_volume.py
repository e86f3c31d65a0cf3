"""20,000 subscribers into one book: data fields and consent records, exactly once, in one import."""

from __future__ import annotations

from host.records import contact_fields

from . import records
from .test_contacts import MAPPING

VOLUME = 20_000


def test_twenty_thousand_subscribers_are_imported_exactly_once(connection, destination, mapper, emulator):
    book = emulator.book_id("Subscribers")
    batch = [mapper.with_consent(connection, mapper.map_contact(
                 connection, email=c["email"], fields=contact_fields(c, None), mapping=MAPPING, subscriber=s), s)
             for n, c, s in ((n, records.customer(n), records.subscriber(n)) for n in range(VOLUME))]

    results = destination.write_contacts(connection, batch, book_id=book)

    assert sum(r.ok for r in results) == VOLUME
    state = emulator.state()
    assert len(state["contacts"]) == VOLUME
    assert len({c["email"] for c in state["contacts"]}) == VOLUME
    members = next(b["contacts"] for b in state["address_books"] if str(b["id"]) == book)
    assert len(members) == len(set(members)) == VOLUME
    assert all(len(c["consentRecords"]) == 1 and c["dataFields"].get("FIRSTNAME") for c in state["contacts"])
    assert len(state["imports"]) == 1  # they fit in one import's 50 MB: one import, one answer
    assert {r.destination_id for r in results} == {str(c["id"]) for c in state["contacts"]}
