"""A long read never skips a record because others changed while it ran (keyset pagination).

With offset pages, records changed during a read jump to the end of a listing sorted by change
date, the rest shift back, and the records at the next page boundary are never read: their
changes are lost until a full refresh. These tests change records of the first page between
pages and check that every record that existed before the read still arrives.
"""

from __future__ import annotations

import dataclasses
import json
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import pytest
import requests
import responses

from emulators.bigcommerce.generator import StoreSpec
from host.testing.source_conformance import read_all
from plugins.bigcommerce import client as client_module
from plugins.bigcommerce.client import BigCommerceClient
from plugins.bigcommerce.keyset import KeysetPaginator
from plugins.bigcommerce.pacing import RetryPolicy
from plugins.bigcommerce.pagination import V2PagePaginator, V3PagePaginator, rows
from tests.bigcommerce.conftest import STORE_HASH, BigCommerceWorld, build_world
from tests.bigcommerce.truth import iso, truth

SINCE = "2021-06-01T00:00:00+00:00"  # a cursor before the store opened: every record is due
CHANGES = {  # emulator update bodies; each bumps date_modified to now
    "customers": {"first_name": "Changed"},
    "orders": {"staff_notes": "changed during the read"},
    "products": {"price": 12.5},
}


@pytest.fixture
def world(make_app):
    """Three pages per listing, so the first page's changes shift the second page boundary."""
    spec = StoreSpec(
        store_hash=STORE_HASH, seed=4, customers=600, orders=700, subscribers=600, products=800
    )
    app, emulator, server, sleeps = build_world(make_app, spec)
    yield BigCommerceWorld(app, "", emulator, server.url, sleeps)
    server.stop()


def read_changing_first_page(world: BigCommerceWorld, source, stream_name: str):
    """Every record of a cursor read, changing three first-page records once the page arrived."""
    connection = world.connection()
    with world.app.app_context():
        pages = source.read(connection, source.stream(stream_name), since=SINCE)
        first = next(pages)
        changed = {}
        for record in first.records[:3]:
            answer = world.control(
                f"stores/{STORE_HASH}/{stream_name}/{record['id']}", CHANGES[stream_name], "PUT"
            )
            changed[record["id"]] = iso(answer["data"]["date_modified"])
        records = first.records + [record for page in pages for record in page.records]
    return records, changed


@pytest.mark.parametrize("stream_name", ["customers", "orders", "products"])
def test_records_changed_mid_read_push_no_other_record_out_of_it(world, stream_name):
    before = set(truth(world.state(), stream_name))
    assert len(before) > 500, "the listing spans three pages"
    records, changed = read_changing_first_page(world, world.source(), stream_name)

    read_ids = [record["id"] for record in records]
    assert before - set(read_ids) == set(), "every record that existed before the read arrives"
    for record_id, new_date in changed.items():
        latest = [record for record in records if record["id"] == record_id][-1]
        assert latest["date_modified"] == new_date, "the change itself arrives too"
    unchanged = [record_id for record_id in read_ids if record_id not in changed]
    assert len(unchanged) == len(set(unchanged)), "an unchanged record is read once"


def test_offset_pages_would_skip_records_in_the_same_read(world, monkeypatch):
    """The scenario above really opens the hole when customers are paged by offset."""
    source = world.source()
    offset_customers = dataclasses.replace(
        source.stream("customers"), paginator=V3PagePaginator(250)
    )
    monkeypatch.setattr(source, "streams", lambda: (offset_customers,))
    before = set(truth(world.state(), "customers"))
    records, _changed = read_changing_first_page(world, source, "customers")
    assert len(before - {record["id"] for record in records}) == 3


def test_subscribers_deleted_mid_read_push_no_other_subscriber_out_of_it(world, monkeypatch):
    """Subscribers are listed in id order: a change keeps its place, but a deletion shifts."""
    before = set(truth(world.state(), "subscribers"))
    assert len(before) > 500, "the listing spans three pages"
    deleted: list[str] = []
    answer = BigCommerceClient.request

    def delete_three_after_the_first_page(self, method, path, **kwargs):
        response = answer(self, method, path, **kwargs)
        if path == "/v3/customers/subscribers" and not deleted:
            for row in rows(response)[:3]:
                world.control(f"stores/{STORE_HASH}/subscribers/{row['id']}", method="DELETE")
                deleted.append(str(row["id"]))
        return response

    monkeypatch.setattr(BigCommerceClient, "request", delete_three_after_the_first_page)
    source, connection = world.source(), world.connection()
    with world.app.app_context():
        records = read_all(source, connection, source.stream("subscribers"), since=SINCE)
    read_ids = [record["id"] for record in records]
    assert len(deleted) == 3 and not set(deleted) & set(truth(world.state(), "subscribers"))
    assert before - set(read_ids) == set(), "every subscriber is read, deleted ones included"
    assert len(read_ids) == len(set(read_ids)), "none twice"


