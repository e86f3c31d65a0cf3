"""Canonical records → Engagement Cloud records (contacts, ``Orders``, ``Catalog_Default``).

Contacts are v3 contact requests (reference §4.4) without their list: ``identifiers``,
``dataFields`` under the connection's field mapping and, for subscribers, the email channel
and a consent record. Choices made here:

- Dates (``host.records.DATE_FIELDS``) are sent as ISO 8601 UTC (``2024-05-01T09:30:00Z``), the
  format v3 uses for its own dates, into ``Date`` data fields only; numbers (the lifetime order
  fields' count and amounts) into ``Numeric`` fields only, as JSON numbers; the last order
  number into a ``String`` or a ``Numeric`` field; text goes into ``String`` fields only
  (``accepted_types``), cut to 255 characters (the data-field limit, §6).
- Each value is sent in the format of the account's data field type (``typed_value``, applied
  when the request is made, where the account's fields are known): ``Date`` as ISO 8601 UTC,
  ``Numeric`` as a JSON number, ``Boolean`` as JSON true/false, ``String`` as text cut to 255
  characters. A value that cannot take its field's type (text mapped onto a field that became a
  Date field, say) is not sent: the contact is refused on its own with
  ``dataFieldTypeMismatch`` and a sentence naming the field and the value, and the rest of the
  write goes on. The service itself refuses such a value (UNCONFIRMED; the emulator's
  ``data_field_types`` mode plays both), so it is never sent to be stored as garbage.
- A mapped field without a value is left out of the payload, which the host hashes: mapping a
  new field changes nothing for contacts without a value. When the host sends a contact it asks
  ``with_cleared`` to add ``null`` for the mapped (and just unmapped) fields the contact has no
  value for: ``null`` clears a field, so a removed address or an unmapped field does not linger.
- Engagement Cloud's system fields (``lookups.SYSTEM_DATA_FIELDS``, e.g. ``LASTSUBSCRIBED``)
  are never written, whatever the mapping says.
- An opted-in subscriber is sent with email status ``subscribed``. When the connection enforces
  double opt-in and the subscriber is new (signed up after the account was connected; backfilled
  history is not new), the opt-in type is ``verifiedDouble``: Engagement Cloud then sends its
  confirmation email and keeps the contact pending, out of the book, until confirmed (§9).
  Otherwise it is ``single``. A subscriber who is not opted in gets no channel change at all
  (an unsubscribe is a book removal, done by the engine through ``remove_from_book``).
- Consent record (``with_consent``, added by the host only when the consent is new, so it is
  sent once and not with every later update; not in the hashed payload; ``consent_key``: a new
  consent date is a new consent, sent again; the ledger keeps the one accepted): the store's consent
  text (``contacts.consent_text``, ≤ 1000 characters), the consent time (else the subscriber's
  creation time), the page URL (else the store URL), the IP the store recorded for the opt-in
  (the checkout order's, or the store account's registration IP) and the browser's user agent.
  The v3 API requires all five (§4.4). Where the store holds no IP (a signup-form stranger, an
  account created through the API) ``UNKNOWN_IP`` ("0.0.0.0", the unspecified address) stands
  in; BigCommerce never holds a user agent, so ``UNKNOWN_USER_AGENT`` ("unknown") does.
  UNCONFIRMED whether the live service refuses a record with these stand-ins; the emulator
  accepts them, and a refused consent record still leaves the contact saved (a warning).
- Orders follow the official connector's ``Orders`` shape (lessons §3.2); products its catalog
  shape (lessons §4). ``None`` values and empty lists are left out, so a collection's inferred
  schema keeps stable types.
"""

from __future__ import annotations

import math
import time
from collections.abc import Collection, Mapping
from dataclasses import replace
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from host.destinations import DestinationRecord
from host.mapping import Mapper
from host.records import field_kind
from host.settings import get_settings

from .lookups import is_system_field

TEXT_LIMIT = 255
CONSENT_TEXT_LIMIT = 1000
DESCRIPTION_LIMIT = 1000
UNKNOWN_IP = "0.0.0.0"
UNKNOWN_USER_AGENT = "unknown"
SETTINGS_TTL = 2.0
DEFAULT_MAPPING = {"first_name": "FIRSTNAME", "last_name": "LASTNAME", "billing_postcode": "POSTCODE"}


def parse_moment(value: Any) -> datetime | None:
    if value in (None, ""):
        return None
    if isinstance(value, datetime):
        moment = value
    else:
        try:
            moment = datetime.fromisoformat(str(value))
        except ValueError:
            return None
    return (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).astimezone(UTC)


def iso_z(value: Any) -> str | None:
    """``value`` as ISO 8601 UTC with a four-digit year (imports refuse shorter ones, §5)."""
    moment = parse_moment(value)
    return f"{moment.year:04d}" + moment.strftime("-%m-%dT%H:%M:%SZ") if moment else None


TRUE_WORDS = frozenset({"true", "yes", "y", "1", "on"})
FALSE_WORDS = frozenset({"false", "no", "n", "0", "off"})


