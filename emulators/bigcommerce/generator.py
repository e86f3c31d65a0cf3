"""Deterministic store generator: every record is a pure function of (seed, kind, id).

Nothing is generated up front except a few integers per record (dates, address count,
order status), computed with a fast integer hash; full records are built on demand. That is
how a store of a million customers and two million orders fits in memory and serves a page
in milliseconds, while the same seed always gives the same store.

Timeline: the store opened on 2022-01-01 and the generated history ends on 2025-06-30;
ids grow with creation time, as on a real store. Records created later through the
emulator's mutation endpoints carry the wall-clock time.
"""

from __future__ import annotations

from array import array
from dataclasses import dataclass
from functools import lru_cache

from emulators.common import derive_rng, derive_seed

from . import catalog, pools
from .formats import iso_offset, iso_z

OPENED_AT = 1640995200  # 2022-01-01T00:00:00Z
HISTORY_ENDS_AT = 1751241600  # 2025-06-30T00:00:00Z
SPAN = HISTORY_ENDS_AT - OPENED_AT
_MASK = (1 << 64) - 1

# Order status ids with their share (per 256) of generated orders. 0 = Incomplete.
STATUS_NAMES = {
    0: "Incomplete", 1: "Pending", 2: "Shipped", 3: "Partially Shipped", 4: "Refunded",
    5: "Cancelled", 6: "Declined", 7: "Awaiting Payment", 8: "Awaiting Pickup",
    9: "Awaiting Shipment", 10: "Completed", 11: "Awaiting Fulfillment",
    12: "Manual Verification Required", 13: "Disputed", 14: "Partially Refunded",
}
_STATUS_TABLE = bytes(
    [10] * 100 + [2] * 45 + [11] * 25 + [0] * 20 + [1] * 12 + [9] * 10 + [7] * 10
    + [5] * 10 + [4] * 8 + [6] * 6 + [3] * 4 + [14] * 3 + [12] * 1 + [13] * 1 + [8] * 1
)
assert len(_STATUS_TABLE) == 256


@dataclass(frozen=True)
class StoreSpec:
    """What to generate for one store."""

    store_hash: str = "abc123xyz"
    name: str = "Emulated Goods"
    seed: int = 1
    customers: int = 100
    subscribers: int = 40
    orders: int = 200
    products: int = 30
    brands: int | None = None  # None: sized from products (see ``catalog``)
    categories: int | None = None

    @property
    def store_id(self) -> int:
        """The numeric store id (``/v2/store`` ``store_id``; a string in webhook payloads)."""
        return 1_000_000 + derive_seed(self.seed, "store_id", self.store_hash) % 9_000_000


def mix64(value: int) -> int:
    """splitmix64: a fast, well-spread 64-bit integer hash."""
    z = (value + 0x9E3779B97F4A7C15) & _MASK
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & _MASK
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & _MASK
    return z ^ (z >> 31)


# --------------------------------------------------------------------------- compact indexes
def customer_indexes(spec: StoreSpec) -> tuple[array, array, bytearray]:
    """Per-customer (date_created, date_modified, address_count); index 0 is unused."""
    count = spec.customers
    created, modified = array("q", [0]) * (count + 1), array("q", [0]) * (count + 1)
    addresses = bytearray(count + 1)
    base = derive_seed(spec.seed, "customer-index")
    for cid in range(1, count + 1):
        created[cid], modified[cid], addresses[cid] = _customer_values(mix64(base ^ cid), cid, count)
    return created, modified, addresses


_ADDRESS_COUNTS = bytes([0] * 38 + [1] * 128 + [2] * 64 + [3] * 26)


def _customer_values(h: int, cid: int, count: int) -> tuple[int, int, int]:
    born = OPENED_AT + SPAN * (cid - 1) // count + (h & 0xFFF)
    modified = born if h & 0x10000 else born + ((h >> 17) & 0xFFFFFF) % (HISTORY_ENDS_AT - born + 1)
    return born, modified, _ADDRESS_COUNTS[(h >> 41) & 0xFF]


