"""What one emulated Engagement Cloud account holds, as plain dataclasses.

Conventions (reference §4): a contact's email channel status is kept in the v3 lower-camel
form (``subscribed``, ``pendingOptIn``) and its opt-in and email types in the PascalCase form
the responses use (``VerifiedDouble``, ``Html``); the v2 views translate on the way out.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

REGIONS = ("r1", "r2", "r3")
FEATURES = ("insight_data", "account_insight", "programs")

# Reference §6: the fields every account has (LASTSUBSCRIBED is a system date field).
DEFAULT_DATA_FIELDS = (
    ("FIRSTNAME", "String"),
    ("LASTNAME", "String"),
    ("FULLNAME", "String"),
    ("GENDER", "String"),
    ("POSTCODE", "String"),
    ("LASTSUBSCRIBED", "Date"),
)
# Seeded when an account names no programs: some active, some not (reference §8 statuses).
DEFAULT_PROGRAMS = (
    ("Welcome new customers", "Active"),
    ("Welcome new subscribers", "Active"),
    ("First order thank-you", "Active"),
    ("Old welcome series", "Deactivated"),
    ("Birthday (work in progress)", "Draft"),
)


@dataclass
class ProgramSeed:
    name: str
    status: str = "Active"


@dataclass
class AccountSeed:
    """How to create one account; also the JSON accepted by ``POST /_emulator/accounts``.

    ``rate_limit_per_minute`` 0 means unlimited. ``enforce_double_opt_in`` is the account's
    regulatory setting "Enforce double opt-in for all signups, including bulk uploads".
    ``locked`` / ``disabled``: the API user's status under Settings › Access › API users; either
    refuses every call with its credentials (see ``gate``).
    ``keep_every_consent_record``: this account adds every consent record a contact write
    carries, even one identical to a record the contact already has, whatever the emulator's
    ``consent_records`` mode (``modes.Modes``; its default ``appended`` does so for every
    account, ``deduplicated`` drops an identical record). Whether the live service keeps repeats
    is UNCONFIRMED: ConsentInsight stores each record sent, so a client must not count on it.
    """

    api_user: str
    password: str
    region: str = "r1"
    account_id: int | None = None
    features: dict[str, bool] = field(default_factory=lambda: dict.fromkeys(FEATURES, True))
    enforce_double_opt_in: bool = False
    programs: list[ProgramSeed] | None = None
    address_books: list[str] = field(default_factory=list)
    data_fields: list[dict[str, Any]] = field(default_factory=list)
    rate_limit_per_minute: int = 0
    enrolments_per_hour: int = 20
    locked: bool = False
    disabled: bool = False
    keep_every_consent_record: bool = False

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> AccountSeed:
        """Build from JSON, rejecting unknown keys, regions and feature names."""
        known = set(cls.__dataclass_fields__)
        unknown = set(data) - known
        if unknown:
            raise ValueError(f"unknown account settings: {sorted(unknown)}")
        if "api_user" not in data or "password" not in data:
            raise ValueError("an account needs api_user and password")
        values = dict(data)
        if "features" in values:
            bad = set(values["features"]) - set(FEATURES)
            if bad:
                raise ValueError(f"unknown features: {sorted(bad)} (known: {list(FEATURES)})")
            values["features"] = dict.fromkeys(FEATURES, True) | values["features"]
        if "programs" in values and values["programs"] is not None:
            values["programs"] = [
                p if isinstance(p, ProgramSeed) else ProgramSeed(**p) for p in values["programs"]
            ]
        seed = cls(**values)
        if seed.region not in REGIONS:
            raise ValueError(f"region must be one of {REGIONS}, not {seed.region!r}")
        return seed


@dataclass
class DataField:
    name: str
    type: str = "String"
    visibility: str = "Private"
    default_value: Any = None


@dataclass
class ConsentRecord:
    text: str
    date_time_consented: str
    url: str
    ip_address: str
    user_agent: str
    date_time_created: str

    def as_json(self) -> dict[str, str]:
        return {
            "text": self.text,
            "dateTimeConsented": self.date_time_consented,
            "url": self.url,
            "ipAddress": self.ip_address,
            "userAgent": self.user_agent,
            "dateTimeCreated": self.date_time_created,
        }

    def identity(self) -> tuple[str, ...]:
        return (self.text, self.date_time_consented, self.url, self.ip_address, self.user_agent)


@dataclass
class Contact:
    id: int
    email: str
    created: str
    updated: str
    status: str = "subscribed"
    opt_in_type: str = "Unknown"
    email_type: str = "Html"
    mobile_number: str | None = None
    data_fields: dict[str, Any] = field(default_factory=dict)
    consent_records: list[ConsentRecord] = field(default_factory=list)
    # Books requested while the contact was pending opt-in: joined on confirmation (§9).
    pending_book_ids: list[int] = field(default_factory=list)


@dataclass
class Suppression:
    """One unsubscribe or suppression (``ApiContactSuppression``, reference §4.2): from one book
    (``book_id``) or from the whole account (None), with when and why."""

    contact_id: int
    date_removed: str
    reason: str = "Unsubscribed"  # an ``ApiContactStatuses`` value
    book_id: int | None = None


@dataclass
class AddressBook:
    id: int
    name: str
    visibility: str = "Private"
    contact_ids: dict[int, None] = field(default_factory=dict)  # insertion-ordered set


@dataclass
class InsightRecord:
    key: str
    json: dict[str, Any]
    created: str
    updated: str
    contact_id: int | None = None
    contact_identity: dict[str, str] | None = None


@dataclass
class InsightCollection:
    name: str
    scope: str
    type: str
    records: dict[str, InsightRecord] = field(default_factory=dict)


@dataclass
class Program:
    id: int
    name: str
    status: str
    date_created: str


@dataclass
class Enrolment:
    id: str
    program_id: int
    contact_ids: list[int]
    address_book_ids: list[int]
    date_created: str
    ready_at: float
    status: str = "Processing"
    enrolled_contact_ids: list[int] = field(default_factory=list)


@dataclass
class ImportJob:
    """A contact or Insight bulk import: accepted at once, applied when ``ready_at`` passes."""

    id: str
    kind: str  # "contacts" | "insight"
    payload: dict[str, Any]
    created_at: float
    ready_at: float
    status: str = "NotFinished"
    stuck: bool = False
    result: dict[str, Any] | None = None
    record_count: int = 0
    answer: bytes | None = field(default=None, repr=False)  # the finished status body, encoded once
