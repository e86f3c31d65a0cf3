"""BigCommerce data in the host's canonical schema: the details the mapper relies on."""

from __future__ import annotations

from host.models import ContactProfile
from host.records import contact_fields, validation_errors
from host.sync.profiles import ProfileUpdater
from plugins.bigcommerce import orders, transform


def test_saved_address_gets_fax_from_a_form_field_and_region_as_iso_code():
    customer = transform.customer(
        {
            "id": 7,
            "email": "ana@example.com",
            "first_name": "Ana",
            "last_name": "Lopez",
            "company": "",
            "date_created": "2024-01-02T03:04:05Z",
            "date_modified": "2024-02-02T03:04:05Z",
            "addresses": [
                {
                    "address1": "1 Calle",
                    "city": "Madrid",
                    "state_or_province": "Andalucía",
                    "postal_code": "28001",
                    "country": "Spain",
                    "country_code": "ES",
                    "form_fields": [{"name": "Business FAX", "value": "+34 1"}],
                },
                {
                    "address1": "2 Main",
                    "state_or_province": "Texas",
                    "country": "United States",
                    "country_code": "US",
                },
            ],
        }
    )
    assert not validation_errors("customer", customer)
    first, second = customer["addresses"]
    assert (first["fax"], first["region"], first["postcode"]) == ("+34 1", "ES-AN", "28001")
    assert (second["fax"], second["region"]) == (None, "US-TX")
    assert customer["company"] is None and customer["date_modified"] == "2024-02-02T03:04:05+00:00"
    fields = contact_fields(customer, None)  # no order: the first saved address is the fallback
    assert fields["billing_fax"] == "+34 1" and fields["shipping_region"] == "ES-AN"


def test_opt_in_follows_the_consents_rule():
    base = {
        "id": 1,
        "email": "s@example.com",
        "date_created": "2024-01-01T00:00:00Z",
        "date_modified": "2024-01-01T00:00:00Z",
    }
    assert (
        transform.subscriber({**base, "consents": ["marketing_newsletter"]}, None)["opted_in"]
        is True
    )
    assert transform.subscriber({**base, "consents": ["abandoned_cart"]}, None)["opted_in"] is False
    assert transform.subscriber({**base, "consents": []}, None)["opted_in"] is False
    older_store = transform.subscriber({**base, "order_id": 42}, "https://shop.example")
    assert older_store["opted_in"] is True and older_store["order_id"] == "42"
    assert older_store["consent"] == {
        "date": "2024-01-01T00:00:00+00:00",
        "url": "https://shop.example",
        "ip": None,
        "user_agent": None,
    }


def _order(order_id, email, created, modified, status_id=11, customer_id=0, first="Guest"):
    return {
        "id": order_id,
        "customer_id": customer_id,
        "status_id": status_id,
        "status": "Shipped",
        "is_deleted": False,
        "date_created": created,
        "date_modified": modified,
        "total_inc_tax": "10.0000",
        "billing_address": {
            "first_name": first,
            "last_name": "Buyer",
            "email": email,
            "state": "Ontario",
            "country": "Canada",
            "country_iso2": "CA",
            "zip": "M5V",
            "form_fields": [],
        },
    }


