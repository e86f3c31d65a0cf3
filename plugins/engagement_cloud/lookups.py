"""Look-ups for the settings pages: address books, programs, contact data fields (v2 only).

Data fields Engagement Cloud fills in itself (``SYSTEM_DATA_FIELDS``) are answered with
``writable=False``: the settings pages do not offer them and the mapper never writes them.

Each answer is cached per connection and account for ``lookup_cache_seconds`` so rendering a
page (or mapping a batch) does not cost API calls; creating a data field clears the cache.
Data fields are created only when the merchant asks (``create_data_field``,
``create_missing_data_fields``), never silently during a sync.
"""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING

from host.destinations import Option
from host.errors import ConfigurationError

from .client import ApiError, EngagementCloudClient

if TYPE_CHECKING:
    from host.models import Connection

PAGE_SIZE = 1000  # v2 ``select`` maximum (reference §2)
FIELD_NAME = re.compile(r"^[A-Za-z0-9_-]{1,20}$")
FIELD_TYPES = ("String", "Numeric", "Date", "Boolean")
RESERVED_FIELD_NAMES = frozenset({
    "account", "campaign", "campaignid", "contact", "contact_api_id", "contactid", "email",
    "hcontactid", "hemail", "hemail256", "id", "messagecontent", "mobilenumberid", "notes",
    "unsubscribed", "uniquecontactid",
})


# Data fields Engagement Cloud fills in itself (reference §6: ``LASTSUBSCRIBED`` is a system date
# field on every contact), and the restricted names above should an account ever list one: the
# connector never writes them, so they are not offered in the field mapping.
SYSTEM_DATA_FIELDS = frozenset({"LASTSUBSCRIBED"})


def is_system_field(name: str) -> bool:
    return name.upper() in SYSTEM_DATA_FIELDS or name.lower() in RESERVED_FIELD_NAMES


class LookupCache:
    """A small time-limited cache keyed by (connection, account, what)."""

    def __init__(self, clock: Callable[[], float] = time.monotonic):
        self._clock = clock
        self._lock = threading.Lock()
        self._entries: dict[tuple, tuple[float, list[Option]]] = {}

    def get_or_load(self, key: tuple, ttl: float, load: Callable[[], list[Option]]) -> list[Option]:
        with self._lock:
            entry = self._entries.get(key)
            if entry and entry[0] > self._clock():
                return entry[1]
        value = load()
        with self._lock:
            self._entries[key] = (self._clock() + ttl, value)
        return value

    def forget(self, key: tuple) -> None:
        with self._lock:
            self._entries.pop(key, None)

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()


cache = LookupCache()


def cache_key(connection: Connection, client: EngagementCloudClient, what: str) -> tuple:
    return (connection.id, client.base_url, client.username.lower(), what)


def _paged(client: EngagementCloudClient, path: str) -> list[dict]:
    rows: list[dict] = []
    while True:
        page = client.get(path, select=PAGE_SIZE, skip=len(rows)) or []
        rows.extend(page)
        if len(page) < PAGE_SIZE:
            return rows


def address_books(client: EngagementCloudClient) -> list[Option]:
    return [Option(id=str(b["id"]), name=b["name"]) for b in _paged(client, "/v2/address-books")]


def programs(client: EngagementCloudClient) -> list[Option]:
    """Programs with ``active`` = accepting enrolments (status ``Active``)."""
    try:
        rows = _paged(client, "/v2/programs")
    except ApiError as error:
        if error.status == 403:
            raise ConfigurationError(
                "Programs are not enabled on this Engagement Cloud account, so no contact can be enrolled.",
                area="automation", code="programs_disabled",
            ) from None
        raise
    return [Option(id=str(p["id"]), name=p["name"], active=p.get("status") == "Active") for p in rows]


def data_fields(client: EngagementCloudClient) -> list[Option]:
    """The account's contact data fields; its system fields are marked not ``writable``."""
    return [Option(id=f["name"], name=f["name"], type=f.get("type"), writable=not is_system_field(f["name"]))
            for f in client.get("/v2/data-fields") or []]


def create_data_field(client: EngagementCloudClient, name: str, type: str) -> Option:
    """Create one contact data field (private); an existing one with that name is answered as is."""
    kind = next((t for t in FIELD_TYPES if t.lower() == str(type).lower()), None)
    if kind is None:
        raise ConfigurationError(f"A data field type is one of {', '.join(FIELD_TYPES)}, not {type!r}.",
                                 area="field_mapping", code="data_field_invalid")
    if not FIELD_NAME.match(name or "") or is_system_field(name):
        raise ConfigurationError(
            f"{name!r} cannot be a data field name: use up to 20 letters, digits, '-' or '_', "
            "and not a reserved name such as EMAIL or ID.",
            area="field_mapping", code="data_field_invalid",
        )
    body = {"name": name, "type": kind, "visibility": "Private", "defaultValue": None}
    try:
        client.send("POST", "/v2/data-fields", json=body)  # a retried POST finds it exists: fine
    except ApiError as error:
        if error.code != "ERROR_NON_UNIQUE_DATAFIELD":
            raise ConfigurationError(
                f"Engagement Cloud did not create the data field {name}: {error.message}",
                area="field_mapping", code="data_field_invalid",
            ) from None
        existing = next((f for f in data_fields(client) if f.name.lower() == name.lower()), None)
        if existing is not None:
            return existing
    return Option(id=name, name=name, type=kind)


def missing_fields(mapping: Mapping[str, str], existing: list[Option]) -> list[str]:
    """Destination field names a mapping uses that the account does not have."""
    known = {field.name.lower() for field in existing}
    return sorted({name for name in mapping.values() if name and name.lower() not in known})
