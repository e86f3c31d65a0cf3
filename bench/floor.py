"""The floor of a backfill: what any client must spend to move a store's data, with no host.

``measure_floor`` fetches every page a backfill needs (customers, subscribers, orders with their
line items, products, brand and category names) at the largest page size, decodes it, and sends
the same people, orders and products to Engagement Cloud in the largest imports the API takes
(50 MB bodies), each polled until it finished — with no ledger, no profiles, no validation, no
mapping beyond what the import format needs. It writes to an account of its own, so the host's
account is untouched. ``bench/sync_end_to_end.py`` runs it beside the host on the same emulators:
the host's wall minus this floor is the host's own overhead.

The counts it answers also give the minimum calls of each API: BigCommerce, one call per page of
250 (a v2 listing whose last page is full needs one more, answered 204); Engagement Cloud, one
import per 50 MB of each book and collection, each with one submit and one status call.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field

import orjson
import requests

PAGE = 250
MAX_IMPORT_BYTES = 50 * 1024 * 1024  # reference §4.4 and §7.2: a body of at most 50 MB
FLOOR_USER, FLOOR_PASSWORD = "apiuser-floor@apiconnector.com", "floor-password"
BOOKS = ("Floor customers", "Floor subscribers")


@dataclass
class Floor:
    seconds: float = 0.0
    bc_calls: int = 0
    records: dict[str, int] = field(default_factory=dict)  # stream → records read
    import_bytes: dict[str, int] = field(default_factory=dict)  # book / collection → bytes sent
    imports: int = 0

    @property
    def bc_minimum(self) -> int:
        return self.bc_calls  # the floor reads every page once, at the largest size

    @property
    def ec_minimum(self) -> int:
        """One submit and one status call per import of at most 50 MB per book and collection."""
        return 2 * sum(math.ceil(size / MAX_IMPORT_BYTES) for size in self.import_bytes.values() if size)


class _Store:
    def __init__(self, base_url: str, store_hash: str, token: str, floor: Floor):
        self.session = requests.Session()
        self.session.headers.update({"X-Auth-Token": token, "Accept": "application/json"})
        self.base = f"{base_url}/stores/{store_hash}"
        self.floor = floor

    def get(self, path: str, params: dict) -> requests.Response:
        self.floor.bc_calls += 1
        response = self.session.get(self.base + path, params=params, timeout=120)
        response.raise_for_status()
        return response

    def v3(self, path: str, **params) -> list[dict]:
        rows, page = [], 1
        while True:
            body = orjson.loads(self.get(path, {**params, "page": page, "limit": PAGE}).content)
            rows.extend(body["data"])
            pagination = body["meta"]["pagination"]
            if pagination["current_page"] >= pagination["total_pages"]:
                return rows
            page += 1

    def v2(self, path: str, **params) -> list[dict]:
        rows, page = [], 1
        while True:
            response = self.get(path, {**params, "page": page, "limit": PAGE})
            batch = orjson.loads(response.content) if response.status_code != 204 and response.content else []
            rows.extend(batch)
            if len(batch) < PAGE:
                return rows
            page += 1


class _Account:
    def __init__(self, base_url: str, floor: Floor):
        self.session = requests.Session()
        self.session.auth = (FLOOR_USER, FLOOR_PASSWORD)
        self.session.headers["Content-Type"] = "application/json"
        self.base = base_url
        self.floor = floor

    def books(self) -> dict[str, int]:
        answer = self.session.get(f"{self.base}/v2/address-books", timeout=60)
        answer.raise_for_status()
        return {book["name"]: book["id"] for book in answer.json()}

    def run_import(self, what: str, path: str, envelope: dict, key: str, items: list[dict]) -> None:
        """Send ``items`` in imports of at most 50 MB each, each polled until it ends."""
        encoded = [orjson.dumps(item) for item in items]
        head = orjson.dumps({**envelope, key: []})[:-3]  # up to the list, without its "[]}"
        start = 0
        while start < len(encoded):
            size, end = len(head) + 2, start
            while end < len(encoded) and size + len(encoded[end]) + 1 <= MAX_IMPORT_BYTES:
                size += len(encoded[end]) + 1
                end += 1
            body = head + b"[" + b",".join(encoded[start:end]) + b"]}"
            self.floor.import_bytes[what] = self.floor.import_bytes.get(what, 0) + len(body)
            self.floor.imports += 1
            answer = self.session.put(f"{self.base}{path}", data=body, timeout=300)
            if answer.status_code != 202:
                raise RuntimeError(f"{what}: import refused: {answer.status_code} {answer.text[:500]}")
            import_id = answer.json()["importId"]
            while True:
                status = self.session.get(f"{self.base}{path}/{import_id}", timeout=60).json()
                if status.get("status") in ("Finished", "Failed", "RejectedByWatchdog"):
                    break
                time.sleep(0.02)
            start = end


def _contact(email: str, first: str | None, last: str | None, book: int) -> dict:
    return {"matchIdentifier": "email", "identifiers": {"email": email}, "lists": [book],
            "dataFields": {"FIRSTNAME": first or "", "LASTNAME": last or ""}}


def measure_floor(bigcommerce_url: str, engagement_cloud_url: str, store_hash: str, token: str) -> Floor:
    """Read the whole store and send it, as a client with no logic of its own would."""
    requests.post(
        f"{engagement_cloud_url}/_emulator/accounts",
        json={"api_user": FLOOR_USER, "password": FLOOR_PASSWORD, "address_books": list(BOOKS)},
        timeout=60,
    )  # already there on a second run: the same account is reused
    floor = Floor()
    store, account = _Store(bigcommerce_url, store_hash, token, floor), _Account(
        f"{engagement_cloud_url}/r1", floor
    )
    started = time.perf_counter()
    customers = store.v3("/v3/customers", include="addresses,formfields", sort="date_modified:asc")
    subscribers = store.v3("/v3/customers/subscribers")
    orders = store.v2("/v2/orders", include="consignments.line_items", consignment_structure="object",
                      sort="date_modified:asc")
    products = store.v3("/v3/catalog/products", include="images", sort="date_modified", direction="asc")
    brands = store.v3("/v3/catalog/brands", include_fields="name")
    categories = store.v3("/v3/catalog/categories", include_fields="name")
    floor.records = {"customers": len(customers), "subscribers": len(subscribers), "orders": len(orders),
                     "products": len(products), "brands and categories": len(brands) + len(categories)}

    books = account.books()
    customers_book, subscribers_book = books[BOOKS[0]], books[BOOKS[1]]
    people = {c["email"].lower(): _contact(c["email"], c.get("first_name"), c.get("last_name"), customers_book)
              for c in customers}
    for order in orders:  # guests: the people of orders without an account
        billing = order.get("billing_address") or {}
        email = (billing.get("email") or "").lower()
        if email and not order.get("customer_id") and email not in people:
            people[email] = _contact(email, billing.get("first_name"), billing.get("last_name"), customers_book)
    account.run_import("customers book", "/contacts/v3/import", {"mergeOption": "overwrite"}, "contacts",
                       list(people.values()))
    opted_in = [_contact(s["email"], s.get("first_name"), s.get("last_name"), subscribers_book)
                for s in subscribers if s.get("consents") is None or "marketing_newsletter" in s["consents"]]
    account.run_import("subscribers book", "/contacts/v3/import", {"mergeOption": "overwrite"}, "contacts",
                       opted_in)
    account.run_import(
        "Orders", "/insightData/v3/import",
        {"collectionName": "Orders", "collectionScope": "contact", "collectionType": "orders"}, "records",
        [{"key": str(order["id"]),
          "contactIdentity": {"identifier": "email", "value": (order.get("billing_address") or {}).get("email")},
          "json": {"id": order["id"], "total": order.get("total_inc_tax"), "status": order.get("status"),
                   "items": [line.get("name") for group in ((order.get("consignments") or {}).get("shipping") or [])
                             for line in group.get("line_items") or []]}}
         for order in orders if (order.get("billing_address") or {}).get("email")],
    )
    account.run_import(
        "Catalog_Default", "/insightData/v3/import",
        {"collectionName": "Catalog_Default", "collectionScope": "account", "collectionType": "catalog"},
        "records",
        [{"key": str(p["id"]), "json": {"name": p.get("name"), "price": p.get("price"), "sku": p.get("sku")}}
         for p in products if p.get("is_visible")],
    )
    floor.seconds = time.perf_counter() - started
    return floor
