"""A tiny in-test Example Shop API: the platform truth the example source is checked against.

It holds a few dozen generated records (Faker, seeded) in the API's own shape, lists them the
way docs/examples/example_shop describes (ascending ``updated_at``, ``updated_since``, ``ids``,
``page``/``limit`` capped at ``max_limit``, a ``next`` link) and can be told to fail.
"""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlencode

from faker import Faker
from flask import Flask, jsonify, request

SHOP = "acme"
API_KEY = "es-test-key-7c1d"
STATES = [("California", "CA"), ("New York", "NY"), ("Texas", "TX"), ("Oregon", "OR")]


def stamp(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse(value: str) -> datetime:
    parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


class FakeShop:
    def __init__(self, seed: int = 8, max_limit: int = 7) -> None:
        self.fake = Faker("en_US")
        self.fake.seed_instance(seed)
        self.api_key = API_KEY  # the key the shop accepts; ``revoke_key`` changes it
        self.max_limit = max_limit  # the API caps ``limit``: pages are shorter than asked
        self.start = datetime.now(UTC).replace(microsecond=0) - timedelta(days=40)
        self.faults: list[tuple[int, dict[str, str]]] = []  # answered next, one per request
        self.failing_status: int | None = None  # answered to every request while set
        self.forbidden: set[str] = set()  # resources the key may not read
        self.requests: list[str] = []  # the full path of every call, query included
        self.resources: dict[str, dict[int, dict[str, Any]]] = {
            "customers": {},
            "subscribers": {},
            "orders": {},
            "products": {},
        }
        self._generate()
        self.app = self._build_app()

    # ------------------------------------------------------------------ generated records
    def _moment(self, index: int) -> str:
        return stamp(self.start + timedelta(hours=7 * index))

    def address(self, first: str, last: str) -> dict[str, Any]:
        state, code = self.fake.random_element(STATES)
        return {
            "first_name": first,
            "last_name": last,
            "company": "",
            "line1": self.fake.street_address(),
            "line2": "",
            "city": self.fake.city(),
            "state": state,
            "state_code": code,
            "postcode": self.fake.postcode(),
            "country": "United States",
            "country_code": "US",
            "phone": self.fake.numerify("555-###-####"),
        }

    def _generate(self) -> None:
        for number in range(1, 13):
            self.add(
                "products",
                title=self.fake.catch_phrase(),
                sku=f"SKU-{number:03d}",
                price=f"{self.fake.random_int(5, 200)}.00",
                published=number % 5 != 0,
                created_at=self._moment(number),
                updated_at=self._moment(number + 1),
            )
        for number in range(1, 25):
            first, last = self.fake.first_name(), self.fake.last_name()
            self.add(
                "customers",
                email=f"{first}.{last}.{number}@example.com".lower(),
                first_name=first,
                last_name=last,
                company=self.fake.company() if number % 3 == 0 else None,
                phone=self.fake.numerify("555-###-####"),
                note="Prefers email" if number % 4 == 0 else "",
                addresses=[] if number % 6 == 0 else [self.address(first, last)],
                created_at=self._moment(number),
                updated_at=self._moment(number + (number % 2)),  # some share a timestamp
            )
        customers = list(self.resources["customers"].values())
        for number in range(1, 31):
            buyer = customers[number % len(customers)] if number % 4 else None
            email = buyer["email"] if buyer else f"guest{number % 5}@example.net"
            first, last = (buyer["first_name"], buyer["last_name"]) if buyer else ("Guest", "Buyer")
            product = self.resources["products"][1 + number % 12]
            self.add(
                "orders",
                customer_id=buyer["id"] if buyer else None,
                email=email,
                status="abandoned" if number % 9 == 0 else "paid",
                archived=number % 11 == 0,
                currency="USD",
                total=product["price"],
                payment_method="card",
                billing_address=self.address(first, last),
                shipping_address=self.address(first, last),
                items=[
                    {
                        "product_id": product["id"],
                        "sku": product["sku"],
                        "name": product["title"],
                        "quantity": 1,
                        "unit_price": product["price"],
                        "total": product["price"],
                    }
                ],
                created_at=self._moment(30 + number),
                updated_at=self._moment(31 + number),
            )
        for number in range(1, 17):
            email = customers[number]["email"] if number % 2 else f"reader{number}@example.org"
            self.add(
                "subscribers",
                email=email,
                status="unsubscribed" if number % 5 == 0 else "subscribed",
                source="signup_form",
                consent={"ip": self.fake.ipv4(), "page_url": "https://acme.example/newsletter"},
                created_at=self._moment(20 + number),
                updated_at=self._moment(20 + number),
            )

    def add(self, resource: str, **fields: Any) -> dict[str, Any]:
        table = self.resources[resource]
        record = {"id": max(table, default=0) + 1, **fields}
        now = stamp(datetime.now(UTC))
        record.setdefault("created_at", now)
        record.setdefault("updated_at", now)
        table[record["id"]] = record
        return record

    def change(self, resource: str, record_id: int, **fields: Any) -> None:
        """Change a record as the shop would: its ``updated_at`` moves to now."""
        self.resources[resource][record_id].update(fields, updated_at=stamp(datetime.now(UTC)))

    def revoke_key(self) -> None:
        """The merchant revoked the key in the shop's admin: every call with it is refused."""
        self.api_key = "es-another-key"

    # ------------------------------------------------------------------ the API
    def _build_app(self) -> Flask:
        app = Flask("fake_example_shop")

        @app.get("/shops/<shop>")
        @app.get("/shops/<shop>/<resource>")
        def answer(shop: str, resource: str | None = None):
            self.requests.append(request.full_path)
            if self.faults:
                status, headers = self.faults.pop(0)
                return jsonify(error={"message": "slow down"}), status, headers
            if self.failing_status:
                return jsonify(error={"message": "unavailable"}), self.failing_status
            if request.headers.get("X-Api-Key") != self.api_key:
                return jsonify(error={"message": "invalid API key"}), 401
            if shop != SHOP or (resource and resource not in self.resources):
                return jsonify(error={"message": "not found"}), 404
            if resource is None:
                return jsonify(
                    data={"id": SHOP, "name": "Acme Goods", "url": "https://acme.example"}
                )
            if resource in self.forbidden:
                return jsonify(error={"message": "missing permission"}), 403
            return jsonify(self.listing(resource))

        return app

    def listing(self, resource: str) -> dict[str, Any]:
        rows = sorted(
            self.resources[resource].values(), key=lambda r: (parse(r["updated_at"]), r["id"])
        )
        if request.args.get("updated_since"):
            since = parse(request.args["updated_since"])
            rows = [row for row in rows if parse(row["updated_at"]) >= since]
        if request.args.get("ids"):
            wanted = {int(value) for value in request.args["ids"].split(",")}
            rows = [row for row in rows if row["id"] in wanted]
        limit = min(int(request.args.get("limit", 20)), self.max_limit)
        page = int(request.args.get("page", 1))
        pages = max(1, math.ceil(len(rows) / limit))
        query = urlencode({**request.args.to_dict(), "page": page + 1})
        return {
            "data": rows[(page - 1) * limit : page * limit],
            "meta": {"page": page, "pages": pages, "total": len(rows)},
            "links": {"next": f"{request.base_url}?{query}" if page < pages else None},
        }