class FieldTypeMismatch(ValueError):
    """A value that cannot take its data field's type; the message is for the merchant."""


def _shown(value: Any) -> str:
    text = str(value)
    return repr(text if len(text) <= 60 else text[:60] + "…")


def typed_value(kind: str | None, name: str, value: Any) -> Any:
    """``value`` in the format of a data field of type ``kind`` (reference §6; None: as it is),
    or ``FieldTypeMismatch``. ``None`` stays ``None`` (it clears the field)."""
    if value is None or kind is None:
        return value
    kind = kind.lower()
    if kind == "date":
        text = iso_z(value) if not isinstance(value, bool | int | float) else None
        if text is None:
            raise FieldTypeMismatch(f"{name} is a Date field in Engagement Cloud; the value {_shown(value)} is not a date")
        return text
    if kind == "numeric":
        if isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value):
            return value
        if isinstance(value, str):
            try:
                number = Decimal(value.strip())
            except InvalidOperation:
                number = None
            if number is not None and number.is_finite():
                return int(number) if number == number.to_integral_value() else float(number)
        raise FieldTypeMismatch(f"{name} is a Numeric field in Engagement Cloud; the value {_shown(value)} is not a number")
    if kind == "boolean":
        if isinstance(value, bool):
            return value
        word = str(value).strip().lower()
        if word in TRUE_WORDS or word in FALSE_WORDS:
            return word in TRUE_WORDS
        raise FieldTypeMismatch(f"{name} is a Yes/No (Boolean) field in Engagement Cloud; the value {_shown(value)} "
                                "is neither yes nor no")
    if isinstance(value, dict | list):
        raise FieldTypeMismatch(f"{name} is a text field in Engagement Cloud; the value {_shown(value)} is not text")
    if isinstance(value, bool):
        value = "true" if value else "false"
    return str(value)[:TEXT_LIMIT]


def _number(value: Any) -> float | None:
    if value in (None, ""):
        return None
    try:
        return float(Decimal(str(value)))
    except InvalidOperation:
        return None


def _compact(data: dict[str, Any]) -> dict[str, Any]:
    """Leave out ``None``, empty strings and empty collections."""
    return {k: v for k, v in data.items() if v not in (None, "", [], {})}


# The data field types that take each kind of contact field (``host.records.field_kind``),
# the preferred one first (the type of a field created for it).
ACCEPTED_TYPES = {
    "date": ("Date",),
    "number": ("Numeric",),
    "text or number": ("String", "Numeric"),
    "text": ("String",),
}


def _field_value(key: str, value: Any) -> Any:
    if value is None or str(value).strip() == "":
        return None
    kind = field_kind(key)
    if kind == "date":
        return iso_z(value)
    if kind == "number":
        number = _number(value)
        return int(number) if number is not None and number.is_integer() else number
    return str(value)[:TEXT_LIMIT]


def _address(prefix: str, address: Mapping[str, Any] | None) -> dict[str, Any]:
    address = address or {}
    return _compact({
        f"{prefix}_address_1": address.get("address1"),
        f"{prefix}_address_2": address.get("address2"),
        f"{prefix}_city": address.get("city"),
        f"{prefix}_region": address.get("state"),
        f"{prefix}_country": address.get("country_code") or address.get("country"),
        f"{prefix}_postcode": address.get("postcode"),
    })


