"""The soak run's churn driver: a seeded random mix of store changes, made through the BigCommerce
emulator's ``/_emulator/stores/{hash}/...`` endpoints (each fires its webhooks, as the store would).

Every change is logged (``bench.soak_checks.Change``) with its time and connection period, so the
verdict can say who is due an enrolment without asking the host. Two rules keep that exact:

- an **unsubscribe** is made only for someone Engagement Cloud shows in the subscribers book, and
  a **resubscribe** only for someone it shows out of it (the latest ``/_emulator/state`` the soak
  polled), so every resubscribe follows a removal the product has seen: a new subscription
  episode by the product's rule;
- orders are **archived** only from the history, and order statuses never go to or from
  Incomplete except when a checkout abandoned in this connection period is completed; so the
  first order of an email is the same whenever it is looked at.
"""

from __future__ import annotations

import random
import time
from collections import Counter
from collections.abc import Callable
from typing import Any

import requests

from bench.soak_checks import Change
from demo import expected

COUNTING_STATUSES = (11, 11, 11, 10, 10, 2, 1, 9, 7)  # statuses of new orders (never 0)
STATUS_CHANGES = (1, 2, 3, 4, 5, 7, 8, 9, 10, 11, 12, 13, 14)  # every status but Incomplete
FIRST_NAMES = ("Ada", "Zoë", "Łukasz", "Ngozi", "Søren", "Maëlle", "Kenji", "Aoife", "José", "Priya")
LAST_NAMES = ("Lovelace", "O'Brien", "Nakamura", "Ødegaard", "García-Márquez", "Okafor", "Dubois", "Kowalski")
CITIES = (("Leeds", "LS1 4AP"), ("Lyon", "69002"), ("Austin", "78701"), ("Kraków", "31-042"), ("Cork", "T12 X70A"))

# How often each kind of change is picked (a kind with nothing to change is skipped).
WEIGHTS = {
    "new customer": 10,
    "first order (new customer)": 8,
    "guest first order": 10,
    "abandoned checkout": 3,
    "checkout completed": 3,
    "repeat order": 9,
    "order (store customer)": 5,
    "newsletter signup": 9,
    "unsubscribe": 6,
    "resubscribe": 5,
    "address change": 6,
    "name change": 6,
    "order status change": 8,
    "order archived": 3,
    "product hidden": 3,
    "product shown": 3,
}


