"""The conformance suite every source plugin passes: an importable pytest helper.

Subclass ``SourceConformance`` in a test module (``class TestMySource(SourceConformance)``) and
provide these fixtures; every test method then runs against your source:

- ``conformance_source``: the ``host.sources.Source`` under test (reads run while this fixture
  is alive, so it may hold an application context open);
- ``conformance_connection``: a ``Connection`` the source can read;
- ``conformance_truth``: ``truth(stream_name) -> {primary key: {field: expected value}}`` built
  from the platform itself (an emulator's state), never from the source's own output: what a
  full read of the stream must return. Each expectation must give at least the fields of
  ``REQUIRED_FIELDS`` for the stream's kind (addresses with ``ADDRESS_FIELDS``, consent with
  ``CONSENT_FIELDS``); it may give more. Build it afresh at each call: the suite calls it again
  after ``conformance_mutate``;
- ``conformance_truth_by_id`` (optional; default ``conformance_truth``): the same for the
  records reads by id return, where a platform's listings leave some out (BigCommerce lists
  neither Incomplete nor archived orders, but reads them by id, flagged);
- ``conformance_mutate``: ``mutate() -> {stream_name: {primary keys changed}}``: changes some
  records on the platform and says which records each stream must now return;
- ``conformance_break``: ``break_(kind)`` with ``kind`` "credentials" (the platform refuses the
  connection's credentials) or "server" (the platform keeps failing with 5xx);
- ``conformance_page_limit``: ``shorten() -> int``: makes the platform serve at most that many
  records a page (from then on, for this test) and answers it;
- ``conformance_malformed``: ``inject() -> (stream_name, primary key)``: puts one record on the
  platform that cannot become a valid canonical record (a customer without a usable email, say)
  and says where it is.

What is compared is the suite's choice, not the plugin's: ``REQUIRED_FIELDS``. The platform must
also hold both values of each flag (``FLAGS``: someone opted out, an abandoned and an archived
order, a hidden product) and a filled value of each compared field somewhere, or the comparison
could not catch a source that gets them wrong. Failures name the stream, the record's key and
the field (``addresses[0].region``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from host.errors import ConfigurationError, TransientError
from host.records import SCHEMAS, validation_errors
from host.sources import Page, Paginator, Source, Stream

# The order a cycle reads streams in (``host.sync.cycle`` reads them as declared): contacts are
# built from several streams (billing fields come from the latest order) and guests from orders.
KIND_ORDER = ("customer", "subscriber", "order", "product")

ADDRESS_FIELDS = (
    "first_name",
    "last_name",
    "address1",
    "city",
    "state",
    "region",
    "postcode",
    "country",
    "country_code",
)
CONSENT_FIELDS = ("date", "url", "ip")
# field → the keys each of its (non-empty) nested values must give
NESTED_FIELDS = {
    "addresses": ADDRESS_FIELDS,  # a list of addresses, in the platform's order
    "billing_address": ADDRESS_FIELDS,
    "shipping_address": ADDRESS_FIELDS,
    "consent": CONSENT_FIELDS,
}
# What truth() must give, and the suite compares, for every record of each canonical kind.
REQUIRED_FIELDS: dict[str, tuple[str, ...]] = {
    "customer": ("email", "first_name", "last_name", "addresses"),
    "subscriber": ("email", "opted_in", "consent"),
    "order": (
        "email",
        "customer_id",
        "is_incomplete",
        "is_deleted",
        "billing_address",
        "shipping_address",
    ),
    "product": ("name", "is_visible"),
}
# Flags the platform must hold both ways: a source answering always one value would pass else.
FLAGS: dict[str, tuple[str, ...]] = {
    "subscriber": ("opted_in",),
    "order": ("is_incomplete", "is_deleted"),
    "product": ("is_visible",),
}


def read_pages(
    source: Source, connection: Any, stream: Stream, **kwargs: Any
) -> list[list[dict[str, Any]]]:
    """The records of each page of one read, in the order the source gave them."""
    pages: list[list[dict[str, Any]]] = []
    for page in source.read(connection, stream, **kwargs):
        assert isinstance(page, Page), f"{stream.name}: read() must yield host.sources.Page objects"
        pages.append(list(page.records))
    return pages


def read_all(
    source: Source, connection: Any, stream: Stream, **kwargs: Any
) -> list[dict[str, Any]]:
    """Every record of one read, in the order the source gave them."""
    return [record for page in read_pages(source, connection, stream, **kwargs) for record in page]


def keys_of(stream: Stream, records: Iterable[dict[str, Any]]) -> list[str]:
    return [str(record[stream.primary_key]) for record in records]


def assert_no_duplicates(stream: Stream, records: list[dict[str, Any]]) -> None:
    keys = keys_of(stream, records)
    duplicates = (
        sorted({key for key in keys if keys.count(key) > 1}) if len(set(keys)) != len(keys) else []
    )
    assert not duplicates, f"{stream.name}: records read twice: {duplicates[:10]}"


# ---------------------------------------------------------------------------- the truth itself
def assert_truth_complete(stream: Stream, truth: Mapping[str, Mapping[str, Any]]) -> None:
    """Every expectation gives every field the suite compares for this kind."""
    required = REQUIRED_FIELDS.get(stream.kind, ())
    for key, expected in truth.items():
        for field in required:
            assert field in expected, (
                f"{stream.name} {key}: truth() gives no {field!r}; the suite compares "
                f"{', '.join(required)} for every {stream.kind} record (REQUIRED_FIELDS): "
                "build it from the platform's own data"
            )
            for index, nested in _nested_values(field, expected[field]):
                for part in NESTED_FIELDS[field]:
                    assert part in nested, (
                        f"{stream.name} {key}: truth() gives no {field}{index}.{part}; the suite "
                        f"compares {', '.join(NESTED_FIELDS[field])} of every {field}"
                    )


def _nested_values(field: str, value: Any) -> Iterator[tuple[str, Mapping[str, Any]]]:
    if field not in NESTED_FIELDS or value is None:
        return
    if isinstance(value, list):
        for index, item in enumerate(value):
            assert isinstance(item, Mapping), f"truth() gives {field}[{index}] as {item!r}"
            yield f"[{index}]", item
    else:
        assert isinstance(value, Mapping), f"truth() gives {field} as {value!r}"
        yield "", value


def assert_truth_covers(stream: Stream, *truths: Mapping[str, Mapping[str, Any]]) -> None:
    """The platform holds records that can tell a right source from a wrong one: each flag both
    ways and each compared field (and nested part) filled in at least one record."""
    expectations = [expected for truth in truths for expected in truth.values()]
    if not expectations:
        return
    for flag in FLAGS.get(stream.kind, ()):
        values = {expected.get(flag) for expected in expectations}
        assert {True, False} <= values, (
            f"{stream.name}: the platform must hold records with {flag} true and false (it holds "
            f"only {sorted(values, key=str)}), or a source that always answers one value passes: "
            "add one to the test data"
        )
    for field in REQUIRED_FIELDS.get(stream.kind, ()):
        values = [expected.get(field) for expected in expectations]
        assert any(value not in (None, "", [], {}) for value in values), (
            f"{stream.name}: no record on the platform has a {field}; add one to the test data"
        )
        if field in NESTED_FIELDS:
            nested = [item for value in values for _, item in _nested_values(field, value)]
            for part in NESTED_FIELDS[field]:
                assert any(item.get(part) not in (None, "") for item in nested), (
                    f"{stream.name}: no {field} on the platform has a {part}; add one to the test data"
                )


# ---------------------------------------------------------------------------- comparisons
def differences(path: str, actual: Any, expected: Any) -> Iterator[tuple[str, Any, Any]]:
    """(field path, read, expected) for each value that differs; a nested expectation compares
    only the keys it gives, lists item by item."""
    if isinstance(expected, Mapping):
        if not isinstance(actual, Mapping):
            yield path, actual, expected
            return
        for key, value in expected.items():
            yield from differences(f"{path}.{key}" if path else key, actual.get(key), value)
    elif isinstance(expected, list):
        if not isinstance(actual, list) or len(actual) != len(expected):
            yield path, actual, expected
            return
        for index, (item, wanted) in enumerate(zip(actual, expected, strict=True)):
            yield from differences(f"{path}[{index}]", item, wanted)
    elif actual != expected or type(actual) is not type(expected):
        yield path, actual, expected


def assert_record_matches(
    stream: Stream, key: str, record: Mapping[str, Any], expected: Mapping[str, Any]
) -> None:
    found = list(differences("", record, expected))
    if found:
        lines = [f"{path}: read {actual!r}, the platform holds {wanted!r}" for path, actual, wanted in found]
        more = f" (and {len(lines) - 5} more)" if len(lines) > 5 else ""
        raise AssertionError(f"{stream.name} {key}: " + "; ".join(lines[:5]) + more)


def assert_matches_truth(
    stream: Stream, records: list[dict[str, Any]], truth: dict[str, dict[str, Any]]
) -> None:
    """Exactly the platform's records (no loss, no extra), each with the expected field values."""
    assert_truth_complete(stream, truth)
    read = {str(record[stream.primary_key]): record for record in records}
    missing, extra = sorted(truth.keys() - read.keys()), sorted(read.keys() - truth.keys())
    assert not missing, f"{stream.name}: {len(missing)} records never read, e.g. {missing[:10]}"
    assert not extra, (
        f"{stream.name}: {len(extra)} records read that the platform does not hold, e.g. {extra[:10]}"
    )
    for key, expected in truth.items():
        assert_record_matches(stream, key, read[key], expected)