@lru_cache(maxsize=65536)
def base_customer(spec: StoreSpec, cid: int) -> dict:
    """Generated customer ``cid`` as first created (orders use it for billing details)."""
    h = mix64(derive_seed(spec.seed, "customer-index") ^ cid)
    return customer(spec, cid, *_customer_values(h, cid, spec.customers))


@lru_cache(maxsize=65536)
def customer_contact(spec: StoreSpec, cid: int) -> dict:
    """What orders and subscribers take from generated customer ``cid`` as first created:
    ``first_name``, ``last_name``, ``email``, ``company`` and ``first_address`` (None without
    one): the same values as ``base_customer``, without building the rest of the customer."""
    h = mix64(derive_seed(spec.seed, "customer-index") ^ cid)
    address_count = _customer_values(h, cid, spec.customers)[2]
    who = _person(spec.seed, "customer", cid)
    rng = who["rng"]  # the same draws, in the same order, as ``customer``
    email = email_for(who["first_name"], who["last_name"], str(cid), rng.choice(pools.EMAIL_DOMAINS))
    person = {"id": cid, "first_name": who["first_name"], "last_name": who["last_name"], "email": email,
              "company": rng.choice(pools.COMPANIES)}
    person["first_address"] = (customer_address(spec, person, who["country"], 0, 3 * (cid - 1) + 1)
                               if address_count else None)
    return person


def order_indexes(spec: StoreSpec) -> tuple[array, array, bytearray, bytearray]:
    """Per-order (date_created, date_modified, status_id, flags); flags: 1 archived, 2 guest."""
    count = spec.orders
    created, modified = array("q", [0]) * (count + 1), array("q", [0]) * (count + 1)
    statuses, flags = bytearray(count + 1), bytearray(count + 1)
    base = derive_seed(spec.seed, "order-index")
    for oid in range(1, count + 1):
        h = mix64(base ^ oid)
        born = OPENED_AT + SPAN * (oid - 1) // count + (h & 0xFFF)
        created[oid] = born
        modified[oid] = born + (((h >> 12) & 0x3FFFF) if h & 0x40000000 else 0)
        statuses[oid] = _STATUS_TABLE[(h >> 32) & 0xFF]
        flags[oid] = (((h >> 40) & 0xFF) < 8) | ((((h >> 48) & 0xFF) < 40 or not spec.customers) << 1)
    return created, modified, statuses, flags


# --------------------------------------------------------------------------- people and places
def _person(seed: int, kind: str, number: int, country: str | None = None) -> dict:
    rng = derive_rng(seed, kind, number)
    country = country or pools.pick_country(rng.randrange(100))
    pool = pools.locale_pool(country)
    first, last = rng.choice(pool.first_names), rng.choice(pool.last_names)
    return {"rng": rng, "country": country, "first_name": first, "last_name": last}


def email_for(first: str, last: str, tag: str, domain: str) -> str:
    """``first.last{tag}@domain`` in ASCII; ``tag`` (the id) keeps e-mails unique."""
    return f"{pools.ascii_slug(first) or 'shopper'}.{pools.ascii_slug(last) or 'anon'}{tag}@{domain}"


def place(rng, country: str) -> dict:
    """A street address in ``country`` with a real state/province name."""
    pool = pools.locale_pool(country)
    return {
        "street_1": rng.choice(pool.streets),
        "street_2": rng.choice(("", "", "", "Apt 4", "Suite 210", "2nd floor", "Bâtiment B")),
        "city": rng.choice(pool.cities),
        "state": rng.choice(pools.STATES[country]),
        "zip": rng.choice(pool.postcodes),
        "country": pools.COUNTRY_NAMES[country],
        "country_iso2": country,
        "phone": rng.choice(pool.phones),
    }


