"""The generated store: deterministic, realistic, and identical through the API and the state."""

from __future__ import annotations

import pycountry
import pytest

from emulators.bigcommerce import StoreSpec, create_app
from emulators.bigcommerce.pools import STATES

from .bigcommerce_support import STORE, TOKEN

SYNC_SIZE = StoreSpec(customers=5000, subscribers=1000, orders=10000, products=500, seed=11)


@pytest.fixture(scope="module")
def app():
    return create_app([SYNC_SIZE])


@pytest.fixture(scope="module")
def state(app):
    return app.test_client().get("/_emulator/state").get_json()["stores"][0]


def read_all_v3(client, path: str, query: str) -> tuple[list[dict], int]:
    records, page, calls = [], 1, 0
    while True:
        body = client.get(f"/stores/{STORE}{path}?{query}&limit=250&page={page}", headers=TOKEN).get_json()
        calls += 1
        records += body["data"]
        if body["meta"]["pagination"]["current_page"] >= body["meta"]["pagination"]["total_pages"]:
            return records, calls
        page += 1


def read_all_orders(client, query: str) -> tuple[list[dict], int]:
    records, page, calls = [], 1, 0
    while True:
        response = client.get(f"/stores/{STORE}/v2/orders?{query}&limit=250&page={page}", headers=TOKEN)
        calls += 1
        if response.status_code == 204:
            return records, calls
        records += response.get_json()
        page += 1


def test_same_seed_same_store_and_other_seed_other_store():
    small = StoreSpec(customers=50, subscribers=20, orders=80, products=10, seed=3)
    one = create_app([small]).test_client().get("/_emulator/state").get_json()["stores"][0]
    two = create_app([small]).test_client().get("/_emulator/state").get_json()["stores"][0]
    other = StoreSpec(customers=50, subscribers=20, orders=80, products=10, seed=4)
    three = create_app([other]).test_client().get("/_emulator/state").get_json()["stores"][0]
    assert one == two
    assert one["customers"] != three["customers"]


def test_api_serves_exactly_the_state(app, state):
    client = app.test_client()
    customers, calls = read_all_v3(client, "/v3/customers", "include=addresses,formfields,attributes,storecredit"
                                   "&sort=date_modified:asc")
    assert calls <= 41
    assert sorted(customers, key=lambda c: c["id"]) == state["customers"]
    modified = [c["date_modified"] for c in customers]
    assert modified == sorted(modified)
    subscribers, _ = read_all_v3(client, "/v3/customers/subscribers", "x=1")
    assert subscribers == state["subscribers"]
    products, _ = read_all_v3(client, "/v3/catalog/products", "x=1")
    assert products == state["products"]


def test_orders_with_line_items_in_at_most_41_calls(app, state):
    orders, calls = read_all_orders(app.test_client(), "include=consignments.line_items&consignment_structure=object"
                                    "&sort=date_modified:asc")
    listed = [o for o in state["orders"] if o["status_id"] != 0 and not o["is_deleted"]]
    assert calls <= 41 and len(orders) == len(listed)
    by_id = {o["id"]: o for o in listed}
    for order in orders:
        expected = by_id[order["id"]]
        lines = [i for c in order["consignments"]["shipping"] + order["consignments"]["downloads"] for i in c["line_items"]]
        assert sorted(lines, key=lambda i: i["id"]) == expected["products"]
        scalar = {k: v for k, v in order.items() if k not in ("products", "shipping_addresses", "coupons", "consignments")}
        assert scalar == {k: v for k, v in expected.items() if k not in ("products", "shipping_addresses")}
    hidden, _ = read_all_orders(app.test_client(), "status_id=0")
    archived, _ = read_all_orders(app.test_client(), "is_deleted=true")
    assert len(orders) + len(hidden) + len(archived) == len(state["orders"])


