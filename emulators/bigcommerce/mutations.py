"""Changes to a store: each bumps ``date_modified`` to now and fires the matching webhooks.

Used by the ``/_emulator/stores/{hash}/...`` endpoints (tests, the demo) and by the public
subscriber writes. Fields not given are generated deterministically from the store seed and
the new id, so a new record looks like the generated ones.
"""

from __future__ import annotations

import copy
import time

from flask import Flask

from emulators.common import derive_rng

from . import generator, order_generator
from .formats import iso_offset, iso_z, rfc2822
from .store import ORDER_ARCHIVED, ORDER_GUEST, Store

CUSTOMER_WRITABLE = ("email", "first_name", "last_name", "company", "phone", "notes", "customer_group_id",
                     "registration_ip_address", "tax_exempt_category", "accepts_product_review_abandoned_cart_emails",
                     "form_fields", "addresses")
ADDRESS_WRITABLE = ("first_name", "last_name", "company", "address1", "address2", "city", "state_or_province",
                    "postal_code", "country", "country_code", "phone", "address_type", "form_fields")


SUBSCRIBER_WRITABLE = ("email", "first_name", "last_name", "source", "order_id", "channel_id", "consents")


class Conflict(ValueError):
    """The change would break a uniqueness rule (e.g. a subscriber e-mail)."""


def _now(table) -> int:
    return int(time.time())


def _publish(app: Flask, store: Store, events: list[tuple[str, dict]]) -> None:
    from .context import emulator

    for scope, data in events:
        emulator(app).dispatcher.publish(store, scope, data)


# --------------------------------------------------------------------------- customers
def _apply_addresses(store: Store, record: dict, given: list[dict], events: list) -> None:
    old = {a["id"]: a for a in record["addresses"]}
    result = []
    for entry in given:
        address = copy.deepcopy(old.get(entry.get("id"))) if entry.get("id") in old else None
        if address is None:
            address = generator.customer_address(store.spec, record, entry.get("country_code", "US"), 0, store.next_address_id)
            address["form_fields"] = [dict(f, address_id=store.next_address_id) for f in address["form_fields"]]
            store.next_address_id += 1
            scope = "store/customer/address/created"
        else:
            scope = "store/customer/address/updated"
        address.update({k: v for k, v in entry.items() if k in ADDRESS_WRITABLE})
        if "country_code" in entry and "country" not in entry:
            from .pools import COUNTRY_NAMES

            address["country"] = COUNTRY_NAMES.get(entry["country_code"], entry["country_code"])
        result.append(address)
        if scope.endswith("created") or address != old.get(address["id"]):
            events.append((scope, {"type": "customer", "id": address["id"], "address": {"customer_id": record["id"]}}))
    for gone in set(old) - {a["id"] for a in result}:
        events.append(("store/customer/address/deleted", {"type": "customer", "id": gone, "address": {"customer_id": record["id"]}}))
    record["addresses"] = result
    record["address_count"] = len(result)


def create_customer(app: Flask, store: Store, fields: dict) -> dict:
    events: list = []
    with store.lock:
        table, now = store.customers, _now(store.customers)
        cid = table.next_id
        count = derive_rng(store.spec.seed, "new-customer", cid).choice((0, 1, 1, 2))
        record = copy.deepcopy(generator.customer(store.spec, cid, now, now, count))
        if store.customer_ids_by_email({record["email"].lower()}):
            record["email"] = record["email"].replace("@", f".{cid}@")
        if "addresses" in fields:
            record["addresses"] = []
        _update_customer_fields(store, record, fields, events)
        if "email" in fields and store.customer_ids_by_email({fields["email"].lower()}):
            raise Conflict(f"The email {fields['email']} is already in use")
        table.put(cid, record, now, now)
        events[:0] = [("store/customer/created", {"type": "customer", "id": cid})]
        events += [("store/customer/address/created", {"type": "customer", "id": a["id"], "address": {"customer_id": cid}})
                   for a in record["addresses"] if "addresses" not in fields]
        result = copy.deepcopy(record)
    _publish(app, store, events)
    return result


