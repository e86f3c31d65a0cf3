"""The BigCommerce emulator plays each UNCONFIRMED reading its modes name, and only that one:
``max_date_modified`` inclusive or exclusive, the legacy ``is_deleted`` filter honoured, ignored
or refused, an over-large ``limit`` refused (413) or capped, and ``customer_id=0`` honoured or
ignored."""

from __future__ import annotations

from datetime import UTC, datetime
from email.utils import format_datetime

import pytest

from emulators.bigcommerce import create_app, mutations
from emulators.bigcommerce.generator import HISTORY_ENDS_AT, StoreSpec

from .bigcommerce_support import STORE, TOKEN

SPEC = StoreSpec(store_hash=STORE, seed=4, customers=30, subscribers=20, orders=40, products=12, brands=10,
                 categories=10)
TIED = HISTORY_ENDS_AT + 86_400  # the second some orders are changed in, after all generated ones


def rfc2822(epoch: int) -> str:
    return format_datetime(datetime.fromtimestamp(epoch, UTC)).replace("-0000", "+0000")


def client_for(**modes):
    app = create_app([SPEC], modes=modes)
    return app, app.test_client()


def get(client, path: str, **query):
    return client.get(f"/stores/{STORE}{path}", query_string=query, headers=TOKEN)


def ids(response) -> list[int]:
    return [] if response.status_code == 204 else [row["id"] for row in response.get_json()]


def change_orders_at(app, monkeypatch, moments: dict[int, int]) -> None:
    """Change each order (a staff note) as if at that epoch second."""
    store = app.extensions["bigcommerce_emulator"].stores[STORE]
    for oid, moment in moments.items():
        monkeypatch.setattr(mutations, "_now", lambda table, moment=moment: moment)
        mutations.update_order(app, store, oid, {"staff_notes": f"changed {oid}"})


# ------------------------------------------------------------------ max_date_modified
@pytest.mark.parametrize("reading", ["inclusive", "exclusive"])
def test_max_date_modified_keeps_or_leaves_out_its_own_second(monkeypatch, reading):
    app, client = client_for(order_max_date_modified=reading)
    change_orders_at(app, monkeypatch, {3: TIED, 5: TIED, 7: TIED, 9: TIED + 1})
    window = {"min_date_modified": rfc2822(TIED), "sort": "date_modified:asc", "limit": 50}

    same_second = get(client, "/v2/orders", **window, max_date_modified=rfc2822(TIED))
    next_second = get(client, "/v2/orders", **window, max_date_modified=rfc2822(TIED + 1))

    if reading == "inclusive":
        assert ids(same_second) == [3, 5, 7]
        assert ids(next_second) == [3, 5, 7, 9]
    else:
        assert same_second.status_code == 204  # nothing changed before that second
        assert ids(next_second) == [3, 5, 7]
    # the lower bound is inclusive either way
    assert ids(get(client, "/v2/orders", **window)) == [3, 5, 7, 9]


# ------------------------------------------------------------------ is_deleted
@pytest.mark.parametrize("reading", ["honoured", "ignored", "refused"])
def test_the_legacy_is_deleted_filter_is_honoured_ignored_or_refused(reading):
    app, client = client_for(order_is_deleted=reading)
    store = app.extensions["bigcommerce_emulator"].stores[STORE]
    live = ids(get(client, "/v2/orders", limit=250))
    archived = live[:2]
    for oid in archived:
        mutations.archive_order(app, store, oid)

    answer = get(client, "/v2/orders", is_deleted="true", limit=250)

    if reading == "honoured":
        assert ids(answer) == archived
        assert all(row["is_deleted"] for row in answer.get_json())
    elif reading == "ignored":
        assert ids(answer) == live[2:]  # the default view: live orders, the filter dropped
        assert not any(row["is_deleted"] for row in answer.get_json())
    else:
        assert answer.status_code == 400
        assert "is_deleted" in answer.get_json()[0]["message"]
    # without the filter, and by id, every reading answers alike
    assert ids(get(client, "/v2/orders", limit=250)) == live[2:]
    assert get(client, f"/v2/orders/{archived[0]}").get_json()["is_deleted"] is True


