"""The BigCommerce source reads exactly the store's records whichever way the store plays each
UNCONFIRMED behaviour (the emulator's modes): ``max_date_modified`` inclusive or exclusive with
more than a page of orders in one second, the ``is_deleted`` filter honoured, ignored or refused,
a too-large ``limit`` refused or silently capped, ``customer_id=0`` honoured or ignored."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from emulators.bigcommerce import mutations
from emulators.bigcommerce.generator import HISTORY_ENDS_AT, StoreSpec
from host.testing.source_conformance import assert_matches_truth, assert_no_duplicates, read_all
from plugins.bigcommerce import client as client_module
from tests.bigcommerce.conftest import SMALL_STORE, STORE_HASH, BigCommerceWorld, build_world
from tests.bigcommerce.truth import listed_orders, truth

TIED = HISTORY_ENDS_AT + 86_400  # after every generated change


@pytest.fixture
def make_world(make_app):
    servers = []

    def make(spec: StoreSpec, **modes) -> BigCommerceWorld:
        client_module._sessions.clear()  # nothing learned about another emulator's store
        app, emulator, server, sleeps = build_world(make_app, spec)
        servers.append(server)
        world = BigCommerceWorld(app, "", emulator, server.url, sleeps)
        statuses: list[int] = []
        emulator.after_request(lambda response: (statuses.append(response.status_code), response)[1])
        world.statuses = statuses
        world.conn = world.connection()
        if modes:
            world.control("modes", modes, "PATCH")
        return world

    yield make
    for server in servers:
        server.stop()


def read(world: BigCommerceWorld, stream_name: str, **kwargs) -> list[dict]:
    source = world.source()
    connection = world.conn
    with world.app.app_context():
        return read_all(source, connection, source.stream(stream_name), **kwargs)


def store_of(world: BigCommerceWorld):
    return world.emulator.extensions["bigcommerce_emulator"].stores[STORE_HASH]


def change_orders_at(world: BigCommerceWorld, monkeypatch, moments: dict[int, int]) -> None:
    """Change each order (a staff note) as if at that epoch second."""
    store = store_of(world)
    for oid, moment in moments.items():
        monkeypatch.setattr(mutations, "_now", lambda table, moment=moment: moment)
        mutations.update_order(world.emulator, store, oid, {"staff_notes": f"note {oid}"})
    monkeypatch.undo()


# ------------------------------------------------------------------ one second, many pages
PAGINGS = {  # (max_page_size, over_limit): the references' reading, and small pages both ways
    "250-refused": {"max_page_size": 250, "over_limit": "refused"},
    "40-refused": {"max_page_size": 40, "over_limit": "refused"},
    "40-capped": {"max_page_size": 40, "over_limit": "capped"},
}


@pytest.mark.parametrize("paging", PAGINGS, ids=list(PAGINGS))
@pytest.mark.parametrize("reading", ["inclusive", "exclusive"])
def test_more_than_a_page_of_orders_in_one_second_are_each_read_once(make_world, monkeypatch, reading, paging):
    world = make_world(StoreSpec(store_hash=STORE_HASH, seed=7, customers=40, subscribers=5, orders=420,
                                 products=3), order_max_date_modified=reading, **PAGINGS[paging])
    live = [o["id"] for o in listed_orders(world.state())]
    tied, next_second, later = live[:300], live[300:306], live[306:310]
    change_orders_at(world, monkeypatch, {**dict.fromkeys(tied, TIED), **dict.fromkeys(next_second, TIED + 1),
                                          **dict.fromkeys(later, TIED + 5)})
    stream = world.source().stream("orders")
    expected = truth(world.state(), "orders")

    everything = read(world, "orders")
    assert_no_duplicates(stream, everything)
    assert_matches_truth(stream, everything, expected)

    since = datetime.fromtimestamp(TIED, UTC).isoformat()
    changed = read(world, "orders", since=since)  # the incremental read starts in the tie
    changed = [o for o in changed if not o["is_deleted"]]
    assert_no_duplicates(stream, changed)
    cutoff = datetime.fromtimestamp(TIED, UTC) - stream.cursor_overlap
    assert {o["id"] for o in changed} == {
        key for key, order in expected.items() if datetime.fromisoformat(order["date_modified"]) >= cutoff
    }
    assert {str(i) for i in tied + next_second + later} <= {o["id"] for o in changed}


# ------------------------------------------------------------------ is_deleted
@pytest.mark.parametrize("reading", ["honoured", "ignored", "refused"])
def test_archived_orders_are_found_whether_the_filter_is_honoured_ignored_or_refused(make_world, reading):
    world = make_world(SMALL_STORE, order_is_deleted=reading)
    before = world.state()
    live = sorted(o["id"] for o in listed_orders(before))
    already = {str(o["id"]) for o in before["orders"] if o["is_deleted"]}
    # the lowest and the highest live ids too: the edges of what a store still lists
    newly = [live[0], live[len(live) // 2], live[-1]]
    since = datetime.now(UTC) - timedelta(minutes=1)
    for oid in newly:
        world.control(f"stores/{STORE_HASH}/orders/{oid}", method="DELETE")  # archive

    records = read(world, "orders", since=since.isoformat())

    stream = world.source().stream("orders")
    assert_no_duplicates(stream, records)
    flagged = {o["id"] for o in records if o["is_deleted"]}
    assert flagged == {str(oid) for oid in newly}, "exactly the orders archived since the cursor, flagged"
    assert {str(o["id"]) for o in world.state()["orders"] if o["is_deleted"]} == already | flagged
    assert not [o for o in records if not o["is_deleted"]], "nothing live changed since the cursor"


# ------------------------------------------------------------------ page sizes
@pytest.mark.parametrize("over_limit", ["refused", "capped"])
def test_every_stream_reads_exactly_when_pages_are_smaller_than_asked(make_world, over_limit):
    world = make_world(SMALL_STORE, max_page_size=7, over_limit=over_limit)
    state = world.state()
    source = world.source()

    for stream in source.streams():
        records = read(world, stream.name)
        assert_no_duplicates(stream, records)
        assert_matches_truth(stream, records, truth(state, stream.name))

    # and by id (the fast lane): more ids than a page holds
    customers = [str(c["id"]) for c in state["customers"]][:20]
    by_id = read(world, "customers", ids=customers)
    assert sorted(c["id"] for c in by_id) == sorted(customers)
    if over_limit == "refused":
        refusals = world.statuses.count(413)
        assert refusals, "the store refused the first too-large limit"
        read(world, "customers")
        read(world, "orders")
        assert world.statuses.count(413) == refusals, "the smaller limit is remembered: no refusal again"


def test_subscriber_consent_ips_are_found_with_small_pages_and_archived_orders(make_world):
    """Checkout opt-ins whose orders sit in a window wider than a page, one of them archived,
    with the archived filter ignored: each still gets its order's IP."""
    world = make_world(StoreSpec(store_hash=STORE_HASH, seed=9, customers=60, orders=600, subscribers=120,
                                 products=3), max_page_size=20, over_limit="capped", order_is_deleted="ignored")
    state = world.state()
    orders = {o["id"]: o for o in state["orders"]}
    checkout = [s for s in state["subscribers"] if s["order_id"] and s.get("consents")
                and "marketing_newsletter" in s["consents"] and orders[s["order_id"]]["ip_address"]]
    assert len(checkout) > 5
    archived = checkout[0]["order_id"]
    world.control(f"stores/{STORE_HASH}/orders/{archived}", method="DELETE")

    records = {r["id"]: r for r in read(world, "subscribers")}

    for subscriber in checkout:
        assert records[str(subscriber["id"])]["consent"]["ip"] == orders[subscriber["order_id"]]["ip_address"]


# ------------------------------------------------------------------ customer_id=0
@pytest.mark.parametrize("reading", ["honoured", "ignored"])
def test_guest_orders_are_exact_whether_or_not_customer_id_0_filters(make_world, reading):
    world = make_world(SMALL_STORE, guest_order_filter=reading)
    state = world.state()
    stream = world.source().stream("orders")

    records = read(world, "orders")

    assert_matches_truth(stream, records, truth(state, "orders"))
    guests = {o["billing_address"]["email"].lower() for o in listed_orders(state) if o["customer_id"] == 0}
    assert guests and {o["email"].lower() for o in records if o["customer_id"] is None} == guests
