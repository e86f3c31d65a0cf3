"""The demo's store life now and then unsubscribes a subscriber in Engagement Cloud (from the
subscribers book, or from everything) and deletes a customer or a subscriber in the store."""

from __future__ import annotations

import random
import threading
import time
from types import SimpleNamespace

import pytest
import requests

from demo import runner
from demo.world import API_PASSWORD, API_USER, CUSTOMERS_BOOK, STORE_HASH, SUBSCRIBERS_BOOK
from emulators import bigcommerce as bigcommerce_emulator
from emulators import engagement_cloud as engagement_cloud_emulator
from emulators.common import start_server
from emulators.engagement_cloud.testing import basic_auth


@pytest.fixture
def world():
    account = engagement_cloud_emulator.AccountSeed(api_user=API_USER, password=API_PASSWORD,
                                                    address_books=[CUSTOMERS_BOOK, SUBSCRIBERS_BOOK])
    engagement_cloud = start_server(engagement_cloud_emulator.create_app(accounts=[account]))
    store = bigcommerce_emulator.StoreSpec(store_hash=STORE_HASH, seed=3, customers=20, subscribers=10, orders=20,
                                           products=2)
    bigcommerce = start_server(bigcommerce_emulator.create_app(stores=[store]))
    try:
        yield SimpleNamespace(engagement_cloud=engagement_cloud, bigcommerce=bigcommerce)
    finally:
        engagement_cloud.stop()
        bigcommerce.stop()


def _account(world) -> dict:
    return requests.get(f"{world.engagement_cloud.url}/_emulator/state", timeout=30).json()["accounts"][0]


def test_a_subscriber_unsubscribes_from_the_book_then_from_everything(world):
    auth = basic_auth(API_USER, API_PASSWORD)
    books = {b["name"]: b["id"] for b in _account(world)["address_books"]}
    assert runner.unsubscribe_someone(world, from_book=True) is None, "an empty book: nobody to unsubscribe"
    for email in ("ann@example.com", "bob@example.com"):
        requests.post(f"{world.engagement_cloud.url}/v2/address-books/{books[SUBSCRIBERS_BOOK]}/contacts",
                      json={"email": email}, headers=auth, timeout=30).raise_for_status()

    first = runner.unsubscribe_someone(world, from_book=True, rng=random.Random(1))
    second = runner.unsubscribe_someone(world, from_book=False, rng=random.Random(1))
    assert {first, second} == {"ann@example.com", "bob@example.com"}, "only subscribed book members are picked"
    account = _account(world)
    records = [(u["email"], u["addressBookId"]) for u in account["unsubscribes"]]
    assert records == [(first, books[SUBSCRIBERS_BOOK]), (second, None)]
    status = {c["email"]: c["status"] for c in account["contacts"]}
    assert status == {first: "subscribed", second: "unsubscribed"}


def test_the_store_life_deletes_now_and_then(world, monkeypatch):
    monkeypatch.setattr(runner, "DELETE_EVERY", 1)
    monkeypatch.setattr(runner, "UNSUBSCRIBE_EVERY", 1000)
    stop = threading.Event()
    thread = runner.keep_store_changing(world, stop, 0.05)
    try:
        for _ in range(200):
            store = requests.get(f"{world.bigcommerce.url}/_emulator/state", timeout=30).json()["stores"][0]
            if len(store["deleted"]) >= 2:
                break
            time.sleep(0.05)
    finally:
        stop.set()
        thread.join(timeout=30)
    assert {tombstone["kind"] for tombstone in store["deleted"]} == {"customer", "subscriber"}


def test_an_order_is_refunded_a_little_or_archived(world):
    refunded = runner.change_an_order(world, archive=False, rng=random.Random(2))
    archived = runner.change_an_order(world, archive=True, rng=random.Random(3))
    store = requests.get(f"{world.bigcommerce.url}/_emulator/state", timeout=30).json()["stores"][0]
    orders = {order["id"]: order for order in store["orders"]}
    assert orders[refunded]["refunded_amount"] == "5.0000"
    assert orders[archived]["is_deleted"] is True
