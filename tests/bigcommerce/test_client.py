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