def assert_canonical(stream: Stream, records: list[dict[str, Any]]) -> None:
    for record in records:
        errors = validation_errors(stream.kind, record)
        assert not errors, f"{stream.name} {record.get(stream.primary_key)}: not canonical: {errors}"


def assert_ascending(stream: Stream, records: list[dict[str, Any]]) -> None:
    if stream.cursor_field and stream.ordered_by_cursor:
        cursors = [_moment(record[stream.cursor_field]) for record in records]
        assert cursors == sorted(cursors), (
            f"{stream.name}: records must come in ascending {stream.cursor_field} order"
        )


def _moment(value: str) -> datetime:
    parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


# ---------------------------------------------------------------------------- the checks
# Module-level so that a test can run one against a source on purpose wrong and read its message.
def check_stream_order(source: Source) -> None:
    kinds = [stream.kind for stream in source.streams() if stream.kind in KIND_ORDER]
    ranks = [KIND_ORDER.index(kind) for kind in kinds]
    assert ranks == sorted(ranks), (
        f"streams must be declared in the order the host reads them, {' → '.join(KIND_ORDER)} "
        f"(contacts are built from several streams, guests come from orders); declared: {kinds}"
    )


def check_full_reads(
    source: Source, connection: Any, truth: Callable[[str], dict[str, dict[str, Any]]]
) -> None:
    for stream in source.streams():
        records = read_all(source, connection, stream)
        assert_no_duplicates(stream, records)
        assert_matches_truth(stream, records, truth(stream.name))
        assert_canonical(stream, records)
        assert_ascending(stream, records)


