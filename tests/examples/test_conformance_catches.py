"""The source conformance suite fails a source that reads wrong data, naming the field.

Each test wraps the example source (a known-good source, tests/examples/test_example_shop.py)
so that it gets one thing wrong, runs one of the suite's checks against the fake shop, and
asserts on the failure's message: the stream, the record and the field. The ``example`` and
``connected`` fixtures are the example's own (tests/examples/conftest.py).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from datetime import datetime
from typing import Any

import pytest

from host.sources import Page, Source, Stream
from host.testing.source_conformance import (
    assert_truth_complete,
    assert_truth_covers,
    check_full_reads,
    check_incremental_reads,
    check_malformed_record,
    check_reads_across_pages,
    check_reads_by_id,
    check_stream_order,
)
from tests.examples.test_example_shop import truth

Record = dict[str, Any]


class WrongSource(Source):
    """The example source with every record passed through ``wrong(stream, record)``."""

    name = "wrong_example"
    title = "Wrong example"

    def __init__(self, inner: Source, wrong: Callable[[Stream, Record], Record | None]) -> None:
        self.inner, self.wrong = inner, wrong

    def streams(self) -> Sequence[Stream]:
        return self.inner.streams()

    def read(self, connection, stream, *, since=None, ids=None) -> Iterator[Page]:
        for page in self.inner.read(connection, stream, since=since, ids=ids):
            records = [self.wrong(stream, dict(record)) for record in page.records]
            yield Page(records=[record for record in records if record is not None])


def everyone_opted_in(stream: Stream, record: Record) -> Record:
    if stream.kind == "subscriber":
        record["opted_in"] = True
    return record


def abandoned_not_flagged(stream: Stream, record: Record) -> Record:
    if stream.kind == "order":
        record["is_incomplete"] = False
    return record


def archived_not_flagged(stream: Stream, record: Record) -> Record:
    if stream.kind == "order":
        record["is_deleted"] = False
    return record


def addresses_dropped(stream: Stream, record: Record) -> Record:
    if stream.kind == "customer":
        record["addresses"] = []
    if stream.kind == "order":
        record["billing_address"] = record["shipping_address"] = None
    return record


def names_nulled(stream: Stream, record: Record) -> Record:
    if stream.kind in ("customer", "subscriber"):
        record["first_name"] = record["last_name"] = None
    return record


def regions_lost(stream: Stream, record: Record) -> Record:
    for address in record.get("addresses") or []:
        address["region"] = None
    return record


def hidden_products_visible(stream: Stream, record: Record) -> Record:
    if stream.kind == "product":
        record["is_visible"] = True
    return record


def consent_without_ip(stream: Stream, record: Record) -> Record:
    if stream.kind == "subscriber" and record.get("consent"):
        record["consent"] = {**record["consent"], "ip": None}
    return record


@pytest.fixture
def shop(example, connected):
    """(the example source, its connection, the shop's truth), inside an app context."""
    with example.app.app_context():
        yield example.source(), connected, (lambda stream: truth(example.shop, stream))


@pytest.mark.parametrize(
    ("wrong", "message"),
    [
        (everyone_opted_in, r"subscribers \d+: opted_in: read True, the platform holds False"),
        (abandoned_not_flagged, r"orders \d+: is_incomplete: read False, the platform holds True"),
        (archived_not_flagged, r"orders \d+: is_deleted: read False, the platform holds True"),
        (addresses_dropped, r"customers \d+: addresses: read \[\], the platform holds \[\{"),
        (names_nulled, r"customers \d+: first_name: read None, the platform holds '\w+'"),
        (regions_lost, r"customers \d+: addresses\[0\]\.region: read None, the platform holds 'US-"),
        (hidden_products_visible, r"products \d+: is_visible: read True, the platform holds False"),
        (consent_without_ip, r"subscribers \d+: consent\.ip: read None, the platform holds '[\d.]+'"),
    ],
    ids=lambda value: getattr(value, "__name__", "message"),
)
def test_full_reads_of_wrong_data_fail_naming_the_field(shop, wrong, message):
    source, connection, platform = shop
    check_full_reads(source, connection, platform)  # the example itself passes

    with pytest.raises(AssertionError, match=message):
        check_full_reads(WrongSource(source, wrong), connection, platform)


def test_an_order_without_addresses_fails_naming_the_address(shop):
    source, connection, platform = shop

    def orders_only(stream: Stream, record: Record) -> Record:
        return addresses_dropped(stream, record) if stream.kind == "order" else record

    with pytest.raises(AssertionError, match=r"orders \d+: billing_address: read None, "):
        check_full_reads(WrongSource(source, orders_only), connection, platform)


@pytest.mark.parametrize(
    ("wrong", "message"),
    [
        (everyone_opted_in, r"subscribers \d+: opted_in: read True, the platform holds False"),
        (abandoned_not_flagged, r"orders \d+: is_incomplete: read False, the platform holds True"),
    ],
    ids=lambda value: getattr(value, "__name__", "message"),
)
def test_reads_by_id_of_wrong_data_fail_naming_the_field(shop, wrong, message):
    """Reads by id include an opted-out subscriber and an abandoned order, whatever ids sort first."""
    source, connection, platform = shop
    check_reads_by_id(source, connection, platform)

    with pytest.raises(AssertionError, match=message):
        check_reads_by_id(WrongSource(source, wrong), connection, platform)


def test_incremental_reads_of_wrong_data_fail_naming_the_field(example, shop):
    source, connection, platform = shop

    def mutate() -> dict[str, set[str]]:
        example.shop.change("orders", 4, status="abandoned")
        return {"orders": {"4"}}

    with pytest.raises(AssertionError, match=r"orders 4: is_incomplete: read False, the platform holds True"):
        check_incremental_reads(WrongSource(source, abandoned_not_flagged), connection, mutate, platform)


def test_a_source_that_ignores_the_overlap_fails(example, shop):
    source, connection, platform = shop

    class NoOverlap(WrongSource):
        def read(self, connection, stream, *, since=None, ids=None):
            if since:  # reads from the cursor itself: the overlap window is never read again
                since = (datetime.fromisoformat(since) + stream.cursor_overlap).isoformat()
            return super().read(connection, stream, since=since, ids=ids)

    def mutate() -> dict[str, set[str]]:
        example.shop.change("customers", 3, first_name="Renamed")
        return {"customers": {"3"}}

    check_incremental_reads(source, connection, mutate, platform)  # the example itself passes
    with pytest.raises(AssertionError, match=r"customers: a read from the cursor .* must re-read"):
        check_incremental_reads(NoOverlap(source, lambda s, r: r), connection, mutate, platform)


def test_a_source_that_reads_one_page_fails(example, shop):
    source, connection, platform = shop
    example.shop.max_limit = 5

    class FirstPageOnly(WrongSource):
        def read(self, connection, stream, **kwargs):
            yield next(iter(self.inner.read(connection, stream, **kwargs)))

    check_reads_across_pages(source, connection, platform, 5)
    with pytest.raises(AssertionError, match=r"customers: \d+ records never read"):
        check_reads_across_pages(FirstPageOnly(source, lambda s, r: r), connection, platform, 5)


def test_pages_too_long_to_cross_fail(shop):
    source, connection, platform = shop
    with pytest.raises(AssertionError, match="no stream holds more than two pages of 500 records"):
        check_reads_across_pages(source, connection, platform, 500)


def test_a_malformed_record_dropped_or_stopping_the_read_fails(example, shop):
    source, connection, platform = shop

    def inject() -> tuple[str, str]:
        broken = example.shop.add("customers", first_name="No", last_name="Email")
        return "customers", str(broken["id"])

    check_malformed_record(source, connection, inject, platform)

    def drop(stream: Stream, record: Record) -> Record | None:
        return record if record.get("email") else None

    with pytest.raises(AssertionError, match=r"customers \d+: the malformed record was dropped"):
        check_malformed_record(WrongSource(source, drop), connection, inject, platform)

    def crash(stream: Stream, record: Record) -> Record:
        return {**record, "email": record["email"].lower()}  # AttributeError on None

    with pytest.raises(AssertionError, match=r"customers: the read stopped on the malformed record"):
        check_malformed_record(WrongSource(source, crash), connection, inject, platform)


def test_streams_in_another_order_than_the_host_reads_them_fail(shop):
    source = shop[0]
    check_stream_order(source)

    class Reversed(WrongSource):
        def streams(self):
            return tuple(reversed(self.inner.streams()))

    with pytest.raises(AssertionError, match=r"customer → subscriber → order → product .* declared: \['product'"):
        check_stream_order(Reversed(source, lambda s, r: r))


def test_a_truth_that_leaves_a_compared_field_out_fails_naming_it(example, shop):
    source = shop[0]
    customers = truth(example.shop, "customers")
    for expected in customers.values():
        del expected["addresses"]
    with pytest.raises(AssertionError, match=r"customers \d+: truth\(\) gives no 'addresses'"):
        assert_truth_complete(source.stream("customers"), customers)

    orders = truth(example.shop, "orders")
    next(iter(orders.values()))["billing_address"].pop("region")
    with pytest.raises(AssertionError, match=r"orders \d+: truth\(\) gives no billing_address\.region"):
        assert_truth_complete(source.stream("orders"), orders)


def test_a_platform_where_everyone_is_opted_in_cannot_prove_consent(example, shop):
    source = shop[0]
    for subscriber in example.shop.resources["subscribers"].values():
        subscriber["status"] = "subscribed"
    with pytest.raises(AssertionError, match="opted_in true and false"):
        assert_truth_covers(source.stream("subscribers"), truth(example.shop, "subscribers"))