class Churn:
    """Makes store changes and logs them; ``period`` is set by the soak at each (re)connection."""

    def __init__(self, bigcommerce_url: str, store_hash: str, seed: int, tag: str):
        self.base = f"{bigcommerce_url}/_emulator/stores/{store_hash}"
        self.state_url = f"{bigcommerce_url}/_emulator/state"
        self.store_hash = store_hash
        self.rng = random.Random(seed)
        self.tag = tag  # makes this run's emails unique
        self.period = 1
        self.log: list[Change] = []
        self.errors: Counter = Counter()
        self.serial = 0
        self.history_last_order = 0
        self.last_order_id = 0
        self.new_customers: dict[int, str] = {}  # id → email, created by this run
        self.abandoned: dict[int, tuple[str, int]] = {}  # order id → (email, period)
        self.actions: dict[str, Callable[[dict, set[str]], Change | None]] = {
            "new customer": self.new_customer,
            "first order (new customer)": self.first_order_of_new_customer,
            "guest first order": self.guest_first_order,
            "abandoned checkout": self.abandoned_checkout,
            "checkout completed": self.complete_checkout,
            "repeat order": self.repeat_order,
            "order (store customer)": self.store_customer_order,
            "newsletter signup": self.newsletter_signup,
            "unsubscribe": self.unsubscribe,
            "resubscribe": self.resubscribe,
            "address change": self.address_change,
            "name change": self.name_change,
            "order status change": self.order_status_change,
            "order archived": self.archive_order,
            "product hidden": lambda store, _: self.product_visibility(store, False),
            "product shown": lambda store, _: self.product_visibility(store, True),
        }

    # ------------------------------------------------------------------ driving
    def store(self) -> dict[str, Any]:
        response = requests.get(self.state_url, params={"store": self.store_hash}, timeout=120)
        response.raise_for_status()
        return response.json()["stores"][0]

    def remember_history(self) -> None:
        """Orders that exist before the churn starts are the history (the only ones archived)."""
        self.history_last_order = max((int(o["id"]) for o in self.store()["orders"]), default=0)

    def tick(self, changes: int, subscribers_book: set[str] | None) -> list[Change]:
        """Make ``changes`` changes; ``subscribers_book``: the emails Engagement Cloud last showed
        in the subscribers book (None: not known yet, no unsubscribe or resubscribe)."""
        made = []
        book = subscribers_book if subscribers_book is not None else set()
        kinds, weights = list(WEIGHTS), list(WEIGHTS.values())
        for _ in range(changes):
            store = self.store()  # each change sees the ones before it
            for _attempt in range(8):  # a kind with nothing to change: pick another
                kind = self.rng.choices(kinds, weights)[0]
                if kind in ("unsubscribe", "resubscribe") and subscribers_book is None:
                    continue
                try:
                    change = self.actions[kind](store, book)
                except requests.RequestException as error:
                    self.errors[f"{kind}: {type(error).__name__}"] += 1
                    change = None
                if change is not None:
                    self.log.append(change)
                    made.append(change)
                    break
        return made

    def by_kind(self) -> Counter:
        return Counter(change.kind for change in self.log)

    # ------------------------------------------------------------------ helpers
    def _email(self, label: str) -> str:
        self.serial += 1
        return f"soak.{self.tag}.{label}{self.serial}@example.net"

    def _call(self, method: str, path: str, body: dict | None = None) -> dict[str, Any] | None:
        response = requests.request(method, f"{self.base}/{path}", json=body, timeout=60)
        if response.status_code in (404, 409, 422):
            self.errors[f"{method} {path.split('/')[0]} {response.status_code}"] += 1
            return None
        response.raise_for_status()
        return response.json()["data"]

    def _change(self, kind: str, detail: str, **values: Any) -> Change:
        return Change(at=time.time(), kind=kind, period=self.period, detail=detail, **values)

    def _order(self, kind: str, body: dict[str, Any], email: str) -> Change | None:
        opt_in = self.rng.random() < 0.3 and kind in ("first order (new customer)", "guest first order")
        status = body.setdefault("status_id", self.rng.choice(COUNTING_STATUSES))
        order = self._call("POST", "orders", {**body, "opt_in": opt_in})
        if order is None:
            return None
        self.last_order_id = order["id"]
        counting = status != expected.INCOMPLETE_STATUS_ID
        return self._change(kind, f"order {order['id']} ({order['status']}){' with opt-in' if opt_in else ''}",
                            email=email, order_id=order["id"] if counting else None, opt_in=opt_in)

    @staticmethod
    def _orders_by_email(store: dict) -> dict[str, list[dict]]:
        found: dict[str, list[dict]] = {}
        for order in store["orders"]:
            if expected.counts(order):
                found.setdefault(expected.order_email(order), []).append(order)
        return found

    # ------------------------------------------------------------------ customers and orders
    def new_customer(self, store, _book) -> Change | None:
        customer = self._call("POST", "customers", {})
        if customer is None:
            return None
        self.new_customers[customer["id"]] = customer["email"].lower()
        return self._change("new customer", f"customer {customer['id']}", email=customer["email"].lower(),
                            trigger="new_customer")

    def first_order_of_new_customer(self, store, _book) -> Change | None:
        with_orders = {o.get("customer_id") for o in store["orders"]}
        waiting = [cid for cid in self.new_customers if cid not in with_orders]
        if not waiting:
            return None
        cid = self.rng.choice(waiting)
        return self._order("first order (new customer)", {"customer_id": cid}, self.new_customers[cid])

    def guest_first_order(self, store, _book) -> Change | None:
        email = self._email("guest")
        return self._order("guest first order", {"customer_id": 0, "billing_address": {"email": email}}, email)

    def abandoned_checkout(self, store, _book) -> Change | None:
        email = self._email("abandoned")
        change = self._order("abandoned checkout",
                             {"customer_id": 0, "status_id": 0, "billing_address": {"email": email}}, email)
        if change is not None:
            self.abandoned[self.last_order_id] = (email, self.period)
        return change

    def complete_checkout(self, store, _book) -> Change | None:
        """A checkout abandoned in this period is paid after all: its order starts to count."""
        now = [oid for oid, (_, period) in self.abandoned.items() if period == self.period]
        if not now:
            return None
        oid = self.rng.choice(now)
        email, _ = self.abandoned.pop(oid)
        order = self._call("PUT", f"orders/{oid}", {"status_id": 11})
        if order is None:
            return None
        return self._change("checkout completed", f"order {oid} Incomplete → {order['status']}",
                            email=email, order_id=oid)

    def repeat_order(self, store, _book) -> Change | None:
        """Someone who has ordered before orders again: a store account or a returning guest."""
        buyers = self._orders_by_email(store)
        if not buyers:
            return None
        email = self.rng.choice(sorted(buyers))
        last = buyers[email][-1]
        if last.get("customer_id"):
            body: dict[str, Any] = {"customer_id": last["customer_id"]}
        else:
            billing = last.get("billing_address") or {}
            body = {"customer_id": 0, "billing_address": {
                "email": billing.get("email"), "first_name": billing.get("first_name"),
                "last_name": billing.get("last_name")}}
        return self._order("repeat order", body, email)

    def store_customer_order(self, store, _book) -> Change | None:
        """Any store account orders (for some, their first order ever)."""
        if not store["customers"]:
            return None
        customer = self.rng.choice(store["customers"])
        return self._order("order (store customer)", {"customer_id": customer["id"]}, customer["email"].lower())

    def address_change(self, store, _book) -> Change | None:
        with_addresses = [c for c in store["customers"] if c.get("addresses")]
        if not with_addresses:
            return None
        customer = self.rng.choice(with_addresses)
        city, postcode = self.rng.choice(CITIES)
        addresses = [{"id": a["id"]} for a in customer["addresses"]]
        addresses[0].update(city=city, postal_code=f"{postcode}-{self.serial}")
        self.serial += 1
        if self._call("PUT", f"customers/{customer['id']}", {"addresses": addresses}) is None:
            return None
        return self._change("address change", f"customer {customer['id']}: {city}", email=customer["email"].lower())

    def name_change(self, store, _book) -> Change | None:
        if not store["customers"]:
            return None
        customer = self.rng.choice(store["customers"])
        first, last = self.rng.choice(FIRST_NAMES), self.rng.choice(LAST_NAMES)
        if self._call("PUT", f"customers/{customer['id']}", {"first_name": first, "last_name": last}) is None:
            return None
        return self._change("name change", f"customer {customer['id']}: {first} {last}", email=customer["email"].lower())

    def order_status_change(self, store, _book) -> Change | None:
        counting = [o for o in store["orders"] if expected.counts(o)]
        if not counting:
            return None
        order = self.rng.choice(counting)
        status = self.rng.choice([s for s in STATUS_CHANGES if s != order["status_id"]])
        changed = self._call("PUT", f"orders/{order['id']}", {"status_id": status})
        if changed is None:
            return None
        return self._change("order status change", f"order {order['id']}: {order['status']} → {changed['status']}",
                            email=expected.order_email(order))

    def archive_order(self, store, _book) -> Change | None:
        history = [o for o in store["orders"] if int(o["id"]) <= self.history_last_order and expected.counts(o)]
        if not history:
            return None
        order = self.rng.choice(history)
        if self._call("DELETE", f"orders/{order['id']}") is None:
            return None
        return self._change("order archived", f"order {order['id']}", email=expected.order_email(order))

    def product_visibility(self, store, visible: bool) -> Change | None:
        candidates = [p for p in store["products"] if bool(p.get("is_visible")) != visible]
        if not candidates:
            return None
        product = self.rng.choice(candidates)
        if self._call("PUT", f"products/{product['id']}", {"is_visible": visible}) is None:
            return None
        return self._change("product shown" if visible else "product hidden", f"product {product['id']}")

    # ------------------------------------------------------------------ subscribers
    def newsletter_signup(self, store, _book) -> Change | None:
        """A stranger signs up, or (a third of the time) a store customer with no subscriber record."""
        subscribed = {s["email"].lower() for s in store["subscribers"]}
        customers = [c for c in store["customers"] if c["email"].lower() not in subscribed]
        if customers and self.rng.random() < 0.33:
            customer = self.rng.choice(customers)
            email, first, last = customer["email"], customer.get("first_name", ""), customer.get("last_name", "")
        else:
            email, first, last = self._email("signup"), self.rng.choice(FIRST_NAMES), self.rng.choice(LAST_NAMES)
        subscriber = self._call("POST", "subscribers", {"email": email, "first_name": first, "last_name": last,
                                                        "consents": ["marketing_newsletter"]})
        if subscriber is None:
            return None
        return self._change("newsletter signup", f"subscriber {subscriber['id']}", email=email.lower(),
                            trigger="new_subscriber")

    def unsubscribe(self, store, book: set[str]) -> Change | None:
        """Only someone Engagement Cloud shows in the subscribers book (the product saw them subscribed)."""
        candidates = [s for s in store["subscribers"] if expected.is_opted_in(s) and s["email"].lower() in book]
        if not candidates:
            return None
        subscriber = self.rng.choice(candidates)
        if self._call("PUT", f"subscribers/{subscriber['id']}", {"consents": []}) is None:
            return None
        return self._change("unsubscribe", f"subscriber {subscriber['id']}", email=subscriber["email"].lower())

    def resubscribe(self, store, book: set[str]) -> Change | None:
        """Only someone Engagement Cloud shows out of the subscribers book: a new episode."""
        candidates = [s for s in store["subscribers"]
                      if not expected.is_opted_in(s) and s["email"].lower() not in book]
        if not candidates:
            return None
        subscriber = self.rng.choice(candidates)
        consents = ["marketing_newsletter"]
        if self._call("PUT", f"subscribers/{subscriber['id']}", {"consents": consents}) is None:
            return None
        return self._change("resubscribe", f"subscriber {subscriber['id']}", email=subscriber["email"].lower(),
                            trigger="new_subscriber")