def customer_address(spec: StoreSpec, customer: dict, country: str, number: int, address_id: int) -> dict:
    """One v3 address of ``customer``; about one in four carries a "Fax" form field."""
    rng = derive_rng(spec.seed, "address", address_id)
    if number > 0 and rng.random() < 0.3:
        country = pools.pick_country(rng.randrange(100))
    where = place(rng, country)
    fields = []
    if rng.random() < 0.25:
        fields.append({"name": "Fax", "value": rng.choice(pools.locale_pool(country).phones), "address_id": address_id})
    return {
        "id": address_id, "customer_id": customer["id"],
        "first_name": customer["first_name"], "last_name": customer["last_name"],
        "company": customer["company"], "address1": where["street_1"], "address2": where["street_2"],
        "city": where["city"], "state_or_province": where["state"], "postal_code": where["zip"],
        "country": where["country"], "country_code": country, "phone": where["phone"],
        "address_type": "commercial" if customer["company"] and rng.random() < 0.5 else "residential",
        "form_fields": fields,
    }


def customer(spec: StoreSpec, cid: int, created: int, modified: int, address_count: int) -> dict:
    """A full v3 customer (with ``addresses``, ``form_fields``, ``attributes``, store credit)."""
    who = _person(spec.seed, "customer", cid)
    rng = who["rng"]
    record = {
        "id": cid,
        "email": email_for(who["first_name"], who["last_name"], str(cid), rng.choice(pools.EMAIL_DOMAINS)),
        "first_name": who["first_name"], "last_name": who["last_name"],
        "company": rng.choice(pools.COMPANIES),
        "phone": rng.choice(pools.locale_pool(who["country"]).phones),
        "registration_ip_address": f"203.0.113.{rng.randrange(1, 255)}" if rng.random() < 0.7 else "",
        "notes": rng.choice(pools.NOTES),
        "tax_exempt_category": "",
        "customer_group_id": rng.choice((0, 0, 0, 0, 1, 2)),
        "date_created": iso_z(created), "date_modified": iso_z(modified),
        "address_count": address_count, "attribute_count": 0,
        "authentication": {"force_password_reset": False},
        "accepts_product_review_abandoned_cart_emails": rng.random() < 0.4,
        "origin_channel_id": 1, "channel_ids": [1],
        "store_credit_amounts": [{"amount": rng.choice((0, 0, 0, 5.0, 12.5))}],
        "attributes": [],
    }
    record["form_fields"] = (
        [{"name": "How did you hear about us?", "value": rng.choice(("Instagram", "A friend", "Suchmaschine")), "customer_id": cid}]
        if rng.random() < 0.3 else []
    )
    record["addresses"] = [
        customer_address(spec, record, who["country"], k, 3 * (cid - 1) + k + 1) for k in range(address_count)
    ]
    return record


def guest(spec: StoreSpec, person: int) -> dict:
    """A shopper who only ever checked out as a guest (may order more than once)."""
    who = _person(spec.seed, "guest", person)
    rng = who["rng"]
    return {
        "first_name": who["first_name"], "last_name": who["last_name"], "country": who["country"],
        "email": email_for(who["first_name"], who["last_name"], f"_g{person}", rng.choice(pools.EMAIL_DOMAINS)),
        "company": rng.choice(pools.COMPANIES), "rng": rng,
    }


