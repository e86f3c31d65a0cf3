"""The host's canonical commerce records: what every source emits and every mapper reads.

Records travel as plain JSON-ready dicts (dates as ISO 8601 strings in UTC); these marshmallow
schemas define and validate them. A new source fills these in; it needs no new mapper.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import datetime
from typing import Any

from marshmallow import EXCLUDE, Schema, ValidationError, fields


class _Record(Schema):
    class Meta:
        unknown = EXCLUDE


class AddressSchema(_Record):
    first_name = fields.String(allow_none=True)
    last_name = fields.String(allow_none=True)
    company = fields.String(allow_none=True)
    address1 = fields.String(allow_none=True)
    address2 = fields.String(allow_none=True)
    city = fields.String(allow_none=True)
    state = fields.String(allow_none=True)  # full state or province name
    region = fields.String(allow_none=True)  # ISO 3166-2 subdivision code, e.g. "US-CA"
    postcode = fields.String(allow_none=True)
    country = fields.String(allow_none=True)  # country name
    country_code = fields.String(allow_none=True)  # ISO 3166-1 alpha-2
    phone = fields.String(allow_none=True)
    fax = fields.String(allow_none=True)


class CustomerSchema(_Record):
    """A person with a store account, or a guest known only from orders (``is_guest``)."""

    id = fields.String(required=True)  # source id; for guests, the lower-cased email
    email = fields.Email(required=True)
    first_name = fields.String(allow_none=True)
    last_name = fields.String(allow_none=True)
    company = fields.String(allow_none=True)
    phone = fields.String(allow_none=True)
    notes = fields.String(allow_none=True)
    is_guest = fields.Boolean(load_default=False)
    addresses = fields.List(fields.Nested(AddressSchema), load_default=list)  # saved, first = fallback
    date_created = fields.DateTime(required=True)
    date_modified = fields.DateTime(required=True)


class ConsentSchema(_Record):
    date = fields.DateTime(allow_none=True)
    url = fields.String(allow_none=True)
    ip = fields.String(allow_none=True)
    user_agent = fields.String(allow_none=True)


class SubscriberSchema(_Record):
    """A newsletter record: ``opted_in`` says whether this email may receive marketing."""

    id = fields.String(required=True)
    email = fields.Email(required=True)
    first_name = fields.String(allow_none=True)
    last_name = fields.String(allow_none=True)
    opted_in = fields.Boolean(required=True)
    source = fields.String(allow_none=True)  # where the signup came from: storefront, checkout, ...
    order_id = fields.String(allow_none=True)  # set for checkout opt-ins
    consent = fields.Nested(ConsentSchema, allow_none=True)
    date_created = fields.DateTime(required=True)
    date_modified = fields.DateTime(required=True)


class LineItemSchema(_Record):
    product_id = fields.String(allow_none=True)
    variant_id = fields.String(allow_none=True)
    sku = fields.String(allow_none=True)
    name = fields.String(required=True)
    quantity = fields.Integer(required=True)
    price = fields.Decimal(as_string=True, required=True)
    total = fields.Decimal(as_string=True, allow_none=True)


class OrderSchema(_Record):
    """An order; ``customer_id`` is empty for guest orders. Incomplete or deleted orders are flagged."""

    id = fields.String(required=True)
    number = fields.String(allow_none=True)  # the order number the store shows; None: its id
    email = fields.Email(required=True)
    customer_id = fields.String(allow_none=True)
    status = fields.String(required=True)
    is_incomplete = fields.Boolean(load_default=False)  # an abandoned checkout, not a real order
    is_deleted = fields.Boolean(load_default=False)  # archived/deleted in the store
    currency = fields.String(allow_none=True)
    subtotal = fields.Decimal(as_string=True, allow_none=True)
    discount = fields.Decimal(as_string=True, allow_none=True)
    shipping = fields.Decimal(as_string=True, allow_none=True)
    tax = fields.Decimal(as_string=True, allow_none=True)
    total = fields.Decimal(as_string=True, required=True)
    refunded = fields.Decimal(as_string=True, allow_none=True)  # refunded so far, in the order's currency
    # Units of the order's currency per unit of the store's own currency (None: the same currency).
    exchange_rate = fields.Decimal(as_string=True, allow_none=True)
    payment_method = fields.String(allow_none=True)
    billing_address = fields.Nested(AddressSchema, allow_none=True)
    shipping_address = fields.Nested(AddressSchema, allow_none=True)  # the first one
    items = fields.List(fields.Nested(LineItemSchema), load_default=list)
    date_created = fields.DateTime(required=True)
    date_modified = fields.DateTime(required=True)


class ProductSchema(_Record):
    id = fields.String(required=True)
    name = fields.String(required=True)
    sku = fields.String(allow_none=True)
    type = fields.String(allow_none=True)
    url = fields.String(allow_none=True)
    image_url = fields.String(allow_none=True)
    description = fields.String(allow_none=True)
    brand = fields.String(allow_none=True)
    categories = fields.List(fields.String(), load_default=list)
    price = fields.Decimal(as_string=True, allow_none=True)
    sale_price = fields.Decimal(as_string=True, allow_none=True)
    inventory = fields.Integer(allow_none=True)
    is_visible = fields.Boolean(required=True)
    date_created = fields.DateTime(allow_none=True)
    date_modified = fields.DateTime(required=True)


SCHEMAS: dict[str, type[Schema]] = {
    "customer": CustomerSchema,
    "subscriber": SubscriberSchema,
    "order": OrderSchema,
    "product": ProductSchema,
}


_VALIDATORS: dict[str, tuple[Schema, Callable[[Any], bool]]] = {}


def validation_errors(kind: str, record: dict[str, Any]) -> dict[str, Any]:
    """Marshmallow's error dict for a canonical record of ``kind`` (empty when valid).

    Every record of a sync is checked, so a compiled check (``compile_check``) answers first;
    marshmallow runs only for the records it cannot vouch for, and gives their errors."""
    found = _VALIDATORS.get(kind)
    if found is None:
        schema = SCHEMAS[kind]()
        found = _VALIDATORS.setdefault(kind, (schema, compile_check(schema)))
    schema, surely_valid = found
    return {} if surely_valid(record) else schema.validate(record)


# The ISO 8601 timestamps sources write (a strict subset of what fields.DateTime reads).
_ISO_TIMESTAMP = re.compile(
    r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,6})?(Z|[+-]\d{2}:\d{2})?"
)
_PLAIN_DECIMAL = re.compile(r"-?\d{1,30}(\.\d{1,30})?")


def _timestamp(value: Any) -> bool:
    if not isinstance(value, str) or not _ISO_TIMESTAMP.fullmatch(value):
        return False
    try:
        datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:  # e.g. month 13
        return False
    return True


def _value_check(field: fields.Field) -> Callable[[Any], bool] | None:
    """A predicate true only for values ``field`` surely loads (None: no fast check)."""
    if isinstance(field, fields.Nested):
        nested = field.schema
        return compile_check(nested) if not field.many else None
    if isinstance(field, fields.List):
        inner = _value_check(field.inner)
        if inner is None:
            return None
        return lambda value: isinstance(value, list) and all(inner(item) for item in value)
    if isinstance(field, fields.DateTime) and not isinstance(field, (fields.NaiveDateTime, fields.AwareDateTime)):
        return _timestamp if field.format in (None, "iso", "iso8601") else None
    if isinstance(field, fields.Decimal):
        return lambda value: (isinstance(value, int) and not isinstance(value, bool)) or (
            isinstance(value, str) and _PLAIN_DECIMAL.fullmatch(value) is not None
        )
    if isinstance(field, fields.Boolean):
        return lambda value: isinstance(value, bool)
    if isinstance(field, fields.Integer):
        return lambda value: isinstance(value, int) and not isinstance(value, bool)
    if type(field) in (fields.String, fields.Email):
        return lambda value: isinstance(value, str)
    return None


def compile_check(schema: Schema) -> Callable[[Any], bool]:
    """A fast predicate: True only for records ``schema`` surely accepts (unknown keys are
    excluded, as the schemas say). False means "ask marshmallow", not "invalid": marshmallow
    stays the one definition of a valid record, and gives the errors."""
    if schema.unknown != EXCLUDE:
        return lambda record: False
    checks = []
    for name, field in schema.fields.items():
        value_check = _value_check(field)
        if value_check is None:
            return lambda record: False  # a field kind this compiler does not know: never vouch
        checks.append((field.data_key or name, field.required, field.allow_none, value_check,
                       tuple(field.validators)))

    def surely_valid(record: Any) -> bool:
        if not isinstance(record, dict):
            return False
        for key, required, allow_none, value_check, validators in checks:
            if key not in record:
                if required:
                    return False
                continue
            value = record[key]
            if value is None:
                if not allow_none:
                    return False
                continue
            if not value_check(value):
                return False
            for validate in validators:
                try:
                    if validate(value) is False:
                        return False
                except ValidationError:
                    return False
        return True

    return surely_valid


ADDRESS_PARTS = {
    "address1": "address 1",
    "address2": "address 2",
    "phone": "phone",
    "fax": "fax",
    "city": "city",
    "postcode": "postcode",
    "state": "state",
    "region": "region",
    "country": "country",
    "company": "company",
}

# The 26 customer fields: key → label.
CUSTOMER_FIELDS: dict[str, str] = {
    "first_name": "First name",
    "last_name": "Last name",
    "date_created": "Created date",
    "company": "Company",
    "phone": "Phone",
    "notes": "Note",
    **{f"billing_{part}": f"Billing {label}" for part, label in ADDRESS_PARTS.items()},
    **{f"shipping_{part}": f"Shipping {label}" for part, label in ADDRESS_PARTS.items()},
}
# The lifetime order fields, per email (guests too): computed by the host from the orders it
# reads (``host.sync.order_facts``). Amounts are in the store's own currency.
LIFETIME_FIELDS: dict[str, str] = {
    "order_count": "Number of orders",
    "total_spent": "Total spent",
    "average_order_value": "Average order value",
    "first_order_date": "First order date",
    "last_order_date": "Last order date",
    "last_order_number": "Last order number",
}
MONEY_FIELDS = frozenset({"total_spent", "average_order_value"})
# Every mappable contact field: key → label. Keys are what mappings store.
CONTACT_FIELDS: dict[str, str] = {**CUSTOMER_FIELDS, **LIFETIME_FIELDS}
# What each field holds ("text" when not listed): a mapper decides which destination field
# types take each kind (``Mapper.accepted_types``).
FIELD_KINDS: dict[str, str] = {
    "date_created": "date",
    "order_count": "number",
    "total_spent": "number",
    "average_order_value": "number",
    "first_order_date": "date",
    "last_order_date": "date",
    "last_order_number": "text or number",
}
DATE_FIELDS = frozenset(key for key, kind in FIELD_KINDS.items() if kind == "date")
NUMBER_FIELDS = frozenset(key for key, kind in FIELD_KINDS.items() if kind == "number")


def field_kind(key: str) -> str:
    """What the contact field ``key`` holds: "text", "date", "number" or "text or number"."""
    return FIELD_KINDS.get(key, "text")


def contact_fields(
    customer: dict[str, Any], latest_order: dict[str, Any] | None, lifetime: dict[str, Any] | None = None
) -> dict[str, Any]:
    """The values of one contact's fields (``CONTACT_FIELDS``).

    Billing comes from the latest order's billing address and shipping from its first shipping
    address; with no order both fall back to the customer's first saved address. Guests have no
    saved address, so everything but their name comes from their latest order. ``lifetime`` holds
    the lifetime order fields (``host.sync.order_facts``); without counting orders they are empty.
    """
    values: dict[str, Any] = {
        "first_name": customer.get("first_name"),
        "last_name": customer.get("last_name"),
        "date_created": customer.get("date_created"),
        "company": customer.get("company"),
        "phone": customer.get("phone"),
        "notes": customer.get("notes"),
    }
    fallback = (customer.get("addresses") or [None])[0] or {}
    if latest_order:
        billing = latest_order.get("billing_address") or {}
        shipping = latest_order.get("shipping_address") or {}
    else:
        billing = shipping = fallback
    for part in ADDRESS_PARTS:
        values[f"billing_{part}"] = billing.get(part)
        values[f"shipping_{part}"] = shipping.get(part)
    for key in LIFETIME_FIELDS:
        values[key] = (lifetime or {}).get(key)
    return values
