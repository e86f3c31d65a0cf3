"""The conformance suite every source plugin passes: an importable pytest helper.

Subclass ``SourceConformance`` in a test module (``class TestMySource(SourceConformance)``) and
provide these fixtures; every test method then runs against your source:

- ``conformance_source``: the ``host.sources.Source`` under test (reads run while this fixture
  is alive, so it may hold an application context open);
- ``conformance_connection``: a ``Connection`` the source can read;
- ``conformance_truth``: ``truth(stream_name) -> {primary key: {field: expected value}}`` built
  from the platform itself (an emulator's state), never from the source's own output;
- ``conformance_mutate``: ``mutate() -> {stream_name: {primary keys changed}}``: changes some
  records on the platform and says which records each stream must now return;
- ``conformance_break``: ``break_(kind)`` with ``kind`` "credentials" (the platform refuses the
  connection's credentials) or "server" (the platform keeps failing with 5xx).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

import pytest

from host.errors import ConfigurationError, TransientError
from host.records import SCHEMAS, validation_errors
from host.sources import Page, Paginator, Source, Stream


def read_all(
    source: Source, connection: Any, stream: Stream, **kwargs: Any
) -> list[dict[str, Any]]:
    """Every record of one read, in the order the source gave them."""
    records: list[dict[str, Any]] = []
    for page in source.read(connection, stream, **kwargs):
        assert isinstance(page, Page), f"{stream.name}: read() must yield host.sources.Page objects"
        records.extend(page.records)
    return records


def keys_of(stream: Stream, records: Iterable[dict[str, Any]]) -> list[str]:
    return [str(record[stream.primary_key]) for record in records]


def assert_no_duplicates(stream: Stream, records: list[dict[str, Any]]) -> None:
    keys = keys_of(stream, records)
    duplicates = (
        sorted({key for key in keys if keys.count(key) > 1}) if len(set(keys)) != len(keys) else []
    )
    assert not duplicates, f"{stream.name}: records read twice: {duplicates[:10]}"


def assert_matches_truth(
    stream: Stream, records: list[dict[str, Any]], truth: dict[str, dict[str, Any]]
) -> None:
    """Exactly the platform's records (no loss, no extra), each with the expected field values."""
    read = {str(record[stream.primary_key]): record for record in records}
    missing, extra = sorted(truth.keys() - read.keys()), sorted(read.keys() - truth.keys())
    assert not missing, f"{stream.name}: {len(missing)} records never read, e.g. {missing[:10]}"
    assert not extra, (
        f"{stream.name}: {len(extra)} records read that the platform does not hold, e.g. {extra[:10]}"
    )
    for key, expected in truth.items():
        actual = {field: read[key].get(field) for field in expected}
        assert actual == expected, (
            f"{stream.name} {key}: read {actual}, the platform holds {expected}"
        )


def _moment(value: str) -> datetime:
    parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


class SourceConformance:
    """Tests that every source plugin must pass (see the module docstring for the fixtures)."""

    def test_streams_are_declared_completely(self, conformance_source: Source) -> None:
        streams = list(conformance_source.streams())
        assert streams, "a source declares at least one stream"
        names = [stream.name for stream in streams]
        assert len(set(names)) == len(names), f"stream names must be unique: {names}"
        for stream in streams:
            assert stream.kind in SCHEMAS, (
                f"{stream.name}: kind {stream.kind!r} is not a canonical record kind"
            )
            schema_fields = SCHEMAS[stream.kind]().fields
            assert stream.primary_key in schema_fields, (
                f"{stream.name}: primary key is not a {stream.kind} field"
            )
            assert stream.cursor_field is None or stream.cursor_field in schema_fields
            assert stream.page_size > 0 and stream.path
            assert stream.paginator is None or isinstance(stream.paginator, Paginator)
            assert stream.cursor_overlap.total_seconds() >= 0
            assert conformance_source.stream(stream.name) == stream

    def test_full_reads_are_complete_exact_and_canonical(
        self, conformance_source: Source, conformance_connection: Any, conformance_truth
    ) -> None:
        for stream in conformance_source.streams():
            records = read_all(conformance_source, conformance_connection, stream)
            assert_no_duplicates(stream, records)
            assert_matches_truth(stream, records, conformance_truth(stream.name))
            for record in records:
                errors = validation_errors(stream.kind, record)
                assert not errors, (
                    f"{stream.name} {record.get(stream.primary_key)}: not canonical: {errors}"
                )
            if stream.cursor_field and stream.ordered_by_cursor:
                cursors = [_moment(record[stream.cursor_field]) for record in records]
                assert cursors == sorted(cursors), (
                    f"{stream.name}: records must come in ascending cursor order"
                )

    def test_incremental_reads_return_exactly_the_changed_records(
        self, conformance_source: Source, conformance_connection: Any, conformance_mutate
    ) -> None:
        """The platform must hold no other change within a stream's ``cursor_overlap`` before now."""
        since = datetime.now(UTC).replace(microsecond=0).isoformat()
        changed = conformance_mutate()
        for stream in conformance_source.streams():
            if not stream.cursor_field:
                continue
            records = read_all(conformance_source, conformance_connection, stream, since=since)
            assert_no_duplicates(stream, records)
            expected = {str(key) for key in changed.get(stream.name, set())}
            assert set(keys_of(stream, records)) == expected, (
                f"{stream.name}: incremental read after {since}"
            )

    def test_reads_by_id_return_exactly_those_records(
        self, conformance_source: Source, conformance_connection: Any, conformance_truth
    ) -> None:
        for stream in conformance_source.streams():
            wanted = sorted(conformance_truth(stream.name))[:3]
            records = read_all(conformance_source, conformance_connection, stream, ids=wanted)
            assert sorted(keys_of(stream, records)) == wanted, (
                f"{stream.name}: read by ids {wanted}"
            )

    @pytest.mark.parametrize(
        ("kind", "error"), [("credentials", ConfigurationError), ("server", TransientError)]
    )
    def test_failures_are_classified(
        self,
        conformance_source: Source,
        conformance_connection: Any,
        conformance_break,
        kind: str,
        error: type,
    ) -> None:
        conformance_break(kind)
        stream = list(conformance_source.streams())[0]
        with pytest.raises(error) as raised:
            read_all(conformance_source, conformance_connection, stream)
        assert raised.value.message, "the error carries a message the merchant can act on"