def test_guests_take_their_name_from_the_latest_order_and_date_from_the_first():
    """No guests stream: the orders read describe each guest (``ProfileUpdater.order``), in
    whatever order they arrive, and a store account always speaks for its email."""
    raws = [
        _order(5, "guest@example.com", "Fri, 01 Mar 2024 10:00:00 +0000",
               "Sat, 02 Mar 2024 10:00:00 +0000", first="New"),
        _order(1, "Guest@Example.com", "Mon, 01 Jan 2024 10:00:00 +0000",
               "Mon, 01 Jan 2024 10:00:00 +0000", first="Old"),
        _order(6, "guest@example.com", "Sat, 01 Jun 2024 10:00:00 +0000",
               "Sat, 01 Jun 2024 10:00:00 +0000", status_id=0),  # an abandoned checkout
        _order(8, "guest@example.com", "Sun, 02 Jun 2024 10:00:00 +0000",
               "Sun, 02 Jun 2024 10:00:00 +0000", first="Archived") | {"is_deleted": True},
        _order(7, "member@example.com", "Sat, 01 Jun 2024 10:00:00 +0000",
               "Sat, 01 Jun 2024 10:00:00 +0000", customer_id=3, first="Billing"),
    ]
    updater = ProfileUpdater(None)
    profiles = {email: ContactProfile(email=email, episode=0)
                for email in ("guest@example.com", "member@example.com")}
    member = transform.customer({"id": 3, "email": "member@example.com", "first_name": "Account",
                                 "date_created": "2023-01-01T00:00:00Z", "date_modified": "2023-01-01T00:00:00Z"})
    updater.customer(profiles["member@example.com"], member)
    for raw in raws:
        record = orders.order(raw, [], [])
        updater.order(profiles[record["email"].lower()], record)

    guest = profiles["guest@example.com"].customer
    assert profiles["guest@example.com"].is_guest
    assert (guest["first_name"], guest["date_created"]) == ("New", "2024-01-01T10:00:00+00:00")
    assert guest["date_modified"] == "2024-03-02T10:00:00+00:00"  # the abandoned and archived ones do not count
    assert not validation_errors("customer", guest)
    assert profiles["member@example.com"].customer == member  # the account, not its orders


def test_orders_past_the_embed_limit_ask_for_their_line_items():
    raw = _order(
        9, "a@example.com", "Mon, 01 Jan 2024 10:00:00 +0000", "Mon, 01 Jan 2024 10:00:00 +0000"
    )
    line = {
        "id": 90,
        "name": "Mug",
        "quantity": 2,
        "price_inc_tax": "5.0000",
        "total_inc_tax": "10.0000",
    }
    raw["consignments"] = {
        "shipping": [
            {
                "street_1": "1 Road",
                "state": "Ontario",
                "country_iso2": "CA",
                "line_items": [line],
                "__warning__": {"message": "only 50"},
            }
        ],
        "pickups": [],
        "downloads": [],
        "email": {"gift_certificates": []},
    }
    items, addresses = orders.embedded_parts(raw)
    assert items is None, "a consignment with a warning lacks lines: fetch /products"
    assert addresses[0]["street_1"] == "1 Road"
    del raw["consignments"]["shipping"][0]["__warning__"]
    items, addresses = orders.embedded_parts(raw)
    record = orders.order(raw, items, addresses)
    assert record["items"] == [
        {
            "product_id": None,
            "variant_id": None,
            "sku": None,
            "name": "Mug",
            "quantity": 2,
            "price": "5.0000",
            "total": "10.0000",
        }
    ]
    assert record["shipping_address"]["region"] == "CA-ON" and record["customer_id"] is None
    assert not validation_errors("order", record)
    incomplete = orders.order({**raw, "status_id": 0}, items, addresses)
    assert incomplete["is_incomplete"] is True


def test_an_order_carries_its_refund_and_its_rate_to_the_stores_currency_when_paid_in_another():
    raw = {"id": 7, "status_id": 14, "total_inc_tax": "200.0000", "refunded_amount": "20.0000",
           "billing_address": {"email": "a@example.com"}, "date_created": "Tue, 20 Nov 2012 00:00:00 +0000",
           "date_modified": "Tue, 20 Nov 2012 00:00:00 +0000", "default_currency_code": "EUR",
           "store_default_currency_code": "USD", "store_default_to_transactional_exchange_rate": "0.9000000000"}

    record = orders.order(raw, [], [])

    assert (record["refunded"], record["exchange_rate"]) == ("20.0000", "0.9000000000")
    assert not validation_errors("order", record)
    same = orders.order({**raw, "default_currency_code": "USD", "store_default_to_transactional_exchange_rate": "1"}, [], [])
    assert same["exchange_rate"] is None
    assert orders.order({k: v for k, v in raw.items() if not k.startswith("store_default")}, [], [])["exchange_rate"] is None