def _update_customer_fields(store: Store, record: dict, fields: dict, events: list) -> None:
    for key, value in fields.items():
        if key == "addresses":
            _apply_addresses(store, record, value, events)
        elif key == "form_fields":
            record["form_fields"] = [{"name": f["name"], "value": f["value"], "customer_id": record["id"]} for f in value]
        elif key in CUSTOMER_WRITABLE:
            record[key] = value


def update_customer(app: Flask, store: Store, cid: int, fields: dict) -> dict | None:
    events: list = []
    with store.lock:
        table = store.customers
        current = table.get(cid)
        if current is None:
            return None
        if "email" in fields and store.customer_ids_by_email({fields["email"].lower()}) - {cid}:
            raise Conflict(f"The email {fields['email']} is already in use")
        record = copy.deepcopy(current)
        _update_customer_fields(store, record, fields, events)
        now = max(_now(table), table.modified[cid])
        record["date_modified"] = iso_z(now)
        table.put(cid, record, table.created[cid], now)
        if set(fields) - {"addresses"}:
            events.insert(0, ("store/customer/updated", {"type": "customer", "id": cid}))
        result = copy.deepcopy(record)
    _publish(app, store, events)
    return result


def _tombstone(store: Store, kind: str, record: dict) -> None:
    store.deleted.append({"kind": kind, "id": record["id"], "email": record["email"],
                          "deleted_at": iso_z(int(time.time()))})


def delete_customer(app: Flask, store: Store, cid: int) -> bool:
    with store.lock:
        if not store.customers.exists(cid):
            return False
        _tombstone(store, "customer", store.customers.get(cid))
        store.customers.delete(cid)
    _publish(app, store, [("store/customer/deleted", {"type": "customer", "id": cid})])
    return True


# --------------------------------------------------------------------------- subscribers
def create_subscriber(app: Flask, store: Store, fields: dict) -> dict:
    with store.lock:
        table, now = store.subscribers, _now(store.subscribers)
        if store.subscriber_id_by_email(fields["email"]):
            raise Conflict(f"A subscriber with the email {fields['email']} already exists")
        sid = table.next_id
        record = {"id": sid, "email": fields["email"], "first_name": fields.get("first_name", ""),
                  "last_name": fields.get("last_name", ""), "source": fields.get("source", "storefront"),
                  "order_id": fields.get("order_id"), "channel_id": fields.get("channel_id", 1),
                  "consents": list(fields.get("consents", ["marketing_newsletter"])),
                  "date_created": iso_z(now), "date_modified": iso_z(now)}
        table.put(sid, record, now, now)
        result = dict(record)
    _publish(app, store, [("store/subscriber/created", {"type": "subscriber", "id": sid})])
    return result


def update_subscriber(app: Flask, store: Store, sid: int, fields: dict) -> dict | None:
    with store.lock:
        table = store.subscribers
        current = table.get(sid)
        if current is None:
            return None
        other = store.subscriber_id_by_email(fields["email"]) if "email" in fields else None
        if other and other != sid:
            raise Conflict(f"A subscriber with the email {fields['email']} already exists")
        now = max(_now(table), table.modified[sid])
        record = {**current, **{k: v for k, v in fields.items() if k in SUBSCRIBER_WRITABLE},
                  "date_modified": iso_z(now)}
        table.put(sid, record, table.created[sid], now)
        result = dict(record)
    _publish(app, store, [("store/subscriber/updated", {"type": "subscriber", "id": sid})])
    return result


def delete_subscriber(app: Flask, store: Store, sid: int) -> bool:
    with store.lock:
        if not store.subscribers.exists(sid):
            return False
        _tombstone(store, "subscriber", store.subscribers.get(sid))
        store.subscribers.delete(sid)
    _publish(app, store, [("store/subscriber/deleted", {"type": "subscriber", "id": sid})])
    return True


