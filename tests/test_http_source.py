"""``host.http_source.HttpSource`` against a small loopback fake API: every pagination style,
the overlap, retries and back-off (a recording sleep), pacing from headers, the sorting of
failures, reads by id and a malformed row passed on; and the parts a source switches on: a page
read ahead, learned page sizes, one session per account, its own JSON decoder, keyset and
re-read walks, a page's own look-ups."""

from __future__ import annotations

import json
import math
import socket
import threading
import time
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlencode

import pytest
from flask import Flask, jsonify, request

from host.errors import ConfigurationError, RecordError, TransientError
from host.models import Connection
from host.records import validation_errors
from host.sources import (
    CursorPaginator,
    HttpSource,
    HttpStream,
    KeysetPaginator,
    NextLinkPaginator,
    OffsetPaginator,
    PageNumberPaginator,
    RateLimit,
    RereadWhenShrunkPaginator,
    RetryPolicy,
)
from host.testing import serve
from host.testing.source_conformance import read_all, read_pages

TOKEN = "tok-9f2e"
START = datetime(2026, 1, 1, tzinfo=UTC)


def stamp(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


class FakeApi:
    """23 items an hour apart; ``max_limit`` caps pages; faults are answered first, in turn."""

    def __init__(self) -> None:
        self.items = [
            {"id": n, "email": f"person{n}@example.com", "updated_at": stamp(START + timedelta(hours=n))}
            for n in range(1, 24)
        ]
        self.max_limit = 5
        self.faults: list[tuple[int, dict[str, str]]] = []
        self.headers: list[dict[str, str]] = []  # extra headers of the answers, in turn
        self.calls: list[dict[str, str]] = []  # each call's query
        self.changes: dict[int, Any] = {}  # call number -> made before answering (may answer)
        self.app = self._app()

    def rows(self) -> list[dict[str, Any]]:
        rows = self.items
        if request.args.get("updated_since"):
            since = datetime.fromisoformat(request.args["updated_since"].replace("Z", "+00:00"))
            rows = [r for r in rows if datetime.fromisoformat(r["updated_at"].replace("Z", "+00:00")) >= since]
        if request.args.get("updated_until"):  # inclusive
            until = datetime.fromisoformat(request.args["updated_until"].replace("Z", "+00:00"))
            rows = [r for r in rows if datetime.fromisoformat(r["updated_at"].replace("Z", "+00:00")) <= until]
        if request.args.get("ids"):
            wanted = set(request.args["ids"].split(","))
            rows = [r for r in rows if str(r["id"]) in wanted]
        return rows

    def _app(self) -> Flask:
        app = Flask("fake_http_api")

        @app.before_request
        def gate():
            self.calls.append(request.args.to_dict())
            change = self.changes.pop(len(self.calls), None)
            answer = change() if change else None
            if isinstance(answer, tuple):
                return answer
            if self.faults:
                status, headers = self.faults.pop(0)
                return jsonify(error="fault"), status, headers
            if request.headers.get("X-Token") != TOKEN:
                return jsonify(error="bad token"), 401
            return None

        @app.after_request
        def extra(response):
            if self.headers:
                response.headers.update(self.headers.pop(0))
            return response

        @app.get("/api/pages")
        def pages():
            rows, limit = self.rows(), min(int(request.args.get("limit", 100)), self.max_limit)
            page = int(request.args.get("page", 1))
            return jsonify(data=rows[(page - 1) * limit : page * limit],
                           meta={"pages": max(1, math.ceil(len(rows) / limit)), "per_page": limit})

        @app.get("/api/sized")
        def sized():  # refuses a page larger than it serves
            if int(request.args["limit"]) > self.max_limit:
                return jsonify(error="limit too large"), 413
            return pages()

        @app.get("/api/dated")
        def dated():  # sorted by change date, then id
            rows = sorted(self.rows(), key=lambda r: (r["updated_at"], r["id"]))
            limit, page = min(int(request.args["limit"]), self.max_limit), int(request.args.get("page", 1))
            return jsonify(data=rows[(page - 1) * limit : page * limit],
                           meta={"pages": max(1, math.ceil(len(rows) / limit))})

        @app.get("/api/offsets")
        def offsets():
            rows, limit = self.rows(), min(int(request.args.get("limit", 100)), self.max_limit)
            offset = int(request.args.get("offset", 0))
            return jsonify(data=rows[offset : offset + limit], meta={"total": len(rows)})

        @app.get("/api/cursors")
        def cursors():
            rows, limit = self.rows(), min(int(request.args.get("limit", 100)), self.max_limit)
            after = int(request.args.get("cursor", 0))
            chunk = [r for r in rows if r["id"] > after][:limit]
            more = chunk and chunk[-1]["id"] < rows[-1]["id"]
            return jsonify(data=chunk, meta={"next_cursor": str(chunk[-1]["id"]) if more else None})

        @app.get("/api/links")
        @app.get("/api/link-headers")
        def links():
            rows, limit = self.rows(), min(int(request.args.get("limit", 100)), self.max_limit)
            page = int(request.args.get("page", 1))
            following = None
            if page * limit < len(rows):
                following = f"{request.base_url}?{urlencode({**request.args.to_dict(), 'page': page + 1})}"
            if request.path.endswith("link-headers"):
                response = jsonify(rows[(page - 1) * limit : page * limit])  # a bare list
                if following:
                    response.headers["Link"] = f'<{following}>; rel="next"'
                return response
            return jsonify(data=rows[(page - 1) * limit : page * limit], links={"next": following})

        @app.get("/api/escape")
        def escape():
            return jsonify(data=self.items[:2], links={"next": "http://elsewhere.test/api/escape?page=2"})

        @app.get("/api/pages/<int:item_id>")
        def one(item_id: int):
            found = [r for r in self.items if r["id"] == item_id]
            return (jsonify(data=found[0]), 200) if found else (jsonify(error="gone"), 404)

        return app


class FakeSource(HttpSource):
    name = "fake_http"
    title = "Fake API"
    rate_limit = RateLimit(remaining_header="X-Left", reset_header="X-Reset", reserve=1)

    def __init__(self, url: str, stream: HttpStream, retry: RetryPolicy) -> None:
        super().__init__(retry)
        self.url, self.declared = url, stream

    def streams(self):
        return (self.declared,)

    def base_url(self, connection):
        return f"{self.url}/api"

    def auth(self, connection):
        return {"X-Token": connection.source_secrets["token"]}

    def timeout(self, connection):
        return 5.0

    def transform(self, stream, raw, connection):
        return {
            "id": str(raw["id"]),
            "email": raw.get("email"),
            "date_created": raw["updated_at"],
            "date_modified": raw["updated_at"],
        }


STREAM = HttpStream(
    name="people",
    kind="customer",
    path="/pages",
    primary_key="id",
    cursor_field="date_modified",
    page_size=10,
    paginator=PageNumberPaginator(pages_field="meta.pages"),
    since_param="updated_since",
    ids_param="ids",
)


@pytest.fixture(scope="module")
def server():
    holder: dict[str, FakeApi] = {}
    with serve(lambda environ, start: holder["api"].app(environ, start)) as url:
        yield holder, url


@pytest.fixture
def world(server):
    holder, url = server
    holder["api"] = api = FakeApi()
    sleeps: list[float] = []

    def source(**changes: Any) -> FakeSource:
        return FakeSource(url, replace(STREAM, **changes), RetryPolicy(sleep=sleeps.append))

    return api, source, sleeps


CONNECTION = Connection(source="fake_http", source_account="acct", source_secrets={"token": TOKEN})
ALL_IDS = [str(n) for n in range(1, 24)]


@pytest.mark.parametrize(
    ("path", "paginator", "calls"),
    [
        ("/pages", PageNumberPaginator(pages_field="meta.pages"), 5),
        ("/pages", PageNumberPaginator(), 6),  # no page count: up to the empty page
        ("/offsets", OffsetPaginator(total_field="meta.total"), 5),
        ("/offsets", OffsetPaginator(), 6),
        ("/cursors", CursorPaginator(), 5),
        ("/links", NextLinkPaginator(), 5),
        ("/link-headers", NextLinkPaginator(link_field=None), 5),
    ],
    ids=["page-count", "page-until-empty", "offset-total", "offset-until-empty", "cursor", "link", "link-header"],
)
def test_every_pagination_style_reads_every_record_once_in_order(world, path, paginator, calls):
    api, source, _ = world
    read = source(path=path, paginator=paginator)
    pages = read_pages(read, CONNECTION, read.declared)
    assert [r["id"] for page in pages for r in page] == ALL_IDS
    assert [len(page) for page in pages] == [5, 5, 5, 5, 3]  # the API capped the page size of 10
    assert len(api.calls) == calls
    assert api.calls[0]["limit"] == "10"  # the stream's page size is asked


def test_a_short_page_ends_the_listing_only_when_declared(world):
    api, source, _ = world
    api.max_limit = 100  # the API serves what is asked
    read = source(paginator=PageNumberPaginator(short_page_ends=True))
    assert [r["id"] for r in read_all(read, CONNECTION, read.declared)] == ALL_IDS
    assert [call["page"] for call in api.calls] == ["1", "2", "3"]  # 10, 10, 3: no empty call


def test_incremental_reads_send_the_cursor_minus_the_overlap(world):
    api, source, _ = world
    read = source(params={"sort": "updated_at"}, cursor_overlap=timedelta(hours=2))
    since = (START + timedelta(hours=10, minutes=30)).isoformat()
    records = read_all(read, CONNECTION, read.declared, since=since)
    assert api.calls[0]["updated_since"] == "2026-01-01T08:30:00Z"
    assert api.calls[0]["sort"] == "updated_at"  # the stream's fixed params travel too
    assert [r["id"] for r in records] == [str(n) for n in range(9, 24)]


def test_without_a_since_filter_the_cursor_field_filters_with_the_overlap(world):
    api, source, _ = world
    read = source(since_param=None, cursor_overlap=timedelta(hours=1))
    records = read_all(read, CONNECTION, read.declared, since=stamp(START + timedelta(hours=20)))
    assert "updated_since" not in api.calls[0]
    assert [r["id"] for r in records] == ["19", "20", "21", "22", "23"]


def test_server_errors_and_rate_limits_are_retried_with_back_off(world):
    api, source, sleeps = world
    api.faults = [(503, {}), (502, {}), (429, {"Retry-After": "7"}), (429, {"X-Reset": "3"}), (429, {})]
    read = source()
    assert [r["id"] for r in read_all(read, CONNECTION, read.declared)] == ALL_IDS
    # 5xx: 1 s then 2 s; 429: as told by Retry-After, else the reset header, else back-off
    assert sleeps == [1.0, 2.0, 7.0, 3.0, 4.0]


def test_server_errors_that_outlast_the_retries_are_transient(world):
    api, source, sleeps = world
    api.faults = [(500, {})] * 10
    read = source()
    with pytest.raises(TransientError, match="kept answering 500") as raised:
        read_all(read, CONNECTION, read.declared)
    assert raised.value.area == "people"
    assert len(api.calls) == read.retry.max_attempts == 5
    assert sleeps == [1.0, 2.0, 4.0, 8.0]


def test_a_call_that_is_not_idempotent_is_not_sent_again_after_a_server_error(world):
    api, source, sleeps = world
    api.faults = [(429, {"Retry-After": "2"}), (502, {}), (502, {})]
    with source().open(CONNECTION) as client, pytest.raises(TransientError, match="kept answering 502"):
        client.request("POST", "/pages", area="people")
    assert len(api.calls) == 2 and sleeps == [2.0]  # the 429 was a refusal: asked again once


def test_an_unreachable_api_is_transient_after_the_retries(world):
    _, source, sleeps = world
    with socket.socket() as probe:  # a loopback port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    read = source()
    read.url = f"http://127.0.0.1:{port}"
    with pytest.raises(TransientError, match="could not be reached"):
        read_all(read, CONNECTION, read.declared)
    assert sleeps == [1.0, 2.0, 4.0, 8.0]


def test_calls_wait_for_the_reset_when_the_quota_runs_down(world):
    api, source, sleeps = world
    api.headers = [{"X-Left": "5", "X-Reset": "9"}, {"X-Left": "1", "X-Reset": "4"}, {"X-Left": "40"}]
    read = source()
    assert len(read_all(read, CONNECTION, read.declared)) == 23
    assert len(sleeps) == 1 and 3.0 < sleeps[0] <= 4.0  # only after the page that left 1 (reserve)


@pytest.mark.parametrize(("status", "code"), [(401, "fake_http_unauthorized"), (403, "fake_http_forbidden")])
def test_refused_credentials_are_a_configuration_error_at_once(world, status, code):
    api, source, sleeps = world
    api.faults = [(status, {})]
    read = source()
    with pytest.raises(ConfigurationError) as raised:
        read_all(read, CONNECTION, read.declared)
    assert raised.value.code == code and raised.value.area == "people" and raised.value.message
    assert len(api.calls) == 1 and sleeps == []


def test_the_credentials_travel_in_the_declared_header_only(world):
    api, source, _ = world
    wrong = Connection(source="fake_http", source_account="acct", source_secrets={"token": "nope"})
    read = source()
    with pytest.raises(ConfigurationError, match="no longer accepts"):
        read_all(read, wrong, read.declared)
    assert len(read_all(read, CONNECTION, read.declared)) == 23
    assert not any(TOKEN in value for call in api.calls for value in call.values())  # not in URLs
    with read.open(CONNECTION) as client:
        assert TOKEN not in repr(client)


def test_other_refusals_are_record_errors(world):
    _, source, _ = world
    read = source(path="/nothing-here")
    with pytest.raises(RecordError, match="HTTP 404"):
        read_all(read, CONNECTION, read.declared)


def test_a_malformed_row_is_passed_on_invalid_never_dropped(world):
    api, source, _ = world
    api.items[3]["email"] = None  # transformed, but not a valid customer
    del api.items[7]["updated_at"]  # the transform itself fails on it
    read = source()
    records = read_all(read, CONNECTION, read.declared)
    assert [r["id"] for r in records] == ALL_IDS
    invalid = [r["id"] for r in records if validation_errors("customer", r)]
    assert invalid == ["4", "8"]
    assert records[7] == {"id": "8"}


def test_reads_by_id_send_the_ids_in_chunks(world):
    api, source, _ = world
    read = source(ids_per_call=2)
    records = read_all(read, CONNECTION, read.declared, ids=["3", "17", "5", "999"])
    assert sorted(r["id"] for r in records) == ["17", "3", "5"]
    assert [call["ids"] for call in api.calls] == ["3,17", "5,999"]


def test_reads_by_id_without_an_ids_filter_get_each_record(world):
    api, source, _ = world
    read = source(ids_param=None)
    records = read_all(read, CONNECTION, read.declared, ids=["2", "404", "6"])
    assert [r["id"] for r in records] == ["2", "6"]  # a record gone since is simply absent
    assert len(api.calls) == 3


def test_a_next_link_outside_the_api_is_not_followed(world):
    _, source, _ = world
    read = source(path="/escape", paginator=NextLinkPaginator())
    with pytest.raises(RecordError, match="outside"):
        read_all(read, CONNECTION, read.declared)


# ---------------------------------------------------------------- the parts a source switches on
def _ahead_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name == "fake_http-page-ahead"]