# ------------------------------------------------------------------ customer_id=0
@pytest.mark.parametrize("reading", ["honoured", "ignored"])
def test_customer_id_zero_lists_guests_or_is_dropped(reading):
    _, client = client_for(guest_order_filter=reading)
    every = get(client, "/v2/orders", limit=250).get_json()
    guests = [row["id"] for row in every if row["customer_id"] == 0]
    assert guests and len(guests) < len(every)

    answer = ids(get(client, "/v2/orders", customer_id=0, limit=250))

    assert answer == (guests if reading == "honoured" else [row["id"] for row in every])


# ------------------------------------------------------------------ page sizes
V3_LISTINGS = ["/v3/customers", "/v3/customers/subscribers", "/v3/catalog/products", "/v3/catalog/brands",
               "/v3/catalog/categories", "/v3/customers/addresses"]


@pytest.mark.parametrize("path", [*V3_LISTINGS, "/v2/orders", "/v2/orders/1/products"])
def test_a_limit_over_the_maximum_is_refused_with_413_naming_the_maximum(path):
    _, client = client_for(max_page_size=5, over_limit="refused")

    refused = get(client, path, limit=6)
    accepted = get(client, path, limit=5)

    assert refused.status_code == 413
    if path.startswith("/v2/"):
        assert refused.get_json()[0]["details"] == {"max_limit": 5}
    else:
        assert refused.get_json()["errors"] == {"limit": "must be at most 5"}
    assert accepted.status_code in (200, 204)


def test_hooks_take_the_same_maximum():
    _, client = client_for(max_page_size=3, over_limit="refused")
    assert get(client, "/v3/hooks", limit=4).status_code == 413
    _, client = client_for(max_page_size=3, over_limit="capped")
    assert get(client, "/v3/hooks", limit=4).get_json()["meta"]["pagination"]["per_page"] == 3


@pytest.mark.parametrize("path", V3_LISTINGS)
def test_a_capped_v3_listing_says_its_page_size_and_pages_by_it(path):
    _, client = client_for(max_page_size=4, over_limit="capped")
    whole = get(client, path, limit=4, page=1).get_json()["meta"]["pagination"]["total"]
    assert whole > 8

    seen: list[int] = []
    page = 1
    while True:
        answer = get(client, path, limit=50, page=page).get_json()
        pagination = answer["meta"]["pagination"]
        assert pagination["per_page"] == 4 and len(answer["data"]) <= 4
        assert pagination["total_pages"] == -(-whole // 4)
        assert "limit=4" in pagination["links"]["current"]
        seen += [row["id"] for row in answer["data"]]
        if "next" not in pagination["links"]:
            break
        page += 1
    assert len(seen) == whole and len(set(seen)) == whole, "every record once, at the capped size"


def test_a_capped_v2_listing_serves_fewer_rows_at_consistent_offsets():
    _, client = client_for(max_page_size=7, over_limit="capped")
    every = ids(get(client, "/v2/orders", limit=7, page=1)) + ids(get(client, "/v2/orders", limit=7, page=2))

    pages = [ids(get(client, "/v2/orders", limit=250, page=number)) for number in (1, 2)]

    assert [len(rows) for rows in pages] == [7, 7]
    assert pages[0] + pages[1] == every
    assert len(ids(get(client, "/v2/orders/1/products", limit=250))) <= 7


def test_the_default_maximum_is_250_and_refused_above_it():
    _, client = client_for()
    assert get(client, "/v3/customers", limit=250).status_code == 200
    assert get(client, "/v2/orders", limit=251).get_json()[0]["details"] == {"max_limit": 250}
