"""Deterministic orders (with line items and shipping addresses) and newsletter subscribers."""

from __future__ import annotations

from emulators.common import derive_rng

from . import generator, pools
from .formats import iso_z, money, rfc2822

CONSENTS_OPTED_IN = (["marketing_newsletter"], ["marketing_newsletter", "abandoned_cart"])


def _buyer(spec: generator.StoreSpec, rng, created: int, guest: bool) -> tuple[int, dict]:
    """Who placed the order: a customer who existed by then, or a (possibly returning) guest."""
    if guest:
        person = rng.randrange(max(1, spec.orders // 6))
        who = generator.guest(spec, person)
        return 0, {**who, **generator.place(who["rng"], who["country"]), "email": who["email"]}
    newest = max(1, min(spec.customers, spec.customers * (created - generator.OPENED_AT) // generator.SPAN))
    cid = 1 + rng.randrange(newest)
    person = generator.customer_contact(spec, cid)
    if person["first_address"]:
        first = person["first_address"]
        where = {
            "street_1": first["address1"], "street_2": first["address2"], "city": first["city"],
            "state": first["state_or_province"], "zip": first["postal_code"], "country": first["country"],
            "country_iso2": first["country_code"], "phone": first["phone"],
        }
    else:
        where = generator.place(rng, pools.pick_country(rng.randrange(100)))
    return cid, {**where, "first_name": person["first_name"], "last_name": person["last_name"],
                 "email": person["email"], "company": person["company"]}


def line_item(spec: generator.StoreSpec, order_id: int, line_id: int, rng, address_id: int) -> dict:
    """One ``/v2/orders/{id}/products`` row for a catalog product (or a custom item)."""
    pid = 1 + rng.randrange(spec.products) if spec.products else 0
    item = generator.product(spec, pid) if pid else None
    name = item["name"] if item else "Custom engraving"
    price = item["calculated_price"] if item else 7.5
    quantity = rng.choice((1, 1, 1, 2, 3))
    tax = round(price * 0.08, 2)
    return {
        "id": line_id, "order_id": order_id, "product_id": pid, "variant_id": pid, "order_address_id": address_id,
        "name": name, "name_customer": name, "name_merchant": name, "sku": item["sku"] if item else "",
        "upc": "", "type": "physical", "base_price": money(price), "price_ex_tax": money(price),
        "price_inc_tax": money(price + tax), "price_tax": money(tax), "base_total": money(price * quantity),
        "total_ex_tax": money(price * quantity), "total_inc_tax": money((price + tax) * quantity),
        "total_tax": money(tax * quantity), "weight": "1.0000", "width": "0.0000", "height": "0.0000",
        "depth": "0.0000", "quantity": quantity, "base_cost_price": "0.0000", "cost_price_inc_tax": "0.0000",
        "cost_price_ex_tax": "0.0000", "cost_price_tax": "0.0000", "is_refunded": False, "quantity_refunded": 0,
        "refund_amount": "0.0000", "return_id": 0, "wrapping_id": 0, "wrapping_name": "", "base_wrapping_cost": "0.0000",
        "wrapping_cost_ex_tax": "0.0000", "wrapping_cost_inc_tax": "0.0000", "wrapping_cost_tax": "0.0000",
        "wrapping_message": "", "quantity_shipped": 0, "event_name": None, "event_date": None, "fixed_shipping_cost": "0.0000",
        "ebay_item_id": "", "ebay_transaction_id": "", "option_set_id": None, "parent_order_product_id": None,
        "is_bundled_product": False, "bin_picking_number": "", "external_id": None,
        "brand": pools.BRANDS.get(item["brand_id"], "") if item else "", "applied_discounts": [],
        "product_options": [], "configurable_fields": [], "gift_certificate_id": None,
        "discounted_total_inc_tax": money((price + tax) * quantity),
    }


def order(spec: generator.StoreSpec, oid: int, created: int, modified: int, status_id: int,
          flags: int, opted_in: bool) -> dict:
    """A v2 order plus its ``products`` (line items) and ``shipping_addresses`` lists."""
    rng = derive_rng(spec.seed, "order", oid)
    customer_id, buyer = _buyer(spec, rng, created, bool(flags & 2))
    digital = rng.random() < 0.05
    shipping = [] if digital else [1]
    if not digital and rng.random() < 0.05:
        shipping.append(2)
    items = []
    for line in range(rng.randrange(1, 5)):
        address_number = shipping[line % len(shipping)] if shipping else 0
        items.append(line_item(spec, oid, oid * 10 + line, rng, oid * 10 + address_number if shipping else 0))
    subtotal = sum(float(i["total_ex_tax"]) for i in items)
    tax = sum(float(i["total_tax"]) for i in items)
    ship_cost = 0.0 if digital else rng.choice((0.0, 4.99, 9.99))
    billing = {key: buyer[key] for key in ("first_name", "last_name", "company", "street_1", "street_2", "city",
                                           "state", "zip", "country", "country_iso2", "phone", "email")}
    billing["form_fields"] = [{"name": "Fax", "value": buyer["phone"]}] if rng.random() < 0.1 else []
    addresses = []
    for number in shipping:
        where = buyer if number == 1 else generator.place(rng, buyer["country_iso2"])
        addresses.append({
            "id": oid * 10 + number, "order_id": oid, "first_name": buyer["first_name"], "last_name": buyer["last_name"],
            "company": buyer["company"], "street_1": where["street_1"], "street_2": where["street_2"],
            "city": where["city"], "zip": where["zip"], "country": where["country"], "country_iso2": where["country_iso2"],
            "state": where["state"], "email": buyer["email"], "phone": where["phone"],
            "items_total": sum(i["quantity"] for i in items if i["order_address_id"] == oid * 10 + number),
            "items_shipped": 0, "shipping_method": "Flat Rate" if ship_cost else "Free Shipping",
            "base_cost": money(ship_cost), "cost_ex_tax": money(ship_cost), "cost_inc_tax": money(ship_cost),
            "cost_tax": "0.0000", "cost_tax_class_id": 2, "base_handling_cost": "0.0000",
            "handling_cost_ex_tax": "0.0000", "handling_cost_inc_tax": "0.0000", "handling_cost_tax": "0.0000",
            "handling_cost_tax_class_id": 2, "shipping_zone_id": 1, "shipping_zone_name": "Worldwide",
            "form_fields": [],
        })
    total = subtotal + tax + ship_cost
    return {
        "id": oid, "customer_id": customer_id, "date_created": rfc2822(created), "date_modified": rfc2822(modified),
        "date_shipped": rfc2822(modified) if status_id in (2, 3, 10) else "",
        "status_id": status_id, "status": generator.STATUS_NAMES[status_id],
        "custom_status": generator.STATUS_NAMES[status_id],
        "subtotal_ex_tax": money(subtotal), "subtotal_inc_tax": money(subtotal + tax), "subtotal_tax": money(tax),
        "base_shipping_cost": money(ship_cost), "shipping_cost_ex_tax": money(ship_cost),
        "shipping_cost_inc_tax": money(ship_cost), "shipping_cost_tax": "0.0000", "shipping_cost_tax_class_id": 2,
        "base_handling_cost": "0.0000", "handling_cost_ex_tax": "0.0000", "handling_cost_inc_tax": "0.0000",
        "handling_cost_tax": "0.0000", "handling_cost_tax_class_id": 2, "base_wrapping_cost": "0.0000",
        "wrapping_cost_ex_tax": "0.0000", "wrapping_cost_inc_tax": "0.0000", "wrapping_cost_tax": "0.0000",
        "wrapping_cost_tax_class_id": 3, "total_ex_tax": money(subtotal + ship_cost), "total_inc_tax": money(total),
        "total_tax": money(tax), "items_total": sum(i["quantity"] for i in items),
        "items_shipped": 0, "payment_method": rng.choice(("Credit Card", "PayPal", "Klarna")),
        "payment_provider_id": "", "payment_status": "" if status_id == 0 else "captured",
        "refunded_amount": money(total) if status_id == 4 else "0.0000", "order_is_digital": digital,
        "store_credit_amount": "0.0000", "gift_certificate_amount": "0.0000",
        "ip_address": f"198.51.100.{rng.randrange(1, 255)}", "ip_address_v6": "",
        "geoip_country": buyer["country"], "geoip_country_iso2": buyer["country_iso2"],
        "currency_id": 1, "currency_code": "USD", "currency_exchange_rate": "1.0000000000",
        "default_currency_id": 1, "default_currency_code": "USD", "staff_notes": "",
        "customer_message": rng.choice(("", "", "", "Merci beaucoup !", "Bitte klingeln ☎", "Leave at the door")),
        "discount_amount": "0.0000", "coupon_discount": "0.0000", "shipping_address_count": len(addresses),
        "is_deleted": bool(flags & 1), "ebay_order_id": "0",
        "cart_id": f"{oid:08x}-ef68-4fe5-9ec1-{rng.getrandbits(48):012x}", "billing_address": billing,
        "is_email_opt_in": opted_in, "credit_card_type": None, "order_source": "www", "channel_id": 1,
        "external_source": "", "external_id": None, "external_merchant_id": None,
        "tax_provider_id": "BasicTaxProvider", "customer_locale": "en", "external_order_id": "",
        "store_default_currency_code": "USD", "store_default_to_transactional_exchange_rate": "1.0000000000",
        "custom_status_id": status_id,
        "products": items, "shipping_addresses": addresses,
    }


def subscriber(spec: generator.StoreSpec, sid: int, link: tuple[str, int], created: int, modified: int,
               person: dict) -> dict:
    """A v3 subscriber. ``link`` says where the person comes from: ("customer", id),
    ("order", id) for a checkout opt-in, ("none", 0) for a signup-form stranger;
    ``person`` gives first/last name and e-mail. Every tenth record has no consents."""
    rng = derive_rng(spec.seed, "subscriber", sid)
    kind, target = link
    consents = [] if sid % 10 == 9 else list(rng.choice(CONSENTS_OPTED_IN))
    source = {"customer": "storefront", "order": "order"}.get(kind) or rng.choice(("storefront", "custom"))
    return {
        "id": sid, "email": person["email"], "first_name": person["first_name"], "last_name": person["last_name"],
        "source": source, "order_id": target if kind == "order" else None, "channel_id": 1,
        "consents": consents, "date_created": iso_z(created), "date_modified": iso_z(modified),
    }
