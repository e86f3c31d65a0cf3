"""The API client: failures sorted into the host's three classes, waits as BigCommerce asks."""

from __future__ import annotations

import logging

import pytest
import requests
import responses

from host.errors import ConfigurationError, RecordError, TransientError
from plugins.bigcommerce.client import BigCommerceClient
from plugins.bigcommerce.pacing import RetryPolicy

BASE = "https://api.example.test"
URL = f"{BASE}/stores/unit1/v3/customers"


@pytest.fixture
def waits():
    return []


@pytest.fixture
def client(waits, request):
    # a store hash per test: pacing state is per store
    return BigCommerceClient(
        BASE, "unit1", "secret-token-xyz", retry=RetryPolicy(sleep=waits.append, jitter=lambda: 0.5)
    )


@pytest.fixture(autouse=True)
def fresh_pacer():
    from plugins.bigcommerce import client as client_module

    client_module._sessions.clear()


@responses.activate
@pytest.mark.parametrize(
    ("status", "error", "code"),
    [
        (401, ConfigurationError, "bigcommerce_unauthorized"),
        (403, ConfigurationError, "bigcommerce_scope"),
        (404, RecordError, None),
        (422, RecordError, None),
    ],
)
def test_refusals_are_classified_without_retrying(client, status, error, code):
    responses.get(URL, status=status, json={"status": status, "title": "Nope"})
    with pytest.raises(error) as raised:
        client.get_json("/v3/customers", area="customers")
    assert len(responses.calls) == 1
    assert getattr(raised.value, "code", None) == code
    assert raised.value.message and "secret-token-xyz" not in raised.value.message


@responses.activate
def test_server_errors_are_retried_then_reported_as_transient(client, waits):
    responses.get(URL, status=503, json={"status": 503, "title": "Service Unavailable"})
    with pytest.raises(TransientError):
        client.get_json("/v3/customers")
    assert len(responses.calls) == client.retry.max_attempts
    assert waits == sorted(waits) and waits[0] > 0, "back-off grows between attempts"


@responses.activate
def test_a_dropped_connection_is_retried(client):
    responses.get(URL, body=requests.ConnectionError("reset by peer"))
    responses.get(URL, json={"data": [{"id": 1}], "meta": {}})
    assert client.get_json("/v3/customers")["data"] == [{"id": 1}]


@responses.activate
@pytest.mark.parametrize(
    ("headers", "expected_wait"),
    [
        ({"X-Retry-After": "4", "X-Rate-Limit-Time-Reset-Ms": "9000"}, 4.0),
        ({"X-Rate-Limit-Time-Reset-Ms": "2500"}, 2.5),
        ({}, 0.375),
    ],  # no headers (platform load): back-off, base 0.5 with this jitter
    ids=["retry-after", "reset-ms", "no-headers"],
)
def test_429_waits_what_the_headers_say(client, waits, headers, expected_wait):
    responses.get(
        URL, status=429, headers=headers, json={"status": 429, "title": "Too many requests"}
    )
    responses.get(URL, json={"data": [], "meta": {}})
    client.get_json("/v3/customers")
    assert waits == [expected_wait]


@responses.activate
def test_pacing_waits_for_the_window_when_the_quota_runs_dry(client, waits):
    responses.get(
        URL,
        json={"data": []},
        headers={"X-Rate-Limit-Requests-Left": "1", "X-Rate-Limit-Time-Reset-Ms": "3000"},
    )
    responses.get(
        URL,
        json={"data": []},
        headers={"X-Rate-Limit-Requests-Left": "149", "X-Rate-Limit-Time-Reset-Ms": "30000"},
    )
    client.get_json("/v3/customers")
    assert waits == []
    client.get_json("/v3/customers")
    assert len(waits) == 1 and 2.5 < waits[0] <= 3.0


@responses.activate
def test_the_token_is_sent_as_a_header_and_never_logged(client, caplog):
    responses.get(URL, status=500)
    responses.get(URL, json={"data": []})
    with caplog.at_level(logging.DEBUG):
        client.get_json("/v3/customers")
    assert responses.calls[0].request.headers["X-Auth-Token"] == "secret-token-xyz"
    assert "secret-token-xyz" not in caplog.text and "secret-token-xyz" not in repr(client)


# ---------------------------------------------------------------------- reading a page ahead
def _page(number: int, total: int = 3) -> dict:
    return {"data": [{"id": number}], "meta": {"pagination": {"current_page": number, "total_pages": total}}}


def _listing(client):
    from plugins.bigcommerce.pagination import V3PagePaginator

    return client.listing("/v3/customers", V3PagePaginator(1), area="customers")


def _ahead_threads() -> list:
    import threading

    return [t for t in threading.enumerate() if t.name == "bigcommerce-page-ahead"]


@responses.activate
def test_the_next_page_is_requested_while_the_caller_works_on_this_one(client):
    import threading

    asked = threading.Event()

    def page(request):
        number = int(dict(request.params)["page"])
        if number == 2:
            asked.set()
        return 200, {}, __import__("json").dumps(_page(number))

    responses.add_callback(responses.GET, URL, callback=page)
    rows = _listing(client)
    assert next(rows) == [{"id": 1}]
    assert asked.wait(5), "page 2 was asked for before the caller wanted it"
    assert [row for page in rows for row in page] == [{"id": 2}, {"id": 3}]
    assert len(responses.calls) == 3 and not _ahead_threads()


@responses.activate
def test_a_failure_of_the_page_ahead_is_raised_when_that_page_is_taken(client, waits):
    responses.get(URL, json=_page(1), match=[responses.matchers.query_param_matcher({"page": "1", "limit": "1"})])
    responses.get(URL, status=503, json={"title": "Unavailable"},
                  match=[responses.matchers.query_param_matcher({"page": "2", "limit": "1"})])
    rows = _listing(client)
    assert next(rows) == [{"id": 1}]  # page 1 is the caller's, whatever happens to page 2
    with pytest.raises(TransientError):
        next(rows)
    assert len(responses.calls) == 1 + client.retry.max_attempts  # retried as any other call
    assert not _ahead_threads()


@responses.activate
def test_a_listing_closed_early_leaves_no_thread_behind():
    import time

    patient = BigCommerceClient(BASE, "unit1", "secret-token-xyz", retry=RetryPolicy(base_delay=30))
    responses.get(URL, json=_page(1), match=[responses.matchers.query_param_matcher({"page": "1", "limit": "1"})])
    responses.get(URL, status=503, json={"title": "Unavailable"},
                  match=[responses.matchers.query_param_matcher({"page": "2", "limit": "1"})])
    rows = _listing(patient)
    assert next(rows) == [{"id": 1}]
    time.sleep(0.2)  # page 2 failed once; its thread now waits 15 s or more before trying again
    started = time.monotonic()
    rows.close()
    assert time.monotonic() - started < 2 and not _ahead_threads()
    assert len(responses.calls) == 2  # no attempt after the close
