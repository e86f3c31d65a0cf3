"""Look-ups for the settings pages, cached; data fields created only on request."""

from __future__ import annotations

import pytest

from host.errors import ConfigurationError


def test_books_programs_and_fields_are_listed_with_program_activity(connection, destination):
    assert [b.name for b in destination.address_books(connection)] == ["Customers", "Subscribers"]
    programs = {p.name: p.active for p in destination.programs(connection)}
    assert programs["Welcome new customers"] is True
    assert programs["Old welcome series"] is False
    assert programs["Birthday (work in progress)"] is False
    fields = {f.name: f.type for f in destination.data_fields(connection)}
    assert fields["FIRSTNAME"] == "String" and fields["LASTSUBSCRIBED"] == "Date"
    # Engagement Cloud's system fields are listed but marked: the connector must not write them.
    unwritable = {f.name for f in destination.data_fields(connection) if not f.writable}
    assert unwritable == {"LASTSUBSCRIBED"}


def test_lookups_are_cached_until_a_field_is_created(connection, destination, emulator):
    destination.data_fields(connection)
    destination.address_books(connection)
    before = emulator.requests()

    destination.data_fields(connection)
    destination.address_books(connection)
    assert emulator.requests() == before  # answered from the cache

    destination.create_data_field(connection, "BILLING_CITY", "string")
    assert "BILLING_CITY" in [f.name for f in destination.data_fields(connection)]


def test_missing_mapped_fields_are_created_on_request_and_existing_ones_are_kept(connection, destination, emulator):
    mapping = {"first_name": "FIRSTNAME", "date_created": "CREATED_DATE", "billing_city": "BILLING_CITY"}
    assert destination.missing_data_fields(connection, mapping) == ["BILLING_CITY", "CREATED_DATE"]

    created = destination.create_missing_data_fields(connection, mapping)

    assert {(f.name, f.type) for f in created} == {("CREATED_DATE", "Date"), ("BILLING_CITY", "String")}
    assert destination.missing_data_fields(connection, mapping) == []
    # asking twice creates nothing twice
    destination.create_data_field(connection, "BILLING_CITY", "String")
    names = [f["name"] for f in emulator.state()["data_fields"]]
    assert names.count("BILLING_CITY") == 1


def test_an_invalid_field_name_is_refused_before_any_call(connection, destination):
    with pytest.raises(ConfigurationError) as refused:
        destination.create_data_field(connection, "EMAIL", "String")
    assert "reserved" in refused.value.message