def test_store_has_the_variety_a_connector_must_handle(state):
    customers, orders, subscribers = state["customers"], state["orders"], state["subscribers"]
    assert {len(c["addresses"]) for c in customers} == {0, 1, 2, 3}
    assert any(f["name"] == "Fax" for c in customers for a in c["addresses"] for f in a["form_fields"])
    for customer in customers[:500]:
        for address in customer["addresses"]:
            codes = {s.name: s.code for s in pycountry.subdivisions.get(country_code=address["country_code"])}
            assert address["state_or_province"] in codes
    assert len({a["country_code"] for c in customers for a in c["addresses"]}) == len(STATES)
    assert any(not c["first_name"].isascii() or not c["last_name"].isascii() for c in customers)
    assert any(c["notes"] and not c["notes"].isascii() for c in customers)
    statuses = {o["status_id"] for o in orders}
    assert {0, 2, 5, 10, 11} <= statuses
    assert any(o["is_deleted"] for o in orders)
    guests = [o for o in orders if o["customer_id"] == 0]
    customer_emails = {c["email"] for c in customers}
    assert guests and not {o["billing_address"]["email"] for o in guests} & customer_emails
    assert all(o["products"] for o in orders)
    assert any(not o["shipping_addresses"] for o in orders) and any(len(o["shipping_addresses"]) == 2 for o in orders)
    checkout = [s for s in subscribers if s["order_id"]]
    by_order = {o["id"]: o for o in orders}
    assert checkout and all(by_order[s["order_id"]]["is_email_opt_in"] for s in checkout)
    assert all(by_order[s["order_id"]]["billing_address"]["email"] == s["email"] for s in checkout)
    assert any(s["consents"] == [] for s in subscribers)
    assert any(s["email"] not in customer_emails and not s["order_id"] for s in subscribers)
    opted_in_customers = [s for s in subscribers if s["email"] in customer_emails]
    assert opted_in_customers and len(opted_in_customers) < len(customers)
    assert len({s["email"] for s in subscribers}) == len(subscribers)
    assert {True, False} == {p["is_visible"] for p in state["products"]}


def test_filters_used_by_the_sync(app, state):
    client = app.test_client()
    pivot = sorted(c["date_modified"] for c in state["customers"])[4000]
    body = client.get(f"/stores/{STORE}/v3/customers?date_modified:min={pivot}&limit=250&sort=date_modified:asc",
                      headers=TOKEN).get_json()
    expected = [c for c in state["customers"] if c["date_modified"] >= pivot]
    assert body["meta"]["pagination"]["total"] == len(expected)
    wanted = state["customers"][10:13]
    emails = ",".join(c["email"].upper() for c in wanted)
    found = client.get(f"/stores/{STORE}/v3/customers?email:in={emails}", headers=TOKEN).get_json()["data"]
    assert [c["id"] for c in found] == [c["id"] for c in wanted]
    found = client.get(f"/stores/{STORE}/v3/customers?id:in=3,1,2", headers=TOKEN).get_json()["data"]
    assert [c["id"] for c in found] == [1, 2, 3]
    assert "addresses" not in found[0]
    orders = client.get(f"/stores/{STORE}/v2/orders?min_id=9990&limit=250", headers=TOKEN).get_json()
    assert orders and all(o["id"] >= 9990 for o in orders)
    visible = client.get(f"/stores/{STORE}/v3/catalog/products?is_visible=true&limit=250", headers=TOKEN).get_json()
    assert visible["meta"]["pagination"]["total"] == sum(p["is_visible"] for p in state["products"])
    bad = client.get(f"/stores/{STORE}/v3/customers?date_modified:min=yesterday", headers=TOKEN)
    assert bad.status_code == 422 and "date_modified" in bad.get_json()["errors"]


