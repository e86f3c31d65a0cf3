"""Unsubscribes made in the marketing platform, written back to the store's newsletter subscriber.

BigCommerce keeps newsletter status on the Subscribers resource (DESIGN §1): a subscriber is
opted in with ``marketing_newsletter`` among its ``consents``. Writing an unsubscribe back is
``PUT /v3/customers/subscribers/{id}`` with the other consents only, which needs the modify
scope ``store_v2_customers`` (reference §1.7; a store installed with the read-only scope syncs
one way, and the Store tab says so).

The later side wins: the store's subscribe is the subscriber's ``date_modified`` (BigCommerce
keeps no time for the consent itself); one later than the unsubscribe is kept
(``SUBSCRIBED_LATER``). A subscriber without the consent is answered ``WRITTEN`` with nothing
sent, so repeating a write cut short by a crash changes nothing.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from host.errors import ConfigurationError, RecordError
from host.models import Connection
from host.sources import NO_SUBSCRIBER, SUBSCRIBED_LATER, WRITTEN
from plugins.bigcommerce.client import BigCommerceClient
from plugins.bigcommerce.transform import is_opted_in, iso_utc

WRITE_SCOPE = "store_v2_customers"
NEWSLETTER = "marketing_newsletter"
AREA = "unsubscribes"
WRITE_ACCESS_HELP = (
    "To write them back, reinstall the app from your BigCommerce control panel after its "
    "administrator has asked for permission to modify customers."
)


def can_write(connection: Connection) -> bool:
    """The install granted the modify scope of customers (which covers subscribers)."""
    return WRITE_SCOPE in ((connection.source_data or {}).get("scopes") or ())


def _subscribed_after(raw: dict[str, Any], moment: datetime) -> bool:
    stamp = iso_utc(raw.get("date_modified") or raw.get("date_created"))
    return stamp is not None and datetime.fromisoformat(stamp) > moment


def write_unsubscribe(client: BigCommerceClient, email: str, unsubscribed_at: datetime) -> str:
    listing = client.get_json("/v3/customers/subscribers", {"email": email}, area=AREA) or {}
    found = [raw for raw in listing.get("data") or [] if str(raw.get("email") or "").lower() == email.lower()]
    if not found:
        return NO_SUBSCRIBER
    outcome = WRITTEN
    for raw in found:  # one per email; every one is settled if a store ever had more
        if not is_opted_in(raw):
            continue
        if _subscribed_after(raw, unsubscribed_at):
            outcome = SUBSCRIBED_LATER
            continue
        consents = [consent for consent in raw.get("consents") or [] if consent != NEWSLETTER]
        try:
            response = client.request(
                "PUT", f"/v3/customers/subscribers/{int(raw['id'])}", json={"consents": consents},
                area=AREA, missing_ok=True,
            )
        except ConfigurationError as error:
            if error.code != "bigcommerce_scope":
                raise
            raise ConfigurationError(
                "BigCommerce refused to update a newsletter subscriber: the app may only read your "
                f"customers. {WRITE_ACCESS_HELP}", area=AREA, code="bigcommerce_write_scope",
            ) from None
        except RecordError as error:
            raise RecordError(error.message, source_id=email, area=AREA) from None
        if response.status_code == 404 and len(found) == 1:
            return NO_SUBSCRIBER  # deleted meanwhile
    return outcome
