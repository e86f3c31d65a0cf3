"""The BigCommerce emulator's listing indexes: every filtered listing equals a walk over the
whole store, before and after changes (the indexes are updated record by record)."""

from __future__ import annotations

import random
from urllib.parse import quote

from emulators.bigcommerce import StoreSpec, create_app
from emulators.bigcommerce.formats import iso_z, parse_date, rfc2822
from emulators.bigcommerce.index import SortedKeys

from .bigcommerce_support import STORE, TOKEN

SPEC = StoreSpec(customers=300, subscribers=150, orders=700, products=30, seed=5)


def test_sorted_keys_behave_like_a_sorted_list():
    rng = random.Random(1)
    values = sorted(rng.sample(range(10**9), 5000))
    keys, mirror = SortedKeys(values), list(values)
    for step in range(6000):
        if rng.random() < 0.5 and mirror:
            gone = mirror.pop(rng.randrange(len(mirror)))
            assert keys.remove(gone)
            assert not keys.remove(gone)
        else:
            new = rng.randrange(10**9)
            if new not in mirror:
                keys.insert(new)
                mirror.append(new)
                mirror.sort()
        if step % 500 == 0:
            assert len(keys) == len(mirror)
            probe = rng.randrange(10**9)
            assert keys.position(probe) == sum(1 for v in mirror if v < probe)
            start = rng.randrange(len(mirror))
            assert keys.slice(start, start + 300) == mirror[start:start + 300]
    assert keys.slice(0, len(keys)) == mirror


def _ids(client, path: str) -> list[int]:
    """Every id of a listing, page by page (v2 answers 204 past the end)."""
    found, page = [], 1
    while True:
        sep = "&" if "?" in path else "?"
        response = client.get(f"/stores/{STORE}{path}{sep}limit=50&page={page}", headers=TOKEN)
        if response.status_code == 204:
            return found
        body = response.get_json()
        rows = body["data"] if isinstance(body, dict) else body
        found += [row["id"] for row in rows]
        if len(rows) < 50:
            return found
        page += 1


def _check_listings(client) -> None:
    state = client.get("/_emulator/state").get_json()["stores"][0]
    orders, customers, subscribers = state["orders"], state["customers"], state["subscribers"]
    rng = random.Random(len(orders))
    moment = parse_date(rng.choice(orders)["date_modified"])

    def by_modified(rows, descending=False):
        key = (lambda r: (-parse_date(r["date_modified"]), r["id"])) if descending else (
            lambda r: (parse_date(r["date_modified"]), r["id"]))
        return [r["id"] for r in sorted(rows, key=key)]

    listed = [o for o in orders if o["status_id"] != 0 and not o["is_deleted"]]
    since = quote(rfc2822(moment))
    assert _ids(client, "/v2/orders") == sorted(o["id"] for o in listed)
    assert _ids(client, f"/v2/orders?sort=date_modified:asc&min_date_modified={since}") == by_modified(
        [o for o in listed if parse_date(o["date_modified"]) >= moment])
    assert _ids(client, f"/v2/orders?sort=date_modified:desc&max_date_modified={since}") == by_modified(
        [o for o in listed if parse_date(o["date_modified"]) <= moment], descending=True)
    assert _ids(client, f"/v2/orders?customer_id=0&sort=date_modified:asc&min_date_modified={since}") == by_modified(
        [o for o in listed if o["customer_id"] == 0 and parse_date(o["date_modified"]) >= moment])
    assert _ids(client, f"/v2/orders?min_date_modified={since}") == sorted(
        o["id"] for o in listed if parse_date(o["date_modified"]) >= moment)
    archived = [o for o in orders if o["is_deleted"]]
    assert _ids(client, "/v2/orders?is_deleted=true&sort=date_modified:asc") == by_modified(archived)
    assert _ids(client, "/v2/orders?is_deleted=true&status_id=5") == sorted(
        o["id"] for o in archived if o["status_id"] == 5)
    assert _ids(client, "/v2/orders?status_id=0&sort=id:desc") == sorted(
        (o["id"] for o in orders if o["status_id"] == 0 and not o["is_deleted"]), reverse=True)
    for order in rng.sample(orders, 8):
        email = order["billing_address"]["email"]
        assert _ids(client, f"/v2/orders?email={quote(email)}&is_deleted=true") == sorted(
            o["id"] for o in archived if o["billing_address"]["email"] == email)
        assert _ids(client, f"/v2/orders?email={quote(email)}&sort=date_modified:asc") == by_modified(
            [o for o in listed if o["billing_address"]["email"] == email])
        if order["customer_id"]:
            assert _ids(client, f"/v2/orders?customer_id={order['customer_id']}") == sorted(
                o["id"] for o in listed if o["customer_id"] == order["customer_id"])
    at = iso_z(moment)
    assert _ids(client, f"/v3/customers?sort=date_modified:asc&date_modified:min={at}") == by_modified(
        [c for c in customers if parse_date(c["date_modified"]) >= moment])
    assert _ids(client, f"/v3/customers?date_modified:max={at}") == sorted(
        c["id"] for c in customers if parse_date(c["date_modified"]) <= moment)
    assert _ids(client, f"/v3/customers/subscribers?date_modified:min={at}") == sorted(
        s["id"] for s in subscribers if parse_date(s["date_modified"]) >= moment)
    for source in ("order", "storefront"):
        assert _ids(client, f"/v3/customers/subscribers?source={source}") == sorted(
            s["id"] for s in subscribers if s["source"] == source)
    for subscriber in rng.sample(subscribers, 5):
        found = _ids(client, f"/v3/customers/subscribers?email={quote(subscriber['email'].upper())}")
        same = [s["id"] for s in subscribers if s["email"].lower() == subscriber["email"].lower()]
        assert found == [max(same)]
    for customer in rng.sample(customers, 5):
        emails = quote(f"{customer['email'].upper()},nobody@example.com")
        assert _ids(client, f"/v3/customers?email:in={emails}") == [customer["id"]]