def check_reads_by_id(
    source: Source, connection: Any, truth_by_id: Callable[[str], dict[str, dict[str, Any]]]
) -> None:
    """A few records of each stream, and one of each flag value (an opted-out subscriber, an
    abandoned and an archived order, a hidden product), read by id and compared."""
    for stream in source.streams():
        expected = truth_by_id(stream.name)
        assert_truth_complete(stream, expected)
        wanted = set(sorted(expected)[:3])
        for flag in FLAGS.get(stream.kind, ()):
            for value in (True, False):
                wanted.update(sorted(k for k, e in expected.items() if e.get(flag) is value)[:1])
        records = read_all(source, connection, stream, ids=sorted(wanted))
        assert_no_duplicates(stream, records)
        assert sorted(keys_of(stream, records)) == sorted(wanted), (
            f"{stream.name}: read by ids {sorted(wanted)}, got {sorted(keys_of(stream, records))}"
        )
        for record in records:
            key = str(record[stream.primary_key])
            assert_record_matches(stream, key, record, expected[key])
        assert_canonical(stream, records)


def check_incremental_reads(
    source: Source,
    connection: Any,
    mutate: Callable[[], dict[str, set[Any]]],
    truth_by_id: Callable[[str], dict[str, dict[str, Any]]],
) -> None:
    """From a cursor taken just before the changes: exactly the changed records, as the platform
    now holds them. Then from a cursor just after them, within the stream's ``cursor_overlap``:
    the overlap window is read again, so exactly the same records come back. (The platform must
    hold no other change within a stream's ``cursor_overlap`` before the test.)"""
    before = datetime.now(UTC).replace(microsecond=0)
    changed = mutate()
    after = datetime.now(UTC).replace(microsecond=0) + timedelta(seconds=1)
    for stream in source.streams():
        if not stream.cursor_field:
            continue
        expected = {str(key) for key in changed.get(stream.name, set())}
        records = read_all(source, connection, stream, since=before.isoformat())
        assert_no_duplicates(stream, records)
        assert set(keys_of(stream, records)) == expected, (
            f"{stream.name}: incremental read after {before.isoformat()}: read "
            f"{sorted(keys_of(stream, records))}, changed {sorted(expected)}"
        )
        platform = truth_by_id(stream.name)
        for record in records:
            key = str(record[stream.primary_key])
            assert key in platform, f"{stream.name} {key}: read, but truth_by_id() does not hold it"
            assert_record_matches(stream, key, record, platform[key])
        assert_canonical(stream, records)

        if stream.cursor_overlap <= timedelta(seconds=1):
            continue  # no window to speak of: nothing to re-read
        assert after - before < stream.cursor_overlap, (
            f"{stream.name}: mutate() took longer than the stream's cursor_overlap "
            f"({stream.cursor_overlap}): the overlap cannot be checked"
        )
        cursor = (after + (before + stream.cursor_overlap - after) / 2).replace(microsecond=0)
        again = read_all(source, connection, stream, since=cursor.isoformat())
        assert_no_duplicates(stream, again)
        assert set(keys_of(stream, again)) == expected, (
            f"{stream.name}: a read from the cursor {cursor.isoformat()} must re-read the "
            f"{stream.cursor_overlap} before it (cursor_overlap), where the changes are: read "
            f"{sorted(keys_of(stream, again))}, changed {sorted(expected)}"
        )