# ---------------------------------------------------------------- ties: a page in one second
class FakeListing:
    """A v3 listing sorted by (date_modified, id) with inclusive ``date_modified:min/max``."""

    def __init__(self, records: list[dict[str, Any]]) -> None:
        self.records = records
        self.queries: list[dict[str, str]] = []
        self.before_call: dict[int, Any] = {}  # call number -> change made before answering

    def __call__(self, request: requests.PreparedRequest):
        query = dict(parse_qsl(urlsplit(request.url).query))
        self.queries.append(query)
        change = self.before_call.get(len(self.queries))
        if change:
            change(self.records)
        low, high = query.get("date_modified:min"), query.get("date_modified:max")
        matching = sorted(
            (
                r
                for r in self.records
                if (not low or r["date_modified"] >= low)
                and (not high or r["date_modified"] <= high)
            ),
            key=lambda r: (r["date_modified"], r["id"]),
        )
        page, limit = int(query["page"]), int(query["limit"])
        chunk = matching[(page - 1) * limit : page * limit]
        pages = max(1, -(-len(matching) // limit))
        meta = {"pagination": {"total": len(matching), "current_page": page, "total_pages": pages}}
        return 200, {}, json.dumps({"data": chunk, "meta": meta})


def stamp(second: int) -> str:
    return f"2024-03-01T10:00:{second:02d}Z"


@responses.activate
def test_more_than_a_page_in_one_second_is_read_whole_and_the_walk_ends():
    client_module._sessions.clear()
    tied = [{"id": i, "date_modified": stamp(5)} for i in range(10, 18)]  # 8 records, page of 3
    listing = FakeListing(
        [{"id": 1, "date_modified": stamp(1)}, {"id": 2, "date_modified": stamp(2)}]
        + tied
        + [{"id": 30, "date_modified": stamp(9)}, {"id": 31, "date_modified": stamp(9)}]
    )
    # record 1 changes while the tie is paged: it moves past everything else
    listing.before_call[4] = lambda records: records[0].update(date_modified=stamp(40))
    url = "https://api.example.test/stores/tie1/v3/customers"
    responses.add_callback(responses.GET, url, callback=listing)
    client = BigCommerceClient(
        "https://api.example.test", "tie1", "token", retry=RetryPolicy(sleep=lambda _: None)
    )
    paginator = KeysetPaginator(V3PagePaginator(3), "date_modified:min", "date_modified:max")

    read = [row for rows in client.listing("/v3/customers", paginator) for row in rows]

    ids = [row["id"] for row in read]
    assert sorted(set(ids)) == [1, 2, *range(10, 18), 30, 31], "no record skipped"
    assert ids.count(1) == 2 and len(ids) == 13, "only the changed record is read twice"
    assert read[-1] == {"id": 1, "date_modified": stamp(40)}
    assert any("date_modified:max" in query for query in listing.queries), "the tie was paged"
    assert len(listing.queries) == 6, "two keyset pages, three within the tie, one after it"


def test_keyset_walks_orders_by_rfc2822_dates():
    """v2 filters are written as BigCommerce v2 writes dates, and a short page ends the walk."""
    walk = KeysetPaginator(
        V2PagePaginator(2), "min_date_modified", "max_date_modified", date_style="rfc2822"
    ).walk()
    page = requests.Response()
    page.status_code = 200
    page._content = (
        b'[{"id": 4, "date_modified": "Fri, 01 Mar 2024 10:00:01 +0000"},'
        b' {"id": 5, "date_modified": "Fri, 01 Mar 2024 10:00:07 +0000"}]'
    )
    following = walk.next_page(walk.first_page(), page)
    assert following == {
        "page": 1,
        "limit": 2,
        "min_date_modified": "Fri, 01 Mar 2024 10:00:07 +0000",
    }
    repeat = requests.Response()  # the next page: only the record already emitted at 10:00:07
    repeat.status_code = 200
    repeat._content = b'[{"id": 5, "date_modified": "Fri, 01 Mar 2024 10:00:07 +0000"}]'
    assert walk.records(repeat) == []
    assert walk.next_page(following, repeat) is None
