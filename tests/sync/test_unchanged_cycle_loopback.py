"""Over loopback: a cycle after the backfill, with nothing changed in the store, asks BigCommerce
at most once per stream, and sends nothing. Guests need no call of their own (they come from the
orders read), and the archived-orders pass runs once an hour when no order changed."""

from __future__ import annotations

from collections import Counter
from datetime import timedelta

import pytest
import requests

from plugins.bigcommerce import source as bigcommerce_source
from tests.sync.loopback import StoreSize, connected_loop
from tests.sync.test_end_to_end import Loop, assert_exact_state

SIZE = StoreSize(customers=60, subscribers=20, orders=120, products=10, seed=3)


@pytest.fixture
def loop(make_app):
    with connected_loop(make_app, SIZE) as parts:
        yield Loop(*parts)


def bigcommerce_calls(loop: Loop) -> Counter:
    state = requests.get(f"{loop.emulators.bigcommerce.url}/_emulator/state", params={"summary": 1}, timeout=30)
    return Counter({call: n for call, n in state.json()["requests"].items() if "/_emulator" not in call})


def test_an_unchanged_cycle_asks_once_per_stream_and_sends_nothing(loop, monkeypatch):
    # The budget of a store that honours the is_deleted filter (the references' reading); where
    # it is ignored or refused, archived orders are looked for by id (tests/bigcommerce/test_modes.py).
    requests.patch(f"{loop.emulators.bigcommerce.url}/_emulator/modes", json={"order_is_deleted": "honoured"},
                   timeout=30).raise_for_status()
    assert loop.cycle(trigger="cli").status == "finished"
    assert_exact_state(loop)  # guest contacts included, from the orders alone
    streams = len(bigcommerce_source.STREAMS)
    writes, before = loop.emulators.engagement_cloud_writes(), bigcommerce_calls(loop)

    assert loop.cycle().status == "finished"
    calls = bigcommerce_calls(loop) - before
    assert sum(calls.values()) <= streams, calls
    assert loop.emulators.engagement_cloud_writes() == writes

    hour_later = bigcommerce_source.utcnow() + timedelta(hours=1)
    monkeypatch.setattr(bigcommerce_source, "utcnow", lambda: hour_later)
    before = bigcommerce_calls(loop)
    assert loop.cycle().status == "finished"
    calls = bigcommerce_calls(loop) - before
    assert sum(calls.values()) <= streams + 1, calls  # and the hourly archived-orders pass
    assert loop.emulators.engagement_cloud_writes() == writes