# --------------------------------------------------------------------------- orders
def create_order(app: Flask, store: Store, fields: dict) -> dict:
    """A new order; ``customer_id`` (0 = guest), ``status_id``, ``billing_address`` (fields
    merged into the generated one; its ``email`` goes to the shipping addresses too) and
    ``opt_in`` (also creates a checkout subscriber with this ``order_id``) may be given."""
    events: list = []
    with store.lock:
        table, now = store.orders, _now(store.orders)
        oid = table.next_id
        status_id = int(fields.get("status_id", 11))
        customer_id = fields.get("customer_id")
        guest = customer_id == 0 or (customer_id is None and not len(store.customers))
        record = copy.deepcopy(order_generator.order(store.spec, oid, now, now, status_id, ORDER_GUEST if guest else 0, False))
        if customer_id:
            customer = store.customers.get(int(customer_id))
            if customer is None:
                raise Conflict(f"customer {customer_id} does not exist")
            record["customer_id"] = customer["id"]
            billing = record["billing_address"]
            billing.update(first_name=customer["first_name"], last_name=customer["last_name"], email=customer["email"])
            for address in record["shipping_addresses"]:
                address.update(first_name=customer["first_name"], last_name=customer["last_name"], email=customer["email"])
        if isinstance(fields.get("billing_address"), dict):  # e.g. a guest checking out with a new email
            record["billing_address"].update(fields["billing_address"])
            if "email" in fields["billing_address"]:
                for address in record["shipping_addresses"]:
                    address["email"] = fields["billing_address"]["email"]
        if fields.get("opt_in"):
            record["is_email_opt_in"] = True
        store.order_status.append(status_id)
        store.order_flags.append(ORDER_GUEST if record["customer_id"] == 0 else 0)
        table.put(oid, record, now, now)
        events.append(("store/order/created", {"type": "order", "id": oid}))
        result = copy.deepcopy(record)
    _publish(app, store, events)
    if fields.get("opt_in") and not store.subscriber_id_by_email(record["billing_address"]["email"]):
        billing = record["billing_address"]
        create_subscriber(app, store, {"email": billing["email"], "first_name": billing["first_name"],
                                       "last_name": billing["last_name"], "source": "order", "order_id": oid})
    return result


def update_order(app: Flask, store: Store, oid: int, fields: dict) -> dict | None:
    """Change ``status_id``, ``is_deleted``, ``staff_notes``, ``customer_message``,
    ``payment_status``, ``refunded_amount`` (a refund: money text, e.g. ``"5.0000"``) or billing fields."""
    from .generator import STATUS_NAMES

    events: list = []
    with store.lock:
        table = store.orders
        current = table.get(oid)
        if current is None:
            return None
        record = copy.deepcopy(current)
        now = max(_now(table), table.modified[oid])
        previous_status = record["status_id"]
        if "status_id" in fields:
            new_status = int(fields["status_id"])
            record.update(status_id=new_status, status=STATUS_NAMES[new_status], custom_status=STATUS_NAMES[new_status])
            store.order_status[oid] = new_status
        for key in ("staff_notes", "customer_message", "payment_status"):
            if key in fields:
                record[key] = fields[key]
        if "refunded_amount" in fields:
            record["refunded_amount"] = f"{float(fields['refunded_amount']):.4f}"
        if isinstance(fields.get("billing_address"), dict):
            record["billing_address"].update(fields["billing_address"])
        archived = bool(fields.get("is_deleted", record["is_deleted"]))
        newly_archived = archived and not record["is_deleted"]
        record["is_deleted"] = archived
        store.order_flags[oid] = (store.order_flags[oid] & ~ORDER_ARCHIVED) | (ORDER_ARCHIVED if archived else 0)
        record["date_modified"] = rfc2822(now)
        table.put(oid, record, table.created[oid], now)
        events.append(("store/order/updated", {"type": "order", "id": oid}))
        if record["status_id"] != previous_status:
            events.append(("store/order/statusUpdated", {"type": "order", "id": oid, "status": {
                "previous_status_id": previous_status, "new_status_id": record["status_id"]}}))
        if newly_archived:
            events.append(("store/order/archived", {"type": "order", "id": oid}))
        result = copy.deepcopy(record)
    _publish(app, store, events)
    return result


def archive_order(app: Flask, store: Store, oid: int) -> dict | None:
    """What ``DELETE /v2/orders/{id}`` does on BigCommerce: archive, not erase."""
    return update_order(app, store, oid, {"is_deleted": True})