def test_the_next_page_is_read_ahead_while_the_caller_works_on_this_one(world):
    api, source, _ = world
    read = source()
    read.read_ahead = True
    pages = read.read(CONNECTION, read.declared)
    first = next(pages)
    deadline = time.monotonic() + 5
    while len(api.calls) < 2 and time.monotonic() < deadline:
        time.sleep(0.01)
    assert len(api.calls) == 2, "page 2 was asked for before the caller wanted it"
    rest = [r["id"] for page in pages for r in page.records]
    assert [r["id"] for r in first.records] + rest == ALL_IDS
    assert len(api.calls) == 5 and not _ahead_threads()


def test_a_failed_page_ahead_is_raised_when_taken_and_a_closed_read_leaves_no_thread(world):
    api, source, sleeps = world
    read = source()
    read.read_ahead = True
    api.changes[2] = lambda: (jsonify(error="busy"), 503)
    api.changes[3] = lambda: (jsonify(error="busy"), 503)
    read.retry = RetryPolicy(max_attempts=2, sleep=sleeps.append)
    pages = read.read(CONNECTION, read.declared)
    assert len(next(pages).records) == 5  # page 1 is the caller's, whatever happens to page 2
    with pytest.raises(TransientError, match="kept answering 503"):
        next(pages)
    assert not _ahead_threads()

    api.calls.clear()
    api.changes[2] = lambda: (jsonify(error="busy"), 503)
    read.retry = RetryPolicy(base_delay=30)  # a real wait: 30 s before page 2 is asked again
    pages = read.read(CONNECTION, read.declared)
    next(pages)
    time.sleep(0.2)
    started = time.monotonic()
    pages.close()
    assert time.monotonic() - started < 2 and not _ahead_threads()
    assert len(api.calls) == 2, "no attempt after the close"