class EngagementCloudMapper(Mapper):
    destination = "engagement_cloud"

    def __init__(self) -> None:
        self._settings_cache: dict[tuple[str, int], tuple[float, dict[str, Any]]] = {}

    def default_mapping(self) -> dict[str, str]:
        return dict(DEFAULT_MAPPING)

    def accepted_types(self, key: str) -> tuple[str, ...]:
        return ACCEPTED_TYPES.get(field_kind(key), ("String",))

    def with_cleared(self, record: DestinationRecord, names: Collection[str]) -> DestinationRecord:
        data_fields = dict(record.payload.get("dataFields") or {})
        for name in sorted(names):
            if name and name not in data_fields and not is_system_field(name):
                data_fields[name] = None
        return replace(record, payload={**record.payload, "dataFields": data_fields})

    def map_contact(self, connection, *, email, fields, mapping, subscriber=None) -> DestinationRecord:
        data_fields = {}
        for key, name in mapping.items():
            value = _field_value(key, fields.get(key))
            if name and value is not None and not is_system_field(name):
                data_fields[name] = value
        payload: dict[str, Any] = {"identifiers": {"email": email.strip()}, "dataFields": data_fields}
        source_id = email.strip().lower()
        if subscriber is not None:
            source_id = str(subscriber.get("id") or source_id)
            if subscriber.get("opted_in"):
                payload.update(self._subscription(connection, subscriber))
        return DestinationRecord(kind="contact", source_id=source_id, key=email.strip().lower(), payload=payload)

    def _contact_settings(self, connection) -> dict[str, Any]:
        """The ``contacts`` settings, read at most every ``SETTINGS_TTL`` seconds per connection:
        mapping 20,000 subscribers should not cost 20,000 queries."""
        from flask import current_app

        from host.db import db_session

        key = (current_app.instance_path, connection.id)
        cached = self._settings_cache.get(key)
        if cached is None or cached[0] < time.monotonic():
            cached = (time.monotonic() + SETTINGS_TTL, get_settings(db_session(), connection, "contacts"))
            self._settings_cache[key] = cached
        return cached[1]

    def _subscription(self, connection, subscriber: Mapping[str, Any]) -> dict[str, Any]:
        settings = self._contact_settings(connection)
        created = parse_moment(subscriber.get("date_created"))
        connected = parse_moment(getattr(connection, "connected_at", None))
        is_new = created is not None and connected is not None and created >= connected
        opt_in = "verifiedDouble" if settings.get("double_opt_in") and is_new else "single"
        channel = {"emailType": "html", "optInType": opt_in, "status": "subscribed"}
        return {"channelProperties": {"email": channel}}

    def consent_record(self, connection, subscriber: Mapping[str, Any]) -> dict[str, str] | None:
        """The v3 ``consentRecords`` entry of an opted-in subscriber (all five fields), or None."""
        if not subscriber.get("opted_in"):
            return None
        settings = self._contact_settings(connection)
        consent = subscriber.get("consent") or {}
        record = {
            "text": str(settings.get("consent_text") or "")[:CONSENT_TEXT_LIMIT],
            "dateTimeConsented": iso_z(consent.get("date")) or iso_z(subscriber.get("date_created")),
            "url": consent.get("url") or connection.store_url,
            "ipAddress": consent.get("ip") or UNKNOWN_IP,
            "userAgent": consent.get("user_agent") or UNKNOWN_USER_AGENT,
        }
        return record if all(record.values()) else None

    def consent_key(self, connection, subscriber: Mapping[str, Any]) -> str | None:
        """One consent from another: when it was given (``dateTimeConsented``). The wording (a
        setting) or an IP learnt later describe the same consent, so they send nothing again."""
        consent = subscriber.get("consent") or {}
        moment = iso_z(consent.get("date")) or iso_z(subscriber.get("date_created"))
        return f"consented:{moment}" if moment else None

    def with_consent(self, connection, record: DestinationRecord, subscriber: Mapping[str, Any]) -> DestinationRecord:
        consent = self.consent_record(connection, subscriber)
        if consent is None:
            return record
        payload = {**record.payload, "consentRecords": [consent]}
        return DestinationRecord(kind=record.kind, source_id=record.source_id, key=record.key, payload=payload)

    def map_order(self, connection, order: Mapping[str, Any]) -> DestinationRecord:
        email = str(order["email"]).strip()
        products = [
            _compact({
                "product_id": str(item.get("product_id") or "") or None,
                "variant_id": str(item.get("variant_id") or "") or None,
                "name": item.get("name"),
                "sku": item.get("sku"),
                "qty": int(item.get("quantity") or 0),
                "price": _number(item.get("price")),
                "total": _number(item.get("total")),
            })
            for item in order.get("items") or []
        ]
        body = _compact({
            "id": str(order["id"]),
            "email": email,
            "storeName": connection.store_name,
            "purchaseDate": iso_z(order.get("date_created")),
            "orderStatus": order.get("status"),
            "currency": order.get("currency"),
            "orderSubtotal": _number(order.get("subtotal")),
            "discountAmount": _number(order.get("discount")),
            "deliveryTotal": _number(order.get("shipping")),
            "taxAmount": _number(order.get("tax")),
            "orderTotal": _number(order.get("total")),
            "payment": order.get("payment_method"),
            "billingAddress": _address("billing", order.get("billing_address")),
            "deliveryAddress": _address("delivery", order.get("shipping_address")),
            "products": products,
        })
        payload = {"contactIdentity": {"identifier": "email", "value": email}, "json": body}
        return DestinationRecord(kind="order", source_id=str(order["id"]), key=str(order["id"]), payload=payload)

    def map_product(self, connection, product: Mapping[str, Any]) -> DestinationRecord:
        body = _compact({
            "id": str(product["id"]),
            "name": product.get("name"),
            "sku": product.get("sku"),
            "type": product.get("type"),
            "status": "Enabled" if product.get("is_visible") else "Disabled",
            "price": _number(product.get("price")),
            "specialPrice": _number(product.get("sale_price")),
            "brand": product.get("brand"),
            "categories": [str(c) for c in product.get("categories") or []],
            "url": product.get("url"),
            "imagePath": product.get("image_url"),
            "shortDescription": (product.get("description") or "")[:DESCRIPTION_LIMIT] or None,
            "stock": product.get("inventory"),
            "created_date": iso_z(product.get("date_created")),
        })
        return DestinationRecord(kind="product", source_id=str(product["id"]), key=str(product["id"]),
                                 payload={"json": body})
