"""A store that serves fewer records a page than asked, by refusing the ``limit`` or by silently
serving less, still has every record read once, and the client asks what it learned from then on."""

from __future__ import annotations

import json
from urllib.parse import parse_qsl, urlsplit

import pytest
import responses

from host.errors import RecordError
from plugins.bigcommerce import client as client_module
from plugins.bigcommerce.client import BigCommerceClient
from plugins.bigcommerce.pacing import RetryPolicy
from plugins.bigcommerce.pagination import V2PagePaginator

BASE = "https://api.example.test"
ORDERS = f"{BASE}/stores/limits1/v2/orders"


@pytest.fixture(autouse=True)
def fresh_sessions():
    client_module._sessions.clear()


def make_client() -> BigCommerceClient:
    return BigCommerceClient(BASE, "limits1", "token", retry=RetryPolicy(sleep=lambda _: None))


class V2Orders:
    """``/v2/orders`` over ``count`` orders, serving at most ``cap`` a page: above it, refused with
    the v2 413 body (``refuse``) or silently served ``cap``."""

    def __init__(self, count: int, cap: int, refuse: bool) -> None:
        self.count, self.cap, self.refuse = count, cap, refuse
        self.limits: list[int] = []

    def __call__(self, request):
        query = dict(parse_qsl(urlsplit(request.url).query))
        page, limit = int(query["page"]), int(query["limit"])
        self.limits.append(limit)
        if limit > self.cap:
            if self.refuse:
                body = [{"status": 413, "message": "The specified limit exceeds the maximum allowed.",
                         "details": {"max_limit": self.cap}}]
                return 413, {}, json.dumps(body)
            limit = self.cap
        ids = list(range(1, self.count + 1))[(page - 1) * limit: page * limit]
        if not ids:
            return 204, {}, ""
        return 200, {}, json.dumps([{"id": i} for i in ids])


def read_ids(client: BigCommerceClient) -> list[int]:
    return [row["id"] for rows in client.listing("/v2/orders", V2PagePaginator(250)) for row in rows]


@responses.activate
@pytest.mark.parametrize("refuse", [True, False], ids=["refused", "capped"])
def test_every_order_is_read_once_when_pages_hold_fewer_than_asked(refuse):
    store = V2Orders(count=95, cap=20, refuse=refuse)
    responses.add_callback(responses.GET, ORDERS, callback=store)
    client = make_client()

    assert read_ids(client) == list(range(1, 96))

    if refuse:
        assert store.limits[:2] == [250, 20], "refused once, then asked at the maximum it named"
        store.limits.clear()
        assert read_ids(client) == list(range(1, 96))
        assert set(store.limits) == {20}, "the maximum is remembered for the store"


@responses.activate
def test_a_short_page_ends_a_listing_once_longer_pages_were_served():
    store = V2Orders(count=30, cap=250, refuse=True)
    responses.add_callback(responses.GET, ORDERS, callback=store)
    client = make_client()
    assert read_ids(client) == list(range(1, 31))
    first = len(store.limits)  # a first short page may be the store's cap: one more page asked

    store.count = 12
    assert read_ids(client) == list(range(1, 13))
    assert len(store.limits) - first == 1, "shorter than a page served before: the last page"
    assert first == 2


@responses.activate
def test_a_refusal_that_is_not_about_the_limit_is_not_retried():
    responses.get(ORDERS, status=400, json=[{"status": 400, "message": "The field 'is_deleted' is invalid"}])
    with pytest.raises(RecordError):
        make_client().get_json("/v2/orders", {"is_deleted": "true", "limit": 50})
    assert len(responses.calls) == 1
