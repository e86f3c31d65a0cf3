"""One emulated store: its customers, subscribers, orders, products, brands, categories and
hooks, behind one lock.

Generated records come from ``generator``/``order_generator``; records changed through the
emulator are kept whole in the tables' overrides. ``snapshot()`` returns exactly the objects
the API serves, so tools can compare what a client read with what the store holds.
"""

from __future__ import annotations

import hashlib
import random
import threading
from array import array
from collections.abc import Iterator

from emulators.common import derive_rng, derive_seed

from . import catalog, generator, order_generator, pools
from .formats import parse_date
from .generator import HISTORY_ENDS_AT, OPENED_AT, SPAN, StoreSpec, mix64
from .table import LazyTable

ORDER_ARCHIVED, ORDER_GUEST = 1, 2


class Store:
    """All data of one store; take ``store.lock`` around any read or change."""

    def __init__(self, spec: StoreSpec) -> None:
        self.spec = spec
        self.lock = threading.RLock()
        for country in pools.LOCALES:  # build the word pools now, not during a timed request
            pools.locale_pool(country)
        created, modified, self.address_counts = generator.customer_indexes(spec)
        self.customers = LazyTable(self._build_customer, created, modified)
        created, modified, self.order_status, self.order_flags = generator.order_indexes(spec)
        self.orders = LazyTable(self._build_order, created, modified)
        self._link_subscribers()
        self.products = self._generate_products()
        self.brands: tuple[dict, ...] = catalog.brands(spec)  # read-only: no mutation endpoints
        self.categories: tuple[dict, ...] = catalog.categories(spec)
        self.hooks: dict[int, dict] = {}
        # customers and subscribers deleted since the store was made: what a checker needs to
        # tell a deletion from a record that never was (``mutations.delete_*``)
        self.deleted: list[dict] = []
        self.next_hook_id = 18_048_287
        self.next_address_id = 1_500_000_000
        self._watch_changes()

    # ------------------------------------------------------------------ generation
    def _build_customer(self, cid: int) -> dict:
        return generator.customer(self.spec, cid, self.customers.created[cid],
                                  self.customers.modified[cid], self.address_counts[cid])

    def _build_order(self, oid: int) -> dict:
        return order_generator.order(self.spec, oid, self.orders.created[oid], self.orders.modified[oid],
                                     self.order_status[oid], self.order_flags[oid], oid in self.opt_in_orders)

    def _build_subscriber(self, sid: int) -> dict:
        kind, target = self.subscriber_links[sid]
        if kind == "customer":
            person = generator.customer_contact(self.spec, target)
        elif kind == "order":
            person = generator.guest(self.spec, self._guest_person(target))
        else:
            who = generator.guest(self.spec, -sid)
            person = {**who, "email": generator.email_for(who["first_name"], who["last_name"], f"_s{sid}",
                                                          who["email"].split("@")[1])}
        return order_generator.subscriber(self.spec, sid, (kind, target), self.subscribers.created[sid],
                                          self.subscribers.modified[sid], person)

    def _guest_person(self, oid: int) -> int:
        # The first draw of an order's RNG picks its guest (see order_generator._buyer).
        return derive_rng(self.spec.seed, "order", oid).randrange(max(1, self.spec.orders // 6))

    def _link_subscribers(self) -> None:
        """Decide who each subscriber is: half store customers (every tenth of all records
        unsubscribed), a fifth checkout opt-ins from guest orders (with ``order_id``), the
        rest strangers who used the signup form."""
        spec, rng = self.spec, derive_rng(self.spec.seed, "subscriber-links")
        kinds = ["customer" if sid % 10 in (0, 1, 2, 3, 4, 9) else "order" if sid % 10 in (7, 8) else "none"
                 for sid in range(spec.subscribers + 1)]
        customers = iter(rng.sample(range(1, spec.customers + 1), min(spec.customers, kinds.count("customer"))))
        guest_orders = [oid for oid in range(1, spec.orders + 1)
                        if self.order_flags[oid] == ORDER_GUEST and self.order_status[oid] != 0]
        rng.shuffle(guest_orders)
        guest_orders_iter, used_people = iter(guest_orders), set()
        self.subscriber_links: list[tuple[str, int]] = [("none", 0)]
        self.opt_in_orders: dict[int, int] = {}
        created, modified = array("q", [0]), array("q", [0])
        base = derive_seed(spec.seed, "subscriber-index")
        for sid in range(1, spec.subscribers + 1):
            h = mix64(base ^ sid)
            link, born = ("none", 0), OPENED_AT + h % SPAN
            if kinds[sid] == "customer":
                cid = next(customers, None)
                if cid:
                    link, born = ("customer", cid), self.customers.created[cid] + (h & 0x3FFFF)
            elif kinds[sid] == "order":
                for oid in guest_orders_iter:
                    person = self._guest_person(oid)
                    if person not in used_people:
                        used_people.add(person)
                        link, born = ("order", oid), self.orders.created[oid]
                        self.opt_in_orders[oid] = sid
                        break
            self.subscriber_links.append(link)
            born = min(born, HISTORY_ENDS_AT)
            created.append(born)
            modified.append(born if h & 0x100000 else born + (h >> 21) % (HISTORY_ENDS_AT - born + 1))
        self.subscribers = LazyTable(self._build_subscriber, created, modified)

    def _generate_products(self) -> LazyTable:
        count = self.spec.products
        created, modified = array("q", [0]) * (count + 1), array("q", [0]) * (count + 1)
        table = LazyTable(lambda pid: generator.product(self.spec, pid), created, modified)
        for pid in range(1, count + 1):
            record = generator.product(self.spec, pid)
            created[pid] = _epoch_of_iso(record["date_created"])
            modified[pid] = _epoch_of_iso(record["date_modified"])
        return table

    # ------------------------------------------------------------------ lookups
    # Generated e-mails carry their owner's number (``first.last{customer id}@``,
    # ``…_g{guest}@``, ``…_s{subscriber id}@``), so an e-mail lookup is a parse, a few candidate
    # records and a check of each; records changed through the emulator are found through maps
    # of the changed records' e-mails, kept up to date by table listeners.
    def _watch_changes(self) -> None:
        self._customer_emails: dict[str, set[int]] = {}  # lower-cased, changed customers only
        self._subscriber_emails: dict[str, set[int]] = {}  # lower-cased, changed subscribers only
        self._order_emails: dict[str, set[int]] = {}  # exact billing e-mail, changed orders only
        self._order_customers: dict[int, set[int]] = {}  # customer id, changed orders only
        self._guest_orders: dict[int, list[int]] | None = None  # guest number -> generated orders
        self._customer_orders: dict[int, list[int]] | None = None  # customer id -> generated orders
        self._subscriber_people: tuple[dict[int, int], dict[int, int]] | None = None
        self._subscriber_sources: dict[str, set[int]] | None = None  # source -> ids, built on first use

        def watch(mapping: dict, value_of):
            def listener(record_id: int, old: dict | None, new: dict | None) -> None:
                if old is not None:
                    ids = mapping.get(value_of(old))
                    if ids is not None:
                        ids.discard(record_id)
                        if not ids:
                            del mapping[value_of(old)]
                if new is not None:
                    mapping.setdefault(value_of(new), set()).add(record_id)
            return listener

        self.customers.listeners.append(watch(self._customer_emails, lambda r: r["email"].lower()))
        self.subscribers.listeners.append(watch(self._subscriber_emails, lambda r: r["email"].lower()))
        self.orders.listeners.append(watch(self._order_emails, lambda r: r["billing_address"]["email"]))
        self.orders.listeners.append(watch(self._order_customers, lambda r: r["customer_id"]))

    @staticmethod
    def _owner_number(email: str) -> tuple[str, int] | None:
        """("customer", id), ("guest", number) or ("subscriber", id) from a generated e-mail's tag."""
        local = email.split("@")[0]
        digits = len(local)
        while digits and local[digits - 1].isdigit():
            digits -= 1
        if digits == len(local):
            return None
        number = int(local[digits:])
        if local[:digits].endswith("_g"):
            return "guest", number
        if local[:digits].endswith("_s"):
            return "subscriber", number
        return "customer", number

    def customer_ids_by_email(self, emails: set[str]) -> set[int]:
        """Customer ids for e-mails (case-insensitive), via the id embedded in generated e-mails."""
        found = set()
        for email in emails:
            found |= self._customer_emails.get(email, set())
            owner = self._owner_number(email)
            if owner and owner[0] == "customer" and owner[1] < self.customers.next_id:
                record = self.customers.get(owner[1])
                if record and record["email"].lower() == email:
                    found.add(owner[1])
        return found

    def subscriber_ids_by_source(self, source: str) -> set[int]:
        """Subscribers whose ``source`` is this (``order``, ``storefront``...): built once by
        reading every subscriber, then kept up to date by a table listener, so a listing
        filtered by source (the host's checkout opt-ins) does not build every record per page."""
        if self._subscriber_sources is None:
            table, by_source = self.subscribers, {}
            for record_id in range(1, table.next_id):
                if table.exists(record_id):
                    by_source.setdefault(table.get(record_id)["source"] or "", set()).add(record_id)

            def listener(record_id: int, old: dict | None, new: dict | None) -> None:
                if old is not None:
                    by_source.get(old["source"] or "", set()).discard(record_id)
                if new is not None:
                    by_source.setdefault(new["source"] or "", set()).add(record_id)

            table.listeners.append(listener)
            self._subscriber_sources = by_source
        return self._subscriber_sources.get(source, set())

    def subscriber_id_by_email(self, email: str) -> int | None:
        """The subscriber with this e-mail (case-insensitive); the highest id if several."""
        email = email.lower()
        candidates = set(self._subscriber_emails.get(email, ()))
        owner = self._owner_number(email)
        if owner:
            kind, number = owner
            if kind == "subscriber":
                candidates.add(number)
            else:
                by_customer, by_guest = self._subscriber_people_maps()
                found = (by_customer if kind == "customer" else by_guest).get(number)
                if found:
                    candidates.add(found)
        table = self.subscribers
        matches = [sid for sid in candidates
                   if table.exists(sid) and table.get(sid)["email"].lower() == email]
        return max(matches) if matches else None

    def _subscriber_people_maps(self) -> tuple[dict[int, int], dict[int, int]]:
        """Generated subscribers by the customer id / guest number their e-mail carries."""
        if self._subscriber_people is None:
            by_customer, by_order = {}, {}
            for sid, (kind, target) in enumerate(self.subscriber_links):
                if kind == "customer":
                    by_customer[target] = sid
                elif kind == "order":
                    by_order[target] = sid
            people = max(1, self.spec.orders // 6)
            by_guest = {person: by_order[oid] for oid, person in self._first_draws(by_order, lambda _oid: people)}
            self._subscriber_people = (by_customer, by_guest)
        return self._subscriber_people

    def order_ids_by_email(self, email: str) -> set[int]:
        """Orders whose billing e-mail is exactly ``email`` (the ``/v2/orders?email=`` filter)."""
        table = self.orders
        found = {oid for oid in self._order_emails.get(email, ()) if table.exists(oid)}
        owner = self._owner_number(email.lower())
        generated: list[int] = []
        kind, number = owner or ("", 0)
        if kind == "guest" and 0 <= number < max(1, self.spec.orders // 6):
            if generator.guest(self.spec, number)["email"] == email:
                generated = self.guest_order_map().get(number, [])
        elif (kind == "customer" and 0 < number <= self.spec.customers
              and generator.customer_contact(self.spec, number)["email"] == email):
            generated = self.customer_order_map().get(number, [])
        found.update(oid for oid in generated if oid not in table.overrides)
        return found

    def order_ids_by_customer(self, customer_id: int) -> set[int]:
        """Orders of store customer ``customer_id`` (> 0)."""
        table = self.orders
        found = {oid for oid in self._order_customers.get(customer_id, ()) if table.exists(oid)}
        found.update(oid for oid in self.customer_order_map().get(customer_id, [])
                     if oid not in table.overrides)
        return found

    def _first_draws(self, oids, bound) -> Iterator[tuple[int, int]]:
        """``(oid, derive_rng(seed, "order", oid).randrange(bound(oid)))`` for many orders, with
        one reseeded ``Random`` instead of a new one per order (a quarter faster, same draws)."""
        rng, sha, prefix = random.Random(), hashlib.sha256, f"{self.spec.seed}:order:"
        for oid in oids:
            rng.seed(int.from_bytes(sha(f"{prefix}{oid}".encode()).digest()[:8], "big"))
            yield oid, rng.randrange(bound(oid))

    def guest_order_map(self) -> dict[int, list[int]]:
        """Generated guest orders by guest number (built on first use: one draw per guest order)."""
        if self._guest_orders is None:
            found: dict[int, list[int]] = {}
            flags, people = self.order_flags, max(1, self.spec.orders // 6)
            guests = (oid for oid in range(1, self.spec.orders + 1) if flags[oid] & ORDER_GUEST)
            for oid, person in self._first_draws(guests, lambda _oid: people):
                found.setdefault(person, []).append(oid)
            self._guest_orders = found
        return self._guest_orders

    def customer_order_map(self) -> dict[int, list[int]]:
        """Generated customer orders by customer id (built on first use: one draw per order,
        about 8 µs each; see ``order_generator._buyer``)."""
        if self._customer_orders is None:
            found: dict[int, list[int]] = {}
            spec, flags, created = self.spec, self.order_flags, self.orders.created
            customers = spec.customers

            def newest(oid: int) -> int:  # as order_generator._buyer bounds the draw
                return max(1, min(customers, customers * (created[oid] - OPENED_AT) // SPAN))

            buyers = (oid for oid in range(1, spec.orders + 1) if not flags[oid] & ORDER_GUEST)
            for oid, draw in self._first_draws(buyers, newest):
                found.setdefault(1 + draw, []).append(oid)
            self._customer_orders = found
        return self._customer_orders

    def order_is_listed_by_default(self, oid: int) -> bool:
        """Default ``/v2/orders`` view: neither Incomplete (status 0) nor archived. UNCONFIRMED."""
        return self.order_status[oid] != 0 and not self.order_flags[oid] & ORDER_ARCHIVED

    # ------------------------------------------------------------------ snapshot
    def snapshot(self, summary: bool = False) -> dict:
        """The store as ``/_emulator/state`` shows it. Records are shared, not copied: stored
        records are never changed in place (a change replaces the whole record)."""
        head = {"store_hash": self.spec.store_hash, "name": self.spec.name, "store_id": self.spec.store_id}
        if summary:
            return head | {
                "customers": len(self.customers), "subscribers": len(self.subscribers),
                "orders": len(self.orders), "products": len(self.products), "hooks": len(self.hooks),
                "brands": len(self.brands), "categories": len(self.categories),
            }
        tables = {"customers": self.customers, "subscribers": self.subscribers,
                  "orders": self.orders, "products": self.products}
        body = {name: [t.get(i) for i in t.ordered()] for name, t in tables.items()}
        extras = ("images", "variants", "custom_fields")
        body["products"] = [{k: v for k, v in p.items() if k not in extras} for p in body["products"]]
        body["hooks"] = [dict(h) for h in self.hooks.values()]
        body["brands"], body["categories"] = list(self.brands), list(self.categories)
        body["deleted"] = [dict(d) for d in self.deleted]
        return head | body


def _epoch_of_iso(text: str) -> int:
    return parse_date(text)