def test_listings_equal_a_walk_of_the_store_before_and_after_changes():
    client = create_app([SPEC]).test_client()
    _check_listings(client)  # builds the indexes
    rng = random.Random(7)
    base = f"/_emulator/stores/{STORE}"
    state = client.get("/_emulator/state").get_json()["stores"][0]
    guest_email = next(o["billing_address"]["email"] for o in state["orders"] if o["customer_id"] == 0)
    for step in range(60):
        roll = rng.random()
        if roll < 0.25:
            oid = rng.randrange(1, SPEC.orders + 1)
            change = rng.choice([{"status_id": rng.choice([0, 2, 5, 10])}, {"is_deleted": True},
                                 {"is_deleted": False}, {"billing_address": {"email": guest_email}}])
            assert client.put(f"{base}/orders/{oid}", json=change).status_code == 200
        elif roll < 0.4:
            body = rng.choice([{"customer_id": 0}, {"customer_id": rng.randrange(1, 50)},
                               {"customer_id": 0, "billing_address": {"email": guest_email}, "opt_in": True}])
            assert client.post(f"{base}/orders", json=body).status_code == 201
        elif roll < 0.55:
            cid = rng.randrange(1, SPEC.customers + 1)
            change = {"notes": f"n{step}"} | ({"email": f"moved{step}@example.com"} if step % 3 == 0 else {})
            client.put(f"{base}/customers/{cid}", json=change)
        elif roll < 0.65:
            client.delete(f"{base}/customers/{rng.randrange(1, SPEC.customers + 1)}")
        elif roll < 0.75:
            assert client.post(f"{base}/customers", json={}).status_code == 201
        elif roll < 0.85:
            sid = rng.randrange(1, SPEC.subscribers + 1)
            client.put(f"{base}/subscribers/{sid}", json={"first_name": "Q"} | (
                {"email": f"sub{step}@example.com"} if step % 2 else {"source": "order"}))
        elif roll < 0.92:
            client.delete(f"{base}/subscribers/{rng.randrange(1, SPEC.subscribers + 1)}")
        else:
            client.post(f"{base}/subscribers", json={"email": f"new{step}@example.com"})
        if step % 15 == 14:
            _check_listings(client)
