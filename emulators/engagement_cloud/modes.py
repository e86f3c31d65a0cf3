"""The Engagement Cloud emulator's modes (see ``emulators.modes``): each UNCONFIRMED reading
the host's client depends on, played either way. The first value of each is the default; the
client (``plugins/engagement_cloud``) is correct in every one (``make test-modes``).

``consent_records``: ``appended`` | ``deduplicated``
    Known: v3 ``consentRecords`` takes at most 5 records per contact, all five fields required
    (reference §4.4); records are kept in the contact-scoped ConsentInsight collection (§4.3).
    UNCONFIRMED: whether the service drops a record identical to one the contact holds. The
    default assumes it keeps every one, so the client sends each consent once: the ledger
    keeps the consent that was accepted (``ledger.consent``) and sends it again only after an
    unsubscribe or when the consent itself changes.

``data_field_types``: ``enforced`` | ``lenient``
    Known: data fields are String, Numeric, Date or Boolean (§6); text values historically up
    to 255 characters (current caps UNCONFIRMED); imports need 4-digit years (§5); an import's
    per-record failures include ``ApiSchemaViolation`` (§4.4). UNCONFIRMED: whether a value of
    the wrong type is refused or coerced, with which code, and which date formats are
    accepted. ``enforced`` refuses it for that contact (``apiSchemaViolation`` naming the field;
    the rest of the import is applied; a PATCH answers 400); ``lenient`` stores it as sent.
    Client (``plugins/engagement_cloud/mapper``): each value is sent in its type's format
    (ISO 8601 UTC dates, numbers, booleans, text cut to 255); one that cannot fit is refused
    before sending, for that contact only, with a reason the merchant can read.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

ENV_VAR = "ENGAGEMENT_CLOUD_EMULATOR_MODES"


@dataclass(frozen=True)
class Modes:
    consent_records: Literal["appended", "deduplicated"] = "appended"
    data_field_types: Literal["enforced", "lenient"] = "enforced"