# --------------------------------------------------------------------------- catalog
@lru_cache(maxsize=65536)
def product(spec: StoreSpec, pid: int, created: int | None = None, modified: int | None = None) -> dict:
    """A v3 product with ``images``, ``variants`` and ``custom_fields`` (stripped unless included);
    its brand and categories exist in ``catalog``."""
    rng = derive_rng(spec.seed, "product", pid)
    name = f"{rng.choice(pools.PRODUCT_ADJECTIVES)} {rng.choice(pools.PRODUCT_NOUNS)} {pid:04d}"
    price = round(rng.uniform(4, 180), 2)
    on_sale = rng.random() < 0.2
    sale_price = round(price * 0.8, 2) if on_sale else 0
    created = created or OPENED_AT + rng.randrange(SPAN // 2)
    modified = modified or created + rng.randrange(HISTORY_ENDS_AT - created)
    slug = pools.ascii_slug(name.replace(" ", "-")) or f"product{pid}"
    sku = f"SKU-{pid:05d}"
    image_base = f"https://cdn11.bigcommerce.com/s-{spec.store_hash}/products/{pid}/images/{pid * 10}"
    brand_id, categories = catalog.product_links(spec, pid)
    image = {
        "id": pid * 10, "product_id": pid, "is_thumbnail": True, "sort_order": 0, "description": "",
        "image_file": f"{slug}.jpg", "url_zoom": f"{image_base}/{slug}.1280.1280.jpg",
        "url_standard": f"{image_base}/{slug}.386.513.jpg", "url_thumbnail": f"{image_base}/{slug}.220.290.jpg",
        "url_tiny": f"{image_base}/{slug}.44.58.jpg", "date_modified": iso_offset(modified),
    }
    return {
        "id": pid, "name": name, "type": "physical", "sku": sku,
        "description": f"<p>{name}: made to last. Qualité garantie — 100% satisfaction.</p>",
        "weight": round(rng.uniform(0.1, 5), 2), "width": 10, "depth": 10, "height": 10,
        "price": price, "cost_price": round(price * 0.45, 2), "retail_price": round(price * 1.2, 2),
        "sale_price": sale_price, "map_price": 0, "calculated_price": sale_price or price,
        "tax_class_id": 0, "product_tax_code": "", "categories": categories,
        "brand_id": brand_id, "option_set_display": "right",
        "inventory_level": rng.randrange(0, 500), "inventory_warning_level": 5,
        "inventory_tracking": "product", "reviews_rating_sum": 0, "reviews_count": 0, "total_sold": rng.randrange(0, 900),
        "fixed_cost_shipping_price": 0, "is_free_shipping": False, "is_visible": rng.random() < 0.85,
        "is_featured": rng.random() < 0.1, "related_products": [-1], "warranty": "", "bin_picking_number": "",
        "layout_file": "product.html", "upc": "", "mpn": "", "gtin": "", "search_keywords": "", "availability": "available",
        "availability_description": "", "gift_wrapping_options_type": "any", "gift_wrapping_options_list": [],
        "sort_order": 0, "condition": "New", "is_condition_shown": False, "order_quantity_minimum": 0,
        "order_quantity_maximum": 0, "page_title": "", "meta_keywords": [], "meta_description": "", "view_count": rng.randrange(0, 5000),
        "preorder_release_date": None, "preorder_message": "", "is_preorder_only": False, "is_price_hidden": False,
        "price_hidden_label": "", "custom_url": {"url": f"/{slug}/", "is_customized": False},
        "base_variant_id": pid, "open_graph_type": "product", "open_graph_title": "", "open_graph_description": "",
        "open_graph_use_meta_description": True, "open_graph_use_product_name": True, "open_graph_use_image": True,
        "date_created": iso_offset(created), "date_modified": iso_offset(modified),
        "images": [image],
        "variants": [{
            "id": pid, "product_id": pid, "sku": sku, "sku_id": None, "price": price,
            "calculated_price": sale_price or price, "sale_price": sale_price, "retail_price": None,
            "map_price": None, "weight": None, "calculated_weight": 1, "width": None, "height": None,
            "depth": None, "is_free_shipping": False, "fixed_cost_shipping_price": None,
            "purchasing_disabled": False, "purchasing_disabled_message": "", "image_url": "",
            "cost_price": None, "upc": "", "mpn": "", "gtin": "", "inventory_level": 0,
            "inventory_warning_level": 0, "bin_picking_number": "", "option_values": [],
        }],
        "custom_fields": [],
    }