def check_reads_across_pages(
    source: Source, connection: Any, truth: Callable[[str], dict[str, dict[str, Any]]], limit: int
) -> None:
    """With the platform serving at most ``limit`` records a page, full reads still return every
    record once, in order: a stream holding more than ``limit`` records was read across pages."""
    assert limit > 0, "conformance_page_limit must answer the records a page holds"
    longest = 0
    for stream in source.streams():
        expected = truth(stream.name)
        longest = max(longest, len(expected))
        records = read_all(source, connection, stream)
        assert_no_duplicates(stream, records)
        assert_matches_truth(stream, records, expected)
        assert_ascending(stream, records)
    assert longest > 2 * limit, (
        f"no stream holds more than two pages of {limit} records (the most: {longest}): "
        "serve shorter pages so that reads cross pages"
    )


def check_malformed_record(
    source: Source,
    connection: Any,
    inject: Callable[[], tuple[str, Any]],
    truth: Callable[[str], dict[str, dict[str, Any]]],
) -> None:
    """A record the platform holds that cannot be canonical is passed on as it is: the read
    neither drops it nor stops; the host fails just that one (``host.sync.pages``), with why."""
    stream_name, key = inject()
    key = str(key)
    stream = source.stream(stream_name)
    try:
        records = read_all(source, connection, stream)
    except Exception as error:  # noqa: BLE001 (any failure here is the finding)
        raise AssertionError(
            f"{stream.name}: the read stopped on the malformed record {key}: {error!r}; pass it "
            "on as it is (the host fails just that one), never raise"
        ) from error
    read = {str(record.get(stream.primary_key)): record for record in records}
    assert key in read, (
        f"{stream.name} {key}: the malformed record was dropped; pass it on as it is, so that "
        "the host records it failed, with the reason"
    )
    assert validation_errors(stream.kind, read[key]), (
        f"{stream.name} {key}: the malformed record was read as a valid {stream.kind}: {read[key]}"
    )
    others = {k: v for k, v in truth(stream.name).items() if k != key}
    assert_matches_truth(stream, [r for k, r in read.items() if k != key], others)
    by_id = read_all(source, connection, stream, ids=[key])
    assert keys_of(stream, by_id) == [key], f"{stream.name} {key}: read by id, got {keys_of(stream, by_id)}"


class SourceConformance:
    """Tests that every source plugin must pass (see the module docstring for the fixtures)."""

    @pytest.fixture
    def conformance_truth_by_id(self, conformance_truth):
        return conformance_truth

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

    def test_streams_come_in_the_order_the_host_reads_them(self, conformance_source: Source) -> None:
        check_stream_order(conformance_source)

    def test_the_platform_holds_what_tells_right_from_wrong(
        self, conformance_source: Source, conformance_truth, conformance_truth_by_id
    ) -> None:
        for stream in conformance_source.streams():
            full, by_id = conformance_truth(stream.name), conformance_truth_by_id(stream.name)
            assert_truth_complete(stream, full)
            assert_truth_complete(stream, by_id)
            assert_truth_covers(stream, full, by_id)

    def test_full_reads_are_complete_exact_and_canonical(
        self, conformance_source: Source, conformance_connection: Any, conformance_truth
    ) -> None:
        check_full_reads(conformance_source, conformance_connection, conformance_truth)

    def test_full_reads_cross_pages(
        self,
        conformance_source: Source,
        conformance_connection: Any,
        conformance_truth,
        conformance_page_limit,
    ) -> None:
        limit = conformance_page_limit()
        check_reads_across_pages(conformance_source, conformance_connection, conformance_truth, limit)

    def test_incremental_reads_return_exactly_the_changed_records(
        self,
        conformance_source: Source,
        conformance_connection: Any,
        conformance_mutate,
        conformance_truth_by_id,
    ) -> None:
        check_incremental_reads(
            conformance_source, conformance_connection, conformance_mutate, conformance_truth_by_id
        )

    def test_reads_by_id_return_exactly_those_records(
        self, conformance_source: Source, conformance_connection: Any, conformance_truth_by_id
    ) -> None:
        check_reads_by_id(conformance_source, conformance_connection, conformance_truth_by_id)

    def test_a_malformed_record_is_passed_on(
        self,
        conformance_source: Source,
        conformance_connection: Any,
        conformance_malformed,
        conformance_truth,
    ) -> None:
        check_malformed_record(
            conformance_source, conformance_connection, conformance_malformed, conformance_truth
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