def test_mutations_bump_date_modified_and_show_everywhere():
    app = create_app([StoreSpec(customers=30, subscribers=10, orders=40, products=5)])
    client = app.test_client()
    new = client.post(f"/_emulator/stores/{STORE}/customers", json={"first_name": "Zoë", "email": "zoe@example.com"})
    assert new.status_code == 201
    cid = new.get_json()["data"]["id"]
    changed = client.put(f"/_emulator/stores/{STORE}/customers/3", json={"last_name": "Ødegård"}).get_json()["data"]
    newest = client.get(f"/stores/{STORE}/v3/customers?sort=date_modified:desc&limit=2", headers=TOKEN).get_json()["data"]
    assert {c["id"] for c in newest} == {cid, 3}
    assert changed["date_modified"] >= newest[-1]["date_modified"]
    order = client.post(f"/_emulator/stores/{STORE}/orders", json={"customer_id": cid, "opt_in": True}).get_json()["data"]
    assert order["billing_address"]["email"] == "zoe@example.com" and order["is_email_opt_in"]
    subscriber = client.get(f"/stores/{STORE}/v3/customers/subscribers?email=zoe@example.com", headers=TOKEN).get_json()
    assert subscriber["data"][0]["order_id"] == order["id"] and subscriber["data"][0]["source"] == "order"
    client.put(f"/_emulator/stores/{STORE}/orders/{order['id']}", json={"status_id": 2})
    client.delete(f"/_emulator/stores/{STORE}/customers/{cid}")
    state = client.get("/_emulator/state").get_json()["stores"][0]
    assert cid not in {c["id"] for c in state["customers"]}
    assert next(o for o in state["orders"] if o["id"] == order["id"])["status"] == "Shipped"
    assert client.get(f"/stores/{STORE}/v2/orders/{order['id']}", headers=TOKEN).get_json()["status_id"] == 2
    activity = client.post(f"/_emulator/stores/{STORE}/activity", json={"customers": 2, "orders": 3, "subscribers": 2})
    made = activity.get_json()["data"]
    assert len(made["customers"]) == 2 and len(made["orders"]) == 3 and len(made["subscribers"]) == 2
    summary = client.get("/_emulator/state?summary=1").get_json()["stores"][0]
    assert summary["customers"] == 30 + 2 and summary["orders"] == 40 + 1 + 3
    assert summary["subscribers"] >= 10 + 1 + 2
    counts = client.get("/_emulator/state?summary=1").get_json()["requests"]
    assert counts["GET /stores/{store_hash}/v3/customers"] == 1
    client.post("/_emulator/reset")
    assert client.get("/_emulator/state?summary=1").get_json()["stores"][0]["customers"] == 30


def test_deletions_leave_a_tombstone_and_activity_deletes_in_turn():
    app = create_app([StoreSpec(customers=30, subscribers=10, orders=40, products=5)])
    client = app.test_client()
    before = len(client.get("/_emulator/state").get_json()["stores"][0]["subscribers"])
    gone = client.get(f"/stores/{STORE}/v3/customers/subscribers?limit=1", headers=TOKEN).get_json()["data"][0]
    assert client.delete(f"/stores/{STORE}/v3/customers/subscribers/{gone['id']}", headers=TOKEN).status_code == 204
    made = client.post(f"/_emulator/stores/{STORE}/activity",
                       json={"customers": 0, "orders": 0, "subscribers": 0, "deletions": 2}).get_json()["data"]
    assert len(made["deleted_customers"]) == 1 and len(made["deleted_subscribers"]) == 1
    state = client.get("/_emulator/state").get_json()["stores"][0]
    assert [(d["kind"], d["id"]) for d in state["deleted"]] == [
        ("subscriber", gone["id"]), ("subscriber", made["deleted_subscribers"][0]),
        ("customer", made["deleted_customers"][0])]
    assert state["deleted"][0]["email"] == gone["email"] and state["deleted"][0]["deleted_at"].endswith("Z")
    assert made["deleted_customers"][0] not in {c["id"] for c in state["customers"]}
    assert len(state["subscribers"]) == before - 2
    client.post("/_emulator/reset")
    assert client.get("/_emulator/state").get_json()["stores"][0]["deleted"] == []
