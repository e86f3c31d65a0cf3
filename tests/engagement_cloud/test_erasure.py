"""Erasing contacts (``erase_contacts``): each contact is deleted with its Insight records, the
others and their orders stay; a contact already gone counts as erased; 429s are ridden out; an
outage raises so that every erasure waits."""

from __future__ import annotations

import pytest

from host.destinations import supports_erasure
from host.errors import TransientError

from .test_insight_removals import _contacts, _keys, _orders

DELETE_CONTACT = "DELETE /contacts/v3/{identifier}/{value}"


def test_erased_contacts_leave_every_book_with_their_orders(connection, destination, mapper, emulator):
    _contacts(destination, mapper, connection, [1, 2])
    book = emulator.book_id("Customers")
    in_book = destination.write_contacts(
        connection, [mapper.map_contact(connection, email="shopper1@example.com", fields={}, mapping={})],
        book_id=book)
    assert all(r.ok for r in in_book)
    pairs = [(101, "shopper1@example.com"), (102, "shopper2@example.com"), (103, "shopper1@example.com")]
    orders = _orders(mapper, connection, pairs)
    assert all(r.ok for r in destination.write_records(connection, "Orders", orders))

    results = destination.erase_contacts(connection, ["shopper1@example.com", "never-synced@example.com"])

    assert [(r.source_id, r.ok) for r in results] == [("shopper1@example.com", True), ("never-synced@example.com", True)]
    state = emulator.state()
    assert [c["email"] for c in state["contacts"]] == ["shopper2@example.com"]
    assert all(b["contacts"] == [] for b in state["address_books"] if str(b["id"]) == book)
    assert _keys(emulator, "Orders") == [orders[1].key]  # shopper2's order only
    again = destination.erase_contacts(connection, ["shopper1@example.com"])  # a repeat after a crash
    assert again[0].ok and emulator.requests()[DELETE_CONTACT] == 3


def test_erasure_rides_out_429s_and_an_outage_raises(connection, destination, mapper, emulator):
    _contacts(destination, mapper, connection, [3])
    emulator.faults(pending_429=2)
    assert destination.erase_contacts(connection, ["shopper3@example.com"])[0].ok
    assert emulator.state()["contacts"] == []

    _contacts(destination, mapper, connection, [4, 5])
    emulator.faults(pending_applied_errors=1)  # deleted, but the answer is lost: asked again, 404
    assert destination.erase_contacts(connection, ["shopper5@example.com"])[0].ok
    emulator.faults(error_rate=1.0, only_paths=["/contacts/v3/email"])
    with pytest.raises(TransientError):
        destination.erase_contacts(connection, ["shopper4@example.com"])
    emulator.faults(error_rate=0.0)
    assert [c["email"] for c in emulator.state()["contacts"]] == ["shopper4@example.com"]


def test_engagement_cloud_offers_erasure(destination):
    assert supports_erasure(destination)