def test_a_refused_page_size_is_asked_again_smaller_and_remembered(world):
    api, source, _ = world
    read = source(path="/sized")
    read.page_size_param = "limit"
    assert [r["id"] for r in read_all(read, CONNECTION, read.declared)] == ALL_IDS
    assert [call["limit"] for call in api.calls[:3]] == ["10", "5", "5"]  # 413: half, then kept
    api.calls.clear()
    assert len(read_all(read, CONNECTION, read.declared)) == 23
    assert {call["limit"] for call in api.calls} == {"5"}, "learned for the account's endpoint"


def test_a_page_size_served_silently_smaller_is_learned_from_the_page(world):
    api, source, _ = world
    read = source()
    read.page_size_param, read.per_page_field = "limit", "meta.per_page"
    with read.open(CONNECTION) as client:
        walker = PageNumberPaginator(pages_field="meta.pages").start(10)
        pages = list(client.pages("/pages", walker, area="people"))
    assert [page.params["limit"] for page in pages] == [10, 5, 5, 5, 5]  # what each page asked
    assert [page.served_before for page in pages] == [0, 5, 5, 5, 5]
    assert [call["limit"] for call in api.calls] == ["10", "5", "5", "5", "5"]


def test_the_reads_of_one_account_share_one_session_each_with_its_credentials(world):
    api, source, _ = world
    read = source()
    wrong = Connection(source="fake_http", source_account="acct", source_secrets={"token": "nope"})
    with read.open(CONNECTION) as one, read.open(CONNECTION) as two, read.open(wrong) as three:
        assert one.session is two.session is three.session  # one connection pool
        assert "X-Token" not in one.session.headers
        assert one.get_json("/pages", {"limit": 1})["data"] == [api.items[0]]
        with pytest.raises(ConfigurationError):
            three.get_json("/pages")
        assert two.get_json("/pages", {"limit": 1})["data"] == [api.items[0]]