# --------------------------------------------------------------------------- products
PRODUCT_WRITABLE = ("name", "price", "sale_price", "is_visible", "description", "inventory_level", "sku",
                    "categories", "brand_id", "is_featured", "availability")


def create_product(app: Flask, store: Store, fields: dict) -> dict:
    with store.lock:
        table, now = store.products, _now(store.products)
        pid = table.next_id
        record = copy.deepcopy(generator.product(store.spec, pid, now, now))
        record.update({k: v for k, v in fields.items() if k in PRODUCT_WRITABLE})
        record["calculated_price"] = record["sale_price"] or record["price"]
        table.put(pid, record, now, now)
        result = copy.deepcopy(record)
    _publish(app, store, [("store/product/created", {"type": "product", "id": pid})])
    return result


def update_product(app: Flask, store: Store, pid: int, fields: dict) -> dict | None:
    with store.lock:
        table = store.products
        current = table.get(pid)
        if current is None:
            return None
        record = copy.deepcopy(current)
        record.update({k: v for k, v in fields.items() if k in PRODUCT_WRITABLE})
        record["calculated_price"] = record["sale_price"] or record["price"]
        now = max(_now(table), table.modified[pid])
        record["date_modified"] = iso_offset(now)
        table.put(pid, record, table.created[pid], now)
        result = copy.deepcopy(record)
    _publish(app, store, [("store/product/updated", {"type": "product", "id": pid})])
    return result


def delete_product(app: Flask, store: Store, pid: int) -> bool:
    with store.lock:
        if not store.products.exists(pid):
            return False
        store.products.delete(pid)
    _publish(app, store, [("store/product/deleted", {"type": "product", "id": pid})])
    return True


# --------------------------------------------------------------------------- a little life
def simulate_activity(app: Flask, store: Store, customers: int = 1, orders: int = 1, subscribers: int = 1,
                      updates: int = 0, deletions: int = 0) -> dict:
    """New customers, orders (some by the new customers, some guests, a few with a checkout
    opt-in), newsletter signups from strangers, some customer updates and some deletions (a
    customer or a newsletter subscriber, in turn, picked at random); returns their ids."""
    rng = derive_rng(store.spec.seed, "activity", store.customers.next_id, store.orders.next_id, time.time_ns())
    made: dict[str, list[int]] = {"customers": [], "orders": [], "subscribers": [], "updated_customers": [],
                                  "deleted_customers": [], "deleted_subscribers": []}
    for _ in range(customers):
        made["customers"].append(create_customer(app, store, {})["id"])
    for _ in range(orders):
        buyer = rng.choice(made["customers"]) if made["customers"] and rng.random() < 0.5 else 0
        if not buyer and len(store.customers) and rng.random() < 0.5:
            with store.lock:
                buyer = rng.choice(store.customers.ordered())
        made["orders"].append(create_order(app, store, {"customer_id": buyer, "opt_in": rng.random() < 0.3})["id"])
    for _ in range(subscribers):
        who = generator.guest(store.spec, -store.subscribers.next_id - 10_000_000)
        email = generator.email_for(who["first_name"], who["last_name"], f"_n{store.subscribers.next_id}", "example.com")
        made["subscribers"].append(create_subscriber(app, store, {
            "email": email, "first_name": who["first_name"], "last_name": who["last_name"]})["id"])
    for _ in range(updates):
        with store.lock:
            cid = rng.choice(store.customers.ordered()) if len(store.customers) else None
        if cid:
            update_customer(app, store, cid, {"notes": f"Updated {iso_z(int(time.time()))} — merci"})
            made["updated_customers"].append(cid)
    for _ in range(deletions):
        kind = ("customers", "subscribers")[len(store.deleted) % 2]
        table, delete = (store.customers, delete_customer) if kind == "customers" else (store.subscribers,
                                                                                        delete_subscriber)
        with store.lock:
            victim = rng.choice(table.ordered()) if len(table) else None
        if victim and delete(app, store, victim):
            made[f"deleted_{kind}"].append(victim)
    return made