def test_a_source_may_swap_in_its_own_json_decoder(world):
    _, source, _ = world
    read = source()
    decoded: list[int] = []
    read.decode_json = lambda content: (decoded.append(len(content)), json.loads(content))[1]
    assert len(read_all(read, CONNECTION, read.declared)) == 23
    assert len(decoded) == 5


def test_a_keyset_walk_misses_no_row_when_rows_change_mid_read_nor_in_a_tied_date(world):
    api, source, _ = world
    tied = stamp(START + timedelta(hours=5))
    for item in api.items[5:13]:  # nine rows at one date (5 to 13): more than a page of 5
        item["updated_at"] = tied
    # row 1 changes while the tied date is paged: it moves past every other row
    api.changes[3] = lambda: api.items[0].update(updated_at=stamp(START + timedelta(days=2)))
    keyset = KeysetPaginator(PageNumberPaginator(pages_field="meta.pages"), "updated_since", "updated_until",
                             cursor_field="updated_at")
    read = source(path="/dated", paginator=keyset, page_size=5)
    ids = [r["id"] for r in read_all(read, CONNECTION, read.declared)]
    assert sorted(set(ids), key=int) == ALL_IDS, "no row skipped"
    assert ids.count("1") == 2 and len(ids) == 24, "only the changed row is read twice"
    assert any("updated_until" in call for call in api.calls), "the tied date was paged by itself"
    assert keyset.boundary is None, "each read walks a fresh copy"


def test_a_listing_that_shrank_during_a_pass_is_read_again_without_repeats(world):
    api, source, _ = world
    api.changes[2] = lambda: [api.items.pop(0) for _ in range(2)]  # rows of page 1 deleted
    reread = RereadWhenShrunkPaginator(OffsetPaginator(total_field="meta.total"), "meta.total")
    read = source(path="/offsets", paginator=reread)
    ids = [r["id"] for r in read_all(read, CONNECTION, read.declared)]
    assert sorted(ids, key=int) == ALL_IDS, "rows 6 and 7, shifted back a page, are read too"
    assert [call["offset"] for call in api.calls].count("0") == 2


def test_a_read_by_id_may_page_by_its_own_paginator(world):
    api, source, _ = world
    read = source(ids_paginator=PageNumberPaginator(size_param="per", short_page_ends=True))
    records = read_all(read, CONNECTION, read.declared, ids=["3", "17"])
    assert sorted(r["id"] for r in records) == ["17", "3"]
    assert "per" in api.calls[0] and "limit" not in api.calls[0]


class EnrichingSource(FakeSource):
    """Each page looks up what its rows lack, with a call of its own."""

    def transform_page(self, client, stream, rows, connection):
        first = client.get_json("/pages/1", area=stream.name)["data"]
        records = super().transform_page(client, stream, rows, connection)
        return [{**record, "company": first["email"]} for record in records]


def test_a_page_may_make_calls_of_its_own_for_what_its_rows_lack(world):
    api, _, sleeps = world
    read = EnrichingSource(world[1]().url, STREAM, RetryPolicy(sleep=sleeps.append))
    records = read_all(read, CONNECTION, read.declared)
    assert {r["company"] for r in records} == {"person1@example.com"} and len(records) == 23
    assert len(api.calls) == 10  # five pages, one look-up each
